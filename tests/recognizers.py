"""Small models for the probe tests: a fresh tiny setup, and a plain Adam loop that trains
a recognition member (the probes need a model that learned something, without the whole
experiment machinery)."""

import jax
import jax.numpy as jnp
import ml_collections
import optax

from limits import config as config_lib
from limits import metrics as metrics_lib
from limits import setup as setup_lib


def setup(language="parity", task="recognition", **model):
  """(Setup, params_M) of a tiny model (depth 1, 2 heads, width 16 unless overridden)."""
  raw = ml_collections.ConfigDict()
  raw.model = {**dict(depth=1, heads=2, width=16, mlp_width=32), **model}
  raw.data = dict(language=language, task=task, train_lengths="1-8", eval_lengths="1-8")
  s = setup_lib.make_setup(config_lib.validate(raw))
  return s, setup_lib.init_state(s).params


def fit(setup, params_M, length, steps, lr, rounds=1, batch=64):
  """Member 0 trained on lengths 1..length: `rounds` scans of `steps` Adam steps (round i
  from key i + 1), stopping early once a held-out batch at `length` is all right.
  Returns params with the member axis (1, ...)."""
  lang = setup.language
  params = jax.tree.map(lambda x: x[0], params_M)
  opt = optax.adam(lr)
  lengths = jnp.arange(1, length + 1, dtype=jnp.int32)

  def loss_fn(p, key):
    k_len, k_data = jax.random.split(key)
    b = lang.recognition(k_data, jax.random.choice(k_len, lengths, (batch,)), length)
    return jnp.mean(metrics_lib.losses(setup.model, p, b)[0])

  @jax.jit
  def run(p, s, key):
    def body(carry, k):
      p, s = carry
      u, s = opt.update(jax.grad(loss_fn)(p, k), s, p)
      return (optax.apply_updates(p, u), s), None
    return jax.lax.scan(body, (p, s), jax.random.split(key, steps))[0]

  test = lang.recognition(jax.random.key(99), jnp.full((500,), length, jnp.int32), length)
  state = opt.init(params)
  for i in range(rounds):
    params, state = run(params, state, jax.random.key(i + 1))
    if rounds > 1 and float(jnp.mean(metrics_lib.losses(setup.model, params, test)[1])) == 1.0:
      break
  return jax.tree.map(lambda x: x[None], params)
