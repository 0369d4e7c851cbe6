"""experiment.py: what a run is titled."""

from limits import config as config_lib
from limits import experiment
from limits import setup as setup_lib
from limits import train as train_lib
from configs import parity as parity_config


def test_single_member_title_names_the_member_shape():
  """Issue 14.9: a one-member sweep (sweep.heads=2) trains a 2-head model; the title
  must say so, not model.heads."""
  cfg = parity_config.get_config("smoke")
  cfg.model.heads = 4
  cfg.sweep.heads = "2"
  cfg.sweep.depths = "1"
  setup = setup_lib.make_setup(config_lib.validate(cfg))
  assert setup.members[0].heads == 2
  assert experiment.run_title(setup).endswith("depth 1, heads 2")
  cfg.sweep.heads = "1,2"
  assert ": " not in experiment.run_title(setup_lib.make_setup(config_lib.validate(cfg)))


# --- sweep.kinds: the default experiment's transformer and LSTM populations -------------
import csv
import os

import jax
import numpy as np
import pytest

from configs import sweep as sweep_config
from limits import results
from limits import setup as setup_lib
from limits import train as train_lib


def _default_smoke():
  return config_lib.validate(sweep_config.get_config("default_smoke"))


def test_default_has_two_kinds_and_two_languages_one_program_each_kind():
  exp = config_lib.validate(sweep_config.get_config("default"))
  parts = dict(exp.parts())
  assert list(parts) == ["transformer", "lstm"]
  assert exp.sweep.languages == ("parity", "one")
  t, l = parts["transformer"], parts["lstm"]
  assert {(m.depth, m.heads) for m in t.members} == {(1, 2), (1, 4), (2, 2), (2, 4)}
  assert l.model.kind == "lstm" and {m.depth for m in l.members} == {1}
  assert {m.language for m in l.members} == {"parity", "one"}
  # far beyond training: evaluated to 10x the longest training length
  assert max(exp.data.eval_lengths) >= 10 * exp.max_train_length


def test_lstm_and_transformer_members_train_on_the_same_batches():
  """Member batches depend only on seed, language, lengths and step (train.member_batch):
  the parity members of both populations see identical batches. Fails if the parts
  drew from different keys (e.g. a kind-dependent seed) or padded differently."""
  parts = dict(_default_smoke().parts())
  setups = {k: setup_lib.make_setup(p) for k, p in parts.items()}

  def batches(setup):
    out = {}
    keys = setup_lib.member_keys(setup)[1]
    tables = setup_lib.member_tables(setup, setup.exp.max_train_length)
    for i, m in enumerate(setup.members):
      row = None if tables is None else jax.tree.map(lambda x: x[i], tables)
      for step in (0, 7):
        b, _ = train_lib.member_batch(setup, keys[i], step, setup.arrays.lengths_MxL[i],
                                      setup.arrays.num_lengths_M[i], row)
        out.setdefault((m.language, m.seed, step), []).append(np.asarray(b.tokens_BxT))
    return out

  t, l = batches(setups["transformer"]), batches(setups["lstm"])
  assert set(t) == set(l) and len(t) == 4
  for key in t:
    for tokens in t[key]:          # every transformer member of that language and seed
      np.testing.assert_array_equal(tokens, l[key][0])
  assert not np.array_equal(t[("parity", 0, 0)][0], t[("parity", 0, 7)][0])


@pytest.fixture(scope="module")
def default_smoke_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("default_smoke"))
  lines = []
  rows = experiment.run(_default_smoke(), workdir, log=lines.append)
  return workdir, rows, lines


def test_default_smoke_writes_both_kinds_into_one_results_csv(default_smoke_run):
  workdir, rows, lines = default_smoke_run
  for part in ("transformer", "lstm"):
    assert os.path.exists(os.path.join(workdir, part, "results.csv"))
    assert os.path.isdir(os.path.join(workdir, part, "checkpoints"))
  got = list(csv.DictReader(open(os.path.join(workdir, "results.csv"))))
  assert list(got[0]) == list(results.RESULT_COLUMNS)
  assert {(r["kind"], r["language"]) for r in got} == {
      (k, g) for k in ("transformer", "lstm") for g in ("parity", "one")}
  assert len({r["member"] for r in got}) == 10           # 8 transformers + 2 LSTMs
  assert {r["heads"] for r in got if r["kind"] == "lstm"} == {"0"}
  for name in ("accuracy.png", "xent.png"):
    assert os.path.exists(os.path.join(workdir, "plots", name))
  # evaluation printed progress with a rate and an ETA
  assert any(l.startswith("eval ") and "lengths/s" in l and "ETA" in l for l in lines)


def test_report_puts_kinds_and_languages_side_by_side(default_smoke_run):
  _, rows, _ = default_smoke_run
  text = results.report(rows)
  head = text.splitlines()[1]
  assert "parity" in head and "one" in head and head.index("parity") < head.index("one")
  for word in ("LSTM", "L2H2", "optimal", "chance", "seeds >= 0.9"):
    assert word in text, word
  last = text.splitlines()[-1]
  assert last.startswith("accuracy beyond the training lengths: parity at n = 8-12")
  assert "transformer" in last and "lstm" in last and "chance 0.50" in last
