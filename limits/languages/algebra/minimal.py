"""Minimal DFAs: loading any regular spec as a DFA, regexes, Moore minimisation in a
canonical numbering, and every binary DFA up to a size (`enumerate_binary`)."""

from __future__ import annotations

import dataclasses
import itertools
from collections import deque
from typing import Any, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class DFA:
  """A complete deterministic automaton with outputs: delta int[S, A], output int[S]."""

  alphabet: tuple[str, ...]
  delta: np.ndarray
  start: int
  output: np.ndarray

  @property
  def states(self) -> int:
    return int(self.delta.shape[0])

  def run(self, word: Sequence[int]) -> int:
    s = self.start
    for a in word:
      s = int(self.delta[s, a])
    return s

  def key(self) -> tuple:
    """A hashable form (equal for equal DFAs; isomorphic ones after `minimize`)."""
    return (self.alphabet, self.start, tuple(map(tuple, self.delta.tolist())),
            tuple(self.output.tolist()))

  def describe(self) -> str:
    """One line: `start=0 accept=[..] 0:(0->1,1->0) ...` for reports."""
    rows = " ".join(f"{s}:(" + ",".join(f"{a}->{int(self.delta[s, i])}"
                                         for i, a in enumerate(self.alphabet)) + ")"
                    for s in range(self.states))
    return f"start={self.start} output={self.output.tolist()} {rows}"


def make_dfa(alphabet, delta, start, output) -> DFA:
  delta = np.asarray(delta, np.int64)
  output = np.asarray(output, np.int64)
  if delta.ndim != 2 or delta.shape[1] != len(alphabet) or output.shape != (delta.shape[0],):
    raise ValueError(f"dfa: delta must be [states, {len(alphabet)}] and output [states], "
                     f"got {delta.shape} and {output.shape}")
  if delta.size and (delta.min() < 0 or delta.max() >= delta.shape[0]):
    raise ValueError("dfa: a transition leads to a state that does not exist")
  if not 0 <= int(start) < delta.shape[0]:
    raise ValueError(f"dfa: start state {start} does not exist")
  return DFA(tuple(alphabet), delta, int(start), output)


# Loading -----------------------------------------------------------------------------
def dfa_of(spec_or_language: Any) -> DFA:
  """The DFA of a regular language spec (or a built `Language`); ValueError otherwise."""
  from limits import languages
  from limits.languages import automaton, deletang, parity
  lang = spec_or_language
  if isinstance(lang, str):
    lang = languages.make_language(lang)
  if isinstance(lang, parity.Parity):
    m = 1 if lang.odd else 0
    return make_dfa(lang.alphabet, [[0, 1], [1, 0]], 0, [int(m == 0), int(m == 1)])
  if isinstance(lang, automaton.DFALanguage):
    a = lang.automaton(0)
    return make_dfa(lang.alphabet, a.delta, a.start, np.asarray(a.accept, np.int64))
  if isinstance(lang, deletang.ClassificationTask):
    # Their generators only draw allowed symbols at each position (modular arithmetic:
    # numbers at even, operators at odd positions); as a language over all symbols the
    # other strings go to a rejecting dead state (output -1), and the position phase is
    # part of the state.
    period = len(lang.position_symbols)
    S, A = lang.delta.shape
    dead = S * period
    delta = np.full((dead + 1, A), dead, np.int64)
    out = np.full(dead + 1, -1, np.int64)
    for s, ph in itertools.product(range(S), range(period)):
      out[s * period + ph] = lang.state_class[s]
      for a in lang.position_symbols[ph]:
        delta[s * period + ph, a] = lang.delta[s, a] * period + (ph + 1) % period
    return make_dfa(lang.alphabet, delta, lang.start * period, out)
  raise ValueError(f"algebra: {getattr(lang, 'name', lang)!r} is not a regular language "
                   f"given by a DFA (allowed: the regular specs, dfa:path=..., Delétang's "
                   f"regular tasks)")


