"""launch.export / limits.export: frozen splits checked against independent oracles, a
manifest whose sha256s match the files, FLaRe's layout, and refusals that keep data safe."""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from limits import export, records
from limits.languages import numpy_reference


def _export(tmp_path, name="out", **kw):
  cfg, lang = export.check(export.ExportConfig(**kw))
  splits, why = export.make_splits(cfg, lang)
  out = str(tmp_path / name)
  assert export.write(out, export.render(cfg, lang, splits, why)) == "written"
  return out, cfg, lang


PARITY = dict(language="parity", lengths=tuple(range(1, 9)), test_lengths=(tuple(range(1, 9)),
              tuple(range(9, 17))), train_count=200, validation_count=60, test_count=40, seed=3)


@pytest.fixture(scope="module")
def parity_export(tmp_path_factory):
  return _export(tmp_path_factory.mktemp("parity"), **PARITY)


def _manifest(out):
  with open(os.path.join(out, "manifest.json")) as f:
    return json.load(f)


def _jsonl(out, name):
  with open(os.path.join(out, f"{name}.jsonl")) as f:
    return records.read_jsonl(f)


def _parity_next(s):
  """Independent oracle: the paper's generator allows 0 and 1 always, EOS after an even
  number of 1s (q = 1/4, 1/4, 1/2 there, else 1/2, 1/2, 0)."""
  out = []
  for t in range(len(s) + 1):
    even = s[:t].count("1") % 2 == 0
    out.append(((0.25, 0.25, 0.5) if even else (0.5, 0.5, 0.0),
                ("0", "1", "EOS") if even else ("0", "1")))
  return out


def test_manifest_sha256_counts_and_files(parity_export):
  out, cfg, _ = parity_export
  m = _manifest(out)
  on_disk = sorted(os.path.relpath(os.path.join(r, f), out) for r, _, fs in os.walk(out)
                   for f in fs)
  assert on_disk == sorted(list(m["files"]) + ["manifest.json"])
  for rel, info in m["files"].items():
    data = open(os.path.join(out, rel), "rb").read()
    assert hashlib.sha256(data).hexdigest() == info["sha256"] and len(data) == info["bytes"]
  assert m["config"]["language"] == "parity" and m["seed"] == 3 and m["library"]["limits"]
  assert [s["name"] for s in m["splits"]] == ["train", "validation", "test_1-8", "test_9-16"]
  for sp in m["splits"]:
    recs = _jsonl(out, sp["name"])
    assert len(recs) == sp["count"] == sum(sp["by_length"].values())
    assert sp["count"] + sum(sp["short"].values()) == sp["requested"]
  assert m["splits"][0]["count"] == 200 and m["splits"][3]["count"] == 40
  assert export.verify(out) == []


def test_splits_are_disjoint_and_length_binned(parity_export):
  out, _, _ = parity_export
  m = _manifest(out)
  seen = {}
  for sp in m["splits"]:
    strings = {r.string for r in _jsonl(out, sp["name"])}
    for other, theirs in seen.items():
      assert not strings & theirs, (sp["name"], other)
    seen[sp["name"]] = strings
  assert {len(s) for s in seen["test_9-16"]} == set(range(9, 17))
  assert {len(s) for s in seen["test_1-8"]} <= set(range(1, 9))
  assert {len(s) for s in seen["train"]} == set(range(1, 9))
  # Short lengths run out of unseen strings: validation has none of length 1 (both
  # strings are in train), and the manifest counts what was left out.
  assert 1 not in {len(s) for s in seen["validation"]}
  assert m["splits"][1]["short"]["1"] > 0


def test_labels_and_next_symbols_match_independent_oracles(parity_export):
  out, _, _ = parity_export
  for sp in _manifest(out)["splits"]:
    recs = _jsonl(out, sp["name"])
    for r in recs:
      assert r.member == (r.string.count("1") % 2 == 0) and r.label == int(r.member)
      if r.member:
        want = _parity_next(r.string)
        assert r.symbols == ("0", "1", "EOS")
        assert r.next_symbols == tuple(w[1] for w in want), r.string
        assert r.next == tuple(w[0] for w in want)
      else:
        assert r.next is None and r.next_symbols is None   # FLaRe: members only
  train = _jsonl(out, "train")
  for n in range(1, 9):   # exactly balanced per length
    at = [r for r in train if r.length == n]
    assert sum(r.member for r in at) == len(at) // 2 + len(at) % 2


