"""Entry points re-execute themselves with tcmalloc preloaded where it is installed, and
ask JAX for one CPU device per usable core unless a device count is given."""

import sys

import pytest

import launch


@pytest.fixture
def execs(monkeypatch):
  calls = []
  monkeypatch.setattr(launch._os, "execve", lambda path, argv, env: calls.append((argv, env)))
  monkeypatch.setattr(launch, "tcmalloc_path", lambda: "/lib/libtcmalloc_minimal.so.4")
  monkeypatch.delenv("LIMITS_TCMALLOC", raising=False)
  monkeypatch.setenv("LD_PRELOAD", "/lib/other.so")
  return calls


def test_launch_entry_point_reexecutes_with_tcmalloc_first(execs, monkeypatch):
  monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "launch.train", "--config=x"])
  launch._preload_tcmalloc()
  [(argv, env)] = execs
  assert argv == [sys.executable, "-m", "launch.train", "--config=x"]
  assert env["LD_PRELOAD"] == "/lib/libtcmalloc_minimal.so.4 /lib/other.so"


@pytest.mark.parametrize("argv,env", [
    (["python", "-m", "pytest"], {}),                                   # not an entry point
    (["python", "-m", "launch.train"], {"LIMITS_TCMALLOC": "0"}),       # turned off
    (["python", "-m", "launch.train"], {"LD_PRELOAD": "/x/libtcmalloc.so"}),  # already there
])
def test_no_reexec_when_not_wanted(execs, monkeypatch, argv, env):
  monkeypatch.setattr(sys, "orig_argv", argv)
  for k, v in env.items():
    monkeypatch.setenv(k, v)
  launch._preload_tcmalloc()
  assert execs == []


def test_allocator_names_the_preloaded_one(monkeypatch):
  monkeypatch.setenv("LD_PRELOAD", "/usr/lib/libtcmalloc_minimal.so.4")
  assert launch.allocator() == "tcmalloc"
  monkeypatch.delenv("LD_PRELOAD")
  assert launch.allocator() == "glibc malloc"


@pytest.fixture
def entry(monkeypatch):
  monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "launch.train"])
  for k in ("JAX_NUM_CPU_DEVICES", "LIMITS_CPU_DEVICES", "XLA_FLAGS"):
    monkeypatch.delenv(k, raising=False)
  monkeypatch.setattr(launch._os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
  return monkeypatch


def test_entry_points_ask_for_one_cpu_device_per_usable_core(entry):
  launch._set_cpu_devices()
  assert launch._os.environ["JAX_NUM_CPU_DEVICES"] == "3"


def test_limits_cpu_devices_picks_the_count(entry):
  entry.setenv("LIMITS_CPU_DEVICES", "1")
  launch._set_cpu_devices()
  assert launch._os.environ["JAX_NUM_CPU_DEVICES"] == "1"


@pytest.mark.parametrize("argv,env", [
    (["python", "-m", "pytest"], {}),                                              # not an entry point
    (["python", "-m", "launch.train"], {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}),
    (["python", "-m", "launch.train"], {"JAX_NUM_CPU_DEVICES": "4"}),              # explicit: kept
])
def test_explicit_device_counts_are_kept(entry, argv, env):
  entry.setattr(sys, "orig_argv", argv)
  for k, v in env.items():
    entry.setenv(k, v)
  launch._set_cpu_devices()
  assert launch._os.environ.get("JAX_NUM_CPU_DEVICES") == env.get("JAX_NUM_CPU_DEVICES")


@pytest.mark.parametrize("bad", ["0", "-2", "two"])
def test_bad_limits_cpu_devices_is_one_line_and_exit_2(entry, capsys, bad):
  entry.setenv("LIMITS_CPU_DEVICES", bad)
  with pytest.raises(SystemExit) as e:
    launch._set_cpu_devices()
  assert e.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "LIMITS_CPU_DEVICES" in err[0]
