"""Entry points: every bad input is one clear line and exit status 2, nothing written."""

import subprocess
import sys

import pytest


def _run(repo, *args, workdir=None):
  cmd = [sys.executable, "-m", *args]
  if workdir is not None:
    cmd.append(f"--workdir={workdir}")
  return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=120)


BAD_TRAIN = [
    (["--config.data.language=parrity"], "data.language"),
    (["--config.model.nonsense=3"], "nonsense"),
    (["--config=configs/parity.py:bogus"], "unknown variant"),
    (["--config=configs/nope.py"], "nope.py"),
    (["--config.data.train_lengths=0-5"], "data.train_lengths"),
    (["--config.data.eval_lengths=x"], "data.eval_lengths"),
    (["--config.data.p=1.5"], "data.p"),
    (["--config.data.p=0"], "data.p"),
    (["--config.model.heads=3"], "model.heads"),
    (["--config.train.steps=-1"], "train.steps"),
    (["--config.data.task=guess"], "data.task"),
    (["--config.model.layer_norm=mid"], "model.layer_norm"),
    (["--config.model.heads=two"], "heads"),
]


@pytest.mark.parametrize("args,needle", BAD_TRAIN)
def test_train_bad_input_is_one_line_exit_2(repo, tmp_path, args, needle):
  workdir = tmp_path / "w"
  r = _run(repo, "launch.train", "--config=configs/parity.py:smoke", *args, workdir=workdir)
  assert r.returncode == 2, r.stderr
  lines = [l for l in r.stderr.splitlines() if l.strip()]
  assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
  assert needle in lines[0]
  assert not workdir.exists()


def test_workdir_with_another_config_refuses_and_keeps_files(repo, tmp_path):
  workdir = tmp_path / "w"
  ok = _run(repo, "launch.train", "--config=configs/parity.py:smoke", workdir=workdir)
  assert ok.returncode == 0, ok.stderr
  assert "length" in ok.stdout and "accuracy" in ok.stdout
  for f in ("config.json", "metrics.jsonl", "results.csv", "plots/accuracy.png", "plots/xent.png"):
    assert (workdir / f).exists(), f
  assert any((workdir / "tensorboard").iterdir())
  assert any((workdir / "tensorboard" / "hparams" / "member_0").iterdir())   # limits.hparams
  before = {p: p.read_bytes() for p in workdir.rglob("*") if p.is_file()}
  r = _run(repo, "launch.train", "--config=configs/parity.py:smoke", "--config.model.heads=1",
           workdir=workdir)
  assert r.returncode == 2
  assert r.stderr.count("\n") == 1 and "different config" in r.stderr and "model.heads" in r.stderr
  after = {p: p.read_bytes() for p in workdir.rglob("*") if p.is_file()}
  assert before == after


@pytest.mark.parametrize("args,needle", [
    (["--language=parrity"], "unknown language"),
    (["--length=0"], "length"),
    (["--task=guess"], "task"),
    (["--count=-1"], "count"),
])
def test_sample_bad_input(repo, args, needle):
  r = _run(repo, "launch.sample", *args)
  assert r.returncode == 2 and r.stderr.startswith("error: ") and needle in r.stderr
  assert r.stderr.count("\n") == 1


def test_sample_prints_string_tab_label(repo):
  r = _run(repo, "launch.sample", "--language=parity", "--task=recognition", "--length=7",
           "--count=50", "--seed=3")
  assert r.returncode == 0, r.stderr
  header, *lines = r.stdout.splitlines()
  assert header == "string\tlabel" and len(lines) == 50
  for line in lines:
    s, label = line.split("\t")
    assert len(s) == 7 and set(s) <= {"0", "1"}
    assert int(label) == int(s.count("1") % 2 == 0)
  again = _run(repo, "launch.sample", "--language=parity", "--task=recognition", "--length=7",
               "--count=50", "--seed=3")
  assert again.stdout == r.stdout
