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
from flowengine.i18n.catalogue import Entry, _unquote, mo_bytes, read_po
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


def _read_as_python(text: str) -> object:
    import ast

    try:
        return ast.literal_eval(text)
    except SyntaxError:
        return SyntaxError


def _read_by_the_catalogue(text: str) -> object:
    try:
        return _unquote(text, "x")
    except SyntaxError:
        return SyntaxError


def test_a_catalogue_s_strings_are_read_as_python_reads_them(tmp_path: Path) -> None:
    """The reader's own unquoting (a command that speaks Norwegian or Swedish parses its
    catalogue first) gives what Python's parser gives: for every string the catalogues hold,
    for escapes they do not use, and for what is not one plain string."""
    written = [raw.strip().partition(" ")[2] if raw.startswith("msg") else raw.strip()
               for language in LANGUAGES if language != "en"
               for raw in catalogue_path(language).read_text(encoding="utf-8").splitlines()
               if raw.startswith(("msg", '"'))]
    odd = [r'"a\"b"', r'"ends in \\"', r'"tab\tand\nline"', r'"\x41\u00e5\N{BULLET}"', r'"\'"', r'"\\n"',
           r'"\b"', r'"\r\a\101"', r'"a" "b"', r'"a"b"', r'"unended\"']
    assert len(written) > 5000
    for text in [*written, *odd]:
        assert _read_by_the_catalogue(text) == _read_as_python(text), text
    po = tmp_path / "xx.po"
    po.write_text('msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                  'msgid "say \\"hi\\"\\tnow"\nmsgstr "si \\"hei\\"\\tnå"\n', encoding="utf-8")
    assert read_po(po)[1].msgstr == ['si "hei"\tnå']


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


# -- what the command line shows, in the reader's language -------------------------------------

# Modules whose every word a reader sees goes through the catalogues: a sentence written into them
# outside t(), tn(), pt() or N_() is a sentence some reader gets in English.
TRANSLATED = [
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "cli").glob("*.py"))), "flowengine/clock.py",
    "flowengine/suggest.py", "flowengine/errors.py", "flowengine/issues.py", "flowengine/definition/validation.py",
    "flowengine/definition/durations.py", "flowengine/definition/loader.py", "flowengine/definition/fields.py",
    "flowengine/service/migration_plan.py", "flowengine/service/migrating.py", "flowengine/definition/structure.py",
    "flowengine/history/inputs.py", "flowengine/engine.py",
    "flowengine/demo/building.py",
    "flowengine/views/report.py", "flowengine/views/histories.py", "flowengine/views/stall_diagram.py",
    "flowengine/views/comparison_diagram.py", "flowengine/views/workflow_diagram.py",
    "flowengine/views/figure_wording.py", "flowengine/history/provenance.py", "flowengine/i18n/formats.py",
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "flowengine" / "views" / "site").glob("*.py"))),
    "flowengine/service/steps.py", "flowengine/history/chain.py",
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "flowengine" / "store").glob("*.py"))),
    # eventlog/draft.py is left out: what it writes is a workflow file (its labels and the comments for
    # whoever edits it), in the language workflow files are written in; its refusals are wrapped.
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "flowengine" / "eventlog").glob("*.py"))
      if p.name != "draft.py"),
]
# Calls whose strings are not shown as sentences: option and argument declarations (--help is
# the command's own documentation), markup, string methods, and the wrappers themselves.
_NOT_SHOWN = {"t", "pt", "tn", "N_", "marked", "option", "argument", "command", "group", "Choice", "Remedy",
              "get", "startswith", "endswith", "replace", "split", "join", "partition", "sub", "search", "match",
              "fullmatch", "findall", "format", "strftime", "setOptionValue", "TypeVar", "getLogger",
              "NotFound"}  # its kind is one of errors.KINDS_NOT_FOUND, translated there


def _bare_sentences(path: Path) -> list[str]:
    import ast
    import re

    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in _NOT_SHOWN:
                skipped.update(id(sub) for sub in ast.walk(node))
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skipped.add(id(first.value))  # a docstring
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        if any(isinstance(target, ast.Name) and target.id.isupper() for target in targets):
            # module constants: styles, markers, keys, and the commands' one-line help (cli/main.py)
            skipped.update(id(sub) for sub in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped:
            text = node.value
            if re.search(r"[a-z]{3,} [a-z]{3,}", text) and "<" not in text and "flowengine " not in text \
                    and "--" not in text:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text[:60]!r}")
    return found


def test_the_translated_modules_write_no_sentence_outside_the_catalogues() -> None:
    found = [line for name in TRANSLATED for line in _bare_sentences(ROOT / name)]
    assert found == []


def _cli(tmp_path: Path, language: str, *args: str) -> tuple[int, str]:
    from click.testing import CliRunner
    from flowengine_cli.main import cli

    env = {"FLOWENGINE_DB": str(tmp_path / "flowengine.db"), "FLOWENGINE_LANG": language, "TZ": "UTC",
           "FLOWENGINE_NOW": "2026-03-01T10:00:00Z"}
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


LEADER = ("--as", "ola", "--role", "project_leader")


def _registered(tmp_path: Path) -> None:
    assert _cli(tmp_path, "en", "init")[0] == 0
    code, output = _cli(tmp_path, "en", "proposal", "new", "innovation-chain", "--title", "Peer support",
                        "--set", "summary=Peers in the team", *LEADER)
    assert code == 0, output


@pytest.mark.parametrize(("language", "words"), [
    ("en", ["error: cannot send_to_council INN-1", "still missing: expected_benefit", "nothing was written",
            "(fix: --set expected_benefit=…", "allowed now in panel_work"]),
    ("nb", ["feil: kan ikke utføre send_to_council på INN-1", "mangler fortsatt: expected_benefit",
            "ingenting ble skrevet", "(løsning: --set expected_benefit=…", "tillatt nå i panel_work"]),
    ("sv", ["fel: kan inte utföra send_to_council på INN-1", "saknas fortfarande: expected_benefit",
            "inget skrevs", "(åtgärd: --set expected_benefit=…", "tillåtet nu i panel_work"]),
])
def test_a_refusal_reads_in_the_reader_s_language_with_its_fix(tmp_path: Path, language: str,
                                                                words: list[str]) -> None:
    _registered(tmp_path)
    code, output = _cli(tmp_path, language, "advance", "INN-1", "send_to_council", *LEADER)
    assert code == 1
    for word in words:
        assert word in output, output


@pytest.mark.parametrize(("language", "words"), [
    ("nb", ["arbeidsflyt", "tilstand", "venter", "ansvarlig", "siste steg", "neste steg", "i denne tilstanden"]),
    ("sv", ["arbetsflöde", "tillstånd", "väntar", "ansvarig", "senaste steg", "nästa steg", "i detta tillstånd"]),
])
def test_proposal_show_list_and_history_speak_the_reader_s_language(tmp_path: Path, language: str,
                                                                      words: list[str]) -> None:
    _registered(tmp_path)
    code, shown = _cli(tmp_path, language, "proposal", "show", "INN-1")
    assert code == 0
    for word in words:
        assert word in shown, shown
    code, listed = _cli(tmp_path, language, "proposal", "list")
    assert code == 0 and words[0] in listed.splitlines()[0]  # the column names
    code, history = _cli(tmp_path, language, "history", "INN-1")
    assert code == 0 and {"nb": "opprettet", "sv": "skapat"}[language] in history
