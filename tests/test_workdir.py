"""limits.workdir: training further by raising train.steps, a config that never
checkpointed can be replaced, and the workdir lock keeps a second writer out (stale
locks taken over)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import ml_collections
import pytest

from limits import experiment, workdir
from limits import config as config_lib


def _exp(steps=6, **model):
  raw = ml_collections.ConfigDict()
  raw.model = {**dict(depth=1, heads=2, width=8, mlp_width=16), **model}
  raw.data = dict(language="parity", train_lengths="1-6", eval_lengths="4,8")
  raw.train = dict(steps=steps, batch_size=8, checkpoint_every=3, log_every=3)
  return config_lib.validate(raw)


def test_raising_train_steps_trains_further(tmp_path):
  wd = str(tmp_path / "w")
  logs = []
  experiment.run(_exp(6), wd, log=logs.append)
  assert workdir.latest_checkpoint_step(wd) == 6
  experiment.run(_exp(9), wd, log=logs.append)
  assert any("resumed from" in l and "step 6" in l for l in logs), logs
  assert workdir.latest_checkpoint_step(wd) == 9
  with open(os.path.join(wd, workdir.CONFIG_FILE)) as f:
    assert json.load(f)["train"]["steps"] == 9
  with open(os.path.join(wd, workdir.HISTORY_FILE)) as f:
    [entry] = [json.loads(l) for l in f]
  assert entry["changed"] == {"train.steps": [6, 9]}
  with pytest.raises(ValueError, match="already at step 9"):
    experiment.run(_exp(3), wd, log=logs.append)
  with pytest.raises(ValueError, match="different config.*model.width"):
    experiment.run(_exp(12, width=16), wd, log=logs.append)


def test_a_config_without_any_checkpoint_can_be_replaced(tmp_path):
  wd = str(tmp_path / "w")
  workdir.check_or_write_config(wd, _exp(6).to_dict())  # e.g. died before its first save
  assert not workdir.has_checkpoint(wd)
  other = _exp(6, width=16).to_dict()
  assert workdir.check_or_write_config(wd, other) is False
  with open(os.path.join(wd, workdir.CONFIG_FILE)) as f:
    assert json.load(f)["model"]["width"] == 16


def test_lock_refuses_a_second_writer_and_takes_over_a_stale_one(tmp_path):
  wd = str(tmp_path)
  first = workdir.WorkdirLock(wd).acquire()
  with pytest.raises(workdir.WorkdirError, match=f"in use by pid {os.getpid()}"):
    workdir.WorkdirLock(wd).acquire()
  first.release()
  assert not os.path.exists(first.path)
  # A lock left by a process that is gone (killed): taken over.
  dead = subprocess.Popen([sys.executable, "-c", "pass"])
  dead.wait()
  with open(first.path, "w") as f:
    json.dump({"pid": dead.pid, "host": socket.gethostname(), "since": "then"}, f)
  with workdir.WorkdirLock(wd) as lock:
    with open(lock.path) as f:
      assert json.load(f)["pid"] == os.getpid()
  # Another host's lock cannot be checked: refused.
  with open(first.path, "w") as f:
    json.dump({"pid": 1, "host": "elsewhere", "since": "then"}, f)
  with pytest.raises(workdir.WorkdirError, match="elsewhere"):
    workdir.WorkdirLock(wd).acquire()


def test_two_train_processes_on_one_workdir(repo, tmp_path):
  wd = str(tmp_path / "w")
  cmd = [sys.executable, "-m", "launch.train", "--config=configs/parity.py:smoke",
         "--config.train.steps=100000", f"--workdir={wd}"]
  first = subprocess.Popen(cmd, cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  try:
    lock = os.path.join(wd, workdir.WorkdirLock.NAME)
    deadline = time.time() + 120
    while not os.path.exists(lock) and time.time() < deadline and first.poll() is None:
      time.sleep(0.2)
    assert os.path.exists(lock), first.stderr.read().decode() if first.poll() is not None else ""
    second = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=120)
    lines = second.stderr.strip().splitlines()
    assert second.returncode == 2 and len(lines) == 1 and "in use by pid" in lines[0], second.stderr
  finally:
    first.send_signal(signal.SIGKILL)
    first.wait()
  assert os.path.exists(lock)  # a killed run leaves its lock: stale, taken over below
  again = subprocess.run([sys.executable, "-c",
                          "from limits import workdir; import sys; "
                          f"workdir.WorkdirLock({wd!r}).acquire(); print('ok')"],
                         cwd=repo, capture_output=True, text=True)
  assert again.returncode == 0 and again.stdout.strip() == "ok", again.stderr
