"""limits.config: each field's one default lives in the dataclasses; defaults() states them
as a config file does, and lengths written as text read back as the same lengths."""

import dataclasses

import hypothesis
import pytest
from hypothesis import strategies as st

from limits import config as config_lib
from limits.models import transformer


def test_defaults_validate_to_the_dataclass_defaults():
  # configs/*.py start from defaults() and state only what they change: this is what
  # they change from.
  exp = config_lib.validate(config_lib.defaults())
  want = config_lib.Experiment(model=transformer.ModelConfig(), data=config_lib.DataConfig(),
                               train=config_lib.TrainConfig(), eval=config_lib.EvalConfig())
  assert exp == want
  assert config_lib.defaults().data.train_lengths == "1-40"


def test_every_default_field_is_declared():
  c = config_lib.defaults()
  for name, cls in (("model", transformer.ModelConfig), ("data", config_lib.DataConfig),
                    ("train", config_lib.TrainConfig), ("eval", config_lib.EvalConfig),
                    ("sweep", config_lib.SweepConfig)):
    assert set(c[name]) == {f.name for f in dataclasses.fields(cls)} - config_lib.DERIVED


@hypothesis.settings(max_examples=200, deadline=None, derandomize=True)
@hypothesis.given(st.sets(st.integers(1, 300), min_size=1, max_size=40))
def test_format_lengths_reads_back(lengths):
  text = config_lib.parse.format_lengths(lengths)
  assert config_lib.parse_lengths(text, "x") == tuple(sorted(lengths))


def _with(**sections):
  c = config_lib.defaults()
  for name, fields in sections.items():
    c[name].update(fields)
  return c


def test_every_members_heads_have_one_owner():
  # sweep.heads, when set, owns every member's head count and model.heads is unused: the
  # checks that depend on the head count read the largest member's, naming that field.
  exp = config_lib.validate(_with(model=dict(heads=3, width=16, head_masks=("past", "future", "all", "all")),
                                  sweep=dict(heads="1,2,4")))
  assert sorted({m.heads for m in exp.members}) == [1, 2, 4]
  for sections, field in ((dict(model=dict(heads=3, width=16)), "model.heads:"),
                          (dict(model=dict(width=16), sweep=dict(heads="1,3")), "sweep.heads:"),
                          (dict(model=dict(heads=2, head_masks=("past", "future", "all"))),
                           "model.head_masks: 3 entries for 2 heads"),
                          (dict(model=dict(heads=8, head_masks=("past", "past", "past")),
                                sweep=dict(heads="1,2")), "model.head_masks: 3 entries for 2 heads")):
    with pytest.raises(ValueError, match=field):
      config_lib.validate(_with(**sections))


def test_depth_has_one_owner():
  exp = config_lib.validate(_with(model=dict(depth=5), sweep=dict(depths="1,2")))
  assert sorted({m.depth for m in exp.members}) == [1, 2]
