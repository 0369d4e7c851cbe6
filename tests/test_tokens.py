"""The one token layout (languages/tokens.py) and the recogniser / generator interfaces."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from limits import languages
from limits.languages import base, deletang, tokens


def test_layouts_are_the_documented_ones():
  sym = np.array([[1, 0, 1], [0, 0, 0]], np.int32)   # second string: 1 symbol (the rest ignored)
  n = np.array([3, 1], np.int32)
  eos, bos, pad = tokens.special_ids(2)
  assert (eos, bos, pad) == (2, 3, 4)
  np.testing.assert_array_equal(tokens.recognition_tokens(sym, n, 2), [[1, 0, 1, 2], [0, 2, 4, 4]])
  np.testing.assert_array_equal(tokens.prediction_tokens(sym, n, 2), [[3, 1, 0, 1], [3, 0, 4, 4]])


@pytest.mark.parametrize("task", ["recognition", "prediction"])
def test_sampled_batches_use_the_layout(task):
  lang = languages.make_language("dyck")
  b = lang.sample(task, jax.random.key(0), jnp.array([4, 2, 6, 0], jnp.int32), 6)
  tok = np.asarray(b.tokens_BxT)
  n = np.asarray(b.lengths_B)
  for row, m in zip(tok, n):
    if task == "recognition":
      assert row[m] == lang.eos and (row[m + 1:] == lang.pad).all() and (row[:m] < 4).all()
    else:
      assert row[0] == lang.bos and (row[m + 1:] == lang.pad).all() and (row[1:m + 1] < 4).all()


def test_a_task_without_generator_is_a_recogniser_only():
  task = languages.make_language("parity_check")
  assert isinstance(task, base.Recogniser) and not isinstance(task, base.Generator)
  assert task.supported_tasks == ("recognition",)
  assert not hasattr(deletang.ClassificationTask, "sample_prefixes")
  with pytest.raises(ValueError, match="data.task: parity_check has no prediction task"):
    task.sample("prediction", jax.random.key(0), jnp.array([4]), 4)
  assert isinstance(languages.make_language("parity"), base.Generator)
