"""Devices and hosts: the member mesh, shardings, and multi-host helpers.

pmap-style SPMD written with `jax.jit` over a `jax.make_mesh` mesh and `NamedSharding`:
the member axis M of the population is split over devices of every process (host).
Every process runs the same program on the same config; data are sampled on device from
per-member keys, so each device (and so each process) samples only its own members'
batches, and the numbers do not depend on how members are spread. Only process 0 writes
files other than checkpoints (orbax saves and restores with every process).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import jax
import numpy as np
from jax.experimental import multihost_utils


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
  """`jax.distributed.initialize`: auto-detected (TPU pods, SLURM) when called without
  arguments, explicit coordinator/process id/count elsewhere (e.g. CPU or GPU hosts)."""
  if coordinator_address is None and num_processes is None and process_id is None:
    jax.distributed.initialize()
  else:
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes, process_id=process_id)


def is_main() -> bool:
  return jax.process_index() == 0


def _member_devices(num_members: int) -> list | None:
  """Devices for the member axis: as many as divide M, taken evenly from every process.

  None means one device (nothing to shard). When the usable count cannot be spread
  evenly over the processes, every device of every process holds every member
  (replicated): correct, just not parallel.
  """
  n = math.gcd(num_members, jax.device_count())
  procs = jax.process_count()
  if procs == 1:
    return None if n <= 1 else jax.local_devices()[:n]
  if n % procs:
    return list(jax.devices())
  per = n // procs
  by_proc: dict[int, list] = {}
  for d in jax.devices():
    by_proc.setdefault(d.process_index, []).append(d)
  return [d for p in sorted(by_proc) for d in by_proc[p][:per]]


def member_sharding(num_members: int):
  """NamedSharding of the member axis over `_member_devices`, or None for one device."""
  devices = _member_devices(num_members)
  if devices is None:
    return None
  # Auto axes: XLA propagates the sharding through the step (inputs may mix shardings).
  mesh = jax.make_mesh((len(devices),), ("members",), devices=devices,
                       axis_types=(jax.sharding.AxisType.Auto,))
  spec = ("members" if num_members % len(devices) == 0 else None)
  return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(spec))


def _split(sharding) -> bool:
  """Whether a `member_sharding` splits the member axis (not None, not replicated)."""
  return sharding is not None and sharding.spec == jax.sharding.PartitionSpec("members")


def local_members(num_members: int) -> int:
  """Members each device holds: M over the member-axis devices (M when not split)."""
  sharding = member_sharding(num_members)
  return num_members // sharding.mesh.size if _split(sharding) else num_members


def map_members(fn: Callable[..., Any], num_members: int) -> Callable[..., Any]:
  """`fn(*args)` over arguments whose leaves all carry the member axis M first, run by
  every member-axis device on its own M / devices members (`jax.shard_map`): each device
  runs its members independently, the way pmap would. Closed-over values are replicated.
  With one device, or members replicated, this is `fn` itself (XLA partitions nothing).
  """
  sharding = member_sharding(num_members)
  if not _split(sharding):
    return fn
  spec = sharding.spec

  def mapped(*args):
    return jax.shard_map(fn, mesh=sharding.mesh, in_specs=(spec,) * len(args),
                         out_specs=spec, check_vma=False)(*args)

  return mapped


def shard_members(tree: Any, num_members: int) -> Any:
  """Places every leaf with a leading M axis on the member sharding (others replicated).

  Leaves must hold the same values on every process (they do: they come from the
  config and seeds), so each process can provide them whole.
  """
  sharding = member_sharding(num_members)
  if sharding is None:
    return tree
  replicated = jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec())

  def put(x):
    target = sharding if getattr(x, "ndim", 0) and x.shape[0] == num_members else replicated
    if jax.process_count() > 1 and isinstance(x, jax.Array):
      x = np.asarray(x) if x.is_fully_addressable else x
    return jax.device_put(x, target)

  return jax.tree.map(put, tree)


def fetch(tree: Any) -> Any:
  """Host numpy copy of a (possibly multi-host sharded) pytree, on every process."""
  if jax.process_count() == 1:
    return jax.device_get(tree)

  def get(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return jax.device_get(x)

  return jax.tree.map(get, tree)
