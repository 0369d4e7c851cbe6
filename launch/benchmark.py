r"""Benchmarks (not tests): `python -m launch.benchmark NAME [--flags]`.

  python -m launch.benchmark samplers                       # every language, n = 64 512 4096
  python -m launch.benchmark samplers --lengths=64,512 --languages=dyck:k=2,tomita3

`samplers`: tokens per second of the library's recognition sampler (balanced members /
non-members, jitted, batch --batch, on the default device, compile excluded) and of a
straightforward per-string Python generator of the same distribution written here as
the reference (timed on a few strings and scaled per token), at each length. Both sides
report their best of a few timed slices (library: best of up to 30 calls in ~1 s;
reference: best of 5 slices of --ref_seconds), since other processes on a shared machine
only ever slow a slice down. Last line: the smallest speed-up at length 512 against the
100x target. Expected runtime on 2 CPU cores: a few minutes (MAJORITY, whose automaton
grows with n, is skipped above n = 1024 with a note unless --lengths is given).

Subcommands live in `BENCHMARKS` (name -> function(argv)), so `sweep` and `scaling` can be
added next to `samplers`.
"""

from __future__ import annotations

import itertools
import math
import random
from bisect import bisect_right as _bisect_right
import time
from typing import Callable

from absl import app, flags

from launch import common

_LENGTHS = flags.DEFINE_string("lengths", "64,512,4096", "Comma-separated lengths.")
_BATCH = flags.DEFINE_integer("batch", 1024, "Strings per sampler call.")
_LANGS = flags.DEFINE_string("languages", "", "Comma-separated specs (default: all).")
_REF_SECONDS = flags.DEFINE_float("ref_seconds", 0.5, "Time budget per Python reference.")

DEFAULT_SPECS = ("parity", "first", "one", "majority", "aa_star", "ab_star", "mod:m=3",
                 *(f"tomita{i}" for i in range(1, 8)), "dfa:path=configs/dfa_example.json",
                 "anbn", "anbncn", "dyck:k=2", "dyck_bounded:k=2,depth=3", "shuffle_dyck:k=2")


# Python references: one string at a time, plain Python. ----------------------------------
def _ref_automaton(lang, n):
  """Uniform member / non-member by exact big-integer path counting on the automaton."""
  auto = lang.automaton(n)
  delta = [list(map(int, row)) for row in auto.delta]
  acc = [bool(a) for a in auto.accept]
  S = len(delta)
  counts = {}
  for label in (0, 1):
    c = [[int(acc[s] == bool(label)) for s in range(S)]]
    for _ in range(n):
      prev = c[-1]
      c.append([sum(prev[t] for t in delta[s]) for s in range(S)])
    counts[label] = c

  def gen():
    label = random.random() < 0.5
    c = counts[int(label)]
    if c[n][auto.start] == 0:
      label, c = not label, counts[int(not label)]
    s, out = auto.start, []
    for t in range(n):
      r = n - t - 1
      x = random.randrange(c[r + 1][s])
      for a, nxt in enumerate(delta[s]):
        if x < c[r][nxt]:
          break
        x -= c[r][nxt]
      out.append(a)
      s = nxt
    return out
  return gen


def _ref_dyck(lang, n):
  """Ballot-number member sampler with an explicit stack; non-members by rejection."""
  k, D = lang.k, lang.depth or n
  M = [[0] * (n + 2) for _ in range(n + 1)]
  M[0][0] = 1
  for r in range(1, n + 1):
    for d in range(min(n, D) + 1):
      M[r][d] = (k * M[r - 1][d + 1] if d < D else 0) + (M[r - 1][d - 1] if d else 0)

  def member():
    st, out = [], []
    for t in range(n):
      r, d = n - t - 1, len(st)
      up = k * M[r][d + 1] if d < D else 0
      if random.randrange(up + (M[r][d - 1] if d else 0)) < up:
        j = random.randrange(k)
        st.append(j)
        out.append(2 * j)
      else:
        out.append(2 * st.pop() + 1)
    return out

  def gen():
    if random.random() < 0.5:
      return member()
    while True:
      s = [random.randrange(2 * k) for _ in range(n)]
      if not _py_dyck(s, D):
        return s
  return gen


