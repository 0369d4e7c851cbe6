"""Delétang et al.'s regular classification tasks against independent recognisers."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from limits import config as config_lib, languages
from configs import parity as parity_config


def brute(name, s):
  if name == "even_pairs":
    return sum(a != b for a, b in zip(s, s[1:])) % 2
  if name == "parity_check":
    return s.count("1") % 2
  if name == "cycle_navigation":
    return sum(int(c) - 1 for c in s) % 5
  if name == "modular_arithmetic":
    return eval(s) % 5  # Python: * binds tighter than + and -, as in Delétang et al.
  raise KeyError(name)


TASKS = {"even_pairs": 2, "parity_check": 2, "cycle_navigation": 5, "modular_arithmetic": 5}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_labels_match_independent_recogniser(name):
  lang = languages.make_language(name)
  assert lang.num_classes("recognition") == TASKS[name]
  odd = name == "modular_arithmetic"
  lengths = np.random.default_rng(0).integers(1, 13, 400)
  lengths = jnp.asarray(lengths | 1 if odd else lengths, jnp.int32)
  b = jax.device_get(lang.recognition(jax.random.key(0), lengths, 13))
  for tok, n, label in zip(b.tokens_BxT, b.lengths_B, b.labels_B):
    s = lang.decode(tok[:n])
    assert tok[n] == lang.eos and brute(name, s) == label, s
  # Uniform strings: the class frequencies follow the exact class distribution.
  n = 9
  b = jax.device_get(lang.recognition(jax.random.key(1), jnp.full((4000,), n, jnp.int32), n))
  freq = np.bincount(b.labels_B, minlength=TASKS[name]) / 4000
  np.testing.assert_allclose(freq, lang.class_distribution(n), atol=0.03)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_class_distribution_is_exact_by_enumeration(name):
  lang = languages.make_language(name)
  n = 5
  sets = [lang.position_symbols[t % len(lang.position_symbols)] for t in range(n)]
  counts = np.zeros(TASKS[name])
  for ids in itertools.product(*sets):
    counts[brute(name, lang.decode(ids))] += 1
  np.testing.assert_allclose(lang.class_distribution(n), counts / counts.sum(), rtol=1e-12)
  h = -(counts / counts.sum() * np.log2(np.maximum(counts / counts.sum(), 1e-300))).sum()
  assert lang.chance_xent_bits("recognition", n) == pytest.approx(h)


def test_validation_refuses_prediction_and_even_modular_lengths():
  cfg = parity_config.get_config("smoke")
  cfg.data.language = "cycle_navigation"
  config_lib.validate(cfg)
  cfg.data.task = "prediction"
  with pytest.raises(ValueError, match="data.task"):
    config_lib.validate(cfg)
  cfg = parity_config.get_config("smoke")
  cfg.data.update(language="modular_arithmetic", train_lengths="1-9:2", eval_lengths="2")
  with pytest.raises(ValueError, match="odd length"):
    config_lib.validate(cfg)


def test_near_misses_refused_with_the_real_reason():
  """Issue 14.9: Delétang tasks label uniform strings by class; near misses (a member
  with one symbol changed into a non-member) do not exist for them, so
  data.near_miss_fraction > 0 is refused naming that field, not data.task."""
  cfg = parity_config.get_config("smoke")
  cfg.data.update(language="parity_check", near_miss_fraction=0.5)
  with pytest.raises(ValueError, match=r"^data.near_miss_fraction: parity_check labels uniform"):
    config_lib.validate(cfg)
  cfg.data.near_miss_fraction = 0.0
  config_lib.validate(cfg)
  # Languages with members and non-members still take near misses.
  cfg.data.update(language="parity", near_miss_fraction=0.5)
  config_lib.validate(cfg)


def test_deletang_preset_is_their_architecture():
  """Issue 14.7: post-LN, 5 layers x 8 heads, width 64, FFN 256, batch 128, 1M steps,
  train 1-40 / test 41-500; the CPU variant keeps the architecture kind at a small size."""
  from configs import sweep as sweep_config
  exp = config_lib.validate(sweep_config.get_config("deletang"))
  m = exp.model
  assert (m.layer_norm, m.depth, m.heads, m.width, m.mlp_width, m.causal) == \
      ("post", 5, 8, 64, 256, False)
  assert exp.train.steps == 1_000_000 and exp.train.batch_size == 128
  assert exp.data.train_lengths == tuple(range(1, 41))
  assert exp.data.eval_lengths == tuple(range(41, 501))
  assert exp.sweep.protocol == "deletang" and exp.data.language == "parity_check"
  cpu = config_lib.validate(sweep_config.get_config("deletang_cpu"))
  assert cpu.model.layer_norm == "post" and cpu.model.causal is False
  assert cpu.train.steps <= 5000 and max(cpu.data.eval_lengths) <= 100


def test_deletang_cpu_trains_each_of_their_encodings_in_one_population(tmp_path):
  """deletang_cpu sweeps their five encodings (sweep.positionals): one row per member,
  each carrying its own encoding, all post-LN, in one compiled program."""
  from configs import sweep as sweep_config
  from limits import experiment
  cfg = sweep_config.get_config("deletang_cpu")
  cfg.train.update(steps=3, checkpoint_every=3, log_every=3)
  cfg.data.update(train_lengths="1-6", eval_lengths="41")
  cfg.sweep.update(seeds="0")
  cfg.eval.update(batch_size=8, bucket=8, group=1)
  rows = experiment.run(config_lib.validate(cfg), str(tmp_path), log=lambda s: None)
  assert sorted(r["positional"] for r in rows) == sorted(sweep_config.DELETANG_POSITIONALS.split(","))
  assert all(r["layer_norm"] == "post" for r in rows)
  assert all(0.0 <= r["accuracy"] <= 1.0 and np.isfinite(r["xent_bits"]) for r in rows)
