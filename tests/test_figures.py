"""Probe figures (limits/probes/figures.py) read by their matplotlib objects: legends
outside the title, mathtext symbols, plain log ticks, colorbars and axis labels on maps,
no empty panel (no layer-norm panel without layer norm, no last-position panel for a
recognition run). Synthetic results: no model is run."""

import numpy as np
import pytest

from limits.probes import figures

N = [2, 4, 8, 16, 32, 64]


@pytest.fixture
def drawn(monkeypatch):
  """Each figure `draw` builds (kept open), instead of only the files."""
  figs = []

  def keep(fig, outdir, name):
    fig.canvas.draw()
    figs.append(fig)
    return f"{outdir}/{name}"
  monkeypatch.setattr(figures, "_save", keep)
  return figs


def _xent(task):
  row = lambda n: {"n": n, "xent_bits": 0.5, "xent_last_bits": 0.6, "optimal_xent_bits": 0.0,
                   "chance_xent_bits": 1.0, "optimal_last_bits": 0.0, "chance_last_bits": 1.0}
  return {"probe": "xent", "task": task, "language": "parity", "lengths": N, "dyck_bound": False,
          "members": [{"label": "m", "per_n": [row(n) for n in N]}]}


def _plain_ticks(ax):
  labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
  assert 2 <= len(labels) <= 6, labels
  assert all(s.replace(".", "").isdigit() for s in labels), labels   # no 2x10^1 labels


def test_xent_recognition_has_one_panel_prediction_two(drawn, tmp_path):
  figures.draw(_xent("recognition"), str(tmp_path))
  figures.draw(_xent("prediction"), str(tmp_path))
  rec, pred = drawn
  assert len(rec.axes) == 1 and "last position" not in rec.axes[0].get_title()
  assert len(pred.axes) == 2 and "last position" in pred.axes[1].get_title()
  for ax in rec.axes + pred.axes:
    _plain_ticks(ax)
    labels = ax.get_legend_handles_labels()[1]
    assert "optimal" in labels and any(l.startswith("chance") for l in labels)
    assert ax.get_xlabel() and ax.get_ylabel() == "cross-entropy (bits)"


def test_sensitivity_legend_outside_title_mathtext(drawn, tmp_path):
  rows = [{"n": n, "mean_change": 1.0 / n, "max_change": 2.0 / n, "bound_recursive": 9.0 / n,
           "max_weight": 1.0 / n, "weight_bound": 3.0 / n} for n in N]
  figures.draw({"probe": "sensitivity", "lengths": N,
                "members": [{"label": "soft", "slope": -1.0, "per_n": rows}]}, str(tmp_path))
  fig, = drawn
  for ax in fig.axes:
    title = ax.get_title()
    assert "(--)" not in title and "o-" not in title and "e^{2A}" not in title.replace("$e^{2A}", "")
    legend = ax.get_legend()
    assert legend is not None
    box, frame = legend.get_window_extent(), ax.get_window_extent()
    assert box.x0 >= frame.x1 - 1, (box, frame)   # beside the axes, not over the data
    _plain_ticks(ax)
  assert "$e^{2A}/(n-1)$" in fig.axes[1].get_title()
  assert any("bound" in t for t in fig.axes[0].get_legend_handles_labels()[1] +
             [t.get_text() for t in fig.axes[0].get_legend().get_texts()])


def _fsens(gain):
  row = lambda n: {"n": n, "avg_sensitivity": 1.0, **({"ln_gain_max": 2.0, "final_ln_gain": 1.0}
                                                     if gain else {})}
  return {"probe": "function_sensitivity", "lengths": N,
          "members": [{"label": "m", "sharpness_bits": 0.1, "per_n": [row(n) for n in N]}]}


def test_function_sensitivity_has_no_empty_layer_norm_panel(drawn, tmp_path):
  figures.draw(_fsens(False), str(tmp_path))
  figures.draw(_fsens(True), str(tmp_path))
  without, with_ln = drawn
  assert len(without.axes) == 1
  assert len(with_ln.axes) == 2 and with_ln.axes[1].lines


def test_attention_maps_have_colorbar_and_axis_labels(drawn, tmp_path):
  att = np.full((2, 2, 3, 3), 1 / 3).tolist()   # layers x heads x query x key
  member = {"member": 0, "depth": 2, "heads": 2, "label": "m",
            "per_n": [{"n": 4, "mean_normalized_entropy": 0.9},
                      {"n": 8, "mean_normalized_entropy": 0.8}],
            "maps": [{"attention": att, "tokens": ["0", "1", "EOS"], "string": "01"}]}
  figures.draw({"probe": "attention", "members": [member]}, str(tmp_path))
  _, fig = drawn
  maps = [ax for ax in fig.axes if ax.images]
  bars = [ax for ax in fig.axes if not ax.images]
  assert len(maps) == 4 and len(bars) == 1 and bars[0].get_ylabel() == "attention weight"
  for ax in maps:
    assert ax.get_xlabel().startswith("key position") and ax.get_ylabel().startswith("query position")
