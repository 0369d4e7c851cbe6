"""Theorem 1's restriction probe can fail: its verdict separates a UHAT that recognises 1*
from a constant or a trained UHAT on PARITY, and with every position free it reports the
language's full dependence instead of 0 (uniform completions alone would miss 1*'s only
member and score a reject-everything model as perfect)."""

import functools

import jax
import jax.numpy as jnp
import pytest

from limits import construct
from limits import setup as setup_lib
from limits.models import constructions
from limits.probes import restriction

import recognizers


def _cfg(n, fraction=0.5, **kw):
  return restriction.Config(min_length=n, max_length=n, points=1, fraction=fraction,
                            completions=16, greedy_rounds=4, random_restrictions=2, **kw)


def _setup(language="parity", **model):
  return recognizers.setup(language, **model)


@functools.lru_cache(maxsize=None)
def _hard_one():
  c = constructions.build("hard_one")
  exp = construct.experiment(c)
  return setup_lib.make_setup(exp), construct.state(c, exp).params


def _constant_parity():
  """A reject-everything PARITY recogniser: every weight 0, so both logits are 0."""
  setup, params = _setup()
  return setup, jax.tree.map(jnp.zeros_like, params)


def _trained(language, length, steps, **model):
  """A member trained for `steps` Adam steps on lengths 1..length (a plain loop)."""
  setup, params_M = _setup(language, **model)
  return setup, recognizers.fit(setup, params_M, length, steps=steps, lr=3e-3)


def test_hard_one_is_no_obstruction_with_zero_error():
  setup, params = _hard_one()
  r = restriction.run(setup, params, _cfg(32))["members"][0]["per_n"][0]
  assert r["verdict"] == "no_obstruction", r
  assert r["subcube_error"] == 0.0 and r["language_influential"] <= 2
  assert r["free"] >= 16 and r["influential"] <= 2
  # The white box commits the single head with one fixed input (x_j = 0 read first).
  assert r["white_box_committed"] and r["white_box_fixed"] <= 2 and r["white_box_cone_free"] == 0


def test_constant_model_on_parity_gets_another_verdict_than_hard_one():
  setup, params = _constant_parity()
  r = restriction.run(setup, params, _cfg(32))["members"][0]["per_n"][0]
  assert r["influential"] == 0
  assert r["language_influential"] == r["free"] == 16  # PARITY of the free bits
  assert r["verdict"] == "obstruction" and r["subcube_error"] > 0, r
  assert r["witness"] is not None and len(r["witness"]) == 32


def test_all_positions_free_reports_the_languages_full_dependence():
  # fraction near 1 fixes nothing: the probe must see PARITY's and 1*'s n inputs, not 0.
  setup, params = _constant_parity()
  r = restriction.run(setup, params, _cfg(24, fraction=0.999))["members"][0]["per_n"][0]
  assert r["free"] == 24 and r["language_influential"] == 24 and r["influential"] == 0
  setup, params = _hard_one()
  r = restriction.run(setup, params, _cfg(24, fraction=0.999))["members"][0]["per_n"][0]
  assert r["members_in_subcube"] > 0  # planted: 1^n itself
  assert r["free"] == 24 and r["language_influential"] == 24 and r["influential"] == 24
  assert r["subcube_error"] == 0.0 and r["verdict"] == "inconclusive"


def test_trained_uhat_on_parity_shows_an_obstruction():
  setup, params = _trained("parity", 8, 300, attention="hard_unique", depth=2)
  r = restriction.run(setup, params, _cfg(32))["members"][0]["per_n"][0]
  assert r["verdict"] == "obstruction", r
  assert r["language_influential"] == r["free"] and r["influential"] < r["free"]
  assert r["subcube_error"] > 0


def test_restriction_fields_and_verdict_rule():
  assert restriction.verdict(0, 16, 0.5, 2) == "obstruction"
  assert restriction.verdict(0, 0, 0.0, 2) == "no_obstruction"
  assert restriction.verdict(16, 16, 0.0, 2) == "inconclusive"  # a correct PARITY model
  assert restriction.verdict(3, 1, 0.2, 2) == "inconclusive"   # wrong, but not Theorem 1
  with pytest.raises(ValueError, match="probe.completions"):
    restriction.Config(completions=1).validate()
