"""Constructions as experiments: a validated `Experiment` and a workdir like a trained one.

`write(c, workdir)` writes `config.json` (Experiment.to_dict(), with the recognised
language in `data.language`) and an orbax checkpoint at step 0 holding the same
`TrainState` a training run saves (params plus a fresh optimizer state), so
`experiment.run`, `launch.evaluate`, `launch.predict` and `launch.analyze` read it
unchanged. `train.steps = 0`: resuming "training" does nothing.
"""

from __future__ import annotations

import ml_collections
import jax
import jax.numpy as jnp

from limits import checkpoint, languages
from limits import config as config_lib
from limits import setup as setup_lib
from limits.models.constructions import Construction


def _lengths(language: str, hi: int) -> str:
  """'1-hi', or '2-hi:2' for languages whose members all have even length."""
  lang = languages.make_language(language)
  try:
    lang.check_length(1)
    return f"1-{hi}"
  except ValueError:
    return f"2-{hi}:2"


def experiment(c: Construction, eval_lengths: str | None = None) -> config_lib.Experiment:
  """The validated Experiment of construction `c` (recognition, no training).

  Default eval lengths: every length up to 1000 at which the language has members.
  """
  eval_lengths = eval_lengths or _lengths(c.language, 1000)
  cfg = ml_collections.ConfigDict()
  cfg.model = {f: getattr(c.model, f) for f in c.model.__dataclass_fields__}
  cfg.model["head_masks"] = list(c.model.head_masks)
  cfg.data = dict(language=c.language, task="recognition", train_lengths=_lengths(c.language, 16),
                  eval_lengths=eval_lengths)
  cfg.train = dict(steps=0, checkpoint_every=1, keep_checkpoints=1)
  cfg.eval = dict(batch_size=16, bucket=128, group=8)
  return config_lib.validate(cfg)


def state(c: Construction, exp: config_lib.Experiment) -> setup_lib.TrainState:
  """Step-0 TrainState with the construction's params as the single member (axis 0)."""
  setup = setup_lib.make_setup(exp)
  like = setup_lib.init_state(setup, jax.random.key(0))
  shapes = lambda t, drop: (jax.tree.structure(t), [jnp.shape(x)[drop:] for x in jax.tree.leaves(t)])
  if shapes(c.params, 0) != shapes(like.params, 1):
    raise ValueError(f"construction {c.name}: parameter tree does not match the model")
  params = jax.tree.map(lambda a, l: jnp.broadcast_to(jnp.asarray(a, l.dtype), l.shape),
                        c.params, like.params)
  return like.replace(params=params, opt_state=jax.vmap(setup.optimizer.init)(params))


def write(c: Construction, workdir: str) -> config_lib.Experiment:
  """Writes `c` into `workdir`; ValueError if the workdir holds a different run."""
  exp = experiment(c)
  st = state(c, exp)
  checkpoint.check_or_write_config(workdir, exp.to_dict())
  mngr = checkpoint.manager(workdir, exp.train.keep_checkpoints)
  try:
    checkpoint.save(mngr, 0, st, force=True)
    mngr.wait_until_finished()
  finally:
    mngr.close()
  return exp
