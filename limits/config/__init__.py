"""Experiment configuration: one validation of the ConfigDict, then frozen dataclasses.

Nothing downstream reads the ConfigDict. Every error a user can cause is a ValueError
whose message names the field and the allowed values (`launch/` turns it into one line
and exit status 2).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from typing import Any, Iterable

import ml_collections

from limits import languages
from limits import population
from limits.models import attention, positional, transformer

SCHEDULES = ("constant", "cosine")
DERIVED = {"positional_mix"}   # dataclass fields no config sets (population.max_model_config)
MAX_INT = 2**31 - 1      # steps, seeds and sizes live in int32 on device
MAX_LENGTH = 1_000_000   # longest string length a config may ask for
MAX_MEMBERS = 100_000    # largest population a sweep may ask for


def _show(v: Any) -> str:
  """A value as one short line for an error message (ConfigDicts print on many lines)."""
  if hasattr(v, "to_dict"):
    v = v.to_dict()
  r = " ".join(repr(v).split())
  return r if len(r) <= 60 else r[:57] + "..."


@dataclasses.dataclass(frozen=True)
class DataConfig:
  language: str = "parity"
  task: str = "recognition"
  p: float = 0.5
  train_lengths: tuple[int, ...] = tuple(range(1, 41))
  eval_lengths: tuple[int, ...] = tuple(range(1, 201))
  near_miss_fraction: float = 0.0     # share of recognition negatives that are near misses
  targets: str = "distribution"       # prediction targets: exact q, or "allowed" multi-hot


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  steps: int = 2000
  batch_size: int = 64
  learning_rate: float = 1e-3
  warmup_steps: int = 100
  schedule: str = "constant"
  weight_decay: float = 0.0
  grad_clip: float = 1.0
  seed: int = 0
  checkpoint_every: int = 500
  keep_checkpoints: int = 3
  log_every: int = 100
  # Of each device's own members, how many train side by side (vmap) per chunk, chunks
  # one after another inside the step: 0 all at once; -1 auto (all at once on
  # accelerators; on CPU chunks whose activations fit ~8 MB, since a wide vmap of large
  # members loses to a loop there). With members split over devices, the largest
  # divisor of a device's member count not above this value.
  member_chunk: int = -1
  # Early stop (0 = off): a member whose whole training batch is classified correctly on
  # this many consecutive steps stops; its updates are masked (the population's program
  # keeps its shape), and training ends when every member has stopped or diverged.
  early_stop_steps: int = 0


@dataclasses.dataclass(frozen=True)
class EvalConfig:
  batch_size: int = 128     # strings per evaluated length
  bucket: int = 32          # padded lengths are multiples of this (one program each)
  group: int = 8            # lengths evaluated per call
  seed: int = 1234


PROTOCOLS = ("custom", "deletang", "hahn")


@dataclasses.dataclass(frozen=True)
class SweepConfig:
  """The population grid; an empty field means the single value of model/train/data."""

  depths: tuple[int, ...] = ()
  heads: tuple[int, ...] = ()
  seeds: tuple[int, ...] = ()
  learning_rates: tuple[float, ...] = ()
  train_lengths: tuple[tuple[int, ...], ...] = ()  # one entry per training-length set
  protocol: str = "custom"
  # Regular languages of one alphabet, one grid axis (limits/languages/mixed.py): member m
  # learns languages[m]; each trains on those of its lengths that have members.
  languages: tuple[str, ...] = ()
  # Positional encodings, one grid axis (model.positional per member, one compiled program:
  # the max model builds each and gates it per member, see population.py).
  positionals: tuple[str, ...] = ()
  # Model kinds (`transformer`, `lstm`): one population, so one compiled program, per kind
  # (their parameter trees differ), trained one after another on the same batches (same
  # seeds, languages and lengths). depths/heads/positionals grid the transformer; an LSTM
  # is model.depth layers of model.width. See `Experiment.parts`.
  kinds: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Experiment:
  model: transformer.ModelConfig
  data: DataConfig
  train: TrainConfig
  eval: EvalConfig
  sweep: SweepConfig = SweepConfig()

  @property
  def members(self):
    """The population (a single member without a sweep), see limits/population.py."""
    s = self.sweep
    members = population.grid(s.depths or (self.model.depth,), s.heads or (self.model.heads,),
                              s.seeds or (self.train.seed,),
                              s.learning_rates or (self.train.learning_rate,),
                              s.train_lengths or (self.data.train_lengths,),
                              languages=s.languages or ("",),
                              positionals=s.positionals or ("",))
    if not s.languages:
      return members
    return tuple(dataclasses.replace(m, train_lengths=_lengths_with_members(
        m.language, m.train_lengths, self.data.p)) for m in members)

  def parts(self) -> tuple[tuple[str, "Experiment"], ...]:
    """(name, experiment) per compiled population: one per `sweep.kinds` entry, named by
    the kind (an LSTM's without the transformer-only grid axes), or `("", self)`."""
    if len(self.sweep.kinds) <= 1:
      return (("", self),)
    out = []
    for kind in self.sweep.kinds:
      sweep = dataclasses.replace(self.sweep, kinds=())
      if kind != "transformer":
        sweep = dataclasses.replace(sweep, depths=(), heads=(), positionals=())
      out.append((kind, dataclasses.replace(
          self, model=dataclasses.replace(self.model, kind=kind), sweep=sweep)))
    return tuple(out)

  @property
  def max_train_length(self) -> int:
    return max(max(m.train_lengths) for m in self.members)

  def to_dict(self) -> dict[str, Any]:
    d = dataclasses.asdict(self)
    if not self.sweep.languages:
      del d["sweep"]["languages"]   # single-language runs keep their config.json as before
    if not self.sweep.positionals:
      del d["sweep"]["positionals"]
    if not self.sweep.kinds:
      del d["sweep"]["kinds"]       # one kind: config.json as before
    if not self.train.early_stop_steps:
      del d["train"]["early_stop_steps"]   # off: config.json as before
    del d["model"]["positional_mix"]   # derived (population.max_model_config), never configured
    return d


@functools.lru_cache(maxsize=4096)
def _lengths_with_members(spec: str, lengths: tuple[int, ...], p: float) -> tuple[int, ...]:
  """The lengths at which `spec` has members (sweep.languages members train on these)."""
  lang = languages.make_language(spec, p)
  ok = tuple(n for n in lengths if lang.members_exist(n))
  if not ok:
    raise ValueError(f"sweep.languages: {spec} has no member at any training length "
                     f"{lengths[0]}..{lengths[-1]}")
  return ok


def parse_lengths(value: Any, field: str) -> tuple[int, ...]:
  """Lengths from `"1-40"`, `"1-200:5"` (step), `"1,2,8-10"`, an int or a sequence."""
  if isinstance(value, int) and not isinstance(value, bool):
    items: Iterable[Any] = [value]
  elif isinstance(value, str):
    items = [s.strip() for s in value.split(",") if s.strip()]
  elif isinstance(value, (list, tuple)):
    items = list(value)
  else:
    raise ValueError(f"{field}: expected lengths like '1-40' or '1,2,8-10', got {_show(value)}")
  out: list[int] = []
  for item in items:
    if isinstance(item, int) and not isinstance(item, bool):
      if item > MAX_LENGTH:
        raise ValueError(f"{field}: lengths must be <= {MAX_LENGTH}, got {item}")
      out.append(item)
      continue
    m = re.fullmatch(r"(-?\d+)(?:\s*-\s*(-?\d+)(?::(\d+))?)?", str(item).strip())
    if not m:
      raise ValueError(f"{field}: cannot read {_show(item)}; write lengths like '1-40', "
                       f"'1-200:5' or '1,2,8-10'")
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) is not None else lo
    step = int(m.group(3)) if m.group(3) else 1
    if hi < lo or step < 1:
      raise ValueError(f"{field}: empty range {_show(item)}")
    if hi > MAX_LENGTH:
      raise ValueError(f"{field}: lengths must be <= {MAX_LENGTH}, got {hi}")
    out.extend(range(lo, hi + 1, step))
  if not out:
    raise ValueError(f"{field}: no lengths given")
  bad = [n for n in out if n < 1]
  if bad:
    raise ValueError(f"{field}: lengths must be >= 1, got {bad[0]}")
  return tuple(sorted(set(out)))


