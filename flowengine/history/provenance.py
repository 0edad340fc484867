"""Where a recorded step comes from, when a history is rebuilt from a source after the fact.

A history typed in as things happen needs none of this. A history reconstructed from a document
(the demo, from the project's final report) must say, step by step, whether the document
*states* the step (in its own words, and where), whether the step is *inferred* from it (and
from what), or whether it is *illustrative*: invented so that the chain can run. The record
goes into the event's ``details``, so it is sealed into the hash chain with the step: a later
hand cannot quietly turn an illustrative step into a stated one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowengine.errors import InvalidInput

STATED = "stated"
INFERRED = "inferred"
ILLUSTRATIVE = "illustrative"
KINDS = (STATED, INFERRED, ILLUSTRATIVE)  # from the strongest to the weakest claim
DETAILS_KEY = "provenance"
MAX_TEXT = 4000

LEGEND = {
    STATED: "the source states it; its words are quoted",
    INFERRED: "read from the source, which does not say it in so many words; what it rests on is said",
    ILLUSTRATIVE: "invented so that the chain can run: the source says nothing of it",
}


@dataclass(frozen=True)
class Provenance:
    """``text``: the passage quoted (stated), what the step is read from (inferred), or why it
    had to be invented (illustrative). ``section``: where in the source. ``when``: the source's
    own words for the time, where it gives any (the recorded date is then chosen to fit them).
    ``placeholders``: fields whose values were made up because the workflow requires them."""

    kind: str
    text: str
    section: str = ""
    when: str = ""
    placeholders: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidInput(f"provenance '{self.kind}' is not one of {', '.join(KINDS)}")
        for what, value in (("text", self.text), ("section", self.section), ("when", self.when)):
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                raise InvalidInput(f"the provenance's {what} must be text of at most {MAX_TEXT} characters")
        if not self.text.strip():
            raise InvalidInput(f"a {self.kind} step needs its text: "
                               + {STATED: "the passage quoted", INFERRED: "what it is read from",
                                  ILLUSTRATIVE: "why it had to be invented"}[self.kind])

    def as_details(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "text": self.text}
        if self.section:
            data["section"] = self.section
        if self.when:
            data["when"] = self.when
        if self.placeholders:
            data["placeholders"] = list(self.placeholders)
        return data

    @classmethod
    def of(cls, details: Mapping[str, Any]) -> Provenance | None:
        """The provenance an event's details record; None when they record none (or a malformed one)."""
        found = details.get(DETAILS_KEY)
        if not isinstance(found, Mapping) or found.get("kind") not in KINDS:
            return None
        placeholders = found.get("placeholders") or ()
        return cls(str(found["kind"]), str(found.get("text") or "-"), str(found.get("section") or ""),
                   str(found.get("when") or ""),
                   tuple(str(p) for p in placeholders) if isinstance(placeholders, list) else ())

    def describe(self) -> str:
        """One line: kind, where, and the text (a passage in quotes)."""
        where = f" ({self.section})" if self.section else ""
        text = f"“{self.text}”" if self.kind == STATED else self.text
        when = f" [time: {self.when}]" if self.when else ""
        held = f" [placeholder values: {', '.join(self.placeholders)}]" if self.placeholders else ""
        return f"{self.kind}{where}: {text}{when}{held}"


def with_provenance(details: Mapping[str, Any], provenance: Provenance | None) -> dict[str, Any]:
    """An event's details with its provenance added (unchanged without one)."""
    return {**details, DETAILS_KEY: provenance.as_details()} if provenance is not None else dict(details)


def weakest(kinds: Sequence[str | None]) -> str | None:
    """The weakest claim among steps (None for steps that record no provenance): what a figure
    resting on all of them can claim."""
    known = [kind for kind in kinds if kind in KINDS]
    return max(known, key=KINDS.index) if known else None
