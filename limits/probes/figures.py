"""Figures of probe results (data first, pictures second; matplotlib Agg).

`draw(result, outdir) -> [paths]` dispatches on `result["probe"]`; each figure plots one
line per member against n, labelled by depth/heads (or the member's `label`). Legends sit
outside the axes (never in a title), log axes over n carry a few plain-number ticks,
symbols are mathtext (`$e^{2A}$`), maps have colorbars, and a panel without data is not
drawn.
"""

from __future__ import annotations

import os
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

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
  if fig.get_layout_engine() is None:
    fig.tight_layout()
  with atomic.atomic_path(path) as tmp:  # tight: keeps legends placed outside the axes
    fig.savefig(tmp, dpi=110, format=os.path.splitext(path)[1][1:] or "png",
                bbox_inches="tight")
  plt.close(fig)
  return path


def log_n_axis(ax, ns, label: str = "string length n") -> None:
  """A log x axis over lengths with at most ~6 plain-number ticks (1, 2, 5 x 10^k, or
  the data's own n when fewer than two of those fall inside), no minor labels."""
  lo, hi = float(min(ns)), float(max(ns))
  ax.set_xscale("log")
  ticks = [k * 10**e for e in range(8) for k in (1, 2, 5) if lo <= k * 10**e <= hi]
  if len(ticks) < 2:
    ticks = sorted(set(float(n) for n in ns))
  while len(ticks) > 6:
    ticks = ticks[::2]
  ax.xaxis.set_major_locator(ticker.FixedLocator(ticks))
  ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
  ax.xaxis.set_minor_formatter(ticker.NullFormatter())
  ax.set_xlim(lo / 1.15, hi * 1.15)
  ax.set_xlabel(label)


def _outside(ax, handles=None, **kw) -> None:
  """The axes' legend to the right of it, outside the plot and the title."""
  kw = dict(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, **kw)
  ax.legend(handles=handles, **kw) if handles else ax.legend(**kw)


def _num(x):
  return np.nan if x is None or isinstance(x, str) else float(x)


def sensitivity(result: dict[str, Any], outdir: str, prefix: str = "sensitivity") -> list[str]:
  """Lemma 5: the one-symbol change of y_n^(L) (mean, max, bound) and the largest
  attention weight against its bound e^{2A}/(n-1), on log-log axes."""
  weights = any("max_weight" in m["per_n"][0] for m in result["members"] if m["per_n"])
  fig, axes = plt.subplots(1, 2 if weights else 1, figsize=(13 if weights else 7.5, 4.2),
                           squeeze=False)
  axes = axes[0]
  for i, m in enumerate(result["members"]):
    n = [r["n"] for r in m["per_n"]]
    color = f"C{i % 10}"
    slope = m.get("slope")
    lab = _label(m) + (f" (slope {slope:.2f})" if slope is not None else "")
    axes[0].loglog(n, [r["mean_change"] for r in m["per_n"]], "o-", ms=3, color=color, label=lab)
    axes[0].loglog(n, [r["max_change"] for r in m["per_n"]], ":", color=color)
    if any(r.get("bound_recursive") for r in m["per_n"]):
      axes[0].loglog(n, [_num(r.get("bound_recursive")) for r in m["per_n"]], "--",
                     color=color, lw=0.8)
    if weights and "max_weight" in m["per_n"][0]:
      axes[1].loglog(n, [r["max_weight"] for r in m["per_n"]], "o-", ms=3, color=color,
                     label=_label(m))
      axes[1].loglog(n, [r["weight_bound"] for r in m["per_n"]], "--", color=color, lw=0.8)
  ns = result["lengths"]
  if result["members"]:
    n = np.asarray([r["n"] for r in result["members"][0]["per_n"]], float)
    ref = result["members"][0]["per_n"][0]["mean_change"] or 1.0
    axes[0].loglog(n, ref * n[0] / n, "k:", lw=0.8)
  key = [Line2D([], [], color="gray", marker="o", ms=3, label="mean change"),
         Line2D([], [], color="gray", ls=":", label="max change"),
         Line2D([], [], color="gray", ls="--", lw=0.8, label="Lemma 5 bound (recursive)"),
         Line2D([], [], color="k", ls=":", lw=0.8, label="slope $-1$ (c/n) reference")]
  members = axes[0].get_legend_handles_labels()[0]
  axes[0].set(ylabel=r"$\|y_n^{(L)}(x) - y_n^{(L)}(x')\|_2$",
              title="Lemma 5: change of $y_n^{(L)}$ after one substitution")
  log_n_axis(axes[0], ns)
  _outside(axes[0], members + key)
  if weights:
    axes[1].set(ylabel="largest attention weight",
                title="attention weights vs the bound $e^{2A}/(n-1)$")
    log_n_axis(axes[1], ns)
    _outside(axes[1], axes[1].get_legend_handles_labels()[0] +
             [Line2D([], [], color="gray", marker="o", ms=3, label="measured max weight"),
              Line2D([], [], color="gray", ls="--", lw=0.8, label="$e^{2A}/(n-1)$")])
  return [_save(fig, outdir, f"{prefix}.png")]


