"""Theorem 1 (Hahn 2020): a restriction after which the output depends on few inputs.

For any UHAT transformer and C in (0, 1) there is a restriction rho fixing at most
(1-C) n inputs after which the output depends on at most c inputs, c independent of n.
So a language whose restricted function still depends on many free inputs under *every*
such rho (PARITY: all of them) cannot be recognised: on the subcube of rho the model, which
depends on few, must disagree with the language somewhere. Per n and member the probe

1. searches rho for the *model* (it tries to make the model's restricted function depend
   on as few free inputs as possible):
   - greedy (black box): in `greedy_rounds` rounds fix the currently most influential
     free positions, each to the symbol that makes the decision most constant;
   - random: `random_restrictions` restrictions of the same size, half with the fixed
     values copied from a member of the language (so its subcube holds that member),
     half uniform;
   - white box, hard attention only (Lemma 4 in spirit): repeatedly pick a head whose
     attended position, for a query the readout always depends on, still varies across
     completions (top layer first: the readout's own heads), and fix the one input
     (position, symbol) that makes that head attend to it on the most completions; stop when every head in the readout's
     dependency cone attends to the same position on every completion ("committed"), or
     the budget of (1-C) n fixed inputs is spent. Once committed, the output can depend
     only on the free positions inside the cone (`white_box_cone_free`).
   The reported rho is the one whose model count is smallest (ties: white box, greedy,
   random);
2. under that rho, counts the free positions on which the *model's* decision depends
   (`influential`) and on which the *language's* does (`language_influential`, labels from
   the language's own oracle: `accepts`, `classify`, or for prediction the argmax of the
   exact next-symbol distribution), and measures the model's error on the subcube
   (`subcube_error`: fraction of completions where the decision is wrong) with a witness;
3. gives a verdict:
   - `obstruction`: the language depends on more free inputs than the model, and the model
     errs on a measured fraction of the subcube (> 0, witness string given);
   - `no_obstruction`: the language's restricted function depends on at most `few`
     inputs and the model matches it on every completion drawn;
   - `inconclusive`: anything else (e.g. a correct PARITY recogniser, which is no UHAT,
     or all positions free so that no restriction is made).

Completions (how both classes are represented): a position j is influential for f when
changing z_j (binary alphabets: flipping it; otherwise a random other symbol) changes
f(z) for some of the K completions z of rho's free positions. Half of the completions
are uniform over the subcube; the other half are *planted*: exact uniform members of the
language at length n (its own sampler; for prediction, generator prefixes) written into
the free positions. So whenever the subcube contains a member that agrees with a sampled
member on the free positions, in particular for every restriction whose fixed values come
from a member, both classes are drawn even for languages whose members are
exponentially rare (1*, a^n b^n, Dyck), where uniform completions alone contain none
and a reject-everything model would look perfect. `members_in_subcube` counts the member
completions, so a reader sees when a subcube had none. Counts are lower bounds (sampled
completions); for PARITY one completion already shows every free position.

Works on every model (soft, AHAT, LSTM as black boxes); the theorem is about UHAT.
Here: the search, the verdict and `run`; `limits.probes.subcube` holds `Config` and the
programs on completions, `limits.probes.white_box` the white box.

Letters: K completions, N string length n, V alphabet size, R candidate positions,
A anchors (planted members), T tokens, H heads, L layers.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from limits import setup as setup_lib
from limits.probes import common
from limits.probes import members as members_lib
from limits.probes.subcube import (Config, anchors, language_decision, make_programs,
                                   prediction_correct)
from limits.probes.white_box import make_white_box, white_box, white_box_applies

VERDICTS = ("no_obstruction", "obstruction", "inconclusive")


# The search -----------------------------------------------------------------------
def _pattern_string(lang, fixed: np.ndarray, vals: np.ndarray) -> str:
  return "".join(lang.alphabet[int(vals[j])] if fixed[j] else "*" for j in range(len(fixed)))


def verdict(model_count: int, language_count: int | None, error: float, few: int) -> str:
  """Theorem 1's reading of one restriction (see the module docstring)."""
  if language_count is None:
    return "inconclusive"
  if language_count > model_count and error > 0:
    return "obstruction"
  if language_count <= few and error == 0:
    return "no_obstruction"
  return "inconclusive"


