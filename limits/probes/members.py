"""One population member as a standalone model: the unit every probe works on.

A population's params carry a leading member axis M and, when depth or heads vary, every
member is a masked copy of the max-size model (limits/population.py). Probes want the
member itself: `member(setup, params_M, m)` returns the standalone (depth_m, heads_m)
module and its parameters (`population.standalone_params`), which compute exactly what
the masked member computes (tested in tests/test_population.py).

Letters: M members, B batch, T positions.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from limits import population
from limits.languages import tokens as tokens_lib
from limits import setup as setup_lib


@dataclasses.dataclass(frozen=True)
class Member:
  """A member's standalone module and params, with its place in the population."""

  index: int
  info: population.Member
  module: Any            # limits.models.Transformer or LSTM
  params: Any

  @property
  def cfg(self):
    return self.module.cfg

  @property
  def is_transformer(self) -> bool:
    return self.cfg.kind == "transformer"

  def describe(self) -> dict[str, Any]:
    """The member's identity for JSON/CSV rows."""
    i = self.info
    return {"member": self.index, "depth": i.depth, "heads": i.heads, "seed": i.seed,
            "lr": i.learning_rate, "train_length": i.train_range,
            "kind": self.cfg.kind, "attention": self.cfg.attention,
            "layer_norm": self.cfg.layer_norm}

  def logits(self, tokens_BxT: jax.Array, readout_B: jax.Array) -> jax.Array:
    """The module's output (recognition logits_BxC, prediction logits_BxTxC)."""
    return self.module.apply(self.params, tokens_BxT, readout_B)


def member(setup: setup_lib.Setup, params_M: Any, m: int) -> Member:
  """Member m of a population as a standalone model (its own depth and head count)."""
  params = jax.tree.map(lambda x: x[m], params_M)
  info = setup.members[m]
  module = setup.model
  if setup.masked and module.cfg.kind == "transformer":
    module = module.clone(cfg=population.member_config(module.cfg, info))
    params = population.standalone_params(params, info.depth, info.heads,
                                          module.cfg.positional)
  return Member(m, info, module, params)


def members(setup: setup_lib.Setup, params_M: Any,
            which: tuple[int, ...] = ()) -> list[Member]:
  """Every member (or those in `which`), each standalone."""
  idx = which or tuple(range(setup.num_members))
  for m in idx:
    if not 0 <= m < setup.num_members:
      raise ValueError(f"probe.members: member {m} does not exist; the population has "
                       f"{setup.num_members} (0-{setup.num_members - 1})")
  return [member(setup, params_M, m) for m in idx]


def readout_features(mem: Member, params: Any, tokens_BxT: jax.Array, chunk: int = 128,
                     batch: int = 8) -> tuple[jax.Array, dict[str, jax.Array]]:
  """(y_BxD, stats): y_n^(L) of unpadded strings read at their last position, by the
  model itself (`Transformer.readout_features`, attention in query chunks of `chunk`
  rows: memory linear in T), `batch` strings at a time, each string on its own.

  stats (leading axis B): per layer and head (float[B, L, H]) `max_logit` (A of Lemma 5
  over the rows computed), `max_weight`, `entropy_sum`/`rows` (mean attention entropy in
  nats), `q_norm`/`k_norm`/`v_norm` (largest norms); `ln_gain` float[B, L, 2] (largest
  1/sqrt(var + eps) of each layer's two layer norms, 1 without) and `final_ln_gain`
  float[B]. Layers below L compute every query; layer L only the readout query.
  """
  if not mem.is_transformer:
    raise ValueError(f"model.kind: {mem.cfg.kind} has no attention; this probe needs a "
                     f"transformer")
  t = tokens_BxT.shape[1]
  if "learned" in mem.cfg.encodings and t > mem.cfg.max_positions:
    raise ValueError(f"model.max_positions: learned positions cover {mem.cfg.max_positions}, "
                     f"a string needs {t}")
  module = mem.module.clone(query_chunk=max(1, min(chunk, t)))
  depth = mem.cfg.depth

  def one(tokens_T):
    y_1xD, state = module.apply(params, tokens_T[None], jnp.full((1,), t - 1, jnp.int32),
                                method=type(module).readout_features, mutable=["intermediates"])
    inter = state["intermediates"]
    layers = [inter[f"layer_{l}"] for l in range(depth)]
    stats = {name: jnp.stack([layer["attention"][name][0][0] for layer in layers])
             for name in (layers[0]["attention"] if layers else ())}
    if layers:
      stats["ln_gain"] = jnp.stack([layer["ln_gain"][0][0] for layer in layers])
    stats["final_ln_gain"] = (inter["final_ln_gain"][0][0] if "final_ln_gain" in inter
                              else jnp.ones((), jnp.float32))
    return y_1xD[0], stats

  return jax.lax.map(one, tokens_BxT, batch_size=min(batch, tokens_BxT.shape[0]))


