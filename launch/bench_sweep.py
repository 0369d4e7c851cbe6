r"""`python -m launch.benchmark sweep`: populations against sequential runs, side by side.

For each shape (paper: 5 layers, width 64, 8 heads, FFN 256, batch 128, length 40;
tiny: 2 layers, width 16, 4 heads, FFN 64, batch 4, length 20) it measures, in one run:
  single      one member alone, interleaved with a plain Flax reference of the same shape
              and data (nn.MultiHeadDotProductAttention + optax.adamw); Delétang et al.'s
              own code is measured by `python -m launch.benchmark peers --peer_path=DIR`
  pop16       a 16-member population of that shape (16 seeds), one program: members
              split over the devices (on CPU one per core, see the `devices:` line),
              each device's vmapped or looped inside the step (train.member_chunk=-1)
  seq16       the same 16 members trained one after another (16 programs), in rounds
              interleaved with pop16's (best round of each), as are grid16 / gridseq16
  grid16      a depth 1..4 x heads 1..4 masked population
  gridseq16   its 16 members as standalone runs, one after another
Steps are timed after compilation (2 warm-up steps), best of at least 3 interleaved rounds
of --steps steps (`_best_rounds`), member-steps/s = members x steps / s.
Useful FLOP rate counts each member's own depth and heads (forward + backward = 3 x the
forward matmul FLOPs), against a float32 matrix-multiply rate measured in the same run.
Then: time to first step of a Delétang-style run (train lengths uniform in 1..40), and
evaluation of `--eval_lengths` (128 strings each) by the bucketed Evaluator against one
exact-shape program per length (the peer's way, compilation included; their own
evaluation is timed end to end by `launch.benchmark peers`).
`--grid=G` makes the populations G^2 members (depth 1..G x heads 1..G; G = 4 above).
The last line is `speedup: X`, the tiny-shape pop16 over seq16.
"""

from __future__ import annotations

import time

from absl import flags

_SHAPES = flags.DEFINE_string("shapes", "tiny,paper", "Shapes to measure: tiny, paper.")
_STEPS = flags.DEFINE_integer("steps", 10, "Timed steps per measurement.")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Fewest interleaved rounds per timing (best "
                               "round kept); more rounds steady a loaded machine's numbers.",
                               lower_bound=1)
_EVAL_LENGTHS = flags.DEFINE_string("eval_lengths", "41-100",
                                    "Evaluation lengths (Delétang: 41-500).")
_PARTS = flags.DEFINE_string("parts", "train,first,eval",
                             "Which measurements: train (populations vs sequential), first "
                             "(time to first step), eval (bucketed vs per-length evaluation).")
_PEER_EVERY = flags.DEFINE_integer(
    "eval_peer_every", 1, "Time the one-program-per-length evaluation on every Nth length "
    "only and scale its total by the lengths skipped (1 = every length, exact).")
_GRID = flags.DEFINE_integer("grid", 4, "Populations of grid^2 members: seeds, and depth "
                             "1..grid x heads 1..grid (4: the 16-member runs below).")
PARTS = ("train", "first", "eval")

SHAPES = {
    "paper": dict(depth=5, heads=8, width=64, mlp_width=256, batch=128, length=40),
    "tiny": dict(depth=2, heads=4, width=16, mlp_width=64, batch=4, length=20),
}


def _exp(shape: dict, model: dict | None = None, **sweep):
  from configs import parity
  from limits import config as config_lib
  cfg = parity.get_config("default")
  cfg.model.update(model or {})
  cfg.model.update(depth=shape["depth"], heads=shape["heads"], width=shape["width"],
                   mlp_width=shape["mlp_width"])
  cfg.train.update(batch_size=shape["batch"], steps=10**6)
  cfg.data.update(train_lengths=str(shape["length"]))
  if "key_dim" in sweep:
    cfg.model.key_dim = sweep.pop("key_dim")
  cfg.sweep.update(sweep)
  return config_lib.validate(cfg)


