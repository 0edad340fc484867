"""The commitments of event format 3 as an event log carries them, read back by an import.

flowengine's own export writes, for an event of format 3, the ``flowengine:erasable`` attribute:
each personal value's commitment and salt (the salt null once the value was erased; the value
then reads ``[erased]``). An import rebuilds the event with exactly those commitments, so its
seal, and the chain's hashes, come out as they were, and keeps the values with their salts
erasable. Each value the row shows is held to its commitment first: a row changed after the
export is refused, never sealed under a commitment it does not match.
"""

from __future__ import annotations

from typing import Any

from flowengine import jsontext
from flowengine.eventlog.attributes import ERASABLE
from flowengine.history.erasure import ACTOR, COMMENT, ERASED, FIELD, Committed, commit, from_carried
from flowengine.i18n import t

__all__ = ["read_carried"]


def read_carried(text: str, actor: str, comment: str, changes: dict[str, Any]) -> dict[str, Committed] | str | None:
    """The commitments a row carries, checked against the values it shows; None when it carries
    none (an event of format 1 or 2, or a log from elsewhere); the problem, as text, when they
    are unreadable or do not match."""
    if not text:
        return None
    try:
        parsed = jsontext.loads(text)
    except ValueError:
        parsed = None
    found = from_carried(parsed)
    if found is None:
        return t('{column} is not an object of commitments and salts ({{"ITEM": {{"commitment": HEX, "salt": HEX '
                 'or null}}}}, ITEM being actor, comment or field:NAME)', column=ERASABLE)
    for item, committed in sorted(found.items()):
        if item.startswith(FIELD) and item.removeprefix(FIELD) not in changes:
            return t("{column} commits to {item}, which the event does not set", column=ERASABLE, item=item)
        shown = actor if item == ACTOR else comment if item == COMMENT else changes[item.removeprefix(FIELD)]
        if committed.salt is None:
            if shown != ERASED:
                return t("{column} says {item} was erased, but the row shows a value", column=ERASABLE, item=item)
        elif commit(item, committed.salt, shown) != committed.digest:
            return t("its {item} does not match the commitment {column} carries for it (the row was changed after "
                     "the export; leave out the {column} column to import the rows as they now read, under new "
                     "hashes)", item=item, column=ERASABLE)
    return found
