"""What a record may hold: titles, texts, idempotency keys. Checked the same way at every door
(the API, the command line, an event-log import, the demo), so the limits live here once."""

from __future__ import annotations

from flowengine.definition.fields import check_printable
from flowengine.errors import InvalidInput, Remedy
from flowengine.i18n import pt, t

MAX_TITLE_CHARS = 200  # a title, an origin, a milestone's name: one line
MAX_TEXT_CHARS = 20_000  # a description, a comment, a note
MAX_KEY_CHARS = 200  # an idempotency key


def _the(what: str) -> str:
    """``what`` (title, comment …) as a message names it, in the reader's language."""
    words = {"title": pt("the", "title"), "comment": pt("the", "comment"), "description": pt("the", "description"),
             "origin": pt("the", "origin"), "note": pt("the", "note"), "milestone": pt("the", "milestone")}
    return words.get(what, what)


def one_line(what: str, value: str, *, longer: Remedy | None = None) -> str:
    """A one-line text of at most :data:`MAX_TITLE_CHARS`, stripped; ``longer`` says where longer text goes."""
    text = check_printable(_the(what), (value or "").strip())
    if "\n" in text or len(text) > MAX_TITLE_CHARS:
        error = InvalidInput(t("the {what} must be one line of at most {limit} characters", what=_the(what),
                               limit=MAX_TITLE_CHARS))
        raise error.fixed_by(longer) if longer is not None else error
    return text


def title(value: str) -> str:
    """A proposal's title: required, one line."""
    text = one_line("title", value, longer=Remedy("description"))
    if not text:
        raise InvalidInput(t("a proposal needs a title, e.g. \"Meeting place in the town centre\"")).fixed_by(
            Remedy("title"))
    return text


def text(what: str, value: str) -> str:
    """A free text (description, comment, note) of at most :data:`MAX_TEXT_CHARS`, stripped."""
    checked = (value or "").strip()
    if checked.isprintable() and len(checked) <= MAX_TEXT_CHARS:  # the usual case, with no word to translate
        return checked
    checked = check_printable(_the(what), checked)
    if len(checked) > MAX_TEXT_CHARS:
        raise InvalidInput(t("the {what} is longer than {limit} characters; link to a document instead",
                             what=_the(what), limit=MAX_TEXT_CHARS))
    return checked


def idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    key = value.strip()
    if not key or len(key) > MAX_KEY_CHARS or any(ord(c) < 32 for c in key):
        raise InvalidInput(t("an idempotency key is 1 to {limit} printable characters, e.g. a UUID",
                             limit=MAX_KEY_CHARS))
    return key
