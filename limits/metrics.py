"""Losses and metrics: one definition shared by training, evaluation and the probes.

Per string: cross-entropy (nats) and correctness, for recognition (label at y_n^(L)),
next-symbol prediction against the exact distribution q, and multi-hot "allowed next
symbols" targets (`data.targets="allowed"`, Bhattamishra et al. 2020). Reported in bits
by dividing by `LOG2`.

Letters: B batch, T positions, C classes.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from limits import languages
from limits import models
from limits import population

LOG2 = float(np.log(2.0))


def losses(model: models.Transformer, params: Any, batch: languages.Batch,
           key: jax.Array | None = None,
           arch: population.Arch | None = None) -> tuple[jax.Array, jax.Array]:
  """Per-string cross-entropy (nats) and correctness, both float32[B].

  Recognition: softmax cross-entropy of the label at y_n^(L); correct = argmax is label.
  Prediction: mean over valid positions of the cross-entropy against the exact next-symbol
  distribution q; correctness as in `prediction_correct` (the predicted support must
  equal q's at every position). `key` (training) feeds the
  `positions` rng of randomized positional encodings; without it they use a fixed key.
  `arch` masks a max-size model down to one member (population.py).
  """
  rngs = {"positions": key} if key is not None else None
  logits = population.apply(model, params, batch.tokens_BxT, batch.readout_B, arch,
                            rngs=rngs)
  return string_metrics(logits, batch)


def string_metrics(logits: jax.Array, batch: languages.Batch) -> tuple[jax.Array, jax.Array]:
  """(xent_B, correct_B) of `losses` from the model's logits (recognition [B, C],
  prediction [B, T, C])."""
  if batch.labels_B is not None:
    xent_B = optax.softmax_cross_entropy_with_integer_labels(logits, batch.labels_B)
    return xent_B, (jnp.argmax(logits, -1) == batch.labels_B).astype(jnp.float32)
  q_BxTxC = batch.targets_BxTxC
  valid_BxT = batch.valid_BxT
  if batch.multilabel:
    # data.targets="allowed": targets are the multi-hot allowed next symbols
    # (Bhattamishra et al. 2020); loss = per-class sigmoid BCE summed over classes,
    # a position is correct when every class's sigmoid > 0.5 matches its target.
    bce_BxT = position_xent(logits, batch)
    xent_B = jnp.sum(jnp.where(valid_BxT, bce_BxT, 0.0), 1) / jnp.sum(valid_BxT, 1)
    pos_ok_BxT = jnp.all((logits > 0) == (q_BxTxC > 0.5), axis=-1) | ~valid_BxT
    return xent_B, jnp.all(pos_ok_BxT, axis=1).astype(jnp.float32)
  logp_BxTxC = jax.nn.log_softmax(logits, axis=-1)
  xent_BxT = _position_xent(logp_BxTxC, q_BxTxC)
  xent_B = jnp.sum(jnp.where(valid_BxT, xent_BxT, 0.0), 1) / jnp.sum(valid_BxT, 1)
  return xent_B, prediction_correct(logp_BxTxC, q_BxTxC, valid_BxT)


def position_xent(logits_BxTxC: jax.Array, batch: languages.Batch) -> jax.Array:
  """float32[B, T]: prediction's loss (nats) at each position, padding included: the
  cross-entropy against q, or with multi-hot targets the per-class sigmoid BCE summed
  over classes."""
  q_BxTxC = batch.targets_BxTxC
  if batch.multilabel:
    return jnp.sum(optax.sigmoid_binary_cross_entropy(logits_BxTxC, q_BxTxC), axis=-1)
  return _position_xent(jax.nn.log_softmax(logits_BxTxC, axis=-1), q_BxTxC)


def _position_xent(logp_BxTxC: jax.Array, q_BxTxC: jax.Array) -> jax.Array:
  return -jnp.sum(jnp.where(q_BxTxC > 0, q_BxTxC * logp_BxTxC, 0.0), axis=-1)


def prediction_correct(logp_BxTxC: jax.Array, q_BxTxC: jax.Array,
                       valid_BxT: jax.Array) -> jax.Array:
  """float32[B]: 1 where a string's next-symbol predictions are all correct.

  A symbol counts as predicted when the model gives it more than tau_b, half of the
  smallest non-zero probability q gives any symbol anywhere in string b; a position is
  correct when the predicted set equals q's support, a string when all its positions
  are. tau is fixed per string (not per position, as in Bhattamishra et al. 2020, whose
  per-position threshold passed a predictor that ignores the state: on PARITY at
  p = 0.5 the unigram mixture's P(EOS) = 1/4 sits exactly on the odd state's threshold
  1/4; here it is above tau = 1/8, so it fails at every odd position). The exact
  predictor q always passes (q > tau on the support, 0 elsewhere).
  """
  support = q_BxTxC > 0
  q_min_B = jnp.min(jnp.where(support & valid_BxT[..., None], q_BxTxC, 1.0), axis=(1, 2))
  allowed = logp_BxTxC > jnp.log(0.5 * q_min_B)[:, None, None]
  pos_ok_BxT = jnp.all(allowed == support, axis=-1) | ~valid_BxT
  return jnp.all(pos_ok_BxT, axis=1).astype(jnp.float32)
