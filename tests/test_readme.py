"""The README's quick start: two commands, and .ci/run runs exactly the second."""

import os
import re


def _quick_start(repo):
  text = open(os.path.join(repo, "README.md")).read()
  section = text.split("## Quick start", 1)[1]
  block = re.search(r"```[a-z]*\n(.*?)```", section, re.S).group(1)
  return [l for l in block.splitlines() if l.strip()]


def test_quick_start_has_two_commands_in_order(repo):
  cmds = _quick_start(repo)
  assert len(cmds) == 2
  assert "launch.train" in cmds[0] and cmds[0].startswith("pip install")
  assert "pytest" in cmds[1] and "[test]" in cmds[1]


def test_ci_runs_the_readme_test_command(repo):
  ci = open(os.path.join(repo, ".ci", "run")).read()
  lines = [l.strip() for l in ci.splitlines() if l.strip() and not l.startswith("#")]
  assert _quick_start(repo)[1] in lines


def test_config_docstrings_hold_their_launch_command(repo):
  for name in os.listdir(os.path.join(repo, "configs")):
    if name.endswith(".py") and not name.startswith("_"):
      text = open(os.path.join(repo, "configs", name)).read()
      assert "python -m launch." in text and "smoke" in text, name
