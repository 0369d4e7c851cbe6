"""The algebra of regular languages (limits/languages/algebra/).

Classifications are checked against the literature, case by case (source in each row),
monoid sizes against hand counts, the C-RASP procedure against Yang, Veseli, ..., Hahn
(2026)'s own Table 1, and on random DFAs: minimisation preserves the language on every
string up to length 10, and isomorphic DFAs get the same verdict.
"""

import itertools
import os
import subprocess
import sys

import hypothesis
import numpy as np
import pytest
from hypothesis import strategies as st

from limits.languages import algebra

# spec: (aperiodic, quasi_aperiodic, r_trivial, c_rasp, source)
LITERATURE = {
    "parity": (False, False, False, False,
               "Z2 counter (Hahn 2020 §4); not in AC0 (Furst, Saxe & Sipser 1984); not in "
               "C-RASP (Yang et al. 2026, App. A FAQ 4)"),
    "mod:m=3": (False, False, False, False,
                "Z3 counter (Hahn 2020 §4 MOD-m); not in AC0 (Smolensky 1987); C-RASP is "
                "aperiodic (Yang et al. 2026 Thm 14)"),
    "aa_star": (False, True, False, False,
                "periodic (Hahn 2020 §4); length mod 2 is in AC0 (quasi-aperiodic, "
                "Barrington et al. 1992); C-RASP is aperiodic (Yang et al. 2026 Thm 14)"),
    "one": (True, True, True, True,
            "1* is R-trivial; UHAT recognises it (Hahn 2020 §5); divides Z, in C-RASP "
            "(Yang et al. 2026 §4, the AND language)"),
    "first": (True, True, True, True,
              "first symbol: R-trivial (Brzozowski & Fich 1980), so in C-RASP (Yang et al. "
              "2026 Thm 14: R in C-RASP); Chiang & Cholak 2022 §5"),
    "tomita1": (True, True, True, True, "1*: star-free (Bhattamishra et al. 2020 §6), R-trivial"),
    "tomita2": (True, True, False, True,
                "(10)*: star-free (Bhattamishra et al. 2020 §6); the bounded Dyck D1 = (ab)* "
                "renamed, in C-RASP but not R-trivial (Yang et al. 2026 Thm 14 proof)"),
    "tomita3": (False, True, False, False,
                "not star-free (Bhattamishra et al. 2020 §6: Tomita 3, 5, 6); run parities "
                "are local, AC0; C-RASP is aperiodic (Yang et al. 2026 Thm 14)"),
    "tomita4": (True, True, False, False,
                "no 000: star-free (Bhattamishra et al. 2020 §6); a local pattern, not in "
                "C-RASP without positions (Yang et al. 2026 App. A FAQ 6; our procedure)"),
    "tomita5": (False, False, False, False,
                "even #0 and #1: Z2xZ2, not star-free (Bhattamishra et al. 2020); parity, "
                "not AC0 (Furst et al. 1984)"),
    "tomita6": (False, False, False, False,
                "#0 - #1 = 0 mod 3: Z3, not star-free (Bhattamishra et al. 2020); MOD3, not "
                "AC0 (Smolensky 1987)"),
    "tomita7": (True, True, True, True,
                "0*1*0*1*: star-free (Bhattamishra et al. 2020 §6), R-trivial (a "
                "left-to-right chain of blocks), hence C-RASP (Yang et al. 2026 Thm 14)"),
    "ab_star": (True, True, False, True, "(ab)* = D1 (Yang et al. 2026 Def. 7, Thm 14)"),
    "parity_check": (False, False, False, False,
                     "Delétang et al. 2023 regular task: parity, Z2, not AC0"),
    "cycle_navigation": (False, False, False, False,
                         "Delétang et al. 2023 regular task: position on a 5-cycle, Z5"),
    "modular_arithmetic": (False, False, False, False,
                           "Delétang et al. 2023 regular task: value mod 5 (Z5, Z4)"),
    "even_pairs": (True, True, False, False,
                   "Delétang et al. 2023 regular task: first symbol = last symbol, star-free "
                   "(a Boolean combination of aSigma* and Sigma*a); the last-symbol test "
                   "Sigma*b is not in C-RASP (Yang et al. 2026 App. A FAQ 4)"),
}


