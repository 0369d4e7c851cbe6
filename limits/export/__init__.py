"""Frozen, seeded datasets of a language for other tools (`python -m launch.export`).

An export is a directory with a train split and a validation split at the training
lengths and one test split per length bin, every split drawn by the library's own
samplers (recognition: exactly balanced members and non-members of each length;
prediction: generator prefixes), each string annotated with its exact membership and,
where the language has a generator, its exact next-symbol distributions q and their
supports (the allowed next symbols), and a `manifest.json` that makes it checkable:

  format, version     "limits.export", 1
  layout              "native" or "flare"
  library             versions of limits and jax (the samplers are jax programs)
  config              the `ExportConfig` that made it (rerunning it gives the same bytes)
  language, symbols   the spec, its description, and the output classes (alphabet + EOS)
  keys                how each split's PRNG keys derive from the seed
  next                whether records carry next-symbol data, and if not why
  splits              per split: name, lengths, requested and written counts, members,
                      count per length, rows left out (`short`), files (and line ranges)
  files               sha256 and size of every other file

Layouts. `native`: `<split>.jsonl` (the schema of `limits.records`) and `<split>.tsv`
(header first) per split. `flare`: the file layout of FLaRe (Butoi et al. 2025, "Training
Neural Networks as Recognizers of Formal Languages", github.com/rycolab/flare): the
training split as `main.tok` (symbols separated by spaces, one string a line),
`labels.txt` (1 member, 0 not) and `next-symbols.jsonl` (one line per *member*, in order:
per position t = 0..n `{"s": allowed symbols sorted and space-separated, "e": EOS
allowed}`) at the top, the validation split in `datasets/validation-short/` (FLaRe's name
for validation at the training lengths) and every test bin, concatenated in bin order, in
`datasets/test/` (the manifest gives each bin's line range), as their
`prepare_data.py --training-data DIR --more-data validation-short --more-data test` reads.

Splits are disjoint: validation draws no string the train split has, each test bin none
that train, validation or an earlier bin has (a colliding row is redrawn from later
rounds of its own key, same length and class; at short lengths whose strings run out the
row is left out and counted in `short`). Within a split strings are i.i.d. draws, so short
lengths repeat. Rows are spread evenly over a split's lengths (recognition: in
member/non-member pairs); train and validation are shuffled, test bins stay in length
order. The same config gives the same bytes; `write` never replaces an export with other
content unless asked (`overwrite`), and never a directory that is not an export.

Next-symbol data come from the generator (`Language.next_symbol_distribution`): for
prediction they are the task's targets; for recognition they are given for members only
(as FLaRe does) and only when the generator produces every member (q gives each symbol
of each member, and EOS at its end, positive probability); where it does not (e.g.
`parity:odd`, whose generator is the paper's even one) they are left out and `next`
says so. Delétang et al.'s classification tasks have no generator.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from typing import Any, Sequence

import numpy as np

from limits import records as records_lib

LAYOUTS = ("native", "flare")
MANIFEST = "manifest.json"
FORMAT, VERSION = "limits.export", 1
MAX_ROUNDS = 32          # draws per split before a colliding row is left out
KEYS = ("split i (its index in `splits`) uses k = fold_in(key(seed), i); "
        "k_draw, k_order = split(k); rows are drawn 512 at a time at a static length "
        "(the power of two >= 8 above the split's longest), chunk c of draw round r with "
        "fold_in(fold_in(k_draw, r), c); train and validation rows are then permuted by "
        "permutation(k_order, rows)")


@dataclasses.dataclass(frozen=True)
class ExportConfig:
  """What to export; field names are `launch.export`'s flags.

  lengths: training (and validation) lengths. test_lengths: the test bins, each a tuple
  of lengths (empty: `lengths` and `lengths` shifted by their maximum, e.g. 1-40 and
  41-80). test_count is per bin.
  """

  language: str
  task: str = "recognition"
  lengths: tuple[int, ...] = tuple(range(1, 41))
  test_lengths: tuple[tuple[int, ...], ...] = ()
  train_count: int = 1000
  validation_count: int = 100
  test_count: int = 100
  seed: int = 0
  p: float = 0.5
  layout: str = "native"

  def bins(self) -> tuple[tuple[int, ...], ...]:
    if self.test_lengths:
      return self.test_lengths
    top = max(self.lengths)
    return (self.lengths, tuple(n + top for n in self.lengths))

  def to_dict(self) -> dict[str, Any]:
    d = dataclasses.asdict(self)
    d["lengths"] = format_lengths(self.lengths)
    d["test_lengths"] = ";".join(format_lengths(b) for b in self.bins())
    return d


def format_lengths(lengths: Sequence[int]) -> str:
  """`1-40`, `2-40:2` or `1-3,7`: text `config.parse_lengths` reads back."""
  xs = sorted(set(int(n) for n in lengths))
  if len(xs) > 2 and len({b - a for a, b in zip(xs, xs[1:])}) == 1 and xs[1] - xs[0] > 1:
    return f"{xs[0]}-{xs[-1]}:{xs[1] - xs[0]}"
  runs, start = [], 0
  for i in range(1, len(xs) + 1):
    if i == len(xs) or xs[i] != xs[i - 1] + 1:
      runs.append(str(xs[start]) if i - 1 == start else f"{xs[start]}-{xs[i - 1]}")
      start = i
  return ",".join(runs)


def has_generator(lang) -> bool:
  from limits import languages
  return "prediction" in getattr(lang, "supported_tasks", languages.TASKS)


def check(cfg: ExportConfig):
  """(cfg, language) after validation; ValueError naming the flag otherwise."""
  from limits import languages
  if cfg.task not in languages.TASKS:
    raise ValueError(f"--task: unknown task {cfg.task!r}; allowed: {', '.join(languages.TASKS)}")
  if cfg.layout not in LAYOUTS:
    raise ValueError(f"--format: unknown layout {cfg.layout!r}; allowed: {', '.join(LAYOUTS)}")
  lang = languages.make_language(cfg.language, cfg.p)
  supported = getattr(lang, "supported_tasks", languages.TASKS)
  if cfg.task not in supported:
    raise ValueError(f"--task: {cfg.language} supports only {', '.join(supported)}, "
                     f"got {cfg.task!r}")
  if cfg.layout == "flare" and cfg.task != "recognition":
    raise ValueError("--format: flare is FLaRe's recognition layout (labels and the "
                     "next symbols of members); use --task=recognition or --format=native")
  for name, lo in (("train_count", 1), ("validation_count", 0), ("test_count", 0)):
    v = getattr(cfg, name)
    if type(v) is not int or v < lo:
      raise ValueError(f"--{name}: must be an integer >= {lo}, got {v!r}")
  if not -2 ** 63 <= cfg.seed < 2 ** 63:
    raise ValueError(f"--seed: must fit in 64 bits (|seed| < 2^63), got {cfg.seed}")
  if not cfg.lengths:
    raise ValueError("--lengths: empty")
  seen: dict[int, int] = {}
  for flag, group in [("--lengths", cfg.lengths)] + [("--test_lengths", b) for b in cfg.bins()]:
    if not group:
      raise ValueError(f"{flag}: an empty bin")
    for n in group:
      try:
        lang.check_length(n)
      except ValueError as e:
        raise ValueError(f"{flag}: {e}") from None
  for i, b in enumerate(cfg.bins()):
    for n in b:
      if n in seen:
        raise ValueError(f"--test_lengths: bins {seen[n] + 1} and {i + 1} both hold length {n}; "
                         f"bins must be disjoint")
      seen[n] = i
  return cfg, lang


@dataclasses.dataclass
class Split:
  """One split: its rows (as records) and what could not be drawn."""

  name: str
  lengths: tuple[int, ...]
  requested: int
  records: list[records_lib.Record]
  short: dict[int, int]               # length -> rows left out (no unseen string found)


def split_plan(cfg: ExportConfig) -> list[tuple[str, tuple[int, ...], int]]:
  """(name, lengths, count) per split, in key order: train, validation, test bins."""
  plan = [("train", cfg.lengths, cfg.train_count),
          ("validation", cfg.lengths, cfg.validation_count)]
  names = set()
  for b in cfg.bins():
    name = f"test_{min(b)}-{max(b)}"
    name = name if name not in names else f"{name}_{len(names)}"
    names.add(name)
    plan.append((name, tuple(b), cfg.test_count))
  return plan


def row_lengths(lengths: Sequence[int], count: int, paired: bool) -> np.ndarray:
  """int32[count]: lengths spread evenly, ascending; `paired` gives each length an even
  number of rows where it can (rows 2j, 2j+1 share a length: one member, one not)."""
  units = -(-count // 2) if paired else count
  L = len(lengths)
  per = [(i + 1) * units // L - i * units // L for i in range(L)]
  rows = np.repeat(np.asarray(sorted(lengths), np.int32), np.asarray(per) * (2 if paired else 1))
  return rows[:count]


CHUNK = 512   # rows per device call: every split's draws share one program per length bucket


def length_bucket(n: int) -> int:
  """The static length a split of longest string n is drawn at (a power of two >= 8), so
  that splits share compiled programs and a split's draws do not depend on other splits."""
  return max(8, 1 << (int(n) - 1).bit_length())


