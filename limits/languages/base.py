"""The shape every language shares: token layout, `Batch`, and the `Language` base.

Letters in tensor names: B batch, T padded sequence positions (max length + 1), C
output classes, N symbols of the alphabet.

Token layout (ids), for an alphabet of N symbols:
  0 .. N-1  the language's symbols, in the order of `Language.alphabet`
  N         EOS, the end-of-sequence symbol x_n of Hahn (2020) §3
  N + 1     BOS, read at position 0 by next-symbol prediction (predicts x_1)
  N + 2     PAD, masked out of attention and out of every loss and readout

Recognition input of a string of m symbols:  x_1 .. x_m EOS PAD ...   (readout at m)
Prediction input of a prefix of m symbols:   BOS x_1 .. x_m PAD ...    (readout at 0..m)
In prediction, output class c < N means symbol c and class N means EOS, so a class id is
the token id of what comes next.
"""

from __future__ import annotations

import abc
import math
from typing import Any, Callable, Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

TASKS = ("recognition", "prediction")
TARGETS = ("distribution", "allowed")
# Near misses: at most this many random one-symbol substitutions are tried per string.
NEAR_MISS_TRIES = 32
# Rejection sampling gives up after this many rounds (only reachable if a class is empty).
REJECTION_ROUNDS = 1000
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


