r"""Write frozen, seeded train / validation / test splits of a language for other tools.

  python -m launch.export --language=parity --task=recognition --lengths=1-40 --out=data/parity
  python -m launch.export --language=dyck:k=2 --lengths=2-40:2 --test_lengths='2-40:2;42-80:2;82-160:2' --format=flare --out=data/dyck2
  python -m launch.export --verify=data/parity

Train and validation are drawn at --lengths, one test split per bin of --test_lengths
(bins separated by `;`; default: --lengths and --lengths shifted by their maximum);
--test_count is per bin. Splits are disjoint. `--format=native` writes `<split>.jsonl`
and `<split>.tsv` per split, `--format=flare` FLaRe's layout (main.tok, labels.txt,
next-symbols.jsonl; datasets/validation-short, datasets/test); both write manifest.json
(config, seeds, counts, library versions, sha256 of every file). Layout, keys and
annotations: `limits/export/`; the JSONL schema: `limits/records.py`.

An --out that already holds this very export is left as it is ("unchanged"); one holding
another export is refused unless --overwrite; a directory that is not an export is never
replaced. Bad input: one line, exit 2; a failed write: one line, exit 74, nothing partial
left. --verify=DIR checks an export against its manifest and the language's exact
oracles: exit 0, or one line per problem and exit 1.
"""

from __future__ import annotations

from launch import startup

if __name__ == "__main__":   # before any import that may bring in JAX (launch/startup.py)
  startup.ensure()

import sys

from absl import app, flags

from launch import common

_LANGUAGE = flags.DEFINE_string("language", "parity", "Language spec, e.g. parity or dyck:k=2.")
_TASK = flags.DEFINE_string("task", "recognition", "recognition or prediction.")
_LENGTHS = flags.DEFINE_string("lengths", "1-40", "Train and validation lengths, e.g. 1-40.")
_TEST_LENGTHS = flags.DEFINE_string("test_lengths", "",
                                    "Test bins separated by ';', e.g. '1-40;41-80;81-160' "
                                    "(default: --lengths and --lengths + their maximum).")
_TRAIN_COUNT = flags.DEFINE_integer("train_count", 1000, "Strings in the train split.")
_VALIDATION_COUNT = flags.DEFINE_integer("validation_count", 100,
                                         "Strings in the validation split.")
_TEST_COUNT = flags.DEFINE_integer("test_count", 100, "Strings per test bin.")
_SEED = flags.DEFINE_integer("seed", 0, "PRNG seed (every split's keys derive from it).")
_P = flags.DEFINE_float("p", 0.5, "The generator's stop probability p.")
_FORMAT = flags.DEFINE_string("format", "native", "native (JSONL + TSV) or flare.")
_OUT = flags.DEFINE_string("out", None, "Directory to write the export to.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace another export at --out.")
_VERIFY = flags.DEFINE_string("verify", None, "Check the export at this directory and exit.")


def _bins(text: str):
  from limits import config as config_lib
  if not text.strip():
    return ()
  return tuple(config_lib.parse_lengths(b, "--test_lengths") for b in text.split(";") if b.strip())


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    common.fail(f"unexpected arguments {argv[1:]}; use --flag=value")
  from limits import export

  if _VERIFY.value is not None:
    problems = export.verify(_VERIFY.value)
    for p in problems:
      print(f"error: {p}", file=sys.stderr)
    if problems:
      sys.exit(1)
    print(f"ok: {_VERIFY.value} matches its manifest and the language's oracles")
    return
  if not _OUT.value:
    common.fail("--out is required (a directory for the export)")
  from limits import config as config_lib
  cfg = export.ExportConfig(
      language=_LANGUAGE.value, task=_TASK.value,
      lengths=common.user_errors(lambda: config_lib.parse_lengths(_LENGTHS.value, "--lengths")),
      test_lengths=common.user_errors(lambda: _bins(_TEST_LENGTHS.value)),
      train_count=_TRAIN_COUNT.value, validation_count=_VALIDATION_COUNT.value,
      test_count=_TEST_COUNT.value, seed=_SEED.value, p=_P.value, layout=_FORMAT.value)
  cfg, lang = common.user_errors(lambda: export.check(cfg))
  out = _OUT.value
  prior = common.user_errors(lambda: export.prior_manifest(out))
  if prior is not None and not _OVERWRITE.value:
    diff = export.differences(prior.get("config", {}), cfg.to_dict())
    if diff:
      common.fail(f"--out: {out} holds a different export (differs in {', '.join(diff)}); "
                  f"pass --overwrite to replace it, or choose another --out")
  try:
    export.check_writable(out)
  except OSError as e:
    common.fail(f"--out: cannot write to {out} ({e.strerror or common.os_error_line(e)})",
                status=common.WRITE_FAILED)
  splits, why = export.make_splits(cfg, lang, log=print)
  files = export.render(cfg, lang, splits, why)
  try:
    status = common.user_errors(lambda: export.write(out, files, overwrite=_OVERWRITE.value))
  except OSError as e:
    common.fail(f"--out: cannot write to {out} ({e.strerror or common.os_error_line(e)})",
                status=common.WRITE_FAILED)
  if why:
    print(f"note: no next-symbol data: {why}")
  print(f"{status} {out} ({len(files)} files, {cfg.layout} layout; manifest.json lists "
        f"their sha256)")


if __name__ == "__main__":
  app.run(main, flags_parser=common.parse_flags)
