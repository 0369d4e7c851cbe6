"""Randomness for the on-device samplers: Threefry-2x32 words and exact uniform choices.

Samplers draw integer uniforms and compare them with fixed-point cumulative
probabilities, so probabilities 0 and 1 are exact and every other one is exact to
2^-UNIFORM_BITS; uniform symbols over any alphabet come from the digits of random words.

Letters: B batch, L positions.
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

# Forward samplers draw one integer uniform u in [0, 2^UNIFORM_BITS) per decision and
# compare it with fixed-point cumulative probabilities (`fixed_point`), so a choice of
# probability 0 (1) is never (always) taken, and every other probability is exact to
# 2^-UNIFORM_BITS (the float32 uniforms of jax.random carry 23 bits).
UNIFORM_BITS = 24
# Uniform symbols over a non-power-of-two alphabet of size a are the first k base-a digits
# of a uniform 32-bit word, with a^k <= DIGIT_SPAN: each k-tuple has probability a^-k up
# to a relative error below DIGIT_SPAN / 2^32 = 2^-24.
DIGIT_SPAN = 256


_THREEFRY_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


_THREEFRY_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def random_words(key: jax.Array, shape: Sequence[int]) -> jax.Array:
  """uint32[shape]: i.i.d. uniform random words, Threefry-2x32 (20 rounds; Salmon et al.
  2011, the hash behind jax.random) of a counter under a key drawn from `key`.

  The same hash as `jax.random.bits` (checked against Random123's known answers in the
  tests), written out round by round: XLA:CPU fuses it into one loop over the output,
  where jax.random's CPU lowering runs the rounds as a 5-step while loop over whole
  arrays (slower on CPU; random words are most of a forward sampler's cost).
  Blocks are the counters (i, i + h), i < h, h = 2 ceil(n / 4).
  """
  n = math.prod(shape)
  h = max(-(-n // 4), 1) * 2                # counter blocks (i, i + h), in two halves
  k0, k1 = jax.random.bits(key, (2,), jnp.uint32)
  x = jnp.arange(h, dtype=jnp.uint32).reshape(2, h // 2)
  # lax.map's loop materialises the words: a plain expression would let XLA fuse the 20
  # rounds into every consumer, recomputing them per use (e.g. 16x when unpacking symbols).
  words = jax.lax.map(lambda x: jnp.stack(threefry2x32(k0, k1, x, x + jnp.uint32(h))), x)
  return words.reshape(-1)[:n].reshape(tuple(shape))


def threefry2x32(k0, k1, x0, x1) -> tuple[jax.Array, jax.Array]:
  """Threefry-2x32 with 20 rounds of uint32 counter blocks (x0, x1) under key (k0, k1)."""
  ks = (k0, k1, k0 ^ k1 ^ jnp.uint32(0x1BD11BDA))
  x = [x0 + ks[0], x1 + ks[1]]
  for i in range(5):
    for r in _THREEFRY_ROTATIONS[i % 2]:
      x[0] = x[0] + x[1]
      x[1] = ((x[1] << r) | (x[1] >> (32 - r))) ^ x[0]
    x = [x[0] + ks[(i + 1) % 3], x[1] + ks[(i + 2) % 3] + jnp.uint32(i + 1)]
  return x[0], x[1]


def uniform_ints(key: jax.Array, shape: Sequence[int]) -> jax.Array:
  """int32[shape]: i.i.d. uniform integers in [0, 2^UNIFORM_BITS), four from every three
  random words (`random_words`)."""
  assert UNIFORM_BITS == 24
  n = math.prod(shape)
  w0, w1, w2 = random_words(key, (3, -(-n // 4)))
  m8, m16, m24 = jnp.uint32(0xFF), jnp.uint32(0xFFFF), jnp.uint32(0xFFFFFF)
  u = jnp.stack([w0 >> 8, ((w0 & m8) << 16) | (w1 >> 16), ((w1 & m16) << 8) | (w2 >> 24),
                 w2 & m24], axis=-1)
  return u.reshape(-1)[:n].reshape(tuple(shape)).astype(jnp.int32)


def left_align(sym_LxB: jax.Array, first_B: jax.Array) -> jax.Array:
  """int32[B, L]: right-aligned scan output (row b starts at step first_B[b]) shifted to
  start at position 0. A batch of full-length rows (every first_B = 0, as when a length
  is evaluated or benchmarked alone) is a plain transpose instead of a gather."""
  L, B = sym_LxB.shape

  def shift():
    src = jnp.clip(jnp.arange(L)[None, :] + first_B[:, None], 0, L - 1)
    return sym_LxB[src, jnp.arange(B)[:, None]]

  return jax.lax.cond(jnp.all(first_B == 0), lambda: sym_LxB.T, shift)


def fixed_point(cum: np.ndarray) -> np.ndarray:
  """int32: cumulative probabilities in [0, 1] as thresholds for `uniform_ints`.

  A choice a is taken iff thr[a-1] <= u < thr[a]; 0 and 1 are represented exactly.
  """
  scale = float(1 << UNIFORM_BITS)
  return np.clip(np.rint(np.nan_to_num(cum, nan=1.0) * scale), 0, scale).astype(np.int32)


def uniform_symbols(key: jax.Array, batch: int, length: int, n: int) -> jax.Array:
  """int32[batch, length]: i.i.d. uniform symbols in [0, n), drawing few random bits.

  A power-of-two n = 2^b takes b bits per symbol (32 / b symbols per threefry word, exact);
  any other n takes the first k base-n digits of a word (n^k <= DIGIT_SPAN, see there).
  Independent uniform strings are the bulk of rejection sampling and of PARITY, where one
  word per symbol (jax.random.randint takes two) would dominate the sampler's cost.
  """
  if n <= 1:
    return jnp.zeros((batch, length), jnp.int32)
  b = (n - 1).bit_length()
  if n == 1 << b and b <= 16:
    per = 32 // b
    words = random_words(key, (batch, -(-length // per)))
    shift = (b * jnp.arange(per, dtype=jnp.uint32))
    sym = (words[:, :, None] >> shift) & jnp.uint32(n - 1)
    return sym.reshape(batch, -1)[:, :length].astype(jnp.int32)
  if n > DIGIT_SPAN:
    return jax.random.randint(key, (batch, length), 0, n, jnp.int32)
  per = max(1, int(math.floor(math.log(DIGIT_SPAN) / math.log(n) + 1e-9)))
  w = random_words(key, (batch, -(-length // per)))[:, :, None]
  # Digit d of w / 2^32 in base n is floor(n^(d+1) w / 2^32) mod n: each digit on its own
  # (no chain through the remainders), in 16-bit halves to stay in uint32 (n^per <= 256).
  c = jnp.asarray([n ** (d + 1) for d in range(per)], jnp.uint32)
  top = ((w >> 16) * c + (((w & 0xFFFF) * c) >> 16)) >> 16
  sym = (top % jnp.uint32(n)).reshape(batch, -1)[:, :length]
  return sym.astype(jnp.int32)
