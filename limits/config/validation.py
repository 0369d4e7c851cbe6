"""One validation of the ConfigDict into the frozen `Experiment`: one function per section.

`validate(cfg)` checks the sections in order (model, data, train, eval, sweep), then the
population as a whole; the first bad field raises a ValueError naming it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import ml_collections

from limits import languages
from limits.config import parse
from limits.config.schema import (DERIVED, PROTOCOLS, SCHEDULES, DataConfig, EvalConfig,
                                  Experiment, SweepConfig, TrainConfig, lengths_with_members)
from limits.models import attention, positional, transformer


def validate(cfg: ml_collections.ConfigDict) -> Experiment:
  """Checks every field of `cfg` and returns the frozen `Experiment`."""
  top_known = {"model", "data", "train", "eval", "sweep"}
  extra = sorted(set(cfg.keys()) - top_known)
  parse.require(not extra, f"{extra[0] if extra else ''}: unknown config section; "
           f"allowed: {', '.join(sorted(top_known))}")

  model = _model_section(cfg)
  data, lang = _data_section(cfg)
  _check_model_data(model, data)
  train = _train_section(cfg)
  e = _eval_section(cfg)
  sweep = _sweep_section(cfg, model, data, lang)
  exp = Experiment(model=model, data=data, train=train, eval=e, sweep=sweep)
  _check_population(exp)
  return exp


def _get(cfg: ml_collections.ConfigDict, section: str, cls: type) -> dict[str, Any]:
  known = {f.name for f in dataclasses.fields(cls)} - DERIVED
  sub = cfg.get(section, None)
  if sub is None:
    return {}
  given = dict(sub.items()) if hasattr(sub, "items") else {}
  for k in DERIVED & set(given):   # a dataclass copied field by field carries them empty
    parse.require(given.pop(k) in ((), [], None, ""), f"{section}.{k}: derived, not set by a "
             "config (to vary the encoding, use sweep.positionals, e.g. 'none,alibi')")
  extra = sorted(set(given) - known)
  if extra:
    raise ValueError(f"{section}.{extra[0]}: unknown field; allowed: {', '.join(sorted(known))}")
  return given


def _check_population(exp: Experiment) -> None:
  """The grid as a whole: its size, what varies, and how members split into chunks."""
  model, sweep, train = exp.model, exp.sweep, exp.train
  size = math.prod(max(len(v), 1) for v in (sweep.depths, sweep.heads, sweep.seeds,
                                             sweep.learning_rates, sweep.train_lengths,
                                             sweep.languages, sweep.positionals))
  parse.require(size <= parse.MAX_MEMBERS, f"sweep: the grid has {size} members; at most {parse.MAX_MEMBERS}")
  if len(sweep.kinds) > 1:
    for _, part in exp.parts():   # each kind is a population of its own
      _check_population(part)
    return
  if sweep.kinds and sweep.kinds[0] != model.kind:
    raise ValueError(f"sweep.kinds: one kind ({sweep.kinds[0]}) must be model.kind "
                     f"({model.kind}); list two kinds to train both")
  if model.kind != "transformer" and (len(sweep.depths) > 1 or len(sweep.heads) > 1):
    raise ValueError("sweep.depths/sweep.heads: only transformer populations vary depth and "
                     "heads (masked max model); set model.kind=transformer or one value each")
  if model.kind == "transformer":
    _check_heads(exp)
  m = len(exp.members)
  parse.require(train.member_chunk <= 0 or m % train.member_chunk == 0,
           f"train.member_chunk: must divide the number of members ({m}), got "
           f"{train.member_chunk} (allowed: -1 auto, 0 all, or "
           f"{', '.join(str(k) for k in range(1, m + 1) if m % k == 0)})")


def _model_section(cfg: ml_collections.ConfigDict) -> transformer.ModelConfig:
  m = _get(cfg, "model", transformer.ModelConfig)
  for k in ("depth", "heads", "width", "mlp_width"):
    parse.check_int(m, k, f"model.{k}", 1)
  parse.check_choice(m, "attention", "model.attention", attention.ATTENTION)
  parse.check_choice(m, "layer_norm", "model.layer_norm", transformer.LAYER_NORM)
  parse.check_choice(m, "positional", "model.positional", positional.POSITIONAL)
  parse.check_float(m, "ln_eps", "model.ln_eps", 0.0)
  for k in ("causal", "saturate"):
    if k in m:
      parse.require(isinstance(m[k], bool), f"model.{k}: expected true/false, got {parse.show(m[k])}")
  parse.check_choice(m, "kind", "model.kind", transformer.KINDS)
  parse.check_float(m, "temperature", "model.temperature", 0.0, open_lo=True)
  parse.check_int(m, "max_positions", "model.max_positions", 1)
  if "head_masks" in m:
    m["head_masks"] = _head_masks(m["head_masks"])
  parse.check_int(m, "key_dim", "model.key_dim", 0)
  return transformer.ModelConfig(**m)


def _check_heads(exp: Experiment) -> None:
  """What the head count constrains, checked against the field that owns it: every
  member's heads come from `sweep.heads` when it is set (then `model.heads` is unused),
  else from `model.heads`; the population's max model has the largest."""
  model, owner = exp.model, "sweep.heads" if exp.sweep.heads else "model.heads"
  heads = max(m.heads for m in exp.members)
  allowed = ", ".join(str(h) for h in range(1, model.width + 1) if model.width % h == 0)
  if owner == "model.heads":
    parse.require(model.key_dim > 0 or model.width % heads == 0,
                  f"model.heads: must divide model.width={model.width}, got {heads} "
                  f"(allowed: {allowed})")
  else:
    parse.require(model.key_dim > 0 or model.width % heads == 0,
                  f"sweep.heads: the largest head count must divide model.width="
                  f"{model.width} (heads share the width K = width // max heads), got "
                  f"{heads} (allowed: {allowed})")
  parse.require(len(model.head_masks) <= heads, f"model.head_masks: {len(model.head_masks)} "
                f"entries for {heads} heads (the largest head count, {owner})")


