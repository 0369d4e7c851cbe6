"""Every experiment of the paper's claims, run end to end into one `report.md`.

`run(scale, workdir, log)` trains the small configs it needs (`experiment.run`, one
population per language and attention kind), writes the constructions (`construct`),
runs the probes (`limits.probes`) and writes `workdir/report.md`: each claim next to
what was measured, with tables and relative links to the figures. An experiment that
fails is reported as failed (with its error) and the rest still run.

  1. Lemma 5: slope of the one-symbol change of y_n^(L) against n (random soft model
     without layer norm, with a final layer norm at eps = 0, log-n scaled attention;
     Chiang & Cholak's constructions without and with layer norm).
  2. Chiang & Cholak's exact PARITY: accuracy and cross-entropy against n, +- layer norm.
  3. Theorem 6 in the paper's form: the unmasked soft transformer (re-reading every
     prefix) and an LSTM, each trained and evaluated at each n (protocol `hahn`), on
     PARITY and 2DYCK next-symbol prediction: excess over optimal and distance to chance;
     causal decoders as a labelled extra.
  4. Theorem 1: influential free positions against n for trained UHAT/AHAT/soft/LSTM
     PARITY recognisers and the UHAT constructions (1*, a^n b^n, Dyck-(2,3)).
  5. Depth x heads sweep: which sizes fit PARITY, 2DYCK, (aa)*, Dyck-(2,2) (prediction)
     at each training length.

Scales: `smoke` (about a minute: the test suite runs it), `small` (about 50 min on a
busy 2-core CPU, 36 of them Theorem 6 in the paper's form), `paper` (accelerator).

  scales         the scale table `SCALES` and `_config`, a small experiment's ConfigDict
  report         `Report`: report.md's sections and claims table, report.html beside it
  common         training, constructions, labelling, merging and saving probe results
  sensitivity    section 1, Lemma 5
  chiang_cholak  section 2, Chiang & Cholak's exact PARITY
  cross_entropy  section 3, Theorem 6 (and the causal extra)
  restriction    section 4, Theorem 1
  sizes          section 5, the depth x heads sweep
  claims         the claims table's verdict rules
  html           the self-contained report.html
"""

from __future__ import annotations

import os
import time
import traceback
from typing import Callable

import jax

# The sections' functions (and their helpers) are read from here as before: launch, tests.
from limits.reproduce.chiang_cholak import _cc_claims, _margin, cc_parity
from limits.reproduce.common import _construction, _label, _merge, _save, _train
from limits.reproduce.cross_entropy import (_t6_hahn, _theorem6_causal_extra, _theorem6_claims,
                                            theorem6)
from limits.reproduce.report import Report
from limits.reproduce.restriction import _theorem1_claims, theorem1
from limits.reproduce.scales import SCALES, _config
from limits.reproduce.sensitivity import _lemma5_claims, lemma5
from limits.reproduce.sizes import sweep

EXPERIMENTS: dict[str, Callable] = {"lemma5": lemma5, "cc_parity": cc_parity,
                                    "theorem6": theorem6, "theorem1": theorem1, "sweep": sweep}


def run(scale: str, workdir: str, log: Callable[[str], None] = print,
        only: tuple[str, ...] = ()) -> str:
  """Runs every experiment (or `only` those) at `scale`; returns the report's path."""
  if scale not in SCALES:
    raise ValueError(f"--scale: unknown scale {scale!r}; allowed: {', '.join(SCALES)}")
  for name in only:
    if name not in EXPERIMENTS:
      raise ValueError(f"--only: unknown experiment {name!r}; allowed: {', '.join(EXPERIMENTS)}")
  s = SCALES[scale]
  os.makedirs(workdir, exist_ok=True)
  rep = Report(workdir, scale)
  rep.add(f"JAX {jax.__version__}, {jax.device_count()} {jax.devices()[0].platform} device(s). "
          "Every number below was measured by this run; the data are in the JSON files next "
          "to each figure.", "")
  t0 = time.perf_counter()
  for name, fn in EXPERIMENTS.items():
    if only and name not in only:
      continue
    t = time.perf_counter()
    log(f"{name} ...")
    try:
      fn(s, workdir, rep, log)
    except Exception as e:  # one failed experiment is reported, the others still run
      rep.add(f"**Failed** ({type(e).__name__}: {e}).", "", "```",
              traceback.format_exc(limit=3).strip(), "```", "")
      log(f"{name} failed: {type(e).__name__}: {e}")
    rep.add(f"_({name}: {time.perf_counter() - t:.0f} s)_", "")
    rep.write()
  rep.add(f"Total: {(time.perf_counter() - t0) / 60:.1f} min.")
  return rep.write()
