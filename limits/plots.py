"""Matplotlib figures drawn from result rows (data first, pictures second)."""

from __future__ import annotations

import os
from typing import Any, Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

from limits import atomic  # noqa: E402
from limits import population  # noqa: E402
from limits import results  # noqa: E402

LENGTH_LABEL = "string length n (symbols)"


def _save(fig, path: str) -> None:
  """PNG via a temporary file and a rename: a full disk leaves no half-written picture."""
  with atomic.atomic_path(path) as tmp:
    fig.savefig(tmp, dpi=120, format="png", bbox_inches="tight")


def length_axis(ax, lengths: Sequence[int]) -> None:
  """x axis over string lengths: logarithmic when they span 20x or more, with ticks at
  1, 2, 5 x 10^k written as plain numbers (no overlapping 10^k labels)."""
  lo, hi = min(lengths), max(lengths)
  ax.set_xlabel(LENGTH_LABEL)
  if hi < 20 * lo:
    return
  ax.set_xscale("log")
  ticks = [k * 10**e for e in range(7) for k in (1, 2, 5) if lo <= k * 10**e <= hi]
  ax.xaxis.set_major_locator(ticker.FixedLocator(ticks))
  ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
  ax.xaxis.set_minor_formatter(ticker.NullFormatter())
  ax.set_xlim(lo / 1.15, hi * 1.15)


def _groups(rows: Sequence[dict[str, Any]]) -> dict[tuple, dict[int, list[dict[str, Any]]]]:
  """group key (`results.group_fields`) -> length -> rows of the non-diverged members."""
  fields = results.group_fields(rows)
  out: dict[tuple, dict[int, list]] = {}
  for r in rows:
    if not r.get("diverged", 0):
      out.setdefault(tuple(r.get(f) for f in fields), {}).setdefault(r["length"], []).append(r)
  return out


def length_curves(rows: Sequence[dict[str, Any]], outdir: str, title: str) -> list[str]:
  """accuracy.png and xent.png against length: one panel per language, one line per
  group of members (model kind x training length x depth x heads; mean over seeds and
  learning rates), optimal and chance as reference lines, the training lengths shaded;
  and heatmap_<train>.png (depth x heads -> mean out-of-distribution accuracy) when
  depth or heads vary. Returns the paths."""
  os.makedirs(outdir, exist_ok=True)
  if not rows:
    return []
  fields = results.group_fields(rows)
  label_fields = results.label_flags(rows)
  langs = list(dict.fromkeys(r["language"] for r in rows))
  recognition = rows[0].get("task") == "recognition"
  title = _languages_title(rows, title)
  groups = _groups(rows)
  paths = []
  for metric, ylabel, name in (
      ("accuracy", "accuracy (fraction of strings correct)", "accuracy.png"),
      ("xent_bits", "cross-entropy (bits per string)" if recognition
       else "cross-entropy (bits per symbol, mean over positions)", "xent.png")):
    fig, axes = plt.subplots(1, len(langs), figsize=(1.5 + 4.6 * len(langs), 3.8),
                             sharey=True, squeeze=False)
    for ax, lang in zip(axes[0], langs):
      lrows = [r for r in rows if r["language"] == lang]
      trains = sorted({r["train_length"] for r in lrows}, key=population.train_bounds)
      if len(trains) == 1:
        lo, hi = population.train_bounds(trains[0])
        ax.axvspan(lo - 0.5, hi + 0.5, color="0.92", zorder=0, label="training lengths")
      keyed = [(dict(zip(fields, k)), by_len) for k, by_len in groups.items()]
      keyed = [(g, b) for g, b in keyed if g.get("language", lang) == lang]
      keyed.sort(key=lambda gb: (gb[0]["kind"] != "transformer", population.train_bounds(gb[0]["train_length"]),
                                 gb[0]["depth"], gb[0]["heads"], str(gb[0].get("positional"))))
      for g, by_len in keyed:
        n = sorted(by_len)
        style = "s-" if g["kind"] != "transformer" else ".-"
        ax.plot(n, [sum(float(r[metric]) for r in by_len[x]) / len(by_len[x]) for x in n], style,
                ms=3, lw=1.2 if g["kind"] != "transformer" else 1,
                label=results.member_label(g, label_fields))
      ref = {r["length"]: r for r in lrows}
      n = sorted(ref)
      if metric == "accuracy":
        ax.axhline(1.0, color="k", ls="--", lw=0.8, label="optimal (1)")
        if recognition:
          ax.axhline(0.5, color="r", ls=":", lw=1.2, label="chance (0.5, balanced classes)")
        ax.set_ylim(-0.02, 1.05)
      else:
        ax.plot(n, [float(ref[x]["optimal_xent_bits"]) for x in n], "k--", lw=0.8,
                label="optimal")
        ax.plot(n, [float(ref[x]["chance_xent_bits"]) for x in n], "r:", lw=1.2,
                label="chance (unigram)" if not recognition else "chance (1 bit)")
      length_axis(ax, n)
      ax.set_title(lang if len(langs) > 1 else title, fontsize=10)
      ax.grid(alpha=0.3, lw=0.5)
    axes[0][0].set_ylabel(ylabel)
    if len(langs) > 1:
      fig.suptitle(title, fontsize=10)
    handles, labels = _legend_entries(axes[0])
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
               frameon=False)
    fig.tight_layout()
    paths.append(os.path.join(outdir, name))
    _save(fig, paths[-1])
    plt.close(fig)
  if len({(r["depth"], r["heads"]) for r in rows if r.get("kind", "transformer") == "transformer"}) > 1:
    paths += heatmaps(rows, outdir, title)
  return paths


