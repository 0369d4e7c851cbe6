"""limits.predict: a workdir's model read on given strings (what launch.predict prints)."""

import numpy as np
import pytest

from limits import construct, experiment, predict
from limits.models import constructions as C


@pytest.fixture(scope="module")
def anbn(tmp_path_factory):
  wd = str(tmp_path_factory.mktemp("anbn") / "w")
  construct.write(C.build("hard_anbn"), wd)
  return experiment.load(wd)


def test_labels_membership_and_the_model_agree(anbn):
  setup, state = anbn
  strings = ["aabb", "abab", "ab", "a" * 40 + "b" * 40, "a" * 40 + "b" * 39]  # two buckets
  recs = predict.predict(setup, state, strings)
  assert [r.string for r in recs] == strings
  assert [r.label for r in recs] == [1, 0, 1, 1, 0]
  assert [r.member for r in recs] == [True, False, True, True, False]
  assert all((r.log_odds > 0) == (r.label == 1) and 0 <= r.p_member <= 1 for r in recs)


def test_one_string_per_call_gives_the_same_records(anbn):
  setup, state = anbn
  strings = ["aabb", "abab", "ab", "ba"]
  assert predict.chunks(setup, strings, 1) == [(64, [0]), (64, [1]), (64, [2]), (64, [3])]
  assert predict.chunks(setup, strings + ["a" * 65], 1e12) == [(64, [0, 1, 2, 3]), (128, [4])]
  assert predict.predict(setup, state, strings, limit=1) == predict.predict(setup, state, strings)


def test_too_long_for_memory_is_one_error(anbn):
  setup, _ = anbn
  predict.check_length(setup, 100, 1e12)
  with pytest.raises(ValueError, match="symbols fit"):
    predict.check_length(setup, 100, 1000)


def test_log_odds_two_and_three_classes():
  assert predict.log_odds([0.5, 2.0]) == 1.5
  x = np.array([0.1, 1.0, -0.3])
  assert predict.log_odds(x) == pytest.approx(1.0 - np.logaddexp(0.1, -0.3))
