"""limits/setup.py: initialisation is cheap to compile and draws what a sampled batch draws."""

import jax
import jax.numpy as jnp
import numpy as np

from configs import parity as parity_config
from limits import config as config_lib
from limits import setup as setup_lib


def _setup(**model):
  cfg = parity_config.get_config("smoke")
  cfg.model.update(**model)
  cfg.sweep.update(seeds="0,1")   # one architecture: init_state is the max model's init
  return setup_lib.make_setup(config_lib.validate(cfg))


def test_init_reads_only_shapes_and_run_once_keeps_every_bit():
  """init_state (zeros batch of the sample's shapes, `run_once` compile options) gives the
  parameters `jax.jit(model.init)` gives on a sampled batch, bit for bit."""
  setup = _setup(positional="learned", layer_norm="pre")
  state = setup_lib.init_state(setup, key=jax.random.key(3))
  n = setup.exp.max_train_length
  batch = setup.language.sample(setup.task, jax.random.key(0), jnp.full((1,), n, jnp.int32), n)
  shaped = setup_lib._shape_batch(setup)
  assert jax.tree.map(lambda a: (a.shape, a.dtype), shaped) == \
      jax.tree.map(lambda a: (a.shape, a.dtype), batch)
  plain = jax.jit(jax.vmap(lambda k: setup.model.init(k, batch.tokens_BxT, batch.readout_B)))(
      jnp.stack([jax.random.key(3)] * setup.num_members))
  assert not setup.masked
  leaves = jax.tree.leaves(state.params)
  assert len(leaves) == len(jax.tree.leaves(plain))
  for a, b in zip(leaves, jax.tree.leaves(plain)):
    np.testing.assert_array_equal(a, b)
  # run_once is jit: another key gives other parameters (the comparison can fail).
  other = setup_lib.init_state(setup, key=jax.random.key(4))
  assert any(not np.array_equal(a, b) for a, b in
             zip(jax.tree.leaves(other.params), leaves))