def _languages_title(rows: Sequence[dict[str, Any]], title: str) -> str:
  """The figure's title: the caller's for one language; with several (sweep.languages)
  the task and every language, since the caller's names the first only."""
  langs = list(dict.fromkeys(r["language"] for r in rows))
  if len(langs) < 2:
    return title
  return f"{rows[0].get('task', '')} of {', '.join(langs)}".strip()


def _legend_entries(axes) -> tuple[list, list[str]]:
  """Every panel's handles once (by label), for one legend beside the figure."""
  seen: dict[str, Any] = {}
  for ax in axes:
    for h, l in zip(*ax.get_legend_handles_labels()):
      seen.setdefault(l, h)
  return list(seen.values()), list(seen)


def heatmaps(rows: Sequence[dict[str, Any]], outdir: str, title: str) -> list[str]:
  """One figure per training length: per language, the transformers' depth x heads grid
  of mean out-of-distribution accuracy (colour bar in accuracy units)."""
  paths = []
  table = [g for g in results.summary([r for r in rows if r.get("kind", "transformer")
                                       == "transformer"])]
  langs = list(dict.fromkeys(r["language"] for r in rows))
  title = _languages_title(rows, title)
  for train in sorted({g["train_length"] for g in table}, key=population.train_bounds):
    sub = [g for g in table if g["train_length"] == train]
    depths = sorted({g["depth"] for g in sub})
    heads = sorted({g["heads"] for g in sub})
    fig, axes = plt.subplots(1, len(langs), squeeze=False,
                             figsize=(1.6 + (0.9 * len(heads) + 0.8) * len(langs),
                                      1.4 + 0.7 * len(depths)))
    for ax, lang in zip(axes[0], langs):
      grid = np.full((len(depths), len(heads)), np.nan)
      for g in sub:
        if g.get("language", lang) == lang:
          grid[depths.index(g["depth"]), heads.index(g["heads"])] = g["mean_ood_accuracy"]
      im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", origin="lower")
      for i in range(len(depths)):
        for j in range(len(heads)):
          if np.isfinite(grid[i, j]):
            ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center",
                    color="w" if grid[i, j] < 0.7 else "k", fontsize=8)
      ax.set(xticks=range(len(heads)), xticklabels=heads, yticks=range(len(depths)),
             yticklabels=depths, xlabel="heads per layer", ylabel="depth (layers)",
             )
      ax.set_title(lang if len(langs) > 1 else f"train {train}", fontsize=10)
    fig.colorbar(im, ax=list(axes[0]), fraction=0.05,
                 label="mean accuracy beyond training")
    # Above the panel titles (bbox_inches="tight" keeps it in the picture).
    fig.suptitle(f"{title}: train {train}" if len(langs) > 1 else title, fontsize=10,
                 y=1.0 + 0.35 / fig.get_figheight())
    paths.append(os.path.join(outdir, f"heatmap_{train}.png"))
    _save(fig, paths[-1])
    plt.close(fig)
  return paths
