"""Theorem 1 (Hahn 2020): a restriction after which the output depends on few inputs.

For any UHAT transformer and C in (0, 1) there is a restriction fixing at most (1-C) n
inputs after which the output depends on at most c inputs, c independent of n. The probe
searches for such a restriction at each n and reports how many free positions stay
influential:

- influence of a free position j under restriction rho: the fraction of K uniformly
  random completions z of the free positions for which changing z_j (binary alphabets:
  flipping it; otherwise a random other symbol) changes the model's decision; j is
  influential when that fraction exceeds `threshold` (default 0: any observed flip).
- greedy stage (the spirit of the paper's proof, which fixes the inputs each attention
  head can be made to commit to): in `greedy_rounds` rounds, fix the currently most
  influential free positions, each to the symbol that makes the decision most constant
  over random completions, until only ceil(C n) positions are free;
- random stage: `random_restrictions` uniformly random restrictions of the same size.
The reported count (`influential`) is the smallest found; `free` = ceil(C n) positions.
PARITY needs every free position (count = free for a perfect recogniser); the paper's
positive controls (1*, a^n b^n) admit restrictions with a constant count.

Works on every model (soft, AHAT, LSTM for contrast); the theorem is about UHAT.

Letters: K completions, N string length n, V alphabet size, R candidate positions.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from limits import train as train_lib
from limits.probes import common
from limits.probes import members as members_lib


@dataclasses.dataclass(frozen=True)
class Config:
  min_length: int = 8
  max_length: int = 128
  points: int = 5
  fraction: float = 0.5         # C: at least ceil(C n) positions stay free
  completions: int = 32         # K random completions per influence estimate
  greedy_rounds: int = 8
  random_restrictions: int = 8
  threshold: float = 0.0        # influential: flip rate > threshold
  batch: int = 512              # strings per model call inside the program
  seed: int = 0
  members: str = ""

  def validate(self) -> "Config":
    common.check_fields(self, "restriction")
    if not 0.0 < self.fraction < 1.0:
      raise ValueError(f"probe.fraction: C must lie in (0, 1), got {self.fraction}")
    if self.threshold >= 1.0:
      raise ValueError(f"probe.threshold: must lie in [0, 1), got {self.threshold}")
    common.log_grid(self.min_length, self.max_length, self.points)
    common.parse_members(self.members)
    return self


def _complete(key, fixed_N, vals_N, k: int, v: int) -> jax.Array:
  z = jax.random.randint(key, (k, fixed_N.shape[0]), 0, v, jnp.int32)
  return jnp.where(fixed_N[None], vals_N[None], z)


def _other(key, z, v: int) -> jax.Array:
  return 1 - z if v == 2 else (z + jax.random.randint(key, z.shape, 1, v)) % v


def make_programs(mem: members_lib.Member, lang, task: str, n: int, cfg: Config, r: int):
  """(influence, choose): jitted influence estimate and greedy value choice at length n."""
  v, k = lang.n_symbols, cfg.completions

  @jax.jit
  def influence(params, fixed_N, vals_N, key):
    """float[N]: flip rate of each position's change over K completions."""
    k1, k2 = jax.random.split(key)
    z_KxN = _complete(k1, fixed_N, vals_N, k, v)
    new_KxN = _other(k2, z_KxN, v)
    eye_NxN = jnp.eye(n, dtype=bool)
    pert = jnp.where(eye_NxN[None], new_KxN[:, None, :], z_KxN[:, None, :])  # [K, j, N]
    dec = members_lib.decide(mem, lang, task, params, jnp.concatenate([z_KxN, pert.reshape(k * n, n)]),
                  cfg.batch)
    return jnp.mean(dec[k:].reshape(k, n) != dec[:k, None], axis=0)

  @jax.jit
  def choose(params, fixed_N, vals_N, cand_R, key):
    """int[R]: per candidate position, the symbol making the decision most constant."""
    z = _complete(key, fixed_N, vals_N, k, v)                      # [K, N]
    sym = jnp.arange(v)
    hit = jnp.arange(n)[None, None, None, :] == cand_R[:, None, None, None]
    s = jnp.where(hit, sym[None, :, None, None], z[None, None])    # [R, V, K, N]
    dec = members_lib.decide(mem, lang, task, params, s.reshape(-1, n), cfg.batch).reshape(r, v, k)
    counts = jnp.sum(jax.nn.one_hot(dec, max(v, 2) + 2), axis=2)    # [R, V, classes]
    return jnp.argmax(jnp.max(counts, -1), axis=1)

  return influence, choose