def _compiled(exp) -> tuple[list, float]:
  """([jitted step, state after 2 warm-up steps, member keys], seconds for init + compile
  + first step) of one experiment."""
  import jax
  from limits import setup as setup_lib
  from limits import train as train_lib
  setup = setup_lib.make_setup(exp)
  t0 = time.perf_counter()
  state, keys = setup_lib.init_state(setup), setup_lib.member_keys(setup)[1]
  fn = jax.jit(train_lib.make_train_step(setup), donate_argnums=0)
  state, m = fn(state, keys)
  jax.block_until_ready(m)
  first = time.perf_counter() - t0
  state, m = fn(state, keys)
  jax.block_until_ready(m)
  return [fn, state, keys], first


def _best_rounds(sides: list[list[list]], steps: int, least: int | None = None) -> list[float]:
  """Seconds for `steps` steps of each side, a side being runs ([step fn, state, arg])
  executed one after another: best of interleaved rounds (at least `least`, default
  --rounds, and up to ~2 s per side in all), since other load only ever slows a round down and
  both sides see the same machine."""
  import jax

  def run(r) -> float:
    fn, state, arg = r
    t0 = time.perf_counter()
    for _ in range(steps):
      state, m = fn(state, arg)
    jax.block_until_ready((state, m))
    r[1] = state
    return time.perf_counter() - t0

  best, spent, rounds = [float("inf")] * len(sides), 0.0, 0
  least = _ROUNDS.value if least is None else least
  while rounds < least or (spent < 2.0 * len(sides) and rounds < 50):
    times = [sum(run(r) for r in side) for side in sides]
    best = [min(b, t) for b, t in zip(best, times)]
    spent, rounds = spent + sum(times), rounds + 1
  return best


def _time_steps(exp, steps: int) -> tuple[float, float]:
  """(seconds for `steps` steps after warm-up, best of rounds; seconds to compile + first
  step)."""
  run, first = _compiled(exp)
  return _best_rounds([[run]], steps)[0], first


def _plain_flax_step(shape: dict, lang):
  """A straightforward Flax transformer (nn.MultiHeadDotProductAttention, nn.Dense) of the
  same shape and data, trained by plain optax AdamW: the 'plain reference script'."""
  import flax.linen as nn
  import jax
  import jax.numpy as jnp
  import optax
  from limits.models import positional
  D, H, F, B, n = shape["width"], shape["heads"], shape["mlp_width"], shape["batch"], shape["length"]

  class Block(nn.Module):
    @nn.compact
    def __call__(self, x, mask):
      x = x + nn.MultiHeadDotProductAttention(num_heads=H, qkv_features=D)(x, x, mask=mask)
      return x + nn.Dense(D)(nn.relu(nn.Dense(F)(x)))

  class Model(nn.Module):
    @nn.compact
    def __call__(self, tokens, readout):
      x = nn.Embed(lang.vocab_size, D)(tokens) + positional.sinusoidal(tokens.shape[1], D)[None]
      mask = (tokens != lang.pad)[:, None, None, :]
      for _ in range(shape["depth"]):
        x = Block()(x, mask)
      return nn.Dense(2)(x[jnp.arange(tokens.shape[0]), readout])

  model, opt = Model(), optax.adamw(1e-3)
  lengths = jnp.full((B,), n, jnp.int32)

  def step(state, key):
    params, opt_state, i = state
    batch = lang.recognition(jax.random.fold_in(key, i), lengths, n)

    def loss_fn(p):
      logits = model.apply(p, batch.tokens_BxT, batch.readout_B)
      return optax.softmax_cross_entropy_with_integer_labels(logits, batch.labels_B).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = opt.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state, i + 1), loss

  batch = lang.recognition(jax.random.key(0), lengths, n)
  params = model.init(jax.random.key(1), batch.tokens_BxT, batch.readout_B)
  return jax.jit(step, donate_argnums=0), (params, opt.init(params), jnp.int32(0))


