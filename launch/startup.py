"""What an entry point does before anything else: preload a faster malloc, pick CPU devices.

Each `launch/<name>.py` entry point calls `ensure()` first thing on its `__main__` path,
before any import that could bring in JAX (JAX reads JAX_NUM_CPU_DEVICES when it is
imported). Importing this module, or `launch`, changes nothing: no re-exec, no environment.
Standard library only.
"""

# Entry points (`python -m launch.NAME`) re-execute themselves once with a faster malloc
# preloaded: JAX on CPU allocates and frees many buffers per step, and glibc's malloc is
# the slowest of the three (measure with `python -m launch.benchmark sweep` under each
# LIMITS_ALLOCATOR). The best one available wins: tcmalloc where the system has it
# (Debian: libtcmalloc-minimal4), else mimalloc, which `pip install` brings (the
# cmeel-mimalloc wheel ships libmimalloc.so), else glibc. LIMITS_ALLOCATOR=glibc|mimalloc|
# tcmalloc chooses (LIMITS_TCMALLOC=0, the older switch, means glibc). `allocator()` says
# which one is in use.
import glob as _glob
import os as _os
import sys as _sys

ALLOCATORS = ("tcmalloc", "mimalloc", "glibc")
TCMALLOC_GLOBS = ("/usr/lib/*/libtcmalloc_minimal.so.4", "/usr/lib/libtcmalloc_minimal.so.4",
                  "/usr/lib64/libtcmalloc_minimal.so.4")


def tcmalloc_path() -> str | None:
  for pattern in TCMALLOC_GLOBS:
    hits = sorted(_glob.glob(pattern))
    if hits:
      return hits[0]
  return None


def mimalloc_path() -> str | None:
  """libmimalloc.so from the cmeel-mimalloc wheel (an install requirement on Linux)."""
  try:
    from importlib import metadata
    files = metadata.files("cmeel-mimalloc") or []
  except Exception:  # not installed (another platform), or broken metadata
    return None
  for f in files:
    name = str(f)
    if name.endswith(".so") and "libmimalloc" in name:
      path = str(f.locate())
      if _os.path.exists(path):
        return path
  return None


def allocator() -> str:
  """The allocator this process runs with: tcmalloc, mimalloc or glibc malloc."""
  pre = _os.environ.get("LD_PRELOAD", "")
  return ("tcmalloc" if "tcmalloc" in pre else "mimalloc" if "mimalloc" in pre
          else "glibc malloc")


def wanted_allocator() -> str:
  """LIMITS_ALLOCATOR (or LIMITS_TCMALLOC=0: glibc), else the best one installed.

  A bad value, or one that is not installed, is one line on stderr and exit status 2.
  """
  want = _os.environ.get("LIMITS_ALLOCATOR", "").strip().lower()
  if not want:
    if _os.environ.get("LIMITS_TCMALLOC", "1") == "0":
      return "glibc"
    return "tcmalloc" if tcmalloc_path() else "mimalloc" if mimalloc_path() else "glibc"
  if want not in ALLOCATORS:
    print(f"error: LIMITS_ALLOCATOR must be one of {', '.join(ALLOCATORS)}, got {want!r}",
          file=_sys.stderr, flush=True)
    _sys.exit(2)
  if want != "glibc" and (tcmalloc_path if want == "tcmalloc" else mimalloc_path)() is None:
    hint = ("apt-get install libtcmalloc-minimal4" if want == "tcmalloc"
            else "pip install cmeel-mimalloc")
    print(f"error: LIMITS_ALLOCATOR={want}: the library is not installed ({hint}), or use "
          f"LIMITS_ALLOCATOR=glibc", file=_sys.stderr, flush=True)
    _sys.exit(2)
  return want


def _entry_argv() -> list[str] | None:
  """The interpreter's argv when it runs `python -m launch.NAME`, else None."""
  argv = list(getattr(_sys, "orig_argv", []))
  return argv if len(argv) >= 3 and argv[1] == "-m" and argv[2].startswith("launch.") else None


def _preload_allocator() -> None:
  argv = _entry_argv()
  if argv is None:
    return
  want = wanted_allocator()
  if want == "glibc" or allocator() == want:
    return
  path = tcmalloc_path() if want == "tcmalloc" else mimalloc_path()
  pre = _os.environ.get("LD_PRELOAD", "")
  env = dict(_os.environ, LD_PRELOAD=f"{path} {pre}".strip())
  try:
    _os.execve(_sys.executable, [_sys.executable] + argv[1:], env)
  except OSError:
    pass   # cannot re-execute: run on with the default allocator


_preload_tcmalloc = _preload_allocator  # the older name


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


def ensure() -> None:
  """Under `python -m launch.NAME`: re-execute once with the wanted allocator preloaded,
  then ask JAX for one CPU device per usable core. Elsewhere (imports, tests) a no-op."""
  _preload_allocator()
  _set_cpu_devices()
