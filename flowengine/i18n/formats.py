"""Numbers and dates the way each language writes them.

English: 1,234.5, 12%, 9 August 2019, 2019-08-09. Norwegian (Bokmål): 1 234,5, 12 %,
9. august 2019, 09.08.2019. Swedish: 1 234,5, 12 %, 9 augusti 2019, 2019-08-09. The space
that groups digits and the one before "%" do not break. Month names and the order of a long
date are messages of the catalogues like any other.
"""

from __future__ import annotations

from datetime import date

from flowengine.i18n import N_, marked, t, usable

__all__ = ["decimal", "long_date", "number", "percent", "short_date"]

_NBSP = "\u00a0"
_MONTHS = (N_("January"), N_("February"), N_("March"), N_("April"), N_("May"), N_("June"), N_("July"),
           N_("August"), N_("September"), N_("October"), N_("November"), N_("December"))
_COMMA = ("nb", "sv")


def _marks(language: str) -> tuple[str, str]:
    """(the mark between groups of three digits, the decimal mark)."""
    return (_NBSP, ",") if usable(language) in _COMMA else (",", ".")


def number(value: int | float, language: str, decimals: int = 0) -> str:
    """``value`` rounded to ``decimals``, digits grouped in threes: "1,234.5", "1 234,5"."""
    group, point = _marks(language)
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", point).replace("\x00", group)


def decimal(value: float, language: str) -> str:
    """One decimal below 10, whole numbers from there: "0.4", "3.5", "12", "410" ("3,5" in nb/sv);
    short enough for a diagram's node and the same for the same figure on every run."""
    if value < 9.95:
        point = _marks(language)[1]
        return f"{value:.1f}".removesuffix(".0").replace(".", point)
    return number(value, language)


def percent(part: int, whole: int, language: str) -> str:
    """``part`` of ``whole`` in whole percent: "12%" in English, "12 %" in nb and sv."""
    value = f"{100 * part / whole:.0f}" if whole else "0"
    return f"{value}{_NBSP}%" if usable(language) in _COMMA else f"{value}%"


def long_date(day: date, language: str) -> str:
    """"9 August 2019", "9. august 2019", "9 augusti 2019"."""
    month = marked(_MONTHS[day.month - 1], language=language)
    return t("{day} {month} {year}", language=language, day=day.day, month=month, year=day.year)


def short_date(day: date, language: str) -> str:
    """"2019-08-09" (English and Swedish, as ISO 8601), "09.08.2019" (Norwegian)."""
    if usable(language) == "nb":
        return f"{day.day:02d}.{day.month:02d}.{day.year:04d}"
    return day.isoformat()
