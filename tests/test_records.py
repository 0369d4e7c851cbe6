"""limits.records: the one JSONL schema of launch.sample, launch.export and launch.predict
(one record per string), read back by one reader, and its TSV form with a header."""

import json
import subprocess
import sys

import numpy as np
import pytest

from limits import construct, records
from limits.models import constructions as C


def _run(repo, *args, stdin=None):
  p = subprocess.run([sys.executable, "-m", *args], cwd=repo, input=stdin, capture_output=True,
                     text=True, timeout=300)
  assert p.returncode == 0, p.stderr[-3000:]
  return p.stdout


def test_sample_export_and_predict_write_records_one_reader_reads(repo, tmp_path):
  got = {}
  for task in ("recognition", "prediction"):
    got[f"sample {task}"] = records.read_jsonl(_run(
        repo, "launch.sample", "--language=parity", f"--task={task}", "--length=5",
        "--count=4", "--format=jsonl").splitlines())
  out = tmp_path / "export"
  _run(repo, "launch.export", "--language=parity", "--lengths=3-4", "--test_lengths=5",
       "--train_count=8", "--validation_count=2", "--test_count=2", f"--out={out}")
  got["export"] = records.read_jsonl(open(out / "train.jsonl"))
  cc = tmp_path / "cc"
  construct.write(C.build("cc_parity"), str(cc))
  got["predict recognition"] = records.read_jsonl(_run(
      repo, "launch.predict", f"--workdir={cc}", "--format=jsonl", stdin="0110\n111\n").splitlines())
  pred = tmp_path / "pred"
  _run(repo, "launch.train", "--config=configs/parity.py:prediction_smoke",
       "--config.train.steps=0", "--config.data.eval_lengths=1-2", f"--workdir={pred}")
  got["predict prediction"] = records.read_jsonl(_run(
      repo, "launch.predict", f"--workdir={pred}", stdin="0110\n1\n").splitlines())
  for name, recs in got.items():
    assert recs, name
    for r in recs:
      assert r.member == (r.string.count("1") % 2 == 0), (name, r)   # every writer: exact
      if r.next is not None:
        assert r.symbols == ("0", "1", "EOS") and len(r.next) == r.length + 1, name
  assert all(r.task == "prediction" and r.next is not None and r.next_symbols is not None
             for r in got["sample prediction"])
  assert [r.string for r in got["predict recognition"]] == ["0110", "111"]
  assert [r.label for r in got["predict recognition"]] == [1, 0]       # cc_parity is exact
  assert all(r.p_member is not None and r.log_odds is not None for r in got["predict recognition"])
  assert all(r.next is not None and r.label is None for r in got["predict prediction"])
  assert all(r.label == int(r.member) for r in got["sample recognition"] + got["export"])
  # The TSVs name their columns and the order of each distribution in a header.
  tsv = _run(repo, "launch.sample", "--language=parity", "--task=prediction", "--length=3",
             "--count=2").splitlines()
  assert tsv[0] == "string\tnext[0/1/EOS]" and len(tsv) == 3
  recs = records.read_tsv(tsv, "prediction")
  assert all(len(r.next) == 4 and r.next[0] == (0.25, 0.25, 0.5) for r in recs)
  tsv = _run(repo, "launch.predict", f"--workdir={pred}", "--format=tsv",
             stdin="01\n").splitlines()
  assert tsv[0] == "string\tnext[0/1/EOS]"
  (row,) = records.read_tsv(tsv, "prediction")
  assert row.string == "01" and len(row.next) == 3
  # The paper's unmasked model re-reads each prefix: "0110"'s first rows are "01"'s.
  np.testing.assert_allclose(row.next, got["predict prediction"][0].next[:3], rtol=1e-5)


def test_sample_docstring_matches_one_object_per_string(repo):
  from launch import sample
  assert "one JSON object per string" in sample.__doc__ and "per prefix" not in sample.__doc__
  out = _run(repo, "launch.sample", "--language=tomita3", "--task=prediction", "--length=6",
             "--count=3", "--format=jsonl").splitlines()
  assert len(out) == 3 and all(len(json.loads(l)["next"]) == 7 for l in out)


BAD = [
    ({"string": "01", "length": 3, "task": "recognition"}, "length"),
    ({"string": "01", "length": 2, "task": "guess"}, "task"),
    ({"string": "01", "length": 2, "task": "recognition", "extra": 1}, "unknown field"),
    ({"string": "0", "length": 1, "task": "prediction", "next": [[1, 0], [0, 1]]}, "symbols"),
    ({"string": "0", "length": 1, "task": "prediction", "symbols": ["0", "EOS"],
      "next": [[1, 0]]}, "rows"),
    ({"string": "0", "length": 1, "task": "prediction", "symbols": ["0", "EOS"],
      "next": [[0.5, 0.2], [0, 1]]}, "sums"),
    ({"string": "0", "length": 1, "task": "prediction", "symbols": ["0", "EOS"],
      "next_symbols": [["0"], ["x"]]}, r"next_symbols\[1\]"),
    ({"string": "0", "length": 1, "task": "recognition", "member": 1}, "member"),
]


@pytest.mark.parametrize("record,needle", BAD)
def test_reader_names_what_breaks_the_schema(record, needle):
  with pytest.raises(ValueError, match=needle):
    records.read_jsonl(["", json.dumps(record)])
  with pytest.raises(ValueError, match="line 2"):
    records.read_jsonl(["", json.dumps(record)])


def test_round_trip_jsonl_and_tsv():
  r = records.Record(string="01", task="prediction", member=False, symbols=("0", "1", "EOS"),
                     next=((0.25, 0.25, 0.5), (0.25, 0.25, 0.5), (0.5, 0.5, 0.0)),
                     next_symbols=(("0", "1", "EOS"), ("0", "1", "EOS"), ("0", "1")))
  assert records.read_jsonl([records.to_json(r)]) == [r]
  lines = list(records.tsv_lines([r], ["string", "length", "member", "next_symbols", "next"],
                                 r.symbols))
  assert lines == ["string\tlength\tmember\tnext_symbols\tnext[0/1/EOS]",
                   "01\t2\t0\t01$ 01$ 01\t0.25/0.25/0.5 0.25/0.25/0.5 0.5/0.5/0"]
  assert records.read_tsv(lines, "prediction") == [r]
