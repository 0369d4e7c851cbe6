r"""`python -m launch.benchmark profile`: where one training step's time goes, per XLA op.

  python -m launch.benchmark profile                               # paper shape, post-LN
  python -m launch.benchmark profile --profile_layer_norm=none     # the paper's model
  python -m launch.benchmark profile --profile_shape=tiny --profile_steps=3

Traces --profile_steps compiled steps of `limits`' single-member train step at the shape
(launch/bench_sweep.SHAPES) with `jax.profiler.trace(create_perfetto_trace=True)`, reads
every executed op's duration from the trace, and files each op under what produced it,
from the op_name metadata XLA keeps in the compiled HLO (Flax module paths and JAX's
jvp/transpose markers):

  pass       forward (jvp), backward (transpose), or the rest (optimizer, clipping, the
             finite checks, sampling), `step`;
  component  attention projections (q, k, v, out), attention dots (q.k and w.v batched
             dots), softmax and masks, FFN, layer norm, embedding and readout, sampling,
             optimizer (AdamW, clipping, the update and finite checks).

Prints milliseconds per step and share of the ops' summed time for each (pass,
component), then the wall time per step, the ops' summed time (threads can overlap, so it
may exceed the wall time), their ratio, and the useful-FLOP rate against a float32 matmul
measured in the same run (bench_sweep._matmul_rate). Other load on the machine stretches
every op; shares are what to compare, and the ratios between runs of this command.
"""

from __future__ import annotations

import collections
import glob
import gzip
import json
import os
import re
import math
import tempfile
import time
from typing import Any

import jax
from absl import flags

_SHAPE = flags.DEFINE_string("profile_shape", "paper", "Shape (launch/bench_sweep.SHAPES).")
_LN = flags.DEFINE_string("profile_layer_norm", "post",
                          "model.layer_norm of the profiled model (post: Delétang et al.'s; "
                          "none: the paper's).")
_STEPS = flags.DEFINE_integer("profile_steps", 5, "Traced steps.")

# (substring of op_name, component), first match wins; op_names look like
# jit(train_step)/vmap(transpose(jvp(Transformer)))/Transformer.encode/layer_3/attention/query/...
COMPONENTS = (
    ("/attention/query", "attention projections"), ("/attention/key", "attention projections"),
    ("/attention/value", "attention projections"), ("/attention/out", "attention projections"),
    ("bqhk,bshk", "attention dots"), ("bhqs,bshk", "attention dots"),
    ("bhqs,bqhk", "attention dots"), ("bqhk,bqhk", "attention dots"),
    ("/weighted_sum/", "attention dots"),   # w.v into [B, H, Q, K] and its transpose
    ("/attention/dot_general", "attention dots"),   # the attention VJP's own dots
    ("/attention/", "softmax and masks"), ("/ffn_", "FFN"), ("/ln_", "layer norm"),
    ("final_ln", "layer norm"), ("/embed", "embedding and readout"),
    ("embed_positions", "embedding and readout"), ("/readout", "embedding and readout"),
    ("Transformer", "other model ops"),
    ("threefry", "sampling"), ("sample", "sampling"), ("member_step", "sampling"),
)


def classify(op_name: str) -> tuple[str, str]:
  """(pass, component) of an op from its HLO op_name metadata."""
  if "transpose(" in op_name:
    kind = "backward"
  elif "jvp(" in op_name:
    kind = "forward"
  else:
    kind = "step"
  for key, component in COMPONENTS:
    if key in op_name:
      return kind, component
  return kind, "optimizer and checks" if kind == "step" else "other model ops"


def kernel_shapes(params: Any) -> dict[tuple[int, ...], str]:
  """Shapes of the model's kernels as 2-D (fan-in, fan-out) -> a backward op_name for the
  weight-gradient dot that produces one (a shape several kernels share, as q, k, v and
  out at H x K = width do, is named by the first)."""
  out: dict[tuple[int, ...], str] = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
    keys = [str(getattr(k, "key", k)) for k in path]
    if keys[-1] != "kernel" or leaf.ndim < 3:   # leaf[0]: the member axis
      continue
    shape = leaf.shape[1:]
    for split in range(1, len(shape)):
      two = (math.prod(shape[:split]), math.prod(shape[split:]))
      for dims in (two, two[::-1]):
        out.setdefault(dims, "transpose(weight gradient)/" + "/".join(keys[:-1]))
  return out


