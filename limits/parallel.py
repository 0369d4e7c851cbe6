"""Devices and hosts: the members x data mesh, shardings, and multi-host helpers.

pmap-style SPMD written with `jax.jit` over a 2-D `jax.make_mesh` mesh and
`NamedSharding`: the member axis M of the population is split over devices of every
process (host), and when members are fewer than devices each member's batch is split
over the rest (the data axis; gradients averaged with `pmean`).
Every process runs the same program on the same config; data are sampled on device from
per-member keys, so each device (and so each process) samples only its own members'
batches, and the numbers do not depend on how members are spread. Only process 0 writes
files other than checkpoints (orbax saves and restores with every process).
"""

from __future__ import annotations

import math
import os
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


AXES = ("members", "data")  # the mesh: member axis M x data (batch) axis

# On CPU the simulated devices share the cores, and a data axis puts a collective (the
# gradient pmean) in every step that needs every device's thread at once: with more
# devices than free cores, XLA's in-process rendezvous timed out (40 s, then abort) on the
# busy 2-core development CPU with 8 test devices. So CPU splits members only, unless
# LIMITS_CPU_DATA_AXIS=1 (or this flag) asks for the data axis too.
CPU_DATA_AXIS = os.environ.get("LIMITS_CPU_DATA_AXIS", "") == "1"


def data_axis_enabled() -> bool:
  """Whether batches are split over a data axis here (always off CPU; see CPU_DATA_AXIS)."""
  return CPU_DATA_AXIS or jax.default_backend() != "cpu"


def mesh_shape(num_members: int, batch_size: int | None = None) -> tuple[int, int]:
  """(member devices, data devices) of the 2-D mesh for M members of batch B.

  Members are split over gcd(M, devices) devices; each member's batch over as many of
  the remaining devices as divide B (1 without `batch_size`), so one model on 8
  devices trains its batch 8 ways and 16 members on 8 devices train 2 each.
  """
  n = jax.device_count()
  m = math.gcd(num_members, n)
  d = math.gcd(batch_size, n // m) if batch_size and data_axis_enabled() else 1
  return m, d


def _mesh_devices(count: int) -> list | None:
  """`count` devices taken evenly from every process (None: one device, nothing to shard).

  When `count` cannot be spread evenly over the processes, every device of every process
  is returned and holds everything (replicated): correct, just not parallel.
  """
  procs = jax.process_count()
  if procs == 1:
    return None if count <= 1 else jax.local_devices()[:count]
  if count % procs:
    return list(jax.devices())
  per = count // procs
  by_proc: dict[int, list] = {}
  for d in jax.devices():
    by_proc.setdefault(d.process_index, []).append(d)
  return [d for p in sorted(by_proc) for d in by_proc[p][:per]]


def member_sharding(num_members: int, batch_size: int | None = None):
  """NamedSharding of the member axis over the (members x data) mesh of `mesh_shape`
  (replicated over the data axis), or None for one device."""
  m, d = mesh_shape(num_members, batch_size)
  devices = _mesh_devices(m * d)
  if devices is None:
    return None
  # Auto axes: XLA propagates the sharding through the step (inputs may mix shardings).
  auto = (jax.sharding.AxisType.Auto,) * 2
  if len(devices) != m * d:  # cannot be spread over the processes: replicated
    mesh = jax.make_mesh((len(devices), 1), AXES, devices=devices, axis_types=auto)
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  mesh = jax.make_mesh((m, d), AXES, devices=devices, axis_types=auto)
  return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("members"))


def _split(sharding) -> bool:
  """Whether a `member_sharding` splits the work (not None, not replicated)."""
  return sharding is not None and sharding.spec == jax.sharding.PartitionSpec("members")


def local_members(num_members: int, batch_size: int | None = None) -> int:
  """Members each device holds: M over the member-axis devices (M when not split)."""
  sharding = member_sharding(num_members, batch_size)
  return num_members // sharding.mesh.shape["members"] if _split(sharding) else num_members


def data_devices(num_members: int, batch_size: int | None = None) -> int:
  """Devices each member's batch is split over (the data axis; 1 when not split)."""
  sharding = member_sharding(num_members, batch_size)
  return sharding.mesh.shape["data"] if _split(sharding) else 1


def map_members(fn: Callable[..., Any], num_members: int,
                batch_size: int | None = None) -> Callable[..., Any]:
  """`fn(*args)` over arguments whose leaves all carry the member axis M first, run by
  every device on its own M / member-devices members (`jax.shard_map` over the
  members x data mesh): each member group runs its members independently, the way pmap
  would; the devices of a group's data axis get the same members, and `fn` splits their
  batch with `data_slice` and averages with `data_mean`. Closed-over values are
  replicated. With one device, or everything replicated, this is `fn` itself.
  """
  sharding = member_sharding(num_members, batch_size)
  if not _split(sharding):
    return fn
  spec = sharding.spec

  def mapped(*args):
    return jax.shard_map(fn, mesh=sharding.mesh, in_specs=(spec,) * len(args),
                         out_specs=spec, check_vma=False)(*args)

  return mapped


def data_slice(tree: Any, data: int) -> Any:
  """Inside `map_members`: this device's 1/data of every leaf's leading (batch) axis.

  Every device of a member's data axis draws the member's whole batch from the same key
  (sampling is cheap next to the model) and keeps its own rows, so the strings a member
  trains on do not depend on the device count.
  """
  if data == 1:
    return tree
  i = jax.lax.axis_index("data")

  def take(x):
    b = x.shape[0] // data
    return jax.lax.dynamic_slice_in_dim(x, i * b, b, 0)

  return jax.tree.map(take, tree)


def data_mean(tree: Any, data: int) -> Any:
  """Inside `map_members`: the mean over the data axis (a member's gradient and metrics
  from its batch's equal parts); `tree` itself when the batch is not split."""
  return tree if data == 1 else jax.lax.pmean(tree, "data")


def shard_members(tree: Any, num_members: int, batch_size: int | None = None) -> Any:
  """Places every leaf with a leading M axis on the member sharding (others replicated).

  Leaves must hold the same values on every process (they do: they come from the
  config and seeds), so each process can provide them whole.
  """
  sharding = member_sharding(num_members, batch_size)
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
