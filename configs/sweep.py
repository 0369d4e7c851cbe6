r"""Architecture sweeps: every depth x heads x seed x lr member in one compiled program.

  python -m launch.train --config=configs/sweep.py:smoke --workdir=/tmp/sweep_smoke    # seconds
  python -m launch.train --config=configs/sweep.py:default --workdir=workdir/sweep     # 80 s, quiet 2-core CPU
  python -m launch.train --config=configs/sweep.py:paper --workdir=workdir/sweep_paper # accelerator
  python -m launch.train --config=configs/sweep.py:deletang --workdir=workdir/deletang
  python -m launch.train --config=configs/sweep.py:deletang_cpu --workdir=workdir/deletang_cpu
  python -m launch.train --config=configs/sweep.py:hahn --workdir=workdir/hahn

Variants (comma-separated variant options are not supported; pick one):
  smoke     depth 1-2 x heads 1-2, width 16, 30 steps.
  default   the README's default experiment: soft transformers depth 1-2 x heads 2,4
            (width 32) and a 1-layer LSTM (sweep.kinds), PARITY and 1* (sweep.languages),
            trained on 1-20 for 1000 steps on the same batches, evaluated to 200. 80.3 s
            wall, 1.07 GB peak RSS (mimalloc, 2-core CPU, load average < 2).
  default_smoke  the same at smoke size (the tests run it).
  paper     depth 1-6 x heads 1-8 x 3 seeds x 2 lrs, 20k steps (accelerator scale).
  deletang  Delétang et al. (2023), "Neural Networks and the Chomsky Hierarchy", with their
            transformer: 5 layers, width 64, 8 heads (head width 8), FFN 256, post-LN
            (layer norm after each residual), no causal mask, batch 128, 1M steps, train
            lengths uniform in 1..40, test every length 41..500; score = mean accuracy
            over test lengths (best and mean over seeds and learning rates, per
            positional encoding). Their five positional encodings are a grid axis
            (`sweep.positionals` = none,sinusoidal,relative,alibi,rotary; sinusoidal is
            their sin/cos default, relative is Transformer-XL's): every encoding x seed x
            lr member in one compiled program, one summary row per encoding
            (--config.sweep.positionals=alibi for one). Not theirs: no dropout (theirs 0.1).
            Meant to reproduce the transformer entries of their Table 2 for the regular
            tasks: parity_check 52.0, modular_arithmetic 24.2, cycle_navigation 61.9,
            even_pairs >= 90 (score in %, --config.data.language=<task>). Accelerator
            scale (1M steps x 5 encodings x 5 seeds x 3 lrs: 75 members).
  deletang_cpu  The same architecture, protocol and five encodings at CPU size: 2 layers,
            width 32, 4 heads (head width 8), FFN 128, batch 32, 2000 steps, 2 seeds, one
            lr (10 members), test lengths 41..100 (a check that the pipeline runs, not
            Table 2's numbers).
  hahn      Hahn-style: one training set per n in {8, 16, 32, 64}; each member is
            evaluated at every n (its own n is in-distribution).
Override the grid with --config.sweep.depths=1-4 --config.sweep.heads=1,2,4 etc.
Expected: PARITY accuracy beyond the training lengths near chance for every transformer
size, the LSTM's near 1; 1* near 1 for both.
"""

import ml_collections

from configs import parity

VARIANTS = ("default", "default_smoke", "smoke", "paper", "deletang", "deletang_cpu", "hahn")
# Delétang et al. (2023) §4's five positional encodings, in their order.
DELETANG_POSITIONALS = "none,sinusoidal,relative,alibi,rotary"


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  variant = arg or "default"
  if variant not in VARIANTS:
    raise ValueError(f"configs/sweep.py: unknown variant {variant!r}; allowed: {', '.join(VARIANTS)}")
  c = parity.get_config("smoke" if variant == "smoke" else "default")
  c.sweep.update(depths="1,2", heads="2,4", seeds="0")
  c.model.update(width=32, mlp_width=64)
  c.data.update(eval_lengths="1-40,50-200:10")
  if variant in ("default", "default_smoke"):
    # The paper's point in one run: PARITY against 1* (a language the theory allows), the
    # soft transformer grid against an LSTM (model.depth layers of model.width), both
    # kinds trained on the same batches, evaluated to 10x the longest training length.
    c.sweep.update(kinds="transformer,lstm", languages="parity;one")
    c.model.update(depth=1)
    c.data.update(train_lengths="1-20", eval_lengths="1-20,25,30,40,50,60,80,100,120,150,200")
    c.train.update(steps=1000)
    if variant == "default_smoke":
      c.sweep.update(heads="1,2")
      c.model.update(heads=2, width=16, mlp_width=32)
      c.data.update(train_lengths="1-6", eval_lengths="1-6,8,12")
      c.train.update(steps=20, log_every=10, checkpoint_every=20)
      c.eval.update(batch_size=16, bucket=8)
  elif variant == "smoke":
    c.sweep.update(heads="1,2")
    c.model.update(depth=1, heads=2, width=16, mlp_width=32)
    c.train.update(steps=30)
    c.data.update(eval_lengths="1-16")
  elif variant == "paper":
    c.sweep.update(depths="1-6", heads="1,2,4,8", seeds="0-2", learning_rates="1e-3,3e-4")
    c.model.update(width=128, mlp_width=512)
    c.train.update(steps=20000, batch_size=128, checkpoint_every=2000)
    c.data.update(eval_lengths="1-500")
  elif variant in ("deletang", "deletang_cpu"):
    c.sweep.update(depths="5", heads="8", seeds="0-4", learning_rates="1e-3,3e-4,1e-4",
                   protocol="deletang")
    c.data.language = "parity_check"  # or even_pairs, cycle_navigation, modular_arithmetic
    c.model.update(depth=5, heads=8, width=64, mlp_width=256, layer_norm="post")
    c.sweep.positionals = DELETANG_POSITIONALS
    c.data.update(train_lengths="1-40", eval_lengths="41-500")
    c.train.update(steps=1_000_000, batch_size=128, checkpoint_every=10_000)
    if variant == "deletang_cpu":
      c.sweep.update(depths="2", heads="4", seeds="0,1", learning_rates="1e-3")
      c.model.update(depth=2, heads=4, width=32, mlp_width=128)
      c.data.update(eval_lengths="41-100")
      c.train.update(steps=2000, batch_size=32, checkpoint_every=500)
  elif variant == "hahn":
    c.sweep.update(train_lengths="8;16;32;64", protocol="hahn")
    c.data.update(eval_lengths="8,16,32,64")
  return c