def parse_numbers(value: Any, field: str, kind: type, lo: float) -> tuple:
  """`"1,2,4"`, `"1-4"` (ints), `"1e-3,3e-4"` (floats), a number or a sequence."""
  if isinstance(value, (list, tuple)):
    items = list(value)
  elif isinstance(value, str):
    items = [s.strip() for s in value.split(",") if s.strip()]
  else:
    items = [value]
  out: list = []
  for item in items:
    if kind is int and isinstance(item, str) and re.fullmatch(r"\d+-\d+", item.strip()):
      a, b = map(int, item.split("-"))
      if b - a >= MAX_MEMBERS:
        raise ValueError(f"{field}: range {item!r} has more than {MAX_MEMBERS} values")
      if b < a:
        raise ValueError(f"{field}: empty range {item!r} (write lo-hi with lo <= hi)")
    try:
      if kind is int and isinstance(item, str) and re.fullmatch(r"\d+-\d+", item):
        a, b = map(int, item.split("-"))
        out.extend(range(a, b + 1))
      elif kind is int:
        if isinstance(item, float) and not item.is_integer():
          raise ValueError
        out.append(int(item))
      else:
        out.append(float(item))
    except (TypeError, ValueError):
      raise ValueError(f"{field}: cannot read {_show(item)} as {'an integer' if kind is int else 'a number'}") from None
  bad = [v for v in out if not v >= lo or (kind is float and v <= lo)]
  if bad:
    raise ValueError(f"{field}: values must be {'>=' if kind is int else '>'} {lo}, got {bad[0]}")
  bad = [v for v in out if (kind is int and v > MAX_INT) or (kind is float and not math.isfinite(v))]
  if bad:
    raise ValueError(f"{field}: values must be {'<= ' + str(MAX_INT) if kind is int else 'finite'}"
                     f", got {bad[0]}")
  return tuple(dict.fromkeys(out))


