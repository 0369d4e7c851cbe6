"""The training progress line: step, loss, best member, rate and ETA.

The rate counts only steps this process ran (a resumed run starts its count at the
restored step) and, from the second line on, only steps after the first line: the first
line's window holds the compile and, after a resume at a step between two log lines,
just the few steps up to the next one, so a rate since the start of the process would
put the ETA far off for the whole run.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np


def format_eta(seconds: float) -> str:
  """'MM:SS' under an hour, 'H:MM:SS' beyond (never wrapping), '--:--' if unknown."""
  if not np.isfinite(seconds) or seconds < 0:
    return "--:--"
  s = int(round(seconds))
  h, rest = divmod(s, 3600)
  return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


class Progress:
  """One progress line for the population, from `start` (the step this process began
  at) to `total`. `clock` (seconds) is for tests."""

  def __init__(self, start: int, total: int,
               clock: Callable[[], float] = time.perf_counter):
    self.start, self.total, self.clock = start, total, clock
    self.t0 = clock()
    self._first: tuple[int, float] | None = None   # (step, time) of the first line

  def rate(self, step: int) -> float:
    """Steps per second at `step`: since the first line's step once there was one,
    else since this process started (compile included)."""
    now = self.clock()
    if self._first is None:
      self._first = (step, now)
    s0, t0 = (self.start, self.t0) if step <= self._first[0] else self._first
    dt = now - t0
    return (step - s0) / dt if dt > 0 else 0.0

  def line(self, step: int, metrics: dict[str, list[float]]) -> str:
    rate = self.rate(step)
    eta_s = format_eta((self.total - step) / rate if rate > 0 else float("nan"))
    loss = np.asarray(metrics["loss_bits"], np.float64)
    alive = np.asarray(metrics["diverged"]) == 0
    m = len(loss)
    if m == 1:
      head = f"loss {loss[0]:.4f} bits  acc {metrics['accuracy'][0]:.3f}"
    else:
      best = int(np.argmin(np.where(alive, loss, np.inf))) if alive.any() else 0
      head = (f"{m} members  mean loss {np.mean(loss[alive]) if alive.any() else float('nan'):.4f}"
              f" bits  best #{best} {loss[best]:.4f} bits acc {metrics['accuracy'][best]:.3f}")
    div = f"  diverged {int((~alive).sum())}" if (~alive).any() else ""
    if "stopped" in metrics and any(metrics["stopped"]):
      div += f"  stopped {int(sum(metrics['stopped']))}"
    return (f"step {step:>6d}/{self.total}  {head}{div}  {rate * m:7.1f} member-steps/s  "
            f"ETA {eta_s}")
