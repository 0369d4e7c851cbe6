"""Frozen, seeded datasets of a language for other tools (`python -m launch.export`).

An export is a directory with a train split and a validation split at the training
lengths and one test split per length bin, every split drawn by the library's own
samplers (recognition: exactly balanced members and non-members of each length;
prediction: generator prefixes), each string annotated with its exact membership and,
where the language has a generator, its exact next-symbol distributions q and their
supports (the allowed next symbols), and a `manifest.json` that makes it checkable:

  format, version     "limits.export", 1
  layout              "native" or "flare"
  library             versions of limits and jax (the samplers are jax programs)
  config              the `ExportConfig` that made it (rerunning it gives the same bytes)
  language, symbols   the spec, its description, and the output classes (alphabet + EOS)
  keys                how each split's PRNG keys derive from the seed
  next                whether records carry next-symbol data, and if not why
  splits              per split: name, lengths, requested and written counts, members,
                      count per length, rows left out (`short`), files (and line ranges)
  files               sha256 and size of every other file

Layouts. `native`: `<split>.jsonl` (the schema of `limits.records`) and `<split>.tsv`
(header first) per split. `flare`: the file layout of FLaRe (Butoi et al. 2025, "Training
Neural Networks as Recognizers of Formal Languages", github.com/rycolab/flare): the
training split as `main.tok` (symbols separated by spaces, one string a line),
`labels.txt` (1 member, 0 not) and `next-symbols.jsonl` (one line per *member*, in order:
per position t = 0..n `{"s": allowed symbols sorted and space-separated, "e": EOS
allowed}`) at the top, the validation split in `datasets/validation-short/` (FLaRe's name
for validation at the training lengths) and every test bin, concatenated in bin order, in
`datasets/test/` (the manifest gives each bin's line range), as their
`prepare_data.py --training-data DIR --more-data validation-short --more-data test` reads.

Splits are disjoint: validation draws no string the train split has, each test bin none
that train, validation or an earlier bin has (a colliding row is redrawn from later
rounds of its own key, same length and class; at short lengths whose strings run out the
row is left out and counted in `short`). Within a split strings are i.i.d. draws, so short
lengths repeat. Rows are spread evenly over a split's lengths (recognition: in
member/non-member pairs); train and validation are shuffled, test bins stay in length
order. The same config gives the same bytes; `write` never replaces an export with other
content unless asked (`overwrite`), and never a directory that is not an export.

Next-symbol data come from the generator (`Language.next_symbol_distribution`): for
prediction they are the task's targets; for recognition they are given for members only
(as FLaRe does) and only when the generator produces every member (q gives each symbol
of each member, and EOS at its end, positive probability); where it does not (e.g.
`parity:odd`, whose generator is the paper's even one) they are left out and `next`
says so. Delétang et al.'s classification tasks have no generator.

  plan     `ExportConfig` (the flags), `check`, the split plan and row lengths
  draw     the seeded, disjoint, annotated draws (`make_splits`, `sample_records`)
  layout   the files of each layout and the manifest (`render`), read back (`load`)
  store    `write`: all or nothing, never over another export unless asked
  verify   `verify`: an export against its manifest and the exact oracles
"""

from limits.export.draw import (CHUNK, KEYS, MAX_ROUNDS, build_records,  # noqa: F401
                                generator_covers, length_bucket, make_splits, sample_records)
from limits.export.layout import FLARE_DIRS, FORMAT, MANIFEST, VERSION, load, render  # noqa: F401
from limits.export.plan import (LAYOUTS, ExportConfig, Split, check, format_lengths,  # noqa: F401
                                has_generator, row_lengths, split_plan)
from limits.export.store import (ExportExists, check_writable, differences,  # noqa: F401
                                 prior_manifest, write)
from limits.export.verify import verify  # noqa: F401
