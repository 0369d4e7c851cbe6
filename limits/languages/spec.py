"""Language specs as users type them: `name:a=1,b` (data.language, --language)."""

from __future__ import annotations


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
  """Splits `name:a=1,b` into ("name", {"a": "1", "b": ""})."""
  if not isinstance(spec, str) or not spec.strip():
    raise ValueError(f"data.language: expected a language name, got {spec!r}")
  name, _, rest = spec.strip().partition(":")
  params: dict[str, str] = {}
  for item in filter(None, (s.strip() for s in rest.split(","))):
    key, _, value = item.partition("=")
    params[key.strip()] = value.strip()
  return name.strip(), params
