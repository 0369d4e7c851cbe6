r"""`python -m launch.benchmark scaling`: a population's member-steps/s on 1, 2, 4 and 8
devices (simulated CPU devices, each measured in a fresh process with
--xla_force_host_platform_device_count), and on the accelerator when JAX has one.

The population is 16 members (4 seeds x 4 learning rates) of one shape (--scaling_shape,
from launch/bench_sweep.SHAPES); useful FLOP rate = each member's forward + backward
FLOPs per second, next to the float32 matmul rate measured in the same process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from absl import flags

_SHAPE = flags.DEFINE_string("scaling_shape", "tiny", "Shape: tiny or paper.")
_DEVICES = flags.DEFINE_string("scaling_devices", "1,2,4,8", "Simulated CPU device counts.")
_CHILD = flags.DEFINE_integer("scaling_child", 0, "Internal: measure in this process.")


def _measure(shape_name: str, steps: int) -> dict:
  import jax
  from launch import bench_sweep
  sh = bench_sweep.SHAPES[shape_name]
  exp = bench_sweep._exp(sh, seeds="0-3", learning_rates="1e-3,5e-4,2e-4,1e-4")
  seconds, first = bench_sweep._time_steps(exp, steps)
  k = sh["width"] // sh["heads"]
  useful = 16 * 3 * bench_sweep._forward_flops(sh["depth"], sh["heads"], k, sh["width"],
                                               sh["mlp_width"], sh["length"], sh["batch"])
  ceiling = bench_sweep._matmul_rate()
  return {"backend": jax.default_backend(), "devices": jax.device_count(),
          "member_steps_per_s": 16 * steps / seconds, "first_step_s": first,
          "useful_gflops": useful * steps / seconds / 1e9, "matmul_gflops": ceiling / 1e9,
          "ceiling_fraction": useful * steps / seconds / ceiling}


def scaling(argv: list[str]) -> None:
  from launch import bench_sweep, common
  from limits import results
  if _SHAPE.value not in bench_sweep.SHAPES:
    common.fail(f"--scaling_shape: unknown shape {_SHAPE.value!r}; allowed: "
                f"{', '.join(bench_sweep.SHAPES)}")
  steps = bench_sweep._STEPS.value
  if _CHILD.value:
    print("RESULT " + json.dumps(_measure(_SHAPE.value, steps)), flush=True)
    return
  rows = []
  counts = [int(c) for c in _DEVICES.value.split(",") if c.strip()]
  for n in counts:
    # JAX_NUM_CPU_DEVICES (which the entry points set to the core count) would override
    # the XLA flag: both name this child's count.
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES=str(n),
               XLA_FLAGS=f"--xla_force_host_platform_device_count={n}")
    out = subprocess.run([sys.executable, "-m", "launch.benchmark", "scaling",
                          "--scaling_child=1", f"--scaling_shape={_SHAPE.value}",
                          f"--steps={steps}"], env=env, capture_output=True, text=True)
    line = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
    if not line:
      common.fail(f"scaling run on {n} devices failed: {out.stderr.strip().splitlines()[-1:]}")
    rows.append(json.loads(line[0][7:]))
    print(f"  cpu x{n}: {rows[-1]['member_steps_per_s']:.1f} member-steps/s", flush=True)
  env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
  out = subprocess.run([sys.executable, "-c", "import jax; print(jax.default_backend())"],
                       env=env, capture_output=True, text=True)
  if out.stdout.strip() in ("gpu", "tpu"):
    out = subprocess.run([sys.executable, "-m", "launch.benchmark", "scaling", "--scaling_child=1",
                          f"--scaling_shape={_SHAPE.value}", f"--steps={steps}"], env=env,
                         capture_output=True, text=True)
    line = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
    if line:
      rows.append(json.loads(line[0][7:]))
  else:
    print("  (no GPU/TPU visible to JAX: accelerator row skipped)")
  base = rows[0]["member_steps_per_s"]
  for r in rows:
    r["vs_1_device"] = r["member_steps_per_s"] / base
  print()
  print(results.format_table(rows, ("backend", "devices", "member_steps_per_s", "vs_1_device",
                                    "useful_gflops", "matmul_gflops", "ceiling_fraction")))
