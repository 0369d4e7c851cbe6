"""Two jax.distributed processes on 127.0.0.1 (CPU, gloo collectives), 4 devices each:
the smoke sweep's results table equals the one of a single process with the same 8
devices, byte for byte, and a run whose process 1 is SIGKILLed mid-way resumes to the
same table. (tests/determinism_runner.py repeats this under load.)

The runs import a copy of the source taken when the test starts: the three runs take
minutes, and a tree edited meanwhile (several people, or an editor's save) would
otherwise compare two versions of the code."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import determinism_runner as runner  # noqa: E402


def test_two_processes_match_one_and_resume_after_a_kill(repo, tmp_path):
  src = runner.snapshot(repo, str(tmp_path / "src"))
  workdir = str(tmp_path / "two")
  port = runner.port()
  procs = [runner.start(src, workdir, 2, i, port) for i in (0, 1)]
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

  port = runner.port()
  procs = [runner.start(src, workdir, 2, i, port) for i in (0, 1)]
  outs = [p.communicate(timeout=600)[0] for p in procs]
  assert [p.returncode for p in procs] == [0, 0], outs[0][-3000:] + outs[1][-3000:]
  assert "resumed from" in outs[0]

  single = str(tmp_path / "one")
  r = subprocess.run([sys.executable, "-m", "launch.train", runner.CONFIG, f"--workdir={single}",
                      *runner.STEPS], cwd=src, env=runner.env(runner.DEVICES),
                     capture_output=True, text=True, timeout=600)
  assert r.returncode == 0, r.stderr[-3000:]
  with open(os.path.join(workdir, "results.csv")) as a, open(os.path.join(single, "results.csv")) as b:
    assert a.read() == b.read()
