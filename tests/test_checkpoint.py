"""limits.checkpoint: a checkpoint write failing inside orbax is one line and exit 74.
The workdir around the checkpoints (config fingerprint, lock): tests/test_workdir.py."""

import os
import subprocess
import sys


def test_a_checkpoint_write_failing_inside_orbax_is_one_line(repo, tmp_path):
  """A file-size limit (RLIMIT_FSIZE: writes past 16 KB fail with EFBIG, as a full disk
  fails with ENOSPC) hits orbax's threaded tensorstore write of the first checkpoint:
  orbax logs two tracebacks and tensorstore prints three more; `checkpoint.save` holds
  them back, so the run prints one line, exits 74 and leaves no temporary checkpoint."""
  import resource

  wd = tmp_path / "w"

  def limit():
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 10, 16 << 10))

  p = subprocess.run([sys.executable, "-m", "launch.train", "--config=configs/parity.py:smoke",
                      f"--workdir={wd}"], cwd=repo, capture_output=True, text=True,
                     preexec_fn=limit, timeout=600,
                     # no persistent compilation cache: the limit would truncate its entries
                     env=dict(os.environ, JAX_NUM_CPU_DEVICES="1",
                              JAX_ENABLE_COMPILATION_CACHE="false"))
  lines = p.stderr.strip().splitlines()
  assert p.returncode == 74 and len(lines) == 1, p.stderr[-3000:]
  assert lines[0].startswith(f"error: writing checkpoint step 10 to {wd}/checkpoints failed "
                             "(File too large"), lines[0]
  assert not [n for n in os.listdir(wd / "checkpoints") if "tmp" in n]
  assert not (wd / "results.csv").exists()