def search(mem: members_lib.Member, lang, task: str, n: int, cfg: Config) -> dict[str, Any]:
  """The greedy and random restriction searches at length n for one member."""
  free = math.ceil(cfg.fraction * n)
  to_fix = n - free
  rounds = max(1, min(cfg.greedy_rounds, to_fix))
  r = max(1, math.ceil(to_fix / rounds))
  influence, choose = make_programs(mem, lang, task, n, cfg, r)
  key = jax.random.fold_in(jax.random.key(cfg.seed), n)
  count = lambda infl, fixed: int(np.sum((infl > cfg.threshold) & ~fixed))

  # Greedy: fix the most influential free positions to their most decisive symbols.
  fixed = np.zeros(n, bool)
  vals = np.zeros(n, np.int32)
  done = 0
  for rnd in range(rounds if to_fix else 0):
    kr = jax.random.fold_in(key, rnd)
    infl = np.asarray(influence(mem.params, fixed, vals, kr))
    # Ties (e.g. no influence anywhere) broken at random, not towards the left.
    jitter = np.asarray(jax.random.uniform(jax.random.fold_in(kr, 1), (n,))) * 1e-6
    order = np.argsort(-(np.where(fixed, -np.inf, infl) + jitter))
    cand = order[:r].astype(np.int32)
    best = np.asarray(choose(mem.params, fixed, vals, cand, jax.random.fold_in(kr, 2)))
    take = min(r, to_fix - done)
    fixed[cand[:take]] = True
    vals[cand[:take]] = best[:take]
    done += take
    if done >= to_fix:
      break
  infl = np.asarray(influence(mem.params, fixed, vals, jax.random.fold_in(key, 10_000)))
  greedy = count(infl, fixed)
  greedy_mean = float(np.mean(infl[~fixed]))

  # Random restrictions of the same size.
  rand_counts = []
  for t in range(cfg.random_restrictions):
    kt = jax.random.fold_in(key, 20_000 + t)
    k1, k2, k3 = jax.random.split(kt, 3)
    fx = np.zeros(n, bool)
    fx[np.asarray(jax.random.permutation(k1, n))[:to_fix]] = True
    vl = np.asarray(jax.random.randint(k2, (n,), 0, lang.n_symbols, jnp.int32))
    rand_counts.append(count(np.asarray(influence(mem.params, fx, vl, k3)), fx))
  best = min([greedy] + rand_counts)
  return {"n": n, "free": free, "influential": best, "greedy_influential": greedy,
          "random_influential_min": min(rand_counts) if rand_counts else None,
          "random_influential_mean": float(np.mean(rand_counts)) if rand_counts else None,
          "greedy_mean_influence": greedy_mean, "influential_fraction": best / free,
          "restriction": "".join(lang.alphabet[int(vals[j])] if fixed[j] else "*"
                                 for j in range(n)) if greedy <= best else None}


def run(setup: train_lib.Setup, params_M: Any, cfg: Config) -> dict[str, Any]:
  """Theorem 1's restriction search for every member, over a log-spaced grid of n."""
  cfg = cfg.validate()
  lang, task = setup.language, setup.task
  grid = common.log_grid(cfg.min_length, cfg.max_length, cfg.points)
  out = []
  for mem in members_lib.members(setup, params_M, common.parse_members(cfg.members)):
    per_n = [search(mem, lang, task, n, cfg) for n in grid]
    fit = common.loglog_slope([r["n"] for r in per_n], [r["influential"] for r in per_n])
    out.append({**mem.describe(), "per_n": per_n, "influential_slope": fit["slope"],
                "max_influential": max(r["influential"] for r in per_n),
                "theorem_applies": mem.cfg.kind == "transformer"
                and mem.cfg.attention == "hard_unique"})
  return {"probe": "restriction", "config": dataclasses.asdict(cfg), "lengths": list(grid),
          "language": lang.name, "members": out}
