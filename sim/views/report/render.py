"""Rendering a report: one self-contained HTML page and its Markdown twin, from one list of
blocks.

The HTML holds its figures inline as base64 PNG and its styles inline, with no script and
no external address: it opens without a network. Every user string is escaped: control
characters become visible escapes (:func:`sim.safeio.visible`), then HTML or Markdown
markup characters are escaped, so a scenario's text renders as itself.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from sim.safeio import visible
from sim.views.report.blocks import Block, Heading, Paragraph, Table

__all__ = ["CSS", "html_text", "md_text", "render_html", "render_markdown"]

CSS = """
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #222;
  max-width: 1180px; margin: 2em auto; padding: 0 1.2em; line-height: 1.45; }
h1 { font-size: 1.8em; border-bottom: 3px solid #4e9a06; padding-bottom: .2em; }
h2 { font-size: 1.35em; margin-top: 2em; border-bottom: 1px solid #ccc; padding-bottom: .15em; }
h3 { font-size: 1.1em; margin-top: 1.6em; }
p.note { color: #666; font-size: .9em; }
table { border-collapse: collapse; margin: .3em 0 1.4em; font-size: .88em; }
p.tcap { font-weight: bold; color: #333; margin: 1.2em 0 .3em; font-size: .92em; }
details summary { cursor: pointer; color: #1f4f7a; margin: .6em 0; }
th, td { border: 1px solid #ddd; padding: .3em .6em; vertical-align: top; text-align: left; }
th { background: #f2f4f0; }
tr:nth-child(even) td { background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.wide td { max-width: 26em; overflow-wrap: break-word; }
table.wide td:first-child { min-width: 14em; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #e5e5e5; }
figcaption { color: #444; font-size: .92em; max-width: 60em; }
nav ol { columns: 2; }
"""


def html_text(text: str) -> str:
    """Text for HTML: control characters made visible, then every markup character escaped."""
    return html.escape(visible(text), quote=True)


def _html_table(t: Table) -> str:
    wide = len(t.headers) > 4
    out = [f"<details><summary>{html_text(t.collapsed)}</summary>"] if t.collapsed else []
    if t.caption:
        out.append(f'<p class="tcap">{html_text(t.caption)}</p>')
    out.append('<table class="wide">' if wide else "<table>")
    out.append("<thead><tr>" + "".join(f"<th>{html_text(h)}</th>" for h in t.headers))
    out.append("</tr></thead><tbody>")
    for row in t.rows:
        cells = "".join(
            f'<td class="num">{html_text(c)}</td>' if i in t.numeric else f"<td>{_cell(c, i)}</td>"
            for i, c in enumerate(row)
        )
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody></table>")
    if t.collapsed:
        out.append("</details>")
    return "\n".join(out)


def _cell(text: str, column: int) -> str:
    """Escaped cell text; first-column key paths may break after dots and underscores."""
    escaped = html_text(text)
    if column == 0 and " " not in text:
        return escaped.replace(".", ".<wbr>").replace("_", "_<wbr>")
    return escaped


def _anchor(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def render_html(blocks: Sequence[Block]) -> str:
    """The blocks as one self-contained HTML page (figures inline as base64 PNG)."""
    title = next((b.text for b in blocks if isinstance(b, Heading) and b.level == 1), "report")
    body: list[str] = []
    toc = [b.text for b in blocks if isinstance(b, Heading) and b.level == 2]
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f'<h{b.level} id="{_anchor(b.text)}">{html_text(b.text)}</h{b.level}>')
            if b.level == 1 and toc:
                items = "".join(f'<li><a href="#{_anchor(t)}">{html_text(t)}</a></li>' for t in toc)
                body.append(f"<nav><ol>{items}</ol></nav>")
        elif isinstance(b, Paragraph):
            cls = ' class="note"' if b.note else ""
            body.append(f"<p{cls}>{html_text(b.text)}</p>")
        elif isinstance(b, Table):
            body.append(_html_table(b))
        else:
            data = base64.b64encode(b.png).decode("ascii")
            body.append(
                f'<figure id="figure-{b.kind}"><h3>{html_text(b.title)}</h3>'
                f'<img src="data:image/png;base64,{data}" alt="{html_text(b.title)}">'
                f"<figcaption>{html_text(b.caption)}</figcaption></figure>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html_text(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


_MD_ESCAPE = re.compile(r"[\\`*\[\]<>|~#$]")
_MD_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_MD_ENTITY = re.compile(r"&(?=#|[0-9A-Za-z]+;)")
# a list item or a thematic break at the start of a line (``*`` and ``_`` are escaped anyway)
_MD_BLOCK = re.compile(r"^(?:[-+](?=[\s+-]|$)|[0-9]{1,9}(?=[.)](?:\s|$)))")


def md_text(text: str, *, line_start: bool = True) -> str:
    r"""``text`` as one line of Markdown that renders as itself: never a heading, list,
    quote, code, link, image, emphasis, table cell break or HTML.

    Whitespace (line breaks too) collapses to single spaces, control characters become
    visible escapes, and every character that could start markup is backslash-escaped;
    with ``line_start`` (a paragraph or a heading, not a table cell) also a leading list
    or thematic-break marker.

    >>> print(md_text("<script>x</script> [a](javascript:b) ![i](x.png)"))
    \<script\>x\</script\> \[a\](javascript:b) !\[i\](x.png)
    >>> print(md_text("ok\n# heading | `code` *em* _em_ usage_ratio 1. &amp; $5"))
    ok \# heading \| \`code\` \*em\* \_em\_ usage_ratio 1. \&amp; \$5
    >>> print(md_text("- item"), md_text("2024. year"), md_text("---"), md_text("3.11 -5%"))
    \- item 2024\. year \--- 3.11 -5%
    """
    line = " ".join(visible(text).split())
    line = _MD_ESCAPE.sub(lambda m: "\\" + m.group(0), line)
    line = _MD_UNDERSCORE.sub(r"\\_", line)
    line = _MD_ENTITY.sub(r"\\&", line)
    match = _MD_BLOCK.match(line) if line_start else None
    if match:
        end = match.end()
        if match.group(0)[0].isdigit():
            return line[:end] + "\\" + line[end:]
        return "\\" + line
    return line


def _md_lines(blocks: Sequence[Block], folder: Path) -> Iterator[str]:
    for b in blocks:
        if isinstance(b, Heading):
            yield "#" * b.level + " " + md_text(b.text)
        elif isinstance(b, Paragraph):
            yield f"_{md_text(b.text)}_" if b.note else md_text(b.text)
        elif isinstance(b, Table):
            yield "| " + " | ".join(md_text(h, line_start=False) for h in b.headers) + " |"
            yield (
                "|"
                + "|".join("---:" if i in b.numeric else "---" for i in range(len(b.headers)))
                + "|"
            )
            for row in b.rows:
                yield "| " + " | ".join(md_text(c, line_start=False) for c in row) + " |"
            if b.caption:
                yield ""
                yield f"_{md_text(b.caption)}_"
        else:
            rel = b.path.relative_to(folder) if b.path.is_relative_to(folder) else b.path
            yield f"### {md_text(b.title)}"
            yield ""
            yield f"![{md_text(b.title)}]({rel.as_posix()})"
            yield ""
            yield md_text(b.caption)
        yield ""


def render_markdown(blocks: Sequence[Block], folder: Path) -> str:
    """The blocks as Markdown, figures referenced relative to ``folder``."""
    return "\n".join(_md_lines(blocks, folder)).rstrip("\n") + "\n"
