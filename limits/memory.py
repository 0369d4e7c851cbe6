"""Memory estimates before anything compiles, and the budget they are checked against.

An input that passes validation can still ask XLA for more memory than the machine has
(a 40,000-symbol string: attention is quadratic in length; a batch of 2e9 strings). These
estimates are closed-form counts of the float32 tensors a program keeps alive, checked
against the machine's memory (or a `--max_memory` budget) so such a request is refused in
one line that says the estimate and what to lower. They are estimates, compared with
XLA's own `memory_analysis()` in tests/test_memory.py (within the stated factor), not
allocator measurements.

Per string and layer, with T positions, H heads, K head width, D width, F FFN width:
  attention  2 H T^2 (scores and weights)      projections  3 H K T + T D
  FFN        2 F T (pre and post ReLU)         residuals    2 T D
Training keeps every layer's tensors for the backward pass and needs about as much again
while it runs (`TRAIN_FACTOR`); evaluation holds one layer at a time. The paper's literal
prediction form (no causal mask) re-reads each of the T prefixes: T strings per string.

Letters: B strings, T positions, M members per device.
"""

from __future__ import annotations

import math
import os
import re

BYTES = 4            # float32
TRAIN_FACTOR = 2.0   # backward pass: gradients of each saved tensor, one layer at a time
SAFETY = 0.9         # of the machine's memory a run may plan to use
# What one evaluation or prediction call may hold (strings side by side). The default
# experiment's peak resident memory: 2.44 GB at 256 MiB, 1.14 GB at 64 MiB (glibc, same
# results.csv byte for byte): evaluation, not training, set the peak.
EVAL_BYTES = 1 << 26


def machine_bytes() -> int:
  """Physical memory, or the cgroup (container) limit when that is lower."""
  try:
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
  except (ValueError, OSError, AttributeError):
    total = 1 << 40
  for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
    try:
      with open(path) as f:
        raw = f.read().strip()
      if raw.isdigit():
        total = min(total, int(raw))
    except OSError:
      pass
  return total


def parse_bytes(value: str | None, field: str = "--max_memory") -> int | None:
  """'8G', '512M', '2.5GB', '1000000' -> bytes; None/'' -> None. ValueError names the field."""
  if value is None or not str(value).strip():
    return None
  m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]?)[iI]?[bB]?\s*", str(value))
  if not m:
    raise ValueError(f"{field}: expected a size like 8G or 512M, got {value!r}")
  scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
  n = int(float(m.group(1)) * scale)
  if n <= 0:
    raise ValueError(f"{field}: must be > 0, got {value!r}")
  return n


def budget(max_memory: str | None = None) -> int:
  """Bytes a run may plan for: `max_memory`, else SAFETY x the machine's memory."""
  return parse_bytes(max_memory) or int(SAFETY * machine_bytes())


def gib(n: float) -> str:
  return f"{n / (1 << 30):.3g} GiB"


def _per_string_layer(cfg, t: int) -> float:
  """Float32 values one string keeps per layer at T = t positions."""
  if cfg.kind != "transformer":
    return 10.0 * cfg.width * t        # LSTM gates, cell and hidden states
  h, k = cfg.heads, cfg.head_dim
  return 2 * h * t * t + 3 * h * k * t + 3 * cfg.width * t + 2 * cfg.mlp_width * t


def _strings(cfg, task: str, batch: int, t: int) -> int:
  literal = task == "prediction" and cfg.kind == "transformer" and not cfg.causal
  return batch * (t if literal else 1)


def train_bytes(cfg, task: str, batch: int, tokens: int, members: int) -> float:
  """Training step of `members` members side by side: every layer kept for backward."""
  per = _per_string_layer(cfg, tokens) * cfg.depth * TRAIN_FACTOR
  return BYTES * per * _strings(cfg, task, batch, tokens) * members


def eval_bytes(cfg, task: str, batch: int, tokens: int, lengths: int = 1) -> float:
  """Evaluation of `lengths` lengths x `batch` strings side by side, one layer alive."""
  return BYTES * _per_string_layer(cfg, tokens) * _strings(cfg, task, batch, tokens) * lengths


def max_tokens(cfg, task: str, batch: int, limit: float, train: bool = False) -> int:
  """The largest T whose estimate fits `limit` (for the message saying what to lower)."""
  lo, hi = 1, 1 << 22
  fn = (lambda t: train_bytes(cfg, task, batch, t, 1)) if train else (
      lambda t: eval_bytes(cfg, task, batch, t))
  while lo < hi:
    mid = (lo + hi + 1) // 2
    lo, hi = (mid, hi) if fn(mid) <= limit else (lo, mid - 1)
  return lo


def check_train(exp, devices: int, limit: int) -> float:
  """Estimated bytes per device of one training step; ValueError when over `limit`.

  On the members x data mesh of limits/parallel.py (`mesh_shape`): a device holds
  M / gcd(M, devices) members and 1/d of each one's batch, d = gcd(B, devices / gcd(M,
  devices)) (`devices` here: this process's).
  """
  cfg, members, batch = exp.model, len(exp.members), exp.train.batch_size
  member_devices = math.gcd(members, max(1, devices))
  from limits import parallel    # the data axis is off on CPU unless asked for
  data = math.gcd(batch, max(1, devices) // member_devices) if parallel.data_axis_enabled() else 1
  per_device = members // member_devices
  if exp.train.member_chunk > 0:
    per_device = min(per_device, exp.train.member_chunk)
  local_batch = batch // data
  tokens = exp.max_train_length + 2                 # symbols, EOS and BOS
  need = train_bytes(cfg, exp.data.task, local_batch, tokens, per_device)
  if need > limit:
    one = train_bytes(cfg, exp.data.task, 1, tokens, per_device)
    fit = max(0, int(limit // one)) * data
    split = f" (of {batch}, split over {data} devices)" if data > 1 else ""
    raise ValueError(
        f"memory: a training step needs about {gib(need)} per device (batch "
        f"{local_batch}{split} x {tokens} positions x {per_device} member(s)), over the "
        f"{gib(limit)} available; lower train.batch_size (at most ~{fit} fits), the "
        f"training lengths or the model size, or set --max_memory")
  return need


def check_eval(exp, limit: int, lengths=None) -> float:
  """Estimated bytes of evaluating one string batch at the longest length."""
  cfg = exp.model
  n = max(lengths or exp.data.eval_lengths)
  tokens = n + 2
  # Evaluation splits its batch as far as one string (limits/evaluate.py), so one string
  # at the longest length is what must fit.
  need = eval_bytes(cfg, exp.data.task, 1, tokens)
  if need > limit:
    fit = max_tokens(cfg, exp.data.task, 1, limit) - 2
    raise ValueError(
        f"memory: evaluating length {n} needs about {gib(need)} for one string (attention "
        f"grows with the square of the length), over the {gib(limit)} available; at most "
        f"~{fit} symbols fit: lower the lengths, or set --max_memory")
  return need
