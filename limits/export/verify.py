"""Checking an export against its manifest and the language's exact oracles."""

from __future__ import annotations

import hashlib
import os

import numpy as np

from limits import config as config_lib
from limits import languages
from limits import records as records_lib
from limits.export.draw import Drawer, length_bucket
from limits.export.layout import MANIFEST, load
from limits.export.plan import has_generator
from limits.export.store import ExportExists, prior_manifest


def verify(out: str) -> list[str]:
  """Problems found in the export at `out` (empty: it is what its manifest says).

  Checks the sha256 of every file and that no file is missing or extra; that each split
  has its manifest counts, only its lengths, and the layout's TSV agrees with its JSONL;
  that splits are disjoint; every label and `member` against the language's exact
  membership oracle; every next-symbol distribution and set against the exact q
  recomputed from the string.
  """
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
  cfg = manifest["config"]
  lang = languages.make_language(cfg["language"], cfg["p"])
  task = manifest["task"]
  names = tuple(manifest["symbols"])
  seen: dict[str, str] = {}
  drawers: dict[int, Drawer] = {}
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
      drawers[L] = Drawer(lang, task, L)
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