def op_names(hlo_text: str, kernels: dict[tuple[int, ...], str] | None = None) -> dict[str, str]:
  """HLO instruction name -> its op_name metadata. A fusion whose own metadata is empty
  (XLA:CPU's library fusions) takes that of what it calls: its dot's if the dot has one;
  for a dot that lost it, the kernel it reads (that layer's matmul or data gradient), else
  a kernel's shape of its output (`kernels`: that kernel's weight gradient); otherwise
  its root's, else its first named instruction's, else its first named operand's ("" when
  nothing is named)."""
  own: dict[str, str] = {}
  calls: dict[str, str] = {}
  operands: dict[str, list[str]] = {}
  shapes: dict[str, tuple[int, ...]] = {}
  dotted: set[str] = set()
  inside: dict[str, list[tuple[str, bool, bool]]] = {}   # computation -> (op_name, dot, root)
  computation = None
  for line in hlo_text.splitlines():
    head = re.match(r"^(?:ENTRY )?%?([\w.\-]+) \(.*\{$", line)
    if head:
      computation = head.group(1)
      continue
    m = re.match(r"^\s*(ROOT )?%?([\w.\-]+) = (.*)$", line)
    if not m:
      continue
    meta = re.search(r'op_name="([^"]*)"', m.group(3))
    name = meta.group(1).replace("\\'", "'") if meta else ""   # HLO text escapes quotes
    own[m.group(2)] = name
    called = re.search(r"calls=%?([\w.\-]+)", m.group(3))
    if called:
      calls[m.group(2)] = called.group(1)
      args = re.search(r"fusion\(([^)]*)\)", m.group(3))
      operands[m.group(2)] = re.findall(r"%([\w.\-]+)", args.group(1)) if args else []
      dims = re.match(r"\w+\[([\d,]*)\]", m.group(3))
      shapes[m.group(2)] = tuple(int(x) for x in dims.group(1).split(",") if x) if dims else ()
    if computation is not None and " dot(" in m.group(3):
      dotted.add(computation)
    if computation is not None and name:
      inside.setdefault(computation, []).append(
          (name, " dot(" in m.group(3) or "dot_general" in name, bool(m.group(1))))
  unnamed = {i for i in calls if not own.get(i)}
  for instr in unnamed:   # a fusion around a dot that kept its name: that dot
    own[instr] = next((n for n, dot, _ in inside.get(calls[instr], ()) if dot), "")
  # A library dot fusion whose dot lost its name (XLA:CPU's YNN fusions keep only the
  # metadata of what they fused around the dot, e.g. a layer norm feeding an FFN matmul):
  # named by the kernel it reads (that layer's matmul, forward or data gradient), else by
  # its output having a kernel's shape (that kernel's weight gradient).
  for instr in sorted(unnamed):
    if own[instr] or calls[instr] not in dotted:
      continue
    names = [own.get(o, "") for o in operands.get(instr, ())]
    kernel = next((n for n in names if "['kernel']" in n), None)
    dims = tuple(d for d in shapes.get(instr, ()) if d != 1)
    if kernel:
      path = "/".join(re.findall(r"\['([^']+)'\]", kernel)[:-1])
      grad = any("transpose(" in n for n in names)
      own[instr] = ("transpose(data gradient)/" if grad else "jvp(matmul)/") + path
    elif kernels and dims in kernels:
      own[instr] = kernels[dims]
  # A dot fusion that reads no kernel, fused around or fed by attention ops (a mask, a
  # scale): one of attention's own dots, whose operands are both activations (q.k, w.v,
  # their VJPs).
  for instr in sorted(unnamed):
    if own[instr] or calls[instr] not in dotted:
      continue
    near = [n for n, _, _ in inside.get(calls[instr], ())] + [own.get(o, "") for o in
                                                               operands.get(instr, ())]
    att = next((n for n in near if "/attention/" in n), None)
    if att:
      own[instr] = att.split("/attention/")[0] + "/attention/dot_general"
  for instr in unnamed:   # any other fusion: its root, else its first named instruction
    named = inside.get(calls[instr])
    if not own[instr] and named:
      own[instr] = next((n for n, _, root in named if root), None) or named[0][0]
  # Still unnamed: the first named operand.
  for instr in calls:
    if not own.get(instr):
      own[instr] = next((own[o] for o in operands.get(instr, ()) if own.get(o)), "")
  return own


