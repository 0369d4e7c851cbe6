"""The scale table (`smoke`, `small`, `paper`: sizes, steps, lengths and the languages each
experiment runs) and `_config`, a small experiment's ConfigDict at a scale."""

from __future__ import annotations

from typing import Any

import ml_collections

SCALES: dict[str, dict[str, Any]] = {
    # smoke: every code path once, the fewest compiled programs (the test suite runs it)
    "smoke": dict(width=16, steps=10, batch=16, depths="1", heads="1,2", train_max=8,
                  sens_max=64, sens_points=2, cc_max=64, xent_max=16, xent_points=2,
                  xent_strings=32, restr_max=8, restr_points=1, restr_k=8, restr_rounds=2,
                  sweep_lengths=(4, 8), sweep_depths="1", sweep_heads="1,2", sweep_steps=10,
                  t6_languages=("dyck:k=2",), t6_lengths=(4, 8), p0_samples=512,
                  t1_attentions=("hard_unique",),
                  sweep_languages=("parity", "aa_star"), lemma5_random=("soft",)),
    "small": dict(width=32, steps=600, batch=32, depths="1,2", heads="1,2", train_max=16,
                  sens_max=4096, sens_points=9, cc_max=1000, xent_max=128, xent_points=5,
                  xent_strings=128, restr_max=64, restr_points=3, restr_k=16, restr_rounds=4,
                  sweep_lengths=(8, 16), sweep_depths="1,2", sweep_heads="1,2",
                  sweep_steps=600, t6_lengths=(8, 16, 32)),
    "paper": dict(width=64, steps=5000, batch=64, depths="1-4", heads="1,2,4", train_max=40,
                  sens_max=4096, sens_points=13, cc_max=4000, xent_max=512, xent_points=8,
                  xent_strings=512, restr_max=256, restr_points=6, restr_k=32, restr_rounds=8,
                  sweep_lengths=(8, 16, 32, 64), sweep_depths="1-4", sweep_heads="1,2,4,8",
                  sweep_steps=5000, t6_lengths=(8, 16, 32, 64, 128)),
}


def _config(language: str, task: str, s: dict, **model) -> ml_collections.ConfigDict:
  """A small experiment's ConfigDict: the paper's model at this scale."""
  even = language.startswith(("dyck", "aa_star"))
  hi = s["train_max"]
  c = ml_collections.ConfigDict()
  c.model = {**dict(depth=2, heads=2, width=s["width"], mlp_width=2 * s["width"]), **model}
  c.data = dict(language=language, task=task,
                train_lengths=f"2-{hi}:2" if even else f"1-{hi}",
                eval_lengths=f"{hi}")
  c.train = dict(steps=s["steps"], batch_size=s["batch"], learning_rate=3e-3, warmup_steps=20,
                 checkpoint_every=max(s["steps"], 1), log_every=max(s["steps"] // 4, 1))
  c.eval = dict(batch_size=32, bucket=8, group=4)
  c.sweep = dict(depths="", heads="", seeds="", learning_rates="", train_lengths="")
  return c
