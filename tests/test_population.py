"""Populations: masked member = standalone smaller model (forward and gradients),
per-member learning rates, divergence freezing, devices."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from limits import config as config_lib
from limits import languages, models, parallel, population
from limits import setup as setup_lib
from limits import train as train_lib
from configs import parity as parity_config

LANG = languages.make_language("parity")


@pytest.mark.parametrize("layer_norm", ["none", "post"])
@pytest.mark.parametrize("depth,heads", [(1, 1), (2, 3), (3, 2), (3, 4)])
def test_masked_member_equals_standalone_model(depth, heads, layer_norm):
  big_cfg = models.ModelConfig(depth=3, heads=4, width=16, mlp_width=32, key_dim=4,
                               layer_norm=layer_norm)
  small_cfg = dataclasses.replace(big_cfg, depth=depth, heads=heads)
  big = setup_lib.make_model(big_cfg, LANG, "recognition")
  small = setup_lib.make_model(small_cfg, LANG, "recognition")
  batch = LANG.recognition(jax.random.key(0), jnp.asarray([3, 7, 5, 1], jnp.int32), 7)
  params = big.init(jax.random.key(1), batch.tokens_BxT, batch.readout_B)
  sliced = population.standalone_params(params, depth, heads)
  masked = population.apply(big, params, batch.tokens_BxT, batch.readout_B,
                            population.arch(depth, heads))
  alone = small.apply(sliced, batch.tokens_BxT, batch.readout_B)
  np.testing.assert_allclose(masked, alone, rtol=1e-5, atol=1e-6)

  def loss(p, f):
    return jnp.sum(f(p) ** 2)
  g_big = jax.grad(loss)(params, lambda p: population.apply(
      big, p, batch.tokens_BxT, batch.readout_B, population.arch(depth, heads)))
  g_small = jax.grad(loss)(sliced, lambda p: small.apply(p, batch.tokens_BxT, batch.readout_B))
  g_big_sliced = population.standalone_params(g_big, depth, heads)
  for a, b in zip(jax.tree.leaves(g_big_sliced), jax.tree.leaves(g_small), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
  # Inactive layers and heads get exactly zero gradient.
  for l in range(depth, 3):
    assert all(float(jnp.abs(x).max()) == 0 for x in jax.tree.leaves(g_big["params"][f"layer_{l}"]))
  q = g_big["params"]["layer_0"]["attention"]["query"]["kernel"]
  assert float(jnp.abs(q[:, heads:]).sum()) == 0.0 and float(jnp.abs(q[:, :heads]).max()) > 0


def _exp(**sweep):
  cfg = parity_config.get_config("smoke")
  cfg.sweep.update(sweep)
  cfg.train.steps = 20
  return config_lib.validate(cfg)


def test_population_member_matches_its_single_run():
  """Member (depth 1, heads 2, seed 1) of a 2x2x2 population trains like its own run.

  Started from the same (sliced) parameters with the same keys, the losses agree step by
  step; parameters agree to AGREE_FRACTION of their movement from init: Adam turns the
  last-bit differences of near-zero gradient components (different reduction order in the
  masked model) into lr-sized moves, so bitwise equality is not expected after training.
  """
  pop = _exp(depths="1,2", heads="1,2", seeds="0,1")
  setup = setup_lib.make_setup(pop)
  i = next(i for i, m in enumerate(setup.members) if (m.depth, m.heads, m.seed) == (1, 2, 1))
  cfg = parity_config.get_config("smoke")
  cfg.model.update(key_dim=pop.model.width // 2)
  cfg.train.update(steps=20, seed=1)
  cfg.sweep.update(depths="1", heads="2")
  setup1 = setup_lib.make_setup(config_lib.validate(cfg))
  assert setup1.model.cfg.depth == 1 and setup1.model.cfg.heads == 2 and not setup1.masked

  init = setup_lib.init_state(setup)
  init_i = population.standalone_params(jax.tree.map(lambda x: x[i], init.params), 1, 2)
  p1 = jax.tree.map(lambda x: x[None], init_i)
  state1 = dataclasses.replace(setup_lib.init_state(setup1), params=p1,
                               opt_state=jax.vmap(setup1.optimizer.init)(p1))
  log, log1 = {}, {}
  state = train_lib.train_loop(setup, init, on_metrics=lambda s, m: log.__setitem__(s, m))
  state1 = train_lib.train_loop(setup1, state1, setup_lib.member_keys(setup)[1][i:i + 1],
                                on_metrics=lambda s, m: log1.__setitem__(s, m))
  assert sorted(log) == sorted(log1) == [10, 20]
  for s in log:
    assert abs(log[s]["loss_bits"][i] - log1[s]["loss_bits"][0]) < 1e-3
  a = population.standalone_params(jax.tree.map(lambda x: x[i], state.params), 1, 2)
  b = jax.tree.map(lambda x: x[0], state1.params)
  assert_params_agree(a, b, init_i)


# Parameters of two runs that should train alike may differ by this fraction of how far
# training moved them from their common init (global L2 norms). Measured by these tests
# (the assertion prints it): 0.006-0.017 (largest: the masked member against its own run,
# 20 steps); a side that did not train gives 1.
AGREE_FRACTION = 0.05


def assert_params_agree(a, b, init, fraction: float = AGREE_FRACTION):
  """||a - b|| <= fraction x min(||a - init||, ||b - init||): fails if either did not train."""
  def norm(u, v):
    return float(np.sqrt(sum(np.sum((np.asarray(x, np.float64) - np.asarray(y, np.float64)) ** 2)
                             for x, y in zip(jax.tree.leaves(u), jax.tree.leaves(v), strict=True))))
  diff, moved = norm(a, b), min(norm(a, init), norm(b, init))
  print(f"params: |a - b| = {diff:.3g}, moved from init {moved:.3g}, ratio {diff / max(moved, 1e-30):.3g}")
  assert moved > 0 and diff <= fraction * moved, (
      f"parameters differ by {diff:.3g}, {diff / max(moved, 1e-30):.3g} of the movement from "
      f"init ({moved:.3g}; allowed {fraction})")


def test_learning_rates_differ_per_member_and_zero_like_lr_freezes():
  exp = _exp(learning_rates="1e-9,1e-2")
  setup = setup_lib.make_setup(exp)
  init = setup_lib.init_state(setup)
  before = jax.tree.map(np.asarray, init.params)
  state = train_lib.train_loop(setup, init)
  moved = [max(float(np.abs(np.asarray(a)[m] - b[m]).max()) for a, b in
               zip(jax.tree.leaves(state.params), jax.tree.leaves(before))) for m in range(2)]
  assert moved[0] < 1e-6 < 1e-3 < moved[1], moved


def test_diverged_member_is_frozen_and_marked():
  exp = _exp(learning_rates="1e-3,1e30")
  setup = setup_lib.make_setup(exp)
  state = train_lib.train_loop(setup, setup_lib.init_state(setup))
  diverged = np.asarray(state.diverged_M)
  assert diverged.tolist() == [False, True]
  assert int(state.diverged_step_M[1]) >= 1 and int(state.diverged_step_M[0]) == -1
  for x in jax.tree.leaves(state.params):
    assert np.isfinite(np.asarray(x)).all()


def _train_logged(exp, one_device: bool = False):
  """(state, {step: metrics}, initial params) of `exp`'s population, optionally on one
  device."""
  log = {}
  orig = parallel.member_sharding
  if one_device:
    parallel.member_sharding = lambda *a, **k: None
  try:
    setup = setup_lib.make_setup(exp)
    init = setup_lib.init_state(setup)
    init_params = jax.tree.map(np.asarray, init.params)
    state = train_lib.train_loop(setup, init, on_metrics=lambda s, m: log.__setitem__(s, m))
  finally:
    parallel.member_sharding = orig
  return state, log, init_params


def _assert_trained_alike(a, b):
  """Losses agree to 1e-4 at every logged step; parameters to AGREE_FRACTION of their
  movement from the common init (XLA compiles the sharded program differently, and Adam
  amplifies last-bit differences of near-zero gradients into lr-sized moves)."""
  (state_a, log_a, init_a), (state_b, log_b, init_b) = a, b
  assert sorted(log_a) == sorted(log_b) and log_a
  for s in log_a:
    np.testing.assert_allclose(log_a[s]["loss_bits"], log_b[s]["loss_bits"], atol=1e-4)
  for x, y in zip(jax.tree.leaves(init_a), jax.tree.leaves(init_b), strict=True):
    np.testing.assert_array_equal(x, y)
  assert_params_agree(state_a.params, state_b.params, init_a)


def _devices(state) -> int:
  return len(jax.tree.leaves(state.params)[0].sharding.device_set)


def test_eight_devices_match_one():
  """The member axis sharded over 8 simulated devices trains like one device."""
  assert jax.local_device_count() == 8
  exp = _exp(seeds="0-7")
  sharded, single = _train_logged(exp), _train_logged(exp, one_device=True)
  assert _devices(sharded[0]) == 8 and _devices(single[0]) == 1
  _assert_trained_alike(sharded, single)


def test_devices_loop_over_their_own_members():
  """16 members on 8 devices, each device looping over its 2 (member_chunk=1, shard_map),
  train like the same 16 vmapped on one device."""
  exp = _exp(seeds="0-15")
  looped = dataclasses.replace(exp, train=dataclasses.replace(exp.train, member_chunk=1))
  assert parallel.local_members(16) == 2
  assert train_lib.resolve_member_chunk(setup_lib.make_setup(looped)) == 1
  sharded, single = _train_logged(looped), _train_logged(exp, one_device=True)
  assert _devices(sharded[0]) == 8
  _assert_trained_alike(sharded, single)


def test_member_chunks_compute_the_same_population():
  """train.member_chunk=2: 4 members on one device in 2 chunks (lax.map) train like all 4
  at once."""
  exp = _exp(seeds="0-3")
  chunked = dataclasses.replace(exp, train=dataclasses.replace(exp.train, member_chunk=2))
  orig = parallel.member_sharding
  parallel.member_sharding = lambda *a, **k: None
  try:
    assert train_lib.resolve_member_chunk(setup_lib.make_setup(chunked)) == 2
  finally:
    parallel.member_sharding = orig
  _assert_trained_alike(_train_logged(exp, one_device=True),
                        _train_logged(chunked, one_device=True))
  cfg = parity_config.get_config("smoke")
  cfg.sweep.update(seeds="0-3")
  cfg.train.member_chunk = 3
  with pytest.raises(ValueError, match="train.member_chunk"):
    config_lib.validate(cfg)


def test_auto_member_chunk_loops_over_large_members_on_cpu():
  """member_chunk=-1 (the default): tiny members side by side, paper-sized members one at a
  time, each device looping over its own members; explicit values kept (within a
  device's members)."""
  small = setup_lib.make_setup(_exp(seeds="0-2"))
  assert small.exp.train.member_chunk == -1 and train_lib.resolve_member_chunk(small) == 0
  cfg = parity_config.get_config("smoke")
  cfg.model.update(depth=5, heads=8, width=64, mlp_width=256)
  cfg.train.update(batch_size=128)
  cfg.sweep.update(seeds="0-2")       # 3 members: not split over the 8 test devices
  big = setup_lib.make_setup(config_lib.validate(cfg))
  assert train_lib.resolve_member_chunk(big) == 1
  cfg.sweep.update(seeds="0-3")       # 4 members on 4 devices: one each, no loop
  assert train_lib.resolve_member_chunk(setup_lib.make_setup(config_lib.validate(cfg))) == 0
  cfg.sweep.update(seeds="0-15")      # 16 members on 8 devices: each loops over its 2
  assert parallel.local_members(16) == 2
  assert train_lib.resolve_member_chunk(setup_lib.make_setup(config_lib.validate(cfg))) == 1
  cfg.train.member_chunk = 8          # explicit: the largest divisor of 2 members not above 8
  assert train_lib.resolve_member_chunk(setup_lib.make_setup(config_lib.validate(cfg))) == 0
  cfg.train.member_chunk = 0
  assert train_lib.resolve_member_chunk(setup_lib.make_setup(config_lib.validate(cfg))) == 0
  cfg.train.member_chunk = -2
  with pytest.raises(ValueError, match="train.member_chunk"):
    config_lib.validate(cfg)
