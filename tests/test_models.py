"""The model: hard attention's gradients through a whole model, head masks, layer norm,
validation, and every positional encoding padded = unpadded and jit = no-jit. The
attention weightings themselves: tests/test_weighting.py."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from limits import config as config_lib
from limits import languages, models
from limits.models import attention, positional
from limits.setup import make_model

LANG = languages.make_language("parity")


def _model(task="recognition", **kw):
  base = dict(depth=2, heads=2, width=16, mlp_width=32, max_positions=64)
  return make_model(models.ModelConfig(**{**base, **kw}), LANG, task)


def test_hard_attention_model_has_nonzero_gradients():
  model = _model(attention="hard_unique")
  batch = LANG.recognition(jax.random.key(0), jnp.asarray([5, 9], jnp.int32), 9)
  params = model.init(jax.random.key(1), batch.tokens_BxT, batch.readout_B)
  loss = lambda p: jnp.sum(model.apply(p, batch.tokens_BxT, batch.readout_B)[:, 1])
  g = jax.grad(loss)(params)["params"]["layer_0"]["attention"]
  assert np.abs(np.asarray(g["query"]["kernel"])).max() > 0
  assert np.abs(np.asarray(g["key"]["kernel"])).max() > 0


def _rec_tokens(bits, pad_to):
  return jnp.asarray([bits + [LANG.eos] + [LANG.pad] * (pad_to - len(bits))], jnp.int32)


@pytest.mark.parametrize("pos", positional.POSITIONAL)
@pytest.mark.parametrize("att", ["soft", "hard_unique"])
def test_every_positional_encoding_padded_equals_unpadded_and_jit(pos, att):
  model = _model(positional=pos, attention=att)
  bits = [1, 0, 1, 1, 0, 1, 0]
  tight = _rec_tokens(bits, len(bits))
  r = jnp.asarray([len(bits)])
  params = model.init(jax.random.key(0), tight, r)
  out = model.apply(params, tight, r)
  for pad_to in (9, 20):
    np.testing.assert_allclose(model.apply(params, _rec_tokens(bits, pad_to), r), out,
                               rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(jax.jit(model.apply)(params, _rec_tokens(bits, 12), r), out,
                             rtol=1e-5, atol=1e-6)
  # The output depends on the string (no encoding silently drops the input). ALiBi's
  # distance penalty outweighs the small logits of an initialised model, so UHAT would
  # attend only to its own position: scale the weights up until content can win.
  if pos == "alibi" and att == "hard_unique":
    params = jax.tree.map(lambda x: 4.0 * x, params)
    out = model.apply(params, tight, r)
  others = [model.apply(params, _rec_tokens(b, len(bits)), r)
            for b in ([0] + bits[1:], [0] * len(bits), [1] * len(bits))]
  assert max(np.abs(np.asarray(o - out)).max() for o in others) > 1e-6


@pytest.mark.parametrize("pos", ["sinusoidal", "learned", "randomized", "rotary"])
def test_prediction_padded_equals_unpadded(pos):
  model = _model("prediction", positional=pos)
  tokens = jnp.asarray([[LANG.bos, 1, 0, 1]], jnp.int32)
  padded = jnp.asarray([[LANG.bos, 1, 0, 1, LANG.pad, LANG.pad]], jnp.int32)
  params = model.init(jax.random.key(0), tokens, jnp.asarray([3]))
  np.testing.assert_allclose(model.apply(params, padded, jnp.asarray([3]))[:, :4],
                             model.apply(params, tokens, jnp.asarray([3])), rtol=1e-5, atol=1e-6)


def test_learned_positions_refuse_beyond_table():
  with pytest.raises(ValueError, match="model.max_positions"):
    positional.check_length("learned", 8, 9)
  model = _model(positional="learned", max_positions=8)
  tokens = _rec_tokens([1] * 9, 9)
  params = model.init(jax.random.key(0), _rec_tokens([1] * 3, 3), jnp.asarray([3]))
  assert np.isnan(np.asarray(model.apply(params, tokens, jnp.asarray([9])))).all()
  cfg = config_lib.to_configdict(config_lib.Experiment(
      models.ModelConfig(positional="learned", max_positions=30), config_lib.DataConfig(),
      config_lib.TrainConfig(), config_lib.EvalConfig()))
  with pytest.raises(ValueError, match="model.max_positions"):
    config_lib.validate(cfg)


def test_validation_names_field_and_allowed_values():
  base = config_lib.to_configdict(config_lib.Experiment(
      models.ModelConfig(), config_lib.DataConfig(), config_lib.TrainConfig(),
      config_lib.EvalConfig()))
  for field, value, allowed in (("attention", "hardest", "hard_unique"),
                                ("positional", "xpos", "relative"),
                                ("layer_norm", "mid", "final"), ("kind", "gru", "lstm"),
                                ("head_masks", ("past", "left"), "future")):
    cfg = base.copy_and_resolve_references()
    cfg.model[field] = value
    with pytest.raises(ValueError, match=f"model.{field}.*{allowed}"):
      config_lib.validate(cfg)
  cfg = base.copy_and_resolve_references()
  cfg.model.ln_eps = -1.0
  with pytest.raises(ValueError, match="model.ln_eps"):
    config_lib.validate(cfg)


def test_head_masks_past_and_future():
  m = np.asarray(attention.head_masks(("past", "future"), 3, 3))
  np.testing.assert_array_equal(m[0], np.tril(np.ones((3, 3)), -1))
  np.testing.assert_array_equal(m[1], np.triu(np.ones((3, 3)), 1))
  assert m[2].all()


def test_layer_norm_eps_zero_and_final():
  """At eps = 0 every layer norm's output has mean 0 and variance exactly 1 (init scale 1,
  bias 0) even when its input's variance (~1e-9 here: embeddings scaled by 1e-4, no
  positions) is far below the usual eps: the escape from Lemma 5 (Chiang & Cholak). With
  eps = 1e-5 the same inputs give variance var / (var + eps) << 1, which the test
  measures too, so it fails if ln_eps is ignored."""
  tokens = _rec_tokens([1, 0, 1, 1, 0], 5)
  readout = jnp.asarray([5])
  for ln in ("pre", "post", "final"):
    variances = {}
    for eps in (0.0, 1e-5):
      model = _model(layer_norm=ln, ln_eps=eps, positional="none")
      params = model.init(jax.random.key(0), tokens, readout)
      params = jax.tree_util.tree_map_with_path(
          lambda path, x: x * 1e-4 if "embed" in jax.tree_util.keystr(path).lower() else x, params)
      logits, inter = model.apply(params, tokens, readout, capture_intermediates=True,
                                  mutable=["intermediates"])
      assert np.isfinite(np.asarray(logits)).all()
      outs = [np.asarray(v[0], np.float64) for k, v in
              jax.tree_util.tree_flatten_with_path(inter["intermediates"],
                                                   is_leaf=lambda x: isinstance(x, tuple))[0]
              if "ln" in jax.tree_util.keystr(k).lower() or "layernorm" in jax.tree_util.keystr(k).lower()]
      assert outs, f"no layer norm output captured for layer_norm={ln}"
      for y in outs:
        np.testing.assert_allclose(y.mean(-1), 0.0, atol=1e-4)
      variances[eps] = min(float(y.var(-1).min()) for y in outs)
    assert len(outs) == {"pre": 5, "post": 4, "final": 1}[ln], (ln, len(outs))
    assert abs(variances[0.0] - 1.0) < 1e-3, (ln, variances)
    assert variances[1e-5] < 0.5, (ln, variances)
