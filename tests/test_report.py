"""limits.probes.report: launch.analyze's files and its one line per member, per probe."""

import csv
import json

import pytest

from limits.probes import report

WHO = dict(member=0, depth=1, heads=2, kind="transformer", attention="soft")
RESULTS = [
  {"probe": "sensitivity", "members": [dict(WHO, slope=-0.98765, slope_ci=[-1.1, -0.9], n_change_trend="flat",
      bound_note="", per_n=[dict(n=8, mean_change=0.01234, max_change=0.05, bound=1.5, tightness=30.0)]),
      dict(WHO, member=1, slope=None, per_n=[dict(n=16, mean_change=0.0, max_change=0.0, bound=None)], bound_note="A unbounded")]},
  {"probe": "restriction", "members": [dict(WHO, per_n=[dict(n=8, influential=3, language_influential=8, free=4, subcube_error=0.25, verdict="ok"),
      dict(n=16, influential=2, language_influential=16, free=8, subcube_error=0.5, verdict="bad")])]},
  {"probe": "xent", "members": [dict(WHO, per_n=[dict(n=8, excess_last_bits=0.1234), dict(n=16, excess_last_bits=0.5)])]},
  {"probe": "function_sensitivity", "members": [dict(WHO, sharpness_bits=0.12345, per_n=[dict(n=8, avg_sensitivity=1.234)])]},
  {"probe": "attention", "members": [dict(WHO, per_n=[dict(n=8, mean_normalized_entropy=0.9)]), dict(WHO, member=1, per_n=[], note="lstm: no attention")]},
  {"probe": "other", "members": [dict(WHO)]},
]

EXPECTED = {
    "sensitivity": [
        "member 0 (L=1 H=2 transformer soft): slope -0.988 [-1.100, -0.900]; n*change trend "
        "flat; at n=8 change mean 0.0123 max 0.05, bound 1.5 (bound/measured 30)",
        "member 1 (L=1 H=2 transformer soft): slope none (no change); n*change trend None; at "
        "n=16 change mean 0 max 0, bound None (A unbounded)"],
    "restriction": [
        "member 0 (L=1 H=2 transformer soft): influential model/language/free, subcube error, "
        "verdict n=8: 3/8/4, 0.250, ok; n=16: 2/16/8, 0.500, bad"],
    "xent": ["member 0 (L=1 H=2 transformer soft): xent_last - optimal n=8: 0.123, n=16: 0.500"],
    "function_sensitivity": [
        "member 0 (L=1 H=2 transformer soft): sharpness 0.1235 bits; avg sensitivity n=8: 1.23"],
    "attention": ["member 0 (L=1 H=2 transformer soft): normalized entropy n=8: 0.900",
                  "member 1 (L=1 H=2 transformer soft): lstm: no attention"],
    "other": [],
}


@pytest.mark.parametrize("result", RESULTS, ids=[r["probe"] for r in RESULTS])
def test_summary_lines_per_probe(result):
  assert report.summary_lines(result) == EXPECTED[result["probe"]]


def test_every_probe_has_a_summary():
  from limits import probes
  assert set(report.SUMMARIES) == set(probes.PROBES)


def test_write_json_csv_and_figures(tmp_path, monkeypatch):
  monkeypatch.setattr(report.figures, "draw", lambda result, outdir, name: [f"{outdir}/{name}.png"])
  result = dict(RESULTS[2], extra=float("inf"))
  paths = report.write(result, str(tmp_path / "analysis"), "xent")
  assert paths == [str(tmp_path / "analysis" / f"xent.{e}") for e in ("json", "csv", "png")]
  assert json.loads((tmp_path / "analysis" / "xent.json").read_text())["extra"] == "inf"
  with open(tmp_path / "analysis" / "xent.csv", newline="") as f:
    got = list(csv.DictReader(f))
  assert [(r["member"], r["n"], r["excess_last_bits"]) for r in got] == [
      ("0", "8", "0.1234"), ("0", "16", "0.5")]
  assert list(got[0]) == ["member", "depth", "heads", "kind", "attention", "n", "excess_last_bits"]
