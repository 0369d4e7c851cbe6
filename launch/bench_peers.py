r"""`python -m launch.benchmark peers [--peer_path=DIR]`: Delétang et al.'s own code, measured.

  python -m launch.benchmark peers --peer_path=../shared/peers       # peer beside limits
  python -m launch.benchmark peers                                   # limits' numbers only

DIR holds the folder `neural_networks_chomsky_hierarchy` (Delétang et al. 2023, unmodified;
it needs the `bench` extra: `pip install -e '.[bench]'`). Nothing in `limits` imports it:
only this benchmark does, from the path given, at run time.

1. Training step, in one process, interleaved rounds (`bench_sweep._best_rounds`, best
   round of each side): their `transformer_encoder` on `parity_check` (--peer_shape,
   paper: 5 layers, width 64, 8 heads, FFN 256, batch 128, length 40 + their output
   token) through their `training._update_parameters` with their `sample_batch`, with
   their default dropout (0.1) and with dropout 0; against `limits`' train step at the same
   shape (length 40 + EOS, sampling inside the step) for the paper's model (no layer norm)
   and for post-LN (their architecture), both without a causal mask. Prints steps/s of
   the four and two ratios: like for like (ours post-LN / theirs dropout 0) and ours (the
   paper's model) against their default.
2. End to end, each in a fresh process (`python -m ...`, so imports, compilation and the
   allocator re-exec count), rounds alternating: their pipeline (`TrainingWorker.run`:
   lengths uniform in 1..40, batch 128, --peer_steps steps, then `range_evaluation` over
   1..--peer_eval_max with 128 strings per length) against `launch.train` doing the same
   work (post-LN model, same shape, `data.train_lengths=1-40`, `eval_lengths=1-L`,
   `eval.batch_size=128`). Both log every step (so the first step's line marks its end):
   whole wall time and time to the end of the first step, from process start.
3. Evaluation (`--peer_parts=eval`), in this process, each side from the parameters at
   init (accuracy does not change the work): their `range_evaluation`'s per-length loop
   (clear the jit cache, `sample_batch` 128 strings, jitted `model.apply`, their accuracy
   mask; `_peer_range`, their loop body as written, over a list of lengths since theirs
   always starts at 1) on every --peer_eval_stride-th length of --peer_eval_lengths
   (default 41-500; the whole range costs one compile per length), its time scaled by
   (lengths in the range) / (lengths run) and said so; against `limits.evaluate.Evaluator`
   on the whole range (post-LN, same shape, eval.batch_size 128), compiles included.

Runtime at the default sizes: about 22 minutes for this command on the project's loaded
2-core development CPU, 15 of them their end-to-end run (one compiled program per
training length and per evaluated length); --peer_parts=step takes a few minutes.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import tempfile
import time

from absl import flags

_PEER_PATH = flags.DEFINE_string("peer_path", None, "Directory containing the folder "
                                 "neural_networks_chomsky_hierarchy (absent: limits only).")
_PEER_SHAPE = flags.DEFINE_string("peer_shape", "paper", "Shape (launch/bench_sweep.SHAPES).")
_PEER_STEPS = flags.DEFINE_integer("peer_steps", 200, "End-to-end training steps N.")
_PEER_EVAL_MAX = flags.DEFINE_integer("peer_eval_max", 40, "End-to-end evaluation 1..L.")
_PEER_ROUNDS = flags.DEFINE_integer("peer_rounds", 1, "End-to-end rounds per side (best).")
_PEER_PARTS = flags.DEFINE_string("peer_parts", "step,e2e", "Which parts: step, e2e, eval.")
_PEER_EVAL_LENGTHS = flags.DEFINE_string("peer_eval_lengths", "41-500",
                                         "Part eval: the lengths evaluated, 128 strings each.")
_PEER_EVAL_STRIDE = flags.DEFINE_integer("peer_eval_stride", 20, "Part eval: their side runs "
                                         "every stride-th of those lengths (scaled up).")
_PEER_CHILD = flags.DEFINE_bool("peer_child", False, "Internal: run their pipeline here.")

PACKAGE = "neural_networks_chomsky_hierarchy"
FIRST_STEP = "PEER_FIRST_STEP"


def peer_absence(path: str | None) -> str | None:
  """Why the peer cannot run from `path` (None: it can)."""
  if not path:
    return "no --peer_path given"
  if not os.path.isdir(os.path.join(path, PACKAGE)):
    return f"{path!r} has no folder {PACKAGE}"
  sys.path.insert(0, os.path.abspath(path))
  try:
    import haiku  # noqa: F401
    from neural_networks_chomsky_hierarchy.experiments import training  # noqa: F401
  except ImportError as e:
    return f"cannot import it ({e}); install the bench extra: pip install -e '.[bench]'"
  return None


def _peer_model(shape: dict, dropout: float):
  """(their task, hk.Transformed model, loss_fn, accuracy_fn), built as their example.py."""
  import haiku as hk
  import jax.numpy as jnp
  from neural_networks_chomsky_hierarchy.experiments import constants, utils
  task = constants.TASK_BUILDERS["parity_check"]()
  core = constants.MODEL_BUILDERS["transformer_encoder"](
      output_size=task.output_size, embedding_dim=shape["width"], num_layers=shape["depth"],
      num_heads=shape["heads"], widening_factor=shape["mlp_width"] // shape["width"],
      dropout_prob=dropout, return_all_outputs=True)
  model = hk.transform(utils.make_model_with_empty_targets(core, task, 0, True))

  def loss_fn(output, target):
    return jnp.mean(jnp.sum(task.pointwise_loss_fn(output, target), axis=-1)), {}

  def accuracy_fn(output, target):
    mask = task.accuracy_mask(target)
    return jnp.sum(mask * task.accuracy_fn(output, target)) / jnp.sum(mask)

  return task, model, loss_fn, accuracy_fn


def _peer_step(shape: dict, dropout: float) -> list:
  """[step fn, state, key] (the `_best_rounds` form) of one step of their training loop:
  their `sample_batch` at the fixed length, then their jitted `_update_parameters`."""
  import jax
  import optax
  from neural_networks_chomsky_hierarchy.experiments import training
  task, model, loss_fn, accuracy_fn = _peer_model(shape, dropout)
  B, n = shape["batch"], shape["length"]
  optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-3))  # theirs
  params = model.init(jax.random.PRNGKey(0), task.sample_batch(jax.random.PRNGKey(0), B, n)["input"])

  def step(state, key):
    params, opt_state, i = state
    batch = task.sample_batch(jax.random.fold_in(key, 2 * i), B, n)
    params, opt_state, (loss, _, _) = training._update_parameters(
        params=params, rng_key=jax.random.fold_in(key, 2 * i + 1), batch=batch,
        model_apply_fn=model.apply, loss_fn=loss_fn, accuracy_fn=accuracy_fn,
        optimizer=optimizer, opt_state=opt_state)
    return (params, opt_state, i + 1), loss

  run = [step, (params, optimizer.init(params), 0), jax.random.PRNGKey(1)]
  for _ in range(2):                                   # compile and warm up
    run[1], loss = step(run[1], run[2])
  jax.block_until_ready(loss)
  return run


def _model(layer_norm: str) -> dict:
  """Every architecture field of limits' side, explicit (defaults may move)."""
  return dict(kind="transformer", attention="soft", positional="sinusoidal", causal=False,
              layer_norm=layer_norm, ln_eps=1e-5, temperature=1.0, saturate=False,
              key_dim=0)


