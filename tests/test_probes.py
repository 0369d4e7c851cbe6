"""Probes: the chunked forward mirrors the model, Lemma 5's bound holds on random models,
the slope is -1 without layer norm, Theorem 1's restriction search separates a UHAT 1*
construction from an LSTM that computes PARITY, and launch.analyze's errors."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from limits import config as config_lib
from limits import construct, languages, models
from limits import train as train_lib
from limits.models import constructions
from limits.probes import forward, restriction, sensitivity

import recognizers


def _setup(language="parity", **model):
  return recognizers.setup(language, **model)


@pytest.mark.parametrize("model", [
    dict(depth=2, layer_norm="pre", positional="rotary"),
    dict(depth=2, layer_norm="post", attention="scaled", head_masks=("past", "future")),
    dict(depth=2, attention="hard_unique", positional="cc", layer_norm="final", ln_eps=0.0)])
def test_chunked_forward_equals_model(model):
  cfg = models.ModelConfig(**{**dict(heads=2, width=16, mlp_width=32), **model})
  lang = languages.make_language("parity")
  module = train_lib.make_model(cfg, lang, "recognition")
  sym = jax.random.randint(jax.random.key(1), (3, 12), 0, 2)
  tok = jnp.concatenate([sym, jnp.full((3, 1), lang.eos)], 1)
  params = module.init(jax.random.key(0), tok, jnp.full((3,), 12))
  want = module.apply(params, tok, None,
                      method=lambda m, t, r: m.encode(t, jnp.ones((3, 13, 13), bool)))[:, -1]
  got, stats = forward.batched(cfg, params, tok, chunk=5)  # 13 queries in chunks of 5
  np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-5)
  assert stats["max_weight"].shape == (3, 2, 2)


@pytest.mark.parametrize("model", [dict(depth=1, heads=1), dict(depth=2, heads=2),
                                   dict(depth=3, heads=1, width=8, mlp_width=8),
                                   dict(depth=2, heads=2, layer_norm="post")])
def test_lemma5_bound_holds_on_random_models(model):
  setup, params = _setup(**model)
  res = sensitivity.run(setup, params, sensitivity.Config(
      min_length=8, max_length=64, points=2, strings=3, positions=4))
  m = res["members"][0]
  assert m["bound_applies"] and m["bound_holds"] and m["weight_bound_holds"]
  for r in m["per_n"]:
    assert 0 < r["max_change"] <= r["bound_recursive"] <= r["bound"]
    assert r["max_weight"] <= r["weight_bound"]


def test_lemma5_slope_is_minus_one_without_layer_norm():
  setup, params = _setup(depth=1, heads=2)
  res = sensitivity.run(setup, params, sensitivity.Config(
      min_length=16, max_length=4096, points=5, strings=4, positions=8))
  m = res["members"][0]
  assert -1.15 < m["slope"] < -0.85, m["slope"]
  lo, hi = m["slope_ci"]
  assert lo < m["slope"] < hi and hi - lo < 0.5


def test_bound_not_claimed_for_hard_attention_or_eps_zero():
  assert not sensitivity.bound_applies(models.ModelConfig(attention="hard_unique"), "recognition")[0]
  assert not sensitivity.bound_applies(models.ModelConfig(layer_norm="final", ln_eps=0.0),
                                       "recognition")[0]
  assert sensitivity.bound_applies(models.ModelConfig(), "recognition")[0]


def _lstm_on_parity(length: int):
  raw = ml_collections.ConfigDict()
  raw.model = dict(kind="lstm", depth=1, width=16)
  raw.data = dict(language="parity", train_lengths=f"1-{length}", eval_lengths=f"{length}")
  setup = train_lib.make_setup(config_lib.validate(raw))
  return setup, recognizers.fit(setup, train_lib.init_state(setup).params, length, steps=100,
                                lr=1e-2, rounds=30)


def test_restriction_few_for_hard_one_many_for_lstm_parity():
  cfg = restriction.Config(min_length=16, max_length=16, points=1, completions=16,
                           greedy_rounds=4, random_restrictions=2)
  c = constructions.build("hard_one")
  exp = construct.experiment(c)
  one = restriction.run(train_lib.make_setup(exp), construct.state(c, exp).params, cfg)
  r = one["members"][0]["per_n"][0]
  assert r["free"] >= 8 and r["influential"] <= 2 and r["verdict"] == "no_obstruction"
  setup, params = _lstm_on_parity(16)
  lstm = restriction.run(setup, params, cfg)["members"][0]["per_n"][0]
  assert lstm["influential"] >= 6 and lstm["language_influential"] == lstm["free"], lstm
  # A PARITY recogniser that is right on the subcube is no UHAT: Theorem 1 says nothing.
  assert lstm["verdict"] == ("inconclusive" if lstm["subcube_error"] == 0 else "obstruction")


@pytest.mark.parametrize("args,needle", [
    (["--probe=nope"], "unknown probe"),
    (["--probe=restriction", "--probe.bogus=1"], "probe.bogus"),
    (["--probe=sensitivity", "--probe.points=x"], "probe.points"),
    (["--probe=restriction", "--probe.fraction=1.5"], "probe.fraction")])
def test_analyze_bad_input_is_one_line_exit_2(repo, tmp_path, args, needle):
  p = subprocess.run([sys.executable, "-m", "launch.analyze", f"--workdir={tmp_path}", *args],
                     cwd=repo, capture_output=True, text=True)
  assert p.returncode == 2, p.stderr
  lines = p.stderr.strip().splitlines()
  assert len(lines) == 1 and needle in lines[0], p.stderr
