"""What theory predicts for a regular language per model kind (`analyse` -> `Verdict`),
with the exact average sensitivity and each prediction's source."""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from limits.languages.algebra.crasp import c_rasp
from limits.languages.algebra.minimal import DFA, dfa_of, minimize
from limits.languages.algebra.monoid import (MAX_MONOID, counter_witness, cycle,
                                             stable_semigroup, transition_monoid)


def average_sensitivity(dfa: DFA, n: int) -> float:
  """E_x #{i < n : x with x_i replaced by a uniform other symbol has another output},
  x uniform over Sigma^n (binary: the flip; PARITY gives n). Exact, float64."""
  delta, A, S = dfa.delta, len(dfa.alphabet), dfa.states
  if A < 2:
    return 0.0
  out = dfa.output
  diff = (out[:, None] != out[None, :]).astype(np.float64)      # D_0(s, t)
  D = [diff]
  for _ in range(n):
    prev = D[-1]
    D.append(np.mean([prev[np.ix_(delta[:, a], delta[:, a])] for a in range(A)], axis=0))
  F = np.zeros(S)
  F[dfa.start] = 1.0
  total = 0.0
  for i in range(n):
    Dr = D[n - i - 1]
    pair = sum(Dr[delta[:, a], delta[:, b]] for a in range(A) for b in range(A) if a != b)
    total += float(F @ pair) / (A * (A - 1))
    F = np.mean([np.bincount(delta[:, a], weights=F, minlength=S) for a in range(A)], axis=0)
  return total


# The verdict -------------------------------------------------------------------------
SOURCES = {
    "uhat": "UHAT with any positional encoding lies in AC0 (Hao, Angluin & Frank 2022; "
            "Hahn 2020 Thm 1): a language whose syntactic morphism is not quasi-aperiodic "
            "(Barrington et al. 1992) cannot be recognised",
    "uhat_nope": "masked UHAT without positions recognises exactly the star-free "
                 "(aperiodic) languages (Yang, Chiang & Angluin 2024)",
    "soft_growing_n": "soft attention: Lemma 5 / Theorem 6 (Hahn 2020): the output moves "
                      "O(1/n) per symbol, so a language of high average sensitivity "
                      "(Theta(n), Hahn & Rofin 2024) is lost as n grows",
    "soft_length_generalisation": "soft attention length-generalises on exactly the "
                                  "C-RASP languages (Yang, Veseli, ..., Hahn 2026, "
                                  "Thm 11/15; Huang et al. 2025)",
    "lstm": "an LSTM is a finite-state machine in the limit and can represent every "
            "regular language (Hahn 2020 §5; Delétang et al. 2023)",
}
# Average sensitivity per symbol at n = 32 above which a language counts as sensitive
# (PARITY: 1; FIRST: 1/32; sensitive languages keep a constant share of flipping
# positions, Hahn & Rofin 2024).
SENSITIVE = 0.25


