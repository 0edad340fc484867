"""Deadlines as people write them, and what flowengine makes of them."""

from __future__ import annotations

from datetime import datetime

import pytest

from flowengine.definition.durations import parse_duration


@pytest.mark.parametrize(("text", "start", "end"), [
    ("30d", datetime(2024, 1, 31), datetime(2024, 3, 1)),
    ("8w", datetime(2024, 1, 1), datetime(2024, 2, 26)),
    ("12h", datetime(2024, 1, 1), datetime(2024, 1, 1, 12)),
    ("P3M", datetime(2024, 1, 31), datetime(2024, 4, 30)),  # month ends clamp, as calendars do
    ("P1Y", datetime(2024, 2, 29), datetime(2025, 2, 28)),
    ("P1Y2M10DT2H", datetime(2024, 1, 1), datetime(2025, 3, 11, 2)),
    ("p2w", datetime(2024, 1, 1), datetime(2024, 1, 15)),
])
def test_durations_add_calendar_aware(text: str, start: datetime, end: datetime) -> None:
    assert parse_duration(text).add_to(start) == end


@pytest.mark.parametrize(("text", "suggestion"), [
    ("3 months", "write P3M for 3 months"),
    ("1 år", "write P1Y for 1 year"),
    ("90 days", "write 90d"),
    ("6 uker", "write 6w"),
    ("2 veckor", "write 2w"),
    ("2m", "write P2M for 2 months"),
    ("soon", "30d (days), 8w (weeks)"),
])
def test_a_duration_written_in_words_gets_the_exact_spelling_to_use(text: str, suggestion: str) -> None:
    with pytest.raises(ValueError, match="is not a duration") as caught:
        parse_duration(text)
    assert suggestion in str(caught.value)


@pytest.mark.parametrize("text", ["0d", "P0D", "P", "PT", ""])
def test_empty_or_zero_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_approximate_days_orders_months_and_weeks_sensibly() -> None:
    assert parse_duration("8w").approx_days < parse_duration("P2M").approx_days < parse_duration("9w").approx_days


@pytest.mark.parametrize(("text", "language", "words"), [
    ("P3M", "en", "3 months"),
    ("P3M", "nb", "3 måneder"),
    ("8w", "sv", "8 veckor"),
    ("1w", "nb", "1 uke"),
    ("17d", "en", "17 days"),
    ("P1Y2M10DT2H", "sv", "1 år 2 månader 10 dagar 2 timmar"),
    ("30d", "de", "30 days"),  # an unknown language falls back to English
])
def test_deadlines_are_described_in_words_of_the_chosen_language(text: str, language: str, words: str) -> None:
    assert parse_duration(text).describe(language) == words
