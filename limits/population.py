"""Populations: M members stacked on a leading axis, trained and evaluated under vmap.

A member is (depth, heads, seed, learning rate, training lengths). All members share one
max-size model (the largest depth and head count of the sweep, head width K fixed to
width // max heads); member m uses only its first depth_m layers and first heads_m heads.
The masks are applied by intercepting Flax module calls (`nn.intercept_methods`), so the
model code knows nothing about populations:
  - a layer `layer_l` with l >= depth_m returns its input unchanged (jnp.where, so its
    parameters get exactly zero gradient);
  - the per-head outputs b_h of heads h >= heads_m are zeroed before the output
    projection `out`, as if those heads did not exist.
A masked member therefore computes what the standalone model with depth_m layers and
heads_m heads of width K computes with the corresponding slice of its parameters
(`standalone_params`; tested forward and backward). It also starts where that model
starts: `train.init_state` initialises each member as its standalone model (same key,
its own fan-ins) and writes it into the max model (`embed_standalone`), so a member with
h heads is, at init and after training, the standalone h-head model with head width K
(`model.key_dim`; 0 = width // max heads of the run, printed as `key_dim`).

Letters: M members.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from limits.models import attention as attention_lib
from limits.models import transformer as transformer_lib


@dataclasses.dataclass(frozen=True)
class Member:
  depth: int
  heads: int
  seed: int
  learning_rate: float
  train_lengths: tuple[int, ...]
  language: str = ""     # sweep.languages: this member's language spec ("" = data.language)
  positional: str = ""   # sweep.positionals: this member's encoding ("" = model.positional)

  @property
  def train_range(self) -> str:
    """`lo-hi` of the training lengths (or a single `n`)."""
    lo, hi = min(self.train_lengths), max(self.train_lengths)
    return str(lo) if lo == hi else f"{lo}-{hi}"


def train_bounds(train_range: str | int) -> tuple[int, int]:
  """(lo, hi) of a `Member.train_range` (`lo-hi` or `n`), e.g. a results.csv
  `train_length` cell: the one reader of the text `train_range` writes."""
  lo, _, hi = str(train_range).partition("-")
  return int(lo), int(hi or lo)


def grid(depths, heads, seeds, learning_rates, train_length_sets,
         languages=("",), positionals=("",)) -> tuple[Member, ...]:
  """Every combination, in the order language, train lengths, positional encoding, depth,
  heads, lr, seed."""
  return tuple(Member(d, h, s, float(lr), tuple(t), g, pe) for g, t, pe, d, h, lr, s in
               itertools.product(languages, train_length_sets, positionals, depths, heads,
                                 learning_rates, seeds))


def language_specs(members: tuple[Member, ...]) -> tuple[str, ...]:
  """The distinct member languages in order of first appearance (() without a
  sweep.languages axis)."""
  return tuple(dict.fromkeys(m.language for m in members if m.language))


def positional_specs(members: tuple[Member, ...]) -> tuple[str, ...]:
  """The distinct member encodings in order of first appearance (() without a
  sweep.positionals axis)."""
  return tuple(dict.fromkeys(m.positional for m in members if m.positional))


def max_model_config(model: transformer_lib.ModelConfig,
                     members: tuple[Member, ...]) -> transformer_lib.ModelConfig:
  """The model every member is a masked copy of (with several encodings, all of them:
  `positional_mix`, each member gated to its own)."""
  depth = max(m.depth for m in members)
  heads = max(m.heads for m in members)
  mix = positional_specs(members)
  return dataclasses.replace(model, depth=depth, heads=heads,
                             key_dim=model.key_dim or model.width // heads,
                             positional=mix[0] if mix else model.positional,
                             positional_mix=mix if len(mix) > 1 else ())


def member_config(model: transformer_lib.ModelConfig, member: Member) -> transformer_lib.ModelConfig:
  """Member `member`'s standalone model: its depth, heads and encoding, the population's
  head width K (`model` is the max model)."""
  return dataclasses.replace(model, depth=member.depth, heads=member.heads,
                             head_masks=tuple(model.head_masks)[:member.heads],
                             positional=member.positional or model.positional,
                             positional_mix=())


def head_width(model: transformer_lib.ModelConfig, members: tuple[Member, ...]) -> int:
  """K, the width of every member's heads (`model.key_dim`, or width // max heads)."""
  return model.key_dim or model.width // max(m.heads for m in members)


def varies_architecture(members: tuple[Member, ...]) -> bool:
  """Whether members differ in depth, heads or positional encoding (the max model is masked)."""
  return len({(m.depth, m.heads, m.positional) for m in members}) > 1


class Arch(NamedTuple):
  """A member's architecture inside the max model (int32 scalars, or [M] arrays for the
  whole population): what `apply` masks with. `positional` indexes `positional_mix`."""
  depth: jax.Array
  heads: jax.Array
  positional: jax.Array