def _data_section(cfg: ml_collections.ConfigDict) -> tuple["DataConfig", languages.Language]:
  """`data` and the language it names (built once: the sweep checks lengths against it)."""
  d = _get(cfg, "data", DataConfig)
  parse.check_choice(d, "task", "data.task", languages.TASKS)
  parse.check_float(d, "p", "data.p", 0.0, 1.0, open_lo=True)
  parse.check_float(d, "near_miss_fraction", "data.near_miss_fraction", 0.0)
  parse.require(d.get("near_miss_fraction", DataConfig.near_miss_fraction) <= 1.0,
           f"data.near_miss_fraction: must lie in [0, 1], got {d.get('near_miss_fraction')}")
  parse.check_choice(d, "targets", "data.targets", languages.TARGETS)
  for k in ("train_lengths", "eval_lengths"):
    if k in d:
      d[k] = parse.parse_lengths(d[k], f"data.{k}")
  parse.require(isinstance(d.get("language", DataConfig.language), str),
           f"data.language: expected a language spec like 'parity' or 'dyck:k=2', got "
           f"{parse.show(d.get('language'))}")
  data = DataConfig(**d)
  try:
    lang = languages.make_language(data.language, data.p,
                                   near_miss_fraction=data.near_miss_fraction, targets=data.targets)
  except (TypeError, KeyError, AttributeError, IndexError, OverflowError, OSError) as e:
    # A spec the language's own checks did not anticipate: still one line naming the field.
    raise ValueError(f"data.language: cannot build {parse.show(data.language)} "
                     f"({type(e).__name__}: {' '.join(str(e).split())})") from None
  supported = getattr(lang, "supported_tasks", languages.TASKS)
  parse.require(data.task in supported, f"data.task: {data.language} supports only "
           f"{', '.join(supported)}, got {parse.show(data.task)}")
  sweep_cfg = cfg.get("sweep", None)
  mixed = bool(sweep_cfg is not None and sweep_cfg.get("languages", None))
  for k in ("train_lengths", "eval_lengths"):
    for n in getattr(data, k):
      try:
        lang.check_length(n)
      except ValueError as e:
        if not mixed:   # sweep.languages: each language keeps its own lengths with members
          raise ValueError(f"data.{k}: {e}") from None

  return data, lang


