r"""PARITY recognition with the paper's soft-attention transformer (Hahn 2020 §3-4).

Default (about 2 minutes on a 2-core CPU; the README's default is configs/sweep.py):
  python -m launch.train --config=configs/parity.py --workdir=workdir/parity
Smoke (seconds):
  python -m launch.train --config=configs/parity.py:smoke --workdir=/tmp/parity_smoke
Next-symbol prediction under the paper's generator, with the paper's model (no causal
mask: each prefix is re-read, n + 1 passes' worth of work, so evaluation stops at 100):
  python -m launch.train --config=configs/parity.py:prediction
  (--config.model.causal=true: a causal decoder instead, a different model)

Trains on lengths 1-40 and evaluates 1-200. Expected: near-perfect accuracy only on the
shortest lengths, falling towards chance (0.5) as n grows. Lemma 5 and Theorem 6 bound how
far the output and the cross-entropy can move with n (one flipped bit moves y_n^(L) by at
most c/n), not accuracy: Chiang & Cholak's exact transformer (launch.construct
--name=cc_parity) obeys Lemma 5 and is 100% accurate at every n. The accuracy collapse is
what training finds, measured here, not a consequence of the lemma.
"""

import ml_collections

VARIANTS = ("default", "smoke", "prediction", "prediction_smoke")


def defaults() -> ml_collections.ConfigDict:
  """Every config field with its library default (lengths and grids as strings)."""
  from limits import config as config_lib
  return config_lib.defaults()


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  variant = arg or "default"
  if variant not in VARIANTS:
    raise ValueError(f"configs/parity.py: unknown variant {variant!r}; allowed: {', '.join(VARIANTS)}")
  # Every field of every section is declared at its library default (the dataclasses in
  # limits/config/schema.py own them), so any can be overridden on the command line
  # (--config.model.max_positions=1024); this file states only what it changes.
  c = defaults()
  c.model.update(mlp_width=128)
  c.train.update(steps=1500)
  if variant.startswith("prediction"):
    c.data.task = "prediction"
    c.data.eval_lengths = "1-40,50-100:10"
  if variant.endswith("smoke"):
    c.model.update(depth=1, heads=2, width=16, mlp_width=32)
    c.data.update(train_lengths="1-8", eval_lengths="1-16")
    c.train.update(steps=30, batch_size=16, checkpoint_every=10, log_every=10, warmup_steps=5)
    c.eval.update(batch_size=16, bucket=8, group=4)
  return c
