"""One small fixture file per validation rule, each declaring exactly what it must produce.

A fixture's header lines ``# expect: CODE LINE:COLUMN text`` list every issue the linter must
report (code, place, and a piece of the message); nothing more, nothing less. Fixtures whose
name contains ``strict`` are checked with ``--strict``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flowengine.definition.loader import check_file
from flowengine.issues import Severity

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "rules").glob("*.yaml"))
_EXPECT = re.compile(
    r"#\s*expect:\s*(?P<sev>error|warning)\s+(?P<code>FE\d{3})\s+(?P<line>\d+):(?P<col>\d+)\s+(?P<text>.+)"
)


def _expectations(path: Path) -> list[tuple[str, str, int, int, str]]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _EXPECT.match(line.strip())
        if match:
            found.append((match["sev"], match["code"], int(match["line"]), int(match["col"]), match["text"].strip()))
    return found


def test_every_rule_code_has_a_fixture() -> None:
    codes = {code for path in FIXTURES for _, code, _, _, _ in _expectations(path)}
    documented = set(re.findall(r"\bFE\d{3}\b", (Path(__file__).parent.parent / "docs" / "workflow-language.md")
                                .read_text(encoding="utf-8")))
    # Load-time codes (FE0xx) are covered by test_yamlsafe.py's hostile inputs.
    missing = sorted(c for c in documented if not c.startswith("FE0") and c not in codes)
    assert not missing, f"no fixture in tests/fixtures/rules for {missing}"


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_reports_exactly_its_expected_issues(path: Path) -> None:
    expected = _expectations(path)
    assert expected, f"{path.name} declares no '# expect:' line"
    result = check_file(path, strict="strict" in path.stem)
    got = {(i.severity.value, i.code, i.location.line, i.location.column): i for i in result.issues}
    assert sorted(got) == sorted((sev, code, line, col) for sev, code, line, col, _ in expected), \
        "\n".join(i.format() for i in result.issues)
    for sev, code, line, col, text in expected:
        issue = got[(sev, code, line, col)]
        assert text in issue.message + " (" + issue.hint + ")", issue.format()
        assert issue.location.file == str(path)
        assert issue.hint, f"{code} gives no hint on how to fix it"
        assert issue.severity is Severity(sev)