def _get(cfg: ml_collections.ConfigDict, section: str, cls: type) -> dict[str, Any]:
  known = {f.name for f in dataclasses.fields(cls)} - DERIVED
  sub = cfg.get(section, None)
  if sub is None:
    return {}
  given = dict(sub.items()) if hasattr(sub, "items") else {}
  for k in DERIVED & set(given):   # a dataclass copied field by field carries them empty
    _require(given.pop(k) in ((), [], None, ""), f"{section}.{k}: derived, not set by a "
             "config (to vary the encoding, use sweep.positionals, e.g. 'none,alibi')")
  extra = sorted(set(given) - known)
  if extra:
    raise ValueError(f"{section}.{extra[0]}: unknown field; allowed: {', '.join(sorted(known))}")
  return given


def _require(ok: bool, msg: str) -> None:
  if not ok:
    raise ValueError(msg)


def _int(d: dict[str, Any], key: str, field: str, lo: int) -> None:
  if key not in d:
    return
  v = d[key]
  _require(isinstance(v, int) and not isinstance(v, bool),
           f"{field}: expected an integer, got {_show(v)}")
  _require(lo <= v <= MAX_INT, f"{field}: must be in [{lo}, {MAX_INT}], got {v}")


def _float(d: dict[str, Any], key: str, field: str, lo: float, hi: float | None = None,
           open_lo: bool = False) -> None:
  if key not in d:
    return
  v = d[key]
  _require(isinstance(v, (int, float)) and not isinstance(v, bool),
           f"{field}: expected a number, got {_show(v)}")
  _require(math.isfinite(v), f"{field}: must be a finite number, got {v}")
  ok = v > lo if open_lo else v >= lo
  ok = ok and (hi is None or v < hi)
  rng = f"({lo}, {hi})" if hi is not None else (f"> {lo}" if open_lo else f">= {lo}")
  _require(ok, f"{field}: must be {rng}, got {v}")
  d[key] = float(v)


def _choice(d: dict[str, Any], key: str, field: str, allowed: tuple[str, ...]) -> None:
  if key not in d:
    return
  v = d[key]
  if not isinstance(v, str) or v not in allowed:
    raise ValueError(f"{field}: unknown value {_show(v)}; allowed: {', '.join(allowed)}")


def _head_masks(value: Any, heads: int) -> tuple[str, ...]:
  """`model.head_masks` from a tuple/list or a string like 'past,future'."""
  _require(isinstance(value, (str, list, tuple)) or value is None,
           f"model.head_masks: expected a list like 'all,past', got {_show(value)}")
  items = value.split(",") if isinstance(value, str) else list(value or ())
  # A command-line 'past,future' may arrive as one item: split every item on commas.
  items = tuple(p.strip() for v in items for p in str(v).split(",") if p.strip())
  for v in items:
    _require(v in attention.HEAD_MASKS, f"model.head_masks: unknown value {_show(v)}; "
             f"allowed: {', '.join(attention.HEAD_MASKS)}")
  _require(len(items) <= heads, f"model.head_masks: {len(items)} entries for {heads} heads")
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


def defaults() -> ml_collections.ConfigDict:
  """Every config field at its library default, as a config file states it (length and
  grid fields of `data` and `sweep` as empty strings): what configs/*.py start from."""
  c = ml_collections.ConfigDict()
  for name, cls in (("model", transformer.ModelConfig), ("data", DataConfig),
                    ("train", TrainConfig), ("eval", EvalConfig), ("sweep", SweepConfig)):
    section = {}
    for f in dataclasses.fields(cls):
      if f.name in DERIVED:
        continue
      v = f.default if f.default is not dataclasses.MISSING else f.default_factory()
      section[f.name] = "" if isinstance(v, tuple) and name in ("data", "sweep") else v
    c[name] = section
  return c


