"""Faults injected into whole runs: kills, SIGTERM, damaged checkpoints, divergence, full
or unwritable disks, hostile input. Each run must resume to the results table of an
uninterrupted run, or fail with one line and a documented exit status, damaging nothing.

One reference run (a 2-member population, one member with lr = 1e30 so it diverges) is
shared; faults are injected by tests/fault_runner.py into the same command.
"""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import hypothesis
import jax
import numpy as np
import pytest
from hypothesis import strategies as st

from limits import checkpoint, experiment

CONFIG = ["--config=configs/parity.py:smoke", "--config.sweep.learning_rates=1e-3,1e30",
          "--config.model.positional=learned", "--config.train.steps=40", "--config.train.checkpoint_every=10",
          "--config.train.log_every=5"]
RUNNER = os.path.join(os.path.dirname(__file__), "fault_runner.py")
SIGTERM_BOUND_S = 30  # generous: a checkpoint of this model takes well under a second


def _train(repo, workdir, fault="none", extra=(), env=None, wait=True):
  cmd = [sys.executable, RUNNER, fault, "launch.train", *CONFIG, f"--workdir={workdir}", *extra]
  proc = subprocess.Popen(cmd, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env={**os.environ, **(env or {})})
  if not wait:
    return proc
  out, err = proc.communicate(timeout=300)
  return proc.returncode, out, err


def _lines(text):
  return [l for l in text.splitlines() if l.strip()]


def _table(workdir):
  with open(os.path.join(workdir, "results.csv")) as f:
    return f.read()


