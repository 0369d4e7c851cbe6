"""Lemma 5 (Hahn 2020): how far y_n^(L) moves when one input symbol changes.

For random strings x of length n (uniform over the alphabet) and positions i before the
readout (recognition reads EOS, so every x_i; prediction reads x_n itself, so i < n: the
readout and what follows it never change, `flippable`), x' is x with x_i replaced by a
different random symbol; the probe measures ||y_n^(L)(x) - y_n^(L)(x')|| (mean and max
over strings and positions) over a log-spaced grid of n and reports

- the log-log slope of the mean change against n with its 95% CI;
- n * mean change and the trend of its log-log slope (`n_change_trend`);
- the lemma's bound (below) and its tightness, bound / measured max change.

How to read them: Lemma 5 says change <= c / n with c depending on the model (H, L, A,
the weights), not that the slope is <= -1 at finite n. A slope near -1 and a flat or
falling n * change are what the lemma's regime looks like; a slope above -1 (n * change
still rising) at these n is not a contradiction; only a measured change above the bound
would be. The bound is loose by orders of magnitude on random models (`tightness`): it is
a worst case over inputs and weight directions. The bound, from the weights and the
measured attention logits:

  ||y_n^(L)(x) - y_n^(L)(x')|| <= H^L C^{2L} D / n,   C = 2 (1 + e^{2A} + Lip(f_act)),

with n the number of positions (symbols + EOS), H heads, L layers, D = the largest
embedding change max_{a != b} ||E_a - E_b||, A the largest |attention logit| measured on
every evaluated string (x and x'; softmax inputs, temperature and log-n scaling
included), and every attention weight at most e^{2A}/(n-1).

Lip(f_act) for this codebase's layer (the paper folds value/output projections and the
logits' dependence on the input into f_act; we make them explicit). Per layer k:
  F_k = 1 + ||W_2|| ||W_1||                                  (FFN with its residual)
  G_h = 2 e^{2A} s (R_K ||W_Q^h|| + R_Q ||W_K^h||) / sqrt(K)  (softmax weights' L1 change)
  alpha_k = e^{2A} max_h ||W_O^h|| (||W_V^h|| + R_V G_h)      (one head's output change)
with ||.|| spectral norms, R_Q, R_K, R_V the largest measured query/key/value norms per
head and s the logit scale (temperature, times log n for `scaled`). Induction over layers
(position i moves by <= B_k, every other position by <= B_k / n) gives
  B_{k+1} = 2 F_k (1 + H alpha_k) B_k,  B_0 = D,  change <= B_L / n  (`bound_recursive`),
and with Lip(f_act) = max_k max(F_k, alpha_k), 2 F_k (1 + H alpha_k) <= H C^2, so the
paper's form (`bound`) is larger still. Layer norm with eps > 0 multiplies by its
Lipschitz constant max|scale| / sqrt(eps) where it sits; eps = 0 has none (Chiang &
Cholak's escape: bound = inf). Hard attention is not Lipschitz, and causal or head
masks break e^{2A}/(n-1): there the change is measured but no bound is claimed.

Letters: S strings, P positions per string, L layers, H heads, D width.
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


@dataclasses.dataclass(frozen=True)
class Config:
  min_length: int = 16
  max_length: int = 4096
  points: int = 9           # log-spaced lengths from min_length to max_length
  strings: int = 4          # random strings x per length
  positions: int = 8        # positions i < n changed per string
  chunk: int = 128          # attention query chunk (memory O(chunk * n))
  batch: int = 8            # strings through the forward at once
  seed: int = 0
  members: str = ""         # '' = every member, or '0,2'

  def validate(self) -> "Config":
    common.check_fields(self, "sensitivity")
    common.log_grid(self.min_length, self.max_length, self.points)
    common.parse_members(self.members)
    return self


def flippable(task: str, n: int) -> int:
  """How many leading symbols may change: Lemma 5's i < n excludes the readout position
  and everything at or after it. Recognition reads EOS (after x_n): all n symbols;
  prediction reads x_n itself (BOS x_1..x_n, the prediction of what follows): n - 1."""
  return n if task == "recognition" else n - 1


def _inputs(lang, task: str, key: jax.Array, n: int, s: int, p: int):
  """Tokens of S strings followed by their S*P one-symbol changes, and the mapping."""
  v = lang.n_symbols
  k_sym, k_pos, k_new = jax.random.split(key, 3)
  sym_SxN = jax.random.randint(k_sym, (s, n), 0, v, jnp.int32)
  m = flippable(task, n)
  p = min(p, m)
  pos_SxP = jnp.argsort(jax.random.uniform(k_pos, (s, m)), axis=1)[:, :p]
  old = jnp.take_along_axis(sym_SxN, pos_SxP, 1)
  new_SxP = (old + jax.random.randint(k_new, (s, p), 1, v)) % v
  pert = jnp.repeat(sym_SxN[:, None, :], p, 1)
  hit = jnp.arange(n)[None, None, :] == pos_SxP[..., None]
  pert = jnp.where(hit, new_SxP[..., None], pert).reshape(s * p, n)
  tokens, readout, _ = members_lib.task_tokens(lang, task, jnp.concatenate([sym_SxN, pert]))
  return tokens, readout, p


def measure(mem: members_lib.Member, lang, task: str, n: int, cfg: Config) -> dict[str, Any]:
  """Changes at length n (float[S*P]) and the attention statistics (max over strings)."""
  key = jax.random.fold_in(jax.random.key(cfg.seed), n)

  @jax.jit
  def run(params):
    tokens, readout, p = _inputs(lang, task, key, n, cfg.strings, cfg.positions)
    if mem.is_transformer:
      y_BxD, st = members_lib.readout_features(mem, params, tokens, cfg.chunk, cfg.batch)
      st = {k: jnp.max(v, 0) for k, v in st.items() if k != "entropy_sum"}
    else:  # no attention: the change of the output logits (LSTM)
      out = mem.module.apply(params, tokens, readout)
      y_BxD = out if task == "recognition" else out[jnp.arange(out.shape[0]), readout]
      st = {}
    y0 = jnp.repeat(y_BxD[:cfg.strings], p, 0)
    return jnp.linalg.norm(y_BxD[cfg.strings:] - y0, axis=-1), st

  change, st = jax.device_get(run(mem.params))
  return {"change": np.asarray(change, np.float64), "stats": st}


def _spec(w: np.ndarray) -> float:
  return float(np.linalg.norm(np.asarray(w, np.float64), 2))


def _ln_lip(p: dict | None, eps: float) -> float:
  if p is None:
    return 1.0
  return float(np.max(np.abs(p["scale"]))) / math.sqrt(eps) if eps > 0 else math.inf


def bound_applies(cfg, task: str) -> tuple[bool, str]:
  """Whether Lemma 5's bound holds for this model, and why not if it does not."""
  if cfg.kind != "transformer":
    return False, "no attention (LSTM): the change is that of the output logits"
  if cfg.attention not in ("soft", "scaled") or cfg.saturate:
    return False, f"{cfg.attention} attention is not Lipschitz (Lemma 5 is for soft attention)"
  if any(m != "all" for m in cfg.head_masks) or (task == "prediction" and cfg.causal):
    return False, "masked attention: a query with few keys escapes e^{2A}/(n-1)"
  if cfg.layer_norm != "none" and cfg.ln_eps == 0:
    return False, "layer norm with eps = 0 is not Lipschitz (Chiang & Cholak's escape)"
  return True, ""


