"""The experiment assembled from its config: language, model, optimizer, population, state.

`make_setup(exp)` builds everything static once (`Setup`); `init_state(setup)` the one
`TrainState` pytree everything that changes lives in (params and optimizer state with a
leading member axis M, the step, divergence marks). Training (`limits.train`),
evaluation, the probes and storage (`limits.experiment.load`) all start from these.

Letters: M members, B batch, T positions.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from limits import config as config_lib
from limits import languages
from limits import models
from limits import population
from limits.languages import mixed as mixed_lib


@flax.struct.dataclass
class TrainState:
  """The whole training state of a population of M members (M = 1 without a sweep).

  params and opt_state carry a leading member axis; `diverged_M` marks members whose loss
  or parameters became NaN/Inf (they are frozen at their last finite parameters) and
  `diverged_step_M` the step where that happened (-1 if never). With early stopping
  (`train.early_stop_steps` = k > 0; else both None, and checkpoints keep their old
  shape) `perfect_M` counts each member's consecutive steps at training accuracy 1 and
  `stopped_step_M` is the step where it reached k (-1 if not yet): from then on the
  member's updates are masked, like a diverged member's.
  """

  step: jax.Array
  params: Any
  opt_state: Any
  diverged_M: jax.Array
  diverged_step_M: jax.Array
  perfect_M: jax.Array | None = None
  stopped_step_M: jax.Array | None = None


@dataclasses.dataclass(frozen=True)
class Setup:
  """Everything static an experiment needs, built once from the `Experiment`."""

  exp: config_lib.Experiment
  language: languages.Language
  model: models.Transformer
  optimizer: optax.GradientTransformation
  members: tuple[population.Member, ...]
  arrays: population.MemberArrays
  masked: bool  # whether members differ in depth/heads (masked max model)

  @property
  def task(self) -> str:
    return self.exp.data.task

  @property
  def num_members(self) -> int:
    return len(self.members)

  def member_masks(self) -> population.Arch | None:
    """Every member's Arch ([M] arrays) to mask with, or None when all members share one
    architecture."""
    if not self.masked:
      return None
    return self.arrays.arch_M


def make_model(model_cfg: models.ModelConfig, language: languages.Language,
               task: str) -> models.Transformer | models.LSTM:
  """The model named by `model.kind` (transformer or lstm), for this language and task."""
  cls = models.LSTM if model_cfg.kind == "lstm" else models.Transformer
  return cls(cfg=model_cfg, vocab_size=language.vocab_size,
             num_classes=language.num_classes(task), pad_id=language.pad, task=task)


def make_schedule(t: config_lib.TrainConfig) -> optax.Schedule:
  """Linear warm-up to `learning_rate`, then constant or cosine decay to 0 at `steps`."""
  warm = max(t.warmup_steps, 1)
  if t.schedule == "cosine":
    return optax.warmup_cosine_decay_schedule(0.0, t.learning_rate, warm, max(t.steps, warm + 1))
  return optax.join_schedules(
      [optax.linear_schedule(0.0, t.learning_rate, warm), optax.constant_schedule(t.learning_rate)],
      [warm])


def make_optimizer(t: config_lib.TrainConfig) -> optax.GradientTransformation:
  """AdamW behind global-norm gradient clipping, with the warm-up schedule."""
  return optax.chain(optax.clip_by_global_norm(t.grad_clip),
                     optax.adamw(make_schedule(t), weight_decay=t.weight_decay))


def make_setup(exp: config_lib.Experiment) -> Setup:
  """Language, the (max-size) model, the optimizer and the population of `exp`."""
  members = exp.members
  specs = population.language_specs(members)
  make = lambda spec: languages.make_language(spec, exp.data.p,
                                              near_miss_fraction=exp.data.near_miss_fraction,
                                              targets=exp.data.targets)
  # sweep.languages: one MixedDFA whose tables each member indexes (languages/mixed.py).
  language = mixed_lib.MixedDFA([make(s) for s in specs]) if specs else make(exp.data.language)
  model_cfg = population.max_model_config(exp.model, members) if exp.model.kind == "transformer" \
      else exp.model
  # Members scale the updates by their own learning rate: the optimizer's schedule peaks at 1.
  shape = dataclasses.replace(exp.train, learning_rate=1.0)
  return Setup(exp=exp, language=language, model=make_model(model_cfg, language, exp.data.task),
               optimizer=make_optimizer(shape), members=members,
               arrays=population.member_arrays(members),
               masked=population.varies_architecture(members))


def member_keys(setup: Setup) -> tuple[jax.Array, jax.Array]:
  """(init keys, train keys), each key[M]: split from `jax.random.key(seed_m)`."""
  keys = [jax.random.split(jax.random.key(m.seed)) for m in setup.members]
  return jnp.stack([k[0] for k in keys]), jnp.stack([k[1] for k in keys])


def init_state(setup: Setup, key: jax.Array | None = None) -> TrainState:
  """Fresh parameters and optimizer state at step 0 for every member.

  Member m is initialised from its own seed (`key` overrides all seeds, for tests).
  """
  batch = _shape_batch(setup)
  keys_M = member_keys(setup)[0] if key is None else jnp.stack([key] * setup.num_members)

  def one(k):
    params = setup.model.init(k, batch.tokens_BxT, batch.readout_B)
    return params, setup.optimizer.init(params)

  params, opt_state = run_once(jax.vmap(one), keys_M)
  if setup.masked:
    params = _standalone_init(setup, params, keys_M, batch)
    opt_state = run_once(jax.vmap(setup.optimizer.init), params)
  m = setup.num_members
  early = setup.exp.train.early_stop_steps > 0
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=opt_state,
                    diverged_M=jnp.zeros((m,), bool), diverged_step_M=jnp.full((m,), -1, jnp.int32),
                    perfect_M=jnp.zeros((m,), jnp.int32) if early else None,
                    stopped_step_M=jnp.full((m,), -1, jnp.int32) if early else None)


def member_language(setup: Setup, m: int) -> languages.Language:
  """Member m's own language (its entry of sweep.languages, else the experiment's)."""
  if is_mixed(setup):
    return setup.language.languages[int(setup.arrays.language_M[m])]
  return setup.language


def is_mixed(setup: Setup) -> bool:
  """Whether members learn different languages (sweep.languages)."""
  return isinstance(setup.language, mixed_lib.MixedDFA)


def member_tables(setup: Setup, max_length: int) -> mixed_lib.DFATables | None:
  """Per-member sampling tables (leading axis M) of a mixed-language population, else
  None: what `sampler(setup, tables)` binds inside a vmapped step."""
  if not is_mixed(setup):
    return None
  return setup.language.member_tables(max_length, setup.arrays.language_M)


def sampler(setup: Setup, tables: mixed_lib.DFATables | None) -> languages.Language:
  """The language a member samples from inside the step: its bound tables, or the
  experiment's language."""
  return setup.language if tables is None else setup.language.bind(tables)


