"""Results as data: `results.csv`, `metrics.jsonl`, and the table printed to a terminal.

Only process 0 writes files (callers pass `write=jax.process_index() == 0`).
"""

from __future__ import annotations

import csv
import json
import os
from typing import Any, Sequence

from limits import population
from limits.atomic import atomic_path

# Every column of results.csv, in order (README "What the numbers mean" defines each).
RESULT_COLUMNS = ("step", "language", "task", "member", "depth", "heads", "seed", "lr",
                  "train_length", "length", "accuracy", "xent_bits", "optimal_xent_bits",
                  "chance_xent_bits", "diverged", "diverged_step", "stopped_step", "kind", "width",
                  "attention", "layer_norm", "positional", "key_dim")


def model_fields(exp) -> dict[str, Any]:
  """The model fields shared by every member, written beside every result row."""
  from limits import population
  m = exp.model
  return {"kind": m.kind, "width": m.width, "attention": m.attention,
          "layer_norm": m.layer_norm, "positional": m.positional,
          "key_dim": population.head_width(m, exp.members) if m.kind == "transformer" else 0}


def result_rows(exp, step: int, members, per_member: Sequence[Sequence[dict[str, float]]],
                diverged_step: Sequence[int],
                stopped_step: Sequence[int] | None = None) -> list[dict[str, Any]]:
  """One row per member x evaluated length, in `RESULT_COLUMNS` (heads 0 for an LSTM)."""
  rows = []
  attention = exp.model.kind == "transformer"
  for i, (mem, per_length) in enumerate(zip(members, per_member)):
    base = {"step": step, "language": mem.language or exp.data.language, "task": exp.data.task,
            "member": i, "depth": mem.depth, "heads": mem.heads if attention else 0,
            "seed": mem.seed, "lr": mem.learning_rate,
            "train_length": mem.train_range, "diverged": int(diverged_step[i] >= 0),
            "diverged_step": int(diverged_step[i]),
            "stopped_step": int(stopped_step[i]) if stopped_step is not None else -1}
    own = {"positional": mem.positional} if mem.positional else {}   # sweep.positionals
    for r in per_length:
      rows.append({**base, **r, **model_fields(exp), **own})
  return rows


def is_out_of_distribution(row: dict[str, Any]) -> bool:
  """Whether the row's length lies beyond its member's largest training length."""
  return int(row["length"]) > population.train_bounds(row["train_length"])[1]


# A member generalises when its mean accuracy beyond its training lengths reaches this
# (the atlas's success threshold too): length generalisation varies widely across seeds
# (Zhou et al. 2024), so summaries count the seeds that make it, beside mean and best.
GENERALISES_AT = 0.9

# What names a group of members in a summary (seeds and learning rates vary inside one).
GROUP_FIELDS = ("language", "kind", "train_length", "depth", "heads", "positional")


def group_fields(rows: Sequence[dict[str, Any]]) -> tuple[str, ...]:
  """kind, train_length, depth and heads, and language and positional where they vary."""
  return tuple(f for f in GROUP_FIELDS if f in ("kind", "train_length", "depth", "heads")
               or len({r.get(f) for r in rows}) > 1)


def member_label(row: dict[str, Any], flags: Sequence[str] = ()) -> str:
  """A group's short name: `L2H4` for a transformer, `LSTM` (`LSTM L2` with the flag
  `lstm_depth`), with `-<positional>` and `@<train_length>` under those flags
  (`label_flags`: what varies among the rows)."""
  if row.get("kind", "transformer") == "transformer":
    name = f"L{row['depth']}H{row['heads']}"
  else:
    name = str(row["kind"]).upper() + (f" L{row['depth']}" if "lstm_depth" in flags else "")
  if "positional" in flags:
    name += f"-{row['positional']}"
  if "train_length" in flags:
    name += f"@{row['train_length']}"
  return name


