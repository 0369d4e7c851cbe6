"""What an export holds: its config (`launch.export`'s flags), checked, and its split plan.

Splits in key order: train and validation at the training lengths, then one test split
per length bin; rows spread evenly over a split's lengths (`row_lengths`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from limits import languages
from limits.config.parse import format_lengths
from limits import records as records_lib

LAYOUTS = ("native", "flare")


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


def has_generator(lang) -> bool:
  return "prediction" in getattr(lang, "supported_tasks", languages.TASKS)


def check(cfg: ExportConfig):
  """(cfg, language) after validation; ValueError naming the flag otherwise."""
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