def _ours_step(shape: dict, layer_norm: str) -> list:
  from launch import bench_sweep
  return bench_sweep._compiled(bench_sweep._exp(shape, model=_model(layer_norm)))[0]


def _steps(shape: dict, peer: bool) -> dict:
  from launch import bench_sweep
  sides = {"ours_paper": _ours_step(shape, "none"), "ours_post_ln": _ours_step(shape, "post")}
  if peer:
    sides["theirs_dropout_0.1"] = _peer_step(shape, 0.1)
    sides["theirs_dropout_0"] = _peer_step(shape, 0.0)
  steps = bench_sweep._STEPS.value
  times = bench_sweep._best_rounds([[r] for r in sides.values()], steps)
  return {name: steps / t for name, t in zip(sides, times)}


def _timed(cmd: list[str], marker: re.Pattern) -> tuple[float, float]:
  """(whole wall seconds, seconds to the first stdout line matching `marker`) of `cmd`."""
  t0 = time.perf_counter()
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  first, tail = math.nan, []
  for line in proc.stdout:
    if math.isnan(first) and marker.search(line):
      first = time.perf_counter() - t0
    tail = (tail + [line.rstrip()])[-5:]
  wall = time.perf_counter() - t0
  if proc.wait() != 0:
    from launch import common
    common.fail(f"{' '.join(cmd[:4])} ... failed: {' | '.join(tail)}")
  return wall, first