@dataclasses.dataclass
class Verdict:
  """Everything `analyse` finds about one language (see the module docstring)."""

  name: str
  dfa: DFA                      # the minimal DFA
  monoid_size: int
  idempotents: int
  subgroups: list[dict]
  aperiodic: bool
  counter: tuple[str, list[int]] | None   # (word, rotated states) when periodic
  quasi_aperiodic: bool
  stability_index: int
  qa_witness: str | None        # a word of length stability_index acting as a counter
  r_trivial: bool
  r_omega: bool
  r_g: bool
  c_rasp: bool
  c_rasp_witness: dict | None
  avg_sensitivity: dict[int, float]

  @property
  def states(self) -> int:
    return self.dfa.states

  @property
  def periodic(self) -> bool:
    return not self.aperiodic

  @property
  def sensitive(self) -> bool:
    return self.avg_sensitivity[32] / 32 > SENSITIVE

  def predictions(self) -> dict[str, tuple[bool, str]]:
    """Per model kind: (predicted to succeed, reason with source)."""
    def why(key, ok, cls):
      return (ok, f"{'in' if ok else 'not in'} {cls}: {SOURCES[key]}")
    return {
        "uhat": why("uhat", self.quasi_aperiodic, "AC0 (quasi-aperiodic)"),
        "uhat_nope": why("uhat_nope", self.aperiodic, "star-free (aperiodic)"),
        "soft_growing_n": (not self.sensitive,
                           f"average sensitivity {self.avg_sensitivity[32]:.2f} at n=32 "
                           f"({'above' if self.sensitive else 'below'} {SENSITIVE} n): "
                           + SOURCES["soft_growing_n"]),
        "soft_length_generalisation": why("soft_length_generalisation", self.c_rasp,
                                          "C-RASP"),
        "lstm": (True, SOURCES["lstm"]),
    }

  def word(self, w: Sequence[int]) -> str:
    return "".join(self.dfa.alphabet[a] for a in w) or "(empty)"

  def summary(self) -> dict[str, Any]:
    """Flat JSON-able fields (booleans as bool)."""
    return {
        "language": self.name, "states": self.states, "monoid_size": self.monoid_size,
        "idempotents": self.idempotents,
        "groups": ";".join(f"{g['order']}{'' if g['solvable'] else '(non-solvable)'}"
                           for g in self.subgroups if g["order"] > 1),
        "aperiodic": self.aperiodic, "quasi_aperiodic": self.quasi_aperiodic,
        "r_trivial": self.r_trivial, "r_omega": self.r_omega, "c_rasp": self.c_rasp,
        **{f"avg_sensitivity_{n}": round(v, 6) for n, v in self.avg_sensitivity.items()},
        "counter_word": self.counter[0] if self.counter else "",
        "counter_cycle": "->".join(map(str, self.counter[1])) if self.counter else "",
        "qa_witness_length": "" if self.quasi_aperiodic else self.stability_index,
        "qa_witness": self.qa_witness or "",
        "c_rasp_witness": ("" if self.c_rasp_witness is None else
                           f"SCC {self.c_rasp_witness['scc']} states "
                           f"{self.c_rasp_witness['states']} not separable"),
    }

  def report(self) -> str:
    """A few lines a person reads: classes, witnesses, predictions."""
    s = self.summary()
    lines = [f"{self.name}: minimal DFA {self.states} states, syntactic monoid "
             f"{self.monoid_size} elements ({self.idempotents} idempotents; nontrivial "
             f"maximal subgroups: {s['groups'] or 'none'})",
             f"  dfa: {self.dfa.describe()}",
             f"  aperiodic (star-free): {s['aperiodic']}" +
             (f"  counter: {s['counter_word']!r} rotates states {s['counter_cycle']}"
              if self.counter else ""),
             f"  quasi-aperiodic (AC0): {s['quasi_aperiodic']}" +
             ("" if self.quasi_aperiodic else
              f"  witness: length {self.stability_index}, word {self.qa_witness!r}"),
             f"  R-trivial: {self.r_trivial}  R^omega: {self.r_omega}  "
             f"C-RASP: {self.c_rasp}" + (f"  ({s['c_rasp_witness']})" if s["c_rasp_witness"]
                                         else ""),
             "  average sensitivity: " + ", ".join(f"n={n}: {v:.3f}" for n, v in
                                                    self.avg_sensitivity.items())]
    for kind, (ok, why) in self.predictions().items():
      lines.append(f"  {kind}: {'can' if ok else 'cannot'} -- {why}")
    return "\n".join(lines)


def analyse(spec_or_dfa: Any, name: str | None = None, max_size: int = MAX_MONOID,
            sensitivity_lengths: tuple[int, ...] = (8, 16, 32)) -> Verdict:
  """The full verdict for a spec, a `Language` or a `DFA`."""
  dfa = spec_or_dfa if isinstance(spec_or_dfa, DFA) else dfa_of(spec_or_dfa)
  if name is None:
    name = spec_or_dfa if isinstance(spec_or_dfa, str) else getattr(spec_or_dfa, "name", "dfa")
  d = minimize(dfa)
  m = transition_monoid(d, max_size)
  cw = counter_witness(m)
  s, layer = stable_semigroup(d, m)
  qa = next(((w, cycle(m.elements[e])) for e, w in sorted(layer.items(), key=lambda x: x[1])
             if cycle(m.elements[e]) is not None), None)
  r = m.r_classes
  idem_per_r = np.bincount(r[m.idempotents], minlength=int(r.max()) + 1)
  r_trivial = len(set(r.tolist())) == m.size
  r_g = bool(idem_per_r.max() <= 1)
  cr, cr_w = c_rasp(d)
  fmt = lambda w: "".join(d.alphabet[a] for a in w)
  return Verdict(
      name=str(name), dfa=d, monoid_size=m.size, idempotents=len(m.idempotents),
      subgroups=m.subgroups, aperiodic=cw is None,
      counter=None if cw is None else (fmt(cw[0]), cw[1]),
      quasi_aperiodic=qa is None, stability_index=s,
      qa_witness=None if qa is None else fmt(qa[0]),
      r_trivial=r_trivial, r_omega=(cw is None) and r_g, r_g=r_g, c_rasp=cr,
      c_rasp_witness=cr_w,
      avg_sensitivity={n: average_sensitivity(d, n) for n in sensitivity_lengths})