def label_flags(rows: Sequence[dict[str, Any]]) -> tuple[str, ...]:
  """What `member_label` must show to tell the rows' groups apart."""
  lstm_depths = {r["depth"] for r in rows if r.get("kind", "transformer") != "transformer"}
  return (("positional",) if len({r.get("positional") for r in rows}) > 1 else ()) + (
      ("lstm_depth",) if len(lstm_depths) > 1 else ()) + (
      ("train_length",) if len({r["train_length"] for r in rows}) > 1 else ())


def _mean(values: Sequence[float]) -> float:
  return sum(values) / len(values) if values else float("nan")


def summary(rows: Sequence[dict[str, Any]],
            threshold: float = GENERALISES_AT) -> list[dict[str, Any]]:
  """One row per group of members (`group_fields`: per training length, depth and heads,
  and per language, kind and positional encoding where those vary).

  A member's accuracy is its mean over evaluated lengths beyond its training lengths
  (over all lengths when there are none); `mean_ood_accuracy` and `best_ood_accuracy`
  are over the group's seeds and learning rates, `generalised` counts the members whose
  accuracy is at least `threshold` (`frac_generalised` = generalised / live members),
  `id_accuracy` and the cross-entropies are group means (in distribution: at most the
  largest training length). Diverged members count in `diverged` and in nothing else.
  """
  fields = group_fields(rows)
  per_member: dict[int, list[dict[str, Any]]] = {}
  for r in rows:
    per_member.setdefault(r["member"], []).append(r)
  groups: dict[tuple, dict[str, list]] = {}
  for rs in per_member.values():
    key = tuple(rs[0].get(f) for f in fields)
    g = groups.setdefault(key, {"ood": [], "id": [], "ood_xent": [], "diverged": []})
    if rs[0]["diverged"]:
      g["diverged"].append(rs[0]["member"])
      continue
    ood = [r for r in rs if is_out_of_distribution(r)] or rs
    within = [r for r in rs if not is_out_of_distribution(r)] or rs
    g["ood"].append(_mean([float(r["accuracy"]) for r in ood]))
    g["id"].append(_mean([float(r["accuracy"]) for r in within]))
    g["ood_xent"].append(_mean([float(r["xent_bits"]) for r in ood]))
  out = []
  for key, g in groups.items():
    live = len(g["ood"])
    hit = sum(a >= threshold for a in g["ood"])
    out.append({**dict(zip(fields, key)), "members": live + len(g["diverged"]),
                "id_accuracy": _mean(g["id"]),
                "mean_ood_accuracy": _mean(g["ood"]),
                "best_ood_accuracy": max(g["ood"]) if g["ood"] else float("nan"),
                "generalised": hit, "frac_generalised": hit / live if live else float("nan"),
                "mean_ood_xent_bits": _mean(g["ood_xent"]),
                "diverged": len(g["diverged"])})
  return out


def per_length_table(rows: Sequence[dict[str, Any]], metric: str = "accuracy") -> tuple[list[dict[str, Any]], list[str]]:
  """(table, columns): one row per length, one column per group of members (`member_label`,
  prefixed by `<language> ` when languages vary) holding `metric` averaged over seeds and
  learning rates (diverged members left out)."""
  label_fields = label_flags(rows)
  langs = list(dict.fromkeys(r.get("language") for r in rows))
  by_language = len(langs) > 1
  groups: dict[str, dict[int, list[float]]] = {}
  order: dict[str, tuple] = {}
  for r in rows:
    if r.get("diverged"):
      continue
    name = (f"{r['language']} " if by_language else "") + member_label(r, label_fields)
    order.setdefault(name, (langs.index(r.get("language")),
                            r.get("kind", "transformer") != "transformer", name))
    groups.setdefault(name, {}).setdefault(r["length"], []).append(r[metric])
  lengths = sorted({r["length"] for r in rows})
  columns = sorted(groups, key=lambda c: order[c])
  table = []
  for n in lengths:
    row: dict[str, Any] = {"length": n}
    for c in columns:
      vals = groups[c].get(n, [])
      row[c] = sum(vals) / len(vals) if vals else float("nan")
    table.append(row)
  return table, columns