def validate(cfg: ml_collections.ConfigDict) -> Experiment:
  """Checks every field of `cfg` and returns the frozen `Experiment`."""
  top_known = {"model", "data", "train", "eval", "sweep"}
  extra = sorted(set(cfg.keys()) - top_known)
  _require(not extra, f"{extra[0] if extra else ''}: unknown config section; "
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


def _check_population(exp: Experiment) -> None:
  """The grid as a whole: its size, what varies, and how members split into chunks."""
  model, sweep, train = exp.model, exp.sweep, exp.train
  size = math.prod(max(len(v), 1) for v in (sweep.depths, sweep.heads, sweep.seeds,
                                             sweep.learning_rates, sweep.train_lengths,
                                             sweep.languages, sweep.positionals))
  _require(size <= MAX_MEMBERS, f"sweep: the grid has {size} members; at most {MAX_MEMBERS}")
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
  if sweep.heads and model.key_dim == 0 and model.width % max(sweep.heads):
    raise ValueError(f"sweep.heads: the largest head count must divide model.width="
                     f"{model.width} (heads share the width K = width // max heads), "
                     f"got {max(sweep.heads)}")
  m = len(exp.members)
  _require(train.member_chunk <= 0 or m % train.member_chunk == 0,
           f"train.member_chunk: must divide the number of members ({m}), got "
           f"{train.member_chunk} (allowed: -1 auto, 0 all, or "
           f"{', '.join(str(k) for k in range(1, m + 1) if m % k == 0)})")


def _model_section(cfg: ml_collections.ConfigDict) -> transformer.ModelConfig:
  m = _get(cfg, "model", transformer.ModelConfig)
  for k in ("depth", "heads", "width", "mlp_width"):
    _int(m, k, f"model.{k}", 1)
  _choice(m, "attention", "model.attention", attention.ATTENTION)
  _choice(m, "layer_norm", "model.layer_norm", transformer.LAYER_NORM)
  _choice(m, "positional", "model.positional", positional.POSITIONAL)
  _float(m, "ln_eps", "model.ln_eps", 0.0)
  for k in ("causal", "saturate"):
    if k in m:
      _require(isinstance(m[k], bool), f"model.{k}: expected true/false, got {_show(m[k])}")
  _choice(m, "kind", "model.kind", transformer.KINDS)
  _float(m, "temperature", "model.temperature", 0.0, open_lo=True)
  _int(m, "max_positions", "model.max_positions", 1)
  if "head_masks" in m:
    m["head_masks"] = _head_masks(m["head_masks"], m.get("heads", transformer.ModelConfig.heads))
  _int(m, "key_dim", "model.key_dim", 0)
  model = transformer.ModelConfig(**m)
  _require(model.key_dim > 0 or model.width % model.heads == 0,
           f"model.heads: must divide model.width={model.width}, got {model.heads} "
           f"(allowed: {', '.join(str(h) for h in range(1, model.width + 1) if model.width % h == 0)})")

  return model


def _data_section(cfg: ml_collections.ConfigDict) -> tuple["DataConfig", languages.Language]:
  """`data` and the language it names (built once: the sweep checks lengths against it)."""
  d = _get(cfg, "data", DataConfig)
  _choice(d, "task", "data.task", languages.TASKS)
  _float(d, "p", "data.p", 0.0, 1.0, open_lo=True)
  _float(d, "near_miss_fraction", "data.near_miss_fraction", 0.0)
  _require(d.get("near_miss_fraction", 0.0) <= 1.0,
           f"data.near_miss_fraction: must lie in [0, 1], got {d.get('near_miss_fraction')}")
  _choice(d, "targets", "data.targets", languages.TARGETS)
  for k in ("train_lengths", "eval_lengths"):
    if k in d:
      d[k] = parse_lengths(d[k], f"data.{k}")
  _require(isinstance(d.get("language", DataConfig.language), str),
           f"data.language: expected a language spec like 'parity' or 'dyck:k=2', got "
           f"{_show(d.get('language'))}")
  data = DataConfig(**d)
  try:
    lang = languages.make_language(data.language, data.p,
                                   near_miss_fraction=data.near_miss_fraction, targets=data.targets)
  except (TypeError, KeyError, AttributeError, IndexError, OverflowError, OSError) as e:
    # A spec the language's own checks did not anticipate: still one line naming the field.
    raise ValueError(f"data.language: cannot build {_show(data.language)} "
                     f"({type(e).__name__}: {' '.join(str(e).split())})") from None
  supported = getattr(lang, "supported_tasks", languages.TASKS)
  _require(data.task in supported, f"data.task: {data.language} supports only "
           f"{', '.join(supported)}, got {_show(data.task)}")
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
    _int(t, k, f"train.{k}", lo)
  _float(t, "learning_rate", "train.learning_rate", 0.0, open_lo=True)
  _float(t, "weight_decay", "train.weight_decay", 0.0)
  _float(t, "grad_clip", "train.grad_clip", 0.0, open_lo=True)
  _choice(t, "schedule", "train.schedule", SCHEDULES)
  train = TrainConfig(**t)

  return train


def _eval_section(cfg: ml_collections.ConfigDict) -> "EvalConfig":
  e = _get(cfg, "eval", EvalConfig)
  for k, lo in (("batch_size", 1), ("bucket", 1), ("group", 1), ("seed", 0)):
    _int(e, k, f"eval.{k}", lo)
  return EvalConfig(**e)


def _sweep_section(cfg: ml_collections.ConfigDict, model: transformer.ModelConfig,
                   data: "DataConfig", lang: languages.Language) -> "SweepConfig":
  sw = _get(cfg, "sweep", SweepConfig)
  for k, kind, lo in (("depths", int, 1), ("heads", int, 1), ("seeds", int, 0),
                      ("learning_rates", float, 0.0)):
    if k in sw and sw[k] not in ("", None):
      sw[k] = parse_numbers(sw[k], f"sweep.{k}", kind, lo)
    else:
      sw.pop(k, None)
  if sw.get("train_lengths") not in ("", None, ()):
    v = sw["train_lengths"]
    sets = v.split(";") if isinstance(v, str) else list(v) if isinstance(v, (list, tuple)) else [v]
    sw["train_lengths"] = tuple(parse_lengths(x, "sweep.train_lengths") for x in sets)
    for lengths in sw["train_lengths"]:
      for n in lengths:
        try:
          lang.check_length(n)
        except ValueError as err:
          raise ValueError(f"sweep.train_lengths: {err}") from None
  else:
    sw.pop("train_lengths", None)
  _choice(sw, "protocol", "sweep.protocol", PROTOCOLS)
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
      _require(k in transformer.KINDS, f"sweep.kinds: unknown value {_show(k)}; allowed: "
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
  _require(bool(specs), f"sweep.languages: no language in {_show(value)}")
  langs = []
  for spec in specs:
    try:
      langs.append(languages.make_language(spec, data.p, targets=data.targets))
    except (TypeError, KeyError, AttributeError, IndexError, OverflowError, OSError) as e:
      raise ValueError(f"sweep.languages: cannot build {_show(spec)} "
                       f"({type(e).__name__}: {' '.join(str(e).split())})") from None
  mixed.MixedDFA(langs)   # one alphabet, every one a DFA
  for spec in specs:
    _lengths_with_members(spec, data.train_lengths, data.p)
  return specs


def _sweep_positionals(value: Any, model: transformer.ModelConfig,
                       data: "DataConfig") -> tuple[str, ...]:
  """`sweep.positionals` from `"none,sinusoidal,alibi"` or a list: encodings that one max
  model can gate per member (all but the length-dependent cc and randomized)."""
  _require(isinstance(value, (str, list, tuple)),
           f"sweep.positionals: expected a list like 'none,sinusoidal,alibi', got {_show(value)}")
  items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
  kinds = tuple(dict.fromkeys(p.strip() for v in items for p in str(v).split(",") if p.strip()))
  _require(bool(kinds), f"sweep.positionals: no encoding in {_show(value)}")
  for kind in kinds:
    _require(kind in positional.MIXABLE,
             f"sweep.positionals: {_show(kind)} cannot share a population (allowed: "
             f"{', '.join(positional.MIXABLE)}); run it as model.positional={kind} on its own")
  _require(model.kind == "transformer", "sweep.positionals: only transformers have a "
           "positional encoding; set model.kind=transformer or drop sweep.positionals")
  for kind in kinds:
    _check_model_data(dataclasses.replace(model, positional=kind), data)
  return kinds


def to_configdict(exp: Experiment) -> ml_collections.ConfigDict:
  """The inverse of `validate` (lengths as tuples), e.g. for tests and notebooks."""
  return ml_collections.ConfigDict(exp.to_dict())
