"""Experiment configuration: one validation of the ConfigDict, then frozen dataclasses.

Nothing downstream reads the ConfigDict. Every error a user can cause is a ValueError
whose message names the field and the allowed values (`launch/` turns it into one line
and exit status 2).

  schema       the frozen dataclasses (each field's one default), `Experiment`, `defaults()`
  parse        lengths and number lists as users type them ("1-40", "1e-3,3e-4"), field checks
  validation   `validate(cfg) -> Experiment`, one function per section
"""

from limits.config.parse import MAX_INT, MAX_LENGTH, MAX_MEMBERS, parse_lengths, parse_numbers
from limits.config.schema import (DERIVED, PROTOCOLS, SCHEDULES, DataConfig, EvalConfig,
                                  Experiment, SweepConfig, TrainConfig, defaults,
                                  lengths_with_members, to_configdict)
from limits.config.validation import validate

__all__ = ["MAX_INT", "MAX_LENGTH", "MAX_MEMBERS", "parse_lengths", "parse_numbers", "DERIVED",
           "PROTOCOLS", "SCHEDULES", "DataConfig", "EvalConfig", "Experiment", "SweepConfig",
           "TrainConfig", "defaults", "lengths_with_members", "to_configdict", "validate"]
