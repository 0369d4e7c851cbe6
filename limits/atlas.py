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
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from typing import Any, Callable, Sequence

import ml_collections
import numpy as np

from limits import config as config_lib
from limits import atomic, experiment
from limits.languages import algebra, automaton, deletang
from limits import languages as languages_lib

SUCCESS = 0.9
NAMED_SETS = {
    "tomita": tuple(f"tomita{i}" for i in range(1, 8)),
    "deletang_regular": ("even_pairs", "parity_check", "cycle_navigation",
                         "modular_arithmetic"),
    "named": ("parity", "first", "one", "mod:m=3", "aa_star", "ab_star",
              *(f"tomita{i}" for i in range(1, 8))),
}
SETS = ("all_binary_2", "all_binary_3", *NAMED_SETS)
KINDS = {"soft": {"kind": "transformer", "attention": "soft"},
         "uhat": {"kind": "transformer", "attention": "hard_unique"},
         "lstm": {"kind": "lstm", "attention": "soft"}}
PREDICTION = {"soft": "soft_length_generalisation", "uhat": "uhat", "lstm": "lstm"}
BASIS = {"soft": "exact (C-RASP = length generalisation, Yang et al. 2026)",
         "uhat": "necessary (AC0 bound, Hao et al. 2022)",
         "lstm": "expressivity (every regular language)"}


@dataclasses.dataclass(frozen=True)
class Scale:
  width: int
  depths: tuple[int, ...]
  heads: tuple[int, ...]
  steps: int
  batch: int
  seeds: tuple[int, ...]
  train: str
  ood: str
  eval_batch: int
  learning_rate: float
  languages: str          # the default set
  kinds: tuple[str, ...]


SCALES = {
    # CI: seconds of training, 7 languages, one seed.
    "smoke": Scale(width=16, depths=(1,), heads=(2,), steps=30, batch=16, seeds=(0,),
                   train="1-8", ood="9-16", eval_batch=16, learning_rate=3e-3,
                   languages="tomita", kinds=("soft", "uhat", "lstm")),
    # The README's CPU atlas: all_binary_2 + Tomita, three seeds (measured there).
    "small": Scale(width=32, depths=(2,), heads=(2,), steps=1000, batch=32, seeds=(0, 1, 2),
                   train="1-16", ood="17-48", eval_batch=64, learning_rate=3e-3,
                   languages="all_binary_2+tomita", kinds=("soft", "uhat", "lstm")),
    # One accelerator: all_binary_3, depth x heads x 3 seeds, Delétang et al.'s lengths.
    "paper": Scale(width=64, depths=(1, 2), heads=(2, 4), steps=5000, batch=64,
                   seeds=(0, 1, 2), train="1-40", ood="41-100,110-500:10", eval_batch=128,
                   learning_rate=1e-3, languages="all_binary_3",
                   kinds=("soft", "uhat", "lstm")),
}


@dataclasses.dataclass
class Entry:
  """One language of the atlas: the spec as given, the spec trained, its verdict."""

  spec: str
  name: str
  train_spec: str
  verdict: algebra.Verdict
  alphabet: tuple[str, ...]
  trainable: bool
  reason: str = ""


def _specs(value: str) -> list[tuple[str, str, Any]]:
  """(spec, name, DFA or None) for a set expression `set+set+file`."""
  out = []
  for part in filter(None, (p.strip() for p in value.split("+"))):
    if part.startswith("all_binary_"):
      k = part.removeprefix("all_binary_")
      if k not in ("2", "3"):
        raise ValueError(f"--languages: unknown set {part!r}; allowed: {', '.join(SETS)} "
                         f"or a file of specs")
      for i, d in enumerate(algebra.enumerate_binary(int(k))):
        out.append((f"bin{k}_{i:03d}", f"bin{k}_{i:03d}", d))
    elif part in NAMED_SETS:
      out += [(s, s, None) for s in NAMED_SETS[part]]
    elif os.path.isfile(part):
      with open(part) as f:
        lines = [l.strip() for l in f]
      specs = [l for l in lines if l and not l.startswith("#")]
      if not specs:
        raise ValueError(f"--languages: file {part!r} lists no language spec")
      out += [(s, s, None) for s in specs]
    else:
      raise ValueError(f"--languages: {part!r} is neither a set ({', '.join(SETS)}) nor a "
                       f"file of specs")
  if not out:
    raise ValueError("--languages: no language given")
  return out


