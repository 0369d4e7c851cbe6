"""Drawing an export's splits with the library's own samplers, disjoint and annotated.

Every split's rows come from its own keys (`KEYS`, recorded in the manifest), CHUNK rows
per device call at a static length bucket; a row whose string an earlier split holds is
redrawn from later rounds of its own key, and left out (counted in `short`) after
MAX_ROUNDS. Each row is annotated with the oracle's membership and, where the language has
a generator, the exact next-symbol distributions q.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from limits import records as records_lib
from limits.export.plan import ExportConfig, Split, format_lengths, has_generator, row_lengths, split_plan

MAX_ROUNDS = 32          # draws per split before a colliding row is left out
KEYS = ("split i (its index in `splits`) uses k = fold_in(key(seed), i); "
        "k_draw, k_order = split(k); rows are drawn 512 at a time at a static length "
        "(the power of two >= 8 above the split's longest), chunk c of draw round r with "
        "fold_in(fold_in(k_draw, r), c); train and validation rows are then permuted by "
        "permutation(k_order, rows)")


CHUNK = 512   # rows per device call: every split's draws share one program per length bucket


def length_bucket(n: int) -> int:
  """The static length a split of longest string n is drawn at (a power of two >= 8), so
  that splits share compiled programs and a split's draws do not depend on other splits."""
  return max(8, 1 << (int(n) - 1).bit_length())