def constants(mem: members_lib.Member, lang, stats: dict[str, np.ndarray],
              max_tokens: int) -> dict[str, Any]:
  """A, D, Lip(f_act), C and the per-layer factors of the bound, from weights and stats.

  `stats` holds the max over every evaluated string of the forward's statistics
  (float[L, H] each); `max_tokens` the largest n (positions) evaluated.
  """
  c = mem.cfg
  p = mem.params["params"]
  stats = {k: np.asarray(v, np.float64) for k, v in stats.items()}  # float32 overflows at large A
  emb = np.asarray(p["embed"]["embedding"], np.float64)[:lang.n_symbols]
  d = max((float(np.linalg.norm(emb[a] - emb[b])) for a in range(len(emb))
           for b in range(len(emb)) if a != b), default=0.0)
  a = float(np.max(stats["max_logit"]))
  e2a = math.exp(min(2 * a, 700.0))
  scale = c.temperature * (math.log(max_tokens) if c.attention == "scaled" else 1.0)
  factors, lips = [], []
  for l in range(c.depth):
    blk = p[f"layer_{l}"]
    att = blk["attention"]
    k_dim = att["query"]["kernel"].shape[-1]
    pre = c.layer_norm == "pre"
    post = c.layer_norm == "post"
    lam0 = _ln_lip(blk.get("ln_att"), c.ln_eps) if pre else 1.0
    lam0f = _ln_lip(blk.get("ln_ffn"), c.ln_eps) if pre else 1.0
    lam1 = _ln_lip(blk.get("ln_att"), c.ln_eps) if post else 1.0
    lam2 = _ln_lip(blk.get("ln_ffn"), c.ln_eps) if post else 1.0
    alpha = 0.0
    for h in range(c.heads):
      wq, wk, wv = (np.asarray(att[n]["kernel"])[:, h] for n in ("query", "key", "value"))
      wo = np.asarray(att["out"]["kernel"])[h]
      g = 2 * e2a * scale * (stats["k_norm"][l, h] * _spec(wq) + stats["q_norm"][l, h] * _spec(wk)) \
          / math.sqrt(k_dim)
      alpha = max(alpha, e2a * _spec(wo) * (_spec(wv) + stats["v_norm"][l, h] * g))
    ffn = 1.0 + _spec(blk["ffn_out"]["kernel"]) * _spec(blk["ffn_in"]["kernel"]) * lam0f
    p_att = lam1 * (1.0 + c.heads * alpha * lam0)
    p_ffn = lam2 * ffn
    factors.append(2.0 * p_att * p_ffn)
    lips.append(max(p_ffn, lam1, lam1 * alpha * lam0))
  final = _ln_lip(p.get("final_ln"), c.ln_eps) if c.layer_norm in ("pre", "final") else 1.0
  lip = max(lips) if lips else 1.0
  big_c = 2.0 * (1.0 + e2a + lip)
  with np.errstate(over="ignore"):
    paper = float(c.heads) ** c.depth * big_c ** (2 * c.depth) * d * final
    recursive = d * float(np.prod(factors)) * final
  return {"A": a, "D": d, "lip_f_act": float(lip), "C": float(big_c),
          "layer_factors": [float(f) for f in factors], "final_ln_lip": float(final),
          "numerator_paper": float(paper), "numerator_recursive": float(recursive)}


