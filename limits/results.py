"""Results as data: `results.csv`, `metrics.jsonl`, and the table printed to a terminal.

Only process 0 writes files (callers pass `write=jax.process_index() == 0`).
"""

from __future__ import annotations

import csv
import json
import os
from typing import Any, Sequence

from limits.atomic import atomic_path

RESULT_COLUMNS = ("step", "language", "task", "member", "depth", "heads", "seed", "lr",
                  "train_length", "length", "eval_length", "accuracy", "xent_bits",
                  "optimal_xent_bits", "chance_xent_bits", "diverged", "diverged_step")


def model_fields(exp) -> dict[str, Any]:
  """The model fields shared by every member, written beside every result row."""
  from limits import population
  m = exp.model
  return {"kind": m.kind, "width": m.width, "attention": m.attention,
          "layer_norm": m.layer_norm, "positional": m.positional,
          "key_dim": population.head_width(m, exp.members) if m.kind == "transformer" else 0}


def result_rows(exp, step: int, members, per_member: Sequence[Sequence[dict[str, float]]],
                diverged_step: Sequence[int]) -> list[dict[str, Any]]:
  """One row per member x evaluated length (`length` and `eval_length` are the same)."""
  rows = []
  for i, (mem, per_length) in enumerate(zip(members, per_member)):
    base = {"step": step, "language": mem.language or exp.data.language, "task": exp.data.task,
            "member": i,
            "depth": mem.depth, "heads": mem.heads, "seed": mem.seed, "lr": mem.learning_rate,
            "train_length": mem.train_range, "diverged": int(diverged_step[i] >= 0),
            "diverged_step": int(diverged_step[i])}
    own = {"positional": mem.positional} if mem.positional else {}   # sweep.positionals
    for r in per_length:
      rows.append({**base, **r, "eval_length": r["length"], **model_fields(exp), **own})
  return rows


def is_out_of_distribution(row: dict[str, Any]) -> bool:
  """Whether the row's length lies beyond its member's largest training length."""
  return int(row["length"]) > int(str(row["train_length"]).split("-")[-1])


def summary(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
  """depth x heads (per training length) -> mean and best out-of-distribution accuracy.

  Accuracy per member is its mean over evaluated lengths beyond its training lengths
  (over all lengths when there are none); mean and best are over seeds and learning
  rates. Diverged members count in `diverged` and not in the accuracies.
  """
  per_member: dict[int, list[dict[str, Any]]] = {}
  for r in rows:
    per_member.setdefault(r["member"], []).append(r)
  groups: dict[tuple, list[float]] = {}
  diverged: dict[tuple, int] = {}
  by_pe = len({r.get("positional") for r in rows}) > 1   # sweep.positionals: one group each
  for rs in per_member.values():
    key = (rs[0]["train_length"], rs[0]["depth"], rs[0]["heads"]) + (
        (rs[0]["positional"],) if by_pe else ())
    groups.setdefault(key, [])
    diverged.setdefault(key, 0)
    if rs[0]["diverged"]:
      diverged[key] += 1
      continue
    ood = [r for r in rs if is_out_of_distribution(r)] or rs
    groups[key].append(sum(r["accuracy"] for r in ood) / len(ood))
  out = []
  for key, accs in groups.items():
    train, depth, heads = key[:3]
    out.append({"train_length": train, "depth": depth, "heads": heads,
                **({"positional": key[3]} if by_pe else {}),
                "members": len(accs) + diverged[key],
                "mean_ood_accuracy": sum(accs) / len(accs) if accs else float("nan"),
                "best_ood_accuracy": max(accs) if accs else float("nan"),
                "diverged": diverged[key]})
  return out


def per_length_table(rows: Sequence[dict[str, Any]], metric: str = "accuracy") -> tuple[list[dict[str, Any]], list[str]]:
  """(table, columns): one row per length, one column per training length x depth x heads
  holding `metric` averaged over seeds and learning rates (diverged members left out)."""
  groups: dict[str, dict[int, list[float]]] = {}
  trains = {r["train_length"] for r in rows}
  by_pe = len({r.get("positional") for r in rows}) > 1
  for r in rows:
    if r.get("diverged"):
      continue
    name = (f"L{r['depth']}H{r['heads']}" + (f"-{r['positional']}" if by_pe else "")
            + (f"@{r['train_length']}" if len(trains) > 1 else ""))
    groups.setdefault(name, {}).setdefault(r["length"], []).append(r[metric])
  lengths = sorted({r["length"] for r in rows})
  columns = sorted(groups)
  table = []
  for n in lengths:
    row: dict[str, Any] = {"length": n}
    for c in columns:
      vals = groups[c].get(n, [])
      row[c] = sum(vals) / len(vals) if vals else float("nan")
    table.append(row)
  return table, columns


def write_csv(path: str, rows: Sequence[dict[str, Any]]) -> None:
  """Writes rows atomically (a reader never sees a half-written file)."""
  if not rows:
    return
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  columns = list(RESULT_COLUMNS) + [k for k in rows[0] if k not in RESULT_COLUMNS]
  with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=columns)
    w.writeheader()
    for r in rows:
      w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


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
      with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.writelines(keep)

  def write(self, step: int, metrics: dict[str, float]) -> None:
    """Appends one line; a failed write (disk full) is cut back off before re-raising."""
    data = (json.dumps({"step": step, **metrics}) + "\n").encode()
    fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
      start = os.lseek(fd, 0, os.SEEK_END)
      try:
        view = memoryview(data)
        while view:
          view = view[os.write(fd, view):]
      except BaseException:
        os.ftruncate(fd, start)
        raise
    finally:
      os.close(fd)


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
