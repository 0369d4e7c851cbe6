"""limits.languages.stack: the bit-packed stack of types agrees with a Python list stack
under random pushes and pops, at every k (1, a power of two, word-straddling widths)."""

import hypothesis
import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st

from limits.languages import stack as stack_lib


@hypothesis.settings(max_examples=30, deadline=None, derandomize=True)
@hypothesis.given(k=st.sampled_from([1, 2, 3, 5, 8, 26]), seed=st.integers(0, 2**31 - 1))
def test_packed_stack_is_a_stack(k, seed):
  B, steps, slots = 6, 40, 40
  s = stack_lib.PackedStack(k)
  rng = np.random.default_rng(seed)
  push = rng.random((steps, B)) < 0.6
  types = rng.integers(0, k, (steps, B))
  lists = [[] for _ in range(B)]
  st_ = s.empty(slots, B)
  depth = jnp.zeros((B,), jnp.int32)
  write, read = jax.jit(s.write), jax.jit(s.read)
  for t in range(steps):
    do = jnp.asarray(push[t])
    st_ = write(st_, depth, jnp.asarray(types[t], jnp.uint32), do)
    pops = ~push[t] & (np.asarray(depth) > 0)
    top = np.asarray(read(st_, jnp.maximum(depth - 1, 0)))
    for b in range(B):
      if push[t, b]:
        lists[b].append(int(types[t, b]))
      elif pops[b]:
        assert top[b] == lists[b].pop(), (k, t, b)
    depth = jnp.where(do, depth + 1, jnp.where(jnp.asarray(pops), depth - 1, depth))
  for b in range(B):   # every slot still on the stack reads back
    for i, want in enumerate(lists[b]):
      assert int(read(st_, jnp.full((B,), i, jnp.int32))[b]) == want
  assert len(st_) == (0 if k == 1 else -(-slots // s.per))


def test_a_slot_past_the_end_is_dropped():
  s = stack_lib.PackedStack(4)
  st_ = s.empty(s.per, 2)              # one word
  full = jnp.full((2,), s.per, jnp.int32)
  after = s.write(st_, full, jnp.asarray([3, 3], jnp.uint32), jnp.asarray([True, True]))
  assert all(np.array_equal(a, b) for a, b in zip(after, st_))
  assert np.all(np.asarray(s.read(st_, full)) == 0)
