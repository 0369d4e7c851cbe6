"""Checkpoint analysis: the paper's theorems as measurements (see each module).

`PROBES` maps the names users type (`--probe=NAME`) to `Probe(config, run)`: `config`
a frozen dataclass of the probe's fields (`--probe.<field>=value`), `run(setup,
params_M, config) -> dict` a pure function of a population's setup and stacked params
(trained, constructed or freshly initialised) returning JSON-able data, one entry per
member under "members". `limits.probes.figures` draws them; `launch.analyze` writes them.

  sensitivity           Lemma 5: change of y_n^(L) under one substitution, slope, bound
  xent                  Theorem 6: cross-entropy against n vs optimal/chance; 2DYCK P_0
  restriction           Theorem 1: influential free positions after a restriction
  function_sensitivity  average sensitivity, sharpness, layer-norm blow-up
  attention             attention maps of chosen strings; attention entropy against n
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from limits.probes import (attention_maps, function_sensitivity, restriction, sensitivity,
                           xent)


@dataclasses.dataclass(frozen=True)
class Probe:
  config: type
  run: Callable[..., dict[str, Any]]


PROBES: dict[str, Probe] = {
    "sensitivity": Probe(sensitivity.Config, sensitivity.run),
    "xent": Probe(xent.Config, xent.run),
    "restriction": Probe(restriction.Config, restriction.run),
    "function_sensitivity": Probe(function_sensitivity.Config, function_sensitivity.run),
    "attention": Probe(attention_maps.Config, attention_maps.run),
}


def make_config(name: str, fields: dict[str, Any] | None = None) -> Any:
  """The probe's validated config with `fields` set; ValueError names a bad name/field."""
  if name not in PROBES:
    raise ValueError(f"--probe: unknown probe {name!r}; allowed: {', '.join(PROBES)}")
  cls = PROBES[name].config
  known = {f.name: f for f in dataclasses.fields(cls)}
  values = {}
  for k, v in (fields or {}).items():
    if k not in known:
      raise ValueError(f"probe.{k}: {name} has no such field; fields: {', '.join(known)}")
    default = known[k].default
    try:
      values[k] = type(default)(v) if not isinstance(default, str) else str(v)
    except (TypeError, ValueError):
      raise ValueError(f"probe.{k}: expected {type(default).__name__}, got {v!r}") from None
  return cls(**values).validate()


def run(name: str, setup: Any, params_M: Any, fields: dict[str, Any] | None = None) -> dict[str, Any]:
  """Runs probe `name` with `fields` over every member of the population."""
  return PROBES[name].run(setup, params_M, make_config(name, fields))
