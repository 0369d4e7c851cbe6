"""Matplotlib figures drawn from result rows (data first, pictures second)."""

from __future__ import annotations

import os
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _shade_train(ax, train_lengths: Sequence[int]) -> None:
  ax.axvspan(min(train_lengths) - 0.5, max(train_lengths) + 0.5, color="0.9", zorder=0,
             label="training lengths")


def length_curves(rows: Sequence[dict[str, Any]], train_lengths: Sequence[int], outdir: str,
                  title: str) -> list[str]:
  """Writes accuracy.png and xent.png (against length) to `outdir`; returns the paths."""
  os.makedirs(outdir, exist_ok=True)
  n = [r["length"] for r in rows]
  paths = []

  fig, ax = plt.subplots(figsize=(6, 3.5))
  _shade_train(ax, train_lengths)
  ax.plot(n, [r["accuracy"] for r in rows], ".-", label="model")
  ax.set(xlabel="length n", ylabel="accuracy", ylim=(-0.02, 1.02), title=title)
  ax.legend(loc="lower left", fontsize=8)
  fig.tight_layout()
  paths.append(os.path.join(outdir, "accuracy.png"))
  fig.savefig(paths[-1], dpi=120)
  plt.close(fig)

  fig, ax = plt.subplots(figsize=(6, 3.5))
  _shade_train(ax, train_lengths)
  ax.plot(n, [r["xent_bits"] for r in rows], ".-", label="model")
  ax.plot(n, [r["optimal_xent_bits"] for r in rows], "k--", label="optimal")
  ax.plot(n, [r["chance_xent_bits"] for r in rows], "r:", label="chance (unigram)")
  ax.set(xlabel="length n", ylabel="cross-entropy (bits)", title=title)
  ax.legend(loc="best", fontsize=8)
  fig.tight_layout()
  paths.append(os.path.join(outdir, "xent.png"))
  fig.savefig(paths[-1], dpi=120)
  plt.close(fig)
  return paths
