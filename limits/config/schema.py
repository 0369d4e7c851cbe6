"""The experiment's configuration as frozen dataclasses: each field's one default.

`Experiment` is what `validate` returns and everything downstream reads (never the
ConfigDict); `defaults()` is every field at its default as a config file states it.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import ml_collections

from limits import languages
from limits import population
from limits.config import parse
from limits.models import transformer

SCHEDULES = ("constant", "cosine")
DERIVED = {"positional_mix"}   # dataclass fields no config sets (population.max_model_config)


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
  """The population grid; an empty field means the single value of model/train/data.

  Each member field has one owner: a non-empty grid field owns it for every member and
  the single value it replaces (`model.depth`, `model.heads`, `train.seed`, ...) is then
  unused; `Experiment.members` is where members get their values, and everything after
  validation reads depth and heads from the members (the max model: `population.max_model`).
  """

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
    return tuple(dataclasses.replace(m, train_lengths=lengths_with_members(
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
def lengths_with_members(spec: str, lengths: tuple[int, ...], p: float) -> tuple[int, ...]:
  """The lengths at which `spec` has members (sweep.languages members train on these)."""
  lang = languages.make_language(spec, p)
  ok = tuple(n for n in lengths if lang.members_exist(n))
  if not ok:
    raise ValueError(f"sweep.languages: {spec} has no member at any training length "
                     f"{lengths[0]}..{lengths[-1]}")
  return ok


def defaults() -> ml_collections.ConfigDict:
  """Every config field at its library default, as a config file states it (the lengths
  of `data` as text, "1-40", and the grid fields of `sweep` as empty strings): what
  configs/*.py start from, so they state only what they change."""
  c = ml_collections.ConfigDict()
  for name, cls in (("model", transformer.ModelConfig), ("data", DataConfig),
                    ("train", TrainConfig), ("eval", EvalConfig), ("sweep", SweepConfig)):
    section = {}
    for f in dataclasses.fields(cls):
      if f.name in DERIVED:
        continue
      v = f.default if f.default is not dataclasses.MISSING else f.default_factory()
      if isinstance(v, tuple) and name == "data":
        v = parse.format_lengths(v)
      elif isinstance(v, tuple) and name == "sweep":
        v = ""
      section[f.name] = v
    c[name] = section
  return c


def to_configdict(exp: Experiment) -> ml_collections.ConfigDict:
  """The inverse of `validate` (lengths as tuples), e.g. for tests and notebooks."""
  return ml_collections.ConfigDict(exp.to_dict())