def trend(fit: dict[str, Any]) -> str | None:
  """'falling' / 'flat' / 'rising' from a fit's 95% CI (None without one).

  Applied to n * change: 'flat' or 'falling' is what change = O(1/n) looks like; 'rising'
  at finite n does not contradict Lemma 5 (it bounds n * change by a constant, which may
  not be reached yet), it only says the 1/n regime is not visible at these lengths.
  """
  ci = fit.get("slope_ci")
  if not ci:
    return None
  return "falling" if ci[1] < 0 else "rising" if ci[0] > 0 else "flat"


def run(setup: setup_lib.Setup, params_M: Any, cfg: Config) -> dict[str, Any]:
  """Lemma 5 for every member: changes, slope with 95% CI, max weights, bounds."""
  cfg = cfg.validate()
  lang, task = setup.language, setup.task
  if lang.n_symbols < 2:
    raise ValueError(f"data.language: {lang.name} has one symbol; nothing to substitute")
  grid = common.log_grid(cfg.min_length, cfg.max_length, cfg.points)
  out = []
  for mem in members_lib.members(setup, params_M, common.parse_members(cfg.members)):
    per_n, stats_all = [], []
    for n in grid:
      r = measure(mem, lang, task, n, cfg)
      ch = r["change"]
      row = {"n": n, "tokens": n + 1, "mean_change": float(ch.mean()), "max_change": float(ch.max()),
             "min_change": float(ch.min())}
      if r["stats"]:
        st = r["stats"]
        row.update(A_n=float(np.max(st["max_logit"])), max_weight=float(np.max(st["max_weight"])))
        stats_all.append(st)
      per_n.append(row)
    for row in per_n:  # Lemma 5: change <= c / n, so n * change stays bounded
      row["n_times_mean_change"] = row["tokens"] * row["mean_change"]
    fit = common.loglog_slope([r["n"] for r in per_n], [r["mean_change"] for r in per_n])
    fit_max = common.loglog_slope([r["n"] for r in per_n], [r["max_change"] for r in per_n])
    fit_nc = common.loglog_slope([r["tokens"] for r in per_n],
                                 [r["n_times_mean_change"] for r in per_n])
    applies, note = bound_applies(mem.cfg, task)
    res = {**mem.describe(), "slope": fit["slope"], "slope_ci": fit["slope_ci"],
           "slope_max": fit_max["slope"], "slope_max_ci": fit_max["slope_ci"],
           "n_change_slope": fit_nc["slope"], "n_change_slope_ci": fit_nc["slope_ci"],
           "n_change_trend": trend(fit_nc),
           "bound_applies": applies, "bound_note": note,
           "measured": "y_n^(L)" if mem.is_transformer else "output logits"}
    if stats_all:
      st = {k: np.max(np.stack([s[k] for s in stats_all]), 0) for k in stats_all[0]}
      k = constants(mem, lang, st, max(grid) + 1)
      res.update({key: k[key] for key in ("A", "D", "lip_f_act", "C", "layer_factors",
                                          "final_ln_lip")})
      for row in per_n:
        big_n = row["tokens"]  # the paper's n counts every position, EOS included
        row["weight_bound"] = math.exp(min(2 * k["A"], 700.0)) / (big_n - 1)
        row["bound"] = k["numerator_paper"] / big_n if applies else None
        row["bound_recursive"] = k["numerator_recursive"] / big_n if applies else None
        if applies and row["max_change"] > 0:  # how loose the bound is: >= 1 when it holds
          row["tightness"] = row["bound_recursive"] / row["max_change"]
          row["tightness_paper"] = row["bound"] / row["max_change"]
    res["per_n"] = per_n
    ratios = [r["tightness"] for r in per_n if r.get("tightness") is not None]
    if ratios:
      res["tightness_min"], res["tightness_max"] = float(min(ratios)), float(max(ratios))
    if applies and stats_all:
      res["bound_holds"] = all(r["max_change"] <= r["bound_recursive"] <= r["bound"] or
                               (r["max_change"] <= r["bound"] and math.isinf(r["bound"]))
                               for r in per_n)
      res["weight_bound_holds"] = all(r["max_weight"] <= r["weight_bound"] * (1 + 1e-5)
                                      for r in per_n)
    out.append(res)
  return {"probe": "sensitivity", "config": dataclasses.asdict(cfg), "lengths": list(grid),
          "members": out}
