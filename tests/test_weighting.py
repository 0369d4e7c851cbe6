"""limits.models.weighting: the attention kinds on hand-built scores, straight-through
gradients, scaled and saturated attention, and the hand-written VJPs against autodiff of
the definitions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from limits.models import weighting


def _w(scores, kind, mask=None, **kw):
  s = jnp.asarray([scores], jnp.float32)
  m = jnp.ones_like(s, bool) if mask is None else jnp.asarray([mask])
  return np.asarray(weighting.attention_weights(s, m, kind, **kw))[0]


def test_uhat_ties_go_to_leftmost_and_ahat_averages():
  np.testing.assert_array_equal(_w([1.0, 3.0, 3.0, 2.0], "hard_unique"), [0, 1, 0, 0])
  np.testing.assert_array_equal(_w([3.0, 1.0, 3.0, 3.0], "hard_unique"), [1, 0, 0, 0])
  np.testing.assert_allclose(_w([1.0, 3.0, 3.0, 2.0], "hard_average"), [0, .5, .5, 0])
  np.testing.assert_allclose(_w([3.0, 1.0, 3.0, 3.0], "hard_average"), [1 / 3, 0, 1 / 3, 1 / 3])
  # Masked keys never win, even with the largest score; a row with no key is all zero.
  mask = [True, False, True, True]
  np.testing.assert_array_equal(_w([1.0, 9.0, 3.0, 3.0], "hard_unique", mask), [0, 0, 1, 0])
  np.testing.assert_allclose(_w([1.0, 9.0, 3.0, 3.0], "hard_average", mask), [0, 0, .5, .5])
  for kind in weighting.ATTENTION:
    np.testing.assert_array_equal(_w([1.0, 2.0], kind, [False, False]), [0, 0])


def test_soft_temperature_scaled_and_saturated():
  s = [0.0, 1.0, 1.0, -2.0]
  np.testing.assert_allclose(_w(s, "soft", temperature=2.0), jax.nn.softmax(2.0 * jnp.asarray(s)),
                             rtol=1e-6)
  # scaled: logits times log n, n = number of keys the query may attend to (here 3).
  mask = [True, True, True, False]
  want = np.asarray(jax.nn.softmax(jnp.log(3.0) * jnp.asarray(s[:3])))
  np.testing.assert_allclose(_w(s, "scaled", mask)[:3], want, rtol=1e-6)
  assert _w(s, "scaled", mask)[3] == 0
  # saturated soft attention is AHAT.
  np.testing.assert_array_equal(_w(s, "soft", saturate=True), _w(s, "hard_average"))


@pytest.mark.parametrize("kind", ["hard_unique", "hard_average"])
def test_straight_through_gradients_are_softmax_gradients(kind):
  s = jnp.asarray([[0.3, 1.2, -0.5, 1.2]])
  m = jnp.ones_like(s, bool)
  c = jnp.asarray([[1.0, -2.0, 0.5, 3.0]])
  g_hard = jax.grad(lambda x: jnp.sum(c * weighting.attention_weights(x, m, kind, 2.0)))(s)
  g_soft = jax.grad(lambda x: jnp.sum(c * jax.nn.softmax(2.0 * x)))(s)
  assert np.abs(np.asarray(g_hard)).max() > 1e-3
  np.testing.assert_allclose(g_hard, g_soft, rtol=1e-5, atol=1e-7)


def test_soft_attention_custom_vjp_equals_autodiff_of_the_definition():
  """The fused soft-attention core (and the masked softmax) have hand-written VJPs: values
  and gradients equal plain autodiff of softmax-then-sum, fully masked rows included."""
  B, T, H, K = 3, 7, 4, 5
  ks = jax.random.split(jax.random.key(0), 4)
  q, k, v = (jax.random.normal(kk, (B, T, H, K)) for kk in ks[:3])
  mask = jax.random.bernoulli(ks[3], 0.7, (B, 1, T, T)).at[:, :, 2, :].set(False)
  mask = jnp.broadcast_to(mask, (B, H, T, T))
  scale = 0.7

  def reference(q, k, v):
    s = scale * jnp.einsum("bqhk,bshk->bhqs", q, k)
    w = jnp.where(mask, jax.nn.softmax(jnp.where(mask, s, -1e30), axis=-1), 0.0)
    return jnp.einsum("bhqs,bshk->bqhk", w, v)

  fused = lambda q, k, v: weighting.soft_attention(q, k, v, mask, scale)
  np.testing.assert_allclose(fused(q, k, v), reference(q, k, v), atol=1e-6)
  grads = lambda f: jax.grad(lambda *a: jnp.sum(jnp.sin(f(*a))), argnums=(0, 1, 2))(q, k, v)
  for got, want in zip(grads(fused), grads(reference)):
    np.testing.assert_allclose(got, want, atol=1e-5)
  assert np.all(np.asarray(fused(q, k, v))[:, 2] == 0)   # a row with no key attends to nothing
