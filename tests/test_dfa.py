"""DFA loader: valid DFAs load and agree with a brute-force run; malformed ones give one
clear ValueError naming the problem (hypothesis)."""

import copy
import json

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from limits.languages import dfa

BASE = {"alphabet": ["0", "1"], "states": ["e", "o"], "start": "e", "accept": ["e"],
        "transitions": {"e": {"0": "e", "1": "o"}, "o": {"0": "o", "1": "e"}}}


@st.composite
def dfas(draw):
  alphabet = draw(st.lists(st.sampled_from("abcxyz01"), min_size=1, max_size=3, unique=True))
  n = draw(st.integers(1, 4))
  states = [f"s{i}" for i in range(n)]
  trans = {s: {a: draw(st.sampled_from(states)) for a in alphabet} for s in states}
  accept = draw(st.lists(st.sampled_from(states), unique=True))
  return {"alphabet": alphabet, "states": states, "start": draw(st.sampled_from(states)),
          "accept": accept, "transitions": trans}


def _run(spec, s):
  q = spec["start"]
  for ch in s:
    q = spec["transitions"][q][ch]
  return q in spec["accept"]


@settings(max_examples=15, deadline=None)
@given(dfas(), st.data())
def test_valid_dfa_oracle_matches_direct_run(spec, data):
  lang = dfa.from_dict(spec)
  strings = data.draw(st.lists(st.text(alphabet=spec["alphabet"], min_size=5, max_size=5),
                               min_size=1, max_size=6))
  ids = jnp.asarray([lang.encode(s) for s in strings], jnp.int32)
  got = np.asarray(lang.accepts(ids, jnp.full((len(strings),), 5, jnp.int32)))
  assert list(got) == [_run(spec, s) for s in strings]


def _break(kind, spec, draw):
  spec = copy.deepcopy(spec)
  s = draw(st.sampled_from(spec["states"]))
  if kind == "missing_transition":
    a = draw(st.sampled_from(spec["alphabet"]))
    del spec["transitions"][s][a]
    return spec, "missing transition"
  if kind == "missing_state_row":
    del spec["transitions"][s]
    return spec, "missing transitions from state"
  if kind == "unknown_target":
    a = draw(st.sampled_from(spec["alphabet"]))
    spec["transitions"][s][a] = "nowhere"
    return spec, "unknown state"
  if kind == "unknown_start":
    spec["start"] = "nowhere"
    return spec, "start: unknown state"
  if kind == "unknown_accept":
    spec["accept"] = spec["accept"] + ["nowhere"]
    return spec, "accept: unknown state"
  if kind == "empty_alphabet":
    spec["alphabet"] = []
    return spec, "alphabet: must be a non-empty"
  if kind == "reserved_symbol":
    spec["alphabet"] = spec["alphabet"] + [draw(st.sampled_from(dfa.RESERVED))]
    return spec, "clashes with the special tokens"
  if kind == "multi_char_symbol":
    spec["alphabet"] = spec["alphabet"] + ["ab"]
    return spec, "one printable non-space character"
  if kind == "missing_field":
    del spec[draw(st.sampled_from(sorted(spec)))]
    return spec, "missing field"
  raise AssertionError(kind)


KINDS = ["missing_transition", "missing_state_row", "unknown_target", "unknown_start",
         "unknown_accept", "empty_alphabet", "reserved_symbol", "multi_char_symbol",
         "missing_field"]


@settings(max_examples=60, deadline=None)
@given(dfas(), st.sampled_from(KINDS), st.data())
def test_malformed_dfas_raise_named_errors(spec, kind, data):
  bad, message = _break(kind, spec, data.draw)
  with pytest.raises(ValueError, match=message):
    dfa.from_dict(bad)


def test_load_file_and_bad_json(tmp_path):
  path = tmp_path / "d.json"
  path.write_text(json.dumps(BASE))
  assert dfa.load(path=str(path)).alphabet == ("0", "1")
  path.write_text("{not json")
  with pytest.raises(ValueError, match="not valid JSON"):
    dfa.load(path=str(path))


def test_duplicate_keys_are_a_contradiction(tmp_path):
  from limits import languages
  path = tmp_path / "dup.json"
  path.write_text('{"alphabet": ["a"], "states": ["s", "t"], "start": "s", "accept": ["s"], '
                  '"transitions": {"s": {"a": "s", "a": "t"}, "t": {"a": "t"}}}')
  with pytest.raises(ValueError, match="given twice"):
    languages.make_language(f"dfa:path={path}")
  path.write_bytes(b"\xff\xfe{}")
  with pytest.raises(ValueError, match="not UTF-8"):
    languages.make_language(f"dfa:path={path}")
