"""train.early_stop_steps: a member that classifies k consecutive training batches
perfectly stops (its updates masked), and training ends once every member has stopped."""

import jax
import numpy as np

from configs import parity as parity_config
from limits import config as config_lib
from limits import setup as setup_lib
from limits import train as train_lib


def _setup(language, steps, k, seeds="0,1"):
  cfg = parity_config.get_config("smoke")
  cfg.data.update(language=language, train_lengths="1-6", eval_lengths="1-6")
  cfg.train.update(steps=steps, early_stop_steps=k, log_every=5, learning_rate=3e-3)
  cfg.sweep.update(seeds=seeds)
  return setup_lib.make_setup(config_lib.validate(cfg))


def _member(params, m):
  return [np.asarray(x[m]) for x in jax.tree.leaves(params)]


def test_off_by_default_keeps_the_state_shape():
  cfg = parity_config.get_config("smoke")
  exp = config_lib.validate(cfg)
  assert exp.train.early_stop_steps == 0 and "early_stop_steps" not in exp.to_dict()["train"]
  state = setup_lib.init_state(setup_lib.make_setup(exp))
  assert state.perfect_M is None and state.stopped_step_M is None


def test_a_stopped_member_keeps_its_parameters_and_training_ends_when_all_stop():
  setup = _setup("one", steps=400, k=8)
  final = train_lib.train_loop(setup, setup_lib.init_state(setup))
  stopped = np.asarray(final.stopped_step_M)
  assert (stopped >= 8).all(), stopped           # 1* is learnt: both seeds stop
  assert int(final.step) < 400                     # and the loop ended early
  assert int(final.step) <= stopped.max() + 5 + 1  # at the next logged step
  # Parameters at the end are the ones the member had when it stopped.
  for m in range(2):
    again = _setup("one", steps=int(stopped[m]), k=8)
    at_stop = train_lib.train_loop(again, setup_lib.init_state(again))
    for a, b in zip(_member(final.params, m), _member(at_stop.params, m)):
      np.testing.assert_array_equal(a, b)
  # A rerun from the finished state trains nothing more.
  assert int(train_lib.train_loop(setup, final).step) == int(final.step)


def test_a_member_that_never_fits_keeps_training():
  setup = _setup("parity", steps=30, k=8, seeds="0")
  final = train_lib.train_loop(setup, setup_lib.init_state(setup))
  assert int(final.step) == 30 and int(final.stopped_step_M[0]) == -1
