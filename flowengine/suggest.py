"""Close-match suggestions for "did you mean …?" hints, and the list of what is allowed."""

from __future__ import annotations

from collections.abc import Iterable

# Common slips that string similarity alone does not catch.
_ALIASES = {"no": "nb", "nn": "nb", "nob": "nb", "se": "sv", "swe": "sv", "eng": "en", "gb": "en"}


def did_you_mean(wanted: str, known: Iterable[str]) -> str | None:
    """Return the known name closest to ``wanted``, or None when nothing is close."""
    import difflib  # here: the command line's help texts use either() and should not pay for it

    candidates = list(known)
    alias = _ALIASES.get(wanted.lower())
    if alias in candidates:
        return alias
    lowered = {c.lower(): c for c in candidates}
    if wanted.lower() in lowered:
        return lowered[wanted.lower()]
    matches = difflib.get_close_matches(wanted, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


def either(choices: Iterable[str]) -> str:
    """``"a, b or c"``: the choices a message offers, in their order."""
    from flowengine.i18n import t

    items = list(choices)
    if len(items) > 1:
        return t("{choices} or {last}", choices=", ".join(items[:-1]), last=items[-1])
    return "".join(items)
