"""The regular-language atlas (limits/atlas/, launch/atlas.py)."""

import csv
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from limits import atlas, languages
from limits.languages import algebra

REQUIRED = ("language", "states", "monoid_size", "aperiodic", "quasi_aperiodic", "c_rasp",
            "avg_sensitivity_16", "model", "predicted", "id_accuracy", "ood_accuracy",
            "seed_success", "agree")
BOOLEAN = ("aperiodic", "quasi_aperiodic", "r_trivial", "r_omega", "c_rasp", "predicted",
           "predicted_soft_growing_n", "trained")


def test_all_binary_2_resolves_to_loadable_dfas(tmp_path):
  entries = atlas.resolve("all_binary_2", str(tmp_path), range(1, 9))
  assert len(entries) == 8
  # Sigma* (1 state), odd length, non-empty: one class only at every length.
  assert sum(e.trainable for e in entries) == 5
  for e, d in zip(entries, algebra.enumerate_binary(2)):
    assert e.train_spec.startswith("dfa:path=") and os.path.isfile(e.train_spec[9:])
    loaded = algebra.minimize(algebra.dfa_of(e.train_spec))
    assert loaded.key() == d.key() == e.verdict.dfa.key()


def test_sets_and_files_join(tmp_path):
  f = tmp_path / "specs.txt"
  f.write_text("# my languages\nfirst\n\nmod:m=3\n")
  entries = atlas.resolve(f"tomita+{f}", str(tmp_path), range(1, 9))
  assert [e.spec for e in entries] == [f"tomita{i}" for i in range(1, 8)] + ["first", "mod:m=3"]
  assert [e.verdict.c_rasp for e in entries[-2:]] == [True, False]
  for bad, match in (("nope", "neither a set"), ("all_binary_9", "unknown set"),
                     ("tomita+dyck:k=2", "neither a set")):
    with pytest.raises(ValueError, match=match):
      atlas.resolve(bad, str(tmp_path), range(1, 9))
  (tmp_path / "empty.txt").write_text("# nothing\n")
  with pytest.raises(ValueError, match="lists no language"):
    atlas.resolve(str(tmp_path / "empty.txt"), str(tmp_path), range(1, 9))
  with pytest.raises(ValueError, match="not a regular language"):
    atlas.resolve(_file(tmp_path, "majority"), str(tmp_path), range(1, 9))


def _file(tmp_path, *specs):
  p = tmp_path / "f.txt"
  p.write_text("\n".join(specs) + "\n")
  return str(p)


@pytest.mark.parametrize("spec", ["even_pairs", "cycle_navigation", "parity_check",
                                  "parity"])
def test_non_dfa_languages_train_as_their_member_language(tmp_path, spec):
  """Delétang's tasks enter as `class 0`, PARITY as its 2-state DFA."""
  (e,) = atlas.resolve(_file(tmp_path, spec), str(tmp_path), range(1, 9))
  trained = languages.make_language(e.train_spec)
  orig = languages.make_language(spec)
  n = 7
  x = jax.random.randint(jax.random.key(0), (256, n), 0, orig.n_symbols)
  lengths = jnp.full((256,), n, jnp.int32)
  np.testing.assert_array_equal(trained.accepts(x, lengths), orig.accepts(x, lengths))


def test_rows_predicted_observed_agree_and_contradict(tmp_path):
  entries = atlas.resolve(_file(tmp_path, "first", "parity"), str(tmp_path), range(1, 9))
  ok = {"id_accuracy": 1.0, "ood_accuracy": 0.95, "best_ood_accuracy": 1.0, "id_xent_bits": 0,
        "ood_xent_bits": 0.1, "members": 3, "seed_success": 1 / 3, "observed": True}
  bad = dict(ok, ood_accuracy=0.5, best_ood_accuracy=0.6, seed_success=0.0, observed=False)
  measured = {k: {entries[0].train_spec: bad, entries[1].train_spec: ok}
              for k in ("soft", "uhat", "lstm")}
  rows = {(r["language"], r["model"]): r for r in atlas.atlas_rows(entries, measured,
                                                                    ("soft", "uhat", "lstm"))}
  # FIRST is C-RASP and AC0; PARITY is neither.
  assert rows["first", "soft"]["predicted"] == "true" and rows["parity", "soft"]["predicted"] == "false"
  assert rows["first", "soft"]["agree"] == "false" and rows["first", "soft"]["contradicts"] == "true"
  # uhat's AC0 bound is necessary: failing on FIRST does not contradict it, learning PARITY does.
  assert rows["first", "uhat"]["contradicts"] == "false"
  assert rows["parity", "uhat"]["agree"] == "false" and rows["parity", "uhat"]["contradicts"] == "true"
  assert rows["parity", "lstm"]["agree"] == "true"
  assert all(r[k] in ("true", "false") for r in rows.values() for k in BOOLEAN)


