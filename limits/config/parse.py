"""Reading config values: lengths and number lists as users type them, and field checks.

Every function raises a ValueError whose message names the field (`data.train_lengths`)
and what is allowed; `launch/` turns it into one line and exit status 2.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable

MAX_INT = 2**31 - 1      # steps, seeds and sizes live in int32 on device
MAX_LENGTH = 1_000_000   # longest string length a config may ask for
MAX_MEMBERS = 100_000    # largest population a sweep may ask for


def show(v: Any) -> str:
  """A value as one short line for an error message (ConfigDicts print on many lines)."""
  if hasattr(v, "to_dict"):
    v = v.to_dict()
  r = " ".join(repr(v).split())
  return r if len(r) <= 60 else r[:57] + "..."


def parse_lengths(value: Any, field: str) -> tuple[int, ...]:
  """Lengths from `"1-40"`, `"1-200:5"` (step), `"1,2,8-10"`, an int or a sequence."""
  if isinstance(value, int) and not isinstance(value, bool):
    items: Iterable[Any] = [value]
  elif isinstance(value, str):
    items = [s.strip() for s in value.split(",") if s.strip()]
  elif isinstance(value, (list, tuple)):
    items = list(value)
  else:
    raise ValueError(f"{field}: expected lengths like '1-40' or '1,2,8-10', got {show(value)}")
  out: list[int] = []
  for item in items:
    if isinstance(item, int) and not isinstance(item, bool):
      if item > MAX_LENGTH:
        raise ValueError(f"{field}: lengths must be <= {MAX_LENGTH}, got {item}")
      out.append(item)
      continue
    m = re.fullmatch(r"(-?\d+)(?:\s*-\s*(-?\d+)(?::(\d+))?)?", str(item).strip())
    if not m:
      raise ValueError(f"{field}: cannot read {show(item)}; write lengths like '1-40', "
                       f"'1-200:5' or '1,2,8-10'")
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) is not None else lo
    step = int(m.group(3)) if m.group(3) else 1
    if hi < lo or step < 1:
      raise ValueError(f"{field}: empty range {show(item)}")
    if hi > MAX_LENGTH:
      raise ValueError(f"{field}: lengths must be <= {MAX_LENGTH}, got {hi}")
    out.extend(range(lo, hi + 1, step))
  if not out:
    raise ValueError(f"{field}: no lengths given")
  bad = [n for n in out if n < 1]
  if bad:
    raise ValueError(f"{field}: lengths must be >= 1, got {bad[0]}")
  return tuple(sorted(set(out)))


def format_lengths(lengths: Sequence[int]) -> str:
  """`1-40`, `2-40:2` or `1-3,7`: the text `parse_lengths` reads back as `lengths`."""
  xs = sorted(set(int(n) for n in lengths))
  if len(xs) > 2 and len({b - a for a, b in zip(xs, xs[1:])}) == 1 and xs[1] - xs[0] > 1:
    return f"{xs[0]}-{xs[-1]}:{xs[1] - xs[0]}"
  runs, start = [], 0
  for i in range(1, len(xs) + 1):
    if i == len(xs) or xs[i] != xs[i - 1] + 1:
      runs.append(str(xs[start]) if i - 1 == start else f"{xs[start]}-{xs[i - 1]}")
      start = i
  return ",".join(runs)


def parse_numbers(value: Any, field: str, kind: type, lo: float) -> tuple:
  """`"1,2,4"`, `"1-4"` (ints), `"1e-3,3e-4"` (floats), a number or a sequence."""
  if isinstance(value, (list, tuple)):
    items = list(value)
  elif isinstance(value, str):
    items = [s.strip() for s in value.split(",") if s.strip()]
  else:
    items = [value]
  out: list = []
  for item in items:
    if kind is int and isinstance(item, str) and re.fullmatch(r"\d+-\d+", item.strip()):
      a, b = map(int, item.split("-"))
      if b - a >= MAX_MEMBERS:
        raise ValueError(f"{field}: range {item!r} has more than {MAX_MEMBERS} values")
      if b < a:
        raise ValueError(f"{field}: empty range {item!r} (write lo-hi with lo <= hi)")
    try:
      if kind is int and isinstance(item, str) and re.fullmatch(r"\d+-\d+", item):
        a, b = map(int, item.split("-"))
        out.extend(range(a, b + 1))
      elif kind is int:
        if isinstance(item, float) and not item.is_integer():
          raise ValueError
        out.append(int(item))
      else:
        out.append(float(item))
    except (TypeError, ValueError):
      raise ValueError(f"{field}: cannot read {show(item)} as {'an integer' if kind is int else 'a number'}") from None
  bad = [v for v in out if not v >= lo or (kind is float and v <= lo)]
  if bad:
    raise ValueError(f"{field}: values must be {'>=' if kind is int else '>'} {lo}, got {bad[0]}")
  bad = [v for v in out if (kind is int and v > MAX_INT) or (kind is float and not math.isfinite(v))]
  if bad:
    raise ValueError(f"{field}: values must be {'<= ' + str(MAX_INT) if kind is int else 'finite'}"
                     f", got {bad[0]}")
  return tuple(dict.fromkeys(out))


def require(ok: bool, msg: str) -> None:
  if not ok:
    raise ValueError(msg)


def check_int(d: dict[str, Any], key: str, field: str, lo: int) -> None:
  if key not in d:
    return
  v = d[key]
  require(isinstance(v, int) and not isinstance(v, bool),
           f"{field}: expected an integer, got {show(v)}")
  require(lo <= v <= MAX_INT, f"{field}: must be in [{lo}, {MAX_INT}], got {v}")


def check_float(d: dict[str, Any], key: str, field: str, lo: float, hi: float | None = None,
           open_lo: bool = False) -> None:
  if key not in d:
    return
  v = d[key]
  require(isinstance(v, (int, float)) and not isinstance(v, bool),
           f"{field}: expected a number, got {show(v)}")
  require(math.isfinite(v), f"{field}: must be a finite number, got {v}")
  ok = v > lo if open_lo else v >= lo
  ok = ok and (hi is None or v < hi)
  rng = f"({lo}, {hi})" if hi is not None else (f"> {lo}" if open_lo else f">= {lo}")
  require(ok, f"{field}: must be {rng}, got {v}")
  d[key] = float(v)


def check_choice(d: dict[str, Any], key: str, field: str, allowed: tuple[str, ...]) -> None:
  if key not in d:
    return
  v = d[key]
  if not isinstance(v, str) or v not in allowed:
    raise ValueError(f"{field}: unknown value {show(v)}; allowed: {', '.join(allowed)}")
