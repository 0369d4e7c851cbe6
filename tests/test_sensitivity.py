"""Lemma 5's probe, read honestly: the readout position is never changed, n * change and
its trend are reported, and the bound's looseness on a fixed model sits in a stated band
(so a wrong bound formula or a wrong measurement moves it, which `bound >= change` alone
would not catch)."""

import jax.numpy as jnp
import numpy as np
import pytest

from limits.probes import sensitivity

import recognizers


def _setup(task="recognition", **model):
  return recognizers.setup("parity", task, **model)


@pytest.mark.parametrize("task", ["recognition", "prediction"])
def test_readout_and_later_positions_never_change(task):
  setup, _ = _setup(task)
  lang = setup.language
  n, s, p = 8, 5, 8  # p = n: every flippable position is drawn
  import jax
  tokens, readout, p = sensitivity._inputs(lang, task, jax.random.key(0), n, s, p)
  orig = jnp.repeat(tokens[:s], p, 0)
  changed = np.asarray(tokens[s:] != orig)
  assert changed.sum(1).tolist() == [1] * (s * p)  # exactly one symbol each
  where = changed.argmax(1)
  assert (where < np.asarray(readout[s:])).all(), (where, readout)
  assert p == sensitivity.flippable(task, n) == (n if task == "recognition" else n - 1)


def test_prediction_change_falls_with_n_once_the_readout_is_excluded():
  # The unmasked encoder read at x_n: flipping x_n itself moves y_n by O(1) at every n
  # (~1.3 measured), flipping an earlier symbol by O(1/n).
  setup, params = _setup("prediction", causal=False)
  m = sensitivity.run(setup, params, sensitivity.Config(
      min_length=16, max_length=256, points=3, strings=3, positions=4))["members"][0]
  first, last = m["per_n"][0], m["per_n"][-1]
  assert first["max_change"] / last["max_change"] > 4, m["per_n"]  # 16x longer strings
  assert m["bound_applies"] and m["bound_holds"]


def test_bound_tightness_on_a_fixed_model_lies_in_its_band():
  # depth 1, one head, init seed 0: bound_recursive / max change measured 1.23e4..1.38e4
  # for n = 8..64 (it varies 12% with n). The band allows 30% around that range: dropping
  # or adding a factor of 2 in the bound, or measuring the change somewhere else, leaves it.
  setup, params = _setup(depth=1, heads=1)
  m = sensitivity.run(setup, params, sensitivity.Config(
      min_length=8, max_length=64, points=2, strings=3, positions=4))["members"][0]
  for r in m["per_n"]:
    assert 0.7 * 1.23e4 < r["tightness"] < 1.3 * 1.38e4, r
    assert r["tightness_paper"] >= r["tightness"] >= 1.0
  assert m["tightness_min"] <= m["tightness_max"]


def test_n_times_change_and_its_trend_are_reported():
  setup, params = _setup(depth=1, heads=2)
  m = sensitivity.run(setup, params, sensitivity.Config(
      min_length=16, max_length=1024, points=4, strings=3, positions=4))["members"][0]
  for r in m["per_n"]:
    assert r["n_times_mean_change"] == pytest.approx(r["tokens"] * r["mean_change"])
  # n * change = n^(slope + 1): the two fits agree up to the n vs n + 1 offset.
  assert m["n_change_slope"] == pytest.approx(m["slope"] + 1, abs=0.05)
  lo, hi = m["n_change_slope_ci"]
  assert m["n_change_trend"] == ("falling" if hi < 0 else "rising" if lo > 0 else "flat")
  assert sensitivity.trend({"slope_ci": [-0.2, -0.01]}) == "falling"
  assert sensitivity.trend({"slope_ci": [0.01, 0.2]}) == "rising"
  assert sensitivity.trend({"slope_ci": None}) is None
