"""An export's files in each layout (native JSONL + TSV, FLaRe's), its manifest, and
reading them back into records (`load`).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Sequence

from limits import records as records_lib
from limits.export.draw import KEYS
from limits.export.plan import ExportConfig, Split, format_lengths

MANIFEST = "manifest.json"
FORMAT, VERSION = "limits.export", 1


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
