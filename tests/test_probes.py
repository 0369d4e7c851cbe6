"""Probes: their forward pass is the model's own, Lemma 5's bound holds on random models,
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
from limits import setup as setup_lib
from limits.models import constructions
from limits.probes import members as members_lib
from limits.probes import restriction, sensitivity

import recognizers


def _setup(language="parity", **model):
  return recognizers.setup(language, **model)


def _probe_vs_model(task="recognition", n=12, chunk=5, **model):
  """(probe readout logits, model logits, probe stats, the model's own attention maps),
  for three strings of n symbols, the probe's attention in query chunks of `chunk`."""
  cfg = models.ModelConfig(**{**dict(depth=2, heads=2, width=16, mlp_width=32), **model})
  lang = languages.make_language("parity")
  module = setup_lib.make_model(cfg, lang, task)
  sym = jax.random.randint(jax.random.key(1), (3, n), 0, 2)
  tok, readout, _ = members_lib.task_tokens(lang, task, sym)
  params = module.init(jax.random.key(0), tok, readout)
  # Non-zero relative-position u, v (zero at init) so their terms are exercised.
  params = jax.tree_util.tree_map_with_path(
      lambda path, x: x + 0.3 if "relative_" in jax.tree_util.keystr(path) else x, params)
  mem = members_lib.Member(0, None, module, params)

  @jax.jit
  def run(params):
    y_BxD, stats = members_lib.readout_features(mem, params, tok, chunk=chunk, batch=2)
    got = module.apply(params, y_BxD, method=lambda m, y: m.readout(y))

    def model(tok_T, readout):  # one string per call, as the probe reads them
      out, inter = module.apply(params, tok_T[None], readout[None], mutable=["intermediates"])
      maps = [inter["intermediates"][f"layer_{l}"]["attention"]["attention"][0][0]
              for l in range(cfg.depth)]
      return (out[0] if task == "recognition" else out[0, readout]), maps

    want, maps = jax.vmap(model)(tok, readout)
    return got, want, stats, maps

  return run(params)


# Every positional encoding, each attention kind twice (the product compiles 32 models).
KINDS = models.attention.ATTENTION
PAIRS = [(pe, KINDS[i % len(KINDS)]) for i, pe in enumerate(models.positional.POSITIONAL)]
assert {a for _, a in PAIRS} == set(KINDS)


@pytest.mark.parametrize("positional,attention", PAIRS)
def test_probe_forward_is_the_model(attention, positional):
  """The probes' y_n^(L) (query chunks, readout-only last layer) is the model's: the
  readout of it equals `model.apply`'s logits, and the largest attention weight per
  layer and head equals the model's own maps' (every query below L, the readout at L)."""
  extra = dict(layer_norm="pre") if positional in ("rotary", "alibi") else {}
  got, want, stats, maps = _probe_vs_model(attention=attention, positional=positional, **extra)
  np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-5)
  w = [jnp.max(a, axis=(2, 3)) for a in maps[:-1]] + [jnp.max(maps[-1][:, :, -1], -1)]
  np.testing.assert_allclose(stats["max_weight"], jnp.stack(w, 1), atol=1e-5)
  assert stats["max_logit"].shape == stats["ln_gain"].shape[:2] + (2,) == (3, 2, 2)


@pytest.mark.parametrize("task,model", [
    ("recognition", dict(depth=2, layer_norm="post", attention="scaled",
                         head_masks=("past", "future"))),
    ("recognition", dict(depth=3, attention="hard_unique", positional="cc",
                         layer_norm="final", ln_eps=0.0)),
    ("prediction", dict(causal=True, layer_norm="pre", positional="relative")),
    ("prediction", dict(causal=False, head_masks=("past",), positional="learned",
                        layer_norm="post"))])
def test_probe_forward_is_the_model_masks_tasks(task, model):
  """Head masks, causal and the prefix-by-prefix prediction model, layer norms."""
  got, want, stats, _ = _probe_vs_model(task, n=9, chunk=4, **model)
  np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-5)
  gain = stats["final_ln_gain"] if model["layer_norm"] == "final" else stats["ln_gain"]
  assert float(jnp.min(gain)) > 0 and float(jnp.max(gain)) != 1.0


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
  setup = setup_lib.make_setup(config_lib.validate(raw))
  return setup, recognizers.fit(setup, setup_lib.init_state(setup).params, length, steps=100,
                                lr=1e-2, rounds=30)


def test_restriction_few_for_hard_one_many_for_lstm_parity():
  cfg = restriction.Config(min_length=16, max_length=16, points=1, completions=16,
                           greedy_rounds=4, random_restrictions=2)
  c = constructions.build("hard_one")
  exp = construct.experiment(c)
  one = restriction.run(setup_lib.make_setup(exp), construct.state(c, exp).params, cfg)
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
