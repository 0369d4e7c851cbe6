"""Evaluation over lengths: a handful of compiled programs, exact reference values."""

import jax
import jax.numpy as jnp
import numpy as np

from limits import config as config_lib
from limits import evaluate, population
from limits import setup as setup_lib
from configs import parity as parity_config


def _setup(**eval_overrides):
  cfg = parity_config.get_config("smoke")
  cfg.data.eval_lengths = "1-100"
  cfg.eval.update(batch_size=8, bucket=32, group=8, **eval_overrides)
  return setup_lib.make_setup(config_lib.validate(cfg))


def test_one_program_per_bucket_and_all_lengths_reported():
  setup = _setup()
  state = setup_lib.init_state(setup)
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
  state = setup_lib.init_state(setup)
  ev = evaluate.Evaluator(setup)
  alone = ev(state.params, (37,))[0][0]
  among = [r for r in ev(state.params, (33, 35, 37, 40, 41))[0] if r["length"] == 37][0]
  assert alone == among


def test_prediction_reference_values():
  """Reference values are the language's; the evaluator's xent_bits equals a NumPy
  recomputation from the model's logits on the same strings (fold_in(eval key, n)), and is
  at least those strings' own mean entropy of q (Gibbs: no model beats the exact targets
  on its own batch, so this bound needs no sampling slack)."""
  cfg = parity_config.get_config("prediction_smoke")
  setup = setup_lib.make_setup(config_lib.validate(cfg))
  state = setup_lib.init_state(setup)
  rows = evaluate.Evaluator(setup)(state.params, (1, 5, 13))[0]
  lang, e = setup.language, setup.exp.eval
  params0 = jax.tree.map(lambda x: x[0], state.params)
  for r in rows:
    n = r["length"]
    assert r["optimal_xent_bits"] == lang.optimal_xent_bits("prediction", n)
    assert r["optimal_xent_bits"] < r["chance_xent_bits"]
    padded = evaluate.bucket_of(n, e.bucket)
    batch = lang.sample("prediction", jax.random.fold_in(jax.random.key(e.seed), n),
                        jnp.full((e.batch_size,), n, jnp.int32), padded)
    logits = np.asarray(population.apply(setup.model, params0, batch.tokens_BxT,
                                         batch.readout_B), np.float64)
    logp = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) \
        - logits.max(-1, keepdims=True)
    q, valid = np.asarray(batch.targets_BxTxC, np.float64), np.asarray(batch.valid_BxT)
    with np.errstate(divide="ignore", invalid="ignore"):
      xent_BxT = -np.where(q > 0, q * logp, 0.0).sum(-1)
      ent_BxT = -np.where(q > 0, q * np.log(q), 0.0).sum(-1)
    per_string = lambda v: (np.where(valid, v, 0).sum(1) / valid.sum(1)).mean() / np.log(2)
    np.testing.assert_allclose(r["xent_bits"], per_string(xent_BxT), rtol=1e-5)
    assert r["xent_bits"] >= per_string(ent_BxT) - 1e-6
    assert r["xent_bits"] > per_string(ent_BxT) + 1e-3     # an untrained model is not optimal


def test_long_lengths_run_one_after_another_with_the_same_results(monkeypatch):
  """Past the attention-memory budget a group's lengths run sequentially (lax.map) instead
  of side by side: same programs, same numbers."""
  setup = _setup()
  state = setup_lib.init_state(setup)
  wide = evaluate.Evaluator(setup)(state.params, (40, 50, 60, 90))
  monkeypatch.setattr(evaluate, "EVAL_ATTENTION_BYTES", 1)
  assert evaluate.lengths_side_by_side(setup, 64) == 1
  narrow = evaluate.Evaluator(setup)(state.params, (40, 50, 60, 90))
  for a, b in zip(narrow[0], wide[0]):   # same strings; float sums may differ in order
    assert a["length"] == b["length"] and a["accuracy"] == b["accuracy"]
    assert abs(a["xent_bits"] - b["xent_bits"]) < 1e-5 * b["xent_bits"]
