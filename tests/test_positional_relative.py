"""ALiBi and Transformer-XL relative positions (issue 14.7): definitions against direct
formulas, padded = unpadded, the biased soft-attention VJP against autodiff, and a
masked population member = the standalone model."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from limits import languages, models, population
from limits import setup as setup_lib
from limits.models import attention

LANG = languages.make_language("parity")


def _model(pe, heads=2, **kw):
  cfg = models.ModelConfig(depth=2, heads=heads, width=16, mlp_width=16, positional=pe, **kw)
  return setup_lib.make_model(cfg, LANG, "recognition")


def _batch(n_pad):
  lengths = jnp.asarray([5, 3, 8, 1], jnp.int32)
  b = LANG.recognition(jax.random.key(0), lengths, 8)
  pad = jnp.full((4, n_pad - b.tokens_BxT.shape[1]), LANG.pad, jnp.int32)
  return jnp.concatenate([b.tokens_BxT, pad], 1), b.readout_B


def test_alibi_bias_is_minus_slope_times_distance_left_half_off():
  pos = jnp.arange(5)[None]
  bias = np.asarray(attention.alibi_bias(pos, 3))
  for h in range(3):
    for i in range(5):
      for j in range(5):
        want = -(2.0 ** -(h + 1)) * (abs(i - j) - (0.5 if j < i else 0.0))
        assert bias[0, h, i, j] == pytest.approx(want)


@pytest.mark.parametrize("pe", ["alibi", "relative"])
def test_padded_equals_unpadded_and_jit(pe):
  model = _model(pe)
  tok, r = _batch(9)
  params = model.init(jax.random.key(1), tok, r)
  a = model.apply(params, tok, r)
  b = jax.jit(model.apply)(params, *_batch(40))
  np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pe", ["alibi", "relative"])
def test_positions_matter_and_only_relatively(pe):
  """Without absolute positions the model sees only distances: a string's output equals
  the output with every position shifted by a constant, and differs under a permutation."""
  model = _model(pe)
  tok, r = _batch(9)
  params = model.init(jax.random.key(2), tok, r)
  params = jax.tree.map(lambda x: x + 0.3 * jax.random.normal(jax.random.key(3), x.shape), params)
  att = model.bind(params).blocks[0]
  y = jax.random.normal(jax.random.key(4), (1, 6, 16))
  mask = jnp.ones((1, 6, 6), bool)
  pos = jnp.arange(6)[None]
  out = att(y, mask, pos)
  np.testing.assert_allclose(out, att(y, mask, pos + 7), rtol=1e-4, atol=1e-5)
  perm = jnp.asarray([[0, 2, 1, 3, 4, 5]])
  assert np.abs(np.asarray(out - att(y, mask, perm))).max() > 1e-3


def test_biased_soft_attention_vjp_matches_autodiff():
  k1, k2, k3, k4 = jax.random.split(jax.random.key(5), 4)
  q, k, v = (jax.random.normal(x, (2, 5, 2, 4)) for x in (k1, k2, k3))
  bias = jax.random.normal(k4, (2, 2, 5, 5))
  mask = jnp.broadcast_to(jnp.tril(jnp.ones((5, 5), bool))[None, None], (2, 2, 5, 5))

  def ref(q, k, v, bias):
    s = 0.5 * jnp.einsum("bqhk,bshk->bhqs", q, k) + bias
    w = jax.nn.softmax(jnp.where(mask, s, -1e30), -1)
    return jnp.einsum("bhqs,bshk->bqhk", w, v)

  f = lambda *a: jnp.sum(jnp.sin(attention.soft_attention(*a[:3], mask, 0.5, a[3])))
  g = lambda *a: jnp.sum(jnp.sin(ref(*a)))
  np.testing.assert_allclose(f(q, k, v, bias), g(q, k, v, bias), rtol=1e-5)
  for x, y in zip(jax.grad(f, argnums=(0, 1, 2, 3))(q, k, v, bias),
                  jax.grad(g, argnums=(0, 1, 2, 3))(q, k, v, bias)):
    np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("pe", ["alibi", "relative"])
def test_masked_member_equals_standalone(pe):
  big = _model(pe, heads=4, key_dim=4)
  small = _model(pe, heads=2, key_dim=4)
  tok, r = _batch(9)
  params = big.init(jax.random.key(6), tok, r)
  params = jax.tree.map(lambda x: x + 0.2 * jax.random.normal(jax.random.key(7), x.shape), params)
  a = population.apply(big, params, tok, r, population.arch(2, 2))
  b = small.apply(population.standalone_params(params, 2, 2), tok, r)
  np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
