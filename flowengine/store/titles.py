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
  Where SQLite has FTS5 and its ``trigram`` tokenizer (SQLite 3.34 and later), migration 0014's
  ``proposals_title_fts`` (external content on ``proposals``, kept by triggers) names the
  candidates for a text of three letters or more (Latin, Greek and Cyrillic letters, or letters
  without cases): the proposals whose title holds the text, both folded by FTS5
  (``case_sensitive 0``). Those are read by primary key with the
  test above on top, so the result is the test's exactly; when more than :data:`MOST` titles are
  candidates, the page's order is walked instead (a common text finds its page early). A text of
  one or two letters, or a build without the table, reads the titles in order as before;
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

import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from flowengine.store.rows import POSTGRESQL, Reads

MOST = 2000  # more titles than this hold the text: the page's order is walked instead
FTS = "proposals_title_fts"  # SQLite: migration 0014's trigram table of the titles
FTS_SHORTEST = 3  # a trigram index finds texts of three letters or more
FTS_TRIGGERS = {  # what keeps the table current: name → body, on proposals
    f"{FTS}_insert": (f"AFTER INSERT ON proposals BEGIN INSERT INTO {FTS} (rowid, title) "
                      "VALUES (new.pk, new.title); END"),
    f"{FTS}_delete": (f"AFTER DELETE ON proposals BEGIN INSERT INTO {FTS} ({FTS}, rowid, title) "
                      "VALUES ('delete', old.pk, old.title); END"),
    f"{FTS}_update": (f"AFTER UPDATE OF title ON proposals BEGIN INSERT INTO {FTS} ({FTS}, rowid, title) "
                      f"VALUES ('delete', old.pk, old.title); INSERT INTO {FTS} (rowid, title) "
                      "VALUES (new.pk, new.title); END"),
}
FTS_TABLE = (f"CREATE VIRTUAL TABLE {FTS} USING fts5(title, content='proposals', content_rowid='pk', "
             "tokenize='trigram case_sensitive 0')")
FTS_PROBE = "CREATE VIRTUAL TABLE probe USING fts5(title, tokenize='trigram case_sensitive 0')"
FTS_REBUILD = f"INSERT INTO {FTS} ({FTS}) VALUES ('rebuild')"  # the table made anew from every title


def trigrams_available() -> bool:
    """Whether this process's SQLite has FTS5 with the ``trigram`` tokenizer (3.34 and later)."""
    try:
        with contextlib.closing(sqlite3.connect(":memory:")) as probe:
            probe.execute(FTS_PROBE)
    except sqlite3.Error:
        return False
    return True


# FTS5 folds a letter's cases by Unicode tables of its own; these letters of the first 1,280 code
# points (Latin, IPA, Greek, Cyrillic) it folds apart from a case Python gives them (dotless i,
# U+0131, from I; IPA letters whose capitals came to Unicode later than FTS5's tables)
_FOLDED_APART = frozenset("ıɜɡɪɬʂʇʝʞͿϳ")
_FOLDED_BELOW = 0x500  # beyond: the letters FTS5's folding was not checked against (tests)


def fts_finds(text: str) -> bool:
    """Whether the trigram table finds every title the page's test would for ``text``: three
    letters or more, each with no other case, or one whose cases FTS5 folds together."""
    return len(text) >= FTS_SHORTEST and all(
        len(_cases(letter)) == 1 or (ord(letter) < _FOLDED_BELOW and letter not in _FOLDED_APART) for letter in text)


def fts_phrase(text: str) -> str:
    """``text`` as one FTS5 phrase: in double quotes, each of its own doubled."""
    return '"' + text.replace('"', '""') + '"'


def like_pattern(text: str, escape: str) -> str:
    """``%text%`` with LIKE's wildcards and the escape character taken literally."""
    escaped = text.replace(escape, escape * 2).replace("%", escape + "%").replace("_", escape + "_")
    return f"%{escaped}%"


def _cases(letter: str) -> list[str]:
    folded = (letter.lower(), letter.upper(), letter.casefold())
    return sorted({letter, *(other for other in folded if len(other) == 1)})


def glob_pattern(text: str) -> str:
    """``*text*`` for GLOB: each letter as the class of its one-letter cases, GLOB's own
    wildcards (``*``, ``?``, ``[``) as classes of themselves."""
    parts = ["*"]
    for letter in text:
        cases = _cases(letter)
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
    migration 0012's function (its index); None when more than :data:`MOST` do. SQLite: the keys
    of the candidates migration 0014's table names (a superset: the page tests each title); None
    when more than :data:`MOST`, the text is shorter than three letters, or there is no table."""
    if reads.dialect != POSTGRESQL:
        return _candidates(reads, text)
    found = reads.rows("SELECT flowengine_titled(lower(:pattern), CAST(:most AS INTEGER))",
                       pattern=_server_pattern(text), most=MOST)[0][0]
    return None if found is None else [int(pk) for pk in found]


def _candidates(reads: Reads, text: str) -> list[int] | None:
    if not fts_finds(text) or not reads.rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name",
                                                  name=FTS):
        return None
    found = reads.rows(f"SELECT rowid FROM {FTS} WHERE {FTS} MATCH :phrase LIMIT :most",
                       phrase=fts_phrase(text), most=MOST + 1)
    return None if len(found) > MOST else [int(row[0]) for row in found]


def contains(dialect: str, text: str, keys: Sequence[int] | None, param: Callable[[Any], str]) -> str:
    """The condition: ``proposals.title`` contains ``text`` in any case; ``keys``: what
    :func:`titled` found (None: too many to name, or no index); ``param`` names a parameter's value.

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
    if not text.isascii():
        found = f"({found} AND proposals.title GLOB {param(glob_pattern(text))})"
    if keys is None:
        return found
    # the candidates by primary key (an empty list: none), each tested as above
    return f"(proposals.pk IN ({', '.join(param(pk) for pk in keys) or 'NULL'}) AND {found})"
