"""Many languages in one compiled program (limits/languages/mixed.py, sweep.languages).

A member's batches in a mixed-language population equal its language's own sampler,
symbol for symbol; every language of a mixed batch is sampled uniformly per class (exact
enumeration, chi-square); a member trained in a mixed population equals the same member
trained alone, forward and after one update.
"""

import dataclasses
import itertools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from limits import config as config_lib
from limits import evaluate, languages
from limits import setup as setup_lib
from limits import train as train_lib
from limits.languages import mixed
from configs import parity as parity_config

# Independent recognisers (Python regexes / counts), one per language of the mix; their
# minimal DFAs have 2 to 5 states, so the padding to a common state count is exercised.
BRUTE = {
    "one": lambda s: re.fullmatch("1*", s) is not None,
    "first": lambda s: s.startswith("1"),
    "tomita2": lambda s: re.fullmatch("(10)*", s) is not None,
    "tomita4": lambda s: "000" not in s,
    "tomita5": lambda s: s.count("0") % 2 == 0 and s.count("1") % 2 == 0,
    "tomita7": lambda s: re.fullmatch("0*1*0*1*", s) is not None,
    "mod:m=3": lambda s: s.count("1") % 3 == 0,
}
SPECS = tuple(BRUTE)


def _mix(specs=SPECS):
  return mixed.MixedDFA([languages.make_language(s) for s in specs])


def test_bound_batches_equal_each_languages_own_sampler():
  mx = _mix()
  L = 11
  index_M = [0, 1, 2, 3, 4, 5, 6, 2, 5]
  lengths = jnp.asarray([11, 10, 9, 8, 7, 6, 11, 2, 4, 5], jnp.int32)
  keys = jnp.stack([jax.random.key(i) for i in range(len(index_M))])
  for task in ("recognition", "prediction"):
    out = jax.jit(jax.vmap(lambda t, k: mx.bind(t).sample(task, k, lengths, L)))(
        mx.member_tables(L, index_M), keys)
    for m, i in enumerate(index_M):
      ref = mx.languages[i].sample(task, keys[m], lengths, L)
      np.testing.assert_array_equal(out.tokens_BxT[m], ref.tokens_BxT, err_msg=SPECS[i])
      if task == "recognition":
        np.testing.assert_array_equal(out.labels_B[m], ref.labels_B)
        lang = mx.languages[i]
        # Only lengths with members can be asked for (check_length): (10)* has none at odd n.
        ok = [lang.members_exist(int(n)) for n in lengths]
        want = [BRUTE[SPECS[i]](lang.decode(np.asarray(r[:n])))
                for r, n in zip(out.tokens_BxT[m], lengths)]
        np.testing.assert_array_equal(np.asarray(out.labels_B[m] == 1)[ok], np.array(want)[ok],
                                      err_msg=SPECS[i])
      else:
        np.testing.assert_array_equal(out.targets_BxTxC[m], ref.targets_BxTxC)


def test_every_language_of_a_mixed_batch_is_uniform_per_class():
  """One vmapped call draws members and non-members of n = 6 for all seven languages."""
  mx = _mix()
  n, per = 6, 40
  strings = ["".join(w) for w in itertools.product("01", repeat=n)]
  classes = {s: ([w for w in strings if BRUTE[s](w)], [w for w in strings if not BRUTE[s](w)])
             for s in SPECS}
  count = per * 64
  lengths = jnp.full((count,), n, jnp.int32)

  def draw(t, k):
    lang = mx.bind(t)
    k1, k0 = jax.random.split(k)
    return (lang.sample_symbols(k1, jnp.ones((count,), jnp.int32), lengths, n),
            lang.sample_symbols(k0, jnp.zeros((count,), jnp.int32), lengths, n))

  mem, non = jax.device_get(jax.jit(jax.vmap(draw))(
      mx.member_tables(n, range(len(SPECS))),
      jnp.stack([jax.random.key(10 + i) for i in range(len(SPECS))])))
  for i, spec in enumerate(SPECS):
    for label, sym in ((1, mem[i]), (0, non[i])):
      support = classes[spec][1 - label]
      got = ["".join("01"[a] for a in r) for r in sym]
      assert set(got) <= set(support), (spec, label, set(got) - set(support))
      if len(support) > 1:
        counts = np.array([got.count(s) for s in support])
        e = count / len(support)
        chi2 = ((counts - e) ** 2 / e).sum()
        assert chi2 < stats.chi2.ppf(0.999, len(support) - 1), (spec, label, chi2)


