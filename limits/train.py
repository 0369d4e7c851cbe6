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
  shape_schedule = setup_lib.make_schedule(dataclasses.replace(exp.train, learning_rate=1.0))
  arch_M = setup.member_masks()

  def member_step(params, opt_state, diverged, key, step, arch, lr, lengths_L, n_lengths,
                  tables):
    k_len, k_data = jax.random.split(jax.random.fold_in(key, step))
    lengths_B = lengths_L[jax.random.randint(k_len, (exp.train.batch_size,), 0, n_lengths)]
    batch = setup_lib.sampler(setup, tables).sample(exp.data.task, k_data, lengths_B, max_len)
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
    pick = lambda new, old: jax.tree.map(lambda a, b: jnp.where(keep_old, b, a), new, old)
    metrics = {"loss_bits": loss / LOG2, "accuracy": acc, "grad_norm": optax.global_norm(grads),
               "learning_rate": lr * shape_schedule(step)}
    return pick(new_params, params), pick(new_opt, opt_state), keep_old, metrics

  m, chunk = setup.num_members, resolve_member_chunk(setup)
  data = parallel.data_devices(m, exp.train.batch_size)
  tables_M = setup_lib.member_tables(setup, max_len)

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
  keys_M = setup_lib.member_keys(setup)[1] if keys_M is None else keys_M
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