def _metrics(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    rows = [json.loads(l) for l in f]
  for r in rows:
    r.pop("steps_per_sec")  # wall-clock, not a result
  return rows


def _steps(workdir):
  d = os.path.join(workdir, "checkpoints")
  return sorted(int(n) for n in os.listdir(d) if n.isdigit())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """An uninterrupted run: (workdir, stdout)."""
  from tests.conftest import REPO
  workdir = str(tmp_path_factory.mktemp("ref") / "w")
  rc, out, err = _train(REPO, workdir)
  assert rc == 3, err  # one member diverged
  return workdir, out


def test_divergence_is_frozen_marked_and_counted(reference):
  workdir, out = reference
  assert "1 of 2 members diverged (NaN/Inf): [1]" in out
  with open(os.path.join(workdir, "results.csv")) as f:
    rows = list(csv.DictReader(f))
  good = [r for r in rows if r["member"] == "0"]
  bad = [r for r in rows if r["member"] == "1"]
  assert good and bad and len(good) == len(bad)
  assert all(r["diverged"] == "0" and r["diverged_step"] == "-1" for r in good)
  assert all(r["diverged"] == "1" and 1 <= int(r["diverged_step"]) <= 40 for r in bad)
  assert all(np.isfinite(float(r["xent_bits"])) for r in good)
  m = _metrics(workdir)
  loss0 = [r["loss_bits"][0] for r in m]
  assert len(set(loss0)) > 5 and all(np.isfinite(loss0))  # member 0 kept training
  assert m[-1]["diverged"] == [0.0, 1.0]


def test_kills_sigterm_and_damage_resume_to_the_same_table(repo, reference, tmp_path):
  ref, _ = reference
  w = str(tmp_path / "w")

  # SIGKILL while step 20's checkpoint is being written: never loaded, never left around.
  rc, out, err = _train(repo, w, "kill_in_save=20")
  assert rc == -signal.SIGKILL
  assert _steps(w) == [10]
  assert any(".orbax-checkpoint-tmp" in n for n in os.listdir(os.path.join(w, "checkpoints")))

  # SIGTERM after step 25: a checkpoint at 25, one line, status 143, within the bound.
  marker = str(tmp_path / "at25")
  proc = _train(repo, w, f"pause_at=25:{marker}", wait=False)
  deadline = time.time() + 240
  while not os.path.exists(marker) and proc.poll() is None and time.time() < deadline:
    time.sleep(0.02)
  t0 = time.time()
  proc.send_signal(signal.SIGTERM)
  out, err = proc.communicate(timeout=120)
  took = time.time() - t0
  assert proc.returncode == 143, err
  assert took < SIGTERM_BOUND_S, took
  assert "resumed from" in out and "at step 10" in out
  assert _lines(err) == [f"error: preempted (SIGTERM) at step 25: checkpoint saved in {w}/"
                         f"checkpoints; rerun the same command to resume"], err
  assert 25 in _steps(w)
  assert not any(".orbax-checkpoint-tmp" in n for n in os.listdir(os.path.join(w, "checkpoints")))
  assert not os.path.exists(os.path.join(w, "results.csv"))

  # SIGKILL as evaluation starts: training finished, final checkpoint on disk, no table.
  rc, out, err = _train(repo, w, "kill_in_eval")
  assert rc == -signal.SIGKILL and "at step 25" in out
  assert _steps(w)[-1] == 40 and not os.path.exists(os.path.join(w, "results.csv"))

  # Disk full while writing results.csv: one line, status 74, no partial file.
  rc, out, err = _train(repo, w, "enospc_results")
  assert rc == 74, err
  assert _lines(err) == [f"error: No space left on device: {w}/results.csv.tmp"], err
  assert not any(n.startswith("results.csv") for n in os.listdir(w))

  rc, out, err = _train(repo, w)
  assert rc == 3 and "at step 40" in out, err
  assert _table(w) == _table(ref)
  assert _metrics(w) == _metrics(ref)
  _assert_same_final_state(w, ref)     # README: byte-identical on CPU, same device count

  # Damaged latest checkpoint: one warning line, the previous step used, table unchanged.
  for root, _, files in os.walk(os.path.join(w, "checkpoints", "40", "default")):
    for name in files:
      if "ocdbt.process_0" in root:
        with open(os.path.join(root, name), "r+b") as f:
          f.truncate(7)
  rc, out, err = _train(repo, w)
  assert rc == 3, err
  warn = [l for l in _lines(err) if l.startswith("warning:")]
  assert len(warn) == 1 and "checkpoint step 40" in warn[0] and "damaged" in warn[0], err
  assert "using step 30" in warn[0]
  assert "at step 30" in out
  assert os.path.isdir(os.path.join(w, checkpoint.DAMAGED_DIR, "40"))  # kept, not deleted
  assert _table(w) == _table(ref)


def _final_params(workdir):
  setup, state = experiment.load(workdir)
  exp = setup.exp
  return exp, state, [np.asarray(x) for x in jax.tree.leaves(state.params)]


def _assert_same_final_state(a, b):
  """The two workdirs' final checkpoints hold bit-identical parameters and optimizer state."""
  _, sa, pa = _final_params(a)
  _, sb, pb = _final_params(b)
  assert int(sa.step) == int(sb.step)
  for x, y in zip(pa + [np.asarray(v) for v in jax.tree.leaves(sa.opt_state)],
                  pb + [np.asarray(v) for v in jax.tree.leaves(sb.opt_state)], strict=True):
    np.testing.assert_array_equal(x, y)


def test_silently_wrong_checkpoint_is_detected_and_skipped(reference, tmp_path, capfd):
  """Files that restore fine but hold other numbers (here: step 30's data under step 40)
  fail the saved sha256; every reader falls back to step 30."""
  w = str(tmp_path / "w")
  shutil.copytree(reference[0], w)
  ck = os.path.join(w, "checkpoints")
  shutil.rmtree(os.path.join(ck, "40", "default"))
  shutil.copytree(os.path.join(ck, "30", "default"), os.path.join(ck, "40", "default"))
  _, state = experiment.load(w)
  assert int(state.step) == 30
  err = capfd.readouterr().err
  assert "checkpoint step 40" in err and "sha256" in err and "using step 30" in err
  assert os.path.isdir(os.path.join(ck, "40"))  # readers move nothing
  for step in _steps(w):  # every step damaged: an error, nothing loaded
    with open(os.path.join(ck, str(step), checkpoint.DIGEST_FILE), "w") as f:
      json.dump({"step": step, "sha256": "0" * 64}, f)
  with pytest.raises(checkpoint.WorkdirError, match="every checkpoint"):
    experiment.load(w)


def test_one_device_gives_the_same_table(repo, reference, tmp_path):
  """1 device vs the member axis sharded over 2 of 8 simulated devices."""
  w = str(tmp_path / "w")
  flags = os.environ.get("XLA_FLAGS", "").replace("--xla_force_host_platform_device_count=8",
                                                  "--xla_force_host_platform_device_count=1")
  rc, out, err = _train(repo, w, env={"XLA_FLAGS": flags})
  assert rc == 3, err
  a = list(csv.DictReader(open(os.path.join(w, "results.csv"))))
  b = list(csv.DictReader(open(os.path.join(reference[0], "results.csv"))))
  assert len(a) == len(b)
  worst = {"accuracy": 0.0, "xent_bits": 0.0}
  for x, y in zip(a, b):
    for k in x:
      if k in worst:
        worst[k] = max(worst[k], abs(float(x[k]) - float(y[k])))
      else:  # members, lengths, exact optimal/chance, diverged and its step: identical
        assert x[k] == y[k], k
  print(f"1 vs 2 devices: max |difference| {worst}")
  # Not bitwise: XLA compiles the sharded step differently, and Adam turns last-bit
  # gradient differences into lr-sized moves (tests/test_population.py). So the teeth are
  # in the training itself: the surviving member's logged losses agree step by step, and
  # its final parameters agree to AGREE_FRACTION of their movement from the common init
  # (an untrained or differently trained side gives ~1). The table's accuracy, near
  # chance after 40 steps, may flip a few of 16 strings per length; README states 2 of 16.
  ma, mb = _metrics(w), _metrics(reference[0])
  assert [r["step"] for r in ma] == [r["step"] for r in mb]
  np.testing.assert_allclose([r["loss_bits"][0] for r in ma], [r["loss_bits"][0] for r in mb],
                             atol=1e-4)
  assert [r["diverged"] for r in ma] == [r["diverged"] for r in mb]
  from limits import setup as setup_lib
  from tests.test_population import assert_params_agree
  exp, _, pa = _final_params(w)
  _, _, pb = _final_params(reference[0])
  init = [np.asarray(x) for x in jax.tree.leaves(
      setup_lib.init_state(setup_lib.make_setup(exp)).params)]
  member0 = lambda leaves: [x[0] for x in leaves]
  assert_params_agree(member0(pa), member0(pb), member0(init))
  assert worst["accuracy"] <= 2 / 16 + 1e-9 and worst["xent_bits"] <= 0.05, worst


def test_unwritable_workdir_fails_before_training(repo, tmp_path):
  blocker = tmp_path / "file"
  blocker.write_text("not a directory")
  rc, out, err = _train(repo, str(blocker / "w"))
  assert rc == 2 and _lines(err) == [f"error: --workdir: cannot write to {blocker}/w (Not a directory)"], err
  assert blocker.read_text() == "not a directory"


def _unshare_ok():
  try:
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0
  except OSError:
    return False


@pytest.mark.skipif(not _unshare_ok(), reason="needs `unshare -rm` to mount a small tmpfs")
def test_full_and_read_only_disk(repo, tmp_path):
  """A real tmpfs: read-only, too small (found before training), filled mid-run."""
  mnt = str(tmp_path / "mnt")
  os.makedirs(mnt)

  def run(opts, fault="none"):
    cmd = [sys.executable, RUNNER, fault, "launch.train", *CONFIG, f"--workdir={mnt}/w"]
    shell = (f"mount -t tmpfs -o {opts} tmpfs {mnt} && mkdir -p {mnt}/w && "
             f"{' '.join(cmd)}; rc=$?; ls -R {mnt} >&2 2>/dev/null; exit $rc")
    shell = f"mount -t tmpfs -o {opts} tmpfs {mnt} && " + " ".join(cmd)
    r = subprocess.run(["unshare", "-rm", "sh", "-c", shell + f"; rc=$?; find {mnt} -type f > "
                        f"{tmp_path}/files; cat {mnt}/w/metrics.jsonl > {tmp_path}/metrics "
                        f"2>/dev/null; exit $rc"], cwd=repo, capture_output=True, text=True,
                       timeout=300)
    files = open(tmp_path / "files").read().split()
    return r.returncode, r.stdout, r.stderr, files

  rc, out, err, files = run("ro,size=4m")
  assert rc == 2 and _lines(err) == [f"error: --workdir: cannot write to {mnt}/w "
                                     f"(Read-only file system)"], err
  rc, out, err, files = run("size=256k")
  assert rc == 2 and len(_lines(err)) == 1 and "MB free" in err, err
  assert not files
  rc, out, err, files = run("size=8m", f"fill_disk_at=20:{mnt}/filler")
  assert rc == 74, err
  assert len(_lines(err)) == 1 and "writing checkpoint step 20" in err and "No space" in err, err
  assert not any(".orbax-checkpoint-tmp" in f or f.endswith(".tmp") for f in files), files
  assert any("/checkpoints/10/" in f for f in files)
  assert not any("/checkpoints/20/" in f for f in files)
  for line in open(tmp_path / "metrics"):
    json.loads(line)  # every line whole


def _predict(repo, workdir, data: bytes):
  return subprocess.run([sys.executable, "-m", "launch.predict", f"--workdir={workdir}"],
                        cwd=repo, input=data, capture_output=True, timeout=120)


@pytest.mark.parametrize("data,printed,needle", [
    (b"0110\n11\n\xff\xfe\x00\x81\n01\n", 3, "line 3: not valid UTF-8 (byte 0xff at column 1)"),
    ("0" * 500 + "\n" + "1" * 600 + "\n", 2, "line 2:"),  # learned positions: 512
])
def test_predict_hostile_stdin(repo, reference, data, printed, needle):
  workdir = reference[0]
  before = {p: open(os.path.join(r, p), "rb").read() for r, _, fs in os.walk(workdir) for p in fs}
  r = _predict(repo, workdir, data if isinstance(data, bytes) else data.encode())
  err = r.stderr.decode()
  assert r.returncode == 2, err
  assert len(_lines(err)) == 1 and err.startswith("error: ") and needle in err, err
  assert len(r.stdout.decode().splitlines()) == printed    # the header, then the valid lines
  after = {p: open(os.path.join(r_, p), "rb").read() for r_, _, fs in os.walk(workdir) for p in fs}
  assert before == after


@hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
@hypothesis.given(st.one_of(st.binary(max_size=200), st.text(max_size=60).map(str.encode),
                            st.sampled_from([b"01\x0001\n", b"\x00\n", b"\r\r\n\n",
                                             "01\u20281\n".encode(), b"01\n" * 5 + b"\xc3"])))
def test_predict_reads_any_bytes_as_lines_or_one_error(data):
  """predict's stdin parsing (in-process): random bytes, other encodings, NUL bytes and
  odd line breaks give the valid lines before the first bad one plus one error line."""
  from limits import languages, predict
  lang = languages.make_language("parity")
  lines, error = predict.decode_lines(data)
  strings, error2 = predict.valid_prefix(lines, lang, lambda n: None)
  error = error2 or error
  assert all(set(s) <= {"0", "1"} for s in strings)
  if error is not None:
    assert error.startswith("line ") and "\n" not in error
  else:
    assert strings == data.decode().splitlines()


@pytest.mark.parametrize("args,needle", [
    (["launch.evaluate", "--workdir=/nonexistent/w"], "has no config.json"),
    (["launch.evaluate", "--workdir=REF", "--lengths=1-600"], "max_positions"),
    (["launch.construct", "--name=nope", "--workdir=/tmp/x"], "nope"),
    (["launch.sample", "--language=dfa:path=/etc/passwd"], "not valid JSON"),
    (["launch.train", "--config.train.learning_rate=nan", "--workdir=/tmp/x"], "finite"),
])
def test_entry_points_bad_flags(repo, reference, args, needle):
  args = [a.replace("REF", reference[0]) for a in args]
  r = subprocess.run([sys.executable, "-m", *args], cwd=repo, capture_output=True, text=True,
                     timeout=120)
  assert r.returncode == 2, r.stderr
  assert len(_lines(r.stderr)) == 1 and r.stderr.startswith("error: "), r.stderr
  assert needle in r.stderr, r.stderr


DFAS = {
    "unknown target": {"alphabet": ["a"], "states": ["s"], "start": "s", "accept": [],
                       "transitions": {"s": {"a": "t"}}},
    "start outside": {"alphabet": ["a"], "states": ["s"], "start": "q", "accept": [],
                      "transitions": {"s": {"a": "s"}}},
    "missing move": {"alphabet": ["a", "b"], "states": ["s"], "start": "s", "accept": ["s"],
                     "transitions": {"s": {"a": "s"}}},
    "same name twice": {"alphabet": ["a"], "states": ["s", "s"], "start": "s", "accept": [],
                        "transitions": {"s": {"a": "s"}}},
    "1 and '1'": {"alphabet": ["a"], "states": [1, "1"], "start": 1, "accept": [],
                  "transitions": {"1": {"a": 1}}},
    "reserved symbol": {"alphabet": ["$"], "states": ["s"], "start": "s", "accept": [],
                        "transitions": {"s": {"$": "s"}}},
    "accept outside": {"alphabet": ["a"], "states": ["s"], "start": "s", "accept": ["t"],
                       "transitions": {"s": {"a": "s"}}},
}


@pytest.mark.parametrize("name", sorted(DFAS))
def test_contradictory_dfa_is_one_value_error(tmp_path, name):
  from configs import parity as parity_config
  from limits import config as config_lib
  path = tmp_path / "dfa.json"
  path.write_text(json.dumps(DFAS[name]))
  cfg = parity_config.get_config("smoke")
  cfg.data.language = f"dfa:path={path}"
  with pytest.raises(ValueError) as e:
    config_lib.validate(cfg)
  assert "\n" not in str(e.value)
