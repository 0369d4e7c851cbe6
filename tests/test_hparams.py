"""limits.hparams: a sweep's members as TensorBoard HParams sessions, read back from the
event files with a reader written here (TFRecord framing, CRCs and the plugin's protos),
and with TensorBoard's own HParams backend when tensorboard is installed."""

import os
import struct

import pytest

from configs import sweep as sweep_config
from limits import config as config_lib
from limits import hparams


def read_events(path):
  """Every Event of one tfevents file; checks each record's two masked CRC32Cs."""
  from tensorboardX.proto.event_pb2 import Event
  from tensorboardX.record_writer import masked_crc32c
  out = []
  with open(path, "rb") as f:
    data = f.read()
  i = 0
  while i < len(data):
    header = data[i:i + 8]
    (n,) = struct.unpack("<Q", header)
    (crc,) = struct.unpack("<I", data[i + 8:i + 12])
    assert crc == masked_crc32c(header), "length CRC"
    body = data[i + 12:i + 12 + n]
    (crc,) = struct.unpack("<I", data[i + 12 + n:i + 16 + n])
    assert crc == masked_crc32c(body), "data CRC"
    out.append(Event.FromString(body))
    i += 16 + n
  return out


def read_run(directory):
  """{tag: [Summary.Value]} of the events files directly in `directory`."""
  tags = {}
  for name in sorted(os.listdir(directory)):
    if name.startswith("events.out.tfevents"):
      for e in read_events(os.path.join(directory, name)):
        for v in e.summary.value:
          tags.setdefault(v.tag, []).append((e.step, v))
  return tags


def _plugin_data(value):
  from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData
  assert value.metadata.plugin_data.plugin_name == "hparams"
  return HParamsPluginData.FromString(value.metadata.plugin_data.content)


def _exp(language="parity"):
  cfg = sweep_config.get_config("smoke")
  cfg.sweep.seeds = "0-1"
  cfg.data.language = language
  return config_lib.validate(cfg)


def _rows(exp):
  """Result rows: member m has accuracy 0.9 + m/100 in distribution and 0.5 + m/100 beyond;
  member 1 diverged."""
  rows = []
  top = max(exp.data.train_lengths)
  for m, mem in enumerate(exp.members):
    for n in (top - 1, top, top + 1, top + 5):
      ood = n > top
      rows.append({"member": m, "length": n, "train_length": mem.train_range,
                   "accuracy": (0.5 if ood else 0.9) + m / 100, "xent_bits": 1.0 if ood else 0.1,
                   "diverged": int(m == 1)})
  return rows


def test_one_session_per_member_with_hparams_and_metrics(tmp_path):
  exp = _exp()
  members = exp.members
  assert len(members) == 8 and {m.seed for m in members} == {0, 1}
  path = hparams.write(str(tmp_path), exp, members, _rows(exp), step=30)
  assert path == str(tmp_path / "hparams")
  assert not [f for f in os.listdir(path) if f.startswith("events")]   # no experiment summary
  runs = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))
  assert runs == [f"member_{i}" for i in range(8)]
  for i, mem in enumerate(members):
    tags = read_run(os.path.join(path, f"member_{i}"))
    (start,) = [_plugin_data(v).session_start_info for _, v in tags["_hparams_/session_start_info"]]
    hp = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}
    assert (hp["depth"], hp["heads"], hp["seed"], hp["lr"]) == (mem.depth, mem.heads, mem.seed,
                                                                 pytest.approx(mem.learning_rate))
    assert hp["language"] == "parity" and hp["positional"] == exp.model.positional
    assert hp["train_length"] == mem.train_range and hp["kind"] == "transformer"
    (end,) = [_plugin_data(v).session_end_info for _, v in tags["_hparams_/session_end_info"]]
    from tensorboardX.proto.api_pb2 import Status
    assert end.status == Status.Value("STATUS_FAILURE" if i == 1 else "STATUS_SUCCESS")
    if i == 1:   # diverged: no metrics
      assert not any(t.startswith("hparams/") for t in tags)
      continue
    (step, v), = tags["hparams/id_accuracy"]
    assert step == 30 and v.simple_value == pytest.approx(0.9 + i / 100)
    (_, v), = tags["hparams/ood_accuracy"]
    assert v.simple_value == pytest.approx(0.5 + i / 100)
    (_, v), = tags["hparams/ood_xent_bits"]
    assert v.simple_value == pytest.approx(1.0)
  # Written again (a rerun re-evaluates): replaced, not doubled.
  hparams.write(str(tmp_path), exp, members, _rows(exp), step=40)
  tags = read_run(os.path.join(path, "member_0"))
  assert [s for s, _ in tags["hparams/id_accuracy"]] == [40]
  assert sorted(os.listdir(tmp_path)) == ["hparams"]


def test_tensorboard_hparams_backend_lists_the_sessions(tmp_path):
  """TensorBoard's own reader and HParams plugin backend see one session group per member
  with its hyperparameters and metric values, and two runs under one logdir side by side."""
  pytest.importorskip("tensorboard")
  from tensorboard import context
  from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
  from tensorboard.plugins import base_plugin
  from tensorboard.plugins.hparams import api_pb2, hparams_plugin, list_session_groups
  for lang in ("parity", "first"):
    exp = _exp(lang)
    hparams.write(str(tmp_path / lang / "tensorboard"), exp, exp.members, _rows(exp), step=30)
  mux = plugin_event_multiplexer.EventMultiplexer()
  mux.AddRunsFromDirectory(str(tmp_path))
  mux.Reload()
  provider = data_provider.MultiplexerDataProvider(mux, str(tmp_path))
  ctx = base_plugin.TBContext(logdir=str(tmp_path), multiplexer=mux, data_provider=provider)
  plugin = hparams_plugin.HParamsPlugin(ctx)
  experiment = plugin._context.experiment_from_metadata(
      context.RequestContext(), "", True,
      plugin._context.hparams_metadata(context.RequestContext(), ""), [])
  infos = {h.name: h for h in experiment.hparam_infos}
  assert sorted(infos["language"].domain_discrete) == ["first", "parity"]
  assert (infos["depth"].domain_interval.min_value, infos["depth"].domain_interval.max_value) == (1, 2)
  assert {m.name.tag for m in experiment.metric_infos} == {
      "hparams/id_accuracy", "hparams/ood_accuracy", "hparams/id_xent_bits", "hparams/ood_xent_bits"}
  request = api_pb2.ListSessionGroupsRequest(
      allowed_statuses=[api_pb2.STATUS_SUCCESS, api_pb2.STATUS_FAILURE],
      col_params=[api_pb2.ColParams(metric=api_pb2.MetricName(tag="hparams/ood_accuracy"),
                                    order=api_pb2.ORDER_DESC),
                  api_pb2.ColParams(hparam="language", filter_discrete={"values": [
                      {"string_value": "first"}]})],
      start_index=0, slice_size=100)
  groups = list_session_groups.Handler(context.RequestContext(), plugin._context, "",
                                       request).run().session_groups
  assert len(groups) == 8 and all(g.hparams["language"].string_value == "first" for g in groups)
  values = {m.name.tag: m.value for m in groups[0].metric_values}
  assert values["hparams/ood_accuracy"] == pytest.approx(0.57)   # member 7 is best
  assert groups[0].name.endswith("member_7")