def recognition_tokens(language, symbols_BxN: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(tokens_BxT, readout_B) for strings of n symbols: x_1..x_n EOS, read at n."""
  b, n = symbols_BxN.shape
  lengths_B = jnp.full((b,), n, jnp.int32)
  return tokens_lib.recognition_tokens(symbols_BxN, lengths_B, language.n_symbols), lengths_B


def task_tokens(language, task: str, symbols_BxN: jax.Array) -> tuple[jax.Array, jax.Array, int]:
  """(tokens_BxT, readout_B, offset): the input a model of `task` reads for these strings.

  Recognition: x_1..x_n EOS (symbol i at token i). Prediction: BOS x_1..x_n, read at the
  last position (the prediction of what follows x_n); symbol i at token i + 1 (`offset`).
  """
  if task == "recognition":
    tokens, readout = recognition_tokens(language, symbols_BxN)
    return tokens, readout, 0
  b, n = symbols_BxN.shape
  lengths_B = jnp.full((b,), n, jnp.int32)
  return tokens_lib.prediction_tokens(symbols_BxN, lengths_B, language.n_symbols), lengths_B, 1


def _chunks(sym_BxN: jax.Array, batch: int) -> tuple[jax.Array, int]:
  """(sym[chunks, size, N], size): B strings zero-padded to whole chunks of `batch`."""
  b = sym_BxN.shape[0]
  size = min(batch, b)
  padded = -(-b // size) * size
  return jnp.pad(sym_BxN, ((0, padded - b), (0, 0))).reshape(padded // size, size, -1), size


def decide(mem: Member, lang, task: str, params: Any, sym_BxN: jax.Array,
           batch: int = 512) -> jax.Array:
  """int32[B]: the model's decision for each string of n symbols (jittable).

  Recognition: the argmax class at EOS; prediction: the argmax next symbol after x_n.
  `batch` strings per model call (`lax.map`), so memory stays bounded for any B.
  """
  b = sym_BxN.shape[0]
  sym, _ = _chunks(sym_BxN, batch)

  def one(s):
    tokens, readout, _ = task_tokens(lang, task, s)
    logits = mem.module.apply(params, tokens, readout)
    if task != "recognition":
      logits = jnp.take_along_axis(logits, readout[:, None, None], axis=1)[:, 0]
    return jnp.argmax(logits, -1).astype(jnp.int32)

  return jax.lax.map(one, sym).reshape(-1)[:b]


def population_apply(setup: setup_lib.Setup, which: tuple[int, ...] | list[int]):
  """`fn(params_M, tokens_BxT, readout_B) -> logits[M', ...]` for the chosen members.

  One program for the whole population (members one after another under `lax.map`, the
  masked max model as in `evaluate`), instead of one compiled program per member.
  """
  arch_M = setup.member_masks()
  idx = jnp.asarray(which, jnp.int32)
  pick = lambda tree: jax.tree.map(lambda x: x[idx], tree)

  def fn(params_M, tokens_BxT, readout_B):
    def one(args):
      params, arch = args
      return population.apply(setup.model, params, tokens_BxT, readout_B, arch)
    return jax.lax.map(one, (pick(params_M), pick(arch_M)))
  return fn


def population_decide(setup: setup_lib.Setup, which, params_M: Any, sym_BxN: jax.Array,
                      batch: int = 512) -> jax.Array:
  """int32[M', B] decisions of the chosen members (see `decide`), jittable."""
  lang, task = setup.language, setup.task
  apply = population_apply(setup, which)
  b = sym_BxN.shape[0]
  sym, size = _chunks(sym_BxN, batch)

  def one(s):
    tokens, readout, _ = task_tokens(lang, task, s)
    logits = apply(params_M, tokens, readout)
    if task != "recognition":
      logits = logits[:, jnp.arange(size), readout]
    return jnp.argmax(logits, -1).astype(jnp.int32)  # [M', size]

  out = jax.lax.map(one, sym)  # [chunks, M', size]
  return jnp.moveaxis(out, 1, 0).reshape(out.shape[1], -1)[:, :b]
