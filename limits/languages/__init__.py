"""The language registry: `LANGUAGES` maps the names users type to builders.

A spec string is `name` or `name:param=value,flag`, e.g. `parity:odd`, `mod:m=3`,
`dyck_bounded:k=2,depth=3`, `dfa:path=configs/dfa_example.json`. A builder is called as
`builder(p, **params)` with the params as strings; its docstring gives the definition
and source. Adding a language is one module (a `base.Language` subclass, or a DFA for
`automaton.DFALanguage`) and one line here.
"""

from __future__ import annotations

from typing import Callable

from limits.languages import deletang
from limits.languages import counter, dfa, dyck, regular, shuffle_dyck
from limits.languages import spec as spec_lib
from limits.languages.base import Language, TARGETS, TASKS
from limits.languages.tokens import Batch
from limits.languages.parity import Parity


def _int(name: str, value: str, lo: int) -> int:
  try:
    v = int(value)
  except (TypeError, ValueError):
    raise ValueError(f"data.language: {name} must be an integer, got {value!r}") from None
  if v < lo:
    raise ValueError(f"data.language: {name} must be >= {lo}, got {v}")
  return v


def _parity(p: float, odd: str | None = None, prefixes: str = "generator") -> Language:
  """PARITY: even number of 1s (Hahn 2020 §4); `parity:odd` for the odd convention;
  `parity:prefixes=uniform` for uniform-bit prediction prefixes (default: the paper's
  generator conditioned on reaching the length, as `mod:m=2`)."""
  return Parity(p=p, odd=_flag("odd", odd), prefixes=prefixes)


def _flag(name: str, value: str | None) -> bool:
  """A spec flag: absent = False; `name`, `name=true|1|yes` = True; `name=false|0|no` = False."""
  if value is None:
    return False
  v = value.strip().lower()
  if v in ("", "true", "1", "yes"):
    return True
  if v in ("false", "0", "no"):
    return False
  raise ValueError(f"data.language: {name} is a flag (write '{name}' or '{name}=true|false'), "
                   f"got {name}={value!r}")


def _majority(p: float) -> Language:
  """MAJORITY: strictly more 1s than 0s."""
  return regular.Majority(p)


def _anbn(p: float) -> Language:
  """a^n b^n (Hahn 2020 §5 positive control)."""
  return counter.Counter(p, letters=2)


def _anbncn(p: float) -> Language:
  """a^n b^n c^n (Bhattamishra et al. 2020)."""
  return counter.Counter(p, letters=3)


def _dyck(p: float, k: str = "2", negatives: str = "mixed") -> Language:
  """k-DYCK (Hahn 2020 §4; 2DYCK = dyck:k=2); recognition negatives `mixed` (type
  mismatches, substitutions, uniform; dyck.MIXED_SHARES) or `negatives=uniform`."""
  return dyck.Dyck(p, k=_int("k", k, 1), negatives=negatives)


def _dyck_bounded(p: float, k: str = "2", depth: str = "3", negatives: str = "mixed") -> Language:
  """Dyck-(k, D): k-DYCK with depth <= D (Yao et al. 2021); negatives as for dyck."""
  return dyck.Dyck(p, k=_int("k", k, 1), depth=_int("depth", depth, 1), negatives=negatives)


def _shuffle_dyck(p: float, k: str = "2") -> Language:
  """Shuffle-k-Dyck (Bhattamishra et al. 2020)."""
  return shuffle_dyck.ShuffleDyck(p, k=_int("k", k, 1))


LANGUAGES: dict[str, Callable[..., Language]] = {
    "parity": _parity,
    "first": regular.first,
    "one": regular.one,
    "majority": _majority,
    "aa_star": regular.aa_star,
    "ab_star": regular.ab_star,
    "mod": regular.mod,
    **{f"tomita{i}": regular.tomita(i) for i in range(1, 8)},
    "dfa": dfa.load,
    "anbn": _anbn,
    "anbncn": _anbncn,
    "dyck": _dyck,
    "dyck_bounded": _dyck_bounded,
    "shuffle_dyck": _shuffle_dyck,
    "even_pairs": deletang.even_pairs,
    "parity_check": deletang.parity_check,
    "cycle_navigation": deletang.cycle_navigation,
    "modular_arithmetic": deletang.modular_arithmetic,
}


def make_language(spec: str, p: float = 0.5, *, near_miss_fraction: float = 0.0,
                  targets: str = "distribution") -> Language:
  """Builds the language named by `spec`; ValueError names an unknown name or param.

  near_miss_fraction and targets: see `Language.configure` (data.near_miss_fraction,
  data.targets in the config).
  """
  name, params = spec_lib.parse_spec(spec)
  if name not in LANGUAGES:
    raise ValueError(f"data.language: unknown language {name!r}; "
                     f"allowed: {', '.join(sorted(LANGUAGES))}")
  try:
    lang = LANGUAGES[name](p, **params)
  except TypeError:
    raise ValueError(f"data.language: bad parameters {params} for {name!r} "
                     f"(spec {spec!r})") from None
  return lang.configure(near_miss_fraction=near_miss_fraction, targets=targets)


__all__ = ["Batch", "Language", "LANGUAGES", "TARGETS", "TASKS", "make_language"]
