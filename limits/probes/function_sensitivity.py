"""What the learned function is like: average sensitivity, sharpness, layer-norm blow-up.

- Average sensitivity (Hahn & Rofin 2024, "Why are sensitive functions hard for
  transformers?"): for uniformly random strings x of length n, the number of positions
  whose change (binary: flip; else a random other symbol) changes the model's decision,
  averaged over x. PARITY has sensitivity n (`normalized_sensitivity` = 1); functions a
  transformer finds easily have low sensitivity.
- Sharpness: the loss increase (bits) on a fixed batch at the member's training lengths
  when every parameter leaf gets Gaussian noise of `noise` times its own RMS, averaged
  over `noise_draws` draws. Hahn & Rofin tie high sensitivity to sharp minima.
- Layer-norm blow-up: the largest gain 1/sqrt(var + eps) of any layer norm (and of the
  final one) over the strings at each n: with eps = 0 (Chiang & Cholak) it grows as the
  normalised activation's spread shrinks, which is how layer norm escapes Lemma 5.
  Reported for transformers with layer norm (1 means no layer norm acts there).

Letters: S strings, N length, M members.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from limits import metrics as metrics_lib
from limits import setup as setup_lib
from limits.probes import common
from limits.probes import members as members_lib

LOG2 = float(np.log(2.0))


@dataclasses.dataclass(frozen=True)
class Config:
  min_length: int = 4
  max_length: int = 64
  points: int = 5
  strings: int = 64
  noise: float = 0.01
  noise_draws: int = 8
  loss_strings: int = 256
  batch: int = 512
  seed: int = 0
  members: str = ""

  def validate(self) -> "Config":
    common.check_fields(self, "function_sensitivity")
    common.log_grid(self.min_length, self.max_length, self.points)
    common.parse_members(self.members)
    return self


def average_sensitivity(setup: setup_lib.Setup, which: tuple[int, ...], params_M: Any, n: int,
                        cfg: Config) -> np.ndarray:
  """float[M']: E_x[#positions whose change flips the decision], uniform x of length n."""
  lang = setup.language
  v, s = lang.n_symbols, cfg.strings
  if v < 2:
    return np.zeros(len(which))
  key = jax.random.fold_in(jax.random.key(cfg.seed), n)

  @jax.jit
  def run(params_M):
    k1, k2 = jax.random.split(key)
    x = jax.random.randint(k1, (s, n), 0, v, jnp.int32)
    new = 1 - x if v == 2 else (x + jax.random.randint(k2, x.shape, 1, v)) % v
    pert = jnp.where(jnp.eye(n, dtype=bool)[None], new[:, None, :], x[:, None, :])
    dec = members_lib.population_decide(setup, which, params_M,
                                        jnp.concatenate([x, pert.reshape(s * n, n)]), cfg.batch)
    return jnp.mean(jnp.sum(dec[:, s:].reshape(-1, s, n) != dec[:, :s, None], axis=2), axis=1)

  return np.asarray(run(params_M), np.float64)


def sharpness(setup: setup_lib.Setup, which: tuple[int, ...], params_M: Any,
              cfg: Config) -> tuple[np.ndarray, np.ndarray]:
  """(loss bits, mean loss increase under relative noise), each float[M'].

  Each member's batch is drawn at its own training lengths (one program for all).
  """
  lang, task = setup.language, setup.task
  arch_M = setup.member_masks()
  idx = jnp.asarray(which, jnp.int32)
  pick = lambda tree: jax.tree.map(lambda x: x[idx], tree)
  arr = setup.arrays
  max_len = setup.exp.max_train_length
  key = jax.random.key(cfg.seed + 7)

  @jax.jit
  def run(params_M):
    def one(args):
      params, arch, lengths_L, n_lengths = args
      k_len, k_data, k_noise = jax.random.split(key, 3)
      lengths = lengths_L[jax.random.randint(k_len, (cfg.loss_strings,), 0, n_lengths)]
      batch = lang.sample(task, k_data, lengths, max_len)
      loss = lambda p: jnp.mean(metrics_lib.losses(setup.model, p, batch, arch=arch)[0]) / LOG2
      leaves, tree = jax.tree.flatten(params)

      def noisy(k):
        ks = jax.random.split(k, len(leaves))
        new = [x + cfg.noise * jnp.sqrt(jnp.mean(x * x)) * jax.random.normal(kk, x.shape, x.dtype)
               for x, kk in zip(leaves, ks)]
        return loss(jax.tree.unflatten(tree, new))

      base = loss(params)
      return base, jnp.mean(jax.lax.map(noisy, jax.random.split(k_noise, cfg.noise_draws))) - base

    return jax.lax.map(one, (pick(params_M), pick(arch_M), arr.lengths_MxL[idx],
                             arr.num_lengths_M[idx]))

  base, sharp = (np.asarray(x, np.float64) for x in jax.device_get(run(params_M)))
  return base, sharp


def ln_gains(mem: members_lib.Member, lang, task: str, n: int, cfg: Config) -> dict[str, float]:
  """Largest layer-norm gain 1/sqrt(var + eps) inside the layers and at the final norm."""
  key = jax.random.fold_in(jax.random.key(cfg.seed + 3), n)

  @jax.jit
  def run(params):
    sym = jax.random.randint(key, (min(cfg.strings, 16), n), 0, lang.n_symbols, jnp.int32)
    tokens, _, _ = members_lib.task_tokens(lang, task, sym)
    _, st = members_lib.readout_features(mem, params, tokens, 128, 8)
    layer = jnp.max(st["ln_gain"]) if "ln_gain" in st else jnp.ones(())
    return layer, jnp.max(st["final_ln_gain"])

  layer, final = (float(x) for x in jax.device_get(run(mem.params)))
  return {"ln_gain_max": layer, "final_ln_gain": final}


def run(setup: setup_lib.Setup, params_M: Any, cfg: Config) -> dict[str, Any]:
  """Average sensitivity against n, sharpness, and layer-norm gains, per member."""
  cfg = cfg.validate()
  lang, task = setup.language, setup.task
  grid = common.log_grid(cfg.min_length, cfg.max_length, cfg.points)
  mems = members_lib.members(setup, params_M, common.parse_members(cfg.members))
  which = tuple(m.index for m in mems)
  sens = {n: average_sensitivity(setup, which, params_M, n, cfg) for n in grid}
  base, sharp = sharpness(setup, which, params_M, cfg)
  out = []
  for j, mem in enumerate(mems):
    has_ln = mem.is_transformer and mem.cfg.layer_norm != "none"
    per_n = []
    for n in grid:
      s = float(sens[n][j])
      row = {"n": n, "avg_sensitivity": s, "normalized_sensitivity": s / n}
      if has_ln:
        row.update(ln_gains(mem, lang, task, n, cfg))
      per_n.append(row)
    fit = common.loglog_slope(grid, [r["avg_sensitivity"] for r in per_n])
    out.append({**mem.describe(), "loss_bits": float(base[j]), "sharpness_bits": float(sharp[j]),
                "sensitivity_slope": fit["slope"], "per_n": per_n})
  return {"probe": "function_sensitivity", "config": dataclasses.asdict(cfg),
          "lengths": list(grid), "members": out}
