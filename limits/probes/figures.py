"""Figures of probe results (data first, pictures second; matplotlib Agg).

`draw(result, outdir) -> [paths]` dispatches on `result["probe"]`; each figure plots one
line per member against n, labelled by depth/heads (or the member's `label`).
"""

from __future__ import annotations

import os
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from limits import atomic  # noqa: E402


def _label(m: dict[str, Any]) -> str:
  if m.get("label"):
    return str(m["label"])
  if m.get("kind") == "lstm":
    return f"LSTM L={m['depth']}"
  return f"#{m['member']} L={m['depth']} H={m['heads']} {m.get('attention', '')}"


def _save(fig, outdir: str, name: str) -> str:
  os.makedirs(outdir, exist_ok=True)
  path = os.path.join(outdir, name)
  fig.tight_layout()
  with atomic.atomic_path(path) as tmp:
    fig.savefig(tmp, dpi=110, format=os.path.splitext(path)[1][1:] or "png")
  plt.close(fig)
  return path


def _num(x):
  return np.nan if x is None or isinstance(x, str) else float(x)


def sensitivity(result: dict[str, Any], outdir: str, prefix: str = "sensitivity") -> list[str]:
  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  for m in result["members"]:
    n = [r["n"] for r in m["per_n"]]
    slope = m.get("slope")
    lab = _label(m) + (f" (slope {slope:.2f})" if slope is not None else "")
    line, = axes[0].loglog(n, [r["mean_change"] for r in m["per_n"]], "o-", ms=3, label=lab)
    axes[0].loglog(n, [r["max_change"] for r in m["per_n"]], ":", color=line.get_color())
    if any(r.get("bound_recursive") for r in m["per_n"]):
      axes[0].loglog(n, [_num(r.get("bound_recursive")) for r in m["per_n"]], "--",
                     color=line.get_color(), lw=0.8)
    if "max_weight" in m["per_n"][0]:
      axes[1].loglog(n, [r["max_weight"] for r in m["per_n"]], "o-", ms=3, color=line.get_color(),
                     label=_label(m))
      axes[1].loglog(n, [r["weight_bound"] for r in m["per_n"]], "--", color=line.get_color(), lw=0.8)
  if result["members"]:
    n = np.asarray([r["n"] for r in result["members"][0]["per_n"]], float)
    ref = result["members"][0]["per_n"][0]["mean_change"] or 1.0
    axes[0].loglog(n, ref * n[0] / n, "k:", lw=0.8, label="slope -1")
  axes[0].set(xlabel="n", ylabel="||y_n(x) - y_n(x')||",
              title="Lemma 5: one-symbol change (mean o-, max :, bound --)")
  axes[1].set(xlabel="n", ylabel="largest attention weight", title="weights vs e^{2A}/(n-1) (--)")
  for ax in axes:
    ax.legend(fontsize=6)
  return [_save(fig, outdir, f"{prefix}.png")]


def xent(result: dict[str, Any], outdir: str, prefix: str = "xent") -> list[str]:
  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  for key, ax, title in (("xent_bits", axes[0], "mean over positions"),
                         ("xent_last_bits", axes[1], "at the last position")):
    for m in result["members"]:
      ax.plot([r["n"] for r in m["per_n"]], [r[key] for r in m["per_n"]], "o-", ms=3, label=_label(m))
    if result["members"]:
      rows = result["members"][0]["per_n"]
      n = [r["n"] for r in rows]
      suffix = "xent_bits" if key == "xent_bits" else "last_bits"
      opt = [r[f"optimal_{suffix}"] for r in rows]
      ax.plot(n, opt, "k--", label="optimal")
      ax.plot(n, [r[f"chance_{suffix}"] for r in rows], "r:", label="chance (unigram)")
      if result.get("dyck_bound") and key == "xent_last_bits":
        ax.plot(n, [o + r["excess_bound_bits"] for o, r in zip(opt, rows)], "g-.",
                label="optimal + P_0 (1-p) (Thm 6)")
    ax.set_xscale("log")
    ax.set(xlabel="n", ylabel="cross-entropy (bits)", title=f"{result.get('language')}: {title}")
    ax.legend(fontsize=6)
  return [_save(fig, outdir, f"{prefix}.png")]


