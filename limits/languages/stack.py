"""A stack of small types (bracket types) for a batch of rows, packed in uint32 words.

b = ceil(log2 k) bits per entry, 32 // b entries per word, slot i in word i // per. The
words are a tuple of uint32[B] (not one [B, W] array), so every read and write is
elementwise and XLA:CPU fuses a whole scan step. k = 1 needs no stack (every entry is
type 0). Used by `dyck.Dyck`'s sampler walk, its oracle and its prediction targets.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class PackedStack:
  k: int    # number of types

  @property
  def bits(self) -> int:
    """Bits per entry."""
    return max(1, (self.k - 1).bit_length())

  @property
  def per(self) -> int:
    """Entries per uint32 word."""
    return 32 // self.bits

  def empty(self, slots: int, batch: int) -> tuple[jax.Array, ...]:
    """A stack of `slots` entries per row; k = 1 needs none."""
    words = -(-slots // self.per) if self.k > 1 else 0
    return (jnp.zeros((batch,), jnp.uint32),) * words

  def read(self, stack, slot_B):
    """uint32[B]: the type at slot `slot_B` (0 for k = 1: no stack; 0 past the end)."""
    if not stack:
      return jnp.zeros(slot_B.shape, jnp.uint32)
    bits, per = self.bits, self.per
    slot_B = slot_B.astype(jnp.uint32)
    w_B = slot_B // per
    word = stack[0]
    for i in range(1, len(stack)):
      word = jnp.where(w_B == i, stack[i], word)
    return (word >> ((slot_B % per) * bits)) & jnp.uint32((1 << bits) - 1)

  def write(self, stack, slot_B, type_B, do_B):
    """The stack with `type_B` stored at slot `slot_B` where `do_B`. A slot past the end
    is dropped: callers bound the depth or detect the overflow."""
    if not stack:
      return stack
    bits, per = self.bits, self.per
    slot_B = slot_B.astype(jnp.uint32)
    sh = (slot_B % per) * bits
    w_B = jnp.where(do_B, slot_B // per, jnp.uint32(len(stack)))
    clear = ~(jnp.uint32((1 << bits) - 1) << sh)
    put = type_B.astype(jnp.uint32) << sh
    return tuple(jnp.where(w_B == i, (x & clear) | put, x) for i, x in enumerate(stack))
