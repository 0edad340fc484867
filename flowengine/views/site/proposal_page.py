"""One page per proposal: what was proposed and by which panel, each step with its date, the
body that took it and the reasoned answer given, where it stands now and who must act; where
the history was rebuilt from a source, where each step comes from.

What a published page may show is decided here, once (:class:`Shown`): roles, never names;
comments, notes, descriptions, fields and the source's words only where the workflow publishes
comments (or descriptions, fields); flowengine's own words (an automatic escalation) and the
kind of each step's source always, since they hold nothing personal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from flowengine.analysis.figures import Stall
from flowengine.definition.fields import display
from flowengine.definition.model import Publication, Workflow
from flowengine.definition.vocabulary import term
from flowengine.history.erasure import shown as erased
from flowengine.history.provenance import Provenance, kind_word
from flowengine.history.records import ADVANCED, CREATED, FROM_KEY, NOTED, PROGRESS, SYSTEM, Event, Proposal
from flowengine.i18n import t
from flowengine.i18n.formats import decimal, long_date
from flowengine.views.figure_wording import DASH, local_day
from flowengine.views.histories import step_name
from flowengine.views.report import rule_text
from flowengine.views.site.html import facts, link, page, source_mark
from flowengine.views.site.pages import Site, proposal_href, provenance_legend

__all__ = ["Shown", "proposal_page", "step_text"]


@dataclass(frozen=True)
class Shown:
    """What of one workflow's proposals a page may show."""

    workflow: Workflow
    internal: bool
    publication: Publication

    @property
    def free_text(self) -> bool:
        """Whether comments, notes and the source's words may be shown."""
        return self.internal or self.publication.comments

    def actor(self, event: Event, language: str) -> str:
        role = self.workflow.roles.get(event.role)
        role_label = role.label(language) if role else (t("flowengine") if event.role == SYSTEM else event.role)
        return role_label if not self.internal else f"{erased(event.actor, language)} ({role_label})"

    def comment(self, event: Event) -> str:
        if event.actor == SYSTEM and event.role == SYSTEM:
            return event.comment  # flowengine's own words
        return erased(event.comment, self.workflow.language) if self.free_text else ""

    def note(self, event: Event) -> str:
        if not self.free_text:
            return ""
        if event.kind == NOTED:
            return event.comment or str(event.details.get("note") or "")
        if event.kind != PROGRESS:
            return ""
        details = event.details
        parts = [str(details.get("note") or ""), str(details.get("milestone") or "")]
        return "; ".join(p for p in parts if p)

    def description(self, proposal: Proposal) -> str:
        return proposal.description if self.internal or self.publication.descriptions else ""

    def fields(self, values: dict[str, object]) -> list[tuple[str, str]]:
        shown = []
        for name, value in values.items():
            declared = self.workflow.fields.get(name)
            if value is None or not (self.internal or (declared is not None and declared.public
                                                        and not declared.personal)):
                continue
            shown.append((declared.label(self.workflow.language) if declared else name,
                          erased(display(value), self.workflow.language)))
        return shown


def _day(moment: datetime, zone: datetime, language: str) -> str:
    return long_date(local_day(moment, zone), language)


def _state(workflow: Workflow, state_id: str | None, language: str) -> str:
    if state_id is None:
        return DASH
    declared = workflow.states.get(state_id)
    return declared.label(language) if declared else state_id


def step_text(event: Event, workflow: Workflow, language: str) -> str:
    """What a step did, in words."""
    if event.kind == CREATED:
        return t("registered in “{state}”", state=_state(workflow, event.to_state, language))
    if event.kind == ADVANCED:
        declared = (workflow.leaving(event.from_state, event.trigger or "")
                    if event.from_state in workflow.states else None) or next(
            (x for x in workflow.transitions if x.trigger == event.trigger), None)
        action = declared.label(language) if declared else (event.trigger or "")
        return t("{action}: from “{source}” to “{target}”", action=action,
                 source=_state(workflow, event.from_state, language), target=_state(workflow, event.to_state, language))
    return step_name(event, language)