def op_durations(trace_dir: str) -> dict[str, float]:
  """Summed microseconds per event name in the newest perfetto trace under `trace_dir`."""
  files = sorted(glob.glob(os.path.join(trace_dir, "**", "*.trace.json.gz"), recursive=True),
                 key=os.path.getmtime)
  if not files:
    raise RuntimeError(f"jax.profiler wrote no perfetto trace under {trace_dir}")
  with gzip.open(files[-1]) as f:
    events = json.load(f)["traceEvents"]
  # Self time: an op that runs others inside it (a while loop, a call) keeps only what its
  # children do not account for, so nothing is counted twice.
  out: dict[str, float] = collections.Counter()
  by_thread: dict[tuple, list] = collections.defaultdict(list)
  for e in events:
    if e.get("ph") == "X" and "dur" in e:
      by_thread[(e.get("pid"), e.get("tid"))].append(e)
  for evs in by_thread.values():
    evs.sort(key=lambda e: (float(e["ts"]), -float(e["dur"])))
    stack: list[list] = []   # [end, name, self time]
    for e in evs:
      start, dur = float(e["ts"]), float(e["dur"])
      while stack and stack[-1][0] <= start:
        _, name, own = stack.pop()
        out[name] += own
      if stack:
        stack[-1][2] -= dur
      stack.append([start + dur, e["name"], dur])
    for _, name, own in stack:
      out[name] += own
  return out


def breakdown(names: dict[str, str], durations: dict[str, float], steps: int) -> list[dict]:
  """Rows (pass, component, ms_per_step, share) of the ops found in both, largest first."""
  total: dict[tuple[str, str], float] = collections.Counter()
  for name, us in durations.items():
    if name in names:
      total[classify(names[name])] += us
  summed = sum(total.values())
  rows = [{"pass": k[0], "component": k[1], "ms_per_step": us / steps / 1e3,
           "share": us / summed if summed else float("nan")}
          for k, us in sorted(total.items(), key=lambda kv: -kv[1])]
  return rows


def profile(argv: list[str]) -> None:
  from launch import bench_peers, bench_sweep, common
  from limits import results
  if _SHAPE.value not in bench_sweep.SHAPES:
    common.fail(f"--profile_shape: unknown shape {_SHAPE.value!r}; allowed: "
                f"{', '.join(bench_sweep.SHAPES)}")
  if _LN.value not in ("none", "pre", "post", "final"):
    common.fail(f"--profile_layer_norm: unknown value {_LN.value!r}; allowed: none, pre, "
                f"post, final")
  if _STEPS.value < 1:
    common.fail(f"--profile_steps: must be at least 1, got {_STEPS.value}")
  shape, steps = bench_sweep.SHAPES[_SHAPE.value], _STEPS.value
  fn, state, keys = bench_peers._ours_step(shape, _LN.value)
  names = op_names(fn.lower(state, keys).compile().as_text(), kernel_shapes(state.params))
  ceiling = bench_sweep._matmul_rate()
  with tempfile.TemporaryDirectory() as d:
    with jax.profiler.trace(d, create_perfetto_trace=True):
      t0 = time.perf_counter()
      for _ in range(steps):
        state, m = fn(state, keys)
      jax.block_until_ready((state, m))
      wall = (time.perf_counter() - t0) / steps
    durations = op_durations(d)
  rows = breakdown(names, durations, steps)
  if not rows:
    common.fail("profile: no traced op matched the compiled step's HLO (is this a backend "
                "whose profiler names ops differently?)")
  print(f"training step, shape {_SHAPE.value} ({shape}), layer norm {_LN.value}, "
        f"{jax.device_count()} device(s), {steps} traced steps:")
  print(results.format_table(rows, ("pass", "component", "ms_per_step", "share")))
  by_pass: dict[str, float] = collections.Counter()
  for r in rows:
    by_pass[r["pass"]] += r["share"]
  summed_ms = sum(r["ms_per_step"] for r in rows)
  flops = 3 * bench_sweep._forward_flops(shape["depth"], shape["heads"],
                                         shape["width"] // shape["heads"], shape["width"],
                                         shape["mlp_width"], shape["length"],
                                         shape["batch"])
  print("by pass: " + ", ".join(f"{k} {v:.0%}" for k, v in sorted(by_pass.items())))
  print(f"wall {wall * 1e3:.1f} ms/step (traced), ops summed {summed_ms:.1f} ms/step "
        f"(ratio {summed_ms / (wall * 1e3):.2f}; threads overlap); useful "
        f"{flops / wall / 1e9:.1f} GFLOP/s = {flops / wall / ceiling:.0%} of the float32 "
        f"matmul ceiling measured now ({ceiling / 1e9:.1f} GFLOP/s)")