def test_measure_counts_seeds_that_generalise():
  rows = []
  for member, (id_acc, ood_acc) in enumerate(((1.0, 0.95), (1.0, 0.5), (0.8, 0.99))):
    for n in (4, 8, 12):
      acc = id_acc if n <= 8 else ood_acc
      rows.append({"language": "L", "member": member, "length": n, "accuracy": acc,
                   "xent_bits": 0.0, "diverged": 0})
  m = atlas.measure(rows, 8)["L"]
  assert m["seed_success"] == pytest.approx(1 / 3) and m["observed"]
  assert m["ood_accuracy"] == pytest.approx((0.95 + 0.5 + 0.99) / 3)
  assert m["best_ood_accuracy"] == pytest.approx(0.99)


def test_smoke_atlas_end_to_end(repo, tmp_path):
  specs = _file(tmp_path, "tomita1", "tomita5", "first", "tomita2")
  env = dict(os.environ, LIMITS_TCMALLOC="0")
  env.pop("XLA_FLAGS", None)
  work = tmp_path / "atlas"
  r = subprocess.run([sys.executable, "-m", "launch.atlas", f"--languages={specs}",
                      "--scale=smoke", f"--workdir={work}"], cwd=repo, capture_output=True,
                     text=True, env=env, timeout=600)
  assert r.returncode == 0, r.stderr[-2000:]
  with open(work / "atlas.csv") as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 4 * 3 and set(REQUIRED) <= set(rows[0])
  assert {r["model"] for r in rows} == {"soft", "uhat", "lstm"}
  for r in rows:
    assert all(r[k] in ("true", "false") for k in BOOLEAN + ("agree", "observed"))
    assert 0.0 <= float(r["ood_accuracy"]) <= 1.0 and 0.0 <= float(r["id_accuracy"]) <= 1.0
  t5 = next(r for r in rows if r["language"] == "tomita5" and r["model"] == "soft")
  assert (t5["aperiodic"], t5["c_rasp"], t5["states"], t5["monoid_size"]) == ("false", "false",
                                                                             "4", "4")
  md = (work / "atlas.md").read_text()
  assert "## soft" in md and "| predicted \\ observed | succeeds | fails |" in md
  assert (work / "plots" / "atlas_scatter.png").stat().st_size > 0
  assert (work / "plots" / "atlas_grid.png").stat().st_size > 0
  bad = subprocess.run([sys.executable, "-m", "launch.atlas", "--languages=nope",
                        "--scale=smoke", f"--workdir={tmp_path / 'b'}"], cwd=repo,
                       capture_output=True, text=True, env=env)
  assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "neither a set" in bad.stderr
  bad = subprocess.run([sys.executable, "-m", "launch.atlas", "--scale=huge",
                        f"--workdir={tmp_path / 'b'}"], cwd=repo, capture_output=True,
                       text=True, env=env)
  assert bad.returncode == 2 and "unknown scale" in bad.stderr


def test_estimate_measures_a_step_rate(tmp_path):
  out = atlas.estimate("tomita", "smoke", str(tmp_path), kinds=("lstm",), sample_languages=2,
                       steps=2, log=lambda s: None)
  # 7 members x 30 steps at a measured (positive, finite) rate.
  assert set(out) == {"lstm"} and 0 < out["lstm"] < 3600
