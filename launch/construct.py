r"""Write an exact construction as a workdir every other entry point reads like a trained one.

  python -m launch.construct --name=cc_parity --workdir=workdir/cc_parity
  python -m launch.construct --name=cc_parity_ln --eps=0 --workdir=workdir/cc_parity_ln
  python -m launch.construct --name=yao_dyck --k=2 --depth=3 --workdir=workdir/yao_dyck
  python -m launch.evaluate --workdir=workdir/cc_parity --lengths=1-1000

Names: cc_parity, cc_parity_ln, cc_first, hard_one, hard_anbn, yao_dyck (see
limits/models/constructions.py). The workdir gets config.json (the language it
recognises is recorded there) and an orbax checkpoint at step 0 (train.steps = 0).
"""

from __future__ import annotations

from launch import startup

if __name__ == "__main__":   # before any import that may bring in JAX (launch/startup.py)
  startup.ensure()

from absl import app, flags

from launch import common

_NAME = flags.DEFINE_string("name", None, "Construction name, e.g. cc_parity.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory (required).")
_EPS = flags.DEFINE_float("eps", 0.0, "cc_parity_ln: layer norm eps (>= 0).")
_K = flags.DEFINE_integer("k", 2, "yao_dyck: bracket types.")
_DEPTH = flags.DEFINE_integer("depth", 3, "yao_dyck: maximum depth D (D+1 layers).")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    common.fail(f"unexpected arguments {argv[1:]}; use --flag=value")
  if not _NAME.value or not _WORKDIR.value:
    common.fail("--name and --workdir are required")
  from limits.models import constructions
  from limits import construct

  options = {"cc_parity_ln": {"eps": _EPS.value},
             "yao_dyck": {"k": _K.value, "depth": _DEPTH.value}}.get(_NAME.value, {})
  if _EPS.value < 0:
    common.fail(f"--eps: must be >= 0, got {_EPS.value}")
  takes = {"cc_parity_ln": ("eps",), "yao_dyck": ("k", "depth")}
  for name in ("eps", "k", "depth"):
    if flags.FLAGS[name].present and name not in takes.get(_NAME.value, ()):
      owner = " and ".join(n for n, fs in takes.items() if name in fs)
      common.fail(f"--{name}: {_NAME.value} takes no --{name} (only {owner} does)")
  c = common.user_errors(lambda: constructions.build(_NAME.value, **options))
  common.writable_dir(_WORKDIR.value, "--workdir")
  try:
    exp = common.user_errors(lambda: construct.write(c, _WORKDIR.value))
  except OSError as e:
    common.fail(common.os_error_line(e), status=common.WRITE_FAILED)
  print(f"{c.name}: {exp.data.language} recogniser, depth {exp.model.depth}, heads "
        f"{exp.model.heads}, width {exp.model.width}, {exp.model.attention} attention, "
        f"{exp.model.positional} positions, layer norm {exp.model.layer_norm}")
  print(f"workdir: {_WORKDIR.value}")


if __name__ == "__main__":
  app.run(main, flags_parser=common.parse_flags)
