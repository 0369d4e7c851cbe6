"""Exact constructions: hand-set weights for the same `Transformer` code that is trained.

`CONSTRUCTIONS` maps the names users type to builders returning a `Construction`: the
`ModelConfig`, the language spec it recognises (in the library's default convention) and
the parameters. `experiment(c)` wraps it in a validated `Experiment` (train.steps = 0), so
`launch.construct` writes a workdir every other entry point reads like a trained one.

Token layout (limits/languages/tokens.py): symbols 0..N-1, EOS = N, BOS = N+1, PAD = N+2;
recognition reads y_n^(L) at the EOS position n. With `positional=cc`, dims 0 and 1 of
y^(0) hold [i/N, (-1)^i] where N = n + 1 tokens (symbols and EOS), positions from 0.

  cc_parity     Chiang & Cholak (2022) PARITY, 2 soft layers, no layer norm. Layer 1
                averages: k/N (k = number of 1s) and 1/N. Its FFN builds the hat
                (-1)^i [i = k] / N from ReLUs. Layer 2 averages that: y_n = (-1)^k / N^2,
                so the logit is +-1/N^2, shrinking with n.
  cc_parity_ln  the same, then layer 2's FFN cancels every other feature so y_n^(L) is
                [v, -v, 0...], and a final layer norm (eps = `eps`, default 0) maps it to
                +-sqrt(D/2): the confidence no longer falls with n (C&C's escape).
  cc_first      FIRST (first symbol is 1) the same way: layer 1's FFN keeps
                +-[i = 0]/N, layer 2 averages it: logit +-1/N^2.
  hard_one      1* (Hahn 2020 §5): one UHAT layer; EOS attends to a symbol other than 1
                if there is one (ties to the leftmost), and reads whether it found one.
  hard_anbn     a^n b^n (Hahn 2020 §5, with i/N positions): layer 1 (UHAT) copies the
                EOS position m/N to every position; its FFN flags a at 2i >= m and b at
                2i < m; layer 2 (UHAT) finds a flag; the readout also needs m even.
  yao_dyck      Yao et al. (2021) Dyck-(k, D): D+1 UHAT layers with past/future head
                masks. In each of the first D layers every unmatched closer attends to the
                nearest unmatched bracket on its left, every unmatched opener to the
                nearest on its right; a same-type opener/closer pair that sees each other
                is matched (innermost pairs cancel). Layer D+1: EOS looks for any
                unmatched bracket.

Letters: V vocabulary, D width, H heads, K head width, F FFN width.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from limits.languages import tokens as tokens_lib
from limits.models.transformer import ModelConfig, Transformer

BRACKETS = {"(": ")", "[": "]", "{": "}", "<": ">"}


@dataclasses.dataclass(frozen=True)
class Construction:
  """A (ModelConfig, params) pair and the language (spec and alphabet) it recognises."""

  name: str
  language: str
  alphabet: tuple[str, ...]
  model: ModelConfig
  params: Any
  notes: str = ""

  def module(self) -> Transformer:
    n = len(self.alphabet)
    return Transformer(cfg=self.model, vocab_size=n + 3, num_classes=2, pad_id=n + 2,
                       task="recognition")


class _Params:
  """Zero parameters with the model's exact tree, filled in by name (numpy, float32)."""

  def __init__(self, cfg: ModelConfig, alphabet: tuple[str, ...]):
    n = len(alphabet)
    model = Transformer(cfg=cfg, vocab_size=n + 3, num_classes=2, pad_id=n + 2)
    tokens = jnp.asarray([[0, n]], jnp.int32)
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), tokens, jnp.asarray([1])))
    self.tree = jax.tree.map(lambda s: np.zeros(s.shape, np.float32), shapes)
    p = self.tree["params"]
    if "final_ln" in p:
      p["final_ln"]["scale"][:] = 1.0
    for name, sub in p.items():
      for ln in ("ln_att", "ln_ffn"):
        if name.startswith("layer_") and ln in sub:
          sub[ln]["scale"][:] = 1.0
    self.p = p
    self.n = n

  def embed(self, token: int, dim: int, value: float = 1.0) -> None:
    self.p["embed"]["embedding"][token, dim] = value

  def att(self, layer: int, part: str) -> dict[str, np.ndarray]:
    return self.p[f"layer_{layer}"]["attention"][part]

  def ffn(self, layer: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    blk = self.p[f"layer_{layer}"]
    return blk["ffn_in"], blk["ffn_out"]

  def passthrough_cancel(self, layer: int, dims: list[int], first_unit: int) -> int:
    """FFN units computing -y_d exactly (relu(y) - relu(-y) = y): cancels dims."""
    fin, fout = self.ffn(layer)
    u = first_unit
    for d in dims:
      fin["kernel"][d, u] = 1.0
      fout["kernel"][u, d] = -1.0
      fin["kernel"][d, u + 1] = -1.0
      fout["kernel"][u + 1, d] = 1.0
      u += 2
    return u


# Chiang & Cholak (2022) ---------------------------------------------------------------
_P, _S = 0, 1  # cc positional dims: i/N and (-1)^i


def _cc_parity(layer_norm: bool, eps: float) -> Construction:
  alphabet = ("0", "1")
  one, eos = 1, 2
  I1, IEOS, A, E, Z, V, VNEG = 2, 3, 4, 5, 6, 7, 8
  cfg = ModelConfig(depth=2, heads=1, width=16, mlp_width=16, attention="soft",
                    positional="cc", layer_norm="final" if layer_norm else "none",
                    ln_eps=float(eps), causal=False)
  w = _Params(cfg, alphabet)
  w.embed(one, I1)
  w.embed(eos, IEOS)
  # Layer 1: q = k = 0, so attention is uniform over the N tokens: k/N and 1/N.
  w.att(0, "value")["kernel"][I1, 0, 0] = 1.0
  w.att(0, "value")["kernel"][IEOS, 0, 1] = 1.0
  w.att(0, "out")["kernel"][0, 0, A] = 1.0
  w.att(0, "out")["kernel"][0, 1, E] = 1.0
  # FFN 1: d = i/N - k/N, e = 1/N, s = (-1)^i. hat(d) = relu(d+e) - 2 relu(d) + relu(d-e)
  # is e at d = 0 and 0 at |d| >= e; offsets 1 -+ s switch the copy for s = +1 / -1 off.
  fin, fout = w.ffn(0)
  for unit, (de, sign, out) in enumerate([(1, 1, 1), (0, 1, -2), (-1, 1, 1),
                                          (1, -1, -1), (0, -1, 2), (-1, -1, -1)]):
    fin["kernel"][_P, unit] = 1.0
    fin["kernel"][A, unit] = -1.0
    fin["kernel"][E, unit] = float(de)
    fin["kernel"][_S, unit] = float(sign)
    fin["bias"][unit] = -1.0
    fout["kernel"][unit, Z] = float(out)
  # Layer 2: uniform again; y_n gets mean_i z_i = (-1)^k / N^2.
  w.att(1, "value")["kernel"][Z, 0, 0] = 1.0
  w.att(1, "out")["kernel"][0, 0, V] = 1.0
  readout = w.p["readout"]["kernel"]
  if layer_norm:
    w.att(1, "out")["kernel"][0, 0, VNEG] = -1.0
    # FFN 2 leaves exactly [v, -v] (zero mean) for the final layer norm to rescale.
    w.passthrough_cancel(1, [_P, _S, I1, IEOS, A, E, Z], 0)
  # PARITY's default convention: member (class 1) iff k is even, i.e. (-1)^k = +1.
  readout[V, 1], readout[V, 0] = 1.0, -1.0
  return Construction("cc_parity_ln" if layer_norm else "cc_parity", "parity", alphabet, cfg,
                      w.tree)


def cc_parity() -> Construction:
  return _cc_parity(False, 0.0)


def cc_parity_ln(eps: float = 0.0) -> Construction:
  return _cc_parity(True, eps)


def cc_first() -> Construction:
  alphabet = ("0", "1")
  zero, one, eos = 0, 1, 2
  I0, I1, IEOS, E, Z, V = 2, 3, 4, 5, 6, 7
  cfg = ModelConfig(depth=2, heads=1, width=16, mlp_width=16, attention="soft",
                    positional="cc", layer_norm="none", causal=False)
  w = _Params(cfg, alphabet)
  w.embed(zero, I0)
  w.embed(one, I1)
  w.embed(eos, IEOS)
  w.att(0, "value")["kernel"][IEOS, 0, 0] = 1.0  # uniform: e = 1/N
  w.att(0, "out")["kernel"][0, 0, E] = 1.0
  # relu(e - i/N - [x_i != 1]) is e at i = 0 holding a 1 and 0 everywhere else
  # (i >= 1 gives i/N >= e exactly); the mirror unit flags a 0 at i = 0.
  fin, fout = w.ffn(0)
  for unit, (other, out) in enumerate([(I0, 1.0), (I1, -1.0)]):
    fin["kernel"][E, unit] = 1.0
    fin["kernel"][_P, unit] = -1.0
    fin["kernel"][other, unit] = -1.0
    fout["kernel"][unit, Z] = out
  w.att(1, "value")["kernel"][Z, 0, 0] = 1.0  # uniform: +-1/N^2
  w.att(1, "out")["kernel"][0, 0, V] = 1.0
  w.p["readout"]["kernel"][V, 1], w.p["readout"]["kernel"][V, 0] = 1.0, -1.0
  return Construction("cc_first", "first", alphabet, cfg, w.tree)


# Hahn (2020) §5 -----------------------------------------------------------------------
def hard_one() -> Construction:
  alphabet = ("0", "1")
  BAD, FOUND = 0, 1
  cfg = ModelConfig(depth=1, heads=1, width=4, mlp_width=4, attention="hard_unique",
                    positional="none", layer_norm="none", causal=False)
  w = _Params(cfg, alphabet)
  for tok, sym in enumerate(alphabet):
    if sym != "1":
      w.embed(tok, BAD)
  w.att(0, "query")["bias"][0, 0] = 1.0
  w.att(0, "key")["kernel"][BAD, 0, 0] = 1.0  # score = [x_j != 1] / 2
  w.att(0, "value")["kernel"][BAD, 0, 0] = 1.0
  w.att(0, "out")["kernel"][0, 0, FOUND] = 1.0
  w.p["readout"]["kernel"][FOUND, 1] = -1.0
  w.p["readout"]["bias"][1] = 0.5  # member iff no symbol other than 1 was found
  return Construction("hard_one", "one", alphabet, cfg, w.tree)


def hard_anbn() -> Construction:
  alphabet = ("a", "b")
  a, b, eos = 0, 1, 2
  IA, IB, IEOS, PM, VIOL, VSTAR, ES = 2, 3, 4, 5, 6, 7, 8
  m_off = 4.0  # > max |2 i/N - m/N| + 1: switches a unit off when its symbol is absent
  cfg = ModelConfig(depth=2, heads=1, width=16, mlp_width=8, attention="hard_unique",
                    positional="cc", layer_norm="none", causal=False)
  w = _Params(cfg, alphabet)
  w.embed(a, IA)
  w.embed(b, IB)
  w.embed(eos, IEOS)
  # Layer 1: every position attends to EOS (the unique key with [x = EOS] = 1), reads m/N.
  w.att(0, "query")["bias"][0, 0] = 1.0
  w.att(0, "key")["kernel"][IEOS, 0, 0] = 1.0
  w.att(0, "value")["kernel"][_P, 0, 0] = 1.0
  w.att(0, "out")["kernel"][0, 0, PM] = 1.0
  # FFN 1 with q = (2i - m)/N and e = 1/N = 1 - m/N (N = m + 1):
  #   a at 2i >= m: relu(q + e) - relu(q) = e;  b at 2i < m: relu(-q) - relu(-q - e) = e;
  #   e * (-1)^m = relu(s - m/N) - relu(-s - m/N), read at EOS.
  fin, fout = w.ffn(0)
  units = [  # (coef p, coef pm, coef s, symbol dim, bias, out dim, out coef)
      (2, -2, 0, IA, 1 - m_off, VIOL, 1), (2, -1, 0, IA, -m_off, VIOL, -1),
      (-2, 1, 0, IB, -m_off, VIOL, 1), (-2, 2, 0, IB, -1 - m_off, VIOL, -1),
      (0, -1, 1, None, 0, ES, 1), (0, -1, -1, None, 0, ES, -1)]
  for u, (cp, cpm, cs, sym, bias, out, oc) in enumerate(units):
    fin["kernel"][_P, u], fin["kernel"][PM, u], fin["kernel"][_S, u] = cp, cpm, cs
    if sym is not None:
      fin["kernel"][sym, u] = m_off
    fin["bias"][u] = bias
    fout["kernel"][u, out] = oc
  # Layer 2: attend to a flagged position if any (else ties go to position 0: flag 0).
  w.att(1, "query")["bias"][0, 0] = 1.0
  w.att(1, "key")["kernel"][VIOL, 0, 0] = 1.0
  w.att(1, "value")["kernel"][VIOL, 0, 0] = 1.0
  w.att(1, "out")["kernel"][0, 0, VSTAR] = 1.0
  # Member iff m even and no flag: e (-1)^m - 2 v* > 0.
  w.p["readout"]["kernel"][ES, 1] = 1.0
  w.p["readout"]["kernel"][VSTAR, 1] = -2.0
  return Construction("hard_anbn", "anbn", alphabet, cfg, w.tree)


# Yao et al. (2021) ---------------------------------------------------------------------
def dyck_alphabet(k: int) -> tuple[str, ...]:
  """The first k bracket pairs, each opener followed by its closer: ( ) [ ] ..."""
  if not 1 <= k <= len(BRACKETS):
    raise ValueError(f"--k: must be in 1..{len(BRACKETS)}, got {k}")
  return tuple(c for o in list(BRACKETS)[:k] for c in (o, BRACKETS[o]))


def yao_dyck(k: int = 2, depth: int = 3, alphabet: tuple[str, ...] | None = None) -> Construction:
  if depth < 1:
    raise ValueError(f"--depth: must be >= 1, got {depth}")
  alphabet = tuple(alphabet) if alphabet is not None else dyck_alphabet(k)
  opens = [alphabet.index(o) for o in list(BRACKETS) if o in alphabet]
  closes = [alphabet.index(BRACKETS[alphabet[o]]) for o in opens]
  if len(opens) != k or len(alphabet) != 2 * k:
    raise ValueError(f"yao_dyck: alphabet {alphabet} is not {k} bracket pairs")
  eos = len(alphabet)
  OPEN = [2 + t for t in range(k)]
  CLOSE = [2 + k + t for t in range(k)]
  U = 2 + 2 * k                                   # matched flag (EOS starts matched)
  SP = [U + 1 + t for t in range(k + 1)]          # past head read-out: open_t, u
  SF = [U + 2 + k + t for t in range(k + 1)]      # future head read-out: close_t, u
  W = U + 3 + 2 * k                               # final: some bracket is unmatched
  width = 2 * (-(-(W + 1) // 2))
  cfg = ModelConfig(depth=depth + 1, heads=2, width=width, mlp_width=4 * k + 2,
                    attention="hard_unique", positional="cc", layer_norm="none",
                    causal=False, head_masks=("past", "future"))
  w = _Params(cfg, alphabet)
  for t in range(k):
    w.embed(opens[t], OPEN[t])
    w.embed(closes[t], CLOSE[t])
  w.embed(eos, U)
  for l in range(depth):
    q, key, val, out = (w.att(l, x) for x in ("query", "key", "value", "out"))
    key["kernel"][_P, :, 0] = 1.0
    key["kernel"][U, :, 1] = 1.0
    # head 0 (keys j < i): max of p_j - 2 u_j = nearest unmatched on the left;
    # head 1 (keys j > i): max of -p_j - 2 u_j = nearest unmatched on the right.
    q["bias"][0, 0], q["bias"][0, 1] = 1.0, -2.0
    q["bias"][1, 0], q["bias"][1, 1] = -1.0, -2.0
    for t in range(k):
      val["kernel"][OPEN[t], 0, t] = 1.0
      val["kernel"][CLOSE[t], 1, t] = 1.0
      out["kernel"][0, t, SP[t]] = 1.0
      out["kernel"][1, t, SF[t]] = 1.0
    val["kernel"][U, 0, k] = val["kernel"][U, 1, k] = 1.0
    out["kernel"][0, k, SP[k]] = out["kernel"][1, k, SF[k]] = 1.0
    fin, fout = w.ffn(l)
    # AND(closer of type t, unmatched, left neighbour an unmatched opener of type t), and
    # the mirror for openers: relu(a + b - c - d - 1) on 0/1 inputs.
    for t in range(k):
      for u, (mine, seen, seen_u) in ((t, (CLOSE[t], SP[t], SP[k])),
                                      (k + t, (OPEN[t], SF[t], SF[k]))):
        fin["kernel"][mine, u] = fin["kernel"][seen, u] = 1.0
        fin["kernel"][seen_u, u] = fin["kernel"][U, u] = -1.0
        fin["bias"][u] = -1.0
        fout["kernel"][u, U] = 1.0
    for j, d in enumerate(SP + SF):  # clear the scratch dims (values are 0/1) for the next layer
      fin["kernel"][d, 2 * k + j] = 1.0
      fout["kernel"][2 * k + j, d] = -1.0
  # Layer D+1, head 0 from EOS (keys = all symbols): any u_j = 0 wins; read 1 - u_j.
  q, key, val, out = (w.att(depth, x) for x in ("query", "key", "value", "out"))
  q["bias"][0, 0] = -1.0
  key["kernel"][U, 0, 0] = 1.0
  val["kernel"][U, 0, 0] = -1.0
  val["bias"][0, 0] = 1.0
  out["kernel"][0, 0, W] = 1.0
  w.p["readout"]["kernel"][W, 1] = -1.0
  w.p["readout"]["bias"][1] = 0.5
  return Construction("yao_dyck", f"dyck_bounded:k={k},depth={depth}", alphabet, cfg, w.tree)


CONSTRUCTIONS: dict[str, Callable[..., Construction]] = {
    "cc_parity": cc_parity,
    "cc_parity_ln": cc_parity_ln,
    "cc_first": cc_first,
    "hard_one": hard_one,
    "hard_anbn": hard_anbn,
    "yao_dyck": yao_dyck,
}


def build(name: str, **options: Any) -> Construction:
  """The construction `name`; ValueError names an unknown one or a bad option."""
  if name not in CONSTRUCTIONS:
    raise ValueError(f"--name: unknown construction {name!r}; allowed: "
                     f"{', '.join(CONSTRUCTIONS)}")
  return CONSTRUCTIONS[name](**options)


def tokens(c: Construction, strings: list[str], pad_to: int | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Recognition tokens int32[B, T] (x_1..x_n EOS PAD...) and readout positions int32[B]."""
  n_sym = len(c.alphabet)
  index = {s: i for i, s in enumerate(c.alphabet)}
  sym = np.zeros((len(strings), pad_to if pad_to is not None else max(len(s) for s in strings)),
                 np.int32)
  for b, s in enumerate(strings):
    sym[b, :len(s)] = [index[ch] for ch in s]
  lengths = np.asarray([len(s) for s in strings], np.int32)
  return np.asarray(tokens_lib.recognition_tokens(sym, lengths, n_sym)), lengths
