"""What every experiment shares: training a small config, building a construction as a
workdir, labelling and merging probe results, and saving a result's JSON and figures."""

from __future__ import annotations

import json
import os
from typing import Any

import ml_collections

from limits import atomic, checkpoint, construct, experiment
from limits import config as config_lib
from limits import setup as setup_lib
from limits.models import constructions
from limits.probes import common as probe_common
from limits.probes import figures


def _save(result: dict, outdir: str, name: str) -> list[str]:
  os.makedirs(outdir, exist_ok=True)
  atomic.write_text(os.path.join(outdir, f"{name}.json"),
                    json.dumps(probe_common.jsonable(result), indent=1))
  return figures.draw(result, outdir, name)


def _train(cfg: ml_collections.ConfigDict, workdir: str, log) -> tuple[Any, Any]:
  exp = config_lib.validate(cfg)
  experiment.run(exp, workdir, log=lambda s: None)
  setup, state = experiment.load(workdir)
  log(f"  trained {workdir}")
  return setup, state.params


def _construction(name: str, workdir: str, **options) -> tuple[Any, Any]:
  c = constructions.build(name, **options)
  exp = construct.experiment(c)
  if not os.path.exists(os.path.join(workdir, checkpoint.CONFIG_FILE)):
    construct.write(c, workdir)  # a rerun (or a second experiment) reuses it
  return setup_lib.make_setup(exp), construct.state(c, exp).params


def _label(result: dict, label: str) -> dict:
  for m in result["members"]:
    m["label"] = label if len(result["members"]) == 1 else f"{label} #{m['member']} L={m['depth']} H={m['heads']}"
  return result


def _merge(results: list[dict]) -> dict:
  out = dict(results[0])
  out["members"] = [m for r in results for m in r["members"]]
  return out
