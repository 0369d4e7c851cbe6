"""Theorem 6 in the paper's form (issue 14.2): the unmasked encoder, trained and evaluated
at each n (protocol hahn), beside an LSTM; the paper's model is the default."""

import json
import os

from limits import config as config_lib
from limits import reproduce
from limits.reproduce import cross_entropy
from limits.models import transformer
from configs import parity as parity_config


def test_default_model_is_the_papers():
  assert transformer.ModelConfig().causal is False
  assert config_lib.validate(parity_config.get_config("prediction_smoke")).model.causal is False
  cfg = reproduce._config("parity", "prediction", reproduce.SCALES["smoke"])
  assert config_lib.validate(cfg).model.causal is False


def test_theorem6_trains_the_papers_model_at_each_n(tmp_path, monkeypatch):
  monkeypatch.setattr(cross_entropy, "_theorem6_causal_extra", lambda *a: None)
  path = reproduce.run("smoke", str(tmp_path), log=lambda s: None, only=("theorem6",))
  text = open(path).read()
  assert "**Failed**" not in text, text
  assert "| n | transformer xent | LSTM xent | optimal | chance |" in text
  ns = list(reproduce.SCALES["smoke"]["t6_lengths"])
  res = json.load(open(tmp_path / "theorem6" / "hahn_dyck.json"))
  assert res["protocol"] == "hahn" and res["causal"] is False
  assert [r["n"] for r in res["rows"]] == ns
  for r in res["rows"]:
    for who in ("transformer", "lstm"):
      assert r[who]["xent_bits"] > r["optimal_xent_bits"] - 1e-3, (who, r)
    assert 0 < r["excess_bound_bits"] < 1
  for kind in ("transformer", "lstm"):
    cfg = json.load(open(tmp_path / "runs" / f"dyck_t6_{kind}" / "config.json"))
    cfg = cfg.get("config", cfg)
    assert cfg["model"]["kind"] == kind and cfg["model"]["causal"] is False
    assert cfg["sweep"]["protocol"] == "hahn"
    assert [list(t) for t in cfg["sweep"]["train_lengths"]] == [[n] for n in ns]
    assert cfg["data"]["task"] == "prediction"
