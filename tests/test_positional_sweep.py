"""sweep.positionals: members of one population differ in positional encoding.

The max model builds every listed encoding and gates each member to its own
(`ModelConfig.positional_mix`, `Transformer.positional_choice`, population._interceptor).
A member must compute what the standalone model of its encoding computes, forward and
backward, start where that model starts and train like it.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import parity as parity_config
from limits import config as config_lib
from limits import languages, models, population
from limits import setup as setup_lib
from limits import train as train_lib
from limits.models import positional
from tests.test_population import assert_params_agree

LANG = languages.make_language("parity")
MIX = positional.MIXABLE


def _models(pe: str):
  big_cfg = models.ModelConfig(depth=2, heads=4, width=16, mlp_width=32, key_dim=4,
                               positional=MIX[0], positional_mix=MIX, max_positions=32)
  small_cfg = dataclasses.replace(big_cfg, heads=2, positional=pe, positional_mix=())
  make = lambda c: setup_lib.make_model(c, LANG, "recognition")
  return make(big_cfg), make(small_cfg)


@pytest.mark.parametrize("pe", MIX)
def test_gated_member_equals_standalone_model_of_its_encoding(pe):
  big, small = _models(pe)
  batch = LANG.recognition(jax.random.key(0), jnp.asarray([3, 9, 5, 1], jnp.int32), 9)
  params = big.init(jax.random.key(1), batch.tokens_BxT, batch.readout_B)
  # Random (non-zero) relative u, v and position tables: every encoding's term matters.
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(2), len(leaves))
  params = jax.tree.unflatten(tree, [x + 0.3 * jax.random.normal(k, x.shape)
                                     for x, k in zip(leaves, keys)])
  arch = population.arch(2, 2, MIX.index(pe))
  sliced = population.standalone_params(params, 2, 2, pe)
  masked = population.apply(big, params, batch.tokens_BxT, batch.readout_B, arch)
  alone = small.apply(sliced, batch.tokens_BxT, batch.readout_B)
  np.testing.assert_allclose(masked, alone, rtol=1e-5, atol=1e-5)
  # Another member's encoding gives another function (the gate is not a no-op).
  other = population.apply(big, params, batch.tokens_BxT, batch.readout_B,
                           population.arch(2, 2, (MIX.index(pe) + 1) % len(MIX)))
  assert float(jnp.max(jnp.abs(other - masked))) > 1e-3

  loss = lambda p, f: jnp.sum(f(p) ** 2)
  g_big = jax.grad(loss)(params, lambda p: population.apply(
      big, p, batch.tokens_BxT, batch.readout_B, arch))
  g_small = jax.grad(loss)(sliced, lambda p: small.apply(p, batch.tokens_BxT, batch.readout_B))
  for a, b in zip(jax.tree.leaves(population.standalone_params(g_big, 2, 2, pe)),
                  jax.tree.leaves(g_small), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
  # The other encodings' parameters get exactly zero gradient.
  att = g_big["params"]["layer_0"]["attention"]
  if pe != "relative":
    assert all(float(jnp.abs(x).max()) == 0 for name in ("relative", "relative_u", "relative_v")
               for x in jax.tree.leaves(att[name]))
  if pe != "learned":
    assert float(jnp.abs(g_big["params"]["pos_embed"]["embedding"]).max()) == 0


def _exp(**sweep):
  cfg = parity_config.get_config("smoke")
  cfg.train.update(steps=20)
  cfg.sweep.update(**sweep)
  return config_lib.validate(cfg)


def test_population_of_encodings_trains_each_member_like_its_single_run():
  """Member (alibi, seed 0) of a none/alibi/rotary population against model.positional=alibi."""
  pop = _exp(depths="1", heads="2", positionals="none,alibi,rotary")
  setup = setup_lib.make_setup(pop)
  assert setup.masked and setup.model.cfg.positional_mix == ("none", "alibi", "rotary")
  assert [m.positional for m in setup.members] == ["none", "alibi", "rotary"]
  i = 1
  cfg = parity_config.get_config("smoke")
  cfg.model.update(positional="alibi", depth=1, heads=2)
  cfg.train.update(steps=20)
  setup1 = setup_lib.make_setup(config_lib.validate(cfg))
  assert not setup1.masked and setup1.model.cfg.positional == "alibi"

  init = setup_lib.init_state(setup)
  init_i = population.standalone_params(jax.tree.map(lambda x: x[i], init.params), 1, 2, "alibi")
  # Members start as their standalone model: the same draw as the single run's init.
  fresh1 = setup_lib.init_state(setup1)
  for a, b in zip(jax.tree.leaves(init_i), jax.tree.leaves(jax.tree.map(lambda x: x[0],
                                                                         fresh1.params))):
    np.testing.assert_array_equal(a, b)
  log, log1 = {}, {}
  state = train_lib.train_loop(setup, init, on_metrics=lambda s, m: log.__setitem__(s, m))
  state1 = train_lib.train_loop(setup1, fresh1, setup_lib.member_keys(setup)[1][i:i + 1],
                                on_metrics=lambda s, m: log1.__setitem__(s, m))
  for s in log:
    assert abs(log[s]["loss_bits"][i] - log1[s]["loss_bits"][0]) < 1e-3
  assert abs(log[20]["loss_bits"][0] - log[20]["loss_bits"][1]) > 1e-3  # members differ
  a = population.standalone_params(jax.tree.map(lambda x: x[i], state.params), 1, 2, "alibi")
  assert_params_agree(a, jax.tree.map(lambda x: x[0], state1.params), init_i)


@pytest.mark.parametrize("value, message", [
    ("none,cc", "cannot share a population"),
    ("randomized", "cannot share a population"),
    ("sinus", "cannot share a population"),
    (",", "no encoding"),
])
def test_bad_positionals_are_refused(value, message):
  with pytest.raises(ValueError, match=message):
    _exp(positionals=value)


def test_positionals_axis_stays_out_of_plain_configs():
  plain = _exp()
  d = plain.to_dict()
  assert "positionals" not in d["sweep"] and "positional_mix" not in d["model"]
  assert "positional_mix" not in config_lib.defaults().model
  swept = _exp(positionals="none,sinusoidal").to_dict()
  assert swept["sweep"]["positionals"] == ["none", "sinusoidal"] or \
      tuple(swept["sweep"]["positionals"]) == ("none", "sinusoidal")
  with pytest.raises(ValueError, match="sweep.positionals"):
    cfg = parity_config.get_config("smoke")
    cfg.model.update(kind="lstm")
    cfg.sweep.update(positionals="none,alibi")
    config_lib.validate(cfg)
