"""limits/languages/threefry.py: the uniform symbols are the base-n digits of the words."""

import jax
import numpy as np
import pytest

from limits.languages import threefry


@pytest.mark.parametrize("n", [3, 5, 6, 7, 10, 100, 255])
def test_uniform_symbols_are_the_leading_base_n_digits_of_each_word(n):
  """Symbol d of word w is the d-th base-n digit of w / 2^32, computed here with Python
  integers: floor(n^(d+1) w / 2^32) mod n, for the first k digits with n^k <= DIGIT_SPAN."""
  key = jax.random.key(n)
  batch, length = 7, 23
  per = max(1, int(np.floor(np.log(threefry.DIGIT_SPAN) / np.log(n) + 1e-9)))
  words = np.asarray(threefry.random_words(key, (batch, -(-length // per))))
  want = np.array([[(n ** (d + 1) * int(w) >> 32) % n for w in row for d in range(per)]
                   for row in words])[:, :length]
  got = np.asarray(threefry.uniform_symbols(key, batch, length, n))
  np.testing.assert_array_equal(got, want)


def test_uniform_symbols_are_uniform():
  """Each of 3 symbols within 4 standard errors of 1/3 over 2^18 draws."""
  sym = np.asarray(threefry.uniform_symbols(jax.random.key(0), 512, 512, 3))
  freq = np.bincount(sym.ravel(), minlength=3) / sym.size
  assert np.all(np.abs(freq - 1 / 3) < 4 * np.sqrt(2 / 9 / sym.size)), freq
