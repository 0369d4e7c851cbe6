"""The members x data mesh (limits/parallel.py) on the 8 simulated CPU devices of
tests/conftest.py: mesh shapes, and a single model whose batch is split over all 8
devices training like the same model on one device."""

import jax
import numpy as np
import pytest

from configs import parity as parity_config
from limits import config as config_lib, parallel
from tests.test_population import _train_logged

@pytest.fixture(autouse=True)
def data_axis(monkeypatch):
  """The data axis, off on CPU by default (parallel.CPU_DATA_AXIS), on for these tests."""
  monkeypatch.setattr(parallel, "CPU_DATA_AXIS", True)


# Measured (this test, 2-core CPU, jax 0.10.2): the 8-way split changes only the order of
# the batch mean's float32 sums; over 40 steps the logged losses differed by at most
# 1.2e-7 bits and the final parameters by 0.0034 of their movement from the init (Adam
# turns last-bit gradient differences into lr-sized moves of near-zero entries).
LOSS_ATOL_BITS = 1e-5
PARAMS_FRACTION = 0.02


def _norm(u, v) -> float:
  return float(np.sqrt(sum(np.sum((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
                           for a, b in zip(jax.tree.leaves(u), jax.tree.leaves(v), strict=True))))


def _assert_params_agree(a, b, init):
  diff, moved = _norm(a, b), _norm(b, init)
  print(f"params differ by {diff / moved:.3g} of their movement from init")
  assert moved > 0 and diff <= PARAMS_FRACTION * moved


def _exp(batch_size=32, steps=40, seeds="0"):
  cfg = parity_config.get_config("smoke")
  cfg.train.update(steps=steps, batch_size=batch_size, log_every=5, checkpoint_every=steps)
  cfg.sweep.update(seeds=seeds)
  return config_lib.validate(cfg)


def test_mesh_shapes(monkeypatch):
  assert jax.device_count() == 8
  assert parallel.mesh_shape(1, 32) == (1, 8)     # one model: its batch over all 8
  assert parallel.mesh_shape(4, 32) == (4, 2)     # 4 members: 2 devices each
  assert parallel.mesh_shape(16, 32) == (8, 1)    # more members than devices
  assert parallel.mesh_shape(3, 32) == (1, 8)     # 3 does not divide 8: the batch does
  assert parallel.mesh_shape(1, 12) == (1, 4)     # as many devices as divide the batch
  assert parallel.mesh_shape(4) == (4, 1)         # no batch given: members only
  s = parallel.member_sharding(4, 32)
  assert dict(s.mesh.shape) == {"members": 4, "data": 2}
  assert parallel.local_members(4, 32) == 1 and parallel.data_devices(4, 32) == 2
  monkeypatch.setattr(parallel, "CPU_DATA_AXIS", False)    # the CPU default: members only
  assert parallel.mesh_shape(1, 32) == (1, 1) and parallel.mesh_shape(4, 32) == (4, 1)


def test_single_model_split_over_eight_devices_matches_one_device():
  exp = _exp()
  assert parallel.data_devices(1, exp.train.batch_size) == 8
  (sharded, log8, init8), (single, log1, init1) = _train_logged(exp, False), _train_logged(exp, True)
  assert dict(jax.tree.leaves(sharded.params)[0].sharding.mesh.shape) == {"members": 1,
                                                                          "data": 8}
  assert len(jax.tree.leaves(single.params)[0].sharding.device_set) == 1
  for x, y in zip(jax.tree.leaves(init8), jax.tree.leaves(init1), strict=True):
    np.testing.assert_array_equal(x, y)
  assert sorted(log8) == sorted(log1) == list(range(5, 41, 5))
  worst = max(abs(log8[s]["loss_bits"][0] - log1[s]["loss_bits"][0]) for s in log8)
  print(f"8 vs 1 device: max |loss difference| {worst:.3g} bits")
  assert worst <= LOSS_ATOL_BITS
  # The loss moved: a run that did not train (or trained on other strings) fails below.
  assert abs(log1[5]["loss_bits"][0] - log1[40]["loss_bits"][0]) > 100 * LOSS_ATOL_BITS
  _assert_params_agree(sharded.params, single.params, init1)


def test_members_and_batch_split_together():
  """4 members on a (4, 2) mesh: each member's batch over 2 devices, like one device."""
  exp = _exp(seeds="0-3", steps=20)
  assert parallel.mesh_shape(4, exp.train.batch_size) == (4, 2)
  (sharded, log8, _), (single, log1, init1) = _train_logged(exp, False), _train_logged(exp, True)
  for s in log8:
    np.testing.assert_allclose(log8[s]["loss_bits"], log1[s]["loss_bits"], atol=LOSS_ATOL_BITS)
  _assert_params_agree(sharded.params, single.params, init1)
