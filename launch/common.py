"""What every entry point shares: flag parsing and turning user errors into one line.

A user error (bad flag, unknown config field or variant, impossible value) prints one
line `error: ...` to stderr and exits with status 2, before anything compiles or is
written.
"""

from __future__ import annotations

import os
import sys
from typing import Callable, NoReturn, TypeVar

from absl import flags, logging

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T = TypeVar("T")


def fail(message: str, status: int = 2) -> NoReturn:
  print(f"error: {message}", file=sys.stderr, flush=True)
  sys.exit(status)


def parse_flags(argv: list[str]) -> list[str]:
  """absl flag parser for `app.run(..., flags_parser=parse_flags)`: errors exit 2.

  Also quiets library INFO logs (orbax logs every checkpoint step at INFO).
  """
  logging.set_verbosity(logging.WARNING)
  try:
    rest = flags.FLAGS(argv)
    if "config" in flags.FLAGS and flags.FLAGS["config"].value is not None:
      flags.FLAGS["config"].value.keys()  # config_flags defers load errors to first use
    return rest
  except SyntaxError as e:
    fail(f"--config: syntax error in {e.filename} line {e.lineno}: {e.msg}")
  except AttributeError as e:
    if "get_config" in str(e):
      fail(f"--config: {config_path(argv) or 'the file'} has no get_config(arg=None); a config "
           f"is a Python file like configs/parity.py (a DFA file is a language: "
           f"--config.data.language=dfa:path=FILE)")
    fail(f"{type(e).__name__}: {e}")
  except flags.Error as e:
    msg = str(e).strip().splitlines()
    line = msg[-1] if msg else repr(e)
    fail(line.removeprefix("ValueError: "))
  except OSError as e:
    detail = [l.strip() for l in str(e).splitlines() if l.strip()]
    fail(f"--config: cannot load the config file ({'; '.join(detail[-2:])})")
  except ValueError as e:
    fail(str(e))
  except (KeyError, TypeError) as e:
    fail(f"{type(e).__name__}: {e}")
  except Exception as e:  # the config file's own code raised: name the file and the error
    fail(f"--config: {config_path(argv) or 'the config file'} raised {type(e).__name__}: {e}")


def config_path(argv: list[str]) -> str | None:
  """The file of --config=FILE[:variant] in argv, if any."""
  for a in argv:
    if a.startswith("--config="):
      return a[len("--config="):].split(":")[0]
  return None


def writable_dir(path: str, flag: str) -> str:
  """`path` as a directory this process can write (created if missing), else one line.

  A path naming an existing file is bad input (exit 2); a directory that cannot be created
  or written (read-only, /proc, permissions) is a failed write (exit 74).
  """
  if not path:
    fail(f"{flag}: must name a directory, got an empty value")
  if os.path.exists(path) and not os.path.isdir(path):
    fail(f"{flag}: {path} is a file, not a directory")
  from limits import checkpoint  # local: launch.common stays light to import
  try:
    checkpoint.check_writable(path, flag)
  except checkpoint.WorkdirError as e:
    fail(str(e), status=WRITE_FAILED)
  return path


WRITE_FAILED = 74  # EX_IOERR: a write failed


def os_error_line(e: OSError) -> str:
  """One line for a failed write or read: what failed, and the system's reason."""
  if e.strerror:
    return e.strerror + (f": {e.filename}" if e.filename is not None else "")
  lines = [l.strip() for l in str(e).splitlines() if l.strip()]
  return lines[-1] if lines else type(e).__name__


def user_errors(fn: Callable[[], T]) -> T:
  """Runs `fn`; a ValueError (a user's mistake) becomes one line and exit status 2."""
  try:
    return fn()
  except ValueError as e:
    fail(str(e))
