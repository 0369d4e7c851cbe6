"""What the probes share: their config validation, length grids, the log-log fit.

Every probe is `run(setup, params_M, cfg) -> dict` (pure: no files), its config a frozen
dataclass whose fields users set as `--probe.<field>=value`. Results are plain JSON-able
dicts: `{"probe", "config", "members": [...]}`, each member with its identity
(`members.Member.describe`) and a `per_n` list (the CSV rows).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np


def log_grid(lo: int, hi: int, points: int) -> tuple[int, ...]:
  """Distinct integers from lo to hi, log-spaced (both ends included)."""
  if lo < 1 or hi < lo:
    raise ValueError(f"probe lengths: need 1 <= min_length <= max_length, got {lo}, {hi}")
  if points < 1:
    raise ValueError(f"probe.points: must be >= 1, got {points}")
  if points == 1 or lo == hi:
    return (hi,)
  return tuple(sorted({int(round(x)) for x in np.geomspace(lo, hi, points)}))


def parse_members(value: str) -> tuple[int, ...]:
  """'' (all members) or '0,2,5'."""
  if value in ("", None):
    return ()
  try:
    return tuple(int(s) for s in str(value).split(",") if s.strip())
  except ValueError:
    raise ValueError(f"probe.members: expected member indices like '0,2', got {value!r}") from None


def loglog_slope(n: Sequence[float], y: Sequence[float]) -> dict[str, Any]:
  """OLS slope of log y against log n, with a 95% t confidence interval.

  Points with y <= 0 (no change at all, e.g. hard attention) are left out; with fewer
  than 2 points the slope is None, with 2 the interval is None.
  """
  n, y = np.asarray(n, np.float64), np.asarray(y, np.float64)
  ok = (y > 0) & np.isfinite(y)
  x, z = np.log(n[ok]), np.log(y[ok])
  k = len(x)
  if k < 2 or np.ptp(x) == 0:
    return {"slope": None, "slope_ci": None, "intercept": None, "points": int(k)}
  slope, intercept = np.polyfit(x, z, 1)
  ci = None
  if k > 2:
    from scipy import stats  # local: only this fit needs scipy
    resid = z - (slope * x + intercept)
    se = math.sqrt(float(np.sum(resid ** 2)) / (k - 2) / float(np.sum((x - x.mean()) ** 2)))
    half = float(stats.t.ppf(0.975, k - 2)) * se
    ci = [float(slope - half), float(slope + half)]
  return {"slope": float(slope), "slope_ci": ci, "intercept": float(intercept), "points": int(k)}


def check_fields(cfg: Any, name: str) -> None:
  """ValueError naming `probe.<field>` for negative or zero counts (fields ending in s/_length)."""
  for f in dataclasses.fields(cfg):
    v = getattr(cfg, f.name)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
      continue
    if not math.isfinite(v):
      raise ValueError(f"probe.{f.name}: must be a finite number for {name}, got {v}")
    if f.name in ("seed", "threshold"):
      if v < 0:
        raise ValueError(f"probe.{f.name}: must be >= 0 for {name}, got {v}")
      continue
    if v <= 0:
      raise ValueError(f"probe.{f.name}: must be > 0 for {name}, got {v}")


def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
  """CSV rows: one per member x per_n entry, the member's identity in front."""
  out = []
  ident = ("member", "depth", "heads", "seed", "lr", "train_length", "kind", "attention",
           "layer_norm", "label")
  for m in result["members"]:
    head = {k: m[k] for k in ident if k in m}
    for r in m.get("per_n", []):
      out.append({**head, **r})
  return out


def jsonable(x: Any) -> Any:
  """numpy scalars/arrays and non-finite floats made JSON-safe (inf -> 'inf')."""
  if isinstance(x, dict):
    return {str(k): jsonable(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [jsonable(v) for v in x]
  if isinstance(x, np.ndarray):
    return jsonable(x.tolist())
  if isinstance(x, (np.floating, float)):
    x = float(x)
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf" if x < 0 else "nan")
  if isinstance(x, np.integer):
    return int(x)
  if isinstance(x, np.bool_):
    return bool(x)
  return x
