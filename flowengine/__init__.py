"""flowengine: the innovation decision chain of municipal services, made explicit.

The public API is what this package exports (``__all__``); import it from here —
``from flowengine import FlowEngine, Actor`` — since the modules behind it are free to move.
The library never prints and never exits; the command line in ``flowengine_cli`` does.

Names other than the errors are loaded on first use, so importing ``flowengine`` costs nothing
a command does not need (``flowengine --help`` imports neither SQLAlchemy nor YAML).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flowengine.errors import (
    AccessDenied,
    AmbiguousWorkflow,
    ConflictError,
    DefinitionError,
    FlowEngineError,
    InvalidInput,
    NotFound,
    Refused,
    Remedy,
    StoreError,
    TransitionRefused,
    Unfinished,
)

if TYPE_CHECKING:
    from flowengine.analysis.figures import Analysis, Privacy
    from flowengine.definition.loader import CheckResult, check_file, check_text, load_workflow
    from flowengine.definition.model import Workflow
    from flowengine.definition.registry import find_workflow, search_dirs
    from flowengine.eventlog.draft import discover_workflow
    from flowengine.eventlog.export import export_to_file
    from flowengine.eventlog.importer import Fitness, ImportReport, LogRejected, import_log
    from flowengine.history.chain import ChainBreak
    from flowengine.history.provenance import Provenance
    from flowengine.history.records import Actor, Event, Proposal
    from flowengine.issues import Issue
    from flowengine.proof.checkpoint import Checkpoint
    from flowengine.proof.checkpoint import read_all as read_checkpoints
    from flowengine.proof.keyfiles import read_public as read_public_key
    from flowengine.proof.keyfiles import read_signer as read_signing_key
    from flowengine.service.checkpoints import CheckpointReport
    from flowengine.service.facade import FlowEngine
    from flowengine.service.results import AuditReport, Lineage, Standing, StepResult
    from flowengine.views.workflow_diagram import render, workflow_diagram, workflow_to_dot

from flowengine.version import __version__

_LAZY = {
    "FlowEngine": "flowengine.service.facade",
    "Standing": "flowengine.service.results",
    "StepResult": "flowengine.service.results",
    "AuditReport": "flowengine.service.results",
    "Lineage": "flowengine.service.results",
    "Provenance": "flowengine.history.provenance",
    "Actor": "flowengine.history.records",
    "Event": "flowengine.history.records",
    "Proposal": "flowengine.history.records",
    "ChainBreak": "flowengine.history.chain",
    "Workflow": "flowengine.definition.model",
    "CheckResult": "flowengine.definition.loader",
    "check_file": "flowengine.definition.loader",
    "check_text": "flowengine.definition.loader",
    "load_workflow": "flowengine.definition.loader",
    "find_workflow": "flowengine.definition.registry",
    "search_dirs": "flowengine.definition.registry",
    "Issue": "flowengine.issues",
    "Analysis": "flowengine.analysis.figures",
    "Privacy": "flowengine.analysis.figures",
    "render": "flowengine.views.workflow_diagram",
    "workflow_diagram": "flowengine.views.workflow_diagram",
    "workflow_to_dot": "flowengine.views.workflow_diagram",
    "import_log": "flowengine.eventlog.importer",
    "ImportReport": "flowengine.eventlog.importer",
    "LogRejected": "flowengine.eventlog.importer",
    "export_to_file": "flowengine.eventlog.export",
    "discover_workflow": "flowengine.eventlog.draft",
    "Fitness": "flowengine.eventlog.importer",
    "Checkpoint": "flowengine.proof.checkpoint",
    "CheckpointReport": "flowengine.service.checkpoints",
}
_RENAMED = {  # public name → (module, its name there)
    "read_checkpoints": ("flowengine.proof.checkpoint", "read_all"),
    "read_signing_key": ("flowengine.proof.keyfiles", "read_signer"),
    "read_public_key": ("flowengine.proof.keyfiles", "read_public"),
}

__all__ = [
    "AccessDenied",
    "Actor",
    "AmbiguousWorkflow",
    "Analysis",
    "AuditReport",
    "ChainBreak",
    "CheckResult",
    "Checkpoint",
    "CheckpointReport",
    "ConflictError",
    "DefinitionError",
    "Event",
    "Fitness",
    "FlowEngine",
    "FlowEngineError",
    "ImportReport",
    "InvalidInput",
    "Issue",
    "Lineage",
    "LogRejected",
    "NotFound",
    "Privacy",
    "Proposal",
    "Provenance",
    "Refused",
    "Remedy",
    "Standing",
    "StepResult",
    "StoreError",
    "TransitionRefused",
    "Unfinished",
    "Workflow",
    "__version__",
    "check_file",
    "check_text",
    "discover_workflow",
    "export_to_file",
    "find_workflow",
    "import_log",
    "load_workflow",
    "read_checkpoints",
    "read_public_key",
    "read_signing_key",
    "render",
    "search_dirs",
    "workflow_diagram",
    "workflow_to_dot",
]


def __getattr__(name: str) -> Any:
    module, attribute = _RENAMED.get(name) or (_LAZY.get(name), name)
    if module is None:
        raise AttributeError(f"module 'flowengine' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
