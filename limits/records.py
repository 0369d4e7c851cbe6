"""One record per string: the JSONL schema `launch.sample`, `launch.export` and
`launch.predict` write, its TSV form, and the reader for both.

A JSONL line is one JSON object for one string (never one per prefix). Fields, absent when
they do not apply (`read_jsonl` reads an absent field as None):

  string        the string in the language's own symbols, no EOS/BOS (str)
  length        its number of symbols n, = len(string) (every symbol is one character)
  task          "recognition" or "prediction"
  member        exact membership by the language's oracle (bool); in `launch.predict`
                too, beside the model's outputs
  label         recognition: the class of the data (1 = member; Delétang et al.'s tasks:
                the class id), or in `launch.predict` the model's decision
  symbols       the output classes in order, the alphabet then "EOS": names the columns
                of `next` and the universe of `next_symbols`
  next          n + 1 rows, row t the distribution over `symbols` of the symbol after
                the prefix x_1..x_t: the generator's exact q (sample, export) or the
                model's (predict, prediction task)
  next_symbols  n + 1 lists, list t the symbols allowed after x_1..x_t (the support of
                q, in `symbols` order; "EOS" when the prefix may end there)
  p_member      `launch.predict`, recognition: the model's P(member)
  log_odds      `launch.predict`, recognition: log P(member) - log P(other classes)

TSV: the first line is a header naming the columns; a column `next[0/1/EOS]` holds, per
position t = 0..n (space-separated), the probabilities slash-separated in the bracketed
order, and `next_symbols` per position the allowed symbols written together, `$` for EOS
(symbols are single non-space characters, and `$` is reserved for EOS: languages.dfa).

Pure Python: nothing here touches JAX.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterable, Sequence

TASKS = ("recognition", "prediction")
EOS = "EOS"
EOS_CHAR = "$"                    # EOS inside a TSV `next_symbols` cell
FIELDS = ("string", "length", "task", "member", "label", "symbols", "next", "next_symbols",
          "p_member", "log_odds")


@dataclasses.dataclass(frozen=True)
class Record:
  """One string and what is known about it (the fields of the module docstring)."""

  string: str
  task: str
  member: bool | None = None
  label: int | None = None
  symbols: tuple[str, ...] | None = None
  next: tuple[tuple[float, ...], ...] | None = None
  next_symbols: tuple[tuple[str, ...], ...] | None = None
  p_member: float | None = None
  log_odds: float | None = None

  @property
  def length(self) -> int:
    return len(self.string)

  def to_dict(self) -> dict[str, Any]:
    d: dict[str, Any] = {"string": self.string, "length": self.length, "task": self.task}
    for f in FIELDS[3:]:
      v = getattr(self, f)
      if v is not None:
        d[f] = ([list(r) for r in v] if f in ("next", "next_symbols")
                else list(v) if f == "symbols" else v)
    return d


def to_json(record: Record) -> str:
  """One JSONL line (without the newline)."""
  return json.dumps(record.to_dict(), separators=(",", ":"), allow_nan=False)


def _need(ok: bool, what: str) -> None:
  if not ok:
    raise ValueError(what)


def from_dict(d: dict[str, Any]) -> Record:
  """A Record from one parsed JSON object; ValueError names the first field that breaks
  the schema."""
  _need(isinstance(d, dict), f"expected a JSON object, got {type(d).__name__}")
  unknown = sorted(set(d) - set(FIELDS))
  _need(not unknown, f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(FIELDS)}")
  s = d.get("string")
  _need(isinstance(s, str), "string: required, a str")
  _need(d.get("length") == len(s) and type(d.get("length")) is int,
        f"length: must equal len(string) = {len(s)}, got {d.get('length')!r}")
  _need(d.get("task") in TASKS, f"task: must be one of {', '.join(TASKS)}, got {d.get('task')!r}")
  member, label = d.get("member"), d.get("label")
  _need(member is None or isinstance(member, bool), f"member: must be true/false, got {member!r}")
  _need(label is None or type(label) is int, f"label: must be an integer, got {label!r}")
  symbols = d.get("symbols")
  if symbols is not None:
    _need(isinstance(symbols, list) and symbols and all(isinstance(x, str) for x in symbols)
          and len(set(symbols)) == len(symbols), "symbols: must be a list of distinct names")
    symbols = tuple(symbols)
  nxt, allowed = d.get("next"), d.get("next_symbols")
  rows = len(s) + 1
  if nxt is not None:
    _need(symbols is not None, "next: needs `symbols` to name its columns")
    _need(isinstance(nxt, list) and len(nxt) == rows,
          f"next: must have length + 1 = {rows} rows")
    for t, row in enumerate(nxt):
      _need(isinstance(row, list) and len(row) == len(symbols)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
                    for v in row), f"next[{t}]: must be {len(symbols)} probabilities")
      _need(abs(sum(row) - 1.0) < 1e-4, f"next[{t}]: sums to {sum(row)}, not 1")
    nxt = tuple(tuple(float(v) for v in row) for row in nxt)
  if allowed is not None:
    _need(symbols is not None, "next_symbols: needs `symbols`")
    _need(isinstance(allowed, list) and len(allowed) == rows,
          f"next_symbols: must have length + 1 = {rows} lists")
    for t, row in enumerate(allowed):
      _need(isinstance(row, list) and all(x in symbols for x in row)
            and len(set(row)) == len(row), f"next_symbols[{t}]: must list distinct `symbols`")
    allowed = tuple(tuple(row) for row in allowed)
  floats = {}
  for f in ("p_member", "log_odds"):
    v = d.get(f)
    _need(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)),
          f"{f}: must be a number, got {v!r}")
    floats[f] = None if v is None else float(v)
  return Record(string=s, task=d["task"], member=member, label=label, symbols=symbols,
                next=nxt, next_symbols=allowed, **floats)


def from_json(line: str) -> Record:
  try:
    d = json.loads(line)
  except json.JSONDecodeError as e:
    raise ValueError(f"not JSON ({e.msg} at column {e.colno})") from None
  return from_dict(d)


def read_jsonl(lines: Iterable[str]) -> list[Record]:
  """Every record of a JSONL text (an open file or a list of lines); blank lines are
  skipped; ValueError names the line and field of the first bad record."""
  out = []
  for i, line in enumerate(lines, start=1):
    if not line.strip():
      continue
    try:
      out.append(from_json(line))
    except ValueError as e:
      raise ValueError(f"line {i}: {e}") from None
  return out


# TSV ------------------------------------------------------------------------------
def _number(v: float, digits: int | None = None) -> str:
  """Shortest text that reads back as the same float (`repr`), or `digits` significant
  digits; 0 and 1 without `.0`."""
  if v == 0 or v == 1:
    return str(int(v))
  return repr(float(v)) if digits is None else f"{v:.{digits}g}"


def tsv_header(columns: Sequence[str], symbols: Sequence[str] | None = None) -> str:
  """The header line: `next` is written `next[a/b/EOS]`, naming the order of its values."""
  return "\t".join(f"next[{'/'.join(symbols)}]" if c == "next" else c for c in columns)


def tsv_row(record: Record, columns: Sequence[str], digits: int | None = None) -> str:
  """One TSV line of `record` (cells of absent fields are empty); floats exact, or to
  `digits` significant digits."""
  cells = []
  for c in columns:
    v = record.length if c == "length" else getattr(record, c)
    if v is None:
      cells.append("")
    elif c == "next":
      cells.append(" ".join("/".join(_number(x, digits) for x in row) for row in v))
    elif c == "next_symbols":
      cells.append(" ".join("".join(EOS_CHAR if x == EOS else x for x in row) for row in v))
    elif isinstance(v, bool):
      cells.append(str(int(v)))
    elif isinstance(v, float):
      cells.append(_number(v, digits))
    else:
      cells.append(str(v))
  return "\t".join(cells)


def tsv_lines(records: Sequence[Record], columns: Sequence[str],
              symbols: Sequence[str] | None = None, digits: int | None = None) -> Iterable[str]:
  """The header, then one line per record (no newlines)."""
  yield tsv_header(columns, symbols)
  for r in records:
    yield tsv_row(r, columns, digits)


def read_tsv(lines: Iterable[str], task: str) -> list[Record]:
  """Records from a TSV written by `tsv_lines` (header first). ValueError names the line."""
  it = iter(lines)
  try:
    header = next(it).rstrip("\n").split("\t")
  except StopIteration:
    raise ValueError("line 1: empty file, expected a header") from None
  columns, symbols = [], None
  for c in header:
    if c.startswith("next[") and c.endswith("]"):
      symbols = tuple(c[5:-1].split("/"))
      c = "next"
    columns.append(c)
  unknown = [c for c in columns if c not in FIELDS]
  if unknown or "string" not in columns:
    raise ValueError(f"line 1: header {header} needs `string` and only fields of "
                     f"{', '.join(FIELDS)}")
  out = []
  for i, line in enumerate(it, start=2):
    cells = line.rstrip("\n").split("\t")
    if len(cells) != len(columns):
      raise ValueError(f"line {i}: {len(cells)} cells, the header has {len(columns)}")
    d: dict[str, Any] = {"task": task}
    for c, v in zip(columns, cells):
      if v == "":
        continue
      if c == "string":
        d[c] = v
      elif c in ("length", "label"):
        d[c] = int(v)
      elif c == "member":
        d[c] = v == "1"
      elif c in ("p_member", "log_odds"):
        d[c] = float(v)
      elif c == "next":
        d[c] = [[float(x) for x in pos.split("/")] for pos in v.split(" ")]
      elif c == "next_symbols":
        d[c] = [[EOS if ch == EOS_CHAR else ch for ch in pos] for pos in v.split(" ")]
    d.setdefault("string", "")
    d.setdefault("length", len(d["string"]))
    if "next" in d or "next_symbols" in d:
      if symbols is None:
        raise ValueError(f"line {i}: next_symbols without a `next[...]` column naming symbols")
      d["symbols"] = list(symbols)
    try:
      out.append(from_dict(d))
    except ValueError as e:
      raise ValueError(f"line {i}: {e}") from None
  return out
