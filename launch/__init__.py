"""Entry points: flag parsing and orchestration only (`python -m launch.<name>`).

Importing `launch` has no side effects; each entry point calls `startup.ensure()` (the
allocator re-exec and CPU device count) first thing on its `__main__` path.
"""

from launch.startup import (ALLOCATORS, allocator, cpu_devices, mimalloc_path,  # noqa: F401
                            tcmalloc_path, wanted_allocator)