def _train_section(cfg: ml_collections.ConfigDict) -> "TrainConfig":
  t = _get(cfg, "train", TrainConfig)
  for k, lo in (("steps", 0), ("batch_size", 1), ("warmup_steps", 0), ("seed", 0),
                ("checkpoint_every", 1), ("keep_checkpoints", 1), ("log_every", 1),
                ("member_chunk", -1), ("early_stop_steps", 0)):
    parse.check_int(t, k, f"train.{k}", lo)
  parse.check_float(t, "learning_rate", "train.learning_rate", 0.0, open_lo=True)
  parse.check_float(t, "weight_decay", "train.weight_decay", 0.0)
  parse.check_float(t, "grad_clip", "train.grad_clip", 0.0, open_lo=True)
  parse.check_choice(t, "schedule", "train.schedule", SCHEDULES)
  train = TrainConfig(**t)

  return train


def _eval_section(cfg: ml_collections.ConfigDict) -> "EvalConfig":
  e = _get(cfg, "eval", EvalConfig)
  for k, lo in (("batch_size", 1), ("bucket", 1), ("group", 1), ("seed", 0)):
    parse.check_int(e, k, f"eval.{k}", lo)
  return EvalConfig(**e)


def _sweep_section(cfg: ml_collections.ConfigDict, model: transformer.ModelConfig,
                   data: "DataConfig", lang: languages.Language) -> "SweepConfig":
  sw = _get(cfg, "sweep", SweepConfig)
  for k, kind, lo in (("depths", int, 1), ("heads", int, 1), ("seeds", int, 0),
                      ("learning_rates", float, 0.0)):
    if k in sw and sw[k] not in ("", None):
      sw[k] = parse.parse_numbers(sw[k], f"sweep.{k}", kind, lo)
    else:
      sw.pop(k, None)
  if sw.get("train_lengths") not in ("", None, ()):
    v = sw["train_lengths"]
    sets = v.split(";") if isinstance(v, str) else list(v) if isinstance(v, (list, tuple)) else [v]
    sw["train_lengths"] = tuple(parse.parse_lengths(x, "sweep.train_lengths") for x in sets)
    for lengths in sw["train_lengths"]:
      for n in lengths:
        try:
          lang.check_length(n)
        except ValueError as err:
          raise ValueError(f"sweep.train_lengths: {err}") from None
  else:
    sw.pop("train_lengths", None)
  parse.check_choice(sw, "protocol", "sweep.protocol", PROTOCOLS)
  if sw.get("languages") not in ("", None, ()):
    sw["languages"] = _sweep_languages(sw["languages"], data)
  else:
    sw.pop("languages", None)
  if sw.get("positionals") not in ("", None, ()):
    sw["positionals"] = _sweep_positionals(sw["positionals"], model, data)
  else:
    sw.pop("positionals", None)
  if sw.get("kinds") not in ("", None, ()):
    v = sw["kinds"]
    items = v.split(",") if isinstance(v, str) else [str(x) for x in v] \
        if isinstance(v, (list, tuple)) else [v]
    sw["kinds"] = tuple(dict.fromkeys(str(k).strip() for k in items if str(k).strip()))
    for k in sw["kinds"]:
      parse.require(k in transformer.KINDS, f"sweep.kinds: unknown value {parse.show(k)}; allowed: "
               f"{', '.join(transformer.KINDS)}")
  else:
    sw.pop("kinds", None)
  return SweepConfig(**sw)