def _single_vs_plain(exp, shape: dict, steps: int) -> tuple[float, float]:
  """(steps/s of one member, steps/s of the plain Flax reference), interleaved rounds."""
  import jax
  from limits import setup as setup_lib
  ours, _ = _compiled(exp)
  plain, p_state = _plain_flax_step(shape, setup_lib.make_setup(exp).language)
  plain_run = [plain, p_state, jax.random.key(2)]
  for _ in range(2):                                   # compile and warm up
    plain_run[1], loss = plain(plain_run[1], plain_run[2])
  jax.block_until_ready(loss)
  t_ours, t_plain = _best_rounds([[ours], [plain_run]], steps)
  return steps / t_ours, steps / t_plain


def _side_by_side(pop_exp, seq_exps, steps: int) -> tuple[float, float]:
  """(seconds for `steps` steps of the population, seconds for `steps` steps of each
  sequential run, one after another), in interleaved rounds (`_best_rounds`)."""
  pop = _compiled(pop_exp)[0]
  seq = [_compiled(e)[0] for e in seq_exps]
  t_pop, t_seq = _best_rounds([[pop], seq], steps)
  return t_pop, t_seq


def _forward_flops(depth, heads, key_dim, width, mlp, length, batch) -> float:
  t = length + 1  # + EOS
  per_layer = (2 * t * width * 3 * heads * key_dim + 4 * t * t * heads * key_dim
               + 2 * t * heads * key_dim * width + 4 * t * width * mlp)
  return batch * depth * per_layer


def _matmul_rate() -> float:
  import jax
  import jax.numpy as jnp
  a = jax.random.normal(jax.random.key(0), (1024, 1024), jnp.float32)
  f = jax.jit(lambda x: x @ x)
  jax.block_until_ready(f(a))
  reps = 20
  t0 = time.perf_counter()
  for _ in range(reps):
    out = f(a)
  jax.block_until_ready(out)
  return reps * 2 * 1024**3 / (time.perf_counter() - t0)


def _eval(exp40, shape_name: str) -> None:
  """Bucketed Evaluator against one exact-shape program per length (the peer's way)."""
  import dataclasses
  import jax
  import jax.numpy as jnp
  from limits import config as config_lib, evaluate
  from limits import setup as setup_lib
  lengths = config_lib.parse_lengths(_EVAL_LENGTHS.value, "--eval_lengths")
  every = max(1, _PEER_EVERY.value)
  ev_exp = dataclasses.replace(exp40, eval=dataclasses.replace(exp40.eval, batch_size=128))
  setup = setup_lib.make_setup(ev_exp)
  params = setup_lib.init_state(setup).params
  t0 = time.perf_counter()
  ev = evaluate.Evaluator(setup)
  ev(params, lengths)
  ours = time.perf_counter() - t0
  print(f"evaluation of lengths {lengths[0]}..{lengths[-1]} ({len(lengths)} lengths x 128 "
        f"strings, {shape_name} shape): bucketed {ours:.1f} s in {ev.num_programs} programs",
        flush=True)
  timed = lengths[::every]
  t0 = time.perf_counter()
  for n in timed:
    fn = jax.jit(evaluate.make_eval_fn(setup, n))  # exact shape: a new program per length
    jax.block_until_ready(fn(params, jax.random.key(0), jnp.asarray([n], jnp.int32)))
  peer = (time.perf_counter() - t0) * len(lengths) / len(timed)
  how = "" if every == 1 else f" (timed on every {every}th length, {len(timed)} programs, scaled)"
  print(f"  one program per length: {peer:.1f} s{how}; ratio {peer / ours:.2f}x", flush=True)


