"""Attention maps of chosen strings, and attention entropy against n.

- maps: for each string (`strings`, comma-separated, written in the alphabet; default
  `count` random strings of length `length`), every layer's and head's attention
  weights att_HxTxT (query x key, the recognition or prediction input the model reads),
  as the Flax module computes them (its sown `intermediates`).
- entropy: over a log-spaced grid of n, the mean entropy (nats) of the attention rows of
  random strings, per layer and head, computed by the model in query chunks (memory linear
  in n). Layers below L average over every query; the last layer has only the readout
  query (all y_n^(L) needs). `normalized_entropy` divides by log(n + 1), the entropy of
  uniform attention over every position: soft attention near 1 spreads (Lemma 5's
  regime); hard attention is 0.

Letters: H heads, T positions, L layers.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from limits import setup as setup_lib
from limits.probes import common
from limits.probes import members as members_lib


@dataclasses.dataclass(frozen=True)
class Config:
  strings: str = ""          # e.g. '0110,1111'; '' = `count` random strings
  count: int = 2
  length: int = 16
  min_length: int = 8
  max_length: int = 1024
  points: int = 8
  entropy_strings: int = 4
  chunk: int = 128
  seed: int = 0
  members: str = ""

  def validate(self) -> "Config":
    common.check_fields(self, "attention")
    common.log_grid(self.min_length, self.max_length, self.points)
    common.parse_members(self.members)
    return self


def chosen_strings(lang, cfg: Config) -> list[str]:
  """The strings to map: the user's (checked against the alphabet) or random ones."""
  if cfg.strings:
    out = [s.strip() for s in cfg.strings.split(",") if s.strip()]
    for s in out:
      try:
        lang.encode(s)
      except ValueError as e:
        raise ValueError(f"probe.strings: {e}") from None
    return out
  sym = np.asarray(jax.random.randint(jax.random.key(cfg.seed), (cfg.count, cfg.length), 0,
                                      lang.n_symbols))
  return [lang.decode(row) for row in sym]


def maps(mem: members_lib.Member, lang, task: str, strings: list[str]) -> list[dict[str, Any]]:
  """Per string: its tokens and att[layer][head][query][key] (lists)."""
  out = []
  for s in strings:
    sym = jnp.asarray([lang.encode(s)], jnp.int32)
    tokens, readout, _ = members_lib.task_tokens(lang, task, sym)
    _, inter = mem.module.apply(mem.params, tokens, readout, mutable=["intermediates"])
    layers = [np.asarray(inter["intermediates"][f"layer_{l}"]["attention"]["attention"][0][0])
              for l in range(mem.cfg.depth)]
    names = {lang.eos: "EOS", lang.bos: "BOS"}
    out.append({"string": s, "tokens": [names.get(int(t), lang.alphabet[int(t)] if int(t) < lang.n_symbols
                                                   else "?") for t in np.asarray(tokens[0])],
                "attention": [a.tolist() for a in layers]})
  return out


def entropy(mem: members_lib.Member, lang, task: str, n: int, cfg: Config) -> dict[str, Any]:
  """Mean attention-row entropy (nats) per layer and head at length n."""
  key = jax.random.fold_in(jax.random.key(cfg.seed + 11), n)

  @jax.jit
  def run(params):
    sym = jax.random.randint(key, (cfg.entropy_strings, n), 0, lang.n_symbols, jnp.int32)
    tokens, _, _ = members_lib.task_tokens(lang, task, sym)
    _, st = members_lib.readout_features(mem, params, tokens, cfg.chunk, 4)
    return jnp.sum(st["entropy_sum"], 0) / jnp.sum(st["rows"], 0), jnp.max(st["max_weight"], 0)

  ent, wmax = (np.asarray(x) for x in jax.device_get(run(mem.params)))
  uniform = math.log(n + 1)
  return {"n": n, "entropy": ent.tolist(), "normalized_entropy": (ent / uniform).tolist(),
          "mean_normalized_entropy": float(np.mean(ent) / uniform), "max_weight": wmax.tolist()}


def run(setup: setup_lib.Setup, params_M: Any, cfg: Config) -> dict[str, Any]:
  """Attention maps of the chosen strings and entropy against n, per member."""
  cfg = cfg.validate()
  lang, task = setup.language, setup.task
  strings = chosen_strings(lang, cfg)
  grid = common.log_grid(cfg.min_length, cfg.max_length, cfg.points)
  out = []
  for mem in members_lib.members(setup, params_M, common.parse_members(cfg.members)):
    if not mem.is_transformer:
      out.append({**mem.describe(), "note": "no attention (LSTM)", "maps": [], "per_n": []})
      continue
    out.append({**mem.describe(), "maps": maps(mem, lang, task, strings),
                "per_n": [entropy(mem, lang, task, n, cfg) for n in grid]})
  return {"probe": "attention", "config": dataclasses.asdict(cfg), "lengths": list(grid),
          "strings": strings, "members": out}