def _sweep_languages(value: Any, data: DataConfig) -> tuple[str, ...]:
  """`sweep.languages` from `"tomita1;tomita2"` or a list: regular specs of one alphabet."""
  from limits.languages import mixed
  items = value.split(";") if isinstance(value, str) else list(value) \
      if isinstance(value, (list, tuple)) else [value]
  specs = tuple(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))
  parse.require(bool(specs), f"sweep.languages: no language in {parse.show(value)}")
  langs = []
  for spec in specs:
    try:
      langs.append(languages.make_language(spec, data.p, targets=data.targets))
    except (TypeError, KeyError, AttributeError, IndexError, OverflowError, OSError) as e:
      raise ValueError(f"sweep.languages: cannot build {parse.show(spec)} "
                       f"({type(e).__name__}: {' '.join(str(e).split())})") from None
  mixed.MixedDFA(langs)   # one alphabet, every one a DFA
  for spec in specs:
    lengths_with_members(spec, data.train_lengths, data.p)
  return specs


def _sweep_positionals(value: Any, model: transformer.ModelConfig,
                       data: "DataConfig") -> tuple[str, ...]:
  """`sweep.positionals` from `"none,sinusoidal,alibi"` or a list: encodings that one max
  model can gate per member (all but the length-dependent cc and randomized)."""
  parse.require(isinstance(value, (str, list, tuple)),
           f"sweep.positionals: expected a list like 'none,sinusoidal,alibi', got {parse.show(value)}")
  items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
  kinds = tuple(dict.fromkeys(p.strip() for v in items for p in str(v).split(",") if p.strip()))
  parse.require(bool(kinds), f"sweep.positionals: no encoding in {parse.show(value)}")
  for kind in kinds:
    parse.require(kind in positional.MIXABLE,
             f"sweep.positionals: {parse.show(kind)} cannot share a population (allowed: "
             f"{', '.join(positional.MIXABLE)}); run it as model.positional={kind} on its own")
  parse.require(model.kind == "transformer", "sweep.positionals: only transformers have a "
           "positional encoding; set model.kind=transformer or drop sweep.positionals")
  for kind in kinds:
    _check_model_data(dataclasses.replace(model, positional=kind), data)
  return kinds


def _head_masks(value: Any) -> tuple[str, ...]:
  """`model.head_masks` from a tuple/list or a string like 'past,future'."""
  parse.require(isinstance(value, (str, list, tuple)) or value is None,
           f"model.head_masks: expected a list like 'all,past', got {parse.show(value)}")
  items = value.split(",") if isinstance(value, str) else list(value or ())
  # A command-line 'past,future' may arrive as one item: split every item on commas.
  items = tuple(p.strip() for v in items for p in str(v).split(",") if p.strip())
  for v in items:
    parse.require(v in attention.HEAD_MASKS, f"model.head_masks: unknown value {parse.show(v)}; "
             f"allowed: {', '.join(attention.HEAD_MASKS)}")
  return items


def _check_model_data(model: transformer.ModelConfig, data: "DataConfig") -> None:
  """Model fields that depend on the data: position tables must cover every length."""
  if model.kind == "transformer" and model.positional == "cc" and data.task != "recognition":
    raise ValueError("model.positional: 'cc' ([i/n, (-1)^i]) reads the whole string's "
                     "length n, so it is recognition only; allowed for prediction: "
                     + ", ".join(p for p in positional.POSITIONAL if p != "cc"))
  if model.kind == "transformer":
    for k in ("train_lengths", "eval_lengths"):
      try:
        positional.check_length(model.positional, model.max_positions,
                                max(getattr(data, k)) + 1)
      except ValueError as e:
        raise ValueError(f"{e} (data.{k} goes up to {max(getattr(data, k))})") from None
