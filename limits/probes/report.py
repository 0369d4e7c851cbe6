"""A probe's result as files and as the lines a person reads first (`launch.analyze`).

`write(result, outdir, name)` writes NAME.json (all data), NAME.csv (one row per member x
n, `common.rows`) and the figures (`figures.draw`), each atomically; `summary_lines(result)`
is one line per member, in the words of the probe's theorem (`SUMMARIES`, keyed like
`PROBES`).
"""

from __future__ import annotations

import csv
import json
import os
from typing import Any, Callable

from limits import atomic
from limits.probes import common, figures


def _sensitivity(m: dict[str, Any]) -> str:
  ci = m.get("slope_ci")
  ci_s = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
  slope = f"{m['slope']:.3f}" if m["slope"] is not None else "none (no change)"
  last = m["per_n"][-1]
  b = last.get("bound")
  tight = last.get("tightness")
  return (f"slope {slope}{ci_s}; n*change trend {m.get('n_change_trend')}; "
          f"at n={last['n']} change mean {last['mean_change']:.3g} max "
          f"{last['max_change']:.3g}, bound {b if b is None else f'{b:.3g}'}"
          + (f" (bound/measured {tight:.3g})" if tight else "")
          + (f" ({m['bound_note']})" if m["bound_note"] else ""))


def _restriction(m: dict[str, Any]) -> str:
  return "influential model/language/free, subcube error, verdict " + "; ".join(
      f"n={r['n']}: {r['influential']}/{r['language_influential']}/{r['free']}, "
      f"{r['subcube_error']:.3f}, {r['verdict']}" for r in m["per_n"])


def _xent(m: dict[str, Any]) -> str:
  return "xent_last - optimal " + ", ".join(
      f"n={r['n']}: {r['excess_last_bits']:.3f}" for r in m["per_n"])


def _function_sensitivity(m: dict[str, Any]) -> str:
  return f"sharpness {m['sharpness_bits']:.4f} bits; avg sensitivity " + ", ".join(
      f"n={r['n']}: {r['avg_sensitivity']:.2f}" for r in m["per_n"])


def _attention(m: dict[str, Any]) -> str:
  if not m["per_n"]:
    return m.get("note", "")
  return "normalized entropy " + ", ".join(
      f"n={r['n']}: {r['mean_normalized_entropy']:.3f}" for r in m["per_n"])


SUMMARIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "sensitivity": _sensitivity, "restriction": _restriction, "xent": _xent,
    "function_sensitivity": _function_sensitivity, "attention": _attention}


def summary_lines(result: dict[str, Any]) -> list[str]:
  """One line per member: the numbers a person wants to see first."""
  line = SUMMARIES.get(result["probe"])
  if line is None:
    return []
  return [f"member {m['member']} (L={m['depth']} H={m['heads']} {m['kind']} {m['attention']}): "
          f"{line(m)}" for m in result["members"]]


def write(result: dict[str, Any], outdir: str, name: str) -> list[str]:
  """NAME.json, NAME.csv and the figures into outdir; returns the paths."""
  os.makedirs(outdir, exist_ok=True)
  path = os.path.join(outdir, f"{name}.json")
  atomic.write_text(path, json.dumps(common.jsonable(result), indent=1))
  rows = common.jsonable(common.rows(result))
  flat = [{k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()}
          for r in rows]
  csv_path = os.path.join(outdir, f"{name}.csv")
  columns = list(dict.fromkeys(k for r in flat for k in r))
  with atomic.atomic_path(csv_path) as tmp, open(tmp, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=columns)
    w.writeheader()
    w.writerows({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()} for r in flat)
  return [path, csv_path] + figures.draw(result, outdir, name)
