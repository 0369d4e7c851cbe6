"""What the atlas writes: per-language measurements (`measure`), atlas.csv's rows
(`atlas_rows`, `COLUMNS`), the atlas.md report and the figures."""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from limits import atomic
from limits.atlas.entries import BASIS, PREDICTION, SUCCESS, Entry


def _fmt(v: Any) -> Any:
  if isinstance(v, (bool, np.bool_)):
    return "true" if v else "false"
  if isinstance(v, float):
    return round(v, 4)
  return v


def measure(rows: Sequence[dict[str, Any]], max_train: int) -> dict[str, dict[str, Any]]:
  """Per member language: id/ood accuracy and cross-entropy (mean over members), best
  member's OOD accuracy, share of members that generalise (both >= SUCCESS)."""
  per: dict[str, dict[int, list[dict]]] = {}
  for r in rows:
    per.setdefault(r["language"], {}).setdefault(int(r["member"]), []).append(r)
  out = {}
  for lang, members in per.items():
    stats = []
    for rs in members.values():
      idr = [r for r in rs if int(r["length"]) <= max_train]
      oodr = [r for r in rs if int(r["length"]) > max_train]
      mean = lambda xs, k: float(np.mean([x[k] for x in xs])) if xs else float("nan")
      stats.append((mean(idr, "accuracy"), mean(oodr, "accuracy"), mean(idr, "xent_bits"),
                    mean(oodr, "xent_bits"), bool(rs[0]["diverged"])))
    s = np.array([x[:4] for x in stats])
    ok = [(a >= SUCCESS and b >= SUCCESS and not dv) for a, b, _, _, dv in stats]
    out[lang] = {"id_accuracy": float(np.mean(s[:, 0])), "ood_accuracy": float(np.mean(s[:, 1])),
                 "best_ood_accuracy": float(np.max(s[:, 1])),
                 "id_xent_bits": float(np.mean(s[:, 2])), "ood_xent_bits": float(np.mean(s[:, 3])),
                 "members": len(stats), "seed_success": float(np.mean(ok)),
                 "observed": any(ok)}
  return out


COLUMNS = ("language", "name", "alphabet", "states", "monoid_size", "aperiodic",
           "quasi_aperiodic", "r_trivial", "r_omega", "c_rasp", "avg_sensitivity_8",
           "avg_sensitivity_16", "avg_sensitivity_32", "counter_word", "qa_witness_length",
           "model", "predicted", "basis", "predicted_soft_growing_n", "trained",
           "id_accuracy", "ood_accuracy", "best_ood_accuracy", "id_xent_bits",
           "ood_xent_bits", "members", "seed_success", "observed", "agree", "contradicts",
           "dfa")


def atlas_rows(entries: Sequence[Entry], measured: dict[str, dict[str, dict]],
               kinds: Sequence[str]) -> list[dict[str, Any]]:
  rows = []
  for e in entries:
    s = e.verdict.summary()
    preds = e.verdict.predictions()
    for kind in kinds:
      m = measured.get(kind, {}).get(e.train_spec)
      predicted = preds[PREDICTION[kind]][0]
      row = {**{k: s[k] for k in COLUMNS if k in s}, "language": e.spec, "name": e.name,
             "alphabet": "".join(e.alphabet), "model": kind, "predicted": predicted,
             "basis": BASIS[kind], "predicted_soft_growing_n": preds["soft_growing_n"][0],
             "trained": m is not None, "dfa": e.verdict.dfa.describe()}
      if m is not None:
        row.update({k: m[k] for k in ("id_accuracy", "ood_accuracy", "best_ood_accuracy",
                                      "id_xent_bits", "ood_xent_bits", "members",
                                      "seed_success", "observed")})
        row["agree"] = predicted == m["observed"]
        # A necessary condition (uhat) or an expressivity claim (lstm) is contradicted
        # only by a language learnt against "cannot"; C-RASP (soft) by any disagreement.
        row["contradicts"] = (not row["agree"]) and (kind == "soft" or m["observed"])
      rows.append({k: _fmt(row.get(k, "")) for k in COLUMNS})
  return rows


def _witness(e: Entry) -> str:
  """The algebra's witnesses for a language, one phrase each."""
  v, s = e.verdict, e.verdict.summary()
  parts = []
  if v.counter:
    parts.append(f"counter {s['counter_word']!r} rotates states {s['counter_cycle']}")
  if not v.quasi_aperiodic:
    parts.append(f"not AC0: word {v.qa_witness!r} of length {v.stability_index} in the "
                 f"stable semigroup acts as a counter")
  if v.c_rasp_witness:
    parts.append(f"not C-RASP: {s['c_rasp_witness']}")
  if v.r_trivial:
    parts.append("R-trivial")
  return "; ".join(parts) or "C-RASP, not R-trivial"


