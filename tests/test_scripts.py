"""launch/tpu_pod.sh and launch/gpu.sh: --dry-run prints the exact commands."""

import subprocess


def _run(repo, *args):
  return subprocess.run(["bash", *args], cwd=repo, capture_output=True, text=True, timeout=60)


def test_tpu_pod_dry_run(repo):
  r = _run(repo, "launch/tpu_pod.sh", "--dry-run", "--name=p", "--zone=z", "--type=v4-8",
           "--config=configs/sweep.py:smoke", "--workdir=workdir/x", "--", "--config.train.steps=5")
  assert r.returncode == 0, r.stderr
  lines = r.stdout.splitlines()
  assert lines[0].startswith("gcloud compute tpus tpu-vm create p --zone=z --accelerator-type=v4-8")
  run = [l for l in lines if "launch.train" in l]
  assert len(run) == 1 and "--worker=all" in run[0] and "--distributed" in run[0]
  assert "configs/sweep.py:smoke" in run[0] and "--config.train.steps=5" in run[0]
  assert "jax\\[tpu\\]" in r.stdout and "--worker=0" in lines[-1]


def test_gpu_dry_run_and_bad_argument(repo):
  r = _run(repo, "launch/gpu.sh", "--dry-run", "--config=configs/parity.py:smoke")
  assert r.returncode == 0 and "jax\\[cuda12\\]" in r.stdout
  assert "launch.train --config=configs/parity.py:smoke" in r.stdout
  bad = _run(repo, "launch/gpu.sh", "--nope")
  assert bad.returncode == 2 and bad.stderr.startswith("error: unknown argument --nope")
