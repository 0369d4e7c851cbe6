"""limits: what self-attention can and cannot compute (Hahn 2020), as runnable code.

The library holds pure functions and Flax modules only: no flags, no file I/O and no
device work happen at import time. Entry points live in `launch/`.
"""

__version__ = "0.1.0"
