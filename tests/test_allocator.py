"""Entry points re-execute themselves with the best allocator preloaded (tcmalloc where
installed, else pip's mimalloc; LIMITS_ALLOCATOR chooses), and ask JAX for one CPU device
per usable core unless a device count is given."""

import sys

import pytest

from launch import startup


@pytest.fixture
def execs(monkeypatch):
  calls = []
  monkeypatch.setattr(startup._os, "execve", lambda path, argv, env: calls.append((argv, env)))
  monkeypatch.setattr(startup, "tcmalloc_path", lambda: "/lib/libtcmalloc_minimal.so.4")
  monkeypatch.setattr(startup, "mimalloc_path", lambda: "/site/cmeel.prefix/lib/libmimalloc.so")
  monkeypatch.delenv("LIMITS_TCMALLOC", raising=False)
  monkeypatch.delenv("LIMITS_ALLOCATOR", raising=False)
  monkeypatch.setenv("LD_PRELOAD", "/lib/other.so")
  return calls


def test_launch_entry_point_reexecutes_with_tcmalloc_first(execs, monkeypatch):
  monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "launch.train", "--config=x"])
  startup._preload_allocator()
  [(argv, env)] = execs
  assert argv == [sys.executable, "-m", "launch.train", "--config=x"]
  assert env["LD_PRELOAD"] == "/lib/libtcmalloc_minimal.so.4 /lib/other.so"


@pytest.mark.parametrize("argv,env", [
    (["python", "-m", "pytest"], {}),                                   # not an entry point
    (["python", "-m", "launch.train"], {"LIMITS_TCMALLOC": "0"}),       # turned off
    (["python", "-m", "launch.train"], {"LD_PRELOAD": "/x/libtcmalloc.so"}),  # already there
    (["python", "-m", "launch.train"], {"LIMITS_ALLOCATOR": "glibc"}),      # chosen
])
def test_no_reexec_when_not_wanted(execs, monkeypatch, argv, env):
  monkeypatch.setattr(sys, "orig_argv", argv)
  for k, v in env.items():
    monkeypatch.setenv(k, v)
  startup._preload_allocator()
  assert execs == []


def test_mimalloc_from_pip_when_tcmalloc_is_absent(execs, monkeypatch):
  monkeypatch.setattr(startup, "tcmalloc_path", lambda: None)
  monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "launch.train"])
  startup._preload_allocator()
  [(argv, env)] = execs
  assert env["LD_PRELOAD"] == "/site/cmeel.prefix/lib/libmimalloc.so /lib/other.so"


def test_limits_allocator_chooses_mimalloc_over_tcmalloc(execs, monkeypatch):
  monkeypatch.setenv("LIMITS_ALLOCATOR", "mimalloc")
  monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "launch.train"])
  startup._preload_allocator()
  [(argv, env)] = execs
  assert env["LD_PRELOAD"].startswith("/site/cmeel.prefix/lib/libmimalloc.so")


@pytest.mark.parametrize("value,missing,needle", [
    ("jemalloc", None, "must be one of"), ("mimalloc", "mimalloc_path", "pip install cmeel-mimalloc"),
    ("tcmalloc", "tcmalloc_path", "libtcmalloc-minimal4")])
def test_bad_or_missing_allocator_is_one_line_and_exit_2(execs, monkeypatch, capsys, value,
                                                         missing, needle):
  monkeypatch.setenv("LIMITS_ALLOCATOR", value)
  if missing:
    monkeypatch.setattr(startup, missing, lambda: None)
  monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "launch.train"])
  with pytest.raises(SystemExit) as e:
    startup._preload_allocator()
  assert e.value.code == 2 and execs == []
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and needle in err[0], err


