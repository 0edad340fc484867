"""Atom feeds for the panels: one per workflow and one per origin (the panel a proposal came
from), one entry per step, newest first — so a user panel follows its proposals in any feed
reader or e-mail-by-feed service, with no mail server.

An entry says what the step did and, where the page may show it, the answer given; its id is
derived from the step's hash, so it stays the same however often the site is rebuilt. Links
are relative to the feed's own place, as the site's pages are.
"""

from __future__ import annotations

import heapq
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

from flowengine.clock import iso_utc
from flowengine.history.records import Event
from flowengine.i18n import t

__all__ = ["Feed", "FeedEntry", "atom", "origin_slug"]

MAX_ENTRIES = 200  # a feed is a window on the newest steps, as feeds are
_NAMESPACE = uuid.UUID("6f0f4a52-6c1e-4f8e-9a51-3e2f8c1b7d10")


@dataclass(order=True, frozen=True)
class FeedEntry:
    at: datetime
    ident: str
    title: str = field(compare=False)
    summary: str = field(compare=False)
    href: str = field(compare=False)  # from the site's root


@dataclass
class Feed:
    """The newest entries of one feed, kept as they come (at most :data:`MAX_ENTRIES`)."""

    key: str
    title: str
    entries: list[FeedEntry] = field(default_factory=list)

    def add(self, event: Event, title: str, summary: str, href: str) -> None:
        entry = FeedEntry(event.at, str(uuid.uuid5(_NAMESPACE, event.hash)), title, summary, href)
        if len(self.entries) < MAX_ENTRIES:
            heapq.heappush(self.entries, entry)
        elif entry > self.entries[0]:
            heapq.heapreplace(self.entries, entry)


def origin_slug(origin: str) -> str:
    """A file name for an origin: its letters and digits, a short digest keeping apart origins
    that write the same letters differently."""
    words = re.sub(r"[^a-z0-9]+", "-", origin.lower().translate(str.maketrans("æøåäö", "eoaao"))).strip("-")[:40]
    return f"{words or 'origin'}-{uuid.uuid5(_NAMESPACE, origin).hex[:8]}"


def atom(feed: Feed, language: str, updated: datetime, depth: int = 1) -> str:
    """The feed as an Atom 1.0 document, placed ``depth`` folders below the site's root."""
    up = "../" * depth
    entries = sorted(feed.entries, reverse=True)
    newest = entries[0].at if entries else updated
    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang={quoteattr(language)}>',
             f"<id>urn:uuid:{uuid.uuid5(_NAMESPACE, 'feed:' + feed.key)}</id>",
             f"<title>{escape(feed.title)}</title>",
             f"<updated>{iso_utc(newest)}</updated>",
             f"<author><name>{escape(t('flowengine'))}</name></author>",
             f'<link rel="alternate" type="text/html" href={quoteattr(up + "index.html")}/>']
    for entry in entries:
        parts += ["<entry>", f"<id>urn:uuid:{entry.ident}</id>", f"<title>{escape(entry.title)}</title>",
                  f"<updated>{iso_utc(entry.at)}</updated>",
                  f'<link rel="alternate" type="text/html" href={quoteattr(up + entry.href)}/>',
                  f'<summary type="text">{escape(entry.summary)}</summary>', "</entry>"]
    parts.append("</feed>")
    return "\n".join(parts) + "\n"