class _Drawer:
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


def _draw_split(d: _Drawer, lang, name: str, lengths_B: np.ndarray, k_draw, k_order,
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
  drawers: dict[int, _Drawer] = {}
  for i, (name, lengths, count) in enumerate(split_plan(cfg)):
    k_draw, k_order = jax.random.split(jax.random.fold_in(root, i))
    if count == 0:
      drawn.append(_Drawn(name, lengths, count, []))
      continue
    L = length_bucket(max(lengths))
    if L not in drawers:
      drawers[L] = _Drawer(lang, cfg.task, L)
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


# Files ----------------------------------------------------------------------------
def _columns(with_label: bool, with_next: bool) -> list[str]:
  cols = ["string", "length"] + (["label"] if with_label else []) + ["member"]
  return cols + (["next_symbols", "next"] if with_next else [])


def _lines(lines) -> bytes:
  return "".join(l + "\n" for l in lines).encode()


def _flare_next(r: records_lib.Record) -> str:
  return json.dumps([{"s": " ".join(sorted(x for x in row if x != records_lib.EOS)),
                      "e": records_lib.EOS in row} for row in r.next_symbols],
                    separators=(",", ":"))


FLARE_DIRS = {"train": "", "validation": "datasets/validation-short", "test": "datasets/test"}


def render(cfg: ExportConfig, lang, splits: Sequence[Split], why: str | None) -> dict[str, bytes]:
  """Every file of the export (relative path -> bytes), the manifest last."""
  import jax
  import limits
  names = list(lang.alphabet) + [records_lib.EOS]
  files: dict[str, bytes] = {}
  info = []
  with_next = why is None
  cols = _columns(cfg.task == "recognition", with_next)
  offsets: dict[str, int] = {}
  for sp in splits:
    recs = sp.records
    counts: dict[int, int] = {}
    for r in recs:
      counts[r.length] = counts.get(r.length, 0) + 1
    by_length = {str(n): counts[n] for n in sorted(counts)}
    entry: dict[str, Any] = {
        "name": sp.name, "lengths": format_lengths(sp.lengths), "requested": sp.requested,
        "count": len(recs), "members": sum(bool(r.member) for r in recs),
        "by_length": by_length, "short": {str(k): v for k, v in sorted(sp.short.items())}}
    if cfg.layout == "native":
      files[f"{sp.name}.jsonl"] = _lines(records_lib.to_json(r) for r in recs)
      files[f"{sp.name}.tsv"] = _lines(records_lib.tsv_lines(recs, cols, names))
      entry["files"] = [f"{sp.name}.jsonl", f"{sp.name}.tsv"]
    else:
      group = "test" if sp.name.startswith("test_") else sp.name
      base = FLARE_DIRS[group]
      prefix = f"{base}/" if base else ""
      start = offsets.get(group, 0)
      offsets[group] = start + len(recs)
      entry["files"] = [f"{prefix}{f}" for f in ("main.tok", "labels.txt")
                        + (("next-symbols.jsonl",) if with_next else ())]
      entry["lines"] = [start, start + len(recs)]    # this split's lines in those files
      for f, text in (("main.tok", _lines(" ".join(r.string) for r in recs)),
                      ("labels.txt", _lines(str(int(bool(r.member))) for r in recs)),
                      ("next-symbols.jsonl", _lines(_flare_next(r) for r in recs if r.member))):
        if f == "next-symbols.jsonl" and not with_next:
          continue
        files[prefix + f] = files.get(prefix + f, b"") + text
    info.append(entry)
  manifest = {
      "format": FORMAT, "version": VERSION, "layout": cfg.layout,
      "library": {"limits": limits.__version__, "jax": jax.__version__},
      "config": cfg.to_dict(), "language": lang.describe(), "task": cfg.task,
      "symbols": names, "seed": cfg.seed, "keys": KEYS,
      "next": ("next-symbol distributions and supports for "
               + ("every row" if cfg.task == "prediction" else "members") if with_next
               else f"omitted: {why}"),
      "schema": "limits.records (README: the JSONL schema)",
      "splits": info,
      "files": {p: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)}
                for p, b in sorted(files.items())},
  }
  files[MANIFEST] = (json.dumps(manifest, indent=1, sort_keys=False) + "\n").encode()
  return files


