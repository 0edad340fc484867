"""Whether a chain as stored now still holds the head a checkpoint recorded.

A chain holds head H at length n when its first n events link from the genesis hash, each
sealed by :func:`flowengine.history.seal.seal` over what it says, and the n-th is hashed H.
Since every hash covers the one before, that proves all n events are the ones recorded then;
recomputing the whole chain with flowengine's own sealing (which plain ``audit verify`` cannot
tell from the honest one) ends at another head.
"""

from __future__ import annotations

from collections.abc import Sequence

from flowengine.history.chain import recompute
from flowengine.history.records import Event
from flowengine.history.seal import GENESIS
from flowengine.i18n import t
from flowengine.proof.checkpoint import Head

__all__ = ["chain_head", "held", "held_links"]


def chain_head(name: str, events: Sequence[Event]) -> Head:
    """The head of a history as stored: its length and newest hash."""
    return Head(name, len(events), events[-1].hash if events else GENESIS)


def held(head: Head, events: Sequence[Event]) -> str | None:
    """Why ``events`` (a proposal's history, by seq) no longer hold ``head``; None when they do."""
    return held_links(head, [(event.seq, event.prev_hash, event.hash, recompute(event)) for event in events])


def held_links(head: Head, links: Sequence[tuple[int, str, str, str]]) -> str | None:
    """Why a chain given as (seq, previous hash, stored hash, hash recomputed from the content)
    per entry, oldest first, no longer holds ``head``; None when it does. Any hash-chained log
    (a history, the access log) is checked by this one rule."""
    if len(links) < head.length:
        return t("the checkpoint recorded {length} step(s), the database now has {now} (steps were deleted)",
                 length=head.length, now=len(links))
    previous = GENESIS
    for position, (seq, prev_hash, stored, recomputed) in enumerate(links[:head.length], start=1):
        if seq != position or prev_hash != previous or recomputed != stored:
            return t("step {seq} is not sealed into its place in the chain (steps were changed, removed or "
                     "reordered)", seq=position)
        previous = stored
    if previous != head.head:
        return t("its first {length} step(s) are not the ones the checkpoint recorded (the history up to step "
                 "{length} was rewritten and sealed again)", length=head.length)
    return None
