"""Training: loss falls; a run killed mid-way and resumed ends bit-identical."""

import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp

from limits import config as config_lib
from limits import train as train_lib
from configs import parity as parity_config


def _exp(**overrides):
  cfg = parity_config.get_config("smoke")
  for path, value in overrides.items():
    section, field = path.split(".")
    cfg[section][field] = value
  return config_lib.validate(cfg)


def test_loss_falls_on_tiny_config():
  exp = _exp(**{"train.steps": 300, "data.train_lengths": "1-4", "model.width": 32,
                "model.mlp_width": 64, "train.learning_rate": 3e-3})
  setup = train_lib.make_setup(exp)
  state = train_lib.init_state(setup)
  logged = {}
  train_lib.train_loop(setup, state, on_metrics=lambda s, m: logged.__setitem__(s, m))
  first = np.mean([logged[s]["loss_bits"][0] for s in (10, 20, 30)])
  last = np.mean([logged[s]["loss_bits"][0] for s in (280, 290, 300)])
  assert first > 0.8 and last < 0.5 * first, (first, last)


def test_train_step_is_pure_and_keyed_by_step():
  exp = _exp()
  setup = train_lib.make_setup(exp)
  step = jax.jit(train_lib.make_train_step(setup))
  state = train_lib.init_state(setup)
  keys = train_lib.member_keys(setup)[1]
  a, ma = step(state, keys)
  b, mb = step(state, keys)
  assert int(a.step) == 1 and float(ma["loss_bits"][0]) == float(mb["loss_bits"][0])
  c, mc = step(a, keys)
  assert float(mc["loss_bits"][0]) != float(ma["loss_bits"][0])  # step 1: a new batch
  np.testing.assert_array_equal(jax.tree.leaves(a.params)[0], jax.tree.leaves(b.params)[0])


def _launch(workdir, steps, repo, extra=()):
  cmd = [sys.executable, "-m", "launch.train", "--config=configs/parity.py:smoke",
         f"--workdir={workdir}", f"--config.train.steps={steps}",
         "--config.train.checkpoint_every=100", "--config.train.log_every=50", *extra]
  return subprocess.Popen(cmd, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)


def _metrics(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    rows = [json.loads(l) for l in f]
  for r in rows:
    r.pop("steps_per_sec")  # wall-clock, not a result
  return rows


def _params(workdir, step):
  path = os.path.join(workdir, "checkpoints", str(step), "default")
  return jax.tree.leaves(ocp.StandardCheckpointer().restore(path))


def test_kill_and_resume_is_bit_identical(tmp_path, repo):
  steps = 1500
  killed = str(tmp_path / "killed")
  proc = _launch(killed, steps, repo)
  ckpt = os.path.join(killed, "checkpoints", "300")
  deadline = time.time() + 240
  while not os.path.isdir(ckpt) and proc.poll() is None and time.time() < deadline:
    time.sleep(0.02)
  proc.send_signal(signal.SIGKILL)
  out = proc.communicate()[0]
  assert proc.returncode == -signal.SIGKILL, out
  assert not os.path.exists(os.path.join(killed, "results.csv"))

  resumed = _launch(killed, steps, repo)
  out_resumed = resumed.communicate()[0]
  assert resumed.returncode == 0, out_resumed
  assert "resumed from" in out_resumed

  clean = str(tmp_path / "clean")
  ref = _launch(clean, steps, repo)
  out_ref = ref.communicate()[0]
  assert ref.returncode == 0, out_ref

  with open(os.path.join(killed, "results.csv")) as a, open(os.path.join(clean, "results.csv")) as b:
    assert a.read() == b.read()
  assert _metrics(killed) == _metrics(clean)
  for x, y in zip(_params(killed, steps), _params(clean, steps), strict=True):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
