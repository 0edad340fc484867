"""Every word flowengine shows people, in the reader's language: gettext catalogues in the package.

Code writes its messages in English, wrapped where they are made: ``t("{proposal} is not
open", proposal=pid)``, ``tn("{n} proposal", "{n} proposals", n)``; placeholders are named,
so a translation may put them in any order. A text that is chosen now and translated later (a
table of terms) is marked with :func:`N_`. The Norwegian (Bokmål) and Swedish catalogues are
``nb.po`` and ``sv.po`` beside this module; English needs none. ``scripts/catalogues`` collects
the wrapped messages from the code into them, and a test fails while any message lacks a
translation.

The language is the one given (``language=``), else the one active in this context
(:func:`speaking`): the command line makes the reader's language active for everything it
shows, so a library error is worded in it where it is raised. A catalogue is read and compiled
(into gettext's binary form, in memory) the first time its language is asked for, so English
costs nothing and no build step is needed.
"""

from __future__ import annotations

import contextvars
import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["LANGUAGES", "N_", "Nn_", "active", "catalogue_path", "marked", "marked_plural", "pt", "speaking", "t", "tn",
           "usable", "use"]

LANGUAGES = ("en", "nb", "sv")  # English is the code's own: it has no catalogue
_FOLDER = Path(__file__).resolve().parent
_active: contextvars.ContextVar[str] = contextvars.ContextVar("flowengine_language", default="en")


def usable(language: str | None) -> str:
    """``language`` when flowengine speaks it, else English (as workflow labels fall back)."""
    return language if language in LANGUAGES else "en"


def active() -> str:
    """The language of this context (see :func:`speaking`)."""
    return _active.get()


@contextmanager
def speaking(language: str | None) -> Iterator[str]:
    """Make ``language`` the active one for the ``with`` block (and what it calls)."""
    token = _active.set(usable(language))
    try:
        yield _active.get()
    finally:
        _active.reset(token)


def use(language: str | None) -> str:
    """Make ``language`` the active one from here on, inside the innermost :func:`speaking` block
    (which puts the one before back when it ends): for a command-line option read mid-command."""
    _active.set(usable(language))
    return _active.get()


def catalogue_path(language: str) -> Path:
    return _FOLDER / f"{language}.po"


@cache
def _translations(language: str) -> gettext.NullTranslations:
    if language == "en":
        return gettext.NullTranslations()
    from flowengine.i18n.catalogue import compiled

    return compiled(catalogue_path(language))


def _fill(text: str, values: dict[str, Any]) -> str:
    return text.format(**values) if values else text


def t(message: str, /, *, language: str | None = None, **values: Any) -> str:
    """``message`` in ``language`` (default: the active one), its ``{placeholders}`` filled."""
    return _fill(_translations(usable(language) if language else active()).gettext(message), values)


def pt(context: str, message: str, /, *, language: str | None = None, **values: Any) -> str:
    """As :func:`t`, for a message whose translation depends on where it is used: ``context``
    tells the translator (and the catalogue) which use this is."""
    return _fill(_translations(usable(language) if language else active()).pgettext(context, message), values)


def tn(singular: str, plural: str, n: int, /, *, language: str | None = None, **values: Any) -> str:
    """The singular or plural form for ``n`` (as the language counts), with ``{n}`` and the
    other placeholders filled."""
    chosen = _translations(usable(language) if language else active()).ngettext(singular, plural, n)
    return chosen.format(n=n, **values)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogues without translating it yet: :func:`marked` does later."""
    return message


def marked(message: str, /, *, language: str | None = None, **values: Any) -> str:
    """As :func:`t` for a message held in a variable; it must have been marked with :func:`N_`
    (or wrapped elsewhere), or no catalogue knows it."""
    return _fill(_translations(usable(language) if language else active()).gettext(message), values)


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a plural pair for the catalogues without translating it: :func:`marked_plural` does later."""
    return singular, plural


def marked_plural(singular: str, plural: str, n: int, /) -> str:
    """The form for ``n`` of a pair marked with :func:`Nn_`, in the active language, its
    placeholders left for the caller (as gettext's ``ngettext``: what click calls)."""
    return _translations(active()).ngettext(singular, plural, n)
