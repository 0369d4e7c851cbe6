"""Training: the state pytree, a pure `train_step`, and the loop around it.

Letters: B batch, T positions, C classes.

One `TrainState` holds everything that changes (params, optimizer state, step); the
per-step key is `fold_in(key, step)`, so a run restored at step s continues exactly as
the uninterrupted run would (bit-identical on CPU).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Iterator

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from limits import config as config_lib
from limits import languages
from limits import models

LOG2 = float(np.log(2.0))


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  opt_state: Any


@dataclasses.dataclass(frozen=True)
class Setup:
  """Everything static an experiment needs, built once from the `Experiment`."""

  exp: config_lib.Experiment
  language: languages.Language
  model: models.Transformer
  optimizer: optax.GradientTransformation

  @property
  def task(self) -> str:
    return self.exp.data.task


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
  language = languages.make_language(exp.data.language, exp.data.p)
  return Setup(exp=exp, language=language, model=make_model(exp.model, language, exp.data.task),
               optimizer=make_optimizer(exp.train))


def init_state(setup: Setup, key: jax.Array) -> TrainState:
  """Fresh parameters and optimizer state at step 0."""
  n = max(setup.exp.data.train_lengths)
  batch = setup.language.sample(setup.task, key, jnp.full((1,), n, jnp.int32), n)
  params = setup.model.init(key, batch.tokens_BxT, batch.readout_B)
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    opt_state=setup.optimizer.init(params))


def losses(model: models.Transformer, params: Any, batch: languages.Batch,
           key: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
  """Per-string cross-entropy (nats) and correctness, both float32[B].

  Recognition: softmax cross-entropy of the label at y_n^(L); correct = argmax is label.
  Prediction: mean over valid positions of the cross-entropy against the exact next-symbol
  distribution q; a position is correct when the set of classes the model gives more than
  half of q's smallest non-zero probability equals q's support (Bhattamishra et al. 2020),
  and a string is correct when all its positions are. `key` (training) feeds the
  `positions` rng of randomized positional encodings; without it they use a fixed key.
  """
  rngs = {"positions": key} if key is not None else None
  logits = model.apply(params, batch.tokens_BxT, batch.readout_B, rngs=rngs)
  if batch.labels_B is not None:
    xent_B = optax.softmax_cross_entropy_with_integer_labels(logits, batch.labels_B)
    return xent_B, (jnp.argmax(logits, -1) == batch.labels_B).astype(jnp.float32)
  q_BxTxC = batch.targets_BxTxC
  logp_BxTxC = jax.nn.log_softmax(logits, axis=-1)
  valid_BxT = batch.valid_BxT
  xent_BxT = -jnp.sum(jnp.where(q_BxTxC > 0, q_BxTxC * logp_BxTxC, 0.0), axis=-1)
  xent_B = jnp.sum(jnp.where(valid_BxT, xent_BxT, 0.0), 1) / jnp.sum(valid_BxT, 1)
  support = q_BxTxC > 0
  thresh_BxT = 0.5 * jnp.min(jnp.where(support, q_BxTxC, 1.0), axis=-1)
  allowed = jnp.exp(logp_BxTxC) > thresh_BxT[..., None]
  pos_ok_BxT = jnp.all(allowed == support, axis=-1) | ~valid_BxT
  return xent_B, jnp.all(pos_ok_BxT, axis=1).astype(jnp.float32)


def make_train_step(setup: Setup) -> Callable[[TrainState, jax.Array], tuple[TrainState, dict]]:
  """`train_step(state, key) -> (state, metrics)`, pure; jit it once with donated state.

  The batch is sampled inside the step, on device, from `fold_in(key, state.step)`:
  lengths uniform over `data.train_lengths`, padded to their maximum.
  """
  exp, lang, model, opt = setup.exp, setup.language, setup.model, setup.optimizer
  lengths = jnp.asarray(exp.data.train_lengths, jnp.int32)
  max_len = int(max(exp.data.train_lengths))
  schedule = make_schedule(exp.train)

  def loss_fn(params, batch, k_pos):
    xent_B, correct_B = losses(model, params, batch, k_pos)
    return jnp.mean(xent_B), jnp.mean(correct_B)

  def train_step(state: TrainState, key: jax.Array):
    k_len, k_data = jax.random.split(jax.random.fold_in(key, state.step))
    lengths_B = jax.random.choice(k_len, lengths, (exp.train.batch_size,))
    batch = lang.sample(exp.data.task, k_data, lengths_B, max_len)
    # Only randomized positions consume a key; others keep their old step unchanged.
    k_pos = (jax.random.fold_in(k_data, 1) if exp.model.positional == "randomized" else None)
    (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, batch, k_pos)
    updates, opt_state = opt.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {"loss_bits": loss / LOG2, "accuracy": acc,
               "grad_norm": optax.global_norm(grads), "learning_rate": schedule(state.step)}
    return TrainState(step=state.step + 1, params=params, opt_state=opt_state), metrics

  return train_step


class Progress:
  """One progress line: step, loss, rate and ETA."""

  def __init__(self, start: int, total: int):
    self.start, self.total, self.t0 = start, total, time.perf_counter()

  def line(self, step: int, metrics: dict[str, float]) -> str:
    dt = time.perf_counter() - self.t0
    rate = (step - self.start) / dt if dt > 0 else 0.0
    eta = (self.total - step) / rate if rate > 0 else float("nan")
    eta_s = time.strftime("%M:%S", time.gmtime(eta)) if np.isfinite(eta) else "--:--"
    return (f"step {step:>6d}/{self.total}  loss {metrics['loss_bits']:.4f} bits  "
            f"acc {metrics['accuracy']:.3f}  {rate:6.1f} steps/s  ETA {eta_s}")

  def rate(self, step: int) -> float:
    dt = time.perf_counter() - self.t0
    return (step - self.start) / dt if dt > 0 else 0.0


def train_loop(setup: Setup, state: TrainState, key: jax.Array, *,
               on_metrics: Callable[[int, dict[str, float]], None] | None = None,
               on_step: Callable[[int, TrainState], None] | None = None) -> TrainState:
  """Runs `train_step` from `state.step` to `train.steps`.

  The next step is dispatched before the previous step's metrics are read, so reading
  metrics does not stall the device. `on_metrics(step, metrics)` runs every `log_every`
  steps and at the end; `on_step(step, state)` after every step (checkpointing).
  Raises FloatingPointError, naming the step, if the loss becomes NaN or Inf.
  """
  t = setup.exp.train
  step_fn = jax.jit(make_train_step(setup), donate_argnums=0)
  pending: tuple[int, dict] | None = None

  def flush(p):
    step, metrics = p
    host = {k: float(v) for k, v in jax.device_get(metrics).items()}
    if not np.isfinite(host["loss_bits"]):
      raise FloatingPointError(f"loss is {host['loss_bits']} at step {step}")
    if on_metrics is not None:
      on_metrics(step, host)

  step = int(state.step)
  while step < t.steps:
    state, metrics = step_fn(state, key)
    step += 1
    if pending is not None:
      flush(pending)
      pending = None
    if step % t.log_every == 0 or step == t.steps:
      pending = (step, metrics)
    if on_step is not None:
      on_step(step, state)
  if pending is not None:
    flush(pending)
  return state
