"""Test setup: 8 simulated CPU devices, set before jax is imported anywhere."""

import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Most test time is XLA compiling the same small programs again (every subprocess run of
# a smoke config compiles them anew): a persistent compilation cache shared by the xdist
# workers and their subprocesses compiles each once. Results do not depend on it. It lives
# in the user's own cache directory (never a fixed path in /tmp that every user of the
# machine shares: another user's entries would be read, or the directory not writable).
import tempfile  # noqa: E402


def jax_cache_dir() -> str:
  """$XDG_CACHE_HOME/limits/jax-tests (default ~/.cache/limits/jax-tests), or where that
  cannot be created a private per-user directory under the temporary directory."""
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  path = os.path.join(base, "limits", "jax-tests")
  try:
    os.makedirs(path, exist_ok=True)
    if os.access(path, os.W_OK):
      return path
  except OSError:
    pass
  path = os.path.join(tempfile.gettempdir(), f"limits-jax-tests-{os.getuid()}")
  os.makedirs(path, mode=0o700, exist_ok=True)
  return path


os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", jax_cache_dir())
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def repo() -> str:
  return REPO
