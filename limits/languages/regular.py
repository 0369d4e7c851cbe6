"""Regular languages as explicit DFAs, and MAJORITY as a length-bounded counter automaton.

Each builder's docstring gives the definition and source. All run on the generic engine
of `automaton.py` (uniform members/non-members by path counting, the generic generator,
exact DP cross-entropies). Binary languages use symbols `0 1`.

State names in comments; the transition rows are [on symbol 0, on symbol 1] (or on `a`,
`b` for the letter languages).
"""

from __future__ import annotations

import numpy as np

from limits.languages import automaton

BIN = ("0", "1")


def _dfa(name, alphabet, delta, accept, start=0, p=0.5, doc=None):
  lang = automaton.DFALanguage(name, alphabet, delta, accept, start, p)
  lang.__doc__ = doc
  return lang


def first(p: float = 0.5) -> automaton.DFALanguage:
  """FIRST: bit strings whose first symbol is 1 (Chiang & Cholak 2022, §5)."""
  # 0 start, 1 began with 1 (accept, absorbing), 2 began with 0 (absorbing)
  return _dfa("first", BIN, [[2, 1], [1, 1], [2, 2]], [0, 1, 0], p=p, doc=first.__doc__)


def one(p: float = 0.5) -> automaton.DFALanguage:
  """ONE = 1*: bit strings of only 1s, a positive control (Hahn 2020 §5)."""
  return _dfa("one", BIN, [[1, 0], [1, 1]], [1, 0], p=p, doc=one.__doc__)


def aa_star(p: float = 0.5) -> automaton.DFALanguage:
  """(aa)* over the one-letter alphabet `a`: even length (Hahn 2020 §4, periodic).

  Recognition at an exact length is degenerate (every string of even n is a member, no
  member has odd n); the language is meant for next-symbol prediction.
  """
  return _dfa("aa_star", ("a",), [[1], [0]], [1, 0], p=p, doc=aa_star.__doc__)


def ab_star(p: float = 0.5) -> automaton.DFALanguage:
  """(ab)* over `a b`: periodic, non-counter-free (Hahn 2020 §4; Bhattamishra et al. 2020)."""
  # 0 even (accept), 1 after a, 2 dead
  return _dfa("ab_star", ("a", "b"), [[1, 2], [2, 0], [2, 2]], [1, 0, 0], p=p,
              doc=ab_star.__doc__)


def mod(p: float = 0.5, m: str = "2") -> automaton.DFALanguage:
  """MOD-m: bit strings whose number of 1s is 0 mod m (Hahn 2020 §4; m = 2 is PARITY)."""
  try:
    k = int(m)
  except ValueError:
    k = 0
  if k < 2:
    raise ValueError(f"data.language: mod needs an integer m >= 2, got m={m!r}")
  delta = [[s, (s + 1) % k] for s in range(k)]
  return _dfa(f"mod:m={k}", BIN, delta, [s == 0 for s in range(k)], p=p, doc=mod.__doc__)


# The seven Tomita (1982) grammars, as in Weiss et al. (2018) and Bhattamishra et al. (2020).
TOMITA = {
    # 1: 1*.                              0 ok, 1 dead
    1: ([[1, 0], [1, 1]], [1, 0]),
    # 2: (10)*.                            0 ok, 1 after 1, 2 dead
    2: ([[2, 1], [0, 2], [2, 2]], [1, 0, 0]),
    # 3: no odd-length run of 1s directly followed by an odd-length run of 0s.
    #    0 even 1-run/0s, 1 odd 1-run, 2 odd 1-run then odd 0s, 3 ... then even 0s, 4 dead
    3: ([[0, 1], [2, 0], [3, 4], [2, 1], [4, 4]], [1, 1, 0, 1, 0]),
    # 4: no 000 substring.                 state = trailing 0s (0..2), 3 dead
    4: ([[1, 0], [2, 0], [3, 0], [3, 3]], [1, 1, 1, 0]),
    # 5: even number of 0s and even number of 1s.   state = 2*(#0 % 2) + (#1 % 2)
    5: ([[2, 1], [3, 0], [0, 3], [1, 2]], [1, 0, 0, 0]),
    # 6: (#0 - #1) = 0 mod 3.
    6: ([[1, 2], [2, 0], [0, 1]], [1, 0, 0]),
    # 7: 0*1*0*1*.                         state = block reached (0..3), 4 dead
    7: ([[0, 1], [2, 1], [2, 3], [4, 3], [4, 4]], [1, 1, 1, 1, 0]),
}


def tomita(i: int):
  def build(p: float = 0.5) -> automaton.DFALanguage:
    delta, accept = TOMITA[i]
    return _dfa(f"tomita{i}", BIN, delta, accept, p=p, doc=build.__doc__)
  build.__doc__ = (f"Tomita grammar {i} (Tomita 1982; definitions as in Weiss et al. 2018, "
                   f"Bhattamishra et al. 2020); see regular.TOMITA.")
  return build


class Majority(automaton.AutomatonLanguage):
  """MAJORITY: bit strings with strictly more 1s than 0s (Hahn 2020 §1; Hao et al. 2022).

  Not regular: the automaton tracks d = #1 - #0, clipped to [-(L+1), L+1] for strings
  of length <= L, so its tables have O(L^2) entries (sizeable at L = 4096). Ties are
  non-members.
  """

  alphabet = BIN

  def __init__(self, p: float = 0.5):
    super().__init__(p)
    self.name = "majority"

  def automaton(self, max_length):
    c = max_length + 1
    d = np.arange(-c, c + 1)
    delta = np.stack([np.clip(d - 1, -c, c), np.clip(d + 1, -c, c)], 1) + c
    return automaton.Automaton(delta, d > 0, c)
