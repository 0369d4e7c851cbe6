"""Section 5, the depth x heads sweep: which sizes fit PARITY, 2DYCK, (aa)* and Dyck-(2,2)
(next-symbol prediction) at each training length."""

from __future__ import annotations

import os

from limits import experiment, population
from limits import config as config_lib
from limits.reproduce.report import Report
from limits.reproduce.scales import _config


def sweep(s: dict, wd: str, rep: Report, log) -> None:
  rep.add("## 5. Depth x heads: which sizes fit", "",
          "**Question.** At each training length, which depth and head counts fit PARITY, "
          "2DYCK, (aa)* and Dyck-(2,2) (next-symbol prediction; fit = mean accuracy >= 0.9 "
          "at the training lengths, every position's allowed set right)? Soft attention "
          "needs growing size for PARITY/2DYCK if Theorem 6 bites.", "")
  rows = []
  for lang in s.get("sweep_languages", ("parity", "dyck:k=2", "aa_star",
                                         "dyck_bounded:k=2,depth=2")):
    cfg = _config(lang, "prediction", s)
    even = lang.startswith(("dyck", "aa_star"))
    sets = [f"2-{n}:2" if even else f"1-{n}" for n in s["sweep_lengths"]]
    cfg.sweep.update(depths=s["sweep_depths"], heads=s["sweep_heads"], train_lengths=";".join(sets))
    cfg.train.steps = s["sweep_steps"]
    cfg.data.eval_lengths = ",".join(sets)
    tag = lang.replace(":", "_").replace(",", "_").replace("=", "")
    exp = config_lib.validate(cfg)
    result_rows = experiment.run(exp, os.path.join(wd, "runs", f"sweep_{tag}"), log=lambda x: None)
    log(f"  trained sweep {lang}")
    fits: dict[str, list[tuple[int, int, float]]] = {}
    by_member: dict[int, list] = {}
    for r in result_rows:
      lo, hi = population.train_bounds(r["train_length"])
      if lo <= r["length"] <= hi:
        by_member.setdefault(r["member"], []).append(r)
    for rs in by_member.values():
      acc = sum(r["accuracy"] for r in rs) / len(rs)
      fits.setdefault(rs[0]["train_length"], []).append((rs[0]["depth"], rs[0]["heads"], acc))
    for train, sizes in sorted(fits.items(), key=lambda kv: population.train_bounds(kv[0])[1]):
      ok = sorted((d * h, d, h) for d, h, a in sizes if a >= 0.9)
      grid = ", ".join(f"L{d}H{h}:{a:.2f}" for d, h, a in sorted(sizes))
      rows.append([lang, train, f"L{ok[0][1]} H{ok[0][2]}" if ok else "none", grid])
  rep.add("**Measured** (accuracy per depth L x heads H; smallest fitting size by L*H):", "")
  rep.table(["language", "train lengths", "smallest fit", "accuracy by size"], rows)
