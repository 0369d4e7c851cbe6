"""The interfaces every language implements: a recogniser, a generator, or both.

- `LanguageBase`: name, alphabet, token ids (layout in `tokens.py`), `configure`,
  strings <-> ids, `sample(task, ...)`, the cross-entropy references.
- `Recogniser`: a membership oracle `accepts` and recognition batches (balanced members
  and non-members, near misses); a multi-class task overrides `recognition` itself.
- `Generator`: a next-symbol generator (prefixes, exact q, its exact entropies) and
  prediction batches.
- `Language` = both (PARITY, Dyck, the DFA languages, ...); `SplitClasses` a language
  that samples members and non-members by different means.

Randomness lives in `threefry.py`, the token layout and `Batch` in `tokens.py`, spec
parsing in `spec.py`, rejection and near-miss sampling in `sampling.py`.

Letters in tensor names: B batch, T padded sequence positions (max length + 1), C
output classes, N symbols of the alphabet, L max length.
"""

from __future__ import annotations

import abc
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from limits.languages import sampling
from limits.languages import tokens as tokens_lib
from limits.languages.tokens import Batch

TASKS = ("recognition", "prediction")
TARGETS = ("distribution", "allowed")


def entropy_bits(q: np.ndarray) -> float:
  """Shannon entropy in bits of a probability vector (0 log 0 = 0)."""
  q = np.asarray(q, np.float64)
  nz = q[q > 0]
  return float(-(nz * np.log2(nz)).sum())


class LanguageBase(abc.ABC):
  """What every language has, whatever it samples.

  Subclasses set `name` and `alphabet` and implement an interface's abstract methods.
  Sampling methods are pure functions of a PRNG key and are jittable: `max_length` is
  static, `lengths_B` may be traced.
  """

  name: str
  alphabet: tuple[str, ...]
  supported_tasks: tuple[str, ...] = ()   # what `sample` draws (set by the interfaces)
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

  def check_length(self, n: int) -> None:
    """Raises ValueError if no string of length n can be sampled for recognition."""
    if n < 1:
      raise ValueError(f"length must be >= 1, got {n}")

  def sample(self, task: str, key: jax.Array, lengths_B: jax.Array, max_length: int) -> Batch:
    """A batch of `task` (recognition, or prediction for a language with a generator)."""
    if task not in TASKS:
      raise ValueError(f"data.task: unknown task {task!r}; allowed: {', '.join(TASKS)}")
    if task not in self.supported_tasks:
      raise ValueError(f"data.task: {self.name} has no {task} task; allowed: "
                       f"{', '.join(self.supported_tasks)}")
    return getattr(self, task)(key, lengths_B, max_length)

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

  def describe(self) -> dict[str, Any]:
    return {"name": self.name, "alphabet": list(self.alphabet), "p": self.p}


