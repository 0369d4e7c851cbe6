"""The atlas's languages: named sets and scales, and `resolve` (specs -> entries with
their algebra and a DFA file each population trains on)."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Sequence

import numpy as np

from limits import atomic
from limits.languages import algebra, automaton, deletang
from limits import languages as languages_lib


SUCCESS = 0.9
NAMED_SETS = {
    "tomita": tuple(f"tomita{i}" for i in range(1, 8)),
    "deletang_regular": ("even_pairs", "parity_check", "cycle_navigation",
                         "modular_arithmetic"),
    "named": ("parity", "first", "one", "mod:m=3", "aa_star", "ab_star",
              *(f"tomita{i}" for i in range(1, 8))),
}
SETS = ("all_binary_2", "all_binary_3", *NAMED_SETS)
KINDS = {"soft": {"kind": "transformer", "attention": "soft"},
         "uhat": {"kind": "transformer", "attention": "hard_unique"},
         "lstm": {"kind": "lstm", "attention": "soft"}}
PREDICTION = {"soft": "soft_length_generalisation", "uhat": "uhat", "lstm": "lstm"}
BASIS = {"soft": "exact (C-RASP = length generalisation, Yang et al. 2026)",
         "uhat": "necessary (AC0 bound, Hao et al. 2022)",
         "lstm": "expressivity (every regular language)"}


@dataclasses.dataclass(frozen=True)
class Scale:
  width: int
  depths: tuple[int, ...]
  heads: tuple[int, ...]
  steps: int
  batch: int
  seeds: tuple[int, ...]
  train: str
  ood: str
  eval_batch: int
  learning_rate: float
  languages: str          # the default set
  kinds: tuple[str, ...]


SCALES = {
    # CI: seconds of training, 7 languages, one seed.
    "smoke": Scale(width=16, depths=(1,), heads=(2,), steps=30, batch=16, seeds=(0,),
                   train="1-8", ood="9-16", eval_batch=16, learning_rate=3e-3,
                   languages="tomita", kinds=("soft", "uhat", "lstm")),
    # The README's CPU atlas: all_binary_2 + Tomita, three seeds (measured there).
    "small": Scale(width=32, depths=(2,), heads=(2,), steps=1000, batch=32, seeds=(0, 1, 2),
                   train="1-16", ood="17-48", eval_batch=64, learning_rate=3e-3,
                   languages="all_binary_2+tomita", kinds=("soft", "uhat", "lstm")),
    # One accelerator: all_binary_3, depth x heads x 3 seeds, Delétang et al.'s lengths.
    "paper": Scale(width=64, depths=(1, 2), heads=(2, 4), steps=5000, batch=64,
                   seeds=(0, 1, 2), train="1-40", ood="41-100,110-500:10", eval_batch=128,
                   learning_rate=1e-3, languages="all_binary_3",
                   kinds=("soft", "uhat", "lstm")),
}


@dataclasses.dataclass
class Entry:
  """One language of the atlas: the spec as given, the spec trained, its verdict."""

  spec: str
  name: str
  train_spec: str
  verdict: algebra.Verdict
  alphabet: tuple[str, ...]
  trainable: bool
  reason: str = ""


def _specs(value: str) -> list[tuple[str, str, Any]]:
  """(spec, name, DFA or None) for a set expression `set+set+file`."""
  out = []
  for part in filter(None, (p.strip() for p in value.split("+"))):
    if part.startswith("all_binary_"):
      k = part.removeprefix("all_binary_")
      if k not in ("2", "3"):
        raise ValueError(f"--languages: unknown set {part!r}; allowed: {', '.join(SETS)} "
                         f"or a file of specs")
      for i, d in enumerate(algebra.enumerate_binary(int(k))):
        out.append((f"bin{k}_{i:03d}", f"bin{k}_{i:03d}", d))
    elif part in NAMED_SETS:
      out += [(s, s, None) for s in NAMED_SETS[part]]
    elif os.path.isfile(part):
      with open(part) as f:
        lines = [l.strip() for l in f]
      specs = [l for l in lines if l and not l.startswith("#")]
      if not specs:
        raise ValueError(f"--languages: file {part!r} lists no language spec")
      out += [(s, s, None) for s in specs]
    else:
      raise ValueError(f"--languages: {part!r} is neither a set ({', '.join(SETS)}) nor a "
                       f"file of specs")
  if not out:
    raise ValueError("--languages: no language given")
  return out


def _write_dfa(d: algebra.DFA, path: str) -> str:
  """Writes the DFA as a `dfa:path=` JSON file (unchanged files are left alone)."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  text = json.dumps(algebra.to_json(d), indent=1, sort_keys=True)
  if os.path.exists(path):
    with open(path) as f:
      if f.read() == text:
        return f"dfa:path={path}"
  with atomic.atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      f.write(text)
  return f"dfa:path={path}"


def _both_classes(lang, lengths: Sequence[int]) -> list[int]:
  """Training lengths at which the language has both members and non-members."""
  out = []
  for n in lengths:
    t = lang.np_tables(automaton.bucket(n))
    if np.isfinite(t.log_count[:, n, t.auto.start]).all():
      out.append(n)
  return out


def resolve(value: str, workdir: str, train_lengths: Sequence[int]) -> list[Entry]:
  """The atlas's languages: named sets (SETS), files of specs, joined by `+`.

  A language the library does not sample as a DFA (PARITY's own sampler, Delétang et
  al.'s classification tasks, the enumerated DFAs) is written to
  `workdir/dfas/NAME.json` and trained as `dfa:path=...`: a classification task as the
  language of its class 0, PARITY as its 2-state DFA. A language with no training
  length holding both members and non-members (Sigma*, the empty language, one decided
  by length alone) is kept with its algebra and not trained (`reason`).
  """
  entries = []
  for spec, name, d in _specs(value):
    if d is None:
      lang = languages_lib.make_language(spec)
      d = algebra.dfa_of(lang)
      if isinstance(lang, automaton.DFALanguage):
        train_spec = spec
      else:   # PARITY: output 1 = member; a classification task: class 0 = member
        binary = d.output == (0 if isinstance(lang, deletang.ClassificationTask) else 1)
        d = algebra.make_dfa(d.alphabet, d.delta, d.start, binary.astype(np.int64))
        safe = "".join(c if c.isalnum() else "_" for c in spec)
        train_spec = _write_dfa(algebra.minimize(d), os.path.join(workdir, "dfas", f"{safe}.json"))
    else:
      train_spec = _write_dfa(d, os.path.join(workdir, "dfas", f"{name}.json"))
    v = algebra.analyse(d, name=spec)
    lang = languages_lib.make_language(train_spec)
    ok = _both_classes(lang, train_lengths)
    reason = "" if ok else ("no training length has both members and non-members "
                            "(recognition is decided by the length alone)")
    entries.append(Entry(spec=spec, name=name, train_spec=train_spec, verdict=v,
                         alphabet=tuple(lang.alphabet), trainable=bool(ok), reason=reason))
  return entries
