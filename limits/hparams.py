"""A run's members in TensorBoard's HParams view: one session per member, sortable and
filterable by its hyperparameters and its in/out-of-distribution results.

Written by `experiment.run` after evaluation (process 0) into `WORKDIR/tensorboard/hparams/`:

  hparams/member_<i>/      member i's session: its hyperparameters (session start), its
                           metrics as scalars at the final step, its status (session end:
                           success, or failure for a diverged member)

`tensorboard --logdir WORKDIR/tensorboard` shows them in the HParams tab beside the
training curves of `WORKDIR/tensorboard`; `--logdir` above several workdirs shows every
run's members in one table. No experiment summary is written: TensorBoard then builds the
table's columns from all the sessions it finds (strings and booleans with their values,
numbers with their range, every scalar of a session as a metric), where one run's
summary would hide the hyperparameter values of every other run under the same logdir
(it uses the first summary it finds; a `sweep.kinds` run has one workdir per kind). The
directory is derived data: it is replaced whole (written beside, then renamed) each
time the run is evaluated, so a rerun never doubles its sessions.

Hyperparameters: every field of `population.Member` (depth, heads, seed, lr,
train_length, language, and positional where a sweep varies it), a field left empty
taking the run's own value (`data.language`, `model.positional`), and the run-wide
kind, width, attention, layer_norm and task. Metrics (tags `hparams/<name>`):
id_accuracy, ood_accuracy, id_xent_bits, ood_xent_bits: means over the member's
evaluated lengths within / beyond its training lengths (`results.is_out_of_distribution`);
a metric without lengths (no length beyond training) or of a diverged member is left out.

The summaries are the HParams plugin's protocol buffers (`tensorboardX.proto`: plugin
name "hparams", tags `_hparams_/session_start_info` and `_hparams_/session_end_info`);
metrics are plain scalars in the session's own run, where the plugin looks for them.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import time
from typing import Any, Sequence

from limits import results

DIR = "hparams"
# Member fields under the names results.csv uses, and where an empty one takes its value.
_RENAME = {"learning_rate": "lr", "train_lengths": "train_length"}
_FALLBACK = {"language": ("data", "language"), "positional": ("model", "positional"),
             "kind": ("model", "kind")}


def member_hparams(exp, member) -> dict[str, Any]:
  """Hyperparameter name -> value (str, float or bool) of one member."""
  out: dict[str, Any] = {}
  for f in dataclasses.fields(member):
    v = getattr(member, f.name)
    if f.name == "train_lengths":
      v = member.train_range
    elif v in ("", None) and f.name in _FALLBACK:
      section, field = _FALLBACK[f.name]
      v = getattr(getattr(exp, section), field)
    out[_RENAME.get(f.name, f.name)] = v
  kind = out.get("kind") or exp.model.kind
  out.setdefault("kind", kind)
  out.setdefault("width", exp.model.width)
  out.setdefault("task", exp.data.task)
  if kind == "transformer":
    out.setdefault("positional", exp.model.positional)
    out.setdefault("attention", exp.model.attention)
    out.setdefault("layer_norm", exp.model.layer_norm)
  else:
    out.pop("positional", None)
  return {k: (v if isinstance(v, (str, bool)) else float(v)) for k, v in out.items()}


def member_metrics(rows: Sequence[dict[str, Any]]) -> dict[int, dict[str, float]]:
  """member -> metric tag -> value, from result rows (diverged members get none)."""
  per: dict[int, list[dict[str, Any]]] = {}
  for r in rows:
    per.setdefault(int(r["member"]), []).append(r)
  out: dict[int, dict[str, float]] = {}
  for m, rs in per.items():
    metrics: dict[str, float] = {}
    if not any(int(r.get("diverged", 0)) for r in rs):
      for side, pick in (("id", lambda r: not results.is_out_of_distribution(r)),
                         ("ood", results.is_out_of_distribution)):
        chosen = [r for r in rs if pick(r)]
        for key in ("accuracy", "xent_bits"):
          vals = [float(r[key]) for r in chosen if math.isfinite(float(r[key]))]
          if vals:
            metrics[f"hparams/{side}_{key}"] = sum(vals) / len(vals)
    out[m] = metrics
  return out


def _value(v):
  from google.protobuf import struct_pb2
  out = struct_pb2.Value()
  if isinstance(v, bool):
    out.bool_value = v
  elif isinstance(v, str):
    out.string_value = v
  else:
    out.number_value = float(v)
  return out


def _summary(tag: str, **content):
  from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData
  from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
  data = HParamsPluginData(version=0, **content)
  meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
      plugin_name="hparams", content=data.SerializeToString()))
  return Summary(value=[Summary.Value(tag=tag, metadata=meta)])


def sessions(exp, members, rows) -> list[tuple[str, list, dict[str, float]]]:
  """(run name, [session start, session end summaries], {metric tag: value}) per member."""
  from tensorboardX.proto import api_pb2
  from tensorboardX.proto.plugin_hparams_pb2 import SessionEndInfo, SessionStartInfo
  hps = [member_hparams(exp, m) for m in members]
  metrics = member_metrics(rows)
  out = []
  for i, h in enumerate(hps):
    start = SessionStartInfo(start_time_secs=time.time())
    for k, v in h.items():
      start.hparams[k].CopyFrom(_value(v))
    diverged = any(int(r.get("diverged", 0)) for r in rows if int(r["member"]) == i)
    end = SessionEndInfo(status=api_pb2.Status.Value("STATUS_FAILURE" if diverged
                                                     else "STATUS_SUCCESS"),
                         end_time_secs=time.time())
    out.append((f"member_{i}",
                [_summary("_hparams_/session_start_info", session_start_info=start),
                 _summary("_hparams_/session_end_info", session_end_info=end)],
                metrics.get(i, {})))
  return out


def write(logdir: str, exp, members, rows: Sequence[dict[str, Any]], step: int) -> str:
  """Writes `logdir/hparams` (replacing an earlier one); returns its path. OSError on a
  failed write (nothing partial is left in place of the old directory)."""
  from tensorboardX.proto.summary_pb2 import Summary
  from tensorboardX.writer import FileWriter
  runs = sessions(exp, members, rows)
  final = os.path.join(logdir, DIR)
  tmp = os.path.join(logdir, f".{DIR}.tmp-{os.getpid()}")
  shutil.rmtree(tmp, ignore_errors=True)
  try:
    os.makedirs(tmp)
    for name, sums, metrics in runs:
      w = FileWriter(os.path.join(tmp, name))
      for s in sums:
        w.add_summary(s, step)
      for tag, v in metrics.items():
        w.add_summary(Summary(value=[Summary.Value(tag=tag, simple_value=v)]), step)
      w.close()
    old = os.path.join(logdir, f".{DIR}.old-{os.getpid()}")
    if os.path.isdir(final):
      os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  return final
