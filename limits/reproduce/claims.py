"""The claims table at the top of report.md: one row per claim, its verdict from the data.

Every verdict is a small pure function of the measured numbers (tests/test_reproduce_claims
feeds them synthetic data). The rules, stated once in `RULES` and printed in the report:

- An interval is compared with the claim's prediction: `supports` if it lies wholly on the
  predicted side, `contradicts` if wholly on the other side, `inconclusive` if it straddles.
  Log-log slopes use the OLS fit's 95% t interval (`probes.common.loglog_slope`), which
  needs at least `MIN_POINTS` lengths; "slope ~ s" means within `SLOPE_TOL` of s.
- `not tested at this scale (why)` when the data cannot test the claim: fewer than
  `MIN_POINTS` lengths for a slope or an "as n grows" claim; fewer than `MIN_STEPS` training steps; a bound more than `VACUOUS`
  times the measured value (it would hold for any model of this size); or trained models
  whose control (the LSTM trained the same way) is not within `OPTIMUM_TOL` bits of
  optimal cross-entropy, so a gap cannot be told from under-training.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

from limits.probes import common

SUPPORTS, CONTRADICTS, INCONCLUSIVE = "supports", "contradicts", "inconclusive"
MIN_POINTS = 3       # a slope's interval needs 3 lengths (2 fit exactly)
MIN_STEPS = 500      # below this a trained model tells nothing about what it can learn
VACUOUS = 1e3        # bound / measured above this: the bound holds for any model here
SLOPE_TOL = 0.1      # "slope ~ s" means |slope - s| <= SLOPE_TOL
OPTIMUM_TOL = 0.05   # bits above optimal that still count as "at the optimum"
Z95 = 1.959964       # two-sided 95% normal quantile (means over independent strings)

RULES = (
    f"**Verdict rules.** An interval lying wholly on the claim's predicted side `supports` it, "
    f"wholly on the other side `contradicts` it, one that straddles is `inconclusive`. Slopes "
    f"are OLS fits of log y on log n with a 95% t interval; \"slope ~ s\" means within "
    f"{SLOPE_TOL} of s; proportions carry a 95% Wilson interval, means over strings a 95% normal interval "
    f"(mean +- {Z95:.2f} standard errors over the independent strings). `not tested at this scale` "
    f"when a slope or an \"as n grows\" claim has fewer than {MIN_POINTS} lengths, training "
    f"ran fewer than {MIN_STEPS} steps, a bound exceeds the measurement by more than {VACUOUS:.0e} (it holds "
    f"for any model of this size, so it tests nothing), or the LSTM trained the same way is "
    f"more than {OPTIMUM_TOL} bits above optimal (a gap could be under-training).")


@dataclasses.dataclass(frozen=True)
class Claim:
  """One row: what the theory says, where, what was measured, the number, the verdict."""
  claim: str
  source: str
  measured: str
  number: str
  verdict: str


def not_tested(why: str) -> str:
  return f"not tested at this scale ({why})"


def side(lo: float, hi: float, threshold: float, below: bool) -> str:
  """An interval [lo, hi] against a threshold; `below`: the claim predicts <= threshold."""
  if below:
    return SUPPORTS if hi <= threshold else CONTRADICTS if lo > threshold else INCONCLUSIVE
  return SUPPORTS if lo >= threshold else CONTRADICTS if hi < threshold else INCONCLUSIVE


def near(lo: float, hi: float, target: float, tol: float = SLOPE_TOL) -> str:
  """[lo, hi] against target +- tol: inside supports, disjoint contradicts."""
  if target - tol <= lo and hi <= target + tol:
    return SUPPORTS
  if hi < target - tol or lo > target + tol:
    return CONTRADICTS
  return INCONCLUSIVE


def _fmt_ci(v: float, ci: Sequence[float]) -> str:
  return f"{v:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def slope_claim(n: Sequence[float], y: Sequence[float], *, below: float | None = None,
                target: float | None = None) -> tuple[str, str]:
  """(number, verdict) for the log-log slope of y on n: predicted <= `below`, or ~ `target`."""
  if len(n) < MIN_POINTS:
    return "-", not_tested(f"{len(n)} length(s); a slope's interval needs {MIN_POINTS}")
  fit = common.loglog_slope(n, y)
  if fit["slope_ci"] is None:
    return "-", not_tested(f"{fit['points']} usable point(s); a slope's interval needs "
                           f"{MIN_POINTS}")
  lo, hi = fit["slope_ci"]
  number = "slope " + _fmt_ci(fit["slope"], fit["slope_ci"])
  if target is not None:
    return number, near(lo, hi, target)
  return number, side(lo, hi, below, below=True)


def wilson(p: float, k: int, z: float = 1.96) -> tuple[float, float]:
  """95% Wilson interval of a proportion p measured on k trials."""
  if k <= 0:
    return 0.0, 1.0
  d = 1 + z * z / k
  c = (p + z * z / (2 * k)) / d
  h = z * math.sqrt(p * (1 - p) / k + z * z / (4 * k * k)) / d
  return max(0.0, c - h), min(1.0, c + h)


def bound_claim(measured: Sequence[float], bound: Sequence[float]) -> tuple[str, str]:
  """(number, verdict) for "measured <= bound at every n"; vacuous bounds test nothing."""
  pairs = [(m, b) for m, b in zip(measured, bound) if b is not None and m is not None]
  if not pairs:
    return "-", not_tested("no bound computed")
  if any(m > b for m, b in pairs):
    worst = max(pairs, key=lambda p: p[0] / p[1])
    return f"measured {worst[0]:.3g} > bound {worst[1]:.3g}", CONTRADICTS
  ratio = min(b / m if m > 0 else math.inf for m, b in pairs)
  number = f"bound / measured >= {ratio:.3g}"
  if ratio > VACUOUS:
    return number, not_tested(f"the bound exceeds the measured change {ratio:.1e}-fold "
                              f"(> {VACUOUS:.0e}): vacuous")
  return number, SUPPORTS


def training_gate(steps: int, lstm_excess: float | None, lengths: int) -> str | None:
  """Why trained models cannot test a claim about what the architecture can learn, or None."""
  if lengths < MIN_POINTS:
    return not_tested(f"{lengths} length(s); 'as n grows' needs {MIN_POINTS}")
  if steps < MIN_STEPS:
    return not_tested(f"{steps} training steps < {MIN_STEPS}")
  if lstm_excess is not None and lstm_excess > OPTIMUM_TOL:
    return not_tested(f"the LSTM control is {lstm_excess:.3g} bits above optimal "
                      f"(> {OPTIMUM_TOL}): under-trained")
  return None


def mean_interval(mean: float, sem: float | None) -> tuple[float, float]:
  """95% normal interval of a mean over independent strings; a point without `sem`."""
  if sem is None or not math.isfinite(sem):
    return mean, mean
  return mean - Z95 * sem, mean + Z95 * sem


def above_bound_claim(excess: Sequence[float], bound: Sequence[float],
                      sem: Sequence[float | None] | None = None) -> tuple[str, str]:
  """Theorem 6, 2DYCK: excess >= bound predicted at every n. With the excess's standard
  errors (over the strings): supports if every n's interval lies at or above its bound,
  contradicts if the largest n's lies below it, else inconclusive."""
  sem = list(sem) if sem is not None else [None] * len(excess)
  iv = [mean_interval(e, s) for e, s in zip(excess, sem)]
  lo, hi = iv[-1]
  number = (f"excess {excess[-1]:.3g} [{lo:.3g}, {hi:.3g}] vs bound {bound[-1]:.3g} at the "
            f"largest n" if sem[-1] is not None else
            f"excess {excess[-1]:.3g} vs bound {bound[-1]:.3g} at the largest n (no interval)")
  if all(l >= b for (l, _), b in zip(iv, bound)):
    return number, SUPPORTS
  return number, CONTRADICTS if hi < bound[-1] else INCONCLUSIVE


def proportion_claim(p: float, k: int, threshold: float, below: bool, what: str) -> tuple[str, str]:
  """(number, verdict): a proportion's Wilson interval against a threshold."""
  lo, hi = wilson(p, k)
  return f"{what} {p:.3g} [{lo:.3g}, {hi:.3g}] (k = {k})", side(lo, hi, threshold, below)


def table(claims: Sequence[Claim]) -> list[str]:
  """The markdown lines of the claims table."""
  cell = lambda s: str(s).replace("|", "\\|")
  out = ["| claim | source | measured | number (interval) | verdict |", "|---|---|---|---|---|"]
  out += ["| " + " | ".join(cell(getattr(c, f.name)) for f in dataclasses.fields(Claim)) + " |"
          for c in claims]
  return out

