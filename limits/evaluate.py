"""Length-generalisation evaluation over a grid of lengths, without a compile per length.

Lengths are grouped into buckets of padded size (multiples of `eval.bucket`) and into
groups of `eval.group` lengths; one jitted program per bucket evaluates a whole group of
lengths (`group x batch_size` strings) at once, so 200 lengths cost a handful of programs.
Strings of length n are drawn from `fold_in(eval_key, n)`.

Letters: G lengths per group, S strings per length.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import jax
import jax.numpy as jnp

from limits import memory, parallel
from limits import metrics as metrics_lib
from limits import setup as setup_lib

LOG2 = metrics_lib.LOG2


def bucket_of(n: int, bucket: int) -> int:
  """Padded length (symbols) used for strings of length n."""
  return -(-n // bucket) * bucket


def make_eval_fn(setup: setup_lib.Setup, padded: int) -> Callable[[Any, jax.Array, jax.Array], dict]:
  """`eval_fn(params_M, key, lengths_G) -> {accuracy_MxG, xent_bits_MxG}` at one padded size.

  Every member sees the same strings. Members are evaluated one after another inside the
  program (`lax.map`), lengths side by side (vmap) in chunks whose attention weights fit
  EVAL_ATTENTION_BYTES (`lengths_side_by_side`), so memory stays at one member's and a
  few lengths' worth however long the strings are.
  """
  e = setup.exp.eval
  task, model = setup.task, setup.model
  arch_M = setup.member_masks()
  tables_M = setup_lib.member_tables(setup, padded)   # sweep.languages: each member's own
  side = lengths_side_by_side(setup, padded)
  sub = strings_at_once(setup, padded)

  def one_length(params, arch, tables, key, n):
    lang = setup_lib.sampler(setup, tables)
    batch = lang.sample(task, jax.random.fold_in(key, n), jnp.full((e.batch_size,), n, jnp.int32),
                        padded)
    if sub < e.batch_size:  # long strings: a few at a time, so memory stays bounded
      parts = jax.tree.map(lambda x: x.reshape((e.batch_size // sub, sub) + x.shape[1:]), batch)
      xent_S, correct_S = jax.tree.map(
          lambda x: x.reshape(-1),
          jax.lax.map(lambda b: metrics_lib.losses(model, params, b, arch=arch),
                      parts))
    else:
      xent_S, correct_S = metrics_lib.losses(model, params, batch, arch=arch)
    return {"accuracy": jnp.mean(correct_S), "xent_bits": jnp.mean(xent_S) / LOG2}

  def eval_fn(params_M, key, lengths_G):
    def member(args):
      params, arch, tables = args
      return jax.lax.map(lambda n: one_length(params, arch, tables, key, n), lengths_G,
                         batch_size=min(side, lengths_G.shape[0]))
    return jax.lax.map(member, (params_M, arch_M, tables_M))

  return eval_fn


# Bytes of one layer's attention weights (strings x heads x positions^2 x 4) that one
# evaluation call may hold: beyond it, lengths of a group run one after another instead of
# side by side (a group of 8 lengths x 128 strings at 512 positions would need 8.6 GB),
# and past one length, its strings a few at a time. XLA's temporaries are a few times
# this: the default sweep evaluated at 224 positions needed 1.6 GiB of XLA temporaries
# with a 1 GiB budget, 0.40 GiB with this one (memory_analysis on CPU).
EVAL_ATTENTION_BYTES = memory.EVAL_BYTES


def lengths_side_by_side(setup: setup_lib.Setup, padded: int) -> int:
  """How many lengths of a group one evaluation call vmaps at once at this padded size."""
  e, cfg = setup.exp.eval, setup.model.cfg      # the population's max-size model
  if cfg.kind != "transformer":
    return e.group
  per_length = e.batch_size * cfg.heads * (padded + 2) ** 2 * 4
  if setup.exp.data.task == "prediction" and not cfg.causal:
    per_length *= padded + 2           # the literal prefix form re-reads every prefix
  return max(1, min(e.group, EVAL_ATTENTION_BYTES // per_length))


def strings_at_once(setup: setup_lib.Setup, padded: int) -> int:
  """Strings of one length evaluated in one call: the whole batch when it fits
  EVAL_ATTENTION_BYTES (limits/memory.py's estimate), else the largest divisor of the
  batch that does (at least one string; `memory.check_eval` refuses what one cannot)."""
  e, cfg = setup.exp.eval, setup.model.cfg
  per = memory.eval_bytes(cfg, setup.exp.data.task, 1, padded + 2)
  fit = max(1, int(EVAL_ATTENTION_BYTES // per))
  return max(d for d in range(1, e.batch_size + 1) if e.batch_size % d == 0 and d <= fit)


class Evaluator:
  """Caches one compiled program per padded size (and group width); counts them.

  `log`, if given, receives progress lines (lengths done, rate, ETA) while a call runs,
  at most one every `LOG_EVERY_S` seconds and one at the end.
  """

  LOG_EVERY_S = 2.0

  def __init__(self, setup: setup_lib.Setup, log: Callable[[str], None] | None = None):
    self.setup = setup
    self.log = log
    self.compiled: dict[tuple[int, int], Callable] = {}

  @property
  def num_programs(self) -> int:
    return len(self.compiled)

  def _fn(self, padded: int, g: int) -> Callable:
    if (padded, g) not in self.compiled:
      self.compiled[(padded, g)] = jax.jit(make_eval_fn(self.setup, padded))
    return self.compiled[(padded, g)]

  def calls(self, lengths: tuple[int, ...]) -> list[tuple[int, list[int], list[int]]]:
    """(padded size, lengths, lengths padded to the group width) of each evaluation call.

    A bucket's lengths are split into the fewest groups of at most `eval.group`, of equal
    width, the last padded with copies of its last length: one program per bucket, and
    a bucket with a few lengths evaluates a few (a fixed width of 8 evaluated a bucket
    holding one length eight times over).
    """
    e = self.setup.exp.eval
    by_bucket: dict[int, list[int]] = {}
    for n in lengths:
      by_bucket.setdefault(bucket_of(n, e.bucket), []).append(n)
    out = []
    for padded, ns in sorted(by_bucket.items()):
      k = -(-len(ns) // e.group)
      g = -(-len(ns) // k)
      for i in range(0, len(ns), g):
        chunk = ns[i:i + g]
        out.append((padded, chunk, chunk + [chunk[-1]] * (g - len(chunk))))
    return out

  def __call__(self, params_M: Any, lengths: tuple[int, ...] | None = None) -> list[list[dict[str, float]]]:
    """Per member, one dict per length: length, accuracy, xent_bits, optimal and chance."""
    exp = self.setup.exp
    lengths = tuple(sorted(lengths or exp.data.eval_lengths))
    key = jax.random.key(exp.eval.seed)
    calls = self.calls(lengths)
    progress = _Progress(self.setup, calls, self.log, self.LOG_EVERY_S)
    m = self.setup.num_members
    results: list[dict[int, dict[str, float]]] = [{} for _ in range(m)]

    def collect(chunk, out):
      out = parallel.fetch(out)
      for i in range(m):
        for j, n in enumerate(chunk):
          results[i][n] = {"accuracy": float(out["accuracy"][i, j]),
                           "xent_bits": float(out["xent_bits"][i, j])}
      progress.done(chunk)

    # The next call is dispatched (and its program compiled) before the previous call's
    # results are read, so the device keeps working while the host waits.
    pending = None
    for padded, chunk, padded_chunk in calls:
      out = self._fn(padded, len(padded_chunk))(params_M, key,
                                                jnp.asarray(padded_chunk, jnp.int32))
      if pending is not None:
        collect(*pending)
      pending = (chunk, out)
    if pending is not None:
      collect(*pending)
    progress.finish()

    def reference(lang):
      return {n: {"optimal_xent_bits": lang.optimal_xent_bits(exp.data.task, n),
                  "chance_xent_bits": lang.chance_xent_bits(exp.data.task, n)}
              for n in lengths if not mixed or lang.members_exist(n)}

    # sweep.languages: each member's exact references are its own language's, and only
    # the lengths at which that language has members are reported.
    mixed = setup_lib.is_mixed(self.setup)
    refs = {}
    for i in range(m):
      own = setup_lib.member_language(self.setup, i)
      if id(own) not in refs:
        refs[id(own)] = reference(own)
      ref = refs[id(own)]
      results[i] = {n: {**results[i][n], **ref[n]} for n in lengths if n in ref}
    return [[{"length": n, **results[i][n]} for n in lengths if n in results[i]]
            for i in range(m)]


class _Progress:
  """Evaluation progress lines: lengths done, elapsed time, rate and ETA. The ETA weighs
  each length by its cost (padded size squared for attention, the size for an LSTM)."""

  def __init__(self, setup: setup_lib.Setup, calls, log, every_s: float):
    quadratic = setup.model.cfg.kind == "transformer"
    self.cost = {n: float(p) ** (2 if quadratic else 1) for p, chunk, _ in calls for n in chunk}
    self.total = sum(self.cost.values()) or 1.0
    self.count = len(self.cost)
    self.log, self.every_s = log, every_s
    self.t0 = self.last = time.perf_counter()
    self.spent = 0.0
    self.lengths = 0

  def line(self) -> str:
    dt = time.perf_counter() - self.t0
    rate = self.lengths / dt if dt > 0 else 0.0
    eta = dt * (self.total - self.spent) / self.spent if self.spent else float("nan")
    eta_s = time.strftime("%M:%S", time.gmtime(eta)) if eta == eta else "--:--"
    return (f"eval {self.lengths:>4d}/{self.count} lengths  {dt:6.1f} s  {rate:6.2f} lengths/s"
            f"  ETA {eta_s}")

  def done(self, chunk) -> None:
    self.spent += sum(self.cost[n] for n in chunk)
    self.lengths += len(chunk)
    now = time.perf_counter()
    if self.log is not None and self.lengths < self.count and now - self.last >= self.every_s:
      self.last = now
      self.log(self.line())

  def finish(self) -> None:
    if self.log is not None and self.count:
      self.log(self.line())
