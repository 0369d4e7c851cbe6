"""Exact constructions: 100% accuracy at every tested length up to 1000 (float32), the
registry's labels agree with a brute-force recogniser, C&C's confidence falls with n
without layer norm and does not with it (eps = 0), float64 holds, and a constructed
workdir reads back like a trained one."""

import itertools
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from limits import construct, experiment, languages
from limits.models import constructions as C

# Every length 1..32, then a spread up to 1000 (bucketed: a few programs per construction).
LENGTHS = tuple(range(1, 33)) + (47, 48, 99, 200, 255, 256, 331, 500, 511, 777, 999, 1000)
PER_LENGTH = 4


def _parity(s):
  return s.count("1") % 2 == 0


def _dyck(s, depth=3, pairs={"(": ")", "[": "]"}):
  stack = []
  for ch in s:
    if ch in pairs:
      stack.append(ch)
      if len(stack) > depth:
        return False
    elif not stack or pairs[stack.pop()] != ch:
      return False
  return not stack


BRUTE = {"cc_parity": _parity, "cc_parity_ln": _parity,
         "cc_first": lambda s: s[:1] == "1",
         "hard_one": lambda s: set(s) <= {"1"},
         "hard_anbn": lambda s: len(s) % 2 == 0 and s == "a" * (len(s) // 2) + "b" * (len(s) // 2),
         "yao_dyck": _dyck}


def _near_misses(name, n):
  """Hand-made members and near-misses of length n (the hard cases for each language)."""
  h = n // 2
  return {"cc_parity": ["1" * n, "0" * n, "1" * (n - 1) + "0", "0" + "1" * (n - 1)],
          "cc_parity_ln": ["1" * n, "1" * (n - 1) + "0"],
          "cc_first": ["1" + "0" * (n - 1), "0" + "1" * (n - 1)],
          "hard_one": ["1" * n, "1" * (n - 1) + "0", "0" + "1" * (n - 1)],
          "hard_anbn": ["a" * h + "b" * (n - h), "a" * (h + 1) + "b" * (n - h - 1),
                        "a" * (h - 1) + "ba" + "b" * (n - h - 1) if h >= 1 else "b" * n],
          "yao_dyck": ["([])" * (n // 4) + "()" * ((n % 4) // 2) + "(" * (n % 2),
                       "[[[]]]"[:0] + "(" * min(h, 4) + ")" * min(h, 4) + "[]" * ((n - 2 * min(h, 4)) // 2),
                       "(" + "[" * (h - 1) + "]" * (h - 1) + ")" if n % 2 == 0 else "(" * n,
                       ("([)]" * n)[:n]]}[name]


def _pad_of(n):
  return -(-n // 256) * 256 if n > 48 else 48


def _sampled(lang, ns, pad, key):
  """PER_LENGTH registry samples (balanced members / non-members) of each length in ns,
  drawn in one call at a static padded size (one compile per bucket)."""
  ns = [n for n in ns if not (lang.name.startswith(("anbn", "dyck")) and n % 2)]
  if not ns:
    return []
  lengths = jnp.asarray(np.repeat(ns, PER_LENGTH), jnp.int32)
  batch = jax.jit(lang.recognition, static_argnums=2)(key, lengths, pad)
  tokens = np.asarray(batch.tokens_BxT)
  return [lang.decode(t[:n]) for t, n in zip(tokens, np.asarray(lengths))]


@pytest.mark.parametrize("name", list(C.CONSTRUCTIONS))
def test_construction_exact_up_to_1000(name):
  c = C.build(name)
  lang = languages.make_language(c.language)
  assert lang.alphabet == c.alphabet
  model = c.module()
  f = jax.jit(lambda p, t, r: model.apply(p, t, r))
  by_pad = {}
  key = jax.random.key(7)
  for n in LENGTHS:  # near-misses; odd lengths of even-length languages are all here
    by_pad.setdefault(_pad_of(n), []).extend(s for s in _near_misses(name, n) if len(s) == n)
  for pad in sorted(by_pad):
    ns = [n for n in LENGTHS if _pad_of(n) == pad]
    by_pad[pad].extend(_sampled(lang, ns, pad, jax.random.fold_in(key, pad)))
  # Exhaustive at small n (every string of 1..6 symbols).
  for n in range(1, 7):
    by_pad[48].extend("".join(x) for x in itertools.product(c.alphabet, repeat=n))
  checked = 0
  for pad, strings in sorted(by_pad.items()):
    tokens, readout = C.tokens(c, strings, pad_to=pad)
    logits = np.asarray(f(c.params, tokens, readout))
    want = np.asarray([BRUTE[name](s) for s in strings])
    # The registry's oracle agrees with the brute-force recogniser on every string.
    ids = np.where(tokens[:, :-1] < len(c.alphabet), tokens[:, :-1], 0)
    oracle = np.asarray(lang.accepts(jnp.asarray(ids), jnp.asarray(readout)))
    np.testing.assert_array_equal(oracle, want)
    got = logits[:, 1] > logits[:, 0]
    wrong = [s if len(s) < 20 else f"<len {len(s)}>" for s in np.asarray(strings, object)[got != want]]
    assert not wrong, f"{name}: {len(wrong)} wrong at pad {pad}, e.g. {wrong[:3]}"
    assert want.any() and not want.all()
    checked += len(strings)
  assert checked > 300


def _cc_logit(name, n, dtype=jnp.float32, **kw):
  c = C.build(name, **kw)
  params = jax.tree.map(lambda a: jnp.asarray(a, dtype), c.params)
  rng = np.random.default_rng(n)
  strings = ["".join(rng.choice(["0", "1"], n)) for _ in range(4)]
  tokens, readout = C.tokens(c, strings)
  logits = np.asarray(c.module().apply(params, tokens, readout))
  want = np.asarray([_parity(s) for s in strings])
  return np.abs(logits[:, 1]).min(), bool(np.all((logits[:, 1] > logits[:, 0]) == want))


def test_cc_parity_confidence_falls_without_layer_norm_not_with_eps_zero():
  ns = (10, 100, 1000)
  plain = [_cc_logit("cc_parity", n) for n in ns]
  with_ln = [_cc_logit("cc_parity_ln", n, eps=0.0) for n in ns]
  assert all(ok for _, ok in plain + with_ln)
  # Without layer norm |logit| = 1/N^2: two orders of magnitude per decade of n.
  assert plain[0][0] > 50 * plain[1][0] > 2500 * plain[2][0] > 0
  for (n, (logit, _)) in zip(ns, plain):
    np.testing.assert_allclose(logit, 1.0 / (n + 1) ** 2, rtol=1e-2)
  # With layer norm at eps = 0 it is sqrt(D / 2) = sqrt(8) at every n.
  for logit, _ in with_ln:
    np.testing.assert_allclose(logit, np.sqrt(8.0), rtol=1e-4)
  # eps > 0 keeps Lemma 5's decay: the final layer norm cannot rescale 1/N^2 past sqrt(eps).
  eps_pos = [_cc_logit("cc_parity_ln", n, eps=1e-5)[0] for n in (10, 1000)]
  assert eps_pos[0] > 100 * eps_pos[1]


def test_cc_parity_float64_holds():
  with jax.enable_x64(True):
    for n in (1000, 3000):
      logit, ok = _cc_logit("cc_parity", n, dtype=jnp.float64)
      assert ok
      np.testing.assert_allclose(logit, 1.0 / (n + 1) ** 2, rtol=1e-6)


def test_constructed_workdir_reads_back_and_predicts(tmp_path, repo):
  c = C.build("hard_anbn")
  wd = str(tmp_path / "anbn")
  exp = construct.write(c, wd)
  assert exp.data.language == "anbn" and exp.train.steps == 0
  exp2, state = experiment.load(wd)
  exp2 = exp2.exp
  assert exp2 == exp and int(state.step) == 0
  restored = jax.tree.map(lambda x: x[0], state.params)
  tokens, readout = C.tokens(c, ["aabb", "abab", "ab"], pad_to=6)
  model = c.module()
  np.testing.assert_array_equal(model.apply(restored, tokens, readout),
                                model.apply(c.params, tokens, readout))
  proc = subprocess.run([sys.executable, "-m", "launch.predict", f"--workdir={wd}"],
                        input="aabb\nabab\naxb\nab\n", capture_output=True, text=True, cwd=repo)
  assert proc.returncode == 2
  header, *lines = proc.stdout.splitlines()
  assert header == "string\tp_member\tlabel\tlog_odds"
  assert [l.split("\t")[0] for l in lines] == ["aabb", "abab"]
  assert [l.split("\t")[2] for l in lines] == ["1", "0"]
  assert "line 3" in proc.stderr and "'x'" in proc.stderr


def test_predict_label_from_log_odds_and_float64(tmp_path, repo):
  """Issue 14.8: at n = 6000 cc_parity's float32 p_member rounds to 0.5 (its log-odds
  are +-2/(n+1)^2 = 5.6e-8); the label comes from the log-odds' sign, printed beside it,
  and --float64 gives the exact log-odds."""
  wd = str(tmp_path / "ccp")
  construct.write(C.build("cc_parity"), wd)
  n = 6000
  lines = "0" * n + "\n" + "0" * (n - 1) + "1\n0110\n"
  exact = 2.0 / (n + 1) ** 2
  for extra in ([], ["--float64"]):
    proc = subprocess.run([sys.executable, "-m", "launch.predict", f"--workdir={wd}", *extra],
                          input=lines, capture_output=True, text=True, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    rows = [l.split("\t") for l in proc.stdout.splitlines()[1:]]   # after the header
    assert [r[2] for r in rows] == ["1", "0", "1"], [r[1:] for r in rows]
    lo = [float(r[3]) for r in rows]
    assert lo[0] > 0 > lo[1] and lo[2] > 0
    assert float(rows[0][1]) == 0.5            # p_member alone cannot tell
    np.testing.assert_allclose(np.abs(lo[:2]), exact, rtol=1e-4 if extra else 0.5)
