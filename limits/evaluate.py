"""Length-generalisation evaluation over a grid of lengths, without a compile per length.

Lengths are grouped into buckets of padded size (multiples of `eval.bucket`) and into
groups of `eval.group` lengths; one jitted program per bucket evaluates a whole group of
lengths (`group x batch_size` strings) at once, so 200 lengths cost a handful of programs.
Strings of length n are drawn from `fold_in(eval_key, n)`.

Letters: G lengths per group, S strings per length.
"""

from __future__ import annotations

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
  """Caches one compiled program per padded size; counts the programs it compiles."""

  def __init__(self, setup: setup_lib.Setup):
    self.setup = setup
    self.compiled: dict[int, Callable] = {}

  @property
  def num_programs(self) -> int:
    return len(self.compiled)

  def _fn(self, padded: int) -> Callable:
    if padded not in self.compiled:
      self.compiled[padded] = jax.jit(make_eval_fn(self.setup, padded))
    return self.compiled[padded]

  def __call__(self, params_M: Any, lengths: tuple[int, ...] | None = None) -> list[list[dict[str, float]]]:
    """Per member, one dict per length: length, accuracy, xent_bits, optimal and chance."""
    exp = self.setup.exp
    lengths = tuple(sorted(lengths or exp.data.eval_lengths))
    key = jax.random.key(exp.eval.seed)
    by_bucket: dict[int, list[int]] = {}
    for n in lengths:
      by_bucket.setdefault(bucket_of(n, exp.eval.bucket), []).append(n)
    pending = []
    for padded, ns in sorted(by_bucket.items()):
      g = exp.eval.group
      for i in range(0, len(ns), g):
        chunk = ns[i:i + g]
        # Pad the group with copies of its last length: the shape, and so the program,
        # stays the same for every group of this bucket.
        lengths_G = jnp.asarray(chunk + [chunk[-1]] * (g - len(chunk)), jnp.int32)
        pending.append((chunk, self._fn(padded)(params_M, key, lengths_G)))
    m = self.setup.num_members
    results: list[dict[int, dict[str, float]]] = [{} for _ in range(m)]
    for chunk, out in pending:
      out = parallel.fetch(out)
      for i in range(m):
        for j, n in enumerate(chunk):
          results[i][n] = {"accuracy": float(out["accuracy"][i, j]),
                           "xent_bits": float(out["xent_bits"][i, j])}
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