@pytest.mark.parametrize("spec", sorted(LITERATURE))
def test_classification_matches_literature(spec):
  ap, qa, rt, cr, _ = LITERATURE[spec]
  v = algebra.analyse(spec)
  assert (v.aperiodic, v.quasi_aperiodic, v.r_trivial, v.c_rasp) == (ap, qa, rt, cr)
  # The chain of Yang et al. (2026) Thm 14: R <= C-RASP <= R^omega <= A.
  assert (not v.r_trivial or v.c_rasp) and (not v.c_rasp or v.r_omega)
  assert not v.r_omega or v.aperiodic
  assert not v.aperiodic or v.quasi_aperiodic      # star-free languages are in AC0


# Hand counts of the transition monoid of the minimal DFA, identity included.
MONOID_SIZES = {
    "parity": 2,        # {1, swap}
    "mod:m=3": 3,       # Z3
    "aa_star": 2,       # Z2 on the length
    "one": 2,           # {1 (= action of 1), 0 (any 0 seen)}
    "first": 3,         # {1, "began with 0", "began with 1"}
    "ab_star": 6,       # {1, a, b, ab, ba, 0}
    "tomita2": 6,       # (10)*: the same monoid
    "tomita5": 4,       # Z2 x Z2
    "tomita6": 3,       # Z3
}


@pytest.mark.parametrize("spec", sorted(MONOID_SIZES))
def test_monoid_size_hand_counts(spec):
  assert algebra.analyse(spec).monoid_size == MONOID_SIZES[spec]


def test_subgroups_and_witnesses():
  v = algebra.analyse("mod:m=3")
  assert [g["order"] for g in v.subgroups] == [3] and v.subgroups[0]["solvable"]
  assert v.counter[0] == "1" and len(v.counter[1]) == 3
  # The counter word really rotates its cycle of states.
  d = v.dfa
  cyc = v.counter[1]
  word = [d.alphabet.index(c) for c in v.counter[0]]
  for i, q in enumerate(cyc):
    s = q
    for a in word:
      s = int(d.delta[s, a])
    assert s == cyc[(i + 1) % len(cyc)]
  p = algebra.analyse("parity")
  assert not p.quasi_aperiodic and p.stability_index == 1 and p.qa_witness == "1"
  m3 = algebra.analyse("mod:m=3")
  assert m3.stability_index == 2 and len(m3.qa_witness) == 2
  assert algebra.analyse("aa_star").counter == ("a", [0, 1])


def test_average_sensitivity_exact():
  for n in (8, 16, 32):
    assert algebra.average_sensitivity(algebra.dfa_of("parity"), n) == pytest.approx(n)
    assert algebra.average_sensitivity(algebra.dfa_of("first"), n) == pytest.approx(1.0)
  assert algebra.analyse("parity").sensitive and not algebra.analyse("first").sensitive


def _brute_sensitivity(dfa, n):
  A = len(dfa.alphabet)
  total = 0.0
  for x in itertools.product(range(A), repeat=n):
    out = dfa.output[dfa.run(x)]
    for i in range(n):
      for b in range(A):
        if b != x[i]:
          y = x[:i] + (b,) + x[i + 1:]
          total += (dfa.output[dfa.run(y)] != out) / (A - 1)
  return total / A ** n


def test_refuses_large_monoid_and_non_regular():
  with pytest.raises(ValueError, match=r"more than 5 elements \(reached 5"):
    algebra.analyse("tomita3", max_size=5)
  with pytest.raises(ValueError, match="not a regular language"):
    algebra.analyse("dyck:k=2")
  with pytest.raises(ValueError, match="not a regular language"):
    algebra.analyse("majority")


