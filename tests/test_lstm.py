"""The LSTM baseline: padded = unpadded, and it learns PARITY at length 20 to 100%."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from limits import languages, models
from limits.metrics import losses
from limits.setup import make_model

LANG = languages.make_language("parity")


def test_lstm_padded_equals_unpadded_both_tasks():
  for task in ("recognition", "prediction"):
    model = make_model(models.ModelConfig(kind="lstm", depth=2, width=8), LANG, task)
    batch = LANG.sample(task, jax.random.key(0), jnp.asarray([3, 6], jnp.int32), 6)
    wide = LANG.sample(task, jax.random.key(0), jnp.asarray([3, 6], jnp.int32), 6)
    wide_tokens = jnp.pad(wide.tokens_BxT, ((0, 0), (0, 5)), constant_values=LANG.pad)
    params = model.init(jax.random.key(1), batch.tokens_BxT, batch.readout_B)
    a = model.apply(params, batch.tokens_BxT, batch.readout_B)
    b = model.apply(params, wide_tokens, batch.readout_B)
    if task == "prediction":
      b = b[:, :a.shape[1]]
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_lstm_learns_parity_at_length_20():
  model = make_model(models.ModelConfig(kind="lstm", depth=1, width=16), LANG, "recognition")
  lengths = jnp.arange(1, 21, dtype=jnp.int32)
  opt = optax.adam(1e-2)

  def loss_fn(params, key):
    k_len, k_data = jax.random.split(key)
    batch = LANG.recognition(k_data, jax.random.choice(k_len, lengths, (64,)), 20)
    xent, _ = losses(model, params, batch)
    return jnp.mean(xent)

  @jax.jit
  def steps(params, opt_state, key):
    def body(carry, k):
      p, s = carry
      g = jax.grad(loss_fn)(p, k)
      u, s = opt.update(g, s, p)
      return (optax.apply_updates(p, u), s), None
    (params, opt_state), _ = jax.lax.scan(body, (params, opt_state), jax.random.split(key, 100))
    return params, opt_state

  b0 = LANG.recognition(jax.random.key(0), jnp.full((1,), 20, jnp.int32), 20)
  params = model.init(jax.random.key(0), b0.tokens_BxT, b0.readout_B)
  opt_state = opt.init(params)
  test = LANG.recognition(jax.random.key(99), jnp.full((1000,), 20, jnp.int32), 20)
  acc = lambda p: float(jnp.mean(losses(model, p, test)[1]))
  assert acc(params) < 0.7
  history = []
  for i in range(20):
    params, opt_state = steps(params, opt_state, jax.random.key(i + 1))
    history.append(acc(params))
    if history[-1] == 1.0:
      break
  print("LSTM PARITY@20 accuracy per 100 steps:", history)
  assert history[-1] == 1.0, history
