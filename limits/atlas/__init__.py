"""The regular-language atlas: theory's verdict for many DFAs, tested by trained populations.

`run(value, scale, workdir)` resolves a set of languages (`resolve`), computes each one's
algebra (limits/languages/algebra/: minimal DFA, syntactic monoid, aperiodic /
quasi-aperiodic / C-RASP, average sensitivity, predictions with sources), trains one
population per model kind (soft transformer, UHAT transformer trained straight-through,
LSTM) in which member m learns languages[m] (sweep.languages x seeds, and depth x heads
at `paper` scale: one compiled program per kind and alphabet, limits/languages/mixed.py),
evaluates every member in distribution and beyond, and writes

  atlas.csv   one row per language x model kind: the algebra, the prediction, what was
              measured (in/out-of-distribution accuracy and cross-entropy, the share of
              seeds that generalise) and whether they agree (booleans true/false)
  atlas.md    per model kind the confusion of predicted against observed, and every
              disagreement with its DFA and witness
  plots/atlas_scatter.png  OOD accuracy against average sensitivity, coloured by class
  plots/atlas_grid.png     languages (grouped by class) x model kinds, OOD accuracy
  runs/<kind>_<group>/     each population's own experiment workdir (resumable)

Predictions compared (the rest are columns): soft -> C-RASP (length generalisation, Yang,
Veseli, ..., Hahn 2026; an exact characterisation); uhat -> quasi-aperiodic (AC0, Hao et
al. 2022: necessary only, so "predicted yes, observed no" does not contradict it); lstm ->
every regular language (expressivity; failing to learn does not contradict it). Observed
success: some seed reaches OOD accuracy >= SUCCESS (the best-seed criterion of Yang et al.
2026 §5.2) with in-distribution accuracy >= SUCCESS.

Modules: `entries` (language sets, scales, `resolve`), `report` (`measure`, the rows of
atlas.csv, atlas.md, figures); this one assembles each population's config and runs them.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import time
from typing import Any, Callable, Sequence

from limits import config as config_lib
from limits import atomic, experiment
from limits.atlas.entries import (BASIS, KINDS, NAMED_SETS, PREDICTION, SCALES, SETS,  # noqa: F401
                                   SUCCESS, Entry, Scale, resolve)
from limits.atlas.report import (CLASS_COLORS, COLUMNS, atlas_rows, figures,  # noqa: F401
                                  language_class, measure, write_report)


def _config(scale: Scale, kind: str, specs: Sequence[str]) -> config_lib.Experiment:
  c = config_lib.defaults()
  c.model.update(depth=max(scale.depths), heads=max(scale.heads), width=scale.width,
                 mlp_width=2 * scale.width, layer_norm="none", positional="sinusoidal",
                 **KINDS[kind])
  if kind == "lstm":
    c.model.update(depth=1, heads=1)
  train = config_lib.parse_lengths(scale.train, "train")
  ood = config_lib.parse_lengths(scale.ood, "ood")
  c.data.update(language=specs[0], task="recognition",
                train_lengths=",".join(map(str, train)),
                eval_lengths=",".join(map(str, train + ood)))
  c.train.update(steps=scale.steps, batch_size=scale.batch, learning_rate=scale.learning_rate,
                 warmup_steps=min(100, scale.steps // 10), checkpoint_every=max(scale.steps, 1),
                 log_every=max(1, scale.steps // 5), member_chunk=0)
  c.eval.update(batch_size=scale.eval_batch, bucket=16, group=8)
  c.sweep.update(languages=";".join(specs), seeds=",".join(map(str, scale.seeds)))
  if kind != "lstm" and (len(scale.depths) > 1 or len(scale.heads) > 1):
    c.sweep.update(depths=",".join(map(str, scale.depths)),
                   heads=",".join(map(str, scale.heads)))
  return config_lib.validate(c)


def run(value: str | None, scale_name: str, workdir: str, kinds: Sequence[str] | None = None,
        log: Callable[[str], None] = print) -> list[dict[str, Any]]:
  """The whole atlas (module docstring); returns the atlas.csv rows."""
  if scale_name not in SCALES:
    raise ValueError(f"--scale: unknown scale {scale_name!r}; allowed: {', '.join(SCALES)}")
  scale = SCALES[scale_name]
  kinds = tuple(kinds or scale.kinds)
  bad = [k for k in kinds if k not in KINDS]
  if bad:
    raise ValueError(f"--kinds: unknown model kind {bad[0]!r}; allowed: {', '.join(KINDS)}")
  value = value or scale.languages
  train = config_lib.parse_lengths(scale.train, "train")
  t0 = time.perf_counter()
  entries = resolve(value, workdir, train)
  t_alg = time.perf_counter() - t0
  log(f"atlas: {len(entries)} languages ({sum(e.trainable for e in entries)} trainable), "
      f"algebra in {t_alg:.1f} s")
  groups: dict[tuple, list[Entry]] = {}
  for e in entries:
    if e.trainable:
      groups.setdefault(e.alphabet, []).append(e)
  measured: dict[str, dict[str, dict]] = {}
  timings = []
  for kind in kinds:
    for gi, (alphabet, es) in enumerate(groups.items()):
      specs = list(dict.fromkeys(e.train_spec for e in es))
      exp = _config(scale, kind, specs)
      rundir = os.path.join(workdir, "runs", f"{kind}_{gi}")
      log(f"atlas: {kind} on {len(specs)} languages over {''.join(alphabet)} "
          f"({len(exp.members)} members) -> {rundir}")
      t = time.perf_counter()
      rows = experiment.run(exp, rundir, log=log)
      timings.append((kind, "".join(alphabet), len(exp.members), time.perf_counter() - t))
      measured.setdefault(kind, {}).update(measure(rows, max(train)))
  rows = atlas_rows(entries, measured, kinds)
  os.makedirs(workdir, exist_ok=True)
  with atomic.atomic_path(os.path.join(workdir, "atlas.csv")) as tmp:
    with open(tmp, "w", newline="") as f:
      w = csv.DictWriter(f, fieldnames=COLUMNS)
      w.writeheader()
      w.writerows(rows)
  total = time.perf_counter() - t0
  header = [f"Scale `{scale_name}` ({dataclasses.asdict(scale)}), languages `{value}`: "
            f"{len(entries)} languages, {sum(e.trainable for e in entries)} trained.",
            f"Wall time {total:.0f} s (algebra {t_alg:.1f} s); populations: " +
            "; ".join(f"{k} over {a}: {m} members, {s:.0f} s" for k, a, m, s in timings)]
  write_report(os.path.join(workdir, "atlas.md"), rows, entries, header)
  figures(rows, os.path.join(workdir, "plots"))
  log(f"atlas: wrote {workdir}/atlas.csv, atlas.md, plots/ in {total:.0f} s")
  return rows


def estimate(value: str | None, scale_name: str, workdir: str,
             kinds: Sequence[str] | None = None, sample_languages: int = 4,
             steps: int = 5, log: Callable[[str], None] = print) -> dict[str, float]:
  """Expected training wall time of an atlas on this machine, from a measured step rate.

  Per model kind, a population of the first `sample_languages` trainable languages (all
  seeds and architectures of the scale) is compiled and timed over `steps` steps; the
  full population's time is its member count / the measured member-steps per second x
  `scale.steps` (member steps cost the same whatever the language: the tables only
  change which rows are gathered). Evaluation is not included. Returns seconds per kind.
  """
  import jax
  from limits import setup as setup_lib
  from limits import train as train_lib
  scale = SCALES[scale_name]
  kinds = tuple(kinds or scale.kinds)
  entries = [e for e in resolve(value or scale.languages, workdir,
                                config_lib.parse_lengths(scale.train, "train"))
             if e.trainable]
  groups: dict[tuple, list[Entry]] = {}
  for e in entries:
    groups.setdefault(e.alphabet, []).append(e)
  out = {}
  for kind in kinds:
    total_s = 0.0
    for es in groups.values():
      specs = list(dict.fromkeys(e.train_spec for e in es))
      full = len(_config(scale, kind, specs[:1]).members) * len(specs)
      exp = _config(scale, kind, specs[:sample_languages])
      setup = setup_lib.make_setup(exp)
      state = setup_lib.init_state(setup)
      step = jax.jit(train_lib.make_train_step(setup), donate_argnums=0)
      keys = setup_lib.member_keys(setup)[1]
      state, m = step(state, keys)
      jax.block_until_ready(m)
      t = time.perf_counter()
      for _ in range(steps):
        state, m = step(state, keys)
      jax.block_until_ready(m)
      rate = steps * len(setup.members) / (time.perf_counter() - t)
      total_s += full * scale.steps / rate
      log(f"estimate: {kind}: {rate:.1f} member-steps/s measured on {len(setup.members)} "
          f"members ({jax.devices()[0].device_kind}); {full} members x {scale.steps} steps")
    out[kind] = total_s
  log(f"estimate: training {sum(out.values()) / 3600:.2f} h in all (" +
      ", ".join(f"{k} {v / 3600:.2f} h" for k, v in out.items()) + "), evaluation not included")
  return out
