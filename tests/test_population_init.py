"""Heads not confounded with head width (issue 14.6): a population member with h heads
is the standalone h-head model with the population's head width K = model.key_dim, at
init (bit for bit) and after training (to Adam's step size)."""

import jax
import numpy as np

from limits import config as config_lib
from limits import population
from limits import setup as setup_lib
from limits import train as train_lib
from configs import parity as parity_config


def _exp(key_dim, steps, **sweep):
  cfg = parity_config.get_config("smoke")
  cfg.model.update(width=16, mlp_width=32, key_dim=key_dim)
  cfg.train.update(steps=steps, seed=3, log_every=steps)
  cfg.data.update(train_lengths="1-6", eval_lengths="1-8")
  cfg.sweep.update(**sweep)
  return config_lib.validate(cfg)


def test_member_is_the_standalone_model_at_init_and_after_training():
  steps, key_dim = 12, 3     # K need not divide the width: it is fixed, not width // heads
  pop = _exp(key_dim, steps, depths="1,2", heads="1,4")
  setup = setup_lib.make_setup(pop)
  assert setup.masked and setup.model.cfg.head_dim == key_dim
  init = setup_lib.init_state(setup)
  trained = train_lib.train_loop(setup, init)
  for i, mem in enumerate(setup.members):
    one = _exp(key_dim, steps, depths=str(mem.depth), heads=str(mem.heads))
    setup1 = setup_lib.make_setup(one)
    assert not setup1.masked and setup1.model.cfg.head_dim == key_dim
    init1 = setup_lib.init_state(setup1)
    a = population.standalone_params(jax.tree.map(lambda x: x[i], init.params), mem.depth, mem.heads)
    b = jax.tree.map(lambda x: x[0], init1.params)
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
      np.testing.assert_array_equal(x, y)
    # Trained from their own inits with the same keys: Adam's per-coordinate step bounds
    # how far last-bit differences (reduction order over the masked heads) can move them.
    t1 = train_lib.train_loop(setup1, init1)
    a = population.standalone_params(jax.tree.map(lambda x: x[i], trained.params), mem.depth,
                                     mem.heads)
    b = jax.tree.map(lambda x: x[0], t1.params)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
      np.testing.assert_allclose(x, y, atol=2 * steps * pop.train.learning_rate)
    close = np.mean([np.mean(np.abs(x - y) < 1e-4) for x, y in zip(jax.tree.leaves(a),
                                                                    jax.tree.leaves(b))])
    assert close > 0.9, (mem, close)


def test_head_width_is_explicit_and_shared():
  pop = _exp(0, 1, depths="1", heads="1,2,4")
  assert population.head_width(pop.model, pop.members) == 4      # 16 // max heads
  one = _exp(0, 1, depths="1", heads="1")
  assert population.head_width(one.model, one.members) == 16     # a lone 1-head model
  pinned = _exp(4, 1, depths="1", heads="1")
  assert population.head_width(pinned.model, pinned.members) == 4
  assert setup_lib.make_setup(pinned).model.cfg.head_dim == 4
  from limits import results
  assert results.model_fields(pop)["key_dim"] == 4 and results.model_fields(one)["key_dim"] == 16
