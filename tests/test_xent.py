"""The Theorem 6 probe measures with training's own loss: its cross-entropy and accuracy
are `metrics.losses` on the same strings, for distribution and multi-hot targets."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from limits import config as config_lib
from limits import languages
from limits import metrics
from limits import setup as setup_lib
from limits.probes import xent


def _setup(language, targets):
  raw = ml_collections.ConfigDict()
  raw.model = dict(depth=1, heads=2, width=16, mlp_width=32, causal=True)
  raw.data = dict(language=language, task="prediction", targets=targets,
                  train_lengths="2,4,6,8", eval_lengths="2,4,6,8")
  s = setup_lib.make_setup(config_lib.validate(raw))
  return s, setup_lib.init_state(s).params


@pytest.mark.parametrize("targets", ["distribution", "allowed"])
def test_xent_probe_is_the_training_loss(targets):
  setup, params_M = _setup("dyck", targets)
  cfg = xent.Config(strings=16)
  n = 6
  got = xent.measure(setup, (0,), params_M, n, cfg)
  batch = setup.language.sample("prediction", jax.random.fold_in(jax.random.key(cfg.seed), n),
                                jnp.full((cfg.strings,), n, jnp.int32), n)
  assert batch.multilabel == (targets == "allowed")
  xent_B, ok_B = metrics.losses(setup.model, jax.tree.map(lambda x: x[0], params_M), batch)
  np.testing.assert_allclose(got["xent_bits"][0], float(jnp.mean(xent_B)) / metrics.LOG2,
                             rtol=1e-5)
  np.testing.assert_allclose(got["accuracy"][0], float(jnp.mean(ok_B)))
  # The standard error is over the strings, each string's own mean over positions.
  sem = np.std(np.asarray(xent_B), ddof=1) / np.sqrt(cfg.strings) / metrics.LOG2
  np.testing.assert_allclose(got["xent_sem_bits"][0], sem, rtol=1e-4)


def test_theorem6_bound_only_for_bracket_languages():
  key = jax.random.key(0)
  assert languages.make_language("parity").theorem6_p0(8, 64, key) is None
  p0 = languages.make_language("dyck").theorem6_p0(8, 4096, key)
  assert 0.05 < p0 < 0.5
