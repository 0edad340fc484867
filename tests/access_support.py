"""What the tests of who may act share: two municipalities' workflows, each with its own prefix."""

from __future__ import annotations

from pathlib import Path

MUNICIPAL = """\
id: {id}
version: 1
prefix: {prefix}
roles:
  project_leader: {{}}
  politician: {{}}
states:
  draft:
    initial: true
    stage: panel
    owner: project_leader
  political_review:
    stage: political
    owner: politician
  decided:
    final: true
    outcome: implemented
transitions:
  - trigger: send
    from: draft
    to: political_review
    roles: [project_leader]
  - trigger: decide
    from: political_review
    to: decided
    roles: [politician]
"""


def municipal_workflows(folder: Path) -> Path:
    """Workflows ``melhus`` (MEL-…) and ``trondheim`` (TRD-…) in ``folder``."""
    for wid, prefix in (("melhus", "MEL"), ("trondheim", "TRD")):
        (folder / f"{wid}.yaml").write_text(MUNICIPAL.format(id=wid, prefix=prefix), encoding="utf-8")
    return folder
