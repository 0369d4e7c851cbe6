"""Training: the state pytree, a pure `train_step`, and the loop around it.

Letters: B batch, T positions, C classes.

One `TrainState` holds everything that changes (params, optimizer state, step); the
per-step key is `fold_in(key, step)`, so a run restored at step s continues exactly as
the uninterrupted run would (bit-identical on CPU).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from limits import config as config_lib
from limits import languages
from limits import models
from limits import parallel
from limits import population
from limits.languages import mixed as mixed_lib

LOG2 = float(np.log(2.0))


@flax.struct.dataclass
class TrainState:
  """The whole training state of a population of M members (M = 1 without a sweep).

  params and opt_state carry a leading member axis; `diverged_M` marks members whose loss
  or parameters became NaN/Inf (they are frozen at their last finite parameters) and
  `diverged_step_M` the step where that happened (-1 if never).
  """

  step: jax.Array
  params: Any
  opt_state: Any
  diverged_M: jax.Array
  diverged_step_M: jax.Array


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
  n = setup.exp.max_train_length
  batch = member_language(setup, 0).sample(setup.task, jax.random.key(0),
                                           jnp.full((1,), n, jnp.int32), n)
  keys_M = member_keys(setup)[0] if key is None else jnp.stack([key] * setup.num_members)

  def one(k):
    params = setup.model.init(k, batch.tokens_BxT, batch.readout_B)
    return params, setup.optimizer.init(params)

  params, opt_state = jax.jit(jax.vmap(one))(keys_M)
  if setup.masked:
    params = _standalone_init(setup, params, keys_M, batch)
    opt_state = jax.jit(jax.vmap(setup.optimizer.init))(params)
  m = setup.num_members
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=opt_state,
                    diverged_M=jnp.zeros((m,), bool), diverged_step_M=jnp.full((m,), -1, jnp.int32))


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
    init = jax.jit(jax.vmap(lambda k: small.init(k, batch.tokens_BxT, batch.readout_B)))
    merged = jax.vmap(population.embed_standalone)(jax.tree.map(lambda x: x[idx], params_M),
                                                   init(keys_M[idx]))
    params_M = jax.tree.map(lambda a, b: a.at[idx].set(b), params_M, merged)
  return params_M


def losses(model: models.Transformer, params: Any, batch: languages.Batch,
           key: jax.Array | None = None,
           arch: population.Arch | None = None) -> tuple[jax.Array, jax.Array]:
  """Per-string cross-entropy (nats) and correctness, both float32[B].

  Recognition: softmax cross-entropy of the label at y_n^(L); correct = argmax is label.
  Prediction: mean over valid positions of the cross-entropy against the exact next-symbol
  distribution q; correctness as in `prediction_correct` (the predicted support must
  equal q's at every position). `key` (training) feeds the
  `positions` rng of randomized positional encodings; without it they use a fixed key.
  `arch` masks a max-size model down to one member (population.py).
  """
  rngs = {"positions": key} if key is not None else None
  logits = population.apply(model, params, batch.tokens_BxT, batch.readout_B, arch,
                            rngs=rngs)
  if batch.labels_B is not None:
    xent_B = optax.softmax_cross_entropy_with_integer_labels(logits, batch.labels_B)
    return xent_B, (jnp.argmax(logits, -1) == batch.labels_B).astype(jnp.float32)
  q_BxTxC = batch.targets_BxTxC
  valid_BxT = batch.valid_BxT
  if batch.multilabel:
    # data.targets="allowed": targets are the multi-hot allowed next symbols
    # (Bhattamishra et al. 2020); loss = per-class sigmoid BCE summed over classes,
    # a position is correct when every class's sigmoid > 0.5 matches its target.
    bce_BxT = jnp.sum(optax.sigmoid_binary_cross_entropy(logits, q_BxTxC), axis=-1)
    xent_B = jnp.sum(jnp.where(valid_BxT, bce_BxT, 0.0), 1) / jnp.sum(valid_BxT, 1)
    pos_ok_BxT = jnp.all((logits > 0) == (q_BxTxC > 0.5), axis=-1) | ~valid_BxT
    return xent_B, jnp.all(pos_ok_BxT, axis=1).astype(jnp.float32)
  logp_BxTxC = jax.nn.log_softmax(logits, axis=-1)
  xent_BxT = -jnp.sum(jnp.where(q_BxTxC > 0, q_BxTxC * logp_BxTxC, 0.0), axis=-1)
  xent_B = jnp.sum(jnp.where(valid_BxT, xent_BxT, 0.0), 1) / jnp.sum(valid_BxT, 1)
  return xent_B, prediction_correct(logp_BxTxC, q_BxTxC, valid_BxT)


def prediction_correct(logp_BxTxC: jax.Array, q_BxTxC: jax.Array,
                       valid_BxT: jax.Array) -> jax.Array:
  """float32[B]: 1 where a string's next-symbol predictions are all correct.

  A symbol counts as predicted when the model gives it more than tau_b, half of the
  smallest non-zero probability q gives any symbol anywhere in string b; a position is
  correct when the predicted set equals q's support, a string when all its positions
  are. tau is fixed per string (not per position, as in Bhattamishra et al. 2020, whose
  per-position threshold passed a predictor that ignores the state: on PARITY at
  p = 0.5 the unigram mixture's P(EOS) = 1/4 sits exactly on the odd state's threshold
  1/4; here it is above tau = 1/8, so it fails at every odd position). The exact
  predictor q always passes (q > tau on the support, 0 elsewhere).
  """
  support = q_BxTxC > 0
  q_min_B = jnp.min(jnp.where(support & valid_BxT[..., None], q_BxTxC, 1.0), axis=(1, 2))
  allowed = logp_BxTxC > jnp.log(0.5 * q_min_B)[:, None, None]
  pos_ok_BxT = jnp.all(allowed == support, axis=-1) | ~valid_BxT
  return jnp.all(pos_ok_BxT, axis=1).astype(jnp.float32)


# Auto member chunks on CPU (train.member_chunk = -1): members side by side up to about
# this many bytes of activations per step: large members (the paper shape) run faster one
# at a time than vmapped side by side on CPU, tiny ones gain from the vmap. Measure it on
# your machine with `python -m launch.benchmark sweep --parts=train` (pop16 vs seq16,
# interleaved in one run).
CPU_CHUNK_BYTES = 8 << 20


def resolve_member_chunk(setup: Setup) -> int:
  """Members one device trains side by side (vmap) per iteration of its loop over its
  own members (`lax.map`); 0 = all of them at once, no loop.

  Each member-axis device holds M / devices members (`parallel.local_members`). An
  explicit `train.member_chunk` becomes the largest divisor of that count not above it;
  -1 (auto) loops only on CPU, chunks of members whose activations fit CPU_CHUNK_BYTES.
  """
  chunk, local = setup.exp.train.member_chunk, parallel.local_members(setup.num_members)
  if chunk == 0 or local == 1 or (chunk < 0 and jax.default_backend() != "cpu"):
    return 0
  if chunk < 0:
    c, t = setup.model.cfg, setup.exp.max_train_length + 2     # the max-size model
    per_member = 4 * setup.exp.train.batch_size * t * c.depth * (8 * c.width + c.heads * t
                                                                 + c.mlp_width)
    chunk = max(1, CPU_CHUNK_BYTES // per_member)
  best = max(k for k in range(1, local + 1) if local % k == 0 and k <= chunk)
  return 0 if best == local else best


def make_train_step(setup: Setup) -> Callable[[TrainState, jax.Array], tuple[TrainState, dict]]:
  """`train_step(state, keys_M) -> (state, metrics)`, pure; jit it once with donated state.

  Every member takes one step in this one program: each member-axis device takes its own
  members (`parallel.map_members`), vmapped, or in chunks looped inside the step
  (`resolve_member_chunk`); with members fewer than devices, the devices of a member's
  data axis each take an equal part of its batch and average their gradients
  (`parallel.data_slice`, `parallel.data_mean`). Member m samples its
  batch on device from `fold_in(keys_M[m], step)`: lengths uniform over its own training
  lengths, padded to the population's maximum. Its updates are AdamW's scaled by its own
  learning rate. A member whose loss or new parameters are not finite keeps its previous
  parameters from then on and is marked diverged. Metrics are float32[M].
  """
  exp, model, opt, arr = setup.exp, setup.model, setup.optimizer, setup.arrays
  max_len = exp.max_train_length
  shape_schedule = make_schedule(dataclasses.replace(exp.train, learning_rate=1.0))
  arch_M = setup.member_masks()

  def member_step(params, opt_state, diverged, key, step, arch, lr, lengths_L, n_lengths,
                  tables):
    k_len, k_data = jax.random.split(jax.random.fold_in(key, step))
    lengths_B = lengths_L[jax.random.randint(k_len, (exp.train.batch_size,), 0, n_lengths)]
    batch = sampler(setup, tables).sample(exp.data.task, k_data, lengths_B, max_len)
    batch = parallel.data_slice(batch, data)   # this device's rows when the batch is split
    # Only randomized positions consume a key; others keep their old step unchanged.
    k_pos = (jax.random.fold_in(k_data, 1) if exp.model.positional == "randomized" else None)

    def loss_fn(p):
      xent_B, correct_B = losses(model, p, batch, k_pos, arch)
      return jnp.mean(xent_B), jnp.mean(correct_B)

    (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    # The batch's equal parts: their mean is the whole batch's loss and gradient.
    loss, acc, grads = parallel.data_mean((loss, acc, grads), data)
    updates, new_opt = opt.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, jax.tree.map(lambda u: lr * u, updates))
    finite = jnp.isfinite(loss) & jnp.all(jnp.stack(
        [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(new_params)]))
    keep_old = diverged | ~finite
    pick = lambda new, old: jax.tree.map(lambda a, b: jnp.where(keep_old, b, a), new, old)
    metrics = {"loss_bits": loss / LOG2, "accuracy": acc, "grad_norm": optax.global_norm(grads),
               "learning_rate": lr * shape_schedule(step)}
    return pick(new_params, params), pick(new_opt, opt_state), keep_old, metrics

  m, chunk = setup.num_members, resolve_member_chunk(setup)
  data = parallel.data_devices(m, exp.train.batch_size)
  tables_M = member_tables(setup, max_len)

  def train_step(state: TrainState, keys_M: jax.Array):
    def members(params, opt_state, diverged, keys, arch, lr, lengths, n_lengths, tables):
      in_axes = (0, 0, 0, 0, None, None if arch is None else 0,
                 0, 0, 0, None if tables is None else 0)
      return jax.vmap(member_step, in_axes=in_axes)(params, opt_state, diverged, keys,
                                                    state.step, arch, lr, lengths,
                                                    n_lengths, tables)

    def local(*args):
      # This device's members: in chunks of `chunk` side by side (vmap), chunks one after
      # another (lax.map) inside the same program (memory of one chunk, one compile).
      if not chunk:
        return members(*args)
      n = jax.tree.leaves(args)[0].shape[0]
      split = lambda x: x.reshape((n // chunk, chunk) + x.shape[1:])
      out = jax.lax.map(lambda a: members(*a), jax.tree.map(split, args))
      return jax.tree.map(lambda x: x.reshape((n,) + x.shape[2:]), out)

    args = (state.params, state.opt_state, state.diverged_M, keys_M, arch_M,
            arr.lr_M, arr.lengths_MxL, arr.num_lengths_M, tables_M)
    params, opt_state, diverged, metrics = parallel.map_members(
        local, m, exp.train.batch_size)(*args)
    newly = diverged & ~state.diverged_M
    return TrainState(step=state.step + 1, params=params, opt_state=opt_state,
                      diverged_M=diverged,
                      diverged_step_M=jnp.where(newly, state.step + 1, state.diverged_step_M)), \
        {**metrics, "diverged": diverged.astype(jnp.float32)}

  return train_step


class Progress:
  """One progress line for the population: step, loss, best member, rate and ETA."""

  def __init__(self, start: int, total: int):
    self.start, self.total, self.t0 = start, total, time.perf_counter()

  def rate(self, step: int) -> float:
    dt = time.perf_counter() - self.t0
    return (step - self.start) / dt if dt > 0 else 0.0

  def line(self, step: int, metrics: dict[str, list[float]]) -> str:
    rate = self.rate(step)
    eta = (self.total - step) / rate if rate > 0 else float("nan")
    eta_s = time.strftime("%M:%S", time.gmtime(eta)) if np.isfinite(eta) else "--:--"
    loss = np.asarray(metrics["loss_bits"], np.float64)
    alive = np.asarray(metrics["diverged"]) == 0
    m = len(loss)
    if m == 1:
      head = f"loss {loss[0]:.4f} bits  acc {metrics['accuracy'][0]:.3f}"
    else:
      best = int(np.argmin(np.where(alive, loss, np.inf))) if alive.any() else 0
      head = (f"{m} members  mean loss {np.mean(loss[alive]) if alive.any() else float('nan'):.4f}"
              f" bits  best #{best} {loss[best]:.4f} bits acc {metrics['accuracy'][best]:.3f}")
    div = f"  diverged {int((~alive).sum())}" if (~alive).any() else ""
    return (f"step {step:>6d}/{self.total}  {head}{div}  {rate * m:7.1f} member-steps/s  "
            f"ETA {eta_s}")


def train_loop(setup: Setup, state: TrainState, keys_M: jax.Array | None = None, *,
               on_metrics: Callable[[int, dict[str, list[float]]], None] | None = None,
               on_step: Callable[[int, TrainState], None] | None = None) -> TrainState:
  """Runs `train_step` from `state.step` to `train.steps` (keys default to the seeds').

  The next step is dispatched before the previous step's metrics are read, so reading
  metrics does not stall the device. `on_metrics(step, metrics)` (lists over members)
  runs every `log_every` steps and at the end; `on_step(step, state)` after every step
  (at `checkpoint_every` steps, after that step's metrics went to `on_metrics`).
  """
  t = setup.exp.train
  keys_M = member_keys(setup)[1] if keys_M is None else keys_M
  state = parallel.shard_members(state, setup.num_members, t.batch_size)
  step_fn = jax.jit(make_train_step(setup), donate_argnums=0)
  pending: tuple[int, dict] | None = None

  def flush(p):
    step, metrics = p
    if on_metrics is not None:
      on_metrics(step, {k: [float(x) for x in np.asarray(v)]
                        for k, v in parallel.fetch(metrics).items()})

  step = int(state.step)
  while step < t.steps:
    state, metrics = step_fn(state, keys_M)
    step += 1
    if pending is not None:
      flush(pending)
      pending = None
    if step % t.log_every == 0 or step == t.steps:
      pending = (step, metrics)
    if on_step is not None:
      # Metrics of a step are logged before its checkpoint is saved (and when `on_step`
      # stops the run), so a resumed run's log has every line an uninterrupted one has.
      if pending is not None and step % t.checkpoint_every == 0:
        flush(pending)
        pending = None
      try:
        on_step(step, state)
      except BaseException:
        if pending is not None:
          flush(pending)
        raise
  if pending is not None:
    flush(pending)
  return state
