"""Field values: ``name=value`` as typed by a user, checked against the field's declared type.

Values are stored as JSON: text, dates and URLs as strings (dates ISO), numbers as int or
float. An empty value (``name=``) clears the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from flowengine.definition.model import Workflow
from flowengine.errors import InvalidInput, NotFound, Remedy
from flowengine.i18n import t
from flowengine.timewindow import EARLIEST_TEXT, LATEST_TEXT

MAX_VALUE_CHARS = 10_000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["a=1", "b=two"]`` → ``{"a": "1", "b": "two"}``; the last of a repeated name wins."""
    parsed: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(t("'{item}' is not field=value, e.g. cost_estimate=25000", item=item)).fixed_by(
                Remedy("field", "cost_estimate"))
        parsed[name.strip()] = value
    return parsed


def coerce_fields(workflow: Workflow, values: Mapping[str, Any]) -> dict[str, Any]:
    """Check each value against its field; returns the JSON values to store (None clears a field)."""
    coerced: dict[str, Any] = {}
    for name, raw in values.items():
        spec = workflow.fields.get(name)
        if spec is None:
            if not workflow.fields:
                raise NotFound("field", name, [], hint=t("{workflow} declares no fields", workflow=workflow.id))
            raise NotFound("field", name, list(workflow.fields)).fixed_by(Remedy("show_workflow", workflow.id))
        coerced[name] = coerce_value(name, spec.type, spec.options, raw)
    return coerced


def coerce_value(name: str, kind: str, options: tuple[str, ...], raw: Any) -> Any:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise InvalidInput(t("field '{field}' takes a {kind}, not true/false", field=name, kind=kind))
    text = str(raw).strip()
    if len(text) > MAX_VALUE_CHARS:
        raise InvalidInput(t("field '{field}' is longer than {limit} characters; link to a document instead",
                             field=name, limit=MAX_VALUE_CHARS))
    if kind == "number":
        return _number(name, raw, text)
    if kind == "date":
        try:
            if not _DATE.match(text):
                raise ValueError(text)
            text = date.fromisoformat(text).isoformat()
        except ValueError:
            raise InvalidInput(t("field '{field}' takes a date written YYYY-MM-DD, e.g. 2019-03-01; got '{text}'",
                                 field=name, text=text)) from None
        if not EARLIEST_TEXT <= text < LATEST_TEXT:
            raise InvalidInput(t("field '{name}': the date {date} lies outside the range flowengine accepts "
                                 "({earliest} to {latest})", name=name, date=text, earliest=EARLIEST_TEXT,
                                 latest=LATEST_TEXT))
        return text
    if kind == "choice":
        if text in options:
            return text
        from flowengine.suggest import did_you_mean

        close = did_you_mean(text, options)
        refused = t("field '{field}' must be one of: {options}; got '{text}'", field=name, options=", ".join(options),
                    text=text)
        if close:
            refused += " (" + t("did you mean '{suggestion}'?", suggestion=close) + ")"
        raise InvalidInput(refused).fixed_by(
            Remedy("field", name, options[0] if options else ""))
    check_printable(t("field '{field}'", field=name), text)
    if kind == "url":
        if _URL.match(text):
            return text
        raise InvalidInput(t("field '{field}' takes a web address starting with https:// or http://; got '{text}'",
                             field=name, text=text))
    return text


def _number(name: str, raw: Any, text: str) -> int | float:
    if isinstance(raw, int):
        return raw
    compact = text.replace(" ", "").replace("\u00a0", "")
    if re.fullmatch(r"-?\d+,\d{3}", compact):  # 1,500: thousands or a decimal comma? Do not guess.
        raise InvalidInput(t("field '{field}': '{text}' is ambiguous (thousands or decimals?); write whole numbers "
                             "without separators (25000) and decimals with a point (12.5)", field=name, text=text))
    if compact.count(",") == 1 and "." not in compact:  # 12,5 as written in Norway and Sweden
        compact = compact.replace(",", ".")
    try:
        value = float(compact)
    except ValueError:
        raise InvalidInput(t("field '{field}' takes a number such as 25000 or 12.5; got '{text}'", field=name,
                             text=text)) from None
    if not math.isfinite(value):
        raise InvalidInput(t("field '{field}' takes a finite number; got '{text}'", field=name, text=text))
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def missing(names: Iterable[str], values: Mapping[str, Any]) -> list[str]:
    """The fields among ``names`` that have no value."""
    return [name for name in names if values.get(name) in (None, "")]


def display(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def check_printable(what: str, text: str) -> str:
    """No terminal escapes or other control characters (tabs and line breaks are fine) in text
    that other people will read on their screens."""
    bad = next((c for c in text if (ord(c) < 32 or 127 <= ord(c) < 160) and c not in "\n\t"), None)
    if bad is not None:
        raise InvalidInput(t("the {what} contains the control character {character}; remove it (it is usually "
                             "pasted in by accident)", what=what, character=f"U+{ord(bad):04X}"))
    return text