# Yang, Veseli, ..., Hahn (2026), Table 1 (appendix B.3): regex over {a, b, c} with
# membership in R, C-RASP, R^omega, R o G (their notation: + union, juxtaposition).
TABLE1 = [
    ("(bbac)*", 0, 1, 1, 1), ("(bab+b)*", 0, 0, 0, 0), ("(c+b(a)*)*", 0, 0, 0, 0),
    ("b+(bb)*", 0, 0, 0, 1), ("acabcc(c)*", 1, 1, 1, 1), ("bbcc(aa)*", 0, 0, 0, 1),
    ("(ab(a)*)*", 0, 0, 0, 0), ("((a)*ac)*", 0, 0, 0, 0), ("((b)*ab)*", 0, 0, 0, 0),
    ("(cca+a)*", 0, 0, 0, 0), ("cb(a)*+abbc", 1, 1, 1, 1), ("aa(a)*c", 1, 1, 1, 1),
    ("(a+c)*cbbb", 0, 0, 0, 0), ("bc(b)*abbb", 1, 1, 1, 1), ("(ca)*(cb)*", 0, 1, 1, 1),
    ("(cc)*ccb+b", 0, 0, 0, 1), ("((a)*)*(ac)*", 0, 1, 1, 1), ("bccb(aa)*", 0, 0, 0, 1),
    ("(ba)*(b)*bc", 0, 1, 1, 1), ("(ac)*ba(b)*", 0, 1, 1, 1), ("(a)*b+acab", 1, 1, 1, 1),
    ("(ca)*(a)*bb", 0, 1, 1, 1), ("(b)*(b)*(aa)*", 0, 0, 0, 1), ("(cbb+b)*", 0, 0, 0, 0),
    ("(ab)*+(bb)*", 0, 0, 0, 1), ("((b)*ac)*", 0, 0, 0, 0), ("(bc(c)*)*", 0, 0, 0, 0),
    ("(ba+a)*", 0, 0, 0, 0), ("(ac)*c+ba+a", 0, 1, 1, 1), ("(b+a)*aaac", 0, 0, 0, 0),
    ("(bb)*cbac", 0, 0, 0, 1), ("((b)*)*(ab)*", 0, 1, 1, 1), ("bba(c+a)*", 1, 1, 1, 1),
    ("cb(a)*baa", 1, 1, 1, 1), ("(b)*baa", 1, 1, 1, 1), ("(aa+(b)*)*", 0, 0, 0, 1),
    ("aa+ca(aa)*", 0, 0, 0, 1), ("(a)*(a)*b+aac", 1, 1, 1, 1), ("(bb)*ab+ac", 0, 0, 0, 1),
    ("(cc)*cccb", 0, 0, 0, 1), ("(b)*cbbcaa", 1, 1, 1, 1), ("((b)*b)*", 1, 1, 1, 1),
    ("ccc(ba)*", 0, 1, 1, 1), ("bcac(a)*+ba", 1, 1, 1, 1), ("(b)*cc(ca)*", 0, 1, 1, 1),
    ("(cab+c)*", 0, 0, 0, 0), ("(a+ac+a)*", 0, 0, 0, 0), ("aba+c(bb)*", 0, 0, 0, 1),
    ("((a)*ca)*", 0, 0, 0, 0), ("(abbc)*", 0, 1, 1, 1), ("(a+c)*(cb)*", 0, 0, 0, 0),
]


@pytest.mark.parametrize("regex,r,c,r_omega,r_g", TABLE1)
def test_yang_et_al_table1(regex, r, c, r_omega, r_g):
  v = algebra.analyse(algebra.regex_dfa(regex, "abc"), name=regex)
  assert (v.r_trivial, v.c_rasp, v.r_omega, v.r_g) == (bool(r), bool(c), bool(r_omega),
                                                       bool(r_g))


def test_yang_et_al_separations():
  """Thm 14's strict inclusions and Figure 1 (over {a, b})."""
  v = lambda rx: algebra.analyse(algebra.regex_dfa(rx, "ab"), name=rx)
  assert v("(ab+bba)*").r_omega and not v("(ab+bba)*").c_rasp      # R^omega \ C-RASP
  assert v("(ab+aabb)*").aperiodic and not v("(ab+aabb)*").r_omega  # A \ R^omega
  assert v("(ab+bbaa)*").c_rasp                                     # Figure 1: generalises
  assert not v("(a+b)*b").c_rasp and v("(a+b)*b").quasi_aperiodic  # FAQ 4: AC0 \ C-RASP
  assert v("(a(ab)*b)*").c_rasp and not v("(a(ab)*b)*").r_trivial  # D2 (Def. 7)


