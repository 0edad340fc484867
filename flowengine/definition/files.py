"""A workflow file's text without parsing it: the size limit every reader keeps, and the text as
the safe YAML reader (:mod:`flowengine.definition.yamlsafe`) decodes it — what a definition's
content hash is taken of. Importing this module imports no YAML parser."""

from __future__ import annotations

from pathlib import Path

MAX_FILE_BYTES = 1024 * 1024
BOM = b"\xef\xbb\xbf"


def file_text(path: Path) -> str | None:
    """The file's text as the reader decodes it (a UTF-8 byte order mark dropped); None when the
    reader would refuse it before parsing (unreadable, too large, binary, not UTF-8)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError):
        return None
    if len(raw) > MAX_FILE_BYTES or b"\x00" in raw:
        return None
    try:
        return raw.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError:
        return None
