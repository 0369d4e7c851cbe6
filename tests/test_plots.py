"""limits/plots.py: the sweep figures' titles name what they show."""

from limits import plots


def _rows(langs):
  return [{"language": l, "task": "recognition"} for l in langs]


def test_title_names_every_language_of_a_multi_language_sweep():
  """With sweep.languages the caller's title names the first language only ("parity
  recognition" above a parity panel and a 1* panel); the figure's names them all."""
  assert plots._languages_title(_rows(["parity", "one", "parity"]), "parity recognition") \
      == "recognition of parity, one"
  assert plots._languages_title(_rows(["parity"]), "parity recognition") == "parity recognition"
