"""Training: a pure `train_step` and the loop around it.

The experiment it trains is assembled in `limits.setup` (Setup, TrainState, optimizer);
the loss is `limits.metrics.losses`. The per-step key is `fold_in(key, step)`, so a run
restored at step s continues exactly as the uninterrupted run would (bit-identical on
CPU).

Letters: M members, B batch.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from limits import metrics as metrics_lib
from limits import parallel
from limits import setup as setup_lib
from limits.metrics import LOG2
from limits.setup import Setup, TrainState


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


def member_batch(setup: Setup, key: jax.Array, step: jax.Array, lengths_L: jax.Array,
                 n_lengths: jax.Array, tables: Any) -> tuple[Any, jax.Array]:
  """(batch, its data key): one member's training batch at `step`, from its train key:
  lengths uniform over its first `n_lengths` of `lengths_L`, padded to the population's
  longest training length. Populations of other model kinds with the same seeds,
  languages and lengths (`sweep.kinds`) therefore train on the same batches."""
  exp = setup.exp
  k_len, k_data = jax.random.split(jax.random.fold_in(key, step))
  lengths_B = lengths_L[jax.random.randint(k_len, (exp.train.batch_size,), 0, n_lengths)]
  batch = setup_lib.sampler(setup, tables).sample(exp.data.task, k_data, lengths_B,
                                                  exp.max_train_length)
  return batch, k_data


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
  parameters from then on and is marked diverged; with `train.early_stop_steps` = k, so
  does a member after k consecutive steps whose whole batch it classified correctly (it
  is marked stopped). Metrics are float32[M].
  """
  exp, model, opt, arr = setup.exp, setup.model, setup.optimizer, setup.arrays
  max_len = exp.max_train_length
  shape_schedule = setup_lib.make_schedule(dataclasses.replace(exp.train, learning_rate=1.0))
  arch_M = setup.member_masks()

  stop_k = exp.train.early_stop_steps

  def member_step(params, opt_state, diverged, perfect, key, step, arch, lr, lengths_L,
                  n_lengths, tables):
    batch, k_data = member_batch(setup, key, step, lengths_L, n_lengths, tables)
    batch = parallel.data_slice(batch, data)   # this device's rows when the batch is split
    # Only randomized positions consume a key; others keep their old step unchanged.
    k_pos = (jax.random.fold_in(k_data, 1) if exp.model.positional == "randomized" else None)

    def loss_fn(p):
      xent_B, correct_B = metrics_lib.losses(model, p, batch, k_pos, arch)
      return jnp.mean(xent_B), jnp.mean(correct_B)

    (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    # The batch's equal parts: their mean is the whole batch's loss and gradient.
    loss, acc, grads = parallel.data_mean((loss, acc, grads), data)
    updates, new_opt = opt.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, jax.tree.map(lambda u: lr * u, updates))
    finite = jnp.isfinite(loss) & jnp.all(jnp.stack(
        [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(new_params)]))
    keep_old = diverged | ~finite
    frozen = keep_old
    if perfect is not None:   # early stopping: a stopped member's updates are masked
      stopped = perfect >= stop_k
      frozen = keep_old | stopped
      perfect = jnp.where(stopped, perfect, jnp.where(acc >= 1.0, perfect + 1, 0))
    pick = lambda new, old: jax.tree.map(lambda a, b: jnp.where(frozen, b, a), new, old)
    metrics = {"loss_bits": loss / LOG2, "accuracy": acc, "grad_norm": optax.global_norm(grads),
               "learning_rate": lr * shape_schedule(step)}
    return pick(new_params, params), pick(new_opt, opt_state), keep_old, perfect, metrics

  m, chunk = setup.num_members, resolve_member_chunk(setup)
  data = parallel.data_devices(m, exp.train.batch_size)
  tables_M = setup_lib.member_tables(setup, max_len)

  def train_step(state: TrainState, keys_M: jax.Array):
    def members(params, opt_state, diverged, perfect, keys, arch, lr, lengths, n_lengths,
                tables):
      in_axes = (0, 0, 0, None if perfect is None else 0, 0, None,
                 None if arch is None else 0, 0, 0, 0, None if tables is None else 0)
      return jax.vmap(member_step, in_axes=in_axes)(params, opt_state, diverged, perfect, keys,
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

    args = (state.params, state.opt_state, state.diverged_M, state.perfect_M, keys_M, arch_M,
            arr.lr_M, arr.lengths_MxL, arr.num_lengths_M, tables_M)
    params, opt_state, diverged, perfect, metrics = parallel.map_members(
        local, m, exp.train.batch_size)(*args)
    newly = diverged & ~state.diverged_M
    metrics = {**metrics, "diverged": diverged.astype(jnp.float32)}
    stopped_step = state.stopped_step_M
    if perfect is not None:
      stopped = perfect >= stop_k
      stopped_step = jnp.where(stopped & (stopped_step < 0), state.step + 1, stopped_step)
      metrics["stopped"] = stopped.astype(jnp.float32)
    return TrainState(step=state.step + 1, params=params, opt_state=opt_state,
                      diverged_M=diverged,
                      diverged_step_M=jnp.where(newly, state.step + 1, state.diverged_step_M),
                      perfect_M=perfect, stopped_step_M=stopped_step), metrics

  return train_step


def train_loop(setup: Setup, state: TrainState, keys_M: jax.Array | None = None, *,
               on_metrics: Callable[[int, dict[str, list[float]]], None] | None = None,
               on_step: Callable[[int, TrainState], None] | None = None) -> TrainState:
  """Runs `train_step` from `state.step` to `train.steps` (keys default to the seeds').

  The next step is dispatched before the previous step's metrics are read, so reading
  metrics does not stall the device. `on_metrics(step, metrics)` (lists over members)
  runs every `log_every` steps and at the end; `on_step(step, state)` after every step
  (at `checkpoint_every` steps, after that step's metrics went to `on_metrics`). With
  early stopping the loop ends once logged metrics show every member stopped or diverged
  (and returns at once from a state where they all are).
  """
  t = setup.exp.train
  keys_M = setup_lib.member_keys(setup)[1] if keys_M is None else keys_M
  state = parallel.shard_members(state, setup.num_members, t.batch_size)
  step_fn = jax.jit(make_train_step(setup), donate_argnums=0)
  pending: tuple[int, dict] | None = None
  finished = False

  def flush(p):
    nonlocal finished
    step, metrics = p
    host = {k: [float(x) for x in np.asarray(v)] for k, v in parallel.fetch(metrics).items()}
    if on_metrics is not None:
      on_metrics(step, host)
    finished = "stopped" in host and all(s or d for s, d in zip(host["stopped"], host["diverged"]))

  step = int(state.step)
  if state.stopped_step_M is not None:   # early stopping: nothing left to train?
    finished = bool(np.all((np.asarray(parallel.fetch(state.stopped_step_M)) >= 0)
                           | np.asarray(parallel.fetch(state.diverged_M))))
  while step < t.steps and not finished:
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