def restriction(result: dict[str, Any], outdir: str, prefix: str = "restriction") -> list[str]:
  fig, (ax, ax_err) = plt.subplots(1, 2, figsize=(12, 4.2))
  for i, m in enumerate(result["members"]):
    n = [r["n"] for r in m["per_n"]]
    color = f"C{i % 10}"
    ax.plot(n, [r["influential"] for r in m["per_n"]], "o-", ms=3, color=color,
            label=f"{_label(m)}: model")
    if m["per_n"] and m["per_n"][0].get("language_influential") is not None:
      ax.plot(n, [r["language_influential"] for r in m["per_n"]], "s:", ms=3, color=color,
              label=f"{_label(m)}: language")
    ax_err.plot(n, [r.get("subcube_error", float("nan")) for r in m["per_n"]], "o-", ms=3,
                color=color, label=_label(m))
  if result["members"]:
    rows = result["members"][0]["per_n"]
    ax.plot([r["n"] for r in rows], [r["free"] for r in rows], "k--", lw=0.8,
            label="free positions")
  ax.set(xlabel="string length n", ylabel="influential free positions",
         title="Theorem 1: dependence after the restriction found")
  ax_err.set(xlabel="string length n", ylabel="model error on the subcube",
             title="error on the restricted subcube", ylim=(-0.03, 1.03))
  ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(0, -0.2), ncol=2)
  ax_err.legend(fontsize=6, loc="upper left", bbox_to_anchor=(0, -0.2), ncol=2)
  fig.tight_layout()
  return [_save(fig, outdir, f"{prefix}.png")]


def function_sensitivity(result: dict[str, Any], outdir: str,
                         prefix: str = "function_sensitivity") -> list[str]:
  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  for m in result["members"]:
    n = [r["n"] for r in m["per_n"]]
    axes[0].plot(n, [r["avg_sensitivity"] for r in m["per_n"]], "o-", ms=3,
                 label=f"{_label(m)} sharp {m['sharpness_bits']:.3g}")
    if "ln_gain_max" in m["per_n"][0]:
      axes[1].plot(n, [max(r["ln_gain_max"], r["final_ln_gain"]) for r in m["per_n"]], "o-", ms=3,
                   label=_label(m))
  n = result["lengths"]
  axes[0].plot(n, n, "k:", label="PARITY (= n)")
  axes[0].set(xlabel="n", ylabel="average sensitivity", title="sensitivity of the learned function")
  axes[1].set(xlabel="n", ylabel="max 1/sqrt(var+eps)", title="layer-norm gain", yscale="log")
  for ax in axes:
    ax.legend(fontsize=6)
  return [_save(fig, outdir, f"{prefix}.png")]


def attention(result: dict[str, Any], outdir: str, prefix: str = "attention") -> list[str]:
  paths = []
  fig, ax = plt.subplots(figsize=(6.5, 4))
  for m in result["members"]:
    if m["per_n"]:
      ax.plot([r["n"] for r in m["per_n"]], [r["mean_normalized_entropy"] for r in m["per_n"]],
              "o-", ms=3, label=_label(m))
  ax.set(xlabel="n", ylabel="entropy / log(n+1)", title="attention entropy (1 = uniform)",
         xscale="log", ylim=(-0.02, 1.05))
  ax.legend(fontsize=6)
  paths.append(_save(fig, outdir, f"{prefix}_entropy.png"))
  for m in result["members"]:
    for si, mp in enumerate(m.get("maps", [])[:2]):
      att = mp["attention"]
      layers, heads = len(att), len(att[0])
      fig, axes = plt.subplots(layers, heads, figsize=(2.6 * heads, 2.4 * layers), squeeze=False)
      for l in range(layers):
        for h in range(heads):
          a = axes[l][h]
          a.imshow(np.asarray(att[l][h]), vmin=0, vmax=1, cmap="viridis")
          a.set_title(f"layer {l} head {h}", fontsize=7)
          t = mp["tokens"]
          a.set_xticks(range(len(t)), t, fontsize=5)
          a.set_yticks(range(len(t)), t, fontsize=5)
      fig.suptitle(f"{_label(m)}: {mp['string'][:40]}", fontsize=8)
      paths.append(_save(fig, outdir, f"{prefix}_map_m{m['member']}_s{si}.png"))
  return paths


DRAW = {"sensitivity": sensitivity, "xent": xent, "restriction": restriction,
        "function_sensitivity": function_sensitivity, "attention": attention}


def draw(result: dict[str, Any], outdir: str, prefix: str | None = None) -> list[str]:
  """The probe's figures in `outdir` (file names start with `prefix`, default the probe)."""
  fn = DRAW[result["probe"]]
  return fn(result, outdir, prefix or result["probe"])
