"""report.html: report.md as one self-contained page (every figure a base64 data URI).

The markdown the report writes is a small subset (headings, paragraphs, `- ` lists,
pipe tables, fenced code blocks, `![caption](relative.png)` images, `code`, **bold**,
_italic_), so a small converter does; no dependency. A figure that is missing on disk is
named in the page, never linked.
"""

from __future__ import annotations

import base64
import html
import os
import re

from limits import atomic

_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)]+)\)$")
_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}
_STYLE = ("body{font-family:sans-serif;max-width:70em;margin:2em auto;line-height:1.4}"
          "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
          "td,th{border:1px solid #bbb;padding:2px 6px;text-align:left;vertical-align:top}"
          "pre{background:#f4f4f4;padding:.5em;overflow-x:auto}img{max-width:100%}"
          "figure{margin:1em 0}figcaption{font-size:90%;color:#444}")


def inline(text: str) -> str:
  """Escapes `text` and renders `code`, **bold** and _italic_."""
  parts = re.split(r"(`[^`]*`)", text)
  out = []
  for p in parts:
    if len(p) >= 2 and p.startswith("`") and p.endswith("`"):
      out.append(f"<code>{html.escape(p[1:-1])}</code>")
      continue
    p = html.escape(p, quote=False)
    p = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", p)
    p = re.sub(r"(?<![\w])_(\S(?:.*?\S)?)_(?![\w])", r"<em>\1</em>", p)
    out.append(p)
  return "".join(out)


def data_uri(path: str) -> str | None:
  """The file as a data URI, or None when it does not exist."""
  if not os.path.exists(path):
    return None
  mime = _MIME.get(os.path.splitext(path)[1].lower(), "application/octet-stream")
  with open(path, "rb") as f:
    return f"data:{mime};base64," + base64.b64encode(f.read()).decode("ascii")


def _cells(line: str) -> list[str]:
  s = line.strip()
  s = s[1:] if s.startswith("|") else s
  s = s[:-1] if s.endswith("|") and not s.endswith("\\|") else s
  return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", s)]


def convert(markdown: str, root: str, title: str = "report") -> str:
  """The HTML page of `markdown`; image paths are relative to `root`."""
  lines, body, i = markdown.splitlines(), [], 0
  while i < len(lines):
    line = lines[i]
    if not line.strip():
      i += 1
    elif line.startswith("```"):
      j = i + 1
      while j < len(lines) and not lines[j].startswith("```"):
        j += 1
      body.append("<pre><code>" + html.escape("\n".join(lines[i + 1:j])) + "</code></pre>")
      i = j + 1
    elif m := re.match(r"^(#{1,6}) (.*)$", line):
      k = len(m.group(1))
      body.append(f"<h{k}>{inline(m.group(2))}</h{k}>")
      i += 1
    elif m := _IMAGE.match(line.strip()):
      caption, rel = m.group(1), m.group(2)
      uri = data_uri(os.path.join(root, rel))
      body.append(f'<figure><img alt="{html.escape(caption)}" src="{uri}">'
                  f"<figcaption>{inline(caption)}</figcaption></figure>" if uri else
                  f"<p><em>missing figure: {html.escape(rel)}</em></p>")
      i += 1
    elif line.startswith("|"):
      rows = []
      while i < len(lines) and lines[i].startswith("|"):
        rows.append(lines[i])
        i += 1
      head, rest = _cells(rows[0]), [r for r in rows[1:] if not re.match(r"^\|[-|: ]+\|?$", r)]
      body.append("<table><thead><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head) +
                  "</tr></thead><tbody>" +
                  "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in _cells(r)) + "</tr>"
                          for r in rest) + "</tbody></table>")
    elif line.startswith("- "):
      items = []
      while i < len(lines) and lines[i].startswith("- "):
        items.append(f"<li>{inline(lines[i][2:])}</li>")
        i += 1
      body.append("<ul>" + "".join(items) + "</ul>")
    else:
      para = []
      while (i < len(lines) and lines[i].strip() and not lines[i].startswith(("#", "|", "- ", "```"))
             and not _IMAGE.match(lines[i].strip())):
        para.append(lines[i])
        i += 1
      body.append(f"<p>{inline(' '.join(para))}</p>")
  return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
          f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n" +
          "\n".join(body) + "\n</body></html>\n")


def write(md_path: str) -> str:
  """Writes report.html beside `md_path` (a markdown file); returns its path."""
  with open(md_path) as f:
    text = f.read()
  first = text.splitlines()[0].lstrip("# ") if text else "report"
  out = os.path.splitext(md_path)[0] + ".html"
  atomic.write_text(out, convert(text, os.path.dirname(os.path.abspath(md_path)), first))
  return out
