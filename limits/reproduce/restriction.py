"""Section 4, Theorem 1: influential free positions after a restriction, against n, for the
UHAT constructions, trained PARITY recognisers and the constant control, and its claims rows."""

from __future__ import annotations

import os

import jax

from limits import probes
from limits import config as config_lib
from limits import setup as setup_lib
from limits.reproduce import claims as claims_lib
from limits.reproduce.common import _construction, _label, _merge, _save, _train
from limits.reproduce.report import Report
from limits.reproduce.scales import _config


def theorem1(s: dict, wd: str, rep: Report, log) -> None:
  rep.add("## 4. Theorem 1: hard attention depends on few inputs after a restriction", "",
          "**Claim.** For a UHAT transformer and C in (0, 1) some restriction fixing at most "
          "(1-C) n inputs leaves the output depending on at most c free inputs, c independent "
          "of n. Where the language's restricted function still depends on more free inputs "
          "than the model's (PARITY: all of them, under every restriction), the model must err "
          "on part of the subcube (`obstruction`); where the language's restricted function is "
          "nearly constant and the model matches it, Theorem 1 gives no obstruction "
          "(`no_obstruction`: 1*, a^n b^n, bounded Dyck have UHAT recognisers, Hahn 2020 §5 and "
          "Yao et al. 2021). A correct recogniser that is no UHAT (the LSTM) is `inconclusive`, "
          "as is any model with every position free. A constant model is the control: on PARITY "
          "it must get `obstruction`, not the constructions' verdict.", "")
  fields = dict(min_length=8, max_length=s["restr_max"], points=s["restr_points"],
                completions=s["restr_k"], greedy_rounds=s["restr_rounds"], random_restrictions=2)
  runs = []
  for name, options in (("hard_one", {}), ("hard_anbn", {}), ("yao_dyck", dict(k=2, depth=3))):
    setup, params = _construction(name, os.path.join(wd, "constructions", name), **options)
    runs.append(_label(probes.run("restriction", setup, params, fields), f"UHAT construction {name}"))
  for att in s.get("t1_attentions", ("hard_unique", "hard_average", "soft")):
    cfg = _config("parity", "recognition", s, attention=att)
    setup, params = _train(cfg, os.path.join(wd, "runs", f"parity_recognition_{att}"), log)
    runs.append(_label(probes.run("restriction", setup, params, fields), f"trained {att} PARITY"))
  cfg = _config("parity", "recognition", s, kind="lstm", depth=1)
  setup, params = _train(cfg, os.path.join(wd, "runs", "parity_recognition_lstm"), log)
  runs.append(_label(probes.run("restriction", setup, params, fields), "trained LSTM PARITY"))
  # The control: every weight 0, so both logits are 0 and every string is rejected.
  cfg = _config("parity", "recognition", s, attention="hard_unique")
  setup = setup_lib.make_setup(config_lib.validate(cfg))
  zero = jax.tree.map(lambda x: x * 0, setup_lib.init_state(setup).params)
  runs.append(_label(probes.run("restriction", setup, zero, fields), "constant (reject all) PARITY"))
  res = _merge(runs)
  paths = _save(res, os.path.join(wd, "theorem1"), "restriction")
  rep.add(f"**Measured** (C = 0.5; the restriction with the fewest model-influential free "
          f"positions among greedy, random and, for hard attention, white-box restrictions; "
          f"{fields['completions']} completions per estimate, half planted members; counts "
          f"are lower bounds):", "")
  rep.table(["model", "n", "free", "influential model / language", "error on subcube",
             "members drawn", "verdict", "restriction from"],
            [[m["label"], r["n"], r["free"], f"{r['influential']} / {r['language_influential']}",
              r["subcube_error"], r.get("members_in_subcube"), r["verdict"],
              r["restriction_source"]]
             for m in res["members"] for r in m["per_n"]])
  rep.figure(paths[0], "Theorem 1")
  _theorem1_claims(res, s["steps"], rep)


def _theorem1_claims(res: dict, steps: int, rep: Report) -> None:
  """Theorem 1 on the UHAT constructions; Corollary 2 on a trained UHAT, with the
  constant model as the probe's control."""
  by = {m["label"]: m["per_n"] for m in res["members"]}
  few, k = res["config"].get("few", 2), res["config"]["completions"]
  ns = res["lengths"]
  span = f"n = {ns[0]}..{ns[-1]}, {len(ns)} length(s), C = 0.5"
  short = (claims_lib.not_tested(f"{len(ns)} length(s); 'c independent of n' needs "
                                 f"{claims_lib.MIN_POINTS}") if len(ns) < claims_lib.MIN_POINTS
           else None)
  built = {lab: rows for lab, rows in by.items() if lab.startswith("UHAT construction")}
  if built:
    top = {lab: rows[-1]["influential"] for lab, rows in built.items()}
    grew = [lab for lab, rows in built.items()
            if rows[-1]["influential"] > few and rows[-1]["influential"] > rows[0]["influential"]]
    verdict = (claims_lib.SUPPORTS if all(r["influential"] <= few for rows in built.values()
                                          for r in rows)
               else claims_lib.CONTRADICTS if grew else claims_lib.INCONCLUSIVE)
    rep.claim("after a restriction fixing <= (1-C) n inputs a UHAT's output depends on at most "
              "c inputs, c independent of n", "Hahn 2020, Theorem 1",
              f"UHAT constructions (1*, a^n b^n, Dyck-(2,3)): influential free positions "
              f"(lower bounds, {k} completions), {span}",
              ("influential at the largest n: " + ", ".join(
                  f"{lab.split()[-1]} {v}" for lab, v in top.items()) + f" (few = {few})",
               short or verdict))
  uhat = [lab for lab in by if lab.startswith("trained hard_unique")]
  control = by.get("constant (reject all) PARITY")
  for lab in uhat:
    rows = by[lab]
    err = rows[-1]["subcube_error"]
    number = claims_lib.proportion_claim(err, k, 0.0, below=False, what="subcube error")[0]
    if short or steps < claims_lib.MIN_STEPS:
      verdict = short or claims_lib.not_tested(f"{steps} training steps < {claims_lib.MIN_STEPS}")
    elif control and not all(r["verdict"] == "obstruction" for r in control):
      verdict = f"{claims_lib.INCONCLUSIVE} (the constant control was not `obstruction`)"
    elif all(r["verdict"] == "obstruction" for r in rows):
      verdict = claims_lib.SUPPORTS
    else:
      verdict = claims_lib.CONTRADICTS if err == 0 else claims_lib.INCONCLUSIVE
    rep.claim("a UHAT transformer cannot recognise PARITY: it errs on a restricted subcube",
              "Hahn 2020, Theorem 1 / Corollary 2",
              f"{lab}: error on the subcube of the restriction found, at the largest n; "
              f"{span}, {steps} steps", (number, verdict))
