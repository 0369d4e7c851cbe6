"""results.py: the summary counts seeds that generalise; the closing line is the data's."""

import os
import re

import pytest

from limits import results


def _rows(accs_by_seed, language="parity", kind="transformer", depth=1, heads=2, start=0):
  """Rows of one group: per seed, accuracy 1.0 in distribution (n = 1, 2) and `acc`
  beyond (n = 4, 8)."""
  rows = []
  for i, acc in enumerate(accs_by_seed):
    for n, a in ((1, 1.0), (2, 1.0), (4, acc), (8, acc)):
      rows.append({"member": start + i, "language": language, "task": "recognition",
                   "kind": kind, "depth": depth, "heads": heads, "seed": i, "lr": 1e-3,
                   "train_length": "1-2", "length": n, "accuracy": a, "xent_bits": 1 - a,
                   "optimal_xent_bits": 0.0, "chance_xent_bits": 1.0, "diverged": 0,
                   "positional": "sinusoidal"})
  return rows


def test_summary_counts_the_seeds_that_generalise():
  rows = _rows([0.95, 0.5, 0.91, 0.2])
  (g,) = results.summary(rows)
  assert g["members"] == 4 and g["generalised"] == 2 and g["frac_generalised"] == 0.5
  assert g["mean_ood_accuracy"] == pytest.approx((0.95 + 0.5 + 0.91 + 0.2) / 4)
  assert g["best_ood_accuracy"] == 0.95 and g["id_accuracy"] == 1.0
  # The threshold is used: above every accuracy no seed generalises, below all every one.
  assert results.summary(rows, threshold=0.99)[0]["generalised"] == 0
  assert results.summary(rows, threshold=0.1)[0]["generalised"] == 4


def test_summary_keeps_languages_and_kinds_apart():
  rows = (_rows([0.5]) + _rows([1.0], language="one", start=1)
          + _rows([1.0], kind="lstm", heads=0, start=2))
  got = {(g["language"], g["kind"]): g["mean_ood_accuracy"] for g in results.summary(rows)}
  assert got == {("parity", "transformer"): 0.5, ("one", "transformer"): 1.0,
                 ("parity", "lstm"): 1.0}


def test_closing_line_states_the_measured_numbers():
  rows = (_rows([0.52, 0.48]) + _rows([0.97], kind="lstm", heads=0, start=2)
          + _rows([0.9, 1.0], language="one", start=3))
  line = results.report(rows).splitlines()[-1]
  assert line == ("accuracy beyond the training lengths: parity at n = 4-8: transformer "
                  "0.50 (mean of 2 members; best L1H2 0.52), lstm 0.97; chance 0.50; one at "
                  "n = 4-8: transformer 0.95 (mean of 2 members; best L1H2 1.00); chance 0.50.")
  rows[-1] = dict(rows[-1], accuracy=0.0)      # the data move, the line moves with them
  assert "transformer 0.70" in results.report(rows).splitlines()[-1]


def test_no_duplicate_columns_and_every_column_is_documented(repo):
  assert "eval_length" not in results.RESULT_COLUMNS
  assert len(set(results.RESULT_COLUMNS)) == len(results.RESULT_COLUMNS)
  readme = open(os.path.join(repo, "README.md")).read()
  section = readme.split("### Columns of results.csv", 1)[1].split("\n#", 1)[0]
  documented = re.findall(r"^\| `([a-z_]+)` \|", section, re.M)
  assert documented == list(results.RESULT_COLUMNS)


def test_train_range_reads_back_in_one_place():
  # results.csv's train_length is written by Member.train_range and read back only by
  # population.train_bounds (plots, out-of-distribution rows, reproduce's fits).
  from limits import population
  for lengths in ((8,), (1, 2, 3, 40), (2, 4, 6)):
    m = population.Member(1, 1, 0, 1e-3, lengths)
    assert population.train_bounds(m.train_range) == (min(lengths), max(lengths))
    assert not results.is_out_of_distribution({"length": max(lengths), "train_length": m.train_range})
    assert results.is_out_of_distribution({"length": max(lengths) + 1, "train_length": m.train_range})
