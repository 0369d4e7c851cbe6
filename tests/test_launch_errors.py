"""Hostile input to the entry points: one line on stderr, exit 2 (bad input) or 74 (a failed
write), and nothing already saved changes; evaluation writes beside a run, never over it."""

import hashlib
import os
import subprocess
import sys

import pytest


def _run(repo, *args, cwd=None):
  return subprocess.run([sys.executable, "-m", *args], cwd=cwd or repo, capture_output=True,
                        text=True)


def _one_line(p, status, needle):
  lines = p.stderr.strip().splitlines()
  assert p.returncode == status, (p.returncode, p.stderr[-2000:])
  assert len(lines) == 1 and needle in lines[0], p.stderr[-2000:]


def _digest(path):
  out = {}
  for root, _, files in os.walk(path):
    for f in sorted(files):
      full = os.path.join(root, f)
      with open(full, "rb") as fh:
        out[os.path.relpath(full, path)] = hashlib.sha256(fh.read()).hexdigest()
  return out


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def construction(tmp_path_factory):
  wd = str(tmp_path_factory.mktemp("hard_one"))
  p = _run(REPO, "launch.construct", "--name=hard_one", f"--workdir={wd}")
  assert p.returncode == 0, p.stderr
  return wd


@pytest.mark.parametrize("args,status,needle", [
    (["launch.sample", "--count=0"], 2, "--count"),
    (["launch.sample", "--language=dyck", "--count=0"], 2, "--count"),
    (["launch.sample", "--seed=99999999999999999999"], 2, "--seed"),
    (["launch.sample", "--language=parity:odd=maybe"], 2, "odd is a flag"),
    (["launch.construct", "--name=cc_parity", "--k=5", "--workdir=W"], 2, "takes no --k"),
    (["launch.construct", "--name=hard_one", "--workdir=/proc/x"], 74, "cannot write"),
    (["launch.construct", "--name=hard_one", "--workdir=FILE"], 2, "is a file"),
    (["launch.train", "--config=configs/parity.py:smoke", "--workdir="], 2, "--workdir: empty"),
    (["launch.train", "--config=BADSYNTAX", "--workdir=W"], 2, "syntax error"),
    (["launch.train", "--config=RAISES", "--workdir=W"], 2, "raised RuntimeError: boom"),
    (["launch.train", "--config=configs/dfa_example.json", "--workdir=W"], 2, "no get_config"),
    (["launch.train", "--config=configs/sweep.py:smoke", "--config.sweep.seeds=3-1",
      "--workdir=W"], 2, "sweep.seeds: empty range"),
    (["launch.train", "--config=configs/parity.py:smoke", "--config.sweep.heads=3",
      "--config.model.width=16", "--workdir=W"], 2, "sweep.heads"),
    (["launch.analyze", "--init", "--config=configs/parity.py:smoke", "--workdir=FILE",
      "--probe=attention"], 2, "is a file"),
    (["launch.analyze", "--init", "--config=configs/parity.py:smoke", "--workdir=W",
      "--probe=function_sensitivity", "--probe.noise=nan"], 2, "probe.noise"),
])
def test_bad_input_is_one_line(repo, tmp_path, args, status, needle):
  (tmp_path / "file").write_text("x")
  (tmp_path / "bad.py").write_text("def get_config(:\n")
  (tmp_path / "raises.py").write_text("def get_config(arg=None):\n  raise RuntimeError('boom')\n")
  subs = {"W": str(tmp_path / "w"), "FILE": str(tmp_path / "file"),
          "BADSYNTAX": str(tmp_path / "bad.py"), "RAISES": str(tmp_path / "raises.py")}
  def sub(a):
    flag, eq, value = a.partition("=")
    return f"{flag}={subs[value]}" if eq and value in subs else a
  args = [sub(a) for a in args]
  _one_line(_run(repo, *args), status, needle)
  assert not (tmp_path / "w").exists()  # nothing written before the error
  assert (tmp_path / "file").read_text() == "x"


def test_head_masks_in_the_form_the_message_asks_for(repo, tmp_path):
  p = _run(repo, "launch.train", "--config=configs/parity.py:smoke", "--config.train.steps=1",
           "--config.model.heads=2", "--config.model.head_masks=past,future",
           f"--workdir={tmp_path / 'w'}")
  assert p.returncode == 0, p.stderr


def test_parity_odd_flag_values(repo):
  from limits import languages
  assert not languages.make_language("parity:odd=false").odd
  assert languages.make_language("parity:odd").odd
  assert languages.make_language("parity:odd=true").odd
  assert not languages.make_language("parity").odd


def test_evaluate_writes_beside_the_run_and_refuses_another_runs_out(repo, tmp_path,
                                                                     construction):
  before = _digest(construction)
  p = _run(repo, "launch.evaluate", f"--workdir={construction}", "--lengths=1-3")
  assert p.returncode == 0, p.stderr
  out = os.path.join(construction, "eval", "lengths_1-3")
  assert os.path.exists(os.path.join(out, "results.csv"))
  after = _digest(construction)
  assert {k: v for k, v in after.items() if not k.startswith("eval" + os.sep)} == before
  # Another run's workdir as --out: refused, and that run is untouched.
  other = str(tmp_path / "other")
  assert _run(repo, "launch.construct", "--name=cc_parity", f"--workdir={other}").returncode == 0
  theirs = _digest(other)
  _one_line(_run(repo, "launch.evaluate", f"--workdir={construction}", f"--out={other}",
                 "--lengths=1-3"), 2, "holds another run")
  assert _digest(other) == theirs
  # An evaluation of another workdir as --out: refused.
  _one_line(_run(repo, "launch.evaluate", f"--workdir={other}", f"--out={out}",
                 "--lengths=1-3"), 2, "evaluation of another workdir")
  for args, status, needle in (
      ([f"--out={tmp_path / 'f'}"], 2, "is a file"),
      (["--out=/proc/x"], 74, "cannot write"),
      (["--lengths="], 2, "--lengths: empty"),
      (["--batch_size=0"], 2, "--batch_size")):
    (tmp_path / "f").write_text("x")
    _one_line(_run(repo, "launch.evaluate", f"--workdir={construction}", *args), status, needle)
  assert _digest(construction) == after


def test_analyze_refuses_an_unwritable_out_before_probing(repo, construction):
  before = _digest(construction)
  _one_line(_run(repo, "launch.analyze", f"--workdir={construction}", "--probe=attention",
                 "--out=/proc/x"), 74, "cannot write")
  assert _digest(construction) == before
