"""Runs an entry point with one injected fault, for tests/test_reliability.py.

  python tests/fault_runner.py FAULT MODULE [FLAGS...]

Faults (each patches the process before `MODULE` runs as `__main__`):
  kill_in_save=S    SIGKILL once orbax has written step S's files, before its final rename
  pause_at=S:FILE   after step S, create FILE and wait (up to 60 s) for a SIGTERM to arrive
  kill_in_eval      SIGKILL as evaluation starts (training and its checkpoint are done)
  enospc_results    writing results.csv fails half-way with ENOSPC (disk full)
  fill_disk_at=S:FILE  after step S, fill the disk holding FILE (a tmpfs) before the save
  none              no fault
"""

import errno
import os
import runpy
import signal
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def _wrap_on_step(hook):
  """Calls `hook(step)` before experiment.run's own `on_step` (checkpoint, SIGTERM check)."""
  from limits import train as train_lib
  orig = train_lib.train_loop

  def train_loop(setup, state, keys_M=None, *, on_metrics=None, on_step=None):
    def wrapped(step, st):
      hook(step)
      on_step(step, st)
    return orig(setup, state, keys_M, on_metrics=on_metrics, on_step=wrapped)
  train_lib.train_loop = train_loop


def main() -> None:
  fault, module, *flags = sys.argv[1:]
  kind, _, arg = fault.partition("=")
  if kind == "kill_in_save":
    orig_rename = os.rename

    def rename(src, dst, *a, **k):
      if os.path.basename(str(src)).startswith(f"{arg}.orbax-checkpoint-tmp"):
        os.kill(os.getpid(), signal.SIGKILL)
      return orig_rename(src, dst, *a, **k)
    os.rename = rename
  elif kind == "pause_at":
    step_s, marker = arg.split(":", 1)
    got = []
    orig_signal = signal.signal

    def track(signum, handler):  # note when experiment.run's SIGTERM handler has run
      if signum == signal.SIGTERM and callable(handler):
        inner = handler
        handler = lambda s, f: (got.append(time.time()), inner(s, f))
      return orig_signal(signum, handler)
    signal.signal = track

    def hook(step):
      if step == int(step_s):
        open(marker, "w").close()
        deadline = time.time() + 60
        while not got and time.time() < deadline:
          time.sleep(0.01)
    _wrap_on_step(hook)
  elif kind == "kill_in_eval":
    from limits import evaluate
    evaluate.Evaluator.__call__ = lambda self, *a, **k: os.kill(os.getpid(), signal.SIGKILL)
  elif kind == "enospc_results":
    from limits import results

    class Full:
      def __init__(self, path, *a, **k):
        self.f = open(path, *a, **k)

      def __enter__(self):
        return self

      def __exit__(self, *exc):
        self.f.close()

      def write(self, text):
        self.f.write(text[: len(text) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.f.name)

    results.open = lambda path, *a, **k: (Full if str(path).endswith("results.csv.tmp")
                                          else open)(path, *a, **k)
  elif kind == "fill_disk_at":
    step_s, filler = arg.split(":", 1)

    def hook(step):
      if step == int(step_s):
        with open(filler, "wb", buffering=0) as f:
          try:
            while True:
              f.write(b"\0" * 4096)
          except OSError:
            pass
    _wrap_on_step(hook)
  elif kind != "none":
    raise SystemExit(f"unknown fault {fault!r}")
  sys.argv = [module, *flags]
  os.chdir(REPO)
  runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
  main()