def sweep(argv: list[str]) -> None:
  from launch import common
  from limits import results
  steps = _STEPS.value
  shapes = [s.strip() for s in _SHAPES.value.split(",") if s.strip()]
  for s in shapes:
    if s not in SHAPES:
      common.fail(f"--shapes: unknown shape {s!r}; allowed: {', '.join(SHAPES)}")
  parts = [p.strip() for p in _PARTS.value.split(",") if p.strip()]
  for p in parts:
    if p not in PARTS:
      common.fail(f"--parts: unknown part {p!r}; allowed: {', '.join(PARTS)}")
  import launch
  ceiling = _matmul_rate()
  print(f"allocator: {launch.allocator()}  (entry points preload tcmalloc where installed; "
        f"LIMITS_TCMALLOC=0 for glibc)", flush=True)
  print(f"float32 matmul ceiling (1024x1024, this run): {ceiling / 1e9:.1f} GFLOP/s", flush=True)
  import jax
  print(f"devices: {jax.device_count()} x {jax.devices()[0].platform} (populations split their "
        f"members over them; single and sequential runs use one; on CPU the entry points "
        f"make one device per core, LIMITS_CPU_DEVICES=1 for a single one)", flush=True)
  rows, speedup = [], None
  for name in (shapes if "train" in parts else ()):
    sh = SHAPES[name]
    k_single = sh["width"] // sh["heads"]

    def flops(depth, heads, key_dim):
      return 3 * _forward_flops(depth, heads, key_dim, sh["width"], sh["mlp_width"],
                                sh["length"], sh["batch"])

    def record(label, members, seconds, useful):
      rate = members * steps / seconds
      rows.append({"shape": name, "run": label, "members": members,
                   "member_steps_per_s": rate, "useful_gflops": useful * steps / seconds / 1e9,
                   "ceiling_fraction": useful * steps / seconds / ceiling})
      print(f"  {name:5s} {label:10s} {rate:9.2f} member-steps/s", flush=True)
      return rate

    ours, plain = _single_vs_plain(_exp(sh), sh, steps)
    single = record("single", 1, steps / ours, flops(sh["depth"], sh["heads"], k_single))
    line = (f"  {name}: single member {ours:.2f} steps/s, plain Flax reference {plain:.2f} "
            f"(same run, interleaved): {ours / plain:.2f}x")
    print(line, flush=True)
    g = _GRID.value
    M = g * g
    t, total = _side_by_side(_exp(sh, seeds=f"0-{M - 1}"),
                             [_exp(sh, seeds=str(s)) for s in range(M)], steps)
    pop = record(f"pop{M}", M, t, M * flops(sh["depth"], sh["heads"], k_single))
    seq = record(f"seq{M}", M, total, M * flops(sh["depth"], sh["heads"], k_single))
    k_grid = sh["width"] // g
    grid_useful = sum(flops(d, h, k_grid) for d in range(1, g + 1) for h in range(1, g + 1))
    t, total = _side_by_side(_exp(sh, depths=f"1-{g}", heads=f"1-{g}"),
                             [_exp(sh, depths=str(d), heads=str(h), key_dim=k_grid)
                              for d in range(1, g + 1) for h in range(1, g + 1)], steps)
    grid = record(f"grid{M}", M, t, grid_useful)
    gridseq = record(f"gridseq{M}", M, total, grid_useful)
    masked = M * flops(g, g, k_grid)
    print(f"  {name}: pop{M}/seq{M} {pop / seq:.2f}x, grid{M}/gridseq{M} {grid / gridseq:.2f}x, "
          f"grid{M} useful FLOP fraction of the masked max model {grid_useful / masked:.2f}",
          flush=True)
    if name == "tiny":
      speedup = pop / seq
    print(f"  {name}: single {single:.2f} member-steps/s", flush=True)

  import dataclasses
  shape_name = "paper" if "paper" in shapes else "tiny"
  exp40 = _exp(SHAPES[shape_name])
  exp40 = dataclasses.replace(exp40, data=dataclasses.replace(exp40.data,
                                                              train_lengths=tuple(range(1, 41))))
  if "first" in parts:
    # Time to first step with training lengths uniform in 1..40: padded to 40, one program.
    first = _compiled(exp40)[1]
    print(f"time to first step, train lengths uniform in 1..40 ({shape_name} shape): "
          f"{first:.1f} s (init + compile + 1 step), 1 program", flush=True)
  if "eval" in parts:
    _eval(exp40, shape_name)
  if rows:
    print()
    print(results.format_table(rows, ("shape", "run", "members", "member_steps_per_s",
                                      "useful_gflops", "ceiling_fraction")))
  if speedup is not None:
    print(f"speedup: {speedup:.2f}")