def _py_dyck(s, D):
  st = []
  for x in s:
    if x % 2 == 0:
      st.append(x // 2)
      if len(st) > D:
        return False
    elif not st or st.pop() != x // 2:
      return False
  return not st


def _ref_shuffle(lang, n):
  """Composition by exact counts, a ballot Dyck-1 word per type, random.shuffle (k = 2)."""
  k = lang.k
  cat = [math.comb(2 * h, h) // (h + 1) for h in range(n // 2 + 1)]
  # Exact integer weights (floats overflow at n = 4096), accumulated once per length.
  sizes = list(range(0, n + 1, 2))
  cum = list(itertools.accumulate(math.comb(n, a) * cat[a // 2] * cat[(n - a) // 2]
                                  for a in sizes))

  def gen():
    if random.random() >= 0.5:
      while True:
        s = [random.randrange(2 * k) for _ in range(n)]
        if any(sum(1 if x == 2 * j else -1 if x == 2 * j + 1 else 0 for x in s) for j in range(k)):
          return s
    a = sizes[_bisect_right(cum, random.randrange(cum[-1]))] if k == 2 else n
    types = [0] * a + [1] * (n - a)
    random.shuffle(types)
    words = [_ballot_word(a, cat), _ballot_word(n - a, cat)]
    pos = [0, 0]
    out = []
    for j in types:
      out.append(2 * j + words[j][pos[j]])
      pos[j] += 1
    return out
  return gen


def _ballot_word(m, cat):
  out, d = [], 0
  # number of Dyck-1 completions of length r from depth d: ballot numbers
  def comp(r, d):
    if d > r or (r - d) % 2:
      return 0
    up = (r + d) // 2
    return math.comb(r, up - d) - math.comb(r, up + 1) if up + 1 <= r else math.comb(r, up - d)
  for t in range(m):
    r = m - t - 1
    a = comp(r, d + 1)
    b = comp(r, d - 1) if d else 0
    if random.randrange(a + b) < a:
      out.append(0)
      d += 1
    else:
      out.append(1)
      d -= 1
  return out


def _ref_counter(lang, n):
  l = lang.letters

  def gen():
    if random.random() < 0.5:
      return [min(t // (n // l), l - 1) for t in range(n)]
    while True:
      s = [random.randrange(l) for _ in range(n)]
      if s != [min(t // (n // l), l - 1) for t in range(n)]:
        return s
  return gen


def _ref_parity(lang, n):
  def gen():
    bits = [random.randrange(2) for _ in range(n - 1)]
    want = random.randrange(2)
    return bits + [(want - sum(bits)) % 2]
  return gen


def reference(lang, n) -> Callable[[], list[int]]:
  from limits.languages import automaton, counter, dyck, parity, shuffle_dyck
  if isinstance(lang, parity.Parity):
    return _ref_parity(lang, n)
  if isinstance(lang, automaton.AutomatonLanguage):
    return _ref_automaton(lang, n)
  if isinstance(lang, dyck.Dyck):
    return _ref_dyck(lang, n)
  if isinstance(lang, shuffle_dyck.ShuffleDyck):
    return _ref_shuffle(lang, n)
  if isinstance(lang, counter.Counter):
    return _ref_counter(lang, n)
  raise ValueError(f"no Python reference for {lang.name}")


def _time_reference(gen, n, budget, rounds=5):
  """Best tokens/s over `rounds` slices of the budget (other load only slows a slice)."""
  best = 0.0
  for _ in range(rounds):
    count, t0 = 0, time.perf_counter()
    while True:
      gen()
      count += 1
      dt = time.perf_counter() - t0
      if dt > budget / rounds or count >= 400:
        break
    best = max(best, count * n / dt)
  return best


# Above this length, languages whose automaton grows with n (MAJORITY: 2n + 3 states) are
# skipped unless their length is asked for with --lengths: the Python reference's exact
# big-integer path counts alone take minutes there, and the library's tables ~0.5 GB.
_MAX_TABLE_N = 1024


def _quadratic(lang, n) -> int:
  """Number of states when `lang`'s automaton grows with n (0 for a fixed automaton)."""
  from limits.languages import automaton
  if not isinstance(lang, automaton.AutomatonLanguage):
    return 0
  small, big = lang.automaton(8).delta.shape[0], lang.automaton(n).delta.shape[0]
  return big if big > small else 0


def split_specs(text: str) -> list[str]:
  """Comma-separated specs; a piece like `depth=3` (no colon) continues the previous spec,
  so `dyck_bounded:k=2,depth=3,tomita3` is two specs."""
  out: list[str] = []
  for piece in (p.strip() for p in text.split(",")):
    if piece and out and "=" in piece and ":" not in piece:
      out[-1] += "," + piece
    elif piece:
      out.append(piece)
  return out


def samplers(argv: list[str]) -> None:
  import jax
  import jax.numpy as jnp
  from limits import languages

  try:
    lengths = [int(x) for x in _LENGTHS.value.split(",") if x.strip()]
  except ValueError:
    common.fail(f"--lengths: expected integers like 64,512, got {_LENGTHS.value!r}")
  specs = split_specs(_LANGS.value) if _LANGS.value else list(DEFAULT_SPECS)
  forced = _LENGTHS.present
  B = _BATCH.value
  print(f"device: {jax.devices()[0].device_kind}  batch {B}  (tokens/s; Python reference per string)")
  head = f"{'language':<28}{'n':>6}{'library tok/s':>16}{'python tok/s':>15}{'speed-up':>11}"
  print(head)
  print("-" * len(head))
  worst = math.inf
  for spec in specs:
    lang = common.user_errors(lambda: languages.make_language(spec))
    for n0 in lengths:
      n = n0
      try:
        lang.check_length(n)
      except ValueError:
        n = n0 + 1 if n0 % 2 else n0     # e.g. anbncn needs a multiple of 3
        while True:
          try:
            lang.check_length(n)
            break
          except ValueError:
            n += 1
      states = _quadratic(lang, n) if n > _MAX_TABLE_N and not forced else 0
      if states:
        print(f"{spec:<28}{n:>6}  skipped: the automaton grows with n ({states} "
              f"states), so both sides' tables are O(n^2) (use --lengths to force)", flush=True)
        continue
      f = jax.jit(lambda k, lang=lang, n=n: lang.recognition(k, jnp.full((B,), n, jnp.int32), n).tokens_BxT)
      jax.block_until_ready(f(jax.random.key(0)))
      best, reps, t_all = math.inf, 0, time.perf_counter()
      while reps < 30 and (reps < 3 or time.perf_counter() - t_all < 1.0):
        t0 = time.perf_counter()
        jax.block_until_ready(f(jax.random.key(reps + 1)))
        best = min(best, time.perf_counter() - t0)
        reps += 1
      lib = B * n / best
      random.seed(0)
      ref = _time_reference(reference(lang, n), n, _REF_SECONDS.value)
      if n0 == 512:
        worst = min(worst, lib / ref)
      print(f"{spec:<28}{n:>6}{lib:>16.3g}{ref:>15.3g}{lib / ref:>10.0f}x", flush=True)
  if math.isfinite(worst):
    print(f"summary: smallest speed-up at n=512 is {worst:.0f}x (target 100x): "
          f"{'met' if worst >= 100 else 'NOT met'}")
  else:
    print("summary: n=512 not benchmarked")


from launch import bench_peers, bench_scaling, bench_sweep  # noqa: E402  (they define flags)

BENCHMARKS: dict[str, Callable[[list[str]], None]] = {"samplers": samplers,
                                                       "sweep": bench_sweep.sweep,
                                                       "scaling": bench_scaling.scaling,
                                                       "peers": bench_peers.peers}


def main(argv: list[str]) -> None:
  if len(argv) < 2 or argv[1] not in BENCHMARKS:
    common.fail(f"usage: python -m launch.benchmark NAME; NAME one of: {', '.join(BENCHMARKS)}")
  if len(argv) > 2:
    common.fail(f"unexpected arguments {argv[2:]}; use --flag=value")
  BENCHMARKS[argv[1]](argv)


if __name__ == "__main__":
  app.run(main, flags_parser=common.parse_flags)
