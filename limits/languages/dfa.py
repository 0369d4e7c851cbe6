"""A user-given DFA from a JSON file: `dfa:path=FILE.json`.

JSON schema (every field required; see configs/dfa_example.json):

  {
    "alphabet": ["0", "1"],              # distinct single characters, non-empty
    "states": ["even", "odd"],           # distinct names (strings or integers)
    "start": "even",                     # one of "states"
    "accept": ["even"],                  # a subset of "states" (may be empty)
    "transitions": {                     # total: every state, every symbol
      "even": {"0": "even", "1": "odd"},
      "odd":  {"0": "odd",  "1": "even"}
    }
  }

Symbols must be single printable non-space characters (strings are written and read one
character per symbol, e.g. by `launch.sample`), and may not be the reserved names of
the special tokens (`EOS`, `BOS`, `PAD`) or the characters `$ # <tab>` used for them in
exports. Every malformed DFA raises ValueError naming the problem. The language is then
handled by the generic engine of `automaton.py` (uniform sampling by path counting, the
generic generator, exact DP cross-entropies).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from limits.languages import automaton

RESERVED = ("EOS", "BOS", "PAD", "$", "#")
MAX_STATES = 100_000


def _fail(where: str, msg: str):
  raise ValueError(f"dfa {where}: {msg}")


def from_dict(spec: Any, name: str = "dfa", p: float = 0.5) -> automaton.DFALanguage:
  """Validates a DFA given as a dict (the JSON schema above) and builds the language."""
  where = name
  if not isinstance(spec, dict):
    _fail(where, f"expected a JSON object, got {type(spec).__name__}")
  need = ("alphabet", "states", "start", "accept", "transitions")
  missing = [k for k in need if k not in spec]
  if missing:
    _fail(where, f"missing field {missing[0]!r} (required: {', '.join(need)})")
  extra = sorted(set(spec) - set(need))
  if extra:
    _fail(where, f"unknown field {extra[0]!r} (allowed: {', '.join(need)})")

  alphabet = spec["alphabet"]
  if not isinstance(alphabet, list) or not alphabet:
    _fail(where, "alphabet: must be a non-empty list of single characters")
  for a in alphabet:
    if not isinstance(a, str):
      _fail(where, f"alphabet: symbol {a!r} is not a string")
    if a in RESERVED:
      _fail(where, f"alphabet: symbol {a!r} clashes with the special tokens EOS/BOS/PAD "
                   f"(reserved: {' '.join(RESERVED)})")
    if len(a) != 1 or not a.isprintable() or a.isspace():
      _fail(where, f"alphabet: symbol {a!r} must be one printable non-space character")
  if len(set(alphabet)) != len(alphabet):
    _fail(where, "alphabet: symbols must be distinct")

  states = spec["states"]
  if not isinstance(states, list) or not states:
    _fail(where, "states: must be a non-empty list of names")
  if any(not isinstance(s, (str, int)) or isinstance(s, bool) for s in states):
    _fail(where, "states: names must be strings or integers")
  names = [str(s) for s in states]
  if len(set(names)) != len(names):
    _fail(where, "states: names must be distinct")
  if len(names) > MAX_STATES:
    _fail(where, f"states: at most {MAX_STATES} states, got {len(names)}")
  index = {s: i for i, s in enumerate(names)}

  def state(v: Any, field: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (str, int)) or str(v) not in index:
      _fail(where, f"{field}: unknown state {v!r} (states: {', '.join(names[:10])})")
    return index[str(v)]

  start = state(spec["start"], "start")
  if not isinstance(spec["accept"], list):
    _fail(where, "accept: must be a list of states")
  accept = np.zeros(len(names), bool)
  for v in spec["accept"]:
    accept[state(v, "accept")] = True

  trans = spec["transitions"]
  if not isinstance(trans, dict):
    _fail(where, "transitions: must be an object {state: {symbol: state}}")
  for s in trans:
    if s not in index:
      _fail(where, f"transitions: unknown state {s!r}")
  delta = np.zeros((len(names), len(alphabet)), np.int64)
  for s in names:
    row = trans.get(s)
    if row is None:
      _fail(where, f"transitions: missing transitions from state {s!r}")
    if not isinstance(row, dict):
      _fail(where, f"transitions[{s!r}]: must be an object {{symbol: state}}")
    for a in row:
      if a not in alphabet:
        _fail(where, f"transitions[{s!r}]: unknown symbol {a!r} (alphabet: {' '.join(alphabet)})")
    for j, a in enumerate(alphabet):
      if a not in row:
        _fail(where, f"transitions: missing transition from state {s!r} on symbol {a!r}")
      delta[index[s], j] = state(row[a], f"transitions[{s!r}][{a!r}]")
  return automaton.DFALanguage(name, tuple(alphabet), delta, accept, start, p)


def load(p: float = 0.5, path: str | None = None) -> automaton.DFALanguage:
  """DFA: the regular language of a user-given DFA read from a JSON file (schema above)."""
  if not path:
    raise ValueError("data.language: dfa needs a file, e.g. dfa:path=configs/dfa_example.json")
  if not os.path.isfile(path):
    raise ValueError(f"data.language: dfa file {path!r} does not exist")
  try:
    with open(path) as f:
      spec = json.load(f, object_pairs_hook=_no_duplicate_keys)
  except json.JSONDecodeError as e:
    raise ValueError(f"dfa {path}: not valid JSON ({e})") from None
  except UnicodeDecodeError as e:
    raise ValueError(f"dfa {path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
  except _DuplicateKey as e:
    raise ValueError(f"dfa {path}: key {e.args[0]!r} is given twice in one object "
                     f"(a contradictory transition or field); give it once") from None
  return from_dict(spec, name=f"dfa:path={path}", p=p)


class _DuplicateKey(Exception):
  pass


def _no_duplicate_keys(pairs):
  """json object hook: a key given twice (e.g. two moves on one symbol) is an error,
  not silently the last one."""
  out = {}
  for k, v in pairs:
    if k in out:
      raise _DuplicateKey(k)
    out[k] = v
  return out