def test_tsv_has_a_header_naming_the_symbol_order_and_matches_jsonl(parity_export):
  out, _, _ = parity_export
  lines = open(os.path.join(out, "train.tsv")).read().splitlines()
  assert lines[0] == "string\tlength\tlabel\tmember\tnext_symbols\tnext[0/1/EOS]"
  member_line = next(l for l in lines[1:] if l.split("\t")[3] == "1")
  s, n, _, _, allowed, nxt = member_line.split("\t")
  assert len(nxt.split(" ")) == int(n) + 1 == len(allowed.split(" "))
  assert allowed.split(" ")[0] == "01$" and nxt.split(" ")[0] == "0.25/0.25/0.5"
  with open(os.path.join(out, "train.tsv")) as f:
    tsv = records.read_tsv(f, "recognition")
  assert [(r.string, r.member, r.next_symbols) for r in tsv] == \
         [(r.string, r.member, r.next_symbols) for r in _jsonl(out, "train")]


def _rewrite(out, rel, text):
  """Replaces a file and fixes its manifest entry, so that only content checks can fail."""
  path = os.path.join(out, rel)
  with open(path, "w") as f:
    f.write(text)
  m = _manifest(out)
  data = open(path, "rb").read()
  m["files"][rel] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
  with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(m, f)


def _copy(tmp_path, out, name):
  import shutil
  dst = str(tmp_path / name)
  shutil.copytree(out, dst)
  return dst


def test_verify_catches_each_broken_variant(tmp_path, parity_export):
  out, _, _ = parity_export
  lines = open(os.path.join(out, "train.jsonl")).read().splitlines()
  recs = [json.loads(l) for l in lines]

  def broken(name, change):
    d = _copy(tmp_path, out, name)
    change(d)
    return export.verify(d)

  # A wrong label (and member), written consistently into JSONL and TSV with fixed sha256s.
  i = next(k for k, r in enumerate(recs) if not r["member"])
  bad = dict(recs[i], member=True, label=1)

  def flip(d):
    _rewrite(d, "train.jsonl", "\n".join(json.dumps(bad) if k == i else l
                                           for k, l in enumerate(lines)) + "\n")
    tsv = open(os.path.join(d, "train.tsv")).read().splitlines()
    cells = tsv[i + 1].split("\t")
    cells[2:4] = ["1", "1"]
    tsv[i + 1] = "\t".join(cells)
    _rewrite(d, "train.tsv", "\n".join(tsv) + "\n")
  assert any("the oracle says" in p for p in broken("label", flip))
  # A validation string that is also in train.
  val = open(os.path.join(out, "validation.jsonl")).read().splitlines()
  val_tsv = open(os.path.join(out, "validation.tsv")).read().splitlines()
  train_tsv = open(os.path.join(out, "train.tsv")).read().splitlines()

  def overlap(d):
    j = next(k for k, r in enumerate(recs) if r["length"] >= 5)
    _rewrite(d, "validation.jsonl", "\n".join([lines[j]] + val[1:]) + "\n")
    _rewrite(d, "validation.tsv", "\n".join([val_tsv[0], train_tsv[j + 1]] + val_tsv[2:]) + "\n")
  assert any("splits overlap" in p for p in broken("overlap", overlap))
  # Next symbols that the exact q does not allow.
  k = next(k for k, r in enumerate(recs) if r["member"])
  wrong = json.loads(lines[k])
  wrong["next_symbols"][0] = ["0", "1"]

  def next_symbols(d):
    _rewrite(d, "train.jsonl", "\n".join(json.dumps(wrong) if x == k else l
                                           for x, l in enumerate(lines)) + "\n")
  assert any("next symbols at t = 0" in p for p in broken("next", next_symbols))
  # A file changed behind the manifest's back, an extra file, a missing one.
  assert any("sha256 differs" in p for p in broken(
      "sha", lambda d: open(os.path.join(d, "test_9-16.tsv"), "a").write("x\n")))
  assert any("not in the manifest" in p for p in broken(
      "extra", lambda d: open(os.path.join(d, "notes.txt"), "w").write("x")))
  assert any("missing" in p for p in broken(
      "missing", lambda d: os.remove(os.path.join(d, "validation.tsv"))))
  assert export.verify(out) == []   # the original is untouched


def _dyck_next(s, k=2):
  """Independent oracle for k-Dyck: opens always allowed, the close of the top bracket
  when the stack is non-empty, EOS when it is empty."""
  opens, closes = "([{<"[:k], ")]}>"[:k]
  out, stack = [], []
  for t in range(len(s) + 1):
    allowed = set(opens) | ({closes[opens.index(stack[-1])]} if stack else {"EOS"})
    out.append(allowed)
    if t < len(s):
      c = s[t]
      if c in opens:
        stack.append(c)
      else:
        stack.pop()
  return out