@dataclasses.dataclass(frozen=True)
class MemberArrays:
  """Per-member values as arrays with a leading M axis (what vmap maps over)."""

  depth_M: jax.Array
  heads_M: jax.Array
  lr_M: jax.Array
  lengths_MxL: jax.Array     # each member's training lengths, padded by repetition
  num_lengths_M: jax.Array
  language_M: np.ndarray | None = None   # index into language_specs (sweep.languages)
  positional_M: jax.Array | None = None  # index into positional_specs (sweep.positionals)

  @property
  def arch_M(self) -> Arch:
    """Every member's Arch, [M] arrays."""
    return Arch(self.depth_M, self.heads_M, self.positional_M if self.positional_M is not None
                else jnp.zeros_like(self.depth_M))


def member_arrays(members: tuple[Member, ...]) -> MemberArrays:
  width = max(len(m.train_lengths) for m in members)
  table = np.array([list(m.train_lengths) + [m.train_lengths[-1]] * (width - len(m.train_lengths))
                    for m in members], np.int32)
  return MemberArrays(
      depth_M=jnp.asarray([m.depth for m in members], jnp.int32),
      heads_M=jnp.asarray([m.heads for m in members], jnp.int32),
      lr_M=jnp.asarray([m.learning_rate for m in members], jnp.float32),
      lengths_MxL=jnp.asarray(table),
      num_lengths_M=jnp.asarray([len(m.train_lengths) for m in members], jnp.int32),
      language_M=(np.array([specs.index(m.language) for m in members], np.int32)
                  if (specs := language_specs(members)) else None),
      positional_M=(jnp.asarray([pes.index(m.positional) for m in members], jnp.int32)
                    if (pes := positional_specs(members)) else None))


def _interceptor(arch: Arch):
  depth, heads = arch.depth, arch.heads

  def intercept(next_fun, args, kwargs, context):
    mod = context.module
    if context.method_name == "positional_choice":
      return jnp.asarray(arch.positional, jnp.int32)
    if context.method_name != "__call__":
      return next_fun(*args, **kwargs)
    if isinstance(mod, transformer_lib.Block):
      layer = int(mod.name.rsplit("_", 1)[1])
      return jnp.where(layer < depth, next_fun(*args, **kwargs), args[0])
    if mod.name == "out" and isinstance(mod.parent, attention_lib.MultiHeadAttention):
      b_BxTxHxK = args[0]
      active_H = jnp.arange(b_BxTxHxK.shape[-2]) < heads
      return next_fun(jnp.where(active_H[:, None], b_BxTxHxK, 0.0), *args[1:], **kwargs)
    return next_fun(*args, **kwargs)
  return intercept


def apply(model: nn.Module, params: Any, tokens_BxT: jax.Array, readout_B: jax.Array,
          arch: Arch | None = None, **kwargs) -> jax.Array:
  """`model.apply` for one member; with its `arch`, the masked max model."""
  if arch is None:
    return model.apply(params, tokens_BxT, readout_B, **kwargs)
  with nn.intercept_methods(_interceptor(arch)):
    return model.apply(params, tokens_BxT, readout_B, **kwargs)


def arch(depth: int, heads: int, positional: int = 0) -> Arch:
  """One member's Arch from Python ints (`positional` indexes the max model's mix)."""
  return Arch(jnp.int32(depth), jnp.int32(heads), jnp.int32(positional))


def standalone_params(params: Any, depth: int, heads: int, positional: str | None = None) -> Any:
  """The parameters of the standalone (depth, heads) model inside a max-model member;
  with `positional`, of the standalone model of that encoding (the other encodings'
  parameters of a mixed max model left out)."""
  def slice_layer(layer):
    out = dict(layer)
    att = dict(out["attention"])
    for name in ("query", "key", "value", "relative"):
      if name in att:
        att[name] = {k: v[:, :heads] if k == "kernel" else v[:heads] for k, v in att[name].items()}
    for name in ("relative_u", "relative_v"):
      if name in att:
        att[name] = att[name][:heads]
    att["out"] = {"kernel": att["out"]["kernel"][:heads], "bias": att["out"]["bias"]}
    if positional is not None and positional != "relative":
      for name in ("relative", "relative_u", "relative_v"):
        att.pop(name, None)
    out["attention"] = att
    return out
  p = dict(params["params"])
  if positional is not None and positional != "learned":
    p.pop("pos_embed", None)
  for name in list(p):
    if name.startswith("layer_"):
      l = int(name.rsplit("_", 1)[1])
      if l >= depth:
        del p[name]
      else:
        p[name] = slice_layer(p[name])
  return {**params, "params": p}


def embed_standalone(params: Any, small: Any) -> Any:
  """`params` (one max-model member) with the standalone (depth, heads) model's
  parameters `small` written in: the inverse of `standalone_params`. Leaves of equal
  shape are replaced, attention leaves of fewer heads fill their leading slice, layers
  the small model lacks keep their values (masked members never read them)."""
  def put(path, big):
    leaf = small
    for k in path:
      key = getattr(k, "key", k)
      if not isinstance(leaf, dict) or key not in leaf:
        return big
      leaf = leaf[key]
    if leaf.shape == big.shape:
      return leaf.astype(big.dtype)
    return big.at[tuple(slice(0, s) for s in leaf.shape)].set(leaf.astype(big.dtype))
  return jax.tree_util.tree_map_with_path(put, params)