def _ours_cmd(shape: dict, steps: int, eval_max: int, workdir: str) -> list[str]:
  m = dict(_model("post"), depth=shape["depth"], heads=shape["heads"], width=shape["width"],
           mlp_width=shape["mlp_width"])
  over = {**{f"model.{k}": v for k, v in m.items()},
          "data.language": "parity", "data.task": "recognition", "data.train_lengths": "1-40",
          "data.eval_lengths": f"1-{eval_max}", "train.steps": steps,
          "train.batch_size": shape["batch"], "train.learning_rate": 1e-3,
          "train.log_every": 1, "eval.batch_size": 128}
  return [sys.executable, "-m", "launch.train", "--config=configs/parity.py",
          f"--workdir={workdir}"] + [f"--config.{k}={v}" for k, v in over.items()]


def _peer_cmd(steps: int, eval_max: int) -> list[str]:
  return [sys.executable, "-m", "launch.benchmark", "peers", "--peer_child",
          f"--peer_path={os.path.abspath(_PEER_PATH.value)}", f"--peer_shape={_PEER_SHAPE.value}",
          f"--peer_steps={steps}", f"--peer_eval_max={eval_max}"]


def peer_child() -> None:
  """Their pipeline as their example.py runs it (transformer_encoder, parity_check), with
  lengths uniform in 1..40, --peer_steps steps, range evaluation 1..L, 128 strings each;
  prints FIRST_STEP when their first `_update_parameters` has finished."""
  import jax
  from launch import bench_sweep
  from neural_networks_chomsky_hierarchy.experiments import curriculum, training
  shape = bench_sweep.SHAPES[_PEER_SHAPE.value]
  task, model, loss_fn, accuracy_fn = _peer_model(shape, 0.1)
  update = training._update_parameters

  def first_marked(*args, **kwargs):
    out = update(*args, **kwargs)
    jax.block_until_ready(out)
    print(FIRST_STEP, flush=True)
    training._update_parameters = update
    return out

  training._update_parameters = first_marked
  params = training.ClassicTrainingParams(
      seed=0, model_init_seed=0, training_steps=_PEER_STEPS.value - 1,  # they run steps + 1
      log_frequency=1, length_curriculum=curriculum.UniformCurriculum(values=list(range(1, 41))),
      batch_size=shape["batch"], task=task, model=model, loss_fn=loss_fn, learning_rate=1e-3,
      accuracy_fn=accuracy_fn, compute_full_range_test=True,
      max_range_test_length=_PEER_EVAL_MAX.value, range_test_total_batch_size=128,
      range_test_sub_batch_size=128)
  _, evals, _ = training.TrainingWorker(params).run()
  print(f"PEER_DONE mean accuracy {sum(r['accuracy'] for r in evals) / len(evals):.3f}", flush=True)


def _peer_range(shape: dict, lengths: list[int]) -> float:
  """Seconds for their range evaluation's loop body (range_evaluation.py, unmodified in
  substance: clear_cache, sample 128, apply, accuracy) over `lengths`, at init params."""
  import haiku as hk
  import jax
  import numpy as np
  task, model, _, accuracy_fn = _peer_model(shape, 0.1)
  params = model.init(jax.random.PRNGKey(0), task.sample_batch(jax.random.PRNGKey(0), 2, 4)["input"])
  rng_seq = hk.PRNGSequence(1)
  apply_fn = jax.jit(model.apply)
  t0 = time.perf_counter()
  for length in lengths:
    apply_fn.clear_cache()
    batch = task.sample_batch(next(rng_seq), 128, length)
    outputs = apply_fn(params, next(rng_seq), batch["input"])
    float(np.mean(accuracy_fn(outputs, batch["output"])))
  return time.perf_counter() - t0


def _ours_range(shape: dict, lengths_text: str) -> float:
  """Seconds for limits' Evaluator over `lengths_text` (compiles included), at init."""
  from launch import bench_sweep
  from limits import config as config_lib
  from limits import evaluate
  from limits import setup as setup_lib
  cfg = config_lib.to_configdict(bench_sweep._exp(shape, model=_model("post")))
  cfg.data.eval_lengths = config_lib.parse_lengths(lengths_text, "--peer_eval_lengths")
  cfg.data.train_lengths = tuple(range(1, 41))
  cfg.eval.batch_size = 128
  cfg.model.max_positions = max(cfg.model.max_positions, max(cfg.data.eval_lengths) + 2)
  setup = setup_lib.make_setup(config_lib.validate(cfg))
  state = setup_lib.init_state(setup)
  t0 = time.perf_counter()
  evaluate.Evaluator(setup)(state.params)
  return time.perf_counter() - t0


def _evaluation(shape: dict, peer: bool) -> dict:
  from limits.config import parse
  lengths = list(parse.parse_lengths(_PEER_EVAL_LENGTHS.value, "--peer_eval_lengths"))
  out = {"ours": (_ours_range(shape, _PEER_EVAL_LENGTHS.value), len(lengths), len(lengths))}
  if peer:
    run = lengths[::max(1, _PEER_EVAL_STRIDE.value)]
    t = _peer_range(shape, run)
    out["theirs"] = (t * len(lengths) / len(run), len(run), len(lengths))
  return out


