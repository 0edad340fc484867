"""Draw a diagram into a file: DOT text, or SVG, PNG or PDF through Graphviz's ``dot``.

This is the only module that imports ``graphviz``, and only when a file is drawn, so commands
that merely check a diagram's freshness never pay for it. SVGs carry a stamp, the SHA-256 of
the DOT they were drawn from, so "is this drawing current" is answered by comparing stamps,
whatever Graphviz version drew the file.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from flowengine.atomicfile import replacing
from flowengine.errors import FlowEngineError
from flowengine.views.condensed import condensed
from flowengine.views.diagram import Diagram
from flowengine.views.dot import to_dot
from flowengine.views.formats import diagram_format

__all__ = ["STAMP_PREFIX", "dot_digest", "draw", "render_dot", "stamp_svg", "svg_is_current"]

STAMP_PREFIX = "flowengine-dot-sha256:"
_STAMP_RE = re.compile(rb"<!--\s*flowengine-dot-sha256:\s*([0-9a-f]{64})\s*-->")


def dot_digest(dot_source: str) -> str:
    """SHA-256 (hex) of the DOT text: the freshness stamp of a rendered diagram."""
    return hashlib.sha256(dot_source.encode("utf-8")).hexdigest()


def stamp_svg(svg: bytes, digest: str) -> bytes:
    """Put the digest comment right after the XML declaration (or first, if there is none)."""
    comment = f"<!-- {STAMP_PREFIX} {digest} -->\n".encode("ascii")
    if svg.startswith(b"<?xml"):
        end = svg.find(b"?>") + 2
        newline = 1 if svg[end:end + 1] == b"\n" else 0
        return svg[:end + newline] + (b"" if newline else b"\n") + comment + svg[end + newline:]
    return comment + svg


def svg_is_current(svg_path: Path, dot_source: str) -> bool:
    """Whether the SVG at ``svg_path`` was drawn from exactly ``dot_source``.

    Compares the stamp, not the drawing, so the answer does not depend on which Graphviz
    version produced the file. A missing file or a file without a stamp is not current.
    """
    try:
        with svg_path.open("rb") as handle:
            head = handle.read(4096)
    except FileNotFoundError:
        return False
    match = _STAMP_RE.search(head)
    return match is not None and match.group(1).decode("ascii") == dot_digest(dot_source)


def _run_dot(dot_source: str, fmt: str) -> bytes:
    """Run Graphviz's ``dot``; its failures become FlowEngineError, its stderr is kept quiet."""
    try:
        import graphviz
    except ImportError as exc:
        raise FlowEngineError(
            "the Python package 'graphviz' is not installed; install it (pip install graphviz)"
        ) from exc
    try:
        data: bytes = graphviz.pipe("dot", fmt, dot_source.encode("utf-8"), quiet=True)
    except graphviz.ExecutableNotFound as exc:
        raise FlowEngineError(
            "Graphviz's 'dot' program is not installed; install it (Debian: apt-get install graphviz)"
        ) from exc
    except graphviz.CalledProcessError as exc:
        stderr = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else ""
        detail = stderr.strip().splitlines()[0] if stderr.strip() else f"exit status {exc.returncode}"
        raise FlowEngineError(f"Graphviz's 'dot' could not draw the diagram: {detail}") from exc
    return data


def render_dot(dot_source: str, output: Path) -> Path:
    """Draw DOT text to ``output``, atomically; the file's suffix picks the format
    (:data:`~flowengine.views.formats.DIAGRAM_FORMATS`).

    ``.dot`` writes the source itself (no Graphviz needed); the others run Graphviz's ``dot``.
    SVGs get the freshness stamp that :func:`svg_is_current` checks. Returns ``output``.
    """
    output = Path(output)
    fmt = diagram_format(output).graphviz
    if fmt == "dot":
        data = dot_source.encode("utf-8")
    else:
        data = _run_dot(dot_source, fmt)
        if fmt == "svg":
            data = stamp_svg(data, dot_digest(dot_source))
    with replacing(output, f"cannot write diagram '{output}'") as temp:
        temp.write_bytes(data)
    return output


def draw(diagram: Diagram, output: Path) -> Path:
    """Draw ``diagram`` to ``output`` (see :func:`render_dot`); returns ``output``. What Graphviz
    lays out is bounded (:func:`~flowengine.views.condensed.condensed`); a ``.dot`` file keeps
    the whole diagram."""
    if diagram_format(Path(output)).graphviz != "dot":
        diagram = condensed(diagram)
    return render_dot(to_dot(diagram), output)