def _standalone_init(setup: Setup, params_M: Any, keys_M: jax.Array,
                     batch: languages.Batch) -> Any:
  """Members' parameters initialised as their standalone (depth_m, heads_m) models with
  the population's head width K (population.embed_standalone): a slice of the max
  model's draw would differ (other random draws; the output projection's fan-in is
  heads x K, so fewer heads would start with smaller outputs than the standalone model)."""
  cfg = setup.model.cfg
  arch_of = lambda m: (m.depth, m.heads, m.positional)
  for shape in sorted({arch_of(m) for m in setup.members}):
    idx = np.asarray([i for i, m in enumerate(setup.members) if arch_of(m) == shape])
    small_cfg = population.member_config(cfg, setup.members[int(idx[0])])
    small = make_model(small_cfg, setup.language, setup.task)
    init = jax.vmap(lambda k: small.init(k, batch.tokens_BxT, batch.readout_B))
    merged = jax.vmap(population.embed_standalone)(jax.tree.map(lambda x: x[idx], params_M),
                                                   run_once(init, keys_M[idx]))
    params_M = jax.tree.map(lambda a, b: a.at[idx].set(b), params_M, merged)
  return params_M


def _shape_batch(setup: Setup) -> languages.Batch:
  """A one-string batch of the longest training length, zeros: initialisation reads only
  its shapes (no parameter depends on token values), so nothing is sampled or compiled
  for it (`jax.eval_shape`)."""
  n = setup.exp.max_train_length
  shapes = jax.eval_shape(lambda k: member_language(setup, 0).sample(
      setup.task, k, jnp.full((1,), n, jnp.int32), n), jax.random.key(0))
  return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)


def run_once(fn, *args):
  """`jax.jit(fn)(*args)` for a program that runs once (initialisation). On CPU it is
  compiled without LLVM's expensive passes (`xla_llvm_disable_expensive_passes`): the
  same values bit for bit (tests/test_setup.py), in about half the compile time of the
  threefry-heavy init program."""
  lowered = jax.jit(fn).lower(*args)
  options = ({"xla_llvm_disable_expensive_passes": True}
             if jax.default_backend() == "cpu" else {})
  return lowered.compile(compiler_options=options)(*args)