class Drawer:
  """Jitted sampling and annotation at one static length, CHUNK rows per call."""

  def __init__(self, lang, task: str, max_length: int):
    import jax
    import jax.numpy as jnp
    self.lang, self.task, self.L = lang, task, max_length
    self._sample = jax.jit(lambda k, n_B: lang.sample(task, k, n_B, max_length))

    def annotate(sym_BxL, n_B):
      masked = jnp.where(jnp.arange(max_length)[None, :] < n_B[:, None], sym_BxL, 0)
      member = lang.accepts(masked, n_B)
      q = lang.next_symbol_distribution(masked) if has_generator(lang) else None
      return member, q
    self._annotate = jax.jit(annotate)

  @staticmethod
  def _chunks(lengths_B: np.ndarray):
    """(chunk index, rows slice, lengths padded to CHUNK rows with the first length)."""
    for c, start in enumerate(range(0, len(lengths_B), CHUNK)):
      n = lengths_B[start:start + CHUNK]
      yield c, slice(start, start + len(n)), np.concatenate(
          [n, np.full(CHUNK - len(n), n[0], np.int32)]).astype(np.int32)

  def draw(self, key, lengths_B: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(symbols int32[B, L], labels int32[B] or None): chunk c drawn with fold_in(key, c)."""
    import jax
    sym = np.zeros((len(lengths_B), self.L), np.int32)
    labels = np.zeros((len(lengths_B),), np.int32) if self.task == "recognition" else None
    for c, rows, n in self._chunks(lengths_B):
      b = jax.device_get(self._sample(jax.random.fold_in(key, c), n))
      k = rows.stop - rows.start
      if self.task == "recognition":
        sym[rows] = b.tokens_BxT[:k, :self.L]
        labels[rows] = b.labels_B[:k]
      else:
        sym[rows] = b.tokens_BxT[:k, 1:self.L + 1]
    return sym, labels

  def annotate(self, sym: np.ndarray, lengths_B: np.ndarray):
    """(member bool[B], q float32[B, L+1, C] or None), exact, from the oracle and the
    generator."""
    import jax
    member = np.zeros((len(lengths_B),), bool)
    q = None
    for _, rows, n in self._chunks(lengths_B):
      k = rows.stop - rows.start
      block = np.zeros((CHUNK, self.L), np.int32)
      block[:k] = sym[rows]
      m, qq = jax.device_get(self._annotate(block, n))
      member[rows] = np.asarray(m[:k], bool)
      if qq is not None:
        if q is None:
          q = np.zeros((len(lengths_B),) + qq.shape[1:], np.float32)
        q[rows] = qq[:k]
    return member, q


def _strings(lang, sym: np.ndarray, lengths_B: np.ndarray) -> list[str]:
  table = np.asarray(lang.alphabet, dtype=object)
  return ["".join(table[row[:n]]) for row, n in zip(sym, lengths_B)]


def _short_floats(q: np.ndarray) -> np.ndarray:
  """float64 copy of float32 `q` whose values print as their shortest float32 text
  (0.16666667, not 0.1666666716337204)."""
  uniq, inv = np.unique(q, return_inverse=True)
  return np.asarray([float(str(np.float32(u))) for u in uniq], np.float64)[inv].reshape(q.shape)


def generator_covers(lang, sym: np.ndarray, lengths_B: np.ndarray, member: np.ndarray,
                     q: np.ndarray) -> bool:
  """Whether q gives every member's symbols, and EOS at its end, positive probability."""
  eos = lang.n_symbols
  for i in np.flatnonzero(member):
    n = int(lengths_B[i])
    if not (np.all(q[i, np.arange(n), sym[i, :n]] > 0) and q[i, n, eos] > 0):
      return False
  return True


def build_records(lang, task: str, strings: Sequence[str], lengths_B: np.ndarray,
                  labels: np.ndarray | None, member: np.ndarray, q: np.ndarray | None,
                  with_next: bool) -> list[records_lib.Record]:
  """Records of drawn rows: next-symbol data for every prediction row, for recognition
  members only, and none without `with_next`."""
  names = tuple(lang.alphabet) + (records_lib.EOS,)
  qs = _short_floats(q) if (q is not None and with_next) else None
  out = []
  for i, s in enumerate(strings):
    n = int(lengths_B[i])
    rows = allowed = None
    if qs is not None and (task == "prediction" or member[i]):
      rows = tuple(tuple(r) for r in qs[i, :n + 1].tolist())
      allowed = tuple(tuple(names[c] for c in np.flatnonzero(r > 0)) for r in q[i, :n + 1])
    out.append(records_lib.Record(
        string=s, task=task, member=bool(member[i]),
        label=None if labels is None else int(labels[i]),
        symbols=names if rows is not None else None, next=rows, next_symbols=allowed))
  return out


def sample_records(lang, task: str, key, length: int, count: int) -> list[records_lib.Record]:
  """`count` strings of one length drawn with `key` (one `Language.sample` call), as
  `launch.sample` prints them."""
  import jax
  import jax.numpy as jnp
  lengths_B = np.full((count,), length, np.int32)
  b = jax.device_get(lang.sample(task, key, jnp.asarray(lengths_B), length))
  rec = task == "recognition"
  sym = np.array(b.tokens_BxT[:, :length] if rec else b.tokens_BxT[:, 1:length + 1])
  labels = np.array(b.labels_B) if rec else None
  member = np.asarray(lang.accepts(jnp.asarray(sym), jnp.asarray(lengths_B)), bool)
  q = (np.asarray(lang.next_symbol_distribution(jnp.asarray(sym)), np.float32)
       if has_generator(lang) else None)
  with_next = q is not None and (task == "prediction"
                                 or generator_covers(lang, sym, lengths_B, member, q))
  return build_records(lang, task, _strings(lang, sym, lengths_B), lengths_B, labels, member,
                       q, with_next)


@dataclasses.dataclass
class _Drawn:
  """One split's rows as arrays, before they become records."""

  name: str
  lengths: tuple[int, ...]
  requested: int
  strings: list[str]
  sym: np.ndarray | None = None            # int32[B, L]
  lengths_B: np.ndarray | None = None
  labels: np.ndarray | None = None
  member: np.ndarray | None = None
  q: np.ndarray | None = None              # float32[B, L+1, C]
  short: dict[int, int] = dataclasses.field(default_factory=dict)


def _draw_split(d: Drawer, lang, name: str, lengths_B: np.ndarray, k_draw, k_order,
                used: set[str]) -> _Drawn:
  """Draws one split's rows, redrawing (round r = 1, 2, ...) every row whose string an
  earlier split has, leaving out rows still colliding after MAX_ROUNDS."""
  import jax
  sym, labels = d.draw(jax.random.fold_in(k_draw, 0), lengths_B)
  strings = _strings(lang, sym, lengths_B)
  bad = np.array([s in used for s in strings], bool)
  for r in range(1, MAX_ROUNDS):
    if not bad.any():
      break
    sym2, labels2 = d.draw(jax.random.fold_in(k_draw, r), lengths_B)
    rows = np.flatnonzero(bad)
    for j, s2 in zip(rows, _strings(lang, sym2[rows], lengths_B[rows])):
      if s2 not in used:
        sym[j], strings[j], bad[j] = sym2[j], s2, False
        if labels is not None:
          labels[j] = labels2[j]
  short: dict[int, int] = {}
  for n in lengths_B[bad]:
    short[int(n)] = short.get(int(n), 0) + 1
  if name in ("train", "validation"):
    order = np.asarray(jax.random.permutation(k_order, len(lengths_B)))
    keep = order[~bad[order]]
  else:
    keep = np.flatnonzero(~bad)
  sym, lengths_B = sym[keep], lengths_B[keep]
  labels = None if labels is None else labels[keep]
  member, q = d.annotate(sym, lengths_B)
  return _Drawn(name, (), 0, [strings[j] for j in keep], sym, lengths_B, labels, member, q,
                short)


def make_splits(cfg: ExportConfig, lang, log=lambda s: None) -> tuple[list[Split], str | None]:
  """(splits, why next-symbol data are left out or None), drawn as the module says."""
  import jax
  root = jax.random.key(cfg.seed)
  used: set[str] = set()
  drawn: list[_Drawn] = []
  drawers: dict[int, Drawer] = {}
  for i, (name, lengths, count) in enumerate(split_plan(cfg)):
    k_draw, k_order = jax.random.split(jax.random.fold_in(root, i))
    if count == 0:
      drawn.append(_Drawn(name, lengths, count, []))
      continue
    L = length_bucket(max(lengths))
    if L not in drawers:
      drawers[L] = Drawer(lang, cfg.task, L)
    lengths_B = row_lengths(lengths, count, paired=cfg.task == "recognition")
    x = _draw_split(drawers[L], lang, name, lengths_B, k_draw, k_order, used)
    x.lengths, x.requested = lengths, count
    if (cfg.task == "recognition" and has_generator(lang)
        and not np.array_equal(x.member, x.labels == 1)):
      raise RuntimeError(f"{name}: the sampler's labels disagree with {lang.name}'s oracle")
    used.update(x.strings)
    drawn.append(x)
    log(f"{name}: {len(x.strings)} strings at lengths {format_lengths(lengths)}"
        + (f" ({sum(x.short.values())} left out: no unseen string at lengths "
           f"{format_lengths(sorted(x.short))})" if x.short else ""))
  why = None
  if not has_generator(lang):
    why = f"{lang.name} is a classification task without a generator"
  elif cfg.task == "recognition" and not all(
      generator_covers(lang, x.sym, x.lengths_B, x.member, x.q) for x in drawn if x.strings):
    why = (f"the generator of {lang.name} does not produce every member (q gives some "
           f"member's symbol or final EOS probability 0), so its supports are not "
           f"this language's next symbols")
  splits = []
  for x in drawn:
    recs = (build_records(lang, cfg.task, x.strings, x.lengths_B, x.labels, x.member, x.q,
                          why is None) if x.strings else [])
    splits.append(Split(x.name, tuple(x.lengths), x.requested, recs, x.short))
  return splits, why
