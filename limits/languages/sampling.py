"""Sampling a class by its oracle: rejection, near misses, and early-exit scans.

Functions of a recogniser `lang` (its `accepts`, `n_symbols`); `base.Recogniser` exposes
them as methods for the languages that use them.

Letters: B batch, L positions.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from limits.languages import threefry

# Near misses: at most this many random one-symbol substitutions are tried per string.
NEAR_MISS_TRIES = 32
# Rejection sampling gives up after this many rounds (only reachable if a class is empty).
REJECTION_ROUNDS = 1000


def near_misses(lang, key: jax.Array, members_BxL: jax.Array,
                lengths_B: jax.Array) -> tuple[jax.Array, jax.Array]:
  """One-substitution near misses of members: (int32[B, L] strings, bool[B] found).

  Draws a uniform position < n and a uniform different symbol, keeping the first of up
  to NEAR_MISS_TRIES draws that is a non-member, i.e. a uniform choice among the
  non-member substitutions of the member. `found` is False where every try stayed in
  the language (then the caller keeps a uniform non-member). Length is unchanged, so
  only substitutions count as edits.
  """
  B, L = members_BxL.shape
  a = lang.n_symbols

  def body(carry):
    i, out, found = carry
    k_pos, k_sym = jax.random.split(jax.random.fold_in(key, i))
    pos_B = jnp.floor(jax.random.uniform(k_pos, (B,)) * lengths_B).astype(jnp.int32)
    off_B = jax.random.randint(k_sym, (B,), 1, max(a, 2))
    hit = jnp.arange(L)[None, :] == pos_B[:, None]
    cand = jnp.where(hit, (members_BxL + off_B[:, None]) % a, members_BxL)
    ok = ~lang.accepts(cand, lengths_B) & ~found
    return i + 1, jnp.where(ok[:, None], cand, out), found | ok

  def cond(carry):
    i, _, found = carry
    return (i < NEAR_MISS_TRIES) & ~jnp.all(found)

  found0 = jnp.full((B,), a < 2)  # one symbol: no substitution exists
  _, out, found = jax.lax.while_loop(cond, body, (jnp.int32(0), members_BxL, found0))
  return out, found & (a >= 2)


def rejection_sample(lang, key: jax.Array, labels_B: jax.Array, lengths_B: jax.Array,
                     max_length: int, skip_B: jax.Array | None = None,
                     time_major: bool = False) -> jax.Array:
  """int32[B, max_length]: exactly uniform strings of each class, by rejection.

  Draws uniform strings until each row's membership equals its label (a while loop:
  static shapes, jittable; the first round is outside the loop, which runs only while
  some row is still wrong). Used where the class is not rare (e.g. Dyck non-members).
  Gives up after REJECTION_ROUNDS rounds, leaving the last draw, which only happens if
  the class is empty at that length (`check_length` rules that out for members).
  Rows where `skip_B` is True keep their first draw. `time_major` draws and checks
  [L, B] strings (`accepts_time_major`), for languages whose oracle scans positions.
  """
  B, L = labels_B.shape[0], max_length
  want = labels_B == 1
  shape = (L, B) if time_major else (B, L)
  draw = lambda i: threefry.uniform_symbols(jax.random.fold_in(key, i), *shape, lang.n_symbols)
  oracle = lang.accepts_time_major if time_major else lang.accepts
  rows = (lambda v: v[None, :]) if time_major else (lambda v: v[:, None])
  x0 = draw(0)
  bad0 = oracle(x0, lengths_B) != want
  if skip_B is not None:
    bad0 &= ~skip_B

  def body(carry):
    i, x, bad = carry
    cand = draw(i)
    return i + 1, jnp.where(rows(bad), cand, x), bad & (oracle(cand, lengths_B) != want)

  def cond(carry):
    i, _, bad = carry
    return (i < REJECTION_ROUNDS) & jnp.any(bad)

  _, x, _ = jax.lax.while_loop(cond, body, (jnp.int32(1), x0, bad0))
  return x.T if time_major else x


def until_all_fail(x_LxB: jax.Array, lengths_B: jax.Array, init: Any,
                   step: Callable[[Any, jax.Array, jax.Array], tuple[Any, jax.Array]]):
  """(state, bool[B] ok) after one left-to-right pass over [L, B] strings that stops as
  soon as every row has failed or ended (uniform strings fail within a few symbols).

  `step(state, x_B, live_B) -> (state, good_B)` reads one position; `live_B` marks rows
  still within their length and not yet failed (only those may change the state), and a
  live row fails where `good_B` is False."""
  L, B = x_LxB.shape

  def body(carry):
    t, state, ok_B = carry
    x_B = jax.lax.dynamic_index_in_dim(x_LxB, t, keepdims=False)
    live = (t < lengths_B) & ok_B
    state, good = step(state, x_B, live)
    return t + 1, state, ok_B & (~live | good)

  def cond(carry):
    t, _, ok_B = carry
    return (t < L) & jnp.any(ok_B & (t < lengths_B))

  _, state, ok_B = jax.lax.while_loop(cond, body, (jnp.int32(0), init, jnp.ones((B,), bool)))
  return state, ok_B
