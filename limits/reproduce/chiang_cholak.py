"""Section 2, Chiang & Cholak's exact PARITY transformer: accuracy and cross-entropy against
n without and with a final layer norm at eps = 0, and its claims rows."""

from __future__ import annotations

import math
import os

from limits import probes
from limits.reproduce import claims as claims_lib
from limits.reproduce.common import _construction, _label, _merge, _save
from limits.reproduce.report import Report


def cc_parity(s: dict, wd: str, rep: Report, log) -> None:
  rep.add("## 2. Chiang & Cholak's exact PARITY transformer", "",
          "**Claim.** A 2-layer soft transformer recognises PARITY exactly at every n, but "
          "its logit is +-1/(n+1)^2, so the cross-entropy tends to 1 bit (chance); a final "
          "layer norm at eps = 0 restores constant confidence.", "")
  fields = dict(min_length=2, max_length=s["cc_max"], points=6, strings=64)
  runs = []
  for name in ("cc_parity", "cc_parity_ln"):
    setup, params = _construction(name, os.path.join(wd, "constructions", name))
    runs.append(_label(probes.run("xent", setup, params, fields), name))
  res = _merge(runs)
  paths = _save(res, os.path.join(wd, "cc_parity"), "xent")
  rep.add("**Measured** (balanced members/non-members of each n):", "")
  rep.table(["n"] + [f"{m['label']} acc" for m in res["members"]] +
            [f"{m['label']} xent bits" for m in res["members"]],
            [[r["n"]] + [m["per_n"][i]["accuracy"] for m in res["members"]] +
             [m["per_n"][i]["xent_bits"] for m in res["members"]]
             for i, r in enumerate(res["members"][0]["per_n"])])
  rep.figure(paths[0], "C&C PARITY")
  _cc_claims(res, rep)


def _margin(xent_bits: float) -> float:
  """Logit margin m of a classifier right on a string: xent = log2(1 + e^-m) bits."""
  return -math.log(max(2.0 ** xent_bits - 1.0, 1e-300))


def _cc_claims(res: dict, rep: Report) -> None:
  by = {m["label"]: m["per_n"] for m in res["members"]}
  k = res["config"]["strings"]
  src = "Chiang & Cholak 2022 (exact PARITY; layer norm at eps = 0)"
  for name, rows in by.items():
    n = [r["n"] for r in rows]
    span = f"n = {n[0]}..{n[-1]}, {len(n)} lengths"
    acc = sum(r["accuracy"] for r in rows) / len(rows)
    number = claims_lib.proportion_claim(acc, k * len(rows), 1.0 - 1e-9, below=False, what="accuracy")
    if len(rows) < claims_lib.MIN_POINTS:
      number = (number[0], claims_lib.not_tested(f"{len(rows)} length(s)"))
    elif acc < 1.0:
      number = (number[0], claims_lib.CONTRADICTS)
    else:
      number = (number[0], claims_lib.SUPPORTS)
    rep.claim("the construction recognises PARITY exactly at every n", src,
              f"{name}: accuracy on {k} balanced strings per n, {span}", number)
    margins = [_margin(r["xent_bits"]) for r in rows]
    if name.endswith("_ln"):
      rep.claim("with a final layer norm at eps = 0 the confidence (logit margin) is constant in n",
                src, f"{name}: margin from the cross-entropy against n, {span}",
                claims_lib.slope_claim(n, margins, target=0.0))
    else:
      rep.claim("without layer norm the confidence (logit margin) falls as 1/n^2", src,
                f"{name}: margin from the cross-entropy against n + 1 (its logits are "
                f"+-1/(n+1)^2), {span}",
                claims_lib.slope_claim([x + 1 for x in n], margins, target=-2.0))
