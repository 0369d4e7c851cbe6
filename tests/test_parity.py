"""PARITY: labels against a brute-force count, uniformity, exact cross-entropies vs Monte Carlo."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from limits import languages


def brute_member(bits, odd=False):
  return (sum(bits) % 2) == (1 if odd else 0)


@pytest.mark.parametrize("odd", [False, True])
def test_recognition_labels_match_brute_force(odd):
  lang = languages.make_language("parity:odd" if odd else "parity")
  lengths = jnp.asarray(np.random.default_rng(0).integers(1, 13, 512), jnp.int32)
  b = jax.device_get(lang.recognition(jax.random.key(0), lengths, 12))
  for tok, n, label in zip(b.tokens_BxT, b.lengths_B, b.labels_B):
    bits = [int(t) for t in tok[:n]]
    assert set(bits) <= {0, 1}
    assert tok[n] == lang.eos and all(t == lang.pad for t in tok[n + 1:])
    assert brute_member(bits, odd) == bool(label)
  oracle = jax.device_get(lang.accepts(b.tokens_BxT[:, :12], b.lengths_B))
  np.testing.assert_array_equal(oracle, b.labels_B == 1)
  assert 0.4 < b.labels_B.mean() < 0.6


def test_members_uniform_chi_square():
  """Members of length 6 (32 strings) are uniform: chi-square at a fixed seed."""
  n, count = 6, 32 * 200
  lang = languages.make_language("parity")
  b = jax.device_get(lang.recognition(jax.random.key(1), jnp.full((count,), n, jnp.int32), n))
  strings = ["".join(map(str, t[:n])) for t, l in zip(b.tokens_BxT, b.labels_B) if l == 1]
  members = ["".join(map(str, s)) for s in itertools.product([0, 1], repeat=n)
             if brute_member(s)]
  counts = np.array([strings.count(s) for s in members])
  assert counts.sum() == len(strings)
  expected = len(strings) / len(members)
  chi2 = ((counts - expected) ** 2 / expected).sum()
  # 31 degrees of freedom: the 0.999 quantile is about 61.1.
  assert chi2 < 61.1, chi2


def _simulate_generator_xent(p, n, samples, rng, conditioned):
  """Independent Monte Carlo: run the automaton; score -log2 q(next) at t=0..n.

  conditioned: the paper's prefixes (a whole generated prefix is rejected if EOS came in
  its first n steps); else uniform bits (EOS skipped step by step)."""
  total, done = 0.0, 0
  while done < samples:
    ones, lp, dead = 0, [], False
    for t in range(n + 1):
      even = ones % 2 == 0
      q = [(1 - p) / 2, (1 - p) / 2, p] if even else [0.5, 0.5, 0.0]
      nxt = rng.choice(3, p=q)
      # Rejection conditions on the draws: score the state's entropy, not -log q(draw).
      lp.append(-sum(x * math.log2(x) for x in q if x > 0) if conditioned
                else -math.log2(q[nxt]))
      if t < n:
        if nxt == 2 and conditioned:
          dead = True
          break
        while nxt == 2:
          nxt = rng.choice(3, p=q)
        ones += nxt
    if dead:
      continue
    done += 1
    total += np.mean(lp)
  return total / samples


@pytest.mark.parametrize("spec,p,n", [("parity:prefixes=uniform", 0.5, 5),
                                      ("parity:prefixes=uniform", 0.2, 12),
                                      ("parity", 0.5, 5), ("parity", 0.2, 12)])
def test_optimal_xent_matches_monte_carlo(spec, p, n):
  lang = languages.make_language(spec, p=p)
  mc = _simulate_generator_xent(p, n, 4000, np.random.default_rng(0), spec == "parity")
  assert abs(lang.optimal_xent_bits("prediction", n) - mc) < 0.02


def test_paper_generator_is_mod2_and_differs_from_uniform_bits():
  """`parity` prediction = `mod:m=2` prediction (same batches, same optimal and chance);
  the uniform-bits variant is a different process (1.2519 vs 1.1699 bits at n = 128)."""
  par, mod2 = languages.make_language("parity"), languages.make_language("mod:m=2")
  odd = languages.make_language("parity:odd")
  uni = languages.make_language("parity:prefixes=uniform")
  lengths = jnp.asarray(np.random.default_rng(1).integers(1, 33, 256), jnp.int32)
  a, b, c = (jax.device_get(l.prediction(jax.random.key(7), lengths, 32)) for l in (par, mod2, odd))
  np.testing.assert_array_equal(a.tokens_BxT, b.tokens_BxT)
  np.testing.assert_array_equal(a.targets_BxTxC, b.targets_BxTxC)
  np.testing.assert_array_equal(a.tokens_BxT, c.tokens_BxT)
  for n in (1, 2, 7, 128):
    for f in ("optimal_xent_bits", "chance_xent_bits"):
      assert getattr(par, f)("prediction", n) == pytest.approx(getattr(mod2, f)("prediction", n))
  assert par.optimal_xent_bits("prediction", 128) == pytest.approx(1.1699, abs=1e-4)
  assert uni.optimal_xent_bits("prediction", 128) == pytest.approx(1.2519, abs=1e-4)
  # Conditioned on surviving two steps, x_1 = 1 has probability 1 / (2 - p) = 2/3.
  x = jax.device_get(par.sample_prefixes(jax.random.key(0), jnp.full((20000,), 2, jnp.int32), 2))
  assert abs(x[:, 0].mean() - 2 / 3) < 0.015
  y = jax.device_get(uni.sample_prefixes(jax.random.key(0), jnp.full((20000,), 2, jnp.int32), 2))
  assert abs(y[:, 0].mean() - 0.5) < 0.015


def test_chance_xent_is_unigram_entropy_and_above_optimal():
  p, n = 0.5, 7
  lang = languages.make_language("parity:prefixes=uniform", p=p)
  # Unigram: EOS frequency at t=0 is p, later p/2 (even half the time).
  eos = (p + n * p / 2) / (n + 1)
  u = np.array([(1 - eos) / 2, (1 - eos) / 2, eos])
  assert lang.chance_xent_bits("prediction", n) == pytest.approx(-(u * np.log2(u)).sum())
  for lang in (lang, languages.make_language("parity", p=p)):
    assert lang.chance_xent_bits("prediction", n) > lang.optimal_xent_bits("prediction", n)
    assert lang.optimal_xent_bits("recognition", n) == 0.0
    assert lang.chance_xent_bits("recognition", n) == 1.0


def test_prediction_targets_follow_the_automaton():
  lang = languages.make_language("parity", p=0.3)
  b = jax.device_get(lang.prediction(jax.random.key(3), jnp.asarray([5, 3], jnp.int32), 6))
  assert b.tokens_BxT.shape == (2, 7) and b.targets_BxTxC.shape == (2, 7, 3)
  for tok, n, q in zip(b.tokens_BxT, b.lengths_B, b.targets_BxTxC):
    assert tok[0] == lang.bos and all(t == lang.pad for t in tok[n + 1:])
    for t in range(n + 1):
      even = sum(int(x) for x in tok[1:t + 1]) % 2 == 0
      want = [0.35, 0.35, 0.3] if even else [0.5, 0.5, 0.0]
      np.testing.assert_allclose(q[t], want, rtol=1e-6)
    assert not q[n + 1:].any()


def test_sampler_is_jittable_and_deterministic():
  lang = languages.make_language("parity")
  f = jax.jit(lambda k, l: lang.recognition(k, l, 10))
  lengths = jnp.arange(1, 11, dtype=jnp.int32)
  a, b = f(jax.random.key(5), lengths), f(jax.random.key(5), lengths)
  np.testing.assert_array_equal(a.tokens_BxT, b.tokens_BxT)
  c = lang.recognition(jax.random.key(5), lengths, 10)
  np.testing.assert_array_equal(a.tokens_BxT, c.tokens_BxT)


def test_spec_errors():
  with pytest.raises(ValueError, match="unknown language"):
    languages.make_language("parrity")
  with pytest.raises(ValueError, match="data.p"):
    languages.make_language("parity", p=1.0)
  with pytest.raises(ValueError, match="bad parameters"):
    languages.make_language("parity:m=3")
  with pytest.raises(ValueError, match="parity prefixes"):
    languages.make_language("parity:prefixes=bits")
