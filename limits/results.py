"""Results as data: `results.csv`, `metrics.jsonl`, and the table printed to a terminal.

Only process 0 writes files (callers pass `write=jax.process_index() == 0`).
"""

from __future__ import annotations

import csv
import json
import os
from typing import Any, Sequence

RESULT_COLUMNS = ("step", "language", "task", "length", "accuracy", "xent_bits",
                  "optimal_xent_bits", "chance_xent_bits")


def model_fields(exp) -> dict[str, Any]:
  """The model and training fields written beside every result row."""
  m, t = exp.model, exp.train
  return {"depth": m.depth, "heads": m.heads, "width": m.width, "attention": m.attention,
          "layer_norm": m.layer_norm, "positional": m.positional, "seed": t.seed,
          "lr": t.learning_rate, "train_lengths": f"{min(exp.data.train_lengths)}-"
                                                  f"{max(exp.data.train_lengths)}"}


def result_rows(exp, step: int, per_length: Sequence[dict[str, float]]) -> list[dict[str, Any]]:
  base = {"step": step, "language": exp.data.language, "task": exp.data.task}
  return [{**base, **r, **model_fields(exp)} for r in per_length]


def write_csv(path: str, rows: Sequence[dict[str, Any]]) -> None:
  """Writes rows atomically (a reader never sees a half-written file)."""
  if not rows:
    return
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  columns = list(RESULT_COLUMNS) + [k for k in rows[0] if k not in RESULT_COLUMNS]
  tmp = path + ".tmp"
  with open(tmp, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=columns)
    w.writeheader()
    for r in rows:
      w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
  os.replace(tmp, path)


def read_csv(path: str) -> list[dict[str, str]]:
  with open(path, newline="") as f:
    return list(csv.DictReader(f))


class MetricsLog:
  """Appends one JSON object per logged step to `metrics.jsonl`.

  On resume from step s, lines for steps > s (written after the checkpoint the run
  resumes from) are dropped, so the log matches an uninterrupted run.
  """

  def __init__(self, path: str, resume_step: int = 0):
    self.path = path
    if os.path.exists(path):
      with open(path) as f:
        keep = []
        for line in f:
          try:
            if json.loads(line).get("step", 0) <= resume_step:
              keep.append(line if line.endswith("\n") else line + "\n")
          except json.JSONDecodeError:
            pass  # a line cut by a kill mid-write
      tmp = path + ".tmp"
      with open(tmp, "w") as f:
        f.writelines(keep)
      os.replace(tmp, path)

  def write(self, step: int, metrics: dict[str, float]) -> None:
    with open(self.path, "a") as f:
      f.write(json.dumps({"step": step, **metrics}) + "\n")


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str],
                 max_rows: int | None = None) -> str:
  """A fixed-width text table.

  With `max_rows` and more rows than that, shows the first row and every row whose
  `length` is a multiple of a round step (1, 2, 5, 10, 20, 50, ...).
  """
  if max_rows is not None and len(rows) > max_rows:
    span = max(r["length"] for r in rows)
    step = next(s * 10**e for e in range(9) for s in (1, 2, 5) if span / (s * 10**e) < max_rows)
    rows = [r for i, r in enumerate(rows) if i == 0 or r["length"] % step == 0]
  cell = lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)
  body = [[cell(r[c]) for c in columns] for r in rows]
  widths = [max(len(c), *(len(b[i]) for b in body)) if body else len(c)
            for i, c in enumerate(columns)]
  line = lambda vals: "  ".join(v.rjust(w) for v, w in zip(vals, widths))
  return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(b) for b in body])
