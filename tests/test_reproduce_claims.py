"""The claims table's verdict rules (limits/reproduce/claims.py) on synthetic data: each
rule can say supports, contradicts, inconclusive and not tested, and says the right one."""

import numpy as np

from limits.reproduce import claims
from limits.reproduce import Report

N = [16, 32, 64, 128, 256, 512]
NOISE = np.array([1.0, 1.02, 0.98, 1.01, 0.99, 1.0])   # fixed, small: the interval is narrow
BELOW = -1 + claims.SLOPE_TOL                          # Lemma 5: slope <= -1 (with the tolerance)


def _verdict(y, **kw):
  return claims.slope_claim(N, list(y), **kw)[1]


def test_slope_minus_one_supports_zero_contradicts():
  n = np.asarray(N, float)
  assert _verdict(3.0 / n * NOISE, below=BELOW) == claims.SUPPORTS
  assert _verdict(3.0 * n ** -2 * NOISE, below=BELOW) == claims.SUPPORTS
  assert _verdict(0.5 * NOISE, below=BELOW) == claims.CONTRADICTS


def test_a_straddling_interval_is_inconclusive():
  # slope about -0.9 with noise large enough that the 95% interval contains -0.9 widely
  n = np.asarray(N, float)
  wild = np.array([1.0, 1.6, 0.6, 1.5, 0.7, 1.2])
  number, verdict = claims.slope_claim(N, list(n ** -0.9 * wild), below=BELOW)
  assert verdict == claims.INCONCLUSIVE, number


def test_two_points_are_not_tested():
  number, verdict = claims.slope_claim([16, 64], [1 / 16, 1 / 64], below=BELOW)
  assert verdict.startswith("not tested at this scale") and "2 length" in verdict
  assert number == "-"


def test_slope_near_a_target():
  n = np.asarray(N, float)
  assert _verdict(n ** -2.0 * NOISE, target=-2.0) == claims.SUPPORTS
  assert _verdict(n ** -1.0 * NOISE, target=-2.0) == claims.CONTRADICTS
  assert _verdict(np.full(len(N), 5.657), target=0.0) == claims.SUPPORTS


def test_side_and_near_read_the_interval_not_the_point():
  assert claims.side(-1.3, -1.1, -0.9, below=True) == claims.SUPPORTS
  assert claims.side(-1.3, 0.2, -0.9, below=True) == claims.INCONCLUSIVE
  assert claims.side(-0.5, 0.2, -0.9, below=True) == claims.CONTRADICTS
  assert claims.side(0.1, 0.3, 0.0, below=False) == claims.SUPPORTS
  assert claims.near(-2.05, -1.95, -2.0) == claims.SUPPORTS
  assert claims.near(-2.5, -1.5, -2.0) == claims.INCONCLUSIVE
  assert claims.near(-1.5, -1.2, -2.0) == claims.CONTRADICTS


def test_a_vacuous_bound_tests_nothing():
  number, verdict = claims.bound_claim([0.04, 0.02], [1.8e21, 9e20])
  assert verdict.startswith("not tested at this scale") and "vacuous" in verdict, verdict
  assert claims.bound_claim([0.04, 0.02], [0.4, 0.2])[1] == claims.SUPPORTS
  assert claims.bound_claim([0.04, 0.3], [0.4, 0.2])[1] == claims.CONTRADICTS
  assert claims.bound_claim([0.04], [None])[1].startswith("not tested")


def test_training_gate():
  assert "10 training steps" in claims.training_gate(10, 0.0, 5)
  assert "under-trained" in claims.training_gate(5000, 0.798, 5)
  assert "1 length" in claims.training_gate(5000, 0.0, 1)
  assert claims.training_gate(5000, 0.01, 5) is None
  assert claims.training_gate(5000, None, 5) is None


def test_above_bound():
  assert claims.above_bound_claim([0.3, 0.4, 0.5], [0.1, 0.2, 0.3])[1] == claims.SUPPORTS
  assert claims.above_bound_claim([0.3, 0.4, 0.1], [0.1, 0.2, 0.3])[1] == claims.CONTRADICTS
  assert claims.above_bound_claim([0.0, 0.4, 0.5], [0.1, 0.2, 0.3])[1] == claims.INCONCLUSIVE


def test_above_bound_reads_the_interval_not_the_mean():
  """With standard errors the verdict is the interval's: a mean above the bound whose
  interval reaches below it is inconclusive, one wholly below contradicts."""
  bound = [0.1, 0.2, 0.3]
  assert claims.above_bound_claim([0.3, 0.4, 0.5], bound, [0.01] * 3)[1] == claims.SUPPORTS
  number, verdict = claims.above_bound_claim([0.3, 0.4, 0.35], bound, [0.01, 0.01, 0.05])
  assert verdict == claims.INCONCLUSIVE and "[0.252, 0.448]" in number, number
  assert claims.above_bound_claim([0.3, 0.4, 0.2], bound, [0.01] * 3)[1] == claims.CONTRADICTS
  assert claims.above_bound_claim([0.3, 0.4, 0.28], bound, [0.01, 0.01, 0.02])[1] == \
      claims.INCONCLUSIVE


def test_wilson_interval():
  lo, hi = claims.wilson(1.0, 384)
  assert 0.985 < lo < 0.995 and hi == 1.0
  lo, hi = claims.wilson(0.5, 100)
  assert 0.40 < lo < 0.41 and 0.59 < hi < 0.60


def test_report_puts_the_claims_table_after_the_title(tmp_path):
  rep = Report(str(tmp_path), "smoke")
  rep.add("## 1. A section", "", "text", "")
  rep.claim("a | claim", "Hahn 2020, Lemma 5", "measured", ("slope -1 [-1.1, -0.9]", claims.SUPPORTS))
  lines = rep.text().splitlines()
  assert lines[0].startswith("# Hahn (2020) reproduced")
  assert lines[2] == "## Claims"
  assert lines[4] == "| claim | source | measured | number (interval) | verdict |"
  assert lines[6] == "| a \\| claim | Hahn 2020, Lemma 5 | measured | slope -1 [-1.1, -0.9] | supports |"
  assert any(line.startswith("**Verdict rules.**") for line in lines)
  assert lines.index("## 1. A section") > lines.index("## Claims")


def _t6_rows(excess_last, lstm_excess=0.01):
  return [{"n": n, "optimal_xent_bits": 1.0, "optimal_last_bits": 1.0, "chance_xent_bits": 2.0,
           "excess_bound_bits": 0.2,
           "transformer": {"xent_bits": 1.5, "xent_last_bits": 1.0 + e},
           "lstm": {"xent_bits": 1.0 + lstm_excess}} for n, e in zip((8, 16, 32), excess_last)]


def test_theorem6_rows_read_the_gates_and_the_bound(tmp_path):
  from limits import reproduce

  def verdict(rows, steps=5000):
    rep = Report(str(tmp_path), "small")
    reproduce._theorem6_claims("dyck:k=2", rows, steps, rep)
    return rep.claims[0].verdict
  assert verdict(_t6_rows([0.3, 0.3, 0.3])) == claims.SUPPORTS
  assert verdict(_t6_rows([0.3, 0.3, 0.1])) == claims.CONTRADICTS
  assert "10 training steps" in verdict(_t6_rows([0.3, 0.3, 0.3]), steps=10)
  assert "under-trained" in verdict(_t6_rows([0.3, 0.3, 0.1], lstm_excess=0.798))
  assert "2 length" in verdict(_t6_rows([0.3, 0.3, 0.3])[:2])
