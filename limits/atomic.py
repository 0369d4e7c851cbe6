"""Atomic file writes: the one way the project writes a file a reader may look at.

`atomic_path(path)` yields a temporary path beside `path` (`path + ".tmp"`); the caller
writes it however it likes (text, CSV, JSON, a matplotlib figure), and on success it
becomes `path` by one `os.replace` (atomic on POSIX). On any failure (a full disk, a
kill's exception) the temporary is removed and the error goes on. So a reader, or a
rerun after a crash, sees the old file or the new one, never half of one, and no stray
temporary is left. `write_text` and `write_bytes` are the common case.

Appends (metrics.jsonl, config_history.jsonl) and exclusive creation (the workdir lock)
are not rewrites and do not go through here.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
  """Yields the temporary path to write; it replaces `path` when the block succeeds."""
  tmp = os.fspath(path) + ".tmp"
  try:
    yield tmp
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def write_text(path: str, text: str) -> None:
  """Writes `text` to `path` atomically."""
  with atomic_path(path) as tmp, open(tmp, "w") as f:
    f.write(text)


def write_bytes(path: str, data: bytes) -> None:
  """Writes `data` to `path` atomically."""
  with atomic_path(path) as tmp, open(tmp, "wb") as f:
    f.write(data)