def write_report(path: str, rows: Sequence[dict[str, Any]], entries: Sequence[Entry],
                 header: Sequence[str]) -> None:
  by_spec = {e.spec: e for e in entries}
  lines = ["# Regular-language atlas", "", *header, ""]
  lines += ["Observed = some seed reaches in-distribution and out-of-distribution accuracy "
            f">= {SUCCESS}. Predictions: " + "; ".join(f"{k}: {b}" for k, b in BASIS.items()),
            ""]
  for kind in dict.fromkeys(r["model"] for r in rows):
    rs = [r for r in rows if r["model"] == kind and r["trained"] == "true"]
    lines += [f"## {kind}", "", "| predicted \\ observed | succeeds | fails |", "|---|---|---|"]
    for p in ("true", "false"):
      a = sum(r["predicted"] == p and r["observed"] == "true" for r in rs)
      b = sum(r["predicted"] == p and r["observed"] == "false" for r in rs)
      lines.append(f"| {'can' if p == 'true' else 'cannot'} | {a} | {b} |")
    agree = sum(r["agree"] == "true" for r in rs)
    lines += ["", f"{agree} of {len(rs)} trained languages agree.", ""]
    dis = [r for r in rs if r["agree"] == "false"]
    if dis:
      lines += ["Disagreements:", ""]
      for r in dis:
        e = by_spec[r["language"]]
        lines.append(f"- `{r['language']}` (predicted {'can' if r['predicted'] == 'true' else 'cannot'}, "
                     f"OOD accuracy {r['ood_accuracy']}, best {r['best_ood_accuracy']}, "
                     f"in-distribution {r['id_accuracy']}, seeds generalising "
                     f"{r['seed_success']}{'' if r['contradicts'] == 'true' else '; not a contradiction: the prediction is ' + BASIS[kind].split(' ')[0]}"
                     f"): {_witness(e)}; DFA {r['dfa']}")
      lines.append("")
  skipped = [e for e in entries if not e.trainable]
  if skipped:
    lines += ["## Not trained", ""]
    lines += [f"- `{e.spec}`: {e.reason}; DFA {e.verdict.dfa.describe()}" for e in skipped]
    lines.append("")
  with atomic.atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      f.write("\n".join(lines) + "\n")


def language_class(row: dict[str, Any]) -> str:
  if row["c_rasp"] == "true":
    return "C-RASP"
  if row["aperiodic"] == "true":
    return "star-free, not C-RASP"
  if row["quasi_aperiodic"] == "true":
    return "periodic, in AC0"
  return "not in AC0"


CLASS_COLORS = {"C-RASP": "tab:green", "star-free, not C-RASP": "tab:blue",
                "periodic, in AC0": "tab:orange", "not in AC0": "tab:red"}


def figures(rows: Sequence[dict[str, Any]], outdir: str) -> list[str]:
  from limits import plots   # matplotlib (Agg) only when drawing
  plt = plots.plt
  os.makedirs(outdir, exist_ok=True)
  trained = [r for r in rows if r["trained"] == "true"]
  kinds = list(dict.fromkeys(r["model"] for r in rows))
  markers = dict(zip(kinds, "o^s"))
  fig, ax = plt.subplots(figsize=(6.5, 4.2))
  for cls, color in CLASS_COLORS.items():
    for kind in kinds:
      pts = [r for r in trained if r["model"] == kind and language_class(r) == cls]
      if pts:
        ax.scatter([float(r["avg_sensitivity_16"]) for r in pts],
                   [float(r["ood_accuracy"]) for r in pts], c=color, marker=markers[kind],
                   alpha=0.75, label=f"{cls} ({kind})", s=22)
  ax.set(xlabel="average sensitivity at n = 16 (exact)", ylabel="OOD accuracy (mean over seeds)",
         ylim=(0, 1.05), title="Regular-language atlas")
  ax.legend(fontsize=6, loc="lower left")
  paths = [os.path.join(outdir, "atlas_scatter.png")]
  plots._save(fig, paths[0])
  plt.close(fig)
  langs = sorted({r["language"] for r in trained},
                 key=lambda l: (list(CLASS_COLORS).index(language_class(
                     next(r for r in trained if r["language"] == l))), l))
  if langs:
    grid = np.full((len(langs), len(kinds)), np.nan)
    for r in trained:
      grid[langs.index(r["language"]), kinds.index(r["model"])] = float(r["ood_accuracy"])
    fig, ax = plt.subplots(figsize=(4 + len(kinds), 1.5 + 0.16 * len(langs)))
    im = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0.5, vmax=1.0)
    ax.set_xticks(range(len(kinds)), kinds)
    ax.set_yticks(range(len(langs)), [l[-28:] for l in langs], fontsize=5)
    for i, l in enumerate(langs):
      cls = language_class(next(r for r in trained if r["language"] == l))
      ax.add_patch(plots.matplotlib.patches.Rectangle((-0.9, i - 0.5), 0.35, 1,
                                                      color=CLASS_COLORS[cls], clip_on=False))
    ax.set_xlim(-0.5, len(kinds) - 0.5)
    fig.colorbar(im, ax=ax, label="OOD accuracy")
    ax.set_title("languages by class (strip) x model kind", fontsize=8)
    fig.tight_layout()
    paths.append(os.path.join(outdir, "atlas_grid.png"))
    plots._save(fig, paths[1])
    plt.close(fig)
  return paths
