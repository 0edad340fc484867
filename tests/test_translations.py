"""Every message the code wraps for translation has its Norwegian (Bokmål) and Swedish text,
with the same named placeholders, and the English original formats; the catalogues hold
nothing the code no longer says."""

from __future__ import annotations

import string
import subprocess
import sys
from pathlib import Path

import pytest

from flowengine.i18n import LANGUAGES, catalogue_path, speaking, t, tn
from flowengine.i18n.catalogue import Entry, mo_bytes, read_po
from flowengine.i18n.extraction import messages_in

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*(ROOT / "flowengine").rglob("*.py"), *(ROOT / "cli").glob("*.py")])


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _messages() -> list[tuple[str | None, str, str | None]]:
    messages, mistakes = messages_in(SOURCES, ROOT)
    assert mistakes == [], "a wrapped message must be a plain literal"
    return [(m.context, m.msgid, m.plural) for m in messages]


def test_the_code_wraps_only_plain_literals_and_the_catalogues_are_up_to_date() -> None:
    _messages()
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "catalogues"), "--check"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_every_message_has_a_translation_with_the_same_placeholders(language: str) -> None:
    entries = {entry.key: entry for entry in read_po(catalogue_path(language))[1:]}
    untranslated, wrong = [], []
    for context, msgid, plural in _messages():
        entry = entries.get((context, msgid))
        if entry is None or not entry.translated:
            untranslated.append(msgid)
            continue
        wanted = _placeholders(msgid) | (_placeholders(plural) if plural else set())
        for text in entry.msgstr:
            found = _placeholders(text)
            if found - wanted or (plural is None and found != wanted):
                wrong.append(f"{msgid!r} → {text!r}")
    assert untranslated == []
    assert wrong == []
    assert set(entries) == {(context, msgid) for context, msgid, _ in _messages()}, "entries no code uses"


def test_every_english_message_formats_with_its_own_placeholders() -> None:
    for _, msgid, plural in _messages():
        for text in (msgid, *([plural] if plural else [])):
            text.format(**{name: "x" for name in _placeholders(text)})


def test_a_message_is_shown_in_the_active_language_and_falls_back_to_english() -> None:
    assert tn("{n} day", "{n} days", 3, language="nb") == "3 dager"
    assert tn("{n} day", "{n} days", 1, language="sv") == "1 dag"
    with speaking("sv"):
        assert tn("{n} week", "{n} weeks", 2) == "2 veckor"
        assert t("{n} week", language="en") == "{n} week"
    with speaking("xx"):
        assert tn("{n} week", "{n} weeks", 2) == "2 weeks"


def test_the_compiled_catalogue_leaves_out_fuzzy_and_empty_translations(tmp_path: Path) -> None:
    import gettext
    import io

    header = "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n != 1);\n"
    entries = [Entry("", msgstr=[header]),
               Entry("kept", msgstr=["beholdt"]), Entry("rough", msgstr=["grov"], fuzzy=True),
               Entry("empty"), Entry("now", msgctxt="clock", msgstr=["nå"])]
    catalogue = gettext.GNUTranslations(io.BytesIO(mo_bytes(entries)))
    assert catalogue.gettext("kept") == "beholdt"
    assert catalogue.gettext("rough") == "rough" and catalogue.gettext("empty") == "empty"
    assert catalogue.pgettext("clock", "now") == "nå"


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "Escalated automatically: 90 days in 'Prepared by the administration' without a decision"),
    ("nb", "Eskalert automatisk: 90 dager i «Saksbehandling i administrasjonen» uten vedtak"),
    ("sv", "Eskalerat automatiskt: 90 dagar i ”Bereds i förvaltningen” utan beslut"),
])
def test_the_escalation_comment_is_written_in_the_workflow_s_language(language: str, expected: str) -> None:
    from datetime import UTC, datetime

    from flowengine.definition.loader import load_workflow
    from flowengine.service.deadlines import ESCALATE, DeadlineClock, Due, escalation_comment

    workflow = load_workflow(ROOT / "workflows" / "default" / "innovation-chain.yaml")
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    due = Due(ESCALATE, workflow.states["administration_review"], "90d", moment, DeadlineClock(moment, 1, None, False))
    assert escalation_comment(due, language) == expected