class Recogniser(LanguageBase):
  """A language with a membership oracle: recognition batches (`recognition`)."""

  supported_tasks = ("recognition",)

  def sample_symbols(self, key: jax.Array, labels_B: jax.Array, lengths_B: jax.Array,
                     max_length: int) -> jax.Array:
    """int32[B, max_length]: a uniform member (label 1) or non-member (label 0) of each
    length; entries at positions >= length are arbitrary (they are overwritten)."""
    raise NotImplementedError(f"{type(self).__name__}: define sample_symbols or recognition")

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

  def recognition_symbols(self, key: jax.Array, labels_B: jax.Array, lengths_B: jax.Array,
                          max_length: int) -> jax.Array:
    """int32[B, L]: recognition's strings for `labels_B` (alternating 1, 0, ...). Default:
    the whole batch in one call of `sample_symbols` (one scan for both labels);
    `SplitClasses` draws each class as its own half batch."""
    return self.sample_symbols(key, labels_B, lengths_B, max_length)

  def recognition(self, key: jax.Array, lengths_B: jax.Array, max_length: int) -> Batch:
    """Exactly balanced members / non-members of the given exact lengths (label 1 = member).

    Rows alternate: even rows are uniform members, odd rows uniform non-members (so any
    length the caller repeats gets both classes), or with probability
    `near_miss_fraction` near misses (see `near_misses`). Where no non-member of a length
    exists (e.g. (aa)* at even n), the label is 1. The strings come from
    `recognition_symbols`.
    """
    B = lengths_B.shape[0]
    labels_B = jnp.where((jnp.arange(B) % 2 == 0) | ~self.class_exists(lengths_B, max_length),
                         1, 0)
    k_sym, k_near = jax.random.split(key)
    sym = self.recognition_symbols(k_sym, labels_B, lengths_B, max_length)
    if self.near_miss_fraction > 0:
      k_near, k_mem, k_sub = jax.random.split(k_near, 3)
      near_B = jax.random.bernoulli(k_near, self.near_miss_fraction, (B,)) & (labels_B == 0)
      members = self.sample_class(k_mem, 1, lengths_B, max_length)
      miss, ok_B = self.near_misses(k_sub, members, lengths_B)
      sym = jnp.where((near_B & ok_B)[:, None], miss, sym)
    tokens = tokens_lib.recognition_tokens(sym, lengths_B, self.n_symbols)
    return Batch(tokens_BxT=tokens, lengths_B=lengths_B.astype(jnp.int32),
                 labels_B=labels_B.astype(jnp.int32))

  def near_misses(self, key: jax.Array, members_BxL: jax.Array,
                  lengths_B: jax.Array) -> tuple[jax.Array, jax.Array]:
    """One-substitution near misses of members (`sampling.near_misses`)."""
    return sampling.near_misses(self, key, members_BxL, lengths_B)

  def accepts_time_major(self, symbols_LxB: jax.Array, lengths_B: jax.Array) -> jax.Array:
    """bool[B]: `accepts` for strings laid out [L, B] (a scan's own layout)."""
    return self.accepts(symbols_LxB.T, lengths_B)

  def rejection_sample(self, key: jax.Array, labels_B: jax.Array, lengths_B: jax.Array,
                       max_length: int, skip_B: jax.Array | None = None,
                       time_major: bool = False) -> jax.Array:
    """int32[B, max_length]: exactly uniform strings of each class, by rejection
    (`sampling.rejection_sample`)."""
    return sampling.rejection_sample(self, key, labels_B, lengths_B, max_length, skip_B,
                                     time_major)


class Generator(LanguageBase):
  """A language with a next-symbol generator: prediction batches (`prediction`) and the
  exact entropies of its prefixes (Theorem 6's optimal and chance)."""

  supported_tasks = ("prediction",)

  @abc.abstractmethod
  def sample_prefixes(self, key: jax.Array, lengths_B: jax.Array,
                      max_length: int) -> jax.Array:
    """int32[B, max_length]: generator prefixes of each length (see `prediction`)."""

  @abc.abstractmethod
  def next_symbol_distribution(self, symbols_BxL: jax.Array) -> jax.Array:
    """float32[B, L+1, N+1]: q(. | x_1..x_t) for t = 0..L under the generator."""

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
    tokens = tokens_lib.prediction_tokens(sym, lengths_B, self.n_symbols)
    masked = jnp.where(jnp.arange(max_length)[None, :] < n, sym, 0)
    q = self.next_symbol_distribution(masked)
    q = jnp.where((t <= n)[..., None], q, 0.0)
    allowed = self.targets == "allowed"
    if allowed:
      q = (q > 0).astype(jnp.float32)
    return Batch(tokens_BxT=tokens, lengths_B=lengths_B.astype(jnp.int32),
                 targets_BxTxC=q.astype(jnp.float32), multilabel=allowed)

  def theorem6_p0(self, n: int, samples: int, key: jax.Array) -> float | None:
    """P_0 of Theorem 6 (Hahn 2020) at length n, estimated from `samples` generator
    prefixes: the probability that a prefix is unbalanced and ends in a closing bracket,
    whose excess cross-entropy over optimal is at least P_0 (1 - p) log 2. None for a
    language the theorem's bound is not about (only bracket languages override it)."""
    del n, samples, key
    return None

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


class Language(Recogniser, Generator):
  """A language with both: recognition and next-symbol prediction."""

  supported_tasks = TASKS


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

  def recognition_symbols(self, key, labels_B, lengths_B, max_length):
    B = lengths_B.shape[0]
    H = (B + 1) // 2
    k_mem, k_non = jax.random.split(key)
    len_n = jnp.concatenate([lengths_B[1::2], lengths_B[:H - B // 2]])  # odd B: a spare
    mem = self.sample_class(k_mem, 1, lengths_B[0::2], max_length)
    non = self.sample_negatives(k_non, len_n, max_length)
    return jnp.stack([mem, non], axis=1).reshape(2 * H, max_length)[:B]

  def sample_symbols(self, key, labels_B, lengths_B, max_length):
    k_mem, k_non = jax.random.split(key)
    mem = self.sample_class(k_mem, 1, lengths_B, max_length)
    non = self.sample_class(k_non, 0, lengths_B, max_length)
    return jnp.where((labels_B == 1)[:, None], mem, non)