def test_flare_layout_dyck(tmp_path):
  out, _, lang = _export(tmp_path, language="dyck:k=2", lengths=(2, 4, 6, 8),
                         test_lengths=((10, 12), (14, 16)), train_count=120,
                         validation_count=30, test_count=20, seed=1, layout="flare")
  for d in ("", "datasets/validation-short", "datasets/test"):
    for f in ("main.tok", "labels.txt", "next-symbols.jsonl"):
      assert os.path.isfile(os.path.join(out, d, f)), (d, f)
  m = _manifest(out)
  assert [s["lines"] for s in m["splits"][2:]] == [[0, 20], [20, 40]]   # bins in datasets/test
  for d in ("", "datasets/test"):
    tok = open(os.path.join(out, d, "main.tok")).read().splitlines()
    labels = [int(x) for x in open(os.path.join(out, d, "labels.txt")).read().split()]
    nxt = [json.loads(l) for l in open(os.path.join(out, d, "next-symbols.jsonl"))]
    assert len(tok) == len(labels) and len(nxt) == sum(labels)   # next symbols: members only
    strings = ["".join(t.split()) for t in tok]
    assert all(t == " ".join(s) for t, s in zip(tok, strings))
    sym = np.array([lang.encode(s) + [0] * (16 - len(s)) for s in strings])
    n = np.array([len(s) for s in strings])
    want = [numpy_reference.dyck_accepts(sym[i:i + 1, :n[i]], 2)[0] for i in range(len(sym))]
    assert labels == [int(w) for w in want]
    members = [s for s, l in zip(strings, labels) if l]
    for s, entry in zip(members, nxt):
      assert len(entry) == len(s) + 1
      for pos, allowed in zip(entry, _dyck_next(s)):
        assert set(pos["s"].split()) | ({"EOS"} if pos["e"] else set()) == allowed
        assert pos["s"].split() == sorted(pos["s"].split())
  assert export.verify(out) == []


def test_prediction_records_every_prefix(tmp_path):
  out, _, _ = _export(tmp_path, language="parity", task="prediction", lengths=(3, 4, 5),
                      test_lengths=((6, 7),), train_count=30, validation_count=10,
                      test_count=10)
  for r in _jsonl(out, "train"):
    assert r.task == "prediction" and r.label is None
    assert r.member == (r.string.count("1") % 2 == 0)
    want = _parity_next(r.string)
    assert r.next == tuple(w[0] for w in want) and r.next_symbols == tuple(w[1] for w in want)
  assert export.verify(out) == []


def test_next_symbols_left_out_where_the_generator_is_not_the_language(tmp_path):
  # parity:odd labels odd counts as members; the paper's generator stops on even counts.
  out, _, _ = _export(tmp_path, language="parity:odd", lengths=(4, 5), test_lengths=((6,),),
                      train_count=20, validation_count=0, test_count=10)
  m = _manifest(out)
  assert m["next"].startswith("omitted") and "parity:odd" in m["next"]
  recs = _jsonl(out, "train")
  assert all(r.next is None and r.member == (r.string.count("1") % 2 == 1) for r in recs)
  out2, _, _ = _export(tmp_path, "cyc", language="cycle_navigation", lengths=(3, 4),
                       test_lengths=((5,),), train_count=20, validation_count=5, test_count=5)
  recs = _jsonl(out2, "train")
  assert {r.label for r in recs} <= set(range(5)) and all(r.next is None for r in recs)
  assert all(r.member == (r.label == 0) for r in recs)
  assert export.verify(out) == [] and export.verify(out2) == []


def test_same_config_same_bytes_and_splits_stable_under_new_bins(tmp_path):
  a, _, _ = _export(tmp_path, "a", **PARITY)
  b, _, _ = _export(tmp_path, "b", **PARITY)
  c, _, _ = _export(tmp_path, "c", **{**PARITY, "test_lengths": ((20, 21),)})
  d, _, _ = _export(tmp_path, "d", **{**PARITY, "seed": 4})
  read = lambda out, f: open(os.path.join(out, f), "rb").read()
  assert read(a, "manifest.json") == read(b, "manifest.json")
  assert read(a, "train.jsonl") == read(c, "train.jsonl")
  assert read(a, "validation.jsonl") == read(c, "validation.jsonl")
  assert read(a, "train.jsonl") != read(d, "train.jsonl")


