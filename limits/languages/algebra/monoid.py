"""The transition monoid of a minimal DFA (the syntactic monoid): elements with shortest
words, Green's R-, L-, H-classes, maximal subgroups, the counter witness and the stable
semigroup."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from limits.languages.algebra.minimal import DFA


MAX_MONOID = 50_000   # default refusal bound on the syntactic monoid's size
MAX_STABLE_STEPS = 10_000


# The transition monoid -----------------------------------------------------------------
@dataclasses.dataclass
class Monoid:
  """The transition monoid of a DFA: element e is the map q -> elements[e][q].

  words[e]: a shortest word with that action (symbol ids; element 0 is the identity,
  the empty word); right[e, a] = index of e.a (read e, then a).
  """

  elements: np.ndarray          # int[E, S]
  words: list[tuple[int, ...]]
  right: np.ndarray             # int[E, A]
  index: dict[tuple, int]

  @property
  def size(self) -> int:
    return len(self.words)

  def mul(self, x: int, y: int) -> int:
    """Index of x.y (x acts first)."""
    return self.index[tuple(self.elements[y][self.elements[x]])]

  @functools.cached_property
  def idempotents(self) -> list[int]:
    return [e for e in range(self.size) if self.mul(e, e) == e]

  @functools.cached_property
  def left(self) -> np.ndarray:
    A = self.right.shape[1]
    gens = [self.right[0, a] for a in range(A)]
    return np.array([[self.mul(g, e) for g in gens] for e in range(self.size)], np.int64)

  @functools.cached_property
  def r_classes(self) -> np.ndarray:
    """int[E]: R-class id (e R f iff eM = fM: same strongly connected component of the
    right Cayley graph)."""
    return scc(self.right)

  @functools.cached_property
  def l_classes(self) -> np.ndarray:
    return scc(self.left)

  def h_class(self, e: int) -> list[int]:
    r, l = self.r_classes, self.l_classes
    return [f for f in range(self.size) if r[f] == r[e] and l[f] == l[e]]

  @functools.cached_property
  def subgroups(self) -> list[dict]:
    """Maximal subgroups: the H-class of each idempotent, its order and solvability."""
    out, seen = [], set()
    for e in self.idempotents:
      h = tuple(self.h_class(e))
      if h in seen:
        continue
      seen.add(h)
      out.append({"idempotent": e, "word": self.words[e], "order": len(h),
                  "solvable": _solvable(self, list(h))})
    return out


def scc(graph: np.ndarray) -> np.ndarray:
  """Strongly connected components of a graph given as successor lists (iterative
  Tarjan); returns int[V] component ids."""
  V = graph.shape[0]
  index, low, comp = [-1] * V, [0] * V, [-1] * V
  stack, on, counter, ncomp = [], [False] * V, 0, 0
  for root in range(V):
    if index[root] >= 0:
      continue
    work = [(root, 0)]
    index[root] = low[root] = counter
    counter += 1
    stack.append(root)
    on[root] = True
    while work:
      v, i = work[-1]
      if i < graph.shape[1]:
        work[-1] = (v, i + 1)
        w = int(graph[v, i])
        if index[w] < 0:
          index[w] = low[w] = counter
          counter += 1
          stack.append(w)
          on[w] = True
          work.append((w, 0))
        elif on[w]:
          low[v] = min(low[v], index[w])
      else:
        work.pop()
        if work:
          low[work[-1][0]] = min(low[work[-1][0]], low[v])
        if low[v] == index[v]:
          while True:
            w = stack.pop()
            on[w] = False
            comp[w] = ncomp
            if w == v:
              break
          ncomp += 1
  return np.array(comp, np.int64)


def _solvable(m: Monoid, group: list[int]) -> bool:
  """Whether the group on these elements is solvable (derived series reaches {e})."""
  g = set(group)
  e = next(x for x in group if m.mul(x, x) == x)
  inv = {x: next(y for y in group if m.mul(x, y) == e) for x in group}
  while len(g) > 1:
    comm = {m.mul(m.mul(inv[x], inv[y]), m.mul(x, y)) for x in g for y in g}
    sub, todo = set(comm) | {e}, list(comm)
    while todo:                       # closure under multiplication (finite: a group)
      x = todo.pop()
      for y in list(sub):
        for z in (m.mul(x, y), m.mul(y, x)):
          if z not in sub:
            sub.add(z)
            todo.append(z)
    if sub == g:
      return False
    g = sub
  return True


def transition_monoid(dfa: DFA, max_size: int = MAX_MONOID) -> Monoid:
  """Breadth-first closure of the letters' actions; ValueError above `max_size`."""
  S, A = dfa.delta.shape
  ident = tuple(range(S))
  index = {ident: 0}
  elements, words, right = [ident], [()], []
  i = 0
  while i < len(elements):
    x = np.array(elements[i])
    row = []
    for a in range(A):
      y = tuple(dfa.delta[x, a].tolist())
      if y not in index:
        if len(elements) >= max_size:
          raise ValueError(f"algebra: the syntactic monoid has more than {max_size} "
                           f"elements (reached {len(elements)} with {S} states); raise "
                           f"max_size to analyse it")
        index[y] = len(elements)
        elements.append(y)
        words.append(words[i] + (a,))
      row.append(index[y])
    right.append(row)
    i += 1
  return Monoid(np.array(elements, np.int64), words, np.array(right, np.int64), index)


def cycle(f: np.ndarray) -> list[int] | None:
  """A cycle of length >= 2 of the map q -> f[q], or None."""
  for q in range(len(f)):
    seen, x = [], q
    while x not in seen:
      seen.append(x)
      x = int(f[x])
    cyc = seen[seen.index(x):]
    if len(cyc) >= 2:
      return cyc
  return None


def counter_witness(m: Monoid) -> tuple[tuple[int, ...], list[int]] | None:
  """(shortest word, states it rotates) of an element acting as a counter, or None."""
  for e in range(m.size):               # breadth-first: shortest words first
    cyc = cycle(m.elements[e])
    if cyc is not None:
      return m.words[e], cyc
  return None


def stable_semigroup(dfa: DFA, m: Monoid) -> tuple[int, dict[int, tuple[int, ...]]]:
  """(s, {element: a word of length s}) with eta(Sigma^s) = eta(Sigma^2s), s least."""
  A = len(dfa.alphabet)
  layers = [{0: ()}]                      # layers[t]: element -> word of length t
  for t in range(1, 2 * MAX_STABLE_STEPS + 1):
    prev, cur = layers[-1], {}
    for e, w in prev.items():
      for a in range(A):
        cur.setdefault(int(m.right[e, a]), w + (a,))
    layers.append(cur)
    if t % 2 == 0 and set(layers[t // 2]) == set(cur):
      return t // 2, layers[t // 2]
  raise ValueError(f"algebra: no stability index below {MAX_STABLE_STEPS}")
