"""The report being written: `Report` holds report.md's sections and the claims table,
and writes report.md with the self-contained report.html beside it."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from limits import atomic
from limits.reproduce import claims as claims_lib
from limits.reproduce import html as html_lib


class Report:
  """Markdown sections; figures linked relative to the report; the claims table (one
  `claims.Claim` per claim a section tests) goes after the title line."""

  def __init__(self, workdir: str, scale: str):
    self.workdir, self.lines = workdir, [f"# Hahn (2020) reproduced: scale `{scale}`", ""]
    self.claims: list[claims_lib.Claim] = []

  def add(self, *lines: str) -> None:
    self.lines.extend(lines)

  def claim(self, claim: str, source: str, measured: str, number: tuple[str, str]) -> None:
    """One row of the claims table; `number` = (number with interval, verdict)."""
    self.claims.append(claims_lib.Claim(claim, source, measured, *number))

  def figure(self, path: str, caption: str) -> None:
    self.lines.append(f"![{caption}]({os.path.relpath(path, self.workdir)})")
    self.lines.append("")

  def table(self, header: list[str], rows: list[list[Any]]) -> None:
    fmt = lambda v: ("-" if v is None else f"{float(v):.4g}" if isinstance(v, (float, np.floating))
                     else str(v))
    self.lines.append("| " + " | ".join(header) + " |")
    self.lines.append("|" + "---|" * len(header))
    for r in rows:
      self.lines.append("| " + " | ".join(fmt(v) for v in r) + " |")
    self.lines.append("")

  def text(self) -> str:
    head = ["## Claims", "", *claims_lib.table(self.claims), "", claims_lib.RULES, ""]
    if not self.claims:
      head[2:2 + 2] = ["No claim was tested (no experiment ran to its end).", ""]
    return "\n".join(self.lines[:2] + head + self.lines[2:]) + "\n"

  def write(self) -> str:
    """Writes report.md and the self-contained report.html beside it."""
    path = os.path.join(self.workdir, "report.md")
    atomic.write_text(path, self.text())
    html_lib.write(path)
    return path
