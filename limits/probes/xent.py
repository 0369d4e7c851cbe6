"""Theorem 6 (Hahn 2020): next-symbol cross-entropy against n, beside optimal and chance.

For each n on the grid, `strings` strings of exactly n symbols are drawn from the
checkpoint's own task sampler (prediction: generator prefixes, the exact next-symbol
distribution q as target; recognition: balanced members and non-members). Reported in
bits, per member:
  xent_bits        mean over positions t = 0..n (what training and `evaluate` report)
  xent_last_bits   at the last position only: predicting what follows x_1..x_n, the
                   quantity Theorem 6 bounds
  xent_sem_bits, xent_last_sem_bits  their standard errors over the strings (each
                   string's own value; the strings are independent draws)
  optimal_* / chance_*  exact optimal and unigram-chance values for both
Theorem 6: for soft attention, PARITY's cross-entropy tends to chance as n grows. For
k-DYCK (2DYCK: k = 2) the excess over optimal stays at least P_0 (1 - p) log 2 nats =
P_0 (1 - p) bits, P_0 = probability that a length-n prefix is unbalanced and ends in a
closing bracket (then the next closer's type depends on a far-away opener). P_0 is
estimated from `p0_samples` prefixes of the same sampler (`p0`, `excess_bound_bits`).

All members are measured by one program per n (the masked max model under `lax.map`).
Recognition checkpoints get accuracy and the classifier's cross-entropy (optimal 0,
chance 1 bit); `xent_last_bits` then equals `xent_bits`.

Letters: S strings, T positions, C classes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from limits import metrics as metrics_lib
from limits import setup as setup_lib
from limits.languages import base as base_lib
from limits.probes import common
from limits.probes import members as members_lib

LOG2 = metrics_lib.LOG2


@dataclasses.dataclass(frozen=True)
class Config:
  min_length: int = 2
  max_length: int = 256
  points: int = 8
  strings: int = 256
  p0_samples: int = 4096
  seed: int = 0
  members: str = ""

  def validate(self) -> "Config":
    common.check_fields(self, "xent")
    common.log_grid(self.min_length, self.max_length, self.points)
    common.parse_members(self.members)
    return self


def valid_lengths(lang, task: str, grid: tuple[int, ...]) -> tuple[int, ...]:
  """The grid without lengths the task cannot sample (e.g. odd n for Dyck recognition)."""
  if task != "recognition":
    return grid
  ok = []
  for n in grid:
    try:
      lang.check_length(n)
      ok.append(n)
    except ValueError:
      if n + 1 <= max(grid):
        ok.append(n + 1)
  return tuple(sorted(set(ok)))


def measure(setup: setup_lib.Setup, which: tuple[int, ...], params_M: Any, n: int,
            cfg: Config) -> dict[str, np.ndarray]:
  """Cross-entropies (bits) and accuracy of the chosen members at length n (each [M'])."""
  lang, task = setup.language, setup.task
  key = jax.random.fold_in(jax.random.key(cfg.seed), n)
  apply = members_lib.population_apply(setup, which)

  @jax.jit
  def run(params_M):
    batch = lang.sample(task, key, jnp.full((cfg.strings,), n, jnp.int32), n)
    logits = apply(params_M, batch.tokens_BxT, batch.readout_B)   # [M', S, (T,) C]
    if task == "recognition":
      xent_MxS, ok_MxS = jax.vmap(lambda lg: metrics_lib.string_metrics(lg, batch))(logits)
      return xent_MxS, xent_MxS, ok_MxS
    # Every position 0..n is valid (strings of exactly n symbols, no padding). The loss is
    # training's (metrics.position_xent: against q, or BCE for multi-hot targets).
    xent_MxSxT = jax.vmap(lambda lg: metrics_lib.position_xent(lg, batch))(logits)
    ok_MxS = jax.vmap(lambda lg: metrics_lib.string_metrics(lg, batch)[1])(logits)
    return jnp.mean(xent_MxSxT, 2), xent_MxSxT[:, :, n], ok_MxS

  mean, last, acc = (np.asarray(x, np.float64) for x in jax.device_get(run(params_M)))
  # Standard errors over the S independent strings (each string's own value).
  sem = lambda x: (np.std(x, axis=1, ddof=1) / np.sqrt(x.shape[1]) if x.shape[1] > 1
                   else np.full(x.shape[0], np.nan))
  return {"xent_bits": mean.mean(1) / LOG2, "xent_last_bits": last.mean(1) / LOG2,
          "accuracy": acc.mean(1), "xent_sem_bits": sem(mean) / LOG2,
          "xent_last_sem_bits": sem(last) / LOG2}


def references(lang, task: str, n: int) -> dict[str, float]:
  """Exact optimal and unigram-chance cross-entropies (bits), mean and last position."""
  if task == "recognition":
    return {"optimal_xent_bits": 0.0, "chance_xent_bits": 1.0,
            "optimal_last_bits": 0.0, "chance_last_bits": 1.0}
  return {"optimal_xent_bits": lang.optimal_xent_bits(task, n),
          "chance_xent_bits": lang.chance_xent_bits(task, n),
          "optimal_last_bits": float(lang.prefix_entropies_bits(n)[n]),
          "chance_last_bits": base_lib.entropy_bits(lang.prefix_mean_distributions(n)[n])}


def run(setup: setup_lib.Setup, params_M: Any, cfg: Config) -> dict[str, Any]:
  """Cross-entropy against n for every member, with Theorem 6's 2DYCK bound."""
  cfg = cfg.validate()
  lang, task = setup.language, setup.task
  grid = valid_lengths(lang, task, common.log_grid(cfg.min_length, cfg.max_length, cfg.points))
  ref = {n: references(lang, task, n) for n in grid}
  is_dyck = False
  for n in grid if task == "prediction" else ():
    p0 = lang.theorem6_p0(n, cfg.p0_samples, jax.random.fold_in(jax.random.key(cfg.seed + 1), n))
    if p0 is None:   # no bound for this language (Theorem 6's is for k-DYCK)
      break
    is_dyck = True
    ref[n]["p0"] = p0
    ref[n]["excess_bound_bits"] = p0 * (1.0 - lang.p)
  mems = members_lib.members(setup, params_M, common.parse_members(cfg.members))
  which = tuple(m.index for m in mems)
  measured = {n: measure(setup, which, params_M, n, cfg) for n in grid}
  out = []
  for j, mem in enumerate(mems):
    per_n = []
    for n in grid:
      r = {"n": n, **{k: float(v[j]) for k, v in measured[n].items()}, **ref[n]}
      r["excess_bits"] = r["xent_bits"] - r["optimal_xent_bits"]
      r["excess_last_bits"] = r["xent_last_bits"] - r["optimal_last_bits"]
      per_n.append(r)
    out.append({**mem.describe(), "per_n": per_n})
  return {"probe": "xent", "config": dataclasses.asdict(cfg), "lengths": list(grid),
          "language": lang.name, "task": task, "dyck_bound": is_dyck, "members": out}
