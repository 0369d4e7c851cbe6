"""Entry points: flag parsing and orchestration only (`python -m launch.<name>`)."""

# Entry points (`python -m launch.NAME`) re-execute themselves once with tcmalloc preloaded
# where the library is installed (Debian: libtcmalloc-minimal4): JAX on CPU runs 1.5-1.8x
# faster with it than with glibc malloc. This runs while the package is imported, before
# JAX is. LIMITS_TCMALLOC=0 turns it off; `allocator()` says which one is in use.
import glob as _glob
import os as _os
import sys as _sys

TCMALLOC_GLOBS = ("/usr/lib/*/libtcmalloc_minimal.so.4", "/usr/lib/libtcmalloc_minimal.so.4",
                  "/usr/lib64/libtcmalloc_minimal.so.4")


def tcmalloc_path() -> str | None:
  for pattern in TCMALLOC_GLOBS:
    hits = sorted(_glob.glob(pattern))
    if hits:
      return hits[0]
  return None


def allocator() -> str:
  return "tcmalloc" if "tcmalloc" in _os.environ.get("LD_PRELOAD", "") else "glibc malloc"


def _preload_tcmalloc() -> None:
  argv = list(getattr(_sys, "orig_argv", []))
  if (len(argv) < 3 or argv[1] != "-m" or not argv[2].startswith("launch.")
      or _os.environ.get("LIMITS_TCMALLOC", "1") == "0" or allocator() == "tcmalloc"):
    return
  path = tcmalloc_path()
  if path is None:
    return
  pre = _os.environ.get("LD_PRELOAD", "")
  env = dict(_os.environ, LD_PRELOAD=f"{path} {pre}".strip())
  try:
    _os.execve(_sys.executable, [_sys.executable] + argv[1:], env)
  except OSError:
    pass   # cannot re-execute: run on with the default allocator


_preload_tcmalloc()
