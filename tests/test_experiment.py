"""experiment.py: what a run is titled."""

from limits import config as config_lib
from limits import experiment
from limits import setup as setup_lib
from configs import parity as parity_config


def test_single_member_title_names_the_member_shape():
  """Issue 14.9: a one-member sweep (sweep.heads=2) trains a 2-head model; the title
  must say so, not model.heads."""
  cfg = parity_config.get_config("smoke")
  cfg.model.heads = 4
  cfg.sweep.heads = "2"
  cfg.sweep.depths = "1"
  setup = setup_lib.make_setup(config_lib.validate(cfg))
  assert setup.members[0].heads == 2
  assert experiment.run_title(setup).endswith("depth 1, heads 2")
  cfg.sweep.heads = "1,2"
  assert ": " not in experiment.run_title(setup_lib.make_setup(config_lib.validate(cfg)))