def regex_dfa(regex: str, alphabet: Sequence[str]) -> DFA:
  """The minimal DFA of a regular expression: letters, `+` union, `*`, parentheses,
  concatenation by juxtaposition, `()` the empty word (the notation of Yang et al. 2026's
  Table 1). For tests and notebooks."""
  pos = 0
  nfa: list[dict] = []            # state -> {symbol or None: set of states}

  def new():
    nfa.append({})
    return len(nfa) - 1

  def edge(a, sym, b):
    nfa[a].setdefault(sym, set()).add(b)

  def parse_union():
    nonlocal pos
    s, t = parse_concat()
    while pos < len(regex) and regex[pos] == "+":
      pos += 1
      s2, t2 = parse_concat()
      a, b = new(), new()
      edge(a, None, s), edge(a, None, s2), edge(t, None, b), edge(t2, None, b)
      s, t = a, b
    return s, t

  def parse_concat():
    s = t = new()
    while pos < len(regex) and regex[pos] not in "+)":
      s2, t2 = parse_star()
      edge(t, None, s2)
      t = t2
    return s, t

  def parse_star():
    nonlocal pos
    s, t = parse_atom()
    while pos < len(regex) and regex[pos] == "*":
      pos += 1
      a, b = new(), new()
      edge(a, None, s), edge(t, None, b), edge(a, None, b), edge(t, None, s)
      s, t = a, b
    return s, t

  def parse_atom():
    nonlocal pos
    ch = regex[pos]
    if ch == "(":
      pos += 1
      st = parse_union()
      if pos >= len(regex) or regex[pos] != ")":
        raise ValueError(f"regex {regex!r}: missing ')'")
      pos += 1
      return st
    if ch not in alphabet:
      raise ValueError(f"regex {regex!r}: symbol {ch!r} is not in the alphabet {alphabet}")
    pos += 1
    a, b = new(), new()
    edge(a, ch, b)
    return a, b

  start, final = parse_union()
  if pos != len(regex):
    raise ValueError(f"regex {regex!r}: unexpected {regex[pos]!r} at {pos}")

  def closure(states):
    out, todo = set(states), list(states)
    while todo:
      for b in nfa[todo.pop()].get(None, ()):
        if b not in out:
          out.add(b)
          todo.append(b)
    return frozenset(out)

  init = closure({start})
  index, order, rows = {init: 0}, [init], []
  while len(rows) < len(order):
    cur = order[len(rows)]
    row = []
    for a in alphabet:
      nxt = closure({b for s in cur for b in nfa[s].get(a, ())})
      if nxt not in index:
        index[nxt] = len(order)
        order.append(nxt)
      row.append(index[nxt])
    rows.append(row)
  return minimize(make_dfa(tuple(alphabet), rows, 0, [int(final in s) for s in order]))


# Minimisation ------------------------------------------------------------------------
def minimize(dfa: DFA) -> DFA:
  """The minimal DFA (Moore refinement), states numbered breadth-first from the start."""
  delta, A = dfa.delta, len(dfa.alphabet)
  seen, order = {dfa.start}, [dfa.start]
  for s in order:
    for a in range(A):
      t = int(delta[s, a])
      if t not in seen:
        seen.add(t)
        order.append(t)
  reach = np.array(order)
  cls = {int(s): int(dfa.output[s]) for s in reach}
  while True:
    sig = {s: (cls[s],) + tuple(cls[int(delta[s, a])] for a in range(A)) for s in cls}
    ids: dict[tuple, int] = {}
    new = {s: ids.setdefault(sig[s], len(ids)) for s in order}
    if len(ids) == len(set(cls.values())):
      cls = new
      break
    cls = new
  # Breadth-first renumbering of the classes: a canonical form.
  num: dict[int, int] = {}
  queue = deque([cls[dfa.start]])
  rep = {}
  for s in order:
    rep.setdefault(cls[s], s)
  num[cls[dfa.start]] = 0
  while queue:
    c = queue.popleft()
    for a in range(A):
      d = cls[int(delta[rep[c], a])]
      if d not in num:
        num[d] = len(num)
        queue.append(d)
  S = len(num)
  out_delta = np.zeros((S, A), np.int64)
  out = np.zeros(S, np.int64)
  for c, i in num.items():
    out[i] = dfa.output[rep[c]]
    for a in range(A):
      out_delta[i, a] = num[cls[int(delta[rep[c], a])]]
  return DFA(dfa.alphabet, out_delta, 0, out)


def canonical_binary(dfa: DFA) -> tuple:
  """Key of a minimal DFA up to complement (outputs 0/1 swapped) and symbol renaming."""
  keys = []
  for perm in itertools.permutations(range(len(dfa.alphabet))):
    for flip in (False, True):
      out = 1 - dfa.output if flip else dfa.output
      d = minimize(DFA(dfa.alphabet, dfa.delta[:, list(perm)], dfa.start, out))
      keys.append(d.key())
  return min(keys)


def enumerate_binary(max_states: int) -> list[DFA]:
  """Every minimal complete DFA over {0, 1} with at most `max_states` states (the 1-state
  one, Sigma*, included), up to complement and renaming of the symbols: one
  representative each (the smallest key), in order of (states, key)."""
  if not 1 <= max_states <= 4:
    raise ValueError(f"all_binary: at most 4 states are enumerated, got {max_states}")
  found: dict[tuple, DFA] = {}
  for k in range(1, max_states + 1):
    for trans in itertools.product(range(k), repeat=2 * k):
      delta = np.array(trans, np.int64).reshape(k, 2)
      for acc in itertools.product((0, 1), repeat=k):
        d = minimize(DFA(("0", "1"), delta, 0, np.array(acc, np.int64)))
        if d.states != k:
          continue
        key = canonical_binary(d)
        if key not in found:
          found[key] = minimize(DFA(key[0], np.array(key[2], np.int64), key[1],
                                    np.array(key[3], np.int64)))
  return sorted(found.values(), key=lambda d: (d.states, d.key()))


def to_json(dfa: DFA) -> dict:
  """The `dfa:path=` JSON schema (limits/languages/dfa.py) for a 0/1-output DFA."""
  names = [f"q{s}" for s in range(dfa.states)]
  return {"alphabet": list(dfa.alphabet), "states": names, "start": names[dfa.start],
          "accept": [names[s] for s in range(dfa.states) if dfa.output[s] == 1],
          "transitions": {names[s]: {a: names[int(dfa.delta[s, i])]
                                     for i, a in enumerate(dfa.alphabet)}
                          for s in range(dfa.states)}}