def _span(lengths: Sequence[int]) -> str:
  lengths = sorted(set(int(n) for n in lengths))
  return "-" if not lengths else str(lengths[0]) if len(lengths) == 1 else f"{lengths[0]}-{lengths[-1]}"


def references(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
  """Per language, what an optimal and a chance model score, in the summary's columns:
  accuracy 1 and (recognition, classes balanced) 0.5, cross-entropy the mean of
  `optimal_xent_bits` / `chance_xent_bits` over the lengths beyond training."""
  out = []
  for lang in dict.fromkeys(r["language"] for r in rows):
    rs = [r for r in rows if r["language"] == lang]
    ood = [r for r in rs if is_out_of_distribution(r)] or rs
    by_n = {r["length"]: r for r in ood}
    recognition = rs[0].get("task") == "recognition"
    for name, acc, col in (("optimal", 1.0, "optimal_xent_bits"),
                           ("chance", 0.5 if recognition else float("nan"), "chance_xent_bits")):
      out.append({"language": lang, "model": name, "id_accuracy": acc, "mean_ood_accuracy": acc,
                  "mean_ood_xent_bits": _mean([float(r[col]) for r in by_n.values()])})
  return out


def report(rows: Sequence[dict[str, Any]], max_rows: int = 25) -> str:
  """The text `launch.train` prints for a population: accuracy per length (one column per
  group, languages side by side), the summary per group with optimal and chance beside
  it, and one closing line of measured numbers per language and model kind."""
  table, columns = per_length_table(rows)
  by_language = len({r["language"] for r in rows}) > 1
  recognition = rows[0].get("task") == "recognition"
  out = ["accuracy per length (mean over seeds and learning rates; optimal 1"
         + (", chance 0.5: classes are balanced):" if recognition else "):"),
         format_table(table, ["length"] + columns, max_rows=max_rows, spans=by_language)]
  if len(table) > max_rows:
    out.append(f"(a selection of the {len(table)} lengths; all are in results.csv)")
  fields = group_fields(rows)
  label_fields = label_flags(rows)
  summ = summary(rows)
  lines = []
  for lang in dict.fromkeys(r["language"] for r in rows):
    for g in summ:
      if g.get("language", rows[0]["language"]) == lang:
        lines.append({**g, "language": lang, "model": member_label(g, label_fields),
                      "seeds >= %.1f" % GENERALISES_AT: f"{g['generalised']}/{g['members'] - g['diverged']}"})
    for ref in references([r for r in rows if r["language"] == lang]):
      lines.append({**{k: "" for k in ("train_length", "members", "best_ood_accuracy",
                                       "diverged", "seeds >= %.1f" % GENERALISES_AT)}, **ref})
  ids = [r["length"] for r in rows if not is_out_of_distribution(r)]
  ood = [r["length"] for r in rows if is_out_of_distribution(r)]
  gen = "seeds >= %.1f" % GENERALISES_AT
  heads = {"train_length": "train", "id_accuracy": "acc in", "mean_ood_accuracy": "acc beyond",
           "best_ood_accuracy": "best beyond", "mean_ood_xent_bits": "xent beyond"}
  cols = (("language",) if by_language else ()) + (
      "model",) + (("train_length",) if len({r["train_length"] for r in rows}) > 1 else ()) + (
      "members", "id_accuracy", "mean_ood_accuracy", "best_ood_accuracy", gen,
      "mean_ood_xent_bits", "diverged")
  shown = [{heads.get(k, k): v for k, v in line.items()} for line in lines]
  out += ["", f"per model: accuracy in distribution (n = {_span(ids)}) and beyond training "
          f"(n = {_span(ood)}), each a mean over those lengths, then the mean over seeds "
          f"and learning rates; best beyond: the best member; {gen}: members whose "
          f"accuracy beyond training reaches {GENERALISES_AT}; xent beyond: cross-entropy "
          f"in bits, mean over the lengths beyond training:",
          format_table(shown, [heads.get(c, c) for c in cols])]
  out += ["", closing_line(rows)]
  return "\n".join(out)


def closing_line(rows: Sequence[dict[str, Any]]) -> str:
  """One line of measured numbers: per language, each model kind's accuracy beyond the
  training lengths (mean over its groups, and its best group), next to chance."""
  summ = summary(rows)
  label_fields = label_flags(rows)
  parts = []
  for lang in dict.fromkeys(r["language"] for r in rows):
    rs = [r for r in rows if r["language"] == lang]
    ood = sorted({r["length"] for r in rs if is_out_of_distribution(r)})
    kinds = []
    for kind in dict.fromkeys(r.get("kind", "transformer") for r in rs):
      gs = [g for g in summ if g.get("language", lang) == lang
            and g.get("kind", kind) == kind and g["mean_ood_accuracy"] == g["mean_ood_accuracy"]]
      if not gs:
        continue
      best = max(gs, key=lambda g: g["best_ood_accuracy"])
      text = f"{kind} {_mean([g['mean_ood_accuracy'] for g in gs]):.2f}"
      if len(gs) > 1 or best["members"] > 1:
        text += (f" (mean of {sum(g['members'] - g['diverged'] for g in gs)} members; best "
                 f"{member_label(best, label_fields)} {best['best_ood_accuracy']:.2f})")
      kinds.append(text)
    chance = next(r["mean_ood_accuracy"] for r in references(rs) if r["model"] == "chance")
    parts.append(f"{lang} at n = {_span(ood)}: " + ", ".join(kinds)
                 + (f"; chance {chance:.2f}" if chance == chance else ""))
  return "accuracy beyond the training lengths: " + "; ".join(parts) + "."


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
                 max_rows: int | None = None, spans: bool = False) -> str:
  """A fixed-width text table.

  With `max_rows` and more rows than that, shows a selection of the lengths (`_thin`).
  With `spans`, a column named `<group> <name>` is headed `name`, under a line that
  names each run of columns of one group once (the languages of `per_length_table`).
  """
  if max_rows is not None and len(rows) > max_rows:
    rows = _thin(rows, max_rows)
  cell = lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)
  names = [c.rsplit(" ", 1)[-1] for c in columns] if spans else list(columns)
  body = [[cell(r[c]) for c in columns] for r in rows]
  widths = [max(len(c), *(len(b[i]) for b in body)) if body else len(c)
            for i, c in enumerate(names)]
  line = lambda vals: "  ".join(v.rjust(w) for v, w in zip(vals, widths))
  head = [line(names), line(["-" * w for w in widths])]
  if spans:   # "<group> <name>" columns: the group written once above its columns
    top, i = [], 0
    while i < len(columns):
      group = columns[i].rsplit(" ", 1)[0] if " " in columns[i] else ""
      j = i
      while j < len(columns) and (columns[j].rsplit(" ", 1)[0] if " " in columns[j] else "") == group:
        j += 1
      width = sum(widths[i:j]) + 2 * (j - i - 1)
      top.append(group.center(width, "-" if group else " ") if group else " " * width)
      i = j
    head.insert(0, "  ".join(top).rstrip())
  return "\n".join(head + [line(b) for b in body])


def _thin(rows: Sequence[dict[str, Any]], max_rows: int) -> list[dict[str, Any]]:
  """At most `max_rows` rows (if a round step allows): the first and last, every length
  that is a multiple of the smallest round step s (1, 2, 5, 10, ...) that fits, and every
  length at least s past the one before (a sparse grid beyond training stays whole)."""
  def keep(s):
    return [r for i, r in enumerate(rows) if i in (0, len(rows) - 1) or r["length"] % s == 0
            or r["length"] - rows[i - 1]["length"] >= s]
  for s in (k * 10**e for e in range(9) for k in (1, 2, 5)):
    kept = keep(s)
    if len(kept) <= max_rows:
      return kept
  return kept