def _source(event: Event, shown: Shown) -> str:
    """Where the step comes from: its kind always, the source's words where free text is shown."""
    found = Provenance.of(event.details)
    if found is None:
        return ""
    words = f" {escape(found.basis())}" if shown.free_text else ""
    return f'<p class="source">{source_mark(found.kind, kind_word(found.kind))}{words}</p>'


def _linked(ids: Sequence[str]) -> str:
    return ", ".join(link("../" + proposal_href(pid), pid) for pid in ids)


def proposal_page(site: Site, workflow: Workflow, proposal: Proposal, events: Sequence[Event],
                  stall: Stall | None, zone: datetime, *, led_to: Sequence[str] = (),
                  published: Callable[[str], bool] = lambda pid: True) -> str:
    """``stall``: the proposal's stall, or its gap when it has gone quiet; ``led_to``: the proposals
    registered as coming from this one; ``published``: whether a proposal has a page (a link to
    one that has none is left out)."""
    language = site.language
    shown = Shown(workflow, site.internal, site.publishes(workflow))
    state = workflow.states.get(proposal.state)
    rows = [(t("workflow"), escape(workflow.label(language))),
            (t("proposed by"), escape(proposal.origin or DASH)),
            (t("registered"), escape(_day(proposal.created_at, zone, language))),
            (t("stands now"), escape(_state(workflow, proposal.state, language)
                                     + (f" ({term(state.stage, language)})" if state and state.stage else "")))]
    if state is not None and not state.final and state.owner:
        role = workflow.roles.get(state.owner)
        since = _day(proposal.state_entered_at, zone, language)
        rows.append((t("must act"), escape(t("{role}, since {date}", role=role.label(language) if role else state.owner,
                                               date=since))))
    if state is not None and state.deadline is not None and not state.final:
        rows.append((t("deadline"), escape(state.deadline.describe(language))))
    if stall is not None and stall.gone_quiet:
        silent = t("gone quiet: no record for {days} days, against a limit of {limit} days — a gap in the records, "
                   "not proof that anyone failed to act", days=decimal(stall.heard_days, language),
                   limit=decimal(stall.limit_days, language))
        rows.append((t("status"), escape(silent)))
    elif stall is not None:
        over = t("stalled: {days} days, against a limit of {limit} days ({rule})", days=decimal(stall.days, language),
                 limit=decimal(stall.limit_days, language), rule=rule_text(stall.rule, language))
        rows.append((t("status"), f'<span class="stalled">{escape(over)}</span>'))
    came_from = events[0].details.get(FROM_KEY) if events else None
    if isinstance(came_from, str) and published(came_from):
        rows.append((t("came from"), _linked([came_from])))
    if [pid for pid in led_to if published(pid)]:
        rows.append((t("led to"), _linked([pid for pid in led_to if published(pid)])))
    rows += [(name, escape(value)) for name, value in shown.fields(proposal.fields)]
    body = [facts(rows)]
    description = shown.description(proposal)
    if description:
        body.append(f"<h2>{escape(t('What was proposed'))}</h2><p>{escape(description)}</p>")
    items = []
    sourced = False
    for event in events:
        said = shown.note(event) if event.kind == NOTED else (shown.comment(event) or shown.note(event))
        answer = f"<blockquote>{escape(said)}</blockquote>" if said else ""
        source = _source(event, shown)
        sourced = sourced or bool(source)
        items.append(f'<li id="step-{event.seq}"><span class="when">{escape(_day(event.at, zone, language))}</span>'
                     f" — {escape(step_text(event, workflow, language))}; {escape(t('by'))} "
                     f"{escape(shown.actor(event, language))}{answer}{source}</li>")
    body.append(f'<h2 id="steps">{escape(t("Step by step"))}</h2><ol class="steps">{"".join(items)}</ol>')
    if sourced:
        body.append(provenance_legend())
    return page(title=f"{proposal.id} {proposal.title} — {site.title}", heading=f"{proposal.id}: {proposal.title}",
                body="".join(body), language=language, depth=1,
                crumbs=[("index.html", site.title), (f"w/{workflow.id}.html", workflow.label(language))],
                lead=site.lead("").strip(), footer=site.footer())
