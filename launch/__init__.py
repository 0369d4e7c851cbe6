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


def _entry_argv() -> list[str] | None:
  """The interpreter's argv when it runs `python -m launch.NAME`, else None."""
  argv = list(getattr(_sys, "orig_argv", []))
  return argv if len(argv) >= 3 and argv[1] == "-m" and argv[2].startswith("launch.") else None


def _preload_tcmalloc() -> None:
  argv = _entry_argv()
  if (argv is None or _os.environ.get("LIMITS_TCMALLOC", "1") == "0"
      or allocator() == "tcmalloc"):
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


# One XLA:CPU device per usable core (`JAX_NUM_CPU_DEVICES`, set before JAX starts): a
# population's members are split over devices, so each core trains its own members
# (`parallel.map_members`) instead of every op being split over all cores. A one-member
# run uses one device, whose ops still use every core. An explicit device count
# (JAX_NUM_CPU_DEVICES, or --xla_force_host_platform_device_count in XLA_FLAGS) is kept;
# LIMITS_CPU_DEVICES=N asks for N (1: a single CPU device, JAX's default).
def cpu_devices() -> int:
  """CPU devices the entry points ask JAX for: LIMITS_CPU_DEVICES, else usable cores."""
  want = _os.environ.get("LIMITS_CPU_DEVICES", "")
  if want.strip():
    try:
      n = int(want)
    except ValueError:
      n = 0
    if n < 1:
      print(f"error: LIMITS_CPU_DEVICES must be a positive integer, got {want!r}",
            file=_sys.stderr, flush=True)
      _sys.exit(2)
    return n
  try:
    return max(1, len(_os.sched_getaffinity(0)))
  except (AttributeError, OSError):
    return max(1, _os.cpu_count() or 1)


def _set_cpu_devices() -> None:
  if _entry_argv() is None:
    return
  if ("JAX_NUM_CPU_DEVICES" in _os.environ
      or "xla_force_host_platform_device_count" in _os.environ.get("XLA_FLAGS", "")):
    return
  _os.environ["JAX_NUM_CPU_DEVICES"] = str(cpu_devices())


_preload_tcmalloc()
_set_cpu_devices()
