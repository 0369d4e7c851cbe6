"""The benchmark's vectorised NumPy reference samplers draw the library's distributions:
labels agree with each language's own recogniser, and at small n each class is uniform
(chi-square against exhaustive enumeration)."""

import collections
import itertools

import jax.numpy as jnp
import numpy as np
import pytest

from limits import languages
from limits.languages import numpy_reference

SPECS = ["parity", "parity:odd", "first", "one", "majority", "aa_star", "mod:m=3", "tomita3",
         "tomita5", "anbn", "anbncn", "dyck:k=2", "dyck_bounded:k=2,depth=2", "shuffle_dyck:k=2",
         "shuffle_dyck:k=3", "even_pairs", "parity_check", "cycle_navigation"]


def _accepts(lang, s):
  return np.asarray(lang.accepts(jnp.asarray(s), jnp.full((len(s),), s.shape[1], jnp.int32)))


@pytest.mark.parametrize("spec", SPECS)
def test_labels_match_the_recogniser(spec):
  lang = languages.make_language(spec)
  rng = np.random.default_rng(0)
  for n in (6, 7, 30):
    try:
      lang.check_length(n)
    except ValueError:
      continue
    s, y = numpy_reference.reference_sampler(lang, n)(rng, 64)
    assert s.shape == (64, n) and s.min() >= 0 and s.max() < len(lang.alphabet)
    if spec in ("even_pairs", "parity_check", "cycle_navigation"):
      continue        # multi-class tasks: labels checked by the uniformity test's classes
    np.testing.assert_array_equal(_accepts(lang, s), y == 1)


@pytest.mark.parametrize("spec,n", [("dyck:k=2", 6), ("shuffle_dyck:k=3", 4),
                                    ("shuffle_dyck:k=2", 6), ("dyck_bounded:k=2,depth=2", 6),
                                    ("tomita3", 7), ("majority", 7), ("anbn", 6)])
def test_each_class_uniform(spec, n):
  lang = languages.make_language(spec)
  A = len(lang.alphabet)
  every = np.array(list(itertools.product(range(A), repeat=n)), np.int32)
  acc = _accepts(lang, every)
  s, y = numpy_reference.reference_sampler(lang, n)(np.random.default_rng(1), 40000)
  for label in (1, 0):
    cls = every[acc == bool(label)]
    seen = collections.Counter(map(bytes, s[y == label].astype(np.uint8)))
    obs = np.array([seen.get(bytes(c.astype(np.uint8)), 0) for c in cls])
    assert obs.sum() == (y == label).sum()          # nothing outside the class
    if len(cls) > 1:
      exp = obs.sum() / len(cls)
      chi2_per_dof = ((obs - exp) ** 2 / exp).sum() / (len(cls) - 1)
      assert chi2_per_dof < 1.5, (spec, label, chi2_per_dof)
