"""A text in a proposal's title, in any case: the condition each backend can answer.

What users get is what the reference list (every history replayed) does in Python: the title
contains the text, letter by letter in lower case (``ærlig`` finds "Ærlig", ``ÅRE`` finds "Åre",
``över`` finds "Över"); ``%``, ``_``, ``*`` and ``?`` are letters like any other; a text of one or
two letters is found as well as a longer one. Each backend is asked in its own words:

- **SQLite**: its ``LIKE`` and ``lower()`` fold ASCII letters only. A text of ASCII letters alone
  is asked with ``LIKE`` (which ignores ASCII case by itself); any other with ``LIKE`` first, each
  other letter as its one-letter wildcard (``_rlig``), then ``GLOB``, which compares exactly, each
  letter given as the class of its cases (``[Ææ]rlig``), so Norwegian and Swedish letters (æøå,
  äö) match in any case without a function written in Python per row. (``GLOB`` alone, its classes
  parsed at every position, read a million titles in five times ``LIKE``'s time);
- **PostgreSQL**: ``lower(title) LIKE`` the text lowered there too, ``lower`` folding by the
  database's ``LC_CTYPE`` (any UTF-8 locale folds æøå and äö; ``C`` folds ASCII only — the
  README's DBA steps say so). Under row-level security a member's own query may neither search an
  index with ``LIKE`` nor read the column's statistics (``LIKE`` is not leakproof), so the planner
  took every title search for one row and read every title. Migration 0012's
  ``flowengine_titled`` runs with the owner's rights and the policies' own test: it searches the
  trigram index of ``lower(title)`` and returns the keys of the readable proposals whose title
  holds the text, or NULL when more than :data:`MOST` do. The page then reads those keys by
  primary key; or, for a text in many titles, walks its order with the title tested as an
  expression the planner takes for one row in two, so it stops as soon as the page is full.

A letter is compared with its one-letter cases only (``lower()``, not ``casefold()``: German ß is
not "ss", in the reference list either); titles are not normalised (a title stored decomposed,
with combining accents, matches a text typed decomposed).

The conditions are SQL text (no SQLAlchemy here), part of a page's statement
(:mod:`flowengine.store.pages`), which both the SQLAlchemy store and the driver's own reads run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flowengine.store.rows import POSTGRESQL, Reads

MOST = 2000  # more titles than this hold the text: the page's order is walked instead (PostgreSQL)


def like_pattern(text: str, escape: str) -> str:
    """``%text%`` with LIKE's wildcards and the escape character taken literally."""
    escaped = text.replace(escape, escape * 2).replace("%", escape + "%").replace("_", escape + "_")
    return f"%{escaped}%"


def glob_pattern(text: str) -> str:
    """``*text*`` for GLOB: each letter as the class of its one-letter cases, GLOB's own
    wildcards (``*``, ``?``, ``[``) as classes of themselves."""
    parts = ["*"]
    for letter in text:
        cases = sorted({letter, *(other for other in (letter.lower(), letter.upper(), letter.casefold())
                                  if len(other) == 1)})
        if len(cases) > 1 or letter in "*?[":
            parts.append("[" + "".join(cases) + "]")
        else:
            parts.append(letter)
    parts.append("*")
    return "".join(parts)


def _server_pattern(text: str) -> str:
    """The text as PostgreSQL's LIKE takes it (backslash, its default escape), to be lowered there."""
    return like_pattern(text, "\\")


def titled(reads: Reads, text: str) -> list[int] | None:
    """PostgreSQL: the keys of the proposals the login may read whose title holds ``text``, by
    migration 0012's function (its index); None when more than :data:`MOST` do."""
    found = reads.rows("SELECT flowengine_titled(lower(:pattern), CAST(:most AS INTEGER))",
                       pattern=_server_pattern(text), most=MOST)[0][0]
    return None if found is None else [int(pk) for pk in found]


def contains(dialect: str, text: str, keys: Sequence[int] | None, param: Callable[[Any], str]) -> str:
    """The condition: ``proposals.title`` contains ``text`` in any case; ``keys``: on PostgreSQL,
    what :func:`titled` found (None: too many to name); ``param`` names a parameter's value.

    On PostgreSQL the title is tested as a whole expression (``coalesce``) that the planner, kept
    from the column's statistics by row-level security, estimates at one row in two, not at one
    in all: it walks the page's order until the page is full rather than reading every row. With
    the keys :func:`titled` found, only those are read, by primary key."""
    if dialect == POSTGRESQL:
        found = f"coalesce(lower(proposals.title) LIKE lower({param(_server_pattern(text))}), false)"
        if keys is None:
            return found
        return f"(proposals.pk = ANY (CAST({param(list(keys))} AS BIGINT[])) AND {found})"
    # SQLite's LIKE ignores the case of ASCII letters, and of no others: any other letter as LIKE's
    # one-letter wildcard, a cheap first test before GLOB's exact one
    loose = "".join(letter if letter.isascii() else "_" for letter in like_pattern(text, "/"))
    found = f"proposals.title LIKE {param(loose)} ESCAPE '/'"
    if text.isascii():
        return found
    return f"({found} AND proposals.title GLOB {param(glob_pattern(text))})"
