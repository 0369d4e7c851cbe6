"""launch/tpu_pod.sh and launch/gpu.sh: --help, validation before any machine starts,
the pod script's dirty-tree refusal, and --dry-run printing the exact commands.

The scripts run in a fresh git repository holding a copy of the source (committed, so
clean): the shared checkout itself may be dirty while the tests run."""

import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COPY = ("launch", "limits", "configs", "setup.cfg", "pyproject.toml", ".gitignore")


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("clean_repo"))
  for name in COPY:
    src = os.path.join(REPO, name)
    if os.path.isdir(src):
      shutil.copytree(src, os.path.join(root, name), ignore=shutil.ignore_patterns("__pycache__"))
    elif os.path.exists(src):
      shutil.copy(src, root)
  git = ["git", "-C", root, "-c", "user.name=t", "-c", "user.email=t@example.com"]
  subprocess.run(["git", "init", "-q", root], check=True)
  subprocess.run(git + ["add", "--", *[n for n in COPY if os.path.exists(os.path.join(root, n))]],
                 check=True)
  subprocess.run(git + ["commit", "-q", "-m", "snapshot"], check=True)
  return root


def _run(cwd, *args):
  return subprocess.run(["bash", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


POD = ("launch/tpu_pod.sh", "--dry-run", "--name=p", "--zone=z", "--type=v4-8",
       "--config=configs/sweep.py:smoke")


def test_tpu_pod_dry_run(clean):
  r = _run(clean, *POD, "--workdir=workdir/x", "--", "--config.train.steps=5")
  assert r.returncode == 0, r.stderr
  lines = r.stdout.splitlines()
  assert lines[0].startswith("gcloud compute tpus tpu-vm create p --zone=z --accelerator-type=v4-8")
  assert any(l.startswith("git archive --format=tar.gz") and l.rstrip().endswith("HEAD")
             for l in lines)
  run = [l for l in lines if "launch.train" in l]
  assert len(run) == 1 and "--worker=all" in run[0] and "--distributed" in run[0]
  assert "configs/sweep.py:smoke" in run[0] and "--config.train.steps=5" in run[0]
  assert "jax\\[tpu\\]" in r.stdout and "--worker=0" in lines[-1]
  # A URL workdir is refused by the validation until the writers support it.
  r = _run(clean, *POD, "--workdir=gs://bucket/run")
  assert r.returncode == 2 and r.stdout == "" and r.stderr.startswith(
      "error: --workdir: gs://bucket/run: URL workdirs are not supported yet"), r.stderr


def test_tpu_pod_refuses_a_dirty_tree_unless_told(clean):
  extra = os.path.join(clean, "limits", "uncommitted.py")
  with open(extra, "w") as f:
    f.write("X = 1\n")
  try:
    r = _run(clean, *POD, "--workdir=workdir/x")
    assert r.returncode == 2 and r.stdout == "", r.stdout
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(
        "error: the working tree has 1 uncommitted change(s)"), r.stderr
    r = _run(clean, *POD, "--workdir=workdir/x", "--allow_dirty")
    assert r.returncode == 0, r.stderr
    assert "git archive" not in r.stdout
    assert "git ls-files -z -co --exclude-standard | tar czf" in r.stdout
  finally:
    os.remove(extra)
  assert _run(clean, *POD, "--workdir=workdir/x").returncode == 0


def test_scripts_validate_the_config_before_any_machine(clean):
  for script in (POD, ("launch/gpu.sh", "--dry-run", "--config=configs/parity.py:smoke")):
    r = _run(clean, *script, "--", "--config.data.language=nope")
    assert r.returncode == 2 and r.stdout == "", (script[0], r.stdout)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: data.language: unknown language"), (
        script[0], r.stderr)


def test_help(clean):
  for script, words in (("launch/tpu_pod.sh", ("--allow_dirty", "--validate_only", "shared storage",
                                               "resumes")),
                        ("launch/gpu.sh", ("--validate_only", "--dry-run"))):
    r = _run(clean, script, "--help")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("Run a limits experiment")
    assert all(w in r.stdout for w in words), (script, r.stdout)


def test_gpu_dry_run_and_bad_argument(clean):
  r = _run(clean, "launch/gpu.sh", "--dry-run", "--config=configs/parity.py:smoke")
  assert r.returncode == 0 and "jax\\[cuda12\\]" in r.stdout
  assert "launch.train --config=configs/parity.py:smoke" in r.stdout
  bad = _run(clean, "launch/gpu.sh", "--nope")
  assert bad.returncode == 2 and bad.stderr.startswith("error: unknown argument --nope")
