"""Evaluation over lengths: a handful of compiled programs, exact reference values."""

from limits import config as config_lib
from limits import evaluate
from limits import train as train_lib
from configs import parity as parity_config


def _setup(**eval_overrides):
  cfg = parity_config.get_config("smoke")
  cfg.data.eval_lengths = "1-100"
  cfg.eval.update(batch_size=8, bucket=32, group=8, **eval_overrides)
  return train_lib.make_setup(config_lib.validate(cfg))


def test_one_program_per_bucket_and_all_lengths_reported():
  setup = _setup()
  state = train_lib.init_state(setup)
  ev = evaluate.Evaluator(setup)

  rows = ev(state.params)[0]
  assert [r["length"] for r in rows] == list(range(1, 101))
  assert ev.num_programs == 4  # padded sizes 32, 64, 96, 128
  for r in rows:
    assert 0.0 <= r["accuracy"] <= 1.0 and r["xent_bits"] > 0
    assert r["optimal_xent_bits"] == 0.0 and r["chance_xent_bits"] == 1.0
  # Evaluating again reuses the programs and gives the same numbers.
  again = ev(state.params)[0]
  assert ev.num_programs == 4 and again == rows


def test_result_of_a_length_does_not_depend_on_its_group():
  setup = _setup()
  state = train_lib.init_state(setup)
  ev = evaluate.Evaluator(setup)
  alone = ev(state.params, (37,))[0][0]
  among = [r for r in ev(state.params, (33, 35, 37, 40, 41))[0] if r["length"] == 37][0]
  assert alone == among


def test_prediction_reference_values():
  cfg = parity_config.get_config("prediction_smoke")
  setup = train_lib.make_setup(config_lib.validate(cfg))
  state = train_lib.init_state(setup)
  rows = evaluate.Evaluator(setup)(state.params, (1, 5))[0]
  lang = setup.language
  for r in rows:
    assert r["optimal_xent_bits"] == lang.optimal_xent_bits("prediction", r["length"])
    assert r["optimal_xent_bits"] < r["chance_xent_bits"]
    assert r["xent_bits"] >= r["optimal_xent_bits"] - 0.05  # no model beats the optimum


def test_long_lengths_run_one_after_another_with_the_same_results(monkeypatch):
  """Past the attention-memory budget a group's lengths run sequentially (lax.map) instead
  of side by side: same programs, same numbers."""
  setup = _setup()
  state = train_lib.init_state(setup)
  wide = evaluate.Evaluator(setup)(state.params, (40, 50, 60, 90))
  monkeypatch.setattr(evaluate, "EVAL_ATTENTION_BYTES", 1)
  assert evaluate.lengths_side_by_side(setup, 64) == 1
  narrow = evaluate.Evaluator(setup)(state.params, (40, 50, 60, 90))
  for a, b in zip(narrow[0], wide[0]):   # same strings; float sums may differ in order
    assert a["length"] == b["length"] and a["accuracy"] == b["accuracy"]
    assert abs(a["xent_bits"] - b["xent_bits"]) < 1e-5 * b["xent_bits"]
