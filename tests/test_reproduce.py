"""launch.reproduce --scale=smoke: every experiment runs, report.md has every section, and
the numbers behind Chiang & Cholak's section are the construction's exact values."""

import json
import math
import os
import subprocess
import sys

from limits import reproduce


def test_reproduce_smoke_writes_report_with_every_section(tmp_path):
  path = reproduce.run("smoke", str(tmp_path), log=lambda s: None)
  text = open(path).read()
  for heading in ("## 1. Lemma 5", "## 2. Chiang & Cholak", "## 3. Theorem 6",
                  "## 4. Theorem 1", "## 5. Depth x heads"):
    assert heading in text
  assert "**Failed**" not in text, text
  assert "**Claim.**" in text and "**Measured**" in text
  for link in ("lemma5/sensitivity.png", "theorem1/restriction.png", "cc_parity/xent.png"):
    assert f"]({link})" in text and os.path.exists(tmp_path / link)
  _assert_cc_parity_numbers(json.load(open(tmp_path / "cc_parity" / "xent.json")))
  _assert_claims_table(text)
  page = open(tmp_path / "report.html").read()
  assert page.count("<img") == text.count("![") and 'src="data:image/png;base64,' in page


def _assert_claims_table(text: str):
  """The claims table follows the title; at smoke scale (10 steps, 2 lengths) no claim
  about trained models or slopes is judged, and the vacuous random-model bound is not
  called a test; Chiang & Cholak's exact numbers (6 lengths) are."""
  lines = text.splitlines()
  assert lines[2] == "## Claims" and lines[4].startswith("| claim | source | measured |")
  rows = [l.split(" | ") for l in lines[6:lines.index("", 6)]]
  verdicts = {r[0].lstrip("| ") + " / " + r[2]: r[-1].rstrip(" |") for r in rows}
  allowed = ("supports", "contradicts", "inconclusive", "not tested at this scale")
  assert all(v.startswith(allowed) for v in verdicts.values()), verdicts
  for claim, v in verdicts.items():
    if "slope <= -1" in claim or "Theorem 6" in claim or "trained" in claim:
      assert v.startswith("not tested at this scale"), (claim, v)
    if "random soft" in claim and "at most H^L" in claim:
      assert "vacuous" in v, (claim, v)
    if claim.startswith(("the construction recognises PARITY", "without layer norm",
                         "with a final layer norm")):
      assert v == "supports", (claim, v)
  assert any("2DYCK" in c for c in verdicts) and any("UHAT" in c for c in verdicts)


def _margin(xent_bits: float) -> float:
  """Logit margin m of a classifier right on every string: xent = log2(1 + e^-m) bits."""
  return -math.log(2.0 ** xent_bits - 1.0)


def _assert_cc_parity_numbers(res: dict):
  """Section 2's data: both constructions exact (accuracy 1 at every n); without layer norm
  the margin is 2/(n+1)^2 (logits +-1/(n+1)^2) within 1%; with final layer norm at eps = 0
  it is the same at every n (2 sqrt(8), logits +-sqrt(D/2), D = 16) within 1%."""
  by = {m["label"]: m["per_n"] for m in res["members"]}
  assert sorted(by) == ["cc_parity", "cc_parity_ln"], sorted(by)
  assert len(by["cc_parity"]) >= 4
  for name, rows in by.items():
    assert all(r["accuracy"] == 1.0 for r in rows), (name, rows)
  for r in by["cc_parity"]:
    want = 2.0 / (r["n"] + 1) ** 2
    assert abs(_margin(r["xent_bits"]) / want - 1) < 0.01, (r["n"], _margin(r["xent_bits"]), want)
  ln = [_margin(r["xent_bits"]) for r in by["cc_parity_ln"]]
  assert max(ln) / min(ln) - 1 < 0.01, ln
  assert abs(ln[0] / (2 * math.sqrt(8)) - 1) < 0.01, ln


def test_reproduce_bad_scale_is_one_line_exit_2(repo, tmp_path):
  p = subprocess.run([sys.executable, "-m", "launch.reproduce", "--scale=huge",
                      f"--workdir={tmp_path}"], cwd=repo, capture_output=True, text=True)
  assert p.returncode == 2 and "--scale" in p.stderr and len(p.stderr.strip().splitlines()) == 1