def test_the_pip_mimalloc_is_found_and_preloaded_by_entry_points(repo, tmp_path):
  # The real wheel (an install requirement on Linux), not a monkeypatched path.
  import subprocess
  path = startup.mimalloc_path()
  assert path and path.endswith(".so") and "mimalloc" in path
  env = {k: v for k, v in startup._os.environ.items()
         if k not in ("LIMITS_ALLOCATOR", "LIMITS_TCMALLOC", "LD_PRELOAD")}
  for want, name in (("mimalloc", "mimalloc"), ("glibc", "glibc malloc")):
    p = subprocess.run([sys.executable, "-m", "launch.train", "--config=configs/parity.py:smoke",
                        "--config.train.steps=1", f"--workdir={tmp_path / want}"], cwd=repo,
                       env=dict(env, LIMITS_ALLOCATOR=want), capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert f"allocator: {name} (" in p.stdout, p.stdout


def test_allocator_names_the_preloaded_one(monkeypatch):
  monkeypatch.setenv("LD_PRELOAD", "/usr/lib/libtcmalloc_minimal.so.4")
  assert startup.allocator() == "tcmalloc"
  monkeypatch.setenv("LD_PRELOAD", "/site/cmeel.prefix/lib/libmimalloc.so")
  assert startup.allocator() == "mimalloc"
  monkeypatch.delenv("LD_PRELOAD")
  assert startup.allocator() == "glibc malloc"


@pytest.fixture
def entry(monkeypatch):
  monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "launch.train"])
  for k in ("JAX_NUM_CPU_DEVICES", "LIMITS_CPU_DEVICES", "XLA_FLAGS"):
    monkeypatch.delenv(k, raising=False)
  monkeypatch.setattr(startup._os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
  return monkeypatch


def test_entry_points_ask_for_one_cpu_device_per_usable_core(entry):
  startup._set_cpu_devices()
  assert startup._os.environ["JAX_NUM_CPU_DEVICES"] == "3"


def test_limits_cpu_devices_picks_the_count(entry):
  entry.setenv("LIMITS_CPU_DEVICES", "1")
  startup._set_cpu_devices()
  assert startup._os.environ["JAX_NUM_CPU_DEVICES"] == "1"


@pytest.mark.parametrize("argv,env", [
    (["python", "-m", "pytest"], {}),                                              # not an entry point
    (["python", "-m", "launch.train"], {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}),
    (["python", "-m", "launch.train"], {"JAX_NUM_CPU_DEVICES": "4"}),              # explicit: kept
])
def test_explicit_device_counts_are_kept(entry, argv, env):
  entry.setattr(sys, "orig_argv", argv)
  for k, v in env.items():
    entry.setenv(k, v)
  startup._set_cpu_devices()
  assert startup._os.environ.get("JAX_NUM_CPU_DEVICES") == env.get("JAX_NUM_CPU_DEVICES")


@pytest.mark.parametrize("bad", ["0", "-2", "two"])
def test_bad_limits_cpu_devices_is_one_line_and_exit_2(entry, capsys, bad):
  entry.setenv("LIMITS_CPU_DEVICES", bad)
  with pytest.raises(SystemExit) as e:
    startup._set_cpu_devices()
  assert e.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "LIMITS_CPU_DEVICES" in err[0]


def test_importing_launch_changes_nothing(repo):
  # As `python -m launch.train` would see it, but imported: no re-exec (it would run
  # `launch.train --validate_only` and print `config ok`), no LD_PRELOAD, no device count.
  # JAX sets a few variables of its own when imported (TF_CPP_MIN_LOG_LEVEL): it goes first.
  import os
  import subprocess
  child = ("import os, sys\n"
           "sys.orig_argv = [sys.executable, '-m', 'launch.train', '--validate_only']\n"
           "import jax\n"
           "before = dict(os.environ)\n"
           "import launch, launch.train\n"
           "print('unchanged' if dict(os.environ) == before else 'changed', os.getpid())\n")
  env = {k: v for k, v in os.environ.items() if k not in (
      "LIMITS_ALLOCATOR", "LIMITS_TCMALLOC", "LD_PRELOAD", "JAX_NUM_CPU_DEVICES", "XLA_FLAGS",
      "LIMITS_CPU_DEVICES")}
  p = subprocess.Popen([sys.executable, "-c", child], cwd=repo, env=env, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  out, err = p.communicate(timeout=120)
  assert p.returncode == 0, err
  assert out.split() == ["unchanged", str(p.pid)], out


def entry_points(repo) -> list[str]:
  import pathlib
  return sorted(p.stem for p in (pathlib.Path(repo) / "launch").glob("*.py")
                if 'if __name__ == "__main__":' in p.read_text())


def test_every_entry_point_calls_ensure_before_anything_else(repo):
  # JAX reads JAX_NUM_CPU_DEVICES when it is imported, and a re-exec after heavy imports
  # pays for them twice: `startup.ensure()` comes before every import but its own.
  import ast
  import pathlib
  names = entry_points(repo)
  assert {"train", "evaluate", "analyze", "benchmark", "sample"} <= set(names), names
  for name in names:
    body = ast.parse((pathlib.Path(repo) / "launch" / f"{name}.py").read_text()).body
    first = next(i for i, node in enumerate(body) if isinstance(node, ast.If)
                 and ast.unparse(node.test) == "__name__ == '__main__'")
    assert [ast.unparse(s) for s in body[first].body] == ["startup.ensure()"], name
    before = [ast.unparse(s) for s in body[:first]
              if isinstance(s, (ast.Import, ast.ImportFrom))]
    assert before == ["from __future__ import annotations", "from launch import startup"], \
        (name, before)
