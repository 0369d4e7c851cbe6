"""Writing an export as a directory, all or nothing, never over something else.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from limits.export.layout import FORMAT, MANIFEST


class ExportExists(ValueError):
  """`out` holds another export (or something that is not an export)."""


def prior_manifest(out: str) -> dict[str, Any] | None:
  """The manifest of the export already at `out`, None where `out` is absent or an
  empty directory; ExportExists where it is a file or a directory that is not an export."""
  if not os.path.exists(out):
    return None
  if not os.path.isdir(out):
    raise ExportExists(f"--out: {out} is a file, not a directory")
  path = os.path.join(out, MANIFEST)
  if not os.path.exists(path):
    if os.listdir(out):
      raise ExportExists(f"--out: {out} is not empty and holds no {MANIFEST}: not an export, "
                         f"so it is never replaced; choose another --out")
    return None
  try:
    with open(path) as f:
      m = json.load(f)
  except (OSError, json.JSONDecodeError) as e:
    raise ExportExists(f"--out: {path} cannot be read ({e}); not replaced") from None
  if not isinstance(m, dict) or m.get("format") != FORMAT:
    raise ExportExists(f"--out: {path} is not a limits export manifest; not replaced")
  return m


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
  """Names of the config fields in which two configs (as dicts) differ."""
  return [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def check_writable(out: str) -> None:
  """OSError unless a directory beside `out` can be created (parents are created)."""
  probe = f"{os.path.abspath(out)}.probe-{os.getpid()}"
  os.makedirs(probe)
  os.rmdir(probe)


def write(out: str, files: dict[str, bytes], overwrite: bool = False) -> str:
  """Writes `files` as the directory `out`, all or nothing: "written", "unchanged" (the
  same bytes are there already) or "replaced" (another export, with `overwrite`).

  ExportExists for another export without `overwrite` (or a non-export at `out`);
  OSError for a failed write (nothing partial is left: files go to a sibling temporary
  directory that is renamed into place).
  """
  prior = prior_manifest(out)
  if prior is not None:
    new = json.loads(files[MANIFEST])
    if prior == new and _same_files(out, files):
      return "unchanged"
    if not overwrite:
      diff = differences(prior.get("config", {}), new["config"]) or ["files (same config)"]
      raise ExportExists(f"--out: {out} holds a different export (differs in {', '.join(diff)}); "
                         f"pass --overwrite to replace it, or choose another --out")
  absout = os.path.abspath(out)
  tmp = f"{absout}.tmp-{os.getpid()}"
  if os.path.exists(tmp):
    shutil.rmtree(tmp)
  try:
    for rel, data in files.items():
      path = os.path.join(tmp, rel)
      os.makedirs(os.path.dirname(path), exist_ok=True)
      with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    if os.path.isdir(absout):
      old = f"{absout}.old-{os.getpid()}"
      os.rename(absout, old)
      os.rename(tmp, absout)
      shutil.rmtree(old, ignore_errors=True)
      return "replaced" if prior is not None else "written"
    os.rename(tmp, absout)
    return "written"
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise


def _same_files(out: str, files: dict[str, bytes]) -> bool:
  on_disk = set()
  for root, _, names in os.walk(out):
    on_disk.update(os.path.relpath(os.path.join(root, n), out) for n in names)
  if on_disk != set(files):
    return False
  for rel, data in files.items():
    with open(os.path.join(out, rel), "rb") as f:
      if f.read() != data:
        return False
  return True
