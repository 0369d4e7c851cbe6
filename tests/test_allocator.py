"""Entry points re-execute themselves with tcmalloc preloaded where it is installed."""

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
