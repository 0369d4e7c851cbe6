"""Smoke tests of every benchmark (`python -m launch.benchmark NAME`): tiny sizes, the
table's shape, and every ratio a finite positive number (never a wall-clock bound).

The peer part (Delétang et al.'s code) runs only where it is importable: LIMITS_PEER_PATH,
else ../shared/peers beside the repository, with the `bench` extra installed; otherwise
it is skipped. Nothing here imports the peer into this process.
"""

import math
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_PATH = os.environ.get("LIMITS_PEER_PATH",
                           os.path.join(os.path.dirname(REPO), "shared", "peers"))


def _peer_available() -> bool:
  if not os.path.isdir(os.path.join(PEER_PATH, "neural_networks_chomsky_hierarchy")):
    return False
  code = "import haiku, tree, einshape, tqdm, chex"
  return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def _bench(*args: str) -> str:
  env = dict(os.environ, LIMITS_CPU_DEVICES="2")
  env.pop("XLA_FLAGS", None)
  env.pop("JAX_NUM_CPU_DEVICES", None)
  out = subprocess.run([sys.executable, "-m", "launch.benchmark", *args], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
  return out.stdout


def _ratios(text: str, pattern: str) -> list[float]:
  return [float(x) for x in re.findall(pattern, text)]


def _finite_positive(values):
  assert values and all(math.isfinite(v) and v > 0 for v in values), values


def test_samplers_smoke():
  specs = ["parity", "shuffle_dyck:k=3", "tomita3", "even_pairs"]
  out = _bench("samplers", "--lengths=8", f"--languages={','.join(specs)}", "--batch=16",
               "--ref_seconds=0.01")
  rows = [l for l in out.splitlines() if re.match(r"^\S+\s+\d+\s+[\d.e+]+", l)]
  assert [r.split()[0] for r in rows] == specs, out
  for r in rows:
    _finite_positive(_ratios(r, r"([\d.]+)x"))
  assert "summary: n=512 not benchmarked" in out


def test_sweep_smoke():
  out = _bench("sweep", "--shapes=tiny", "--steps=1", "--grid=1", "--eval_lengths=21-22")
  table = [r for r in (l.split() for l in out.splitlines()) if len(r) == 6 and r[0] == "tiny"]
  assert [r[1] for r in table] == ["single", "pop1", "seq1", "grid1", "gridseq1"], out
  for r in table:
    _finite_positive([float(x) for x in r[2:]])
  _finite_positive(_ratios(out, r"speedup: ([\d.]+)"))
  _finite_positive(_ratios(out, r"interleaved\): ([\d.]+)x"))
  _finite_positive(_ratios(out, r"ratio ([\d.]+)x"))
  assert "time to first step" in out


def test_scaling_smoke():
  out = _bench("scaling", "--scaling_devices=1,2", "--steps=1", "--scaling_shape=tiny")
  rows = [r for r in (l.split() for l in out.splitlines()) if r[:1] == ["cpu"] and r[1].isdigit()]
  assert [int(r[1]) for r in rows] == [1, 2], out
  for r in rows:
    _finite_positive([float(x) for x in r[2:]])


def _peers(*extra):
  return _bench("peers", "--peer_shape=tiny", "--steps=2", "--peer_steps=2",
                "--peer_eval_max=2", *extra)


def _step_table(out):
  return {l.split()[0]: float(l.split()[1]) for l in out.splitlines()
          if re.match(r"^\s*(ours|theirs)_\S+\s+[\d.]+$", l)}


def test_peers_smoke_without_peer():
  out = _peers()
  assert "peer (Delétang et al.): absent: no --peer_path given" in out
  steps = _step_table(out)
  assert sorted(steps) == ["ours_paper", "ours_post_ln"], out
  _finite_positive(list(steps.values()))
  e2e = [l.split() for l in out.splitlines() if l.strip().startswith("ours ")]
  assert len(e2e) == 1, out
  _finite_positive([float(x) for x in e2e[0][1:]])
  assert "ratio" not in out


@pytest.mark.skipif(not _peer_available(), reason="peer code or bench extra absent")
def test_peers_smoke_with_peer():
  out = _peers(f"--peer_path={PEER_PATH}")
  steps = _step_table(out)
  assert sorted(steps) == ["ours_paper", "ours_post_ln", "theirs_dropout_0",
                           "theirs_dropout_0.1"], out
  _finite_positive(list(steps.values()))
  _finite_positive(_ratios(out, r"like for like \(ours post-LN / theirs dropout 0\): ([\d.]+)x"))
  _finite_positive(_ratios(out, r"theirs \(default dropout 0.1\): ([\d.]+)x"))
  e2e = {l.split()[0]: [float(x) for x in l.split()[1:]] for l in out.splitlines()
         if re.match(r"^\s*(ours|theirs)\s+[\d.]+\s+[\d.]+$", l)}
  assert sorted(e2e) == ["ours", "theirs"], out
  _finite_positive([x for v in e2e.values() for x in v])
  _finite_positive(_ratios(out, r"wall time\): ([\d.]+)x"))


def _dot_fusions(hlo: str) -> list[str]:
  """Fusions of a compiled program whose computation holds a dot."""
  dotted, comp, out = set(), None, []
  for line in hlo.splitlines():
    head = re.match(r"^(?:ENTRY )?%?([\w.\-]+) \(.*\{$", line)
    if head:
      comp = head.group(1)
    elif comp and " dot(" in line:
      dotted.add(comp)
  for line in hlo.splitlines():
    m = re.match(r"^\s*(?:ROOT )?%?([\w.\-]+) = .* fusion\(.*calls=%?([\w.\-]+)", line)
    if m and m.group(2) in dotted:
      out.append(m.group(1))
  return out


def test_profile_files_every_matmul_under_a_matmul_component():
  """Every dot fusion of the compiled step (XLA:CPU names most of them nothing) lands in
  a matmul component, and the forward FFN and both passes' projections are found: with
  the HLO text's escaped quotes read literally, the forward matmuls were filed under the
  layer norm that feeds them."""
  from absl import flags
  from launch import bench_peers, bench_profile, bench_sweep
  flags.FLAGS(["test"], known_only=True)
  fn, state, keys = bench_peers._ours_step(bench_sweep.SHAPES["tiny"], "post")
  hlo = fn.lower(state, keys).compile().as_text()
  names = bench_profile.op_names(hlo, bench_profile.kernel_shapes(state.params))
  fused = _dot_fusions(hlo)
  assert len(fused) >= 8, fused
  got = {bench_profile.classify(names[f]) for f in fused}
  matmuls = {"attention projections", "attention dots", "FFN", "embedding and readout"}
  assert {c for _, c in got} <= matmuls, got
  for need in [("forward", "FFN"), ("backward", "FFN"), ("forward", "attention projections"),
               ("backward", "attention projections")]:
    assert need in got, (need, got)
  rows = bench_profile.breakdown(names, {f: 10.0 for f in fused}, steps=2)
  assert math.isclose(sum(r["share"] for r in rows), 1.0, rel_tol=1e-9)
  assert math.isclose(sum(r["ms_per_step"] for r in rows), 10.0 * len(fused) / 2 / 1e3)


def test_profile_smoke():
  out = _bench("profile", "--profile_shape=tiny", "--profile_steps=2")
  rows = [l.split() for l in out.splitlines() if re.match(r"^\s*(forward|backward|step)\s", l)]
  assert rows, out
  assert math.isclose(sum(float(r[-1]) for r in rows), 1.0, abs_tol=1e-3), out
  assert {r[0] for r in rows} >= {"forward", "backward", "step"}, out
  assert re.search(r"useful [\d.]+ GFLOP/s = \d+% of the float32 matmul ceiling", out), out


def _eval_table(out):
  return {l.split()[0]: [float(x) for x in l.split()[1:]] for l in out.splitlines()
          if re.match(r"^\s*(ours|theirs)\s+\d+\s+\d+\s+[\d.]+$", l)}


def test_peers_evaluation_part_smoke():
  # Part eval (issue 20 item 4): ours over every length; theirs, when present, over a
  # stride of them with its time scaled to the whole range.
  args = ("--peer_parts=eval", "--peer_eval_lengths=41-44", "--peer_eval_stride=2")
  out = _peers(*args)
  table = _eval_table(out)
  assert list(table) == ["ours"] and table["ours"][:2] == [4, 4], out
  _finite_positive(table["ours"][2:])
  if _peer_available():
    out = _peers(f"--peer_path={PEER_PATH}", *args)
    table = _eval_table(out)
    assert sorted(table) == ["ours", "theirs"] and table["theirs"][:2] == [2, 4], out
    _finite_positive(_ratios(out, r"ratio evaluation \(theirs / ours\): ([\d.]+)x"))


def test_best_rounds_runs_at_least_the_rounds_asked():
  # Each round of this side takes 0.45 s, so the 2 s budget alone stops after 5 rounds;
  # asking for 6 must run 6.
  import time
  from launch import bench_sweep
  calls = []

  def step(state, arg):
    calls.append(1)
    time.sleep(0.45)
    return state, 0

  bench_sweep._best_rounds([[[step, 0, None]]], steps=1, least=6)
  assert len(calls) == 6, len(calls)
