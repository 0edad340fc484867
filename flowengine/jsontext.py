"""JSON text from outside — a log's field, a checkpoint or conversion record file — decoded so
that no shape of it can become an internal error: the standard library's decoder recurses once
per level of nesting and raises ``RecursionError`` (not ``ValueError``) when a text nests deeper
than Python's stack allows (``[[[[…`` a few thousand times). Here that is one more malformed text,
a ``ValueError`` that every caller already turns into its own message."""

from __future__ import annotations

import json
from typing import Any

from flowengine.i18n import t


def loads(text: str | bytes) -> Any:
    """``json.loads``, with nesting too deep to decode refused as ``ValueError``."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(t("the document is nested too deeply")) from None
