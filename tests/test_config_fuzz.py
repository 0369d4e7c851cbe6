"""Hostile config values: `config.validate` raises ValueError (one clear line) or accepts.

Hypothesis sets one to three fields of every config section (model, data, train, eval,
sweep) to random values of random types: huge and negative integers, NaN and infinite
floats, random text, bytes, booleans, None, lists and dicts. Any other exception would be
a raw traceback at `python -m launch.train`; an accepted value must be one training can
use (finite numbers, integers that fit the int32 step counter).
"""

import dataclasses
import math

import hypothesis
import ml_collections
import pytest
from hypothesis import strategies as st

from configs import parity as parity_config
from limits import config as config_lib
from limits.models import transformer

SECTIONS = {"model": transformer.ModelConfig, "data": config_lib.DataConfig,
            "train": config_lib.TrainConfig, "eval": config_lib.EvalConfig,
            "sweep": config_lib.SweepConfig}
FIELDS = [(s, f.name) for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)]

scalars = st.one_of(
    st.integers(-2**70, 2**70), st.integers(-3, 70),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1e-300, 1e300]),
    st.text(max_size=12), st.sampled_from(["", " ", "1-", "-1", "1e3", "nan", "inf", "1;2",
                                           "0-0", "1-99999999999", "dyck:k=0", "parity:odd=2",
                                           "dfa:path=/nonexistent.json", "mod:m=-1", "\x00",
                                           "soft", "learned", "1,2,4", "2-1", "1-40:0"]),
    st.binary(max_size=6), st.booleans(), st.none())
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=3), scalars, max_size=2))


def _check_accepted(exp: config_lib.Experiment) -> None:
  for section in SECTIONS:
    for f in dataclasses.fields(getattr(exp, section)):
      v = getattr(getattr(exp, section), f.name)
      flat = v if isinstance(v, tuple) else (v,)
      for x in flat:
        if isinstance(x, float):
          assert math.isfinite(x), (section, f.name, v)
        if isinstance(x, int) and not isinstance(x, bool):
          assert -2**31 < x < 2**31, (section, f.name, v)


@hypothesis.settings(max_examples=300, deadline=None, derandomize=True,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(st.lists(st.tuples(st.sampled_from(FIELDS), values), min_size=1, max_size=3))
def test_any_field_value_is_accepted_or_one_value_error(changes):
  raw = parity_config.get_config("smoke").to_dict()
  for (section, field), value in changes:
    raw[section][field] = value
  try:
    cfg = ml_collections.ConfigDict(raw)
  except Exception:  # ConfigDict itself refuses the value: nothing of ours runs
    return
  try:
    exp = config_lib.validate(cfg)
  except ValueError as e:
    msg = str(e)
    assert msg and "\n" not in msg.strip(), msg
    return
  _check_accepted(exp)


@pytest.mark.parametrize("section,field", FIELDS)
def test_every_field_refuses_nan_and_huge_and_garbage(section, field):
  """Each field on its own: the worst values of each type never escape as non-ValueError."""
  for value in (float("nan"), float("inf"), -1, 2**63, "\xff\x00", b"\x00", [None], {"a": 1}):
    raw = parity_config.get_config("smoke").to_dict()
    raw[section][field] = value
    try:
      exp = config_lib.validate(ml_collections.ConfigDict(raw))
    except ValueError:
      continue
    _check_accepted(exp)