def _exp(language=None, languages_=None, seeds="0"):
  cfg = parity_config.get_config("smoke")
  cfg.train.steps = 1
  cfg.sweep.seeds = seeds
  if languages_:
    cfg.sweep.languages = languages_
  if language:
    cfg.data.language = language
  return config_lib.validate(cfg)


def test_member_in_mixed_population_equals_member_alone():
  pop = setup_lib.make_setup(_exp(languages_="tomita4;first;tomita7", seeds="0,1"))
  i = next(i for i, m in enumerate(pop.members) if (m.language, m.seed) == ("first", 1))
  alone = setup_lib.make_setup(_exp(language="first", seeds="1"))
  assert pop.members[i].train_lengths == alone.members[0].train_lengths
  s_pop, s_one = setup_lib.init_state(pop), setup_lib.init_state(alone)
  for a, b in zip(jax.tree.leaves(s_pop.params), jax.tree.leaves(s_one.params), strict=True):
    np.testing.assert_array_equal(a[i], b[0])
  # Forward: the member's batch and its logits.
  n = pop.exp.max_train_length
  key = jax.random.key(3)
  lengths = jnp.arange(1, 17, dtype=jnp.int32)
  batch_pop = setup_lib.sampler(pop, jax.tree.map(lambda x: x[i], setup_lib.member_tables(
      pop, n))).sample("recognition", key, lengths, n)
  batch_one = alone.language.sample("recognition", key, lengths, n)
  np.testing.assert_array_equal(batch_pop.tokens_BxT, batch_one.tokens_BxT)
  p_i = jax.tree.map(lambda x: x[i], s_pop.params)
  np.testing.assert_allclose(
      pop.model.apply(p_i, batch_pop.tokens_BxT, batch_pop.readout_B),
      alone.model.apply(jax.tree.map(lambda x: x[0], s_one.params), batch_one.tokens_BxT,
                        batch_one.readout_B), rtol=1e-6, atol=1e-6)
  # One update, with the member's own train key.
  keys_pop = setup_lib.member_keys(pop)[1]
  new_pop, m_pop = jax.jit(train_lib.make_train_step(pop))(s_pop, keys_pop)
  new_one, m_one = jax.jit(train_lib.make_train_step(alone))(s_one, keys_pop[i:i + 1])
  np.testing.assert_allclose(m_pop["loss_bits"][i], m_one["loss_bits"][0], rtol=1e-6)
  for a, b in zip(jax.tree.leaves(new_pop.params), jax.tree.leaves(new_one.params), strict=True):
    np.testing.assert_allclose(a[i], b[0], rtol=1e-5, atol=1e-7)
  # Another language's member is different (the comparison can fail).
  j = next(j for j, m in enumerate(pop.members) if (m.language, m.seed) == ("tomita4", 1))
  assert abs(float(m_pop["loss_bits"][j]) - float(m_one["loss_bits"][0])) > 1e-4


def test_mixed_results_keep_each_languages_lengths():
  exp = _exp(languages_="tomita2;one")
  setup = setup_lib.make_setup(exp)
  assert [m.language for m in setup.members] == ["tomita2", "one"]
  assert setup.members[0].train_lengths == tuple(range(2, exp.max_train_length + 1, 2))
  state = setup_lib.init_state(setup)
  rows = evaluate.Evaluator(setup)(state.params, (3, 4, 5, 6))
  assert [r["length"] for r in rows[0]] == [4, 6] and [r["length"] for r in rows[1]] == [3, 4, 5, 6]
  assert "languages" not in _exp().to_dict()["sweep"]      # old runs keep their config.json
  assert exp.to_dict()["sweep"]["languages"] == ("tomita2", "one")


@pytest.mark.parametrize("value,match", [
    ("tomita1;dyck:k=2", "not a regular language given by a DFA"),
    ("tomita1;ab_star", "same alphabet"),
    ("tomita1;nope", "unknown language"),
    ("{empty}", "has no member at any training length"),
    ("first;;", None),
])
def test_bad_sweep_languages(value, match, tmp_path):
  path = tmp_path / "empty.json"
  path.write_text('{"alphabet": ["0", "1"], "states": ["q"], "start": "q", "accept": [], '
                  '"transitions": {"q": {"0": "q", "1": "q"}}}')
  cfg = parity_config.get_config("smoke")
  cfg.sweep.languages = value.format(empty=f"dfa:path={path}")
  if match is None:       # empty entries are skipped
    assert config_lib.validate(cfg).sweep.languages == ("first",)
    return
  with pytest.raises(ValueError, match=match):
    config_lib.validate(cfg)
