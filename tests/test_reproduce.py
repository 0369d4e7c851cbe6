"""launch.reproduce --scale=smoke: every experiment runs and report.md has every section."""

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


def test_reproduce_bad_scale_is_one_line_exit_2(repo, tmp_path):
  p = subprocess.run([sys.executable, "-m", "launch.reproduce", "--scale=huge",
                      f"--workdir={tmp_path}"], cwd=repo, capture_output=True, text=True)
  assert p.returncode == 2 and "--scale" in p.stderr and len(p.stderr.strip().splitlines()) == 1