# Writing --------------------------------------------------------------------------
class ExportExists(ValueError):
  """`out` holds another export (or something that is not an export)."""


def prior_manifest(out: str) -> dict[str, Any] | None:
  """The manifest of the export already at `out`, None where `out` is absent or an
  empty directory; ExportExists where it is a file or a directory that is not an export."""
  if not os.path.exists(out):
    return None
  if not os.path.isdir(out):
    raise ExportExists(f"--out: {out} is a file, not a directory")
  path = os.path.join(out, MANIFEST)
  if not os.path.exists(path):
    if os.listdir(out):
      raise ExportExists(f"--out: {out} is not empty and holds no {MANIFEST}: not an export, "
                         f"so it is never replaced; choose another --out")
    return None
  try:
    with open(path) as f:
      m = json.load(f)
  except (OSError, json.JSONDecodeError) as e:
    raise ExportExists(f"--out: {path} cannot be read ({e}); not replaced") from None
  if not isinstance(m, dict) or m.get("format") != FORMAT:
    raise ExportExists(f"--out: {path} is not a limits export manifest; not replaced")
  return m


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
  """Names of the config fields in which two configs (as dicts) differ."""
  return [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def check_writable(out: str) -> None:
  """OSError unless a directory beside `out` can be created (parents are created)."""
  probe = f"{os.path.abspath(out)}.probe-{os.getpid()}"
  os.makedirs(probe)
  os.rmdir(probe)


def write(out: str, files: dict[str, bytes], overwrite: bool = False) -> str:
  """Writes `files` as the directory `out`, all or nothing: "written", "unchanged" (the
  same bytes are there already) or "replaced" (another export, with `overwrite`).

  ExportExists for another export without `overwrite` (or a non-export at `out`);
  OSError for a failed write (nothing partial is left: files go to a sibling temporary
  directory that is renamed into place).
  """
  prior = prior_manifest(out)
  if prior is not None:
    new = json.loads(files[MANIFEST])
    if prior == new and _same_files(out, files):
      return "unchanged"
    if not overwrite:
      diff = differences(prior.get("config", {}), new["config"]) or ["files (same config)"]
      raise ExportExists(f"--out: {out} holds a different export (differs in {', '.join(diff)}); "
                         f"pass --overwrite to replace it, or choose another --out")
  absout = os.path.abspath(out)
  tmp = f"{absout}.tmp-{os.getpid()}"
  if os.path.exists(tmp):
    shutil.rmtree(tmp)
  try:
    for rel, data in files.items():
      path = os.path.join(tmp, rel)
      os.makedirs(os.path.dirname(path), exist_ok=True)
      with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    if os.path.isdir(absout):
      old = f"{absout}.old-{os.getpid()}"
      os.rename(absout, old)
      os.rename(tmp, absout)
      shutil.rmtree(old, ignore_errors=True)
      return "replaced" if prior is not None else "written"
    os.rename(tmp, absout)
    return "written"
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise


def _same_files(out: str, files: dict[str, bytes]) -> bool:
  on_disk = set()
  for root, _, names in os.walk(out):
    on_disk.update(os.path.relpath(os.path.join(root, n), out) for n in names)
  if on_disk != set(files):
    return False
  for rel, data in files.items():
    with open(os.path.join(out, rel), "rb") as f:
      if f.read() != data:
        return False
  return True


# Reading and verifying ------------------------------------------------------------
def load(out: str) -> tuple[dict[str, Any], dict[str, list[records_lib.Record]]]:
  """(manifest, split name -> records) of an export, read back from its files."""
  with open(os.path.join(out, MANIFEST)) as f:
    manifest = json.load(f)
  task = manifest["task"]
  names = manifest["symbols"]
  splits: dict[str, list[records_lib.Record]] = {}
  if manifest["layout"] == "native":
    for sp in manifest["splits"]:
      with open(os.path.join(out, f"{sp['name']}.jsonl")) as f:
        splits[sp["name"]] = records_lib.read_jsonl(f)
    return manifest, splits
  cache: dict[str, list[records_lib.Record]] = {}
  for sp in manifest["splits"]:
    main = sp["files"][0]
    base = os.path.dirname(main)
    if base not in cache:
      cache[base] = _read_flare(os.path.join(out, base), task, names)
    lo, hi = sp["lines"]
    splits[sp["name"]] = cache[base][lo:hi]
  return manifest, splits


def _read_flare(directory: str, task: str, names: list[str]) -> list[records_lib.Record]:
  with open(os.path.join(directory, "main.tok")) as f:
    strings = ["".join(line.split()) for line in f]
  with open(os.path.join(directory, "labels.txt")) as f:
    labels = [int(line) for line in f]
  nxt_path = os.path.join(directory, "next-symbols.jsonl")
  nexts = []
  if os.path.exists(nxt_path):
    with open(nxt_path) as f:
      nexts = [json.loads(line) for line in f]
  it = iter(nexts)
  out = []
  for s, label in zip(strings, labels, strict=True):
    allowed = None
    if nexts and label:
      allowed = tuple(tuple(x for x in names if x in pos["s"].split()
                            or (x == records_lib.EOS and pos["e"])) for pos in next(it))
    out.append(records_lib.Record(string=s, task=task, member=bool(label),
                                  symbols=tuple(names) if allowed else None,
                                  next_symbols=allowed))
  return out


def verify(out: str) -> list[str]:
  """Problems found in the export at `out` (empty: it is what its manifest says).

  Checks the sha256 of every file and that no file is missing or extra; that each split
  has its manifest counts, only its lengths, and the layout's TSV agrees with its JSONL;
  that splits are disjoint; every label and `member` against the language's exact
  membership oracle; every next-symbol distribution and set against the exact q
  recomputed from the string.
  """
  from limits import languages
  problems: list[str] = []
  try:
    manifest = prior_manifest(out)
  except ExportExists as e:
    return [str(e)]
  if manifest is None:
    return [f"{out}: no {MANIFEST}"]
  listed = manifest.get("files", {})
  present = set()
  for root, _, fnames in os.walk(out):
    present.update(os.path.relpath(os.path.join(root, n), out) for n in fnames)
  present.discard(MANIFEST)
  for rel in sorted(set(listed) - present):
    problems.append(f"{rel}: listed in the manifest, missing")
  for rel in sorted(present - set(listed)):
    problems.append(f"{rel}: not in the manifest")
  for rel in sorted(set(listed) & present):
    with open(os.path.join(out, rel), "rb") as f:
      if hashlib.sha256(f.read()).hexdigest() != listed[rel]["sha256"]:
        problems.append(f"{rel}: sha256 differs from the manifest")
  if problems:
    return problems
  try:
    manifest, splits = load(out)
  except (ValueError, OSError, KeyError) as e:
    return [f"cannot read the splits: {e}"]
  from limits import config as config_lib
  cfg = manifest["config"]
  lang = languages.make_language(cfg["language"], cfg["p"])
  task = manifest["task"]
  names = tuple(manifest["symbols"])
  seen: dict[str, str] = {}
  drawers: dict[int, _Drawer] = {}
  for sp in manifest["splits"]:
    name, recs = sp["name"], splits[sp["name"]]
    allowed_lengths = set(config_lib.parse_lengths(sp["lengths"], name))
    if len(recs) != sp["count"]:
      problems.append(f"{name}: {len(recs)} records, the manifest says {sp['count']}")
    if manifest["layout"] == "native":
      with open(os.path.join(out, f"{name}.tsv")) as f:
        tsv = records_lib.read_tsv(f, task)
      if [(r.string, r.member, r.label, r.next_symbols) for r in tsv] != \
         [(r.string, r.member, r.label, r.next_symbols) for r in recs]:
        problems.append(f"{name}: {name}.tsv and {name}.jsonl disagree")
    for r in recs:
      if r.length not in allowed_lengths:
        problems.append(f"{name}: {r.string!r} has length {r.length}, outside {sp['lengths']}")
        break
    for r in recs:
      if r.string in seen and seen[r.string] != name:
        problems.append(f"{name}: {r.string!r} is also in {seen[r.string]} (splits overlap)")
        break
    for r in recs:
      seen.setdefault(r.string, name)
    if not recs:
      continue
    L = length_bucket(max(r.length for r in recs))
    if L not in drawers:
      drawers[L] = _Drawer(lang, task, L)
    sym = np.zeros((len(recs), L), np.int32)
    for i, r in enumerate(recs):
      sym[i, :r.length] = lang.encode(r.string)
    n_B = np.asarray([r.length for r in recs], np.int32)
    member, q = drawers[L].annotate(sym, n_B)
    for i, r in enumerate(recs):
      if r.member != bool(member[i]):
        problems.append(f"{name}: {r.string!r} has member={r.member}, the oracle says "
                        f"{bool(member[i])}")
        break
      if task == "recognition" and has_generator(lang) and r.label is not None \
         and r.label != int(member[i]):
        problems.append(f"{name}: {r.string!r} has label {r.label}, the oracle says "
                        f"{int(member[i])}")
        break
    if not has_generator(lang) or not manifest["next"].startswith("next"):
      continue
    for i, r in enumerate(recs):
      wants = task == "prediction" or bool(member[i])
      if wants != (r.next_symbols is not None):
        problems.append(f"{name}: {r.string!r} {'lacks' if wants else 'has'} next symbols")
        break
      if r.next_symbols is None:
        continue
      n = r.length
      support = tuple(tuple(names[c] for c in np.flatnonzero(row > 0)) for row in q[i, :n + 1])
      if r.next_symbols != support:
        t = next(t for t in range(n + 1) if r.next_symbols[t] != support[t])
        problems.append(f"{name}: {r.string!r} next symbols at t = {t} are "
                        f"{list(r.next_symbols[t])}, the exact q allows {list(support[t])}")
        break
      if r.next is not None and not np.allclose(np.asarray(r.next), q[i, :n + 1], atol=1e-6):
        problems.append(f"{name}: {r.string!r} next distributions differ from the exact q")
        break
  return problems