def test_write_refuses_other_content(tmp_path):
  cfg, lang = export.check(export.ExportConfig(**PARITY))
  files = export.render(cfg, lang, *export.make_splits(cfg, lang))
  out = str(tmp_path / "e")
  assert export.write(out, files) == "written"
  assert export.write(out, files) == "unchanged"
  other = dict(files)
  other["train.tsv"] = b"changed\n"
  other["manifest.json"] = files["manifest.json"].replace(b'"seed": 3', b'"seed": 3 ')
  with pytest.raises(export.ExportExists, match="--overwrite"):
    export.write(out, other)
  assert open(os.path.join(out, "train.tsv"), "rb").read() == files["train.tsv"]
  assert export.write(out, other, overwrite=True) == "replaced"
  assert open(os.path.join(out, "train.tsv"), "rb").read() == b"changed\n"
  (tmp_path / "notes").mkdir()
  (tmp_path / "notes" / "mine.txt").write_text("keep")
  with pytest.raises(export.ExportExists, match="not an export"):
    export.write(str(tmp_path / "notes"), files, overwrite=True)
  assert (tmp_path / "notes" / "mine.txt").read_text() == "keep"
  assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p or ".old-" in p]


@pytest.mark.parametrize("kw,needle", [
    (dict(lengths=(0, 1)), "--lengths"),
    (dict(language="dyck:k=2", lengths=(1, 2)), "--lengths"),
    (dict(test_lengths=((1, 2), (2, 3))), "disjoint"),
    (dict(task="prediction", layout="flare"), "--format"),
    (dict(language="cycle_navigation", task="prediction"), "--task"),
    (dict(train_count=0), "--train_count"),
    (dict(layout="csv"), "--format"),
    (dict(language="parrity"), "unknown language"),
])
def test_check_names_the_flag(kw, needle):
  with pytest.raises(ValueError, match=needle):
    export.check(export.ExportConfig(**{"language": "parity", **kw}))


def _run(repo, *args):
  return subprocess.run([sys.executable, "-m", "launch.export", *args], cwd=repo,
                        capture_output=True, text=True, timeout=300)


def _one_line(p, status, needle):
  lines = p.stderr.strip().splitlines()
  assert p.returncode == status, (p.returncode, p.stderr[-2000:])
  assert len(lines) == 1 and needle in lines[0], p.stderr[-2000:]


def test_cli_writes_verifies_and_refuses(repo, tmp_path):
  out = str(tmp_path / "cli")
  args = ["--language=parity", "--lengths=1-6", "--train_count=40", "--validation_count=10",
          "--test_count=10", f"--out={out}"]
  p = _run(repo, *args)
  assert p.returncode == 0, p.stderr
  assert "written" in p.stdout and "test_7-12" in p.stdout
  before = {f: open(os.path.join(out, f), "rb").read() for f in os.listdir(out)}
  p = _run(repo, *args)
  assert p.returncode == 0 and "unchanged" in p.stdout, p.stderr
  _one_line(_run(repo, *args, "--seed=1"), 2, "holds a different export (differs in seed)")
  assert {f: open(os.path.join(out, f), "rb").read() for f in os.listdir(out)} == before
  v = subprocess.run([sys.executable, "-m", "launch.export", f"--verify={out}"], cwd=repo,
                     capture_output=True, text=True)
  assert v.returncode == 0 and v.stdout.startswith("ok:"), v.stderr
  with open(os.path.join(out, "train.tsv"), "a") as f:
    f.write("extra\n")
  v = subprocess.run([sys.executable, "-m", "launch.export", f"--verify={out}"], cwd=repo,
                     capture_output=True, text=True)
  _one_line(v, 1, "train.tsv: sha256 differs")
  p = _run(repo, *args, "--seed=1", "--overwrite")
  assert p.returncode == 0 and "replaced" in p.stdout, p.stderr
  assert _manifest(out)["seed"] == 1
  (tmp_path / "file").write_text("x")
  for extra, status, needle in ((["--out=/proc/x"], 74, "cannot write"),
                                ([f"--out={tmp_path / 'file'}"], 2, "is a file"),
                                (["--test_lengths=1-3;3-5", f"--out={tmp_path / 'n'}"], 2,
                                 "disjoint")):   # the other checks: test_check_names_the_flag
    _one_line(_run(repo, *extra), status, needle)
  assert not (tmp_path / "n").exists()