def test_enumerate_binary_counts():
  # Hand count for <= 2 states: Sigma* (1 state); with 2 states, accept = {start} up to
  # complement, state 1 reachable: 16 - 4 = 12 tables, 2 fixed by the symbol swap,
  # (12 + 2) / 2 = 7 orbits.
  assert len(algebra.enumerate_binary(2)) == 8
  # <= 3 states, counted independently: distinct truth tables on strings of length <= 5
  # (two DFAs with <= 3 states that differ, differ on a string of length <= 5), closed
  # under complement and the symbol swap.
  strings = [w for n in range(6) for w in itertools.product((0, 1), repeat=n)]
  tables = set()
  for k in (1, 2, 3):
    for trans in itertools.product(range(k), repeat=2 * k):
      delta = np.array(trans).reshape(k, 2)
      for acc in itertools.product((0, 1), repeat=k):
        variants = []
        for perm in ((0, 1), (1, 0)):
          for flip in (0, 1):
            d = algebra.DFA(("0", "1"), delta[:, list(perm)], 0, np.array(acc) ^ flip)
            variants.append(tuple(int(d.output[d.run(w)]) for w in strings))
        tables.add(min(variants))
  found = algebra.enumerate_binary(3)
  assert len(found) == len(tables) == 270
  assert all(algebra.minimize(d).key() == d.key() for d in found)


# Random DFAs ---------------------------------------------------------------------------
@st.composite
def dfas(draw):
  S = draw(st.integers(1, 6))
  A = draw(st.integers(1, 2))
  delta = draw(st.lists(st.lists(st.integers(0, S - 1), min_size=A, max_size=A),
                        min_size=S, max_size=S))
  out = draw(st.lists(st.integers(0, 2), min_size=S, max_size=S))
  start = draw(st.integers(0, S - 1))
  return algebra.make_dfa(tuple("ab"[:A]), delta, start, out)


def _outputs(d, max_len):
  """Output after every string of length <= max_len, in length-then-lex order."""
  A = len(d.alphabet)
  states = np.array([d.start])
  outs = [d.output[states]]
  for _ in range(max_len):
    states = d.delta[states].reshape(-1)     # children in lexicographic order
    outs.append(d.output[states])
  del A
  return np.concatenate(outs)


SETTINGS = hypothesis.settings(max_examples=150, deadline=None, derandomize=True,
                               suppress_health_check=list(hypothesis.HealthCheck))


@SETTINGS
@hypothesis.given(dfas())
def test_minimisation_preserves_language(d):
  m = algebra.minimize(d)
  assert m.states <= d.states
  np.testing.assert_array_equal(_outputs(m, 10), _outputs(d, 10))
  assert algebra.minimize(m).key() == m.key()


@SETTINGS
@hypothesis.given(dfas(), st.randoms(use_true_random=False))
def test_isomorphic_dfas_same_verdict(d, rnd):
  perm = list(range(d.states))
  rnd.shuffle(perm)
  inv = np.argsort(perm)
  iso = algebra.make_dfa(d.alphabet, np.array(perm)[d.delta[inv]], perm[d.start],
                         d.output[inv])
  a, b = algebra.analyse(d, name="x"), algebra.analyse(iso, name="x")
  assert a.summary() == b.summary()
  assert a.dfa.key() == b.dfa.key()


@SETTINGS
@hypothesis.given(dfas())
def test_average_sensitivity_matches_brute_force(d):
  for n in (1, 4, 6):
    assert algebra.average_sensitivity(d, n) == pytest.approx(_brute_sensitivity(d, n))


@SETTINGS
@hypothesis.given(dfas())
def test_class_chain_on_random_dfas(d):
  v = algebra.analyse(d)
  assert (not v.r_trivial or v.c_rasp) and (not v.c_rasp or v.r_omega)
  assert (not v.r_omega or v.aperiodic) and (not v.aperiodic or v.quasi_aperiodic)
  assert v.aperiodic == all(g["order"] == 1 for g in v.subgroups)


def test_launch_prints_verdict(repo):
  env = dict(os.environ, LIMITS_TCMALLOC="0")
  r = subprocess.run([sys.executable, "-m", "launch.algebra", "--language=tomita5"],
                     cwd=repo, capture_output=True, text=True, env=env)
  assert r.returncode == 0, r.stderr
  assert "aperiodic (star-free): False" in r.stdout and "soft_length_generalisation: cannot" \
      in r.stdout
  bad = subprocess.run([sys.executable, "-m", "launch.algebra", "--language=dyck:k=2"],
                       cwd=repo, capture_output=True, text=True, env=env)
  assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "not a regular" in bad.stderr
