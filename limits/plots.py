"""Matplotlib figures drawn from result rows (data first, pictures second)."""

from __future__ import annotations

import os
from typing import Any, Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from limits import atomic  # noqa: E402
from limits import results  # noqa: E402


def _save(fig, path: str) -> None:
  """PNG via a temporary file and a rename: a full disk leaves no half-written picture."""
  with atomic.atomic_path(path) as tmp:
    fig.savefig(tmp, dpi=120, format="png")


def _groups(rows: Sequence[dict[str, Any]]) -> dict[tuple, dict[int, list[dict[str, Any]]]]:
  """(train_length, depth, heads) -> length -> rows of the non-diverged members."""
  out: dict[tuple, dict[int, list]] = {}
  for r in rows:
    if not r.get("diverged", 0):
      out.setdefault((r["train_length"], r["depth"], r["heads"]), {}).setdefault(
          r["length"], []).append(r)
  return out


def _train_bounds(train_length: str) -> tuple[int, int]:
  lo, _, hi = str(train_length).partition("-")
  return int(lo), int(hi or lo)


def length_curves(rows: Sequence[dict[str, Any]], outdir: str, title: str) -> list[str]:
  """accuracy.png and xent.png against length (one line per training length x depth x
  heads, mean over seeds and learning rates), and heatmap_<train>.png (depth x heads ->
  mean out-of-distribution accuracy) when depth or heads vary. Returns the paths."""
  os.makedirs(outdir, exist_ok=True)
  groups = _groups(rows)
  many = len(groups) > 1
  paths = []
  for metric, ylabel, name in (("accuracy", "accuracy", "accuracy.png"),
                               ("xent_bits", "cross-entropy (bits)", "xent.png")):
    fig, ax = plt.subplots(figsize=(6.5, 4))
    trains = sorted({k[0] for k in groups}, key=lambda t: _train_bounds(t))
    if len(trains) == 1:
      lo, hi = _train_bounds(trains[0])
      ax.axvspan(lo - 0.5, hi + 0.5, color="0.9", zorder=0, label="training lengths")
    for (train, depth, heads), by_len in sorted(groups.items(), key=lambda kv: (_train_bounds(kv[0][0]), kv[0][1:])):
      n = sorted(by_len)
      label = (f"L={depth} H={heads}" + (f" train {train}" if len(trains) > 1 else "")) if many else "model"
      ax.plot(n, [sum(r[metric] for r in by_len[x]) / len(by_len[x]) for x in n], ".-", ms=3,
              lw=1, label=label)
    if metric == "xent_bits" and rows:
      ref = {r["length"]: r for r in rows}
      n = sorted(ref)
      ax.plot(n, [ref[x]["optimal_xent_bits"] for x in n], "k--", label="optimal")
      ax.plot(n, [ref[x]["chance_xent_bits"] for x in n], "r:", label="chance (unigram)")
    if metric == "accuracy":
      ax.set_ylim(-0.02, 1.02)
    ax.set(xlabel="length n", ylabel=ylabel, title=title)
    ax.legend(loc="best", fontsize=7, ncol=2 if len(groups) > 6 else 1)
    fig.tight_layout()
    paths.append(os.path.join(outdir, name))
    _save(fig, paths[-1])
    plt.close(fig)
  if len({(d, h) for _, d, h in groups}) > 1:
    paths += heatmaps(rows, outdir, title)
  return paths


def heatmaps(rows: Sequence[dict[str, Any]], outdir: str, title: str) -> list[str]:
  """One depth x heads heatmap of mean out-of-distribution accuracy per training length."""
  paths = []
  table = results.summary(rows)
  for train in sorted({r["train_length"] for r in table}, key=_train_bounds):
    sub = [r for r in table if r["train_length"] == train]
    depths = sorted({r["depth"] for r in sub})
    heads = sorted({r["heads"] for r in sub})
    grid = np.full((len(depths), len(heads)), np.nan)
    for r in sub:
      grid[depths.index(r["depth"]), heads.index(r["heads"])] = r["mean_ood_accuracy"]
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(heads), 1.2 + 0.7 * len(depths)))
    im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", origin="lower")
    for i in range(len(depths)):
      for j in range(len(heads)):
        if np.isfinite(grid[i, j]):
          ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", color="w", fontsize=8)
    ax.set(xticks=range(len(heads)), xticklabels=heads, yticks=range(len(depths)),
           yticklabels=depths, xlabel="heads", ylabel="depth",
           title=f"{title}\ntrain {train}: mean OOD accuracy")
    fig.colorbar(im, ax=ax, fraction=0.05)
    fig.tight_layout()
    paths.append(os.path.join(outdir, f"heatmap_{train}.png"))
    _save(fig, paths[-1])
    plt.close(fig)
  return paths
