"""report.html (limits/reproduce/html.py): self-contained, every figure report.md links is
embedded as a data URI, and the markdown the report writes becomes the matching HTML."""

import base64
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from limits.reproduce import Report, claims  # noqa: E402
from limits.reproduce import html  # noqa: E402


def _png(path):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  fig, ax = plt.subplots(figsize=(1, 1))
  ax.plot([0, 1], [0, 1])
  fig.savefig(path)
  plt.close(fig)


def _report(tmp_path):
  rep = Report(str(tmp_path), "smoke")
  for name in ("lemma5/sensitivity.png", "cc_parity/xent.png"):
    _png(str(tmp_path / name))
  rep.claim("c", "Hahn 2020, Lemma 5", "m", ("slope -1 [-1.1, -0.9]", claims.SUPPORTS))
  rep.add("## 1. Lemma 5", "", "**Claim.** change `y_n` is _small_.", "", "- one", "- two", "")
  rep.table(["model", "slope"], [["soft", -0.97]])
  rep.figure(str(tmp_path / "lemma5/sensitivity.png"), "Lemma 5")
  rep.figure(str(tmp_path / "cc_parity/xent.png"), "C&C PARITY")
  rep.add("```", "Traceback <x> & y", "```", "")
  return rep.write()


def test_html_is_written_beside_the_markdown_and_embeds_every_figure(tmp_path):
  md = _report(tmp_path)
  page = open(tmp_path / "report.html").read()
  links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", open(md).read())
  assert links == ["lemma5/sensitivity.png", "cc_parity/xent.png"]
  for rel in links:
    data = base64.b64encode(open(tmp_path / rel, "rb").read()).decode()
    assert f'src="data:image/png;base64,{data}"' in page, rel
  for attr in re.findall(r'(?:src|href)="([^"]*)"', page):
    assert attr.startswith("data:"), attr   # nothing points at a local file
  assert page.count("<img") == len(links)


def test_markdown_becomes_html(tmp_path):
  _report(tmp_path)
  page = open(tmp_path / "report.html").read()
  assert "<title>Hahn (2020) reproduced: scale `smoke`</title>" in page
  assert "<h2>Claims</h2>" in page and "<h2>1. Lemma 5</h2>" in page
  assert "<th>number (interval)</th>" in page and "<td>supports</td>" in page
  assert "<td>soft</td><td>-0.97</td>" in page
  assert "<strong>Claim.</strong> change <code>y_n</code> is <em>small</em>." in page
  assert "<ul><li>one</li><li>two</li></ul>" in page
  assert "<pre><code>Traceback &lt;x&gt; &amp; y</code></pre>" in page


def test_a_missing_figure_is_named_not_linked(tmp_path):
  page = html.convert("# t\n\n![gone](nope/missing.png)\n", str(tmp_path))
  assert "missing figure: nope/missing.png" in page and "<img" not in page
