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
from limits import train as train_lib


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


def member(setup: train_lib.Setup, params_M: Any, m: int) -> Member:
  """Member m of a population as a standalone model (its own depth and head count)."""
  params = jax.tree.map(lambda x: x[m], params_M)
  info = setup.members[m]
  module = setup.model
  if setup.masked and module.cfg.kind == "transformer":
    cfg = dataclasses.replace(module.cfg, depth=info.depth, heads=info.heads,
                              key_dim=module.cfg.head_dim)
    module = module.clone(cfg=cfg)
    params = population.standalone_params(params, info.depth, info.heads)
  return Member(m, info, module, params)


def members(setup: train_lib.Setup, params_M: Any,
            which: tuple[int, ...] = ()) -> list[Member]:
  """Every member (or those in `which`), each standalone."""
  idx = which or tuple(range(setup.num_members))
  for m in idx:
    if not 0 <= m < setup.num_members:
      raise ValueError(f"probe.members: member {m} does not exist; the population has "
                       f"{setup.num_members} (0-{setup.num_members - 1})")
  return [member(setup, params_M, m) for m in idx]


def recognition_tokens(language, symbols_BxN: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(tokens_BxT, readout_B) for strings of n symbols: x_1..x_n EOS, read at n."""
  b, n = symbols_BxN.shape
  tokens = jnp.concatenate([symbols_BxN, jnp.full((b, 1), language.eos, jnp.int32)], axis=1)
  return tokens.astype(jnp.int32), jnp.full((b,), n, jnp.int32)


def task_tokens(language, task: str, symbols_BxN: jax.Array) -> tuple[jax.Array, jax.Array, int]:
  """(tokens_BxT, readout_B, offset): the input a model of `task` reads for these strings.

  Recognition: x_1..x_n EOS (symbol i at token i). Prediction: BOS x_1..x_n, read at the
  last position (the prediction of what follows x_n); symbol i at token i + 1 (`offset`).
  """
  if task == "recognition":
    tokens, readout = recognition_tokens(language, symbols_BxN)
    return tokens, readout, 0
  b, n = symbols_BxN.shape
  tokens = jnp.concatenate([jnp.full((b, 1), language.bos, jnp.int32), symbols_BxN], axis=1)
  return tokens.astype(jnp.int32), jnp.full((b,), n, jnp.int32), 1


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


def population_apply(setup: train_lib.Setup, which: tuple[int, ...] | list[int]):
  """`fn(params_M, tokens_BxT, readout_B) -> logits[M', ...]` for the chosen members.

  One program for the whole population (members one after another under `lax.map`, the
  masked max model as in `evaluate`), instead of one compiled program per member.
  """
  depth_M, heads_M = setup.member_masks()
  idx = jnp.asarray(which, jnp.int32)
  pick = lambda x: None if x is None else x[idx]

  def fn(params_M, tokens_BxT, readout_B):
    def one(args):
      params, depth, heads = args
      return population.apply(setup.model, params, tokens_BxT, readout_B, depth, heads)
    return jax.lax.map(one, (jax.tree.map(lambda x: x[idx], params_M), pick(depth_M),
                             pick(heads_M)))
  return fn


def population_decide(setup: train_lib.Setup, which, params_M: Any, sym_BxN: jax.Array,
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