def random_words(key: jax.Array, shape: Sequence[int]) -> jax.Array:
  """uint32[shape]: i.i.d. uniform random words, Threefry-2x32 (20 rounds; Salmon et al.
  2011, the hash behind jax.random) of a counter under a key drawn from `key`.

  The same hash as `jax.random.bits` (checked against Random123's known answers in the
  tests), written out round by round: XLA:CPU fuses it into one loop over the output,
  where jax.random's CPU lowering runs the rounds as a 5-step while loop over whole
  arrays (about 2x slower here; random words are most of a forward sampler's cost).
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
  w = random_words(key, (batch, -(-length // per)))
  digits = []
  for _ in range(per):   # w / 2^32 -> frac(n w / 2^32), in 16-bit halves to stay in uint32
    lo = (w & 0xFFFF) * n
    hi = (w >> 16) * n + (lo >> 16)
    digits.append(hi >> 16)
    w = ((hi & 0xFFFF) << 16) | (lo & 0xFFFF)
  sym = jnp.stack(digits, axis=-1).reshape(batch, -1)[:, :length]
  return sym.astype(jnp.int32)


@flax.struct.dataclass
class Batch:
  """A padded batch of strings, shapes static, built on device.

  tokens_BxT: int32 token ids (layout in the module docstring).
  lengths_B: int32 number of symbols m of each string (EOS/BOS not counted).
  labels_B: int32 class of each string (recognition: 1 = member), or None.
  targets_BxTxC: float32 exact next-symbol distribution q(. | prefix) at each position
    (prediction), or None. Rows at padding positions are zero. When `multilabel` is
    True the rows are instead the multi-hot set of allowed next symbols (support of q,
    Bhattamishra et al. 2020), not normalised.
  multilabel: static flag, True for `targets="allowed"` batches (metrics.losses then uses
    per-class sigmoid binary cross-entropy).
  """

  tokens_BxT: jax.Array
  lengths_B: jax.Array
  labels_B: jax.Array | None = None
  targets_BxTxC: jax.Array | None = None
  multilabel: bool = flax.struct.field(pytree_node=False, default=False)

  @property
  def readout_B(self) -> jax.Array:
    """Index of the last position y_n^(L) of each string (its EOS in recognition)."""
    return self.lengths_B

  @property
  def valid_BxT(self) -> jax.Array:
    """True at every non-padding position."""
    t = jnp.arange(self.tokens_BxT.shape[1])
    return t[None, :] <= self.lengths_B[:, None]


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
  """Splits `name:a=1,b` into ("name", {"a": "1", "b": ""})."""
  if not isinstance(spec, str) or not spec.strip():
    raise ValueError(f"data.language: expected a language name, got {spec!r}")
  name, _, rest = spec.strip().partition(":")
  params: dict[str, str] = {}
  for item in filter(None, (s.strip() for s in rest.split(","))):
    key, _, value = item.partition("=")
    params[key.strip()] = value.strip()
  return name.strip(), params


def entropy_bits(q: np.ndarray) -> float:
  """Shannon entropy in bits of a probability vector (0 log 0 = 0)."""
  q = np.asarray(q, np.float64)
  nz = q[q > 0]
  return float(-(nz * np.log2(nz)).sum())


class Language(abc.ABC):
  """A formal language with its samplers, membership oracle and exact cross-entropies.

  Subclasses set `name` and `alphabet` and implement the abstract methods. Sampling
  methods are pure functions of a PRNG key and are jittable: `max_length` is static,
  `lengths_B` may be traced.
  """

  name: str
  alphabet: tuple[str, ...]
  # Set by `configure` (make_language): the negatives' mix and the prediction targets.
  near_miss_fraction: float = 0.0
  targets: str = "distribution"
  # Whether recognition has member / non-member classes to draw near misses from.
  supports_near_misses: bool = True

  def __init__(self, p: float = 0.5):
    if not 0.0 < float(p) < 1.0:
      raise ValueError(f"data.p: the generator's stop probability must lie in (0, 1), got {p}")
    self.p = float(p)

  def configure(self, near_miss_fraction: float = 0.0, targets: str = "distribution") -> "Language":
    """Sets the recognition negatives' mix and the prediction target kind; returns self.

    near_miss_fraction: share of negatives that are near misses (a uniform member with
      one symbol substituted so that it is no longer a member); the rest are uniform
      non-members of the same length.
    targets: "distribution" (exact q) or "allowed" (multi-hot support of q).
    """
    f = float(near_miss_fraction)
    if not 0.0 <= f <= 1.0:
      raise ValueError(f"data.near_miss_fraction: must lie in [0, 1], got {near_miss_fraction}")
    if targets not in TARGETS:
      raise ValueError(f"data.targets: unknown value {targets!r}; allowed: {', '.join(TARGETS)}")
    if f > 0 and not self.supports_near_misses:
      raise ValueError(f"data.near_miss_fraction: {self.name} labels uniform strings by "
                       f"class, so it has no non-members to turn into near misses; must be 0, "
                       f"got {near_miss_fraction}")
    self.near_miss_fraction, self.targets = f, targets
    return self

  # Token ids ------------------------------------------------------------------
  @property
  def n_symbols(self) -> int:
    return len(self.alphabet)

  @property
  def eos(self) -> int:
    return self.n_symbols

  @property
  def bos(self) -> int:
    return self.n_symbols + 1

  @property
  def pad(self) -> int:
    return self.n_symbols + 2

  @property
  def vocab_size(self) -> int:
    return self.n_symbols + 3

  def num_classes(self, task: str) -> int:
    """Output classes: 2 for recognition, symbols + EOS for prediction."""
    return 2 if task == "recognition" else self.n_symbols + 1

  # Strings <-> ids ------------------------------------------------------------
  def encode(self, string: str) -> list[int]:
    """Symbol ids of a string written in the alphabet; ValueError names a bad symbol."""
    index = {s: i for i, s in enumerate(self.alphabet)}
    out = []
    for pos, ch in enumerate(string):
      if ch not in index:
        raise ValueError(
            f"symbol {ch!r} at position {pos} is not in the alphabet of {self.name} "
            f"({' '.join(self.alphabet)})")
      out.append(index[ch])
    return out

  def decode(self, ids: Sequence[int]) -> str:
    return "".join(self.alphabet[int(i)] for i in ids)

  # Sampling -------------------------------------------------------------------
  def check_length(self, n: int) -> None:
    """Raises ValueError if no string of length n can be sampled for recognition."""
    if n < 1:
      raise ValueError(f"length must be >= 1, got {n}")

  @abc.abstractmethod
  def sample_symbols(self, key: jax.Array, labels_B: jax.Array, lengths_B: jax.Array,
                     max_length: int) -> jax.Array:
    """int32[B, max_length]: a uniform member (label 1) or non-member (label 0) of each
    length; entries at positions >= length are arbitrary (they are overwritten)."""

  @abc.abstractmethod
  def sample_prefixes(self, key: jax.Array, lengths_B: jax.Array,
                      max_length: int) -> jax.Array:
    """int32[B, max_length]: generator prefixes of each length (see `prediction`)."""

  @abc.abstractmethod
  def next_symbol_distribution(self, symbols_BxL: jax.Array) -> jax.Array:
    """float32[B, L+1, N+1]: q(. | x_1..x_t) for t = 0..L under the generator."""

  @abc.abstractmethod
  def accepts(self, symbols_BxL: jax.Array, lengths_B: jax.Array) -> jax.Array:
    """bool[B]: membership oracle for each (padded) string."""

  def class_exists(self, lengths_B: jax.Array, max_length: int) -> jax.Array:
    """bool[B]: whether a non-member of each length exists (members: `check_length`)."""
    del max_length
    return jnp.ones(lengths_B.shape, bool)

  def sample_class(self, key: jax.Array, label: int, lengths_B: jax.Array,
                   max_length: int) -> jax.Array:
    """int32[B, L]: uniform strings of one class, `label` static (1 members, 0 non-members).

    For label 0, rows whose length has no non-member get a member (`class_exists`). The
    default calls `sample_symbols`; a language whose classes are sampled by different
    means (Dyck: ballot walk / rejection) is a `SplitClasses`, which defines this instead,
    so each class pays only its own.
    """
    labels_B = jnp.full(lengths_B.shape, label, jnp.int32)
    if label == 0:
      labels_B = jnp.where(self.class_exists(lengths_B, max_length), 0, 1)
    return self.sample_symbols(key, labels_B, lengths_B, max_length)

  def reject_non_members(self, key: jax.Array, lengths_B: jax.Array, max_length: int,
                         time_major: bool = False) -> jax.Array:
    """int32[B, L]: uniform non-members by rejection, for languages where most strings are
    non-members. Length 0 has none (the empty string is a member): such rows keep a draw."""
    zeros = jnp.zeros(lengths_B.shape, jnp.int32)
    return self.rejection_sample(key, zeros, lengths_B, max_length, skip_B=lengths_B == 0,
                                 time_major=time_major)

  def recognition(self, key: jax.Array, lengths_B: jax.Array, max_length: int) -> Batch:
    """Exactly balanced members / non-members of the given exact lengths (label 1 = member).

    Rows alternate: even rows are uniform members, odd rows uniform non-members (so any
    length the caller repeats gets both classes), or with probability
    `near_miss_fraction` near misses (see `near_misses`). Where no non-member of a length
    exists (e.g. (aa)* at even n), the label is 1. A `SplitClasses` language samples
    each class as its own half batch (`sample_class`); the others sample the whole batch
    in one call of `sample_symbols` (one scan for both labels).
    """
    B = lengths_B.shape[0]
    H = (B + 1) // 2
    labels_B = jnp.where((jnp.arange(B) % 2 == 0) | ~self.class_exists(lengths_B, max_length),
                         1, 0)
    k_sym, k_near = jax.random.split(key)
    if isinstance(self, SplitClasses):
      k_mem, k_non = jax.random.split(k_sym)
      len_n = jnp.concatenate([lengths_B[1::2], lengths_B[:H - B // 2]])  # odd B: a spare
      mem = self.sample_class(k_mem, 1, lengths_B[0::2], max_length)
      non = self.sample_negatives(k_non, len_n, max_length)
      sym = jnp.stack([mem, non], axis=1).reshape(2 * H, max_length)[:B]
    else:
      sym = self.sample_symbols(k_sym, labels_B, lengths_B, max_length)
    if self.near_miss_fraction > 0:
      k_near, k_mem, k_sub = jax.random.split(k_near, 3)
      near_B = jax.random.bernoulli(k_near, self.near_miss_fraction, (B,)) & (labels_B == 0)
      members = self.sample_class(k_mem, 1, lengths_B, max_length)
      miss, ok_B = self.near_misses(k_sub, members, lengths_B)
      sym = jnp.where((near_B & ok_B)[:, None], miss, sym)
    t = jnp.arange(max_length + 1)[None, :]
    sym = jnp.pad(sym, ((0, 0), (0, 1)))
    n = lengths_B[:, None]
    tokens = jnp.where(t < n, sym, jnp.where(t == n, self.eos, self.pad))
    return Batch(tokens_BxT=tokens.astype(jnp.int32), lengths_B=lengths_B.astype(jnp.int32),
                 labels_B=labels_B.astype(jnp.int32))

  def prediction(self, key: jax.Array, lengths_B: jax.Array, max_length: int) -> Batch:
    """Generator prefixes x_1..x_m with the exact next-symbol distribution at t = 0..m.

    The prefix is drawn from the generator conditioned on not having emitted EOS in its
    first m steps (`parity:prefixes=uniform`: uniform bits instead); targets are exact
    distributions, so the loss is the expected
    cross-entropy over the next symbol (no sampling noise from the target).
    """
    sym = self.sample_prefixes(key, lengths_B, max_length)
    t = jnp.arange(max_length + 1)[None, :]
    n = lengths_B[:, None]
    sym_shift = jnp.pad(sym, ((0, 0), (1, 0)))  # BOS goes in front
    tokens = jnp.where(t == 0, self.bos, jnp.where(t <= n, sym_shift, self.pad))
    masked = jnp.where(jnp.arange(max_length)[None, :] < n, sym, 0)
    q = self.next_symbol_distribution(masked)
    q = jnp.where((t <= n)[..., None], q, 0.0)
    allowed = self.targets == "allowed"
    if allowed:
      q = (q > 0).astype(jnp.float32)
    return Batch(tokens_BxT=tokens.astype(jnp.int32), lengths_B=lengths_B.astype(jnp.int32),
                 targets_BxTxC=q.astype(jnp.float32), multilabel=allowed)

  def near_misses(self, key: jax.Array, members_BxL: jax.Array,
                  lengths_B: jax.Array) -> tuple[jax.Array, jax.Array]:
    """One-substitution near misses of members: (int32[B, L] strings, bool[B] found).

    Draws a uniform position < n and a uniform different symbol, keeping the first of up
    to NEAR_MISS_TRIES draws that is a non-member, i.e. a uniform choice among the
    non-member substitutions of the member. `found` is False where every try stayed in
    the language (then the caller keeps a uniform non-member). Length is unchanged, so
    only substitutions count as edits.
    """
    B, L = members_BxL.shape
    a = self.n_symbols

    def body(carry):
      i, out, found = carry
      k_pos, k_sym = jax.random.split(jax.random.fold_in(key, i))
      pos_B = jnp.floor(jax.random.uniform(k_pos, (B,)) * lengths_B).astype(jnp.int32)
      off_B = jax.random.randint(k_sym, (B,), 1, max(a, 2))
      hit = jnp.arange(L)[None, :] == pos_B[:, None]
      cand = jnp.where(hit, (members_BxL + off_B[:, None]) % a, members_BxL)
      ok = ~self.accepts(cand, lengths_B) & ~found
      return i + 1, jnp.where(ok[:, None], cand, out), found | ok

    def cond(carry):
      i, _, found = carry
      return (i < NEAR_MISS_TRIES) & ~jnp.all(found)

    found0 = jnp.full((B,), a < 2)  # one symbol: no substitution exists
    _, out, found = jax.lax.while_loop(cond, body, (jnp.int32(0), members_BxL, found0))
    return out, found & (a >= 2)

  def accepts_time_major(self, symbols_LxB: jax.Array, lengths_B: jax.Array) -> jax.Array:
    """bool[B]: `accepts` for strings laid out [L, B] (a scan's own layout)."""
    return self.accepts(symbols_LxB.T, lengths_B)

  def rejection_sample(self, key: jax.Array, labels_B: jax.Array, lengths_B: jax.Array,
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
    draw = lambda i: uniform_symbols(jax.random.fold_in(key, i), *shape, self.n_symbols)
    oracle = self.accepts_time_major if time_major else self.accepts
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

  def sample(self, task: str, key: jax.Array, lengths_B: jax.Array, max_length: int) -> Batch:
    if task == "recognition":
      return self.recognition(key, lengths_B, max_length)
    if task == "prediction":
      return self.prediction(key, lengths_B, max_length)
    raise ValueError(f"data.task: unknown task {task!r}; allowed: {', '.join(TASKS)}")

  # Exact cross-entropies --------------------------------------------------------
  def optimal_xent_bits(self, task: str, n: int) -> float:
    """Cross-entropy (bits) of the best possible predictor at length n.

    Recognition: 0 (membership is a function of the string). Prediction with
    `targets="distribution"`: the mean, over t = 0..n, of the expected entropy of
    q(. | prefix of length t). With `targets="allowed"` (per-class sigmoid loss against
    the multi-hot support of q): 0, since the support is a function of the prefix.
    """
    if task == "recognition" or self.targets == "allowed":
      return 0.0
    return float(np.mean(self.prefix_entropies_bits(n)))

  def theorem6_p0(self, n: int, samples: int, key: jax.Array) -> float | None:
    """P_0 of Theorem 6 (Hahn 2020) at length n, estimated from `samples` generator
    prefixes: the probability that a prefix is unbalanced and ends in a closing bracket,
    whose excess cross-entropy over optimal is at least P_0 (1 - p) log 2. None for a
    language the theorem's bound is not about (only bracket languages override it)."""
    del n, samples, key
    return None

  def chance_xent_bits(self, task: str, n: int) -> float:
    """Cross-entropy (bits) of the best predictor that ignores the input.

    Recognition: 1 bit (classes are balanced). Prediction: the entropy of the unigram
    distribution, i.e. the mean of q(. | prefix of length t) over t = 0..n and prefixes.
    With `targets="allowed"`: sum over classes c of the binary entropy of a_c, the share
    of positions (t = 0..n, over prefixes) at which c is allowed (the best constant
    sigmoid outputs a_c); NaN where the language has no exact `prefix_allowed_rates`.
    """
    if task == "recognition":
      return 1.0
    if self.targets == "allowed":
      rates = self.prefix_allowed_rates(n)
      if rates is None:
        return float("nan")
      a = np.clip(np.mean(rates, axis=0), 0.0, 1.0)
      return float(sum(entropy_bits(np.array([x, 1.0 - x])) for x in a))
    return entropy_bits(np.mean(self.prefix_mean_distributions(n), axis=0))

  def prefix_allowed_rates(self, n: int) -> np.ndarray | None:
    """float64[n+1, N+1]: P(q(c | x_1..x_t) > 0) for t = 0..n, exact; None where not
    derived (then the `allowed` targets' chance is reported as NaN)."""
    del n
    return None

  @abc.abstractmethod
  def prefix_entropies_bits(self, n: int) -> np.ndarray:
    """float64[n+1]: E[H(q(. | x_1..x_t))] in bits for t = 0..n, exact."""

  @abc.abstractmethod
  def prefix_mean_distributions(self, n: int) -> np.ndarray:
    """float64[n+1, N+1]: E[q(. | x_1..x_t)] for t = 0..n, exact."""

  def describe(self) -> dict[str, Any]:
    return {"name": self.name, "alphabet": list(self.alphabet), "p": self.p}


class SplitClasses(Language):
  """A language whose members and non-members are sampled by different means (Dyck:
  ballot walk / rejection; counters: the one member / rejection). It defines
  `sample_class`; `recognition` draws each class as its own half batch, and
  `sample_symbols` draws both classes for every row, each row keeping its label's."""

  @abc.abstractmethod
  def sample_class(self, key: jax.Array, label: int, lengths_B: jax.Array,
                   max_length: int) -> jax.Array:
    """int32[B, L]: uniform strings of one class (see `Language.sample_class`)."""

  def sample_negatives(self, key: jax.Array, lengths_B: jax.Array,
                       max_length: int) -> jax.Array:
    """int32[B, L]: the recognition negatives (non-members) of each length. Default:
    uniform non-members (`sample_class(0)`); Dyck mixes in harder ones."""
    return self.sample_class(key, 0, lengths_B, max_length)

  def sample_symbols(self, key, labels_B, lengths_B, max_length):
    k_mem, k_non = jax.random.split(key)
    mem = self.sample_class(k_mem, 1, lengths_B, max_length)
    non = self.sample_class(k_non, 0, lengths_B, max_length)
    return jnp.where((labels_B == 1)[:, None], mem, non)


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