def xent(result: dict[str, Any], outdir: str, prefix: str = "xent") -> list[str]:
  """Cross-entropy against n with optimal and chance lines; a prediction run adds the
  last position (Theorem 6's 2DYCK bound). A recognition run has one decision per
  string, so one panel."""
  panels = [("xent_bits", "mean over positions")]
  if result.get("task", "prediction") != "recognition":
    panels.append(("xent_last_bits", "at the last position"))
  else:
    panels = [("xent_bits", "recognition, one decision per string")]
  fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels) + 1.5, 4.2), squeeze=False)
  for (key, title), ax in zip(panels, axes[0]):
    for m in result["members"]:
      ax.plot([r["n"] for r in m["per_n"]], [r[key] for r in m["per_n"]], "o-", ms=3, label=_label(m))
    if result["members"]:
      rows = result["members"][0]["per_n"]
      n = [r["n"] for r in rows]
      suffix = "xent_bits" if key == "xent_bits" else "last_bits"
      opt = [r[f"optimal_{suffix}"] for r in rows]
      ax.plot(n, opt, "k--", label="optimal")
      ax.plot(n, [r[f"chance_{suffix}"] for r in rows], "r:",
              label="chance (1 bit)" if len(panels) == 1 else "chance (unigram)")
      if result.get("dyck_bound") and key == "xent_last_bits":
        ax.plot(n, [o + r["excess_bound_bits"] for o, r in zip(opt, rows)], "g-.",
                label="optimal + $P_0(1-p)$ (Thm 6)")
    log_n_axis(ax, result["lengths"])
    ax.set(ylabel="cross-entropy (bits)", title=f"{result.get('language')}: {title}")
    _outside(ax)
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
    ax.plot([r["n"] for r in rows], [r["free"] for r in rows], "k--x", lw=0.8, ms=5,
            label="free positions")  # the marker shows it at a single length too
  ns = sorted({r["n"] for m in result["members"] for r in m["per_n"]})
  for a in (ax, ax_err):  # ticks at the lengths measured: no 7.65, 7.8 ticks around one length
    a.xaxis.set_major_locator(ticker.FixedLocator(ns) if len(ns) <= 8 else
                              ticker.MaxNLocator(integer=True, nbins=8))
    a.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
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
  """Average sensitivity against n; the layer-norm gain panel only when some member has a
  layer norm (otherwise it would be empty)."""
  gain = any("ln_gain_max" in m["per_n"][0] for m in result["members"] if m["per_n"])
  fig, axes = plt.subplots(1, 2 if gain else 1, figsize=(13 if gain else 7.5, 4.2), squeeze=False)
  axes = axes[0]
  for m in result["members"]:
    n = [r["n"] for r in m["per_n"]]
    axes[0].plot(n, [r["avg_sensitivity"] for r in m["per_n"]], "o-", ms=3,
                 label=f"{_label(m)} sharp {m['sharpness_bits']:.3g}")
    if gain and "ln_gain_max" in m["per_n"][0]:
      axes[1].plot(n, [max(r["ln_gain_max"], r["final_ln_gain"]) for r in m["per_n"]], "o-", ms=3,
                   label=_label(m))
  n = result["lengths"]
  axes[0].plot(n, n, "k:", label="PARITY (= n)")
  axes[0].set(xlabel="string length n", ylabel="average sensitivity (positions)",
              title="sensitivity of the learned function")
  _outside(axes[0])
  if gain:
    axes[1].set(xlabel="string length n", ylabel=r"max $1/\sqrt{\mathrm{var}+\epsilon}$",
                title="layer-norm gain")
    lo, hi = axes[1].get_ylim()
    if lo > 0 and hi / lo > 10:  # a log scale only where it spans decades (else 1.3x10^0 labels)
      axes[1].set_yscale("log")
    _outside(axes[1])
  return [_save(fig, outdir, f"{prefix}.png")]


def attention(result: dict[str, Any], outdir: str, prefix: str = "attention") -> list[str]:
  paths = []
  fig, ax = plt.subplots(figsize=(6.5, 4))
  for m in result["members"]:
    if m["per_n"]:
      ax.plot([r["n"] for r in m["per_n"]], [r["mean_normalized_entropy"] for r in m["per_n"]],
              "o-", ms=3, label=_label(m))
  ax.set(ylabel="entropy / log(n+1)", title="attention entropy (1 = uniform)",
         ylim=(-0.02, 1.05))
  log_n_axis(ax, [r["n"] for m in result["members"] for r in m["per_n"]] or [1, 10])
  _outside(ax)
  paths.append(_save(fig, outdir, f"{prefix}_entropy.png"))
  for m in result["members"]:
    for si, mp in enumerate(m.get("maps", [])[:2]):
      att = mp["attention"]
      layers, heads = len(att), len(att[0])
      fig, axes = plt.subplots(layers, heads, figsize=(2.9 * heads + 1.0, 2.7 * layers),
                               squeeze=False, layout="constrained")
      t = mp["tokens"]
      step = max(1, len(t) // 16)  # at most ~16 labelled positions per axis
      for l in range(layers):
        for h in range(heads):
          a = axes[l][h]
          im = a.imshow(np.asarray(att[l][h]), vmin=0, vmax=1, cmap="viridis")
          a.set_title(f"layer {l} head {h}", fontsize=7)
          a.set_xticks(range(0, len(t), step), t[::step], fontsize=5)
          a.set_yticks(range(0, len(t), step), t[::step], fontsize=5)
          a.set_xlabel("key position j (symbol)", fontsize=6)
          a.set_ylabel("query position i (symbol)", fontsize=6)
      fig.colorbar(im, ax=axes, shrink=0.8, label="attention weight")
      fig.suptitle(f"{_label(m)}: {mp['string'][:40]}", fontsize=8)
      paths.append(_save(fig, outdir, f"{prefix}_map_m{m['member']}_s{si}.png"))
  return paths


DRAW = {"sensitivity": sensitivity, "xent": xent, "restriction": restriction,
        "function_sensitivity": function_sensitivity, "attention": attention}


def draw(result: dict[str, Any], outdir: str, prefix: str | None = None) -> list[str]:
  """The probe's figures in `outdir` (file names start with `prefix`, default the probe)."""
  fn = DRAW[result["probe"]]
  return fn(result, outdir, prefix or result["probe"])
