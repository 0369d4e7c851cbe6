"""C-RASP membership by the automata criterion of Yang, Veseli, ..., Hahn (2026),
Appendix J: every SCC of the minimal DFA separable by totally balanced terms."""

from __future__ import annotations

import itertools
from collections import deque
from fractions import Fraction

from limits.languages.algebra.minimal import DFA
from limits.languages.algebra.monoid import scc


def _rref(rows: list[list[Fraction]]) -> list[tuple[int, list[Fraction]]]:
  """Reduced row echelon form: [(pivot column, row)]."""
  rows = [list(r) for r in rows]
  out: list[tuple[int, list[Fraction]]] = []
  for r in rows:
    for p, pr in out:
      if r[p] != 0:
        f = r[p]
        r = [x - f * y for x, y in zip(r, pr)]
    piv = next((j for j, x in enumerate(r) if x != 0), None)
    if piv is None:
      continue
    r = [x / r[piv] for x in r]
    out = [(p, [x - pr[piv] * y for x, y in zip(pr, r)]) for p, pr in out]
    out.append((piv, r))
  return out


def _reduce(v: list[Fraction], basis) -> tuple:
  v = list(v)
  for p, pr in basis:
    if v[p] != 0:
      f = v[p]
      v = [x - f * y for x, y in zip(v, pr)]
  return tuple(v)


def _scc_separable(dfa: DFA, W: list[int]) -> tuple[bool, tuple[int, int] | None]:
  """Lemma 88's refinement on the extraction of SCC W: (separable, unseparated pair)."""
  delta, A = dfa.delta, len(dfa.alphabet)
  inside = set(W)
  sinks = sorted({int(delta[p, a]) for p in W for a in range(A)} - inside)
  states = list(W) + sinks
  cls = {q: 0 for q in states}
  separated: set[frozenset] = set()
  while True:
    labels = sorted({(a, cls[int(delta[p, a])]) for p in W for a in range(A)})
    lid = {l: i for i, l in enumerate(labels)}
    n = len(labels)
    unit = lambda i: [Fraction(int(j == i)) for j in range(n)]
    # Potentials along a breadth-first tree from W[0]: count vectors over labels.
    pot = {W[0]: [Fraction(0)] * n}
    queue, cons = deque([W[0]]), []
    while queue:
      p = queue.popleft()
      for a in range(A):
        q = int(delta[p, a])
        if q not in inside:
          continue
        v = [x + y for x, y in zip(pot[p], unit(lid[(a, cls[q])]))]
        if q not in pot:
          pot[q] = v
          queue.append(q)
        else:
          cons.append([x - y for x, y in zip(v, pot[q])])   # cycle sums must vanish
    basis = _rref(cons)
    value = {q: frozenset({_reduce(pot[q], basis)}) for q in W}
    for s in sinks:
      value[s] = frozenset(
          _reduce([x + y for x, y in zip(pot[p], unit(lid[(a, cls[s])]))], basis)
          for p in W for a in range(A) if int(delta[p, a]) == s)
    for q1, q2 in itertools.combinations(states, 2):
      if not value[q1] & value[q2]:
        separated.add(frozenset((q1, q2)))
    ids: dict = {}
    new = {q: ids.setdefault((cls[q], value[q]), len(ids)) for q in states}
    if len(ids) == len(set(cls.values())):
      break
    cls = new
  for q1, q2 in itertools.combinations(states, 2):
    if frozenset((q1, q2)) not in separated:
      return False, (q1, q2)
  return True, None


def c_rasp(dfa: DFA) -> tuple[bool, dict | None]:
  """(member of C-RASP, witness): every SCC separable (Lemma 84). The witness names the
  SCC and an unseparated pair of states of the minimal DFA."""
  d = dfa
  comp = scc(d.delta)
  for c in sorted(set(comp.tolist())):
    W = [q for q in range(d.states) if comp[q] == c]
    ok, pair = _scc_separable(d, W)
    if not ok:
      return False, {"scc": W, "states": pair}
  return True, None
