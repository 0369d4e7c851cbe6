"""Two jax.distributed processes on 127.0.0.1 (CPU, gloo collectives), 4 devices each:
the smoke sweep's results table equals the single-process one, byte for byte, and a run
whose process 1 is SIGKILLed mid-way resumes to the same table."""

import os
import signal
import socket
import subprocess
import sys
import time

STEPS = ["--config.train.steps=200", "--config.train.checkpoint_every=50",
         "--config.train.log_every=50"]


def _port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _env():
  env = dict(os.environ)
  env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
  env["JAX_PLATFORMS"] = "cpu"
  return env


def _start(repo, workdir, port, pid):
  cmd = [sys.executable, "-m", "launch.train", "--config=configs/sweep.py:smoke",
         f"--workdir={workdir}", f"--coordinator_address=127.0.0.1:{port}",
         "--num_processes=2", f"--process_id={pid}", *STEPS]
  return subprocess.Popen(cmd, cwd=repo, env=_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def test_two_processes_match_one_and_resume_after_a_kill(repo, tmp_path):
  workdir = str(tmp_path / "two")
  port = _port()
  procs = [_start(repo, workdir, port, i) for i in (0, 1)]
  ckpt = os.path.join(workdir, "checkpoints", "100")
  deadline = time.time() + 300
  while not os.path.isdir(ckpt) and time.time() < deadline and all(p.poll() is None for p in procs):
    time.sleep(0.05)
  assert os.path.isdir(ckpt), [p.communicate()[0][-2000:] for p in procs]
  procs[1].send_signal(signal.SIGKILL)  # one host dies; the other is stuck or fails
  procs[1].communicate()
  procs[0].send_signal(signal.SIGKILL)
  procs[0].communicate()
  assert not os.path.exists(os.path.join(workdir, "results.csv"))

  port = _port()
  procs = [_start(repo, workdir, port, i) for i in (0, 1)]
  outs = [p.communicate(timeout=600)[0] for p in procs]
  assert [p.returncode for p in procs] == [0, 0], outs[0][-3000:] + outs[1][-3000:]
  assert "resumed from" in outs[0]

  single = str(tmp_path / "one")
  r = subprocess.run([sys.executable, "-m", "launch.train", "--config=configs/sweep.py:smoke",
                      f"--workdir={single}", *STEPS], cwd=repo, env=_env(), capture_output=True,
                     text=True, timeout=600)
  assert r.returncode == 0, r.stderr[-3000:]
  with open(os.path.join(workdir, "results.csv")) as a, open(os.path.join(single, "results.csv")) as b:
    assert a.read() == b.read()
