"""The pieces every page of the site is made of: the page itself, tables, diagrams, links.

Everything written is escaped here; pages pass plain text. Links are relative (``depth``: how
many folders below the site's root a page lies), so the site works from a file share as from a
web server. No page has a script or fetches anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape

from flowengine.analysis.figures import SUPPRESSED
from flowengine.i18n import t
from flowengine.version import __version__
from flowengine.views.figure_wording import DASH
from flowengine.views.report import for_reading
from flowengine.views.sections import Cell, Section

__all__ = ["SCALE", "cell_html", "diagram_figure", "facts", "link", "page", "section_html", "source_mark", "up"]

# Graphviz writes sizes in points; a CSS pixel is 3/4 of a point. Drawn 5 % over natural size,
# the diagrams' smallest text (8 pt) comes out at 11.2 px.
SCALE = 4 / 3 * 1.05


def up(depth: int) -> str:
    """The relative way from a page ``depth`` folders down back to the site's root."""
    return "../" * depth


def link(href: str, text: str) -> str:
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def cell_html(value: Cell) -> str:
    if value is None or value == "":
        return f"<td>{DASH}</td>"
    if value == SUPPRESSED:
        return f'<td class="num"><abbr title="{escape(t("hidden to protect privacy"))}">{SUPPRESSED}</abbr></td>'
    if isinstance(value, int | float):
        return f'<td class="num">{escape(str(for_reading(value)))}</td>'
    if re.fullmatch(r"[<\d.,\s\u00a0%]+", str(value)):
        return f'<td class="num">{escape(str(value))}</td>'
    return f"<td>{escape(str(value))}</td>"


def source_mark(kind: str | None, text: str) -> str:
    """A row's or a step's provenance, marked so a reader sees it at a glance (an illustrative
    step stands out in colour and weight), with its word."""
    if kind is None:
        return escape(text)
    return f'<span class="src src-{escape(kind)}">{escape(text)}</span>'


def section_html(section: Section, heading: str = "h3", anchor: str | None = None,
                 first_column_links: dict[str, str] | None = None) -> str:
    """A section of the stall report as a heading, a table (scrolling sideways in place when wide)
    and its note; ``first_column_links`` makes the first cell of a row a link. A section with
    sources marks its last column (:func:`source_mark`)."""
    links = first_column_links or {}
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in section.columns)
    ident = f' id="{escape(anchor)}"' if anchor else ""
    if section.rows:
        rows = []
        kinds = section.sources or (None,) * len(section.rows)
        for row, kind in zip(section.rows, kinds, strict=True):
            first = str(row[0]) if row else ""
            lead = (f'<th scope="row">{link(links[first], first)}</th>' if first in links
                    else f'<th scope="row">{escape(first)}</th>')
            rest = row[1:-1] if section.sources else row[1:]
            marked = (f'<td class="src-{escape(kind)}">{escape(str(row[-1]))}</td>' if kind
                      else cell_html(row[-1])) if section.sources else ""
            rows.append("<tr>" + lead + "".join(cell_html(v) for v in rest) + marked + "</tr>")
        body = (f'<div class="scroll" tabindex="0" role="region" aria-label="{escape(section.title)}"><table>'
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")
    else:
        body = f"<p>{escape(t('None.'))}</p>"
    note = f'<p class="note">{escape(section.note)}</p>' if section.note else ""
    return f"<{heading}{ident}>{escape(section.title)}</{heading}>{body}{note}"


def _inline_svg(svg: str, prefix: str, label_id: str) -> str:
    """A Graphviz SVG fit for inlining: no prolog, ids prefixed (every drawing names its parts
    graph0, node1, …), sized for readable text, and named by the figure's caption."""
    body = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", svg)
    body = re.sub(r"<!DOCTYPE[^>]*>\s*", "", body, count=1)
    body = re.sub(r"<!--.*?-->\s*", "", body, flags=re.S)
    opening = re.search(r"<svg\b[^>]*>", body)
    if opening is None:
        return ""
    tag = opening.group(0)
    width = re.search(r'\swidth="([\d.]+)pt"', tag)
    height = re.search(r'\sheight="([\d.]+)pt"', tag)
    tag = re.sub(r"\s+", " ", re.sub(r"\s(?:width|height)=\"[^\"]*\"", "", tag))
    size = (f' width="{float(width.group(1)) * SCALE:.0f}" height="{float(height.group(1)) * SCALE:.0f}"'
            if width and height else "")
    tag = tag.replace("<svg", f'<svg role="img" aria-labelledby="{escape(label_id)}"{size}', 1)
    body = body[:opening.start()] + tag + body[opening.end():]
    body = re.sub(r'\sid="([^"]*)"', lambda m: f' id="{prefix}-{m.group(1)}"', body)
    body = re.sub(r'(xlink:href|href)="#([^"]*)"', lambda m: f'{m.group(1)}="#{prefix}-{m.group(2)}"', body)
    return body.strip()


def diagram_figure(svg: str, caption: str, prefix: str, full_size: str) -> str:
    """A diagram inline, its caption, and a link to the drawing on its own."""
    label = f"{prefix}-caption"
    return (f'<figure class="drawing"><div class="diagram" tabindex="0" role="region" '
            f'aria-label="{escape(caption)}">{_inline_svg(svg, prefix, label)}</div>'
            f'<figcaption id="{escape(label)}">{escape(caption)} '
            f'{link(full_size, t("Open the diagram on its own (full size)."))}</figcaption></figure>')


def facts(rows: Iterable[tuple[str, str]]) -> str:
    """A list of "what: value" pairs (values already HTML)."""
    return '<dl class="facts">' + "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def page(*, title: str, heading: str, body: str, language: str, depth: int, crumbs: Sequence[tuple[str, str]] = (),
         lead: str = "", footer: str = "") -> str:
    """A whole page: ``crumbs`` (href from the root, text) lead back up; the stylesheet is shared."""
    nav = ""
    if crumbs:
        items = "".join(f"<li>{link(up(depth) + href, text)}</li>" for href, text in crumbs)
        nav = f'<nav class="crumbs" aria-label="{escape(t("Where you are"))}"><ul>{items}</ul></nav>'
    made = t("Made by flowengine {version} from the stored, hash-chained history.", version=__version__)
    return (f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(title)}</title><link rel="stylesheet" href="{up(depth)}style.css"></head><body>'
            f'<a class="skip" href="#main">{escape(t("Skip to the content"))}</a>'
            f"<header>{nav}<h1>{escape(heading)}</h1>"
            + (f'<p class="lead">{escape(lead)}</p>' if lead else "")
            + f'</header><main id="main">{body}</main><footer><p>{escape(footer)}</p><p>{escape(made)}</p></footer>'
            "</body></html>\n")
