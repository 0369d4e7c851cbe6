"""The language registry: `LANGUAGES` maps the names users type to builders.

A spec string is `name` or `name:param=value,flag`, e.g. `parity:odd`. Adding a language
is one module (a `base.Language` subclass) and one line here.
"""

from __future__ import annotations

from typing import Callable

from limits.languages import base
from limits.languages.base import Batch, Language, TASKS
from limits.languages.parity import Parity


def _parity(p: float, odd: str | None = None) -> Language:
  return Parity(p=p, odd=odd is not None)


LANGUAGES: dict[str, Callable[..., Language]] = {
    "parity": _parity,
}


def make_language(spec: str, p: float = 0.5) -> Language:
  """Builds the language named by `spec`; ValueError names an unknown name or param."""
  name, params = base.parse_spec(spec)
  if name not in LANGUAGES:
    raise ValueError(f"data.language: unknown language {name!r}; "
                     f"allowed: {', '.join(sorted(LANGUAGES))}")
  try:
    return LANGUAGES[name](p, **params)
  except TypeError:
    raise ValueError(f"data.language: bad parameters {params} for {name!r} "
                     f"(spec {spec!r})") from None


__all__ = ["Batch", "Language", "LANGUAGES", "TASKS", "make_language"]