def _end_to_end(shape: dict, peer: bool) -> dict:
  steps, L = _PEER_STEPS.value, _PEER_EVAL_MAX.value
  best: dict[str, tuple[float, float]] = {}
  ours_marker, peer_marker = re.compile(r"^step\s+1/"), re.compile("^" + FIRST_STEP)
  for _ in range(max(1, _PEER_ROUNDS.value)):
    if peer:
      wall, first = _timed(_peer_cmd(steps, L), peer_marker)
      best["theirs"] = min(best.get("theirs", (math.inf, math.inf)), (wall, first))
    with tempfile.TemporaryDirectory() as d:
      wall, first = _timed(_ours_cmd(shape, steps, L, os.path.join(d, "run")), ours_marker)
    best["ours"] = min(best.get("ours", (math.inf, math.inf)), (wall, first))
  return best


def peers(argv: list[str]) -> None:
  from launch import bench_sweep, common
  from limits import results
  if _PEER_SHAPE.value not in bench_sweep.SHAPES:
    common.fail(f"--peer_shape: unknown shape {_PEER_SHAPE.value!r}; allowed: "
                f"{', '.join(bench_sweep.SHAPES)}")
  parts = [p.strip() for p in _PEER_PARTS.value.split(",") if p.strip()]
  for p in parts:
    if p not in ("step", "e2e", "eval"):
      common.fail(f"--peer_parts: unknown part {p!r}; allowed: step, e2e, eval")
  if _PEER_STEPS.value < 1 or _PEER_EVAL_MAX.value < 1:
    common.fail("--peer_steps and --peer_eval_max must be at least 1")
  absent = peer_absence(_PEER_PATH.value)
  if _PEER_CHILD.value:
    if absent:
      common.fail(f"peer absent: {absent}")
    return peer_child()
  import jax
  import launch
  shape = bench_sweep.SHAPES[_PEER_SHAPE.value]
  print(f"device: {jax.devices()[0].device_kind} ({jax.device_count()} JAX devices)  allocator: "
        f"{launch.allocator()}  shape {_PEER_SHAPE.value}: {shape}", flush=True)
  print(f"peer (Delétang et al.): {'absent: ' + absent if absent else _PEER_PATH.value}",
        flush=True)
  peer = absent is None
  if "step" in parts:
    rate = _steps(shape, peer)
    rows = [{"side": k, "steps_per_s": v} for k, v in rate.items()]
    print(f"\ntraining step, {bench_sweep._STEPS.value} steps per round, interleaved rounds, "
          f"best round each:")
    print(results.format_table(rows, ("side", "steps_per_s")))
    if peer:
      print(f"ratio like for like (ours post-LN / theirs dropout 0): "
            f"{rate['ours_post_ln'] / rate['theirs_dropout_0']:.2f}x")
      print(f"ratio ours (paper model) / theirs (default dropout 0.1): "
            f"{rate['ours_paper'] / rate['theirs_dropout_0.1']:.2f}x")
  if "e2e" in parts:
    best = _end_to_end(shape, peer)
    print(f"\nend to end: lengths uniform in 1..40, batch {shape['batch']}, {_PEER_STEPS.value} "
          f"steps, then evaluation of 1..{_PEER_EVAL_MAX.value} x 128 strings; fresh process "
          f"each, best of {max(1, _PEER_ROUNDS.value)} round(s):")
    rows = [{"side": k, "wall_s": w, "first_step_s": f} for k, (w, f) in best.items()]
    print(results.format_table(rows, ("side", "wall_s", "first_step_s")))
    if peer:
      print(f"ratio end to end (theirs / ours wall time): "
            f"{best['theirs'][0] / best['ours'][0]:.2f}x; time to first step "
            f"{best['theirs'][1] / best['ours'][1]:.2f}x")
  if "eval" in parts:
    ev = _evaluation(shape, peer)
    print(f"\nevaluation of lengths {_PEER_EVAL_LENGTHS.value} x 128 strings, from init "
          f"parameters, compiles included (theirs: one length in every {_PEER_EVAL_STRIDE.value} "
          f"run, time scaled to the whole range):")
    rows = [{"side": k, "lengths_run": r, "lengths": n, "seconds": t} for k, (t, r, n) in ev.items()]
    print(results.format_table(rows, ("side", "lengths_run", "lengths", "seconds")))
    if peer:
      print(f"ratio evaluation (theirs / ours): {ev['theirs'][0] / ev['ours'][0]:.2f}x")
