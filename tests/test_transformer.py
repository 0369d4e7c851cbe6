"""The paper's transformer: jit = no-jit, padded = unpadded, causal = prefix alone."""


import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from limits import languages, models
from limits.setup import make_model

LANG = languages.make_language("parity")


def _model(task="recognition", **kw):
  cfg = models.ModelConfig(depth=2, heads=2, width=16, mlp_width=32, **kw)
  return make_model(cfg, LANG, task)


def _init(model, tokens, readout):
  return model.init(jax.random.key(0), tokens, readout)


def _recognition_tokens(bits, pad_to):
  n = len(bits)
  return jnp.asarray([bits + [LANG.eos] + [LANG.pad] * (pad_to - n)], jnp.int32)


@pytest.mark.parametrize("layer_norm", ["none", "pre", "post"])
def test_padded_equals_unpadded_recognition(layer_norm):
  model = _model(layer_norm=layer_norm)
  bits = [1, 0, 1, 1, 0]
  tight = _recognition_tokens(bits, 0)
  params = _init(model, tight, jnp.asarray([5]))
  out = model.apply(params, tight, jnp.asarray([5]))
  for pad_to in (6, 11):
    padded = model.apply(params, _recognition_tokens(bits, pad_to), jnp.asarray([5]))
    np.testing.assert_allclose(padded, out, rtol=1e-5, atol=1e-6)
  # A batch mixing lengths gives each string its own unpadded output.
  other = [0, 1]
  batch = jnp.concatenate([_recognition_tokens(bits, 0), _recognition_tokens(other, 5)])
  mixed = model.apply(params, batch, jnp.asarray([5, 2]))
  alone = model.apply(params, _recognition_tokens(other, 0), jnp.asarray([2]))
  np.testing.assert_allclose(mixed[0], out[0], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(mixed[1], alone[0], rtol=1e-5, atol=1e-6)


def test_output_depends_on_every_symbol_no_causal_mask():
  """Recognition is bidirectional: flipping the first bit changes y_n^(L)."""
  model = _model()
  a = _recognition_tokens([0, 1, 1, 0], 0)
  b = _recognition_tokens([1, 1, 1, 0], 0)
  params = _init(model, a, jnp.asarray([4]))
  fa, fb = model.apply(params, a, jnp.asarray([4])), model.apply(params, b, jnp.asarray([4]))
  assert np.abs(np.asarray(fa - fb)).max() > 1e-4


def test_jit_equals_no_jit():
  model = _model()
  batch = LANG.recognition(jax.random.key(1), jnp.asarray([3, 7, 9], jnp.int32), 9)
  params = _init(model, batch.tokens_BxT, batch.readout_B)

  f = lambda p, t, r: model.apply(p, t, r)
  eager = f(params, batch.tokens_BxT, batch.readout_B)
  jitted = jax.jit(f)(params, batch.tokens_BxT, batch.readout_B)
  chex.assert_shape(eager, (3, 2))
  np.testing.assert_allclose(eager, jitted, rtol=1e-5, atol=1e-6)


def _prediction_tokens(bits, pad_to=0):
  return jnp.asarray([[LANG.bos] + bits + [LANG.pad] * pad_to], jnp.int32)


@pytest.mark.parametrize("causal", [True, False])
def test_prediction_at_i_equals_model_on_prefix_alone(causal):
  model = _model("prediction", causal=causal)
  bits = [1, 1, 0, 1, 0, 0]
  full = _prediction_tokens(bits, pad_to=2)
  params = _init(model, full, jnp.asarray([6]))
  logits = model.apply(params, full, jnp.asarray([6]))
  chex.assert_shape(logits, (1, 9, 3))
  for i in range(len(bits) + 1):
    prefix = _prediction_tokens(bits[:i])
    alone = model.apply(params, prefix, jnp.asarray([i]))
    np.testing.assert_allclose(logits[0, i], alone[0, -1], rtol=1e-5, atol=1e-6)


def test_literal_prefix_form_sees_whole_prefix():
  """causal=False re-reads each prefix unmasked: equal to the causal pass at depth 1,
  different at depth 2 (a causal layer-1 position never sees later prefix symbols)."""
  bits = [1, 0, 1, 1]
  tokens = _prediction_tokens(bits)
  for depth, same in ((1, True), (2, False)):
    cfg = dict(depth=depth, heads=2, width=16, mlp_width=32)
    causal = make_model(models.ModelConfig(causal=True, **cfg), LANG, "prediction")
    literal = make_model(models.ModelConfig(causal=False, **cfg), LANG, "prediction")
    params = _init(causal, tokens, jnp.asarray([4]))
    a = causal.apply(params, tokens, jnp.asarray([4]))
    b = literal.apply(params, tokens, jnp.asarray([4]))
    assert np.allclose(a, b, rtol=1e-5, atol=1e-6) == same, depth


def test_layer_norm_switch_adds_parameters():
  tokens = _recognition_tokens([1, 0], 0)
  for ln, expect in (("none", False), ("pre", True), ("post", True)):
    params = _init(_model(layer_norm=ln), tokens, jnp.asarray([2]))
    has_ln = any("ln_" in jax.tree_util.keystr(k) for k, _ in
                 jax.tree_util.tree_leaves_with_path(params))
    assert has_ln == expect, ln