def _write_dfa(d: algebra.DFA, path: str) -> str:
  """Writes the DFA as a `dfa:path=` JSON file (unchanged files are left alone)."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  text = json.dumps(algebra.to_json(d), indent=1, sort_keys=True)
  if os.path.exists(path):
    with open(path) as f:
      if f.read() == text:
        return f"dfa:path={path}"
  with atomic.atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      f.write(text)
  return f"dfa:path={path}"


def _both_classes(lang, lengths: Sequence[int]) -> list[int]:
  """Training lengths at which the language has both members and non-members."""
  out = []
  for n in lengths:
    t = lang.np_tables(automaton.bucket(n))
    if np.isfinite(t.log_count[:, n, t.auto.start]).all():
      out.append(n)
  return out


def resolve(value: str, workdir: str, train_lengths: Sequence[int]) -> list[Entry]:
  """The atlas's languages: named sets (SETS), files of specs, joined by `+`.

  A language the library does not sample as a DFA (PARITY's own sampler, Delétang et
  al.'s classification tasks, the enumerated DFAs) is written to
  `workdir/dfas/NAME.json` and trained as `dfa:path=...`: a classification task as the
  language of its class 0, PARITY as its 2-state DFA. A language with no training
  length holding both members and non-members (Sigma*, the empty language, one decided
  by length alone) is kept with its algebra and not trained (`reason`).
  """
  entries = []
  for spec, name, d in _specs(value):
    if d is None:
      lang = languages_lib.make_language(spec)
      d = algebra.dfa_of(lang)
      if isinstance(lang, automaton.DFALanguage):
        train_spec = spec
      else:   # PARITY: output 1 = member; a classification task: class 0 = member
        binary = d.output == (0 if isinstance(lang, deletang.ClassificationTask) else 1)
        d = algebra.make_dfa(d.alphabet, d.delta, d.start, binary.astype(np.int64))
        safe = "".join(c if c.isalnum() else "_" for c in spec)
        train_spec = _write_dfa(algebra.minimize(d), os.path.join(workdir, "dfas", f"{safe}.json"))
    else:
      train_spec = _write_dfa(d, os.path.join(workdir, "dfas", f"{name}.json"))
    v = algebra.analyse(d, name=spec)
    lang = languages_lib.make_language(train_spec)
    ok = _both_classes(lang, train_lengths)
    reason = "" if ok else ("no training length has both members and non-members "
                            "(recognition is decided by the length alone)")
    entries.append(Entry(spec=spec, name=name, train_spec=train_spec, verdict=v,
                         alphabet=tuple(lang.alphabet), trainable=bool(ok), reason=reason))
  return entries


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


def _fmt(v: Any) -> Any:
  if isinstance(v, (bool, np.bool_)):
    return "true" if v else "false"
  if isinstance(v, float):
    return round(v, 4)
  return v


def measure(rows: Sequence[dict[str, Any]], max_train: int) -> dict[str, dict[str, Any]]:
  """Per member language: id/ood accuracy and cross-entropy (mean over members), best
  member's OOD accuracy, share of members that generalise (both >= SUCCESS)."""
  per: dict[str, dict[int, list[dict]]] = {}
  for r in rows:
    per.setdefault(r["language"], {}).setdefault(int(r["member"]), []).append(r)
  out = {}
  for lang, members in per.items():
    stats = []
    for rs in members.values():
      idr = [r for r in rs if int(r["length"]) <= max_train]
      oodr = [r for r in rs if int(r["length"]) > max_train]
      mean = lambda xs, k: float(np.mean([x[k] for x in xs])) if xs else float("nan")
      stats.append((mean(idr, "accuracy"), mean(oodr, "accuracy"), mean(idr, "xent_bits"),
                    mean(oodr, "xent_bits"), bool(rs[0]["diverged"])))
    s = np.array([x[:4] for x in stats])
    ok = [(a >= SUCCESS and b >= SUCCESS and not dv) for a, b, _, _, dv in stats]
    out[lang] = {"id_accuracy": float(np.mean(s[:, 0])), "ood_accuracy": float(np.mean(s[:, 1])),
                 "best_ood_accuracy": float(np.max(s[:, 1])),
                 "id_xent_bits": float(np.mean(s[:, 2])), "ood_xent_bits": float(np.mean(s[:, 3])),
                 "members": len(stats), "seed_success": float(np.mean(ok)),
                 "observed": any(ok)}
  return out


COLUMNS = ("language", "name", "alphabet", "states", "monoid_size", "aperiodic",
           "quasi_aperiodic", "r_trivial", "r_omega", "c_rasp", "avg_sensitivity_8",
           "avg_sensitivity_16", "avg_sensitivity_32", "counter_word", "qa_witness_length",
           "model", "predicted", "basis", "predicted_soft_growing_n", "trained",
           "id_accuracy", "ood_accuracy", "best_ood_accuracy", "id_xent_bits",
           "ood_xent_bits", "members", "seed_success", "observed", "agree", "contradicts",
           "dfa")


def atlas_rows(entries: Sequence[Entry], measured: dict[str, dict[str, dict]],
               kinds: Sequence[str]) -> list[dict[str, Any]]:
  rows = []
  for e in entries:
    s = e.verdict.summary()
    preds = e.verdict.predictions()
    for kind in kinds:
      m = measured.get(kind, {}).get(e.train_spec)
      predicted = preds[PREDICTION[kind]][0]
      row = {**{k: s[k] for k in COLUMNS if k in s}, "language": e.spec, "name": e.name,
             "alphabet": "".join(e.alphabet), "model": kind, "predicted": predicted,
             "basis": BASIS[kind], "predicted_soft_growing_n": preds["soft_growing_n"][0],
             "trained": m is not None, "dfa": e.verdict.dfa.describe()}
      if m is not None:
        row.update({k: m[k] for k in ("id_accuracy", "ood_accuracy", "best_ood_accuracy",
                                      "id_xent_bits", "ood_xent_bits", "members",
                                      "seed_success", "observed")})
        row["agree"] = predicted == m["observed"]
        # A necessary condition (uhat) or an expressivity claim (lstm) is contradicted
        # only by a language learnt against "cannot"; C-RASP (soft) by any disagreement.
        row["contradicts"] = (not row["agree"]) and (kind == "soft" or m["observed"])
      rows.append({k: _fmt(row.get(k, "")) for k in COLUMNS})
  return rows


def _witness(e: Entry) -> str:
  """The algebra's witnesses for a language, one phrase each."""
  v, s = e.verdict, e.verdict.summary()
  parts = []
  if v.counter:
    parts.append(f"counter {s['counter_word']!r} rotates states {s['counter_cycle']}")
  if not v.quasi_aperiodic:
    parts.append(f"not AC0: word {v.qa_witness!r} of length {v.stability_index} in the "
                 f"stable semigroup acts as a counter")
  if v.c_rasp_witness:
    parts.append(f"not C-RASP: {s['c_rasp_witness']}")
  if v.r_trivial:
    parts.append("R-trivial")
  return "; ".join(parts) or "C-RASP, not R-trivial"


def write_report(path: str, rows: Sequence[dict[str, Any]], entries: Sequence[Entry],
                 header: Sequence[str]) -> None:
  by_spec = {e.spec: e for e in entries}
  lines = ["# Regular-language atlas", "", *header, ""]
  lines += ["Observed = some seed reaches in-distribution and out-of-distribution accuracy "
            f">= {SUCCESS}. Predictions: " + "; ".join(f"{k}: {b}" for k, b in BASIS.items()),
            ""]
  for kind in dict.fromkeys(r["model"] for r in rows):
    rs = [r for r in rows if r["model"] == kind and r["trained"] == "true"]
    lines += [f"## {kind}", "", "| predicted \\ observed | succeeds | fails |", "|---|---|---|"]
    for p in ("true", "false"):
      a = sum(r["predicted"] == p and r["observed"] == "true" for r in rs)
      b = sum(r["predicted"] == p and r["observed"] == "false" for r in rs)
      lines.append(f"| {'can' if p == 'true' else 'cannot'} | {a} | {b} |")
    agree = sum(r["agree"] == "true" for r in rs)
    lines += ["", f"{agree} of {len(rs)} trained languages agree.", ""]
    dis = [r for r in rs if r["agree"] == "false"]
    if dis:
      lines += ["Disagreements:", ""]
      for r in dis:
        e = by_spec[r["language"]]
        lines.append(f"- `{r['language']}` (predicted {'can' if r['predicted'] == 'true' else 'cannot'}, "
                     f"OOD accuracy {r['ood_accuracy']}, best {r['best_ood_accuracy']}, "
                     f"in-distribution {r['id_accuracy']}, seeds generalising "
                     f"{r['seed_success']}{'' if r['contradicts'] == 'true' else '; not a contradiction: the prediction is ' + BASIS[kind].split(' ')[0]}"
                     f"): {_witness(e)}; DFA {r['dfa']}")
      lines.append("")
  skipped = [e for e in entries if not e.trainable]
  if skipped:
    lines += ["## Not trained", ""]
    lines += [f"- `{e.spec}`: {e.reason}; DFA {e.verdict.dfa.describe()}" for e in skipped]
    lines.append("")
  with atomic.atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      f.write("\n".join(lines) + "\n")


def language_class(row: dict[str, Any]) -> str:
  if row["c_rasp"] == "true":
    return "C-RASP"
  if row["aperiodic"] == "true":
    return "star-free, not C-RASP"
  if row["quasi_aperiodic"] == "true":
    return "periodic, in AC0"
  return "not in AC0"


CLASS_COLORS = {"C-RASP": "tab:green", "star-free, not C-RASP": "tab:blue",
                "periodic, in AC0": "tab:orange", "not in AC0": "tab:red"}


def figures(rows: Sequence[dict[str, Any]], outdir: str) -> list[str]:
  from limits import plots   # matplotlib (Agg) only when drawing
  plt = plots.plt
  os.makedirs(outdir, exist_ok=True)
  trained = [r for r in rows if r["trained"] == "true"]
  kinds = list(dict.fromkeys(r["model"] for r in rows))
  markers = dict(zip(kinds, "o^s"))
  fig, ax = plt.subplots(figsize=(6.5, 4.2))
  for cls, color in CLASS_COLORS.items():
    for kind in kinds:
      pts = [r for r in trained if r["model"] == kind and language_class(r) == cls]
      if pts:
        ax.scatter([float(r["avg_sensitivity_16"]) for r in pts],
                   [float(r["ood_accuracy"]) for r in pts], c=color, marker=markers[kind],
                   alpha=0.75, label=f"{cls} ({kind})", s=22)
  ax.set(xlabel="average sensitivity at n = 16 (exact)", ylabel="OOD accuracy (mean over seeds)",
         ylim=(0, 1.05), title="Regular-language atlas")
  ax.legend(fontsize=6, loc="lower left")
  paths = [os.path.join(outdir, "atlas_scatter.png")]
  plots._save(fig, paths[0])
  plt.close(fig)
  langs = sorted({r["language"] for r in trained},
                 key=lambda l: (list(CLASS_COLORS).index(language_class(
                     next(r for r in trained if r["language"] == l))), l))
  if langs:
    grid = np.full((len(langs), len(kinds)), np.nan)
    for r in trained:
      grid[langs.index(r["language"]), kinds.index(r["model"])] = float(r["ood_accuracy"])
    fig, ax = plt.subplots(figsize=(4 + len(kinds), 1.5 + 0.16 * len(langs)))
    im = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0.5, vmax=1.0)
    ax.set_xticks(range(len(kinds)), kinds)
    ax.set_yticks(range(len(langs)), [l[-28:] for l in langs], fontsize=5)
    for i, l in enumerate(langs):
      cls = language_class(next(r for r in trained if r["language"] == l))
      ax.add_patch(plots.matplotlib.patches.Rectangle((-0.9, i - 0.5), 0.35, 1,
                                                      color=CLASS_COLORS[cls], clip_on=False))
    ax.set_xlim(-0.5, len(kinds) - 0.5)
    fig.colorbar(im, ax=ax, label="OOD accuracy")
    ax.set_title("languages by class (strip) x model kind", fontsize=8)
    fig.tight_layout()
    paths.append(os.path.join(outdir, "atlas_grid.png"))
    plots._save(fig, paths[1])
    plt.close(fig)
  return paths


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