def search(mem: members_lib.Member, lang, task: str, n: int, cfg: Config) -> dict[str, Any]:
  """The restriction searches at length n for one member, and the verdict."""
  free = math.ceil(cfg.fraction * n)
  to_fix = n - free
  rounds = max(1, min(cfg.greedy_rounds, to_fix))
  r = max(1, math.ceil(to_fix / rounds))
  measure, choose = make_programs(mem, lang, task, n, cfg, r)
  key = jax.random.fold_in(jax.random.key(cfg.seed), n)
  anchor_AxN, planted = anchors(lang, task, jax.random.fold_in(key, 30_000), n,
                                max(64, cfg.completions))
  count = lambda infl, fixed: int(np.sum((np.asarray(infl) > cfg.threshold) & ~fixed))
  final_key = jax.random.fold_in(key, 10_000)
  model_count = lambda fixed, vals: count(measure(mem.params, fixed, vals, anchor_AxN,
                                                  final_key)[0], fixed)

  # Greedy: fix the most influential free positions to their most decisive symbols.
  fixed = np.zeros(n, bool)
  vals = np.zeros(n, np.int32)
  done = 0
  for rnd in range(rounds if to_fix else 0):
    kr = jax.random.fold_in(key, rnd)
    infl = np.asarray(measure(mem.params, fixed, vals, anchor_AxN, kr)[0])
    # Ties (e.g. no influence anywhere) broken at random, not towards the left.
    jitter = np.asarray(jax.random.uniform(jax.random.fold_in(kr, 1), (n,))) * 1e-6
    order = np.argsort(-(np.where(fixed, -np.inf, infl) + jitter))
    cand = order[:r].astype(np.int32)
    best = np.asarray(choose(mem.params, fixed, vals, anchor_AxN, cand, jax.random.fold_in(kr, 2)))
    take = min(r, to_fix - done)
    fixed[cand[:take]] = True
    vals[cand[:take]] = best[:take]
    done += take
    if done >= to_fix:
      break
  greedy_infl = np.asarray(measure(mem.params, fixed, vals, anchor_AxN, final_key)[0])
  candidates = [("greedy", count(greedy_infl, fixed), fixed, vals)]
  greedy_mean = float(np.mean(greedy_infl[~fixed])) if (~fixed).any() else 0.0

  # Random restrictions of the same size: even ones copy a member's values, odd uniform.
  rand_counts = []
  for t in range(cfg.random_restrictions):
    kt = jax.random.fold_in(key, 20_000 + t)
    k1, k2 = jax.random.split(kt)
    fx = np.zeros(n, bool)
    fx[np.asarray(jax.random.permutation(k1, n))[:to_fix]] = True
    if t % 2 == 0:
      vl = np.asarray(anchor_AxN[t % anchor_AxN.shape[0]], np.int32)
    else:
      vl = np.asarray(jax.random.randint(k2, (n,), 0, lang.n_symbols, jnp.int32))
    c = model_count(fx, vl)
    rand_counts.append(c)
    candidates.append(("random", c, fx, vl))

  wb = None
  if white_box_applies(mem, task):
    wb = white_box(mem, lang, n, cfg, anchor_AxN, jax.random.fold_in(key, 40_000))
    candidates.insert(0, ("white_box", model_count(wb["fixed"], wb["vals"]), wb["fixed"],
                          wb["vals"]))

  source, best, fixed, vals = min(candidates, key=lambda c: c[1])  # first of equals wins
  model_rate, lang_rate, wrong_K, target_K, z_KxN = jax.device_get(
      measure(mem.params, fixed, vals, anchor_AxN, final_key))
  lang_count = count(lang_rate, fixed)
  wrong_K = np.asarray(wrong_K)
  u = cfg.completions // 2
  error = float(np.mean(wrong_K))
  witness = (lang.decode(np.asarray(z_KxN)[int(np.argmax(wrong_K))]) if wrong_K.any() else None)
  out = {"n": n, "free": int(np.sum(~fixed)), "influential": best,
         "language_influential": lang_count, "subcube_error": error,
         "subcube_error_uniform": float(np.mean(wrong_K[:u])),
         "subcube_error_planted": float(np.mean(wrong_K[u:])),
         "members_in_subcube": (int(np.sum(np.asarray(target_K) == 1))
                                if task == "recognition" and not hasattr(lang, "classify") else None),
         "classes_in_subcube": int(len(np.unique(np.asarray(target_K)))),
         "completions": cfg.completions,
         "planted": bool(planted),
         "verdict": verdict(best, lang_count, error, cfg.few), "witness": witness,
         "restriction": _pattern_string(lang, fixed, vals), "restriction_source": source,
         "greedy_influential": candidates[1 if wb else 0][1],
         "random_influential_min": min(rand_counts) if rand_counts else None,
         "random_influential_mean": float(np.mean(rand_counts)) if rand_counts else None,
         "greedy_mean_influence": greedy_mean,
         "influential_fraction": best / max(int(np.sum(~fixed)), 1)}
  if wb is not None:
    out.update(white_box_committed=wb["committed"], white_box_fixed=int(wb["fixed"].sum()),
               white_box_cone_free=wb["cone_free"], white_box_rounds=wb["rounds"],
               white_box_influential=candidates[0][1],
               white_box_restriction=_pattern_string(lang, wb["fixed"], wb["vals"]))
  return out


def run(setup: setup_lib.Setup, params_M: Any, cfg: Config) -> dict[str, Any]:
  """Theorem 1's restriction search for every member, over a log-spaced grid of n."""
  cfg = cfg.validate()
  lang, task = setup.language, setup.task
  grid = common.log_grid(cfg.min_length, cfg.max_length, cfg.points)
  out = []
  for mem in members_lib.members(setup, params_M, common.parse_members(cfg.members)):
    per_n = [search(mem, lang, task, n, cfg) for n in grid]
    fit = common.loglog_slope([r["n"] for r in per_n], [r["influential"] for r in per_n])
    verdicts = [r["verdict"] for r in per_n]
    out.append({**mem.describe(), "per_n": per_n, "influential_slope": fit["slope"],
                "max_influential": max(r["influential"] for r in per_n),
                "verdicts": {v: verdicts.count(v) for v in VERDICTS},
                "theorem_applies": mem.cfg.kind == "transformer"
                and mem.cfg.attention == "hard_unique"})
  return {"probe": "restriction", "config": dataclasses.asdict(cfg), "lengths": list(grid),
          "language": lang.name, "members": out}
