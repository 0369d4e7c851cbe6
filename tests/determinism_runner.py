"""Repeats the distributed determinism check under load, for issue 19 and the README.

  python tests/determinism_runner.py [--repeats=10] [--side_by_side=2] [--out=DIR]

Each repeat trains the smoke sweep (200 steps, checkpoints every 50) three ways on 8
simulated CPU devices in all: one process with 8; two jax.distributed processes with 4
each; two such processes SIGKILLed after checkpoint 100 and rerun to resume. `--side_by_side` repeats
run at once (each repeat's three runs one after another), so the runs compete for the
cores. Every results.csv must be byte-identical to the first one; the script prints one
line per run (sha256 prefix) and a summary, and exits 1 on any difference.

The source tree is copied once at the start and every run imports that copy, so edits
made to the working tree while this runs (a shared tree) cannot mix two versions of the
code into one comparison.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = ["--config.train.steps=200", "--config.train.checkpoint_every=50",
         "--config.train.log_every=50"]
CONFIG = "--config=configs/sweep.py:smoke"


def snapshot(repo: str, dest: str) -> str:
  """Copies the importable source (launch/, limits/, configs/) into `dest`."""
  for d in ("launch", "limits", "configs"):
    shutil.copytree(os.path.join(repo, d), os.path.join(dest, d),
                    ignore=shutil.ignore_patterns("__pycache__"))
  return dest


DEVICES = 8  # in all: one process holds 8, each of two holds 4


def env(devices: int) -> dict[str, str]:
  e = dict(os.environ)
  e["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
  e["JAX_PLATFORMS"] = "cpu"
  return e


def port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def start(src: str, workdir: str, num_processes: int, pid: int, p: int) -> subprocess.Popen:
  cmd = [sys.executable, "-m", "launch.train", CONFIG, f"--workdir={workdir}", *STEPS]
  if num_processes > 1:
    cmd += [f"--coordinator_address=127.0.0.1:{p}", f"--num_processes={num_processes}",
            f"--process_id={pid}"]
  return subprocess.Popen(cmd, cwd=src, env=env(DEVICES // num_processes), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def finish(procs: list[subprocess.Popen], what: str) -> None:
  outs = [p.communicate(timeout=1200)[0] for p in procs]
  codes = [p.returncode for p in procs]
  if any(codes):
    raise RuntimeError(f"{what}: exit {codes}\n" + "\n".join(o[-2000:] for o in outs))


def one_process(src: str, workdir: str) -> None:
  finish([start(src, workdir, 1, 0, 0)], "one process")


def two_processes(src: str, workdir: str) -> None:
  p = port()
  finish([start(src, workdir, 2, i, p) for i in (0, 1)], "two processes")


def two_processes_killed(src: str, workdir: str) -> None:
  """Process 1 SIGKILLed once checkpoint 100 exists, then process 0; then both rerun."""
  p = port()
  procs = [start(src, workdir, 2, i, p) for i in (0, 1)]
  ckpt = os.path.join(workdir, "checkpoints", "100")
  deadline = time.time() + 900
  while (not os.path.isdir(ckpt) and time.time() < deadline
         and all(q.poll() is None for q in procs)):
    time.sleep(0.05)
  if not os.path.isdir(ckpt):
    for q in procs:
      if q.poll() is None:
        q.kill()
    outs = [q.communicate()[0] for q in procs]
    raise RuntimeError(f"killed run: checkpoint 100 never appeared (exit "
                       f"{[q.returncode for q in procs]})\n" + "\n".join(o[-3000:] for o in outs))
  for q in (procs[1], procs[0]):
    q.send_signal(signal.SIGKILL)
    q.communicate()
  if os.path.exists(os.path.join(workdir, "results.csv")):
    raise RuntimeError("killed run: results.csv written before the kill")
  p = port()
  procs = [start(src, workdir, 2, i, p) for i in (0, 1)]
  finish(procs, "resumed two processes")


SCENARIOS = {"1proc": one_process, "2proc": two_processes, "2proc_kill": two_processes_killed}


def repeat(src: str, root: str, r: int) -> list[tuple[str, str]]:
  out = []
  for name, fn in SCENARIOS.items():
    workdir = os.path.join(root, f"r{r:02d}_{name}")
    t0 = time.time()
    try:
      fn(src, workdir)
    except Exception as e:  # noqa: BLE001  a run that fails is reported, the others go on
      print(f"repeat {r:2d} {name:10s} FAILED: {e}", flush=True)
      out.append((f"r{r}_{name}", "failed"))
      continue
    with open(os.path.join(workdir, "results.csv"), "rb") as f:
      digest = hashlib.sha256(f.read()).hexdigest()
    print(f"repeat {r:2d} {name:10s} {time.time() - t0:6.1f} s  results.csv sha256 "
          f"{digest[:16]}", flush=True)
    out.append((f"r{r}_{name}", digest))
  return out


def main() -> None:
  ap = argparse.ArgumentParser()
  ap.add_argument("--repeats", type=int, default=10)
  ap.add_argument("--side_by_side", type=int, default=2)
  ap.add_argument("--out", default=None, help="keep the workdirs here (default: a temp dir)")
  a = ap.parse_args()
  root = a.out or tempfile.mkdtemp(prefix="limits-determinism-")
  os.makedirs(root, exist_ok=True)
  src = snapshot(REPO, os.path.join(root, "src"))
  t0 = time.time()
  with concurrent.futures.ThreadPoolExecutor(a.side_by_side) as pool:
    digests = [d for f in [pool.submit(repeat, src, root, r) for r in range(a.repeats)]
               for d in f.result()]
  failed = [name for name, d in digests if d == "failed"]
  ran = [(name, d) for name, d in digests if d != "failed"]
  first = ran[0][1] if ran else None
  differ = [name for name, d in ran if d != first]
  print(f"{len(digests)} runs ({a.repeats} repeats x {len(SCENARIOS)} ways, "
        f"{a.side_by_side} side by side) in {time.time() - t0:.0f} s: "
        f"{len(ran) - len(differ)} byte-identical to the first, {len(differ)} differ"
        + (f" ({', '.join(differ)})" if differ else "")
        + f", {len(failed)} failed" + (f" ({', '.join(failed)})" if failed else ""))
  sys.exit(1 if differ or failed else 0)


if __name__ == "__main__":
  main()
