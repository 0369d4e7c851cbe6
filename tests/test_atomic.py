"""atomic: a write replaces the file whole or not at all, and leaves no temporary."""

import os

import pytest

from limits import atomic


def test_write_replaces_whole_file(tmp_path):
  p = str(tmp_path / "a.txt")
  atomic.write_text(p, "old\n")
  atomic.write_bytes(p, b"new\n")
  assert open(p).read() == "new\n" and os.listdir(tmp_path) == ["a.txt"]


def test_failed_write_keeps_old_file_and_no_temporary(tmp_path):
  p = str(tmp_path / "a.txt")
  atomic.write_text(p, "old\n")
  with pytest.raises(RuntimeError):
    with atomic.atomic_path(p) as tmp:
      with open(tmp, "w") as f:
        f.write("half")
      raise RuntimeError("disk full")
  assert open(p).read() == "old\n" and os.listdir(tmp_path) == ["a.txt"]
