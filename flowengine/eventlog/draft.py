"""A workflow drafted from a log's directly-follows graph: states from activities, transitions
from the pairs of activities that follow each other, written as commented YAML that validates as
it is and imports the same log.

- **States**: one per activity, its id made from the name, labelled with the name itself (so
  the import finds it without a map), in the order cases pass them.
- **Transitions**: one trigger per state, named after it, from every activity the log shows
  directly before it whose share of that activity's directly-follows pairs is at least
  ``min_share``; the pairs below it are left out as noise and listed. A pair is kept after all
  when leaving it out would make a state unreachable or leave it with no way to an end.
- **Initial state**: the activity most cases start with. A case starting with another activity
  is created in the initial state and stepped at once to its own first state (a stay of zero
  length, as the import records it), so the initial state gets a transition to each other
  start activity.
- **Final states**: the end activities that no event ever follows. An activity that ends some
  cases but is followed in others stays open (a case ending there counts as waiting), and the
  file says so; when some state could then reach no end at all, a final state ``ended`` that
  no log event enters is added after it, for a user to close such cases by hand.
- **Stages and outcomes** are guessed from the words of the activity's name where they say it
  (review, decision, implementation…); where they do not, the state gets the administration
  stage and a comment asking the user to set it. **Roles**: the log's own (``org:role``) when
  they are usable ids, each state owned by the role that most often leaves it; else one role,
  ``staff``, owning every state. No deadlines: a log knows none.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from flowengine.errors import InvalidInput, Remedy
from flowengine.eventlog.discovery import LogProfile, profile
from flowengine.i18n import N_, marked, t

DEFAULT_ROLE = "staff"
ENDED = "ended"  # the final state added when some state cannot reach an end
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_WORKFLOW_ID = re.compile(r"^[a-z][a-z0-9_-]*$")
_PREFIX = re.compile(r"^[A-Z]{2,6}$")
_RULES = {"workflow id": (N_("'{value}' is not a usable workflow id (lowercase letters, digits, '-' and '_', "
                             "starting with a letter)")),
          "prefix": N_("'{value}' is not a usable prefix (2 to 6 capital letters)")}
_RESERVED_TRIGGERS = ("trigger", "state")
_RESERVED_PREFIXES = ("is_", "to_", "may_")
_MAX_ID = 60

# Words in an activity's name that say its stage (English, the Nordic languages, Dutch, Italian).
_STAGE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("evaluation", ("evaluat", "review", "assess", "audit", "appeal", "advice", "advis", "evaluer", "utvärder",
                    "beoordel", "ricorso", "revisjon", "revision")),
    ("political", ("politic", "committee", "board", "council decision", "decide", "decision", "approv", "vedtak",
                   "beslut", "besluit", "nämnd", "utvalg")),
    ("implementation", ("implement", "payment", "pay ", "execut", "deliver", "carry out", "gjennomfør",
                        "genomför", "uitvoer", "pagamento")),
    ("council", ("council", "brukerråd", "brukarråd", "råd ")),
    ("panel", ("panel", "proposal", "suggest", "idea", "forslag", "förslag")),
)
_OUTCOME_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("partially_implemented", ("partial", "delvis")),
    ("rejected", ("reject", "denied", "deny", "declin", "refus", "avslå", "avslag", "afgewezen", "weiger")),
    ("withdrawn", ("withdraw", "cancel", "abort", "trukket", "återkall", "ingetrokken")),
    ("transferred", ("transfer", "credit collection", "forward", "hand over", "overført", "överför")),
    ("parked", ("park", "suspend", "on hold", "postpone", "utsatt")),
    ("merged", ("merge", "slått sammen", "sammanslag")),
)


@dataclass
class DraftState:
    id: str
    activity: str
    count: int
    stage: str | None  # None for a final state
    stage_guessed: bool
    owner: str | None
    final: bool = False
    outcome: str | None = None
    outcome_guessed: bool = False
    initial: bool = False
    ends: int = 0  # cases that end here
    followed: int = 0  # events that follow it
    starts: int = 0  # cases that start here


@dataclass
class DraftTransition:
    trigger: str
    target: str
    sources: list[tuple[str, int]]  # (state id, how often the log takes it; 0: added, not in the log)


@dataclass
class Draft:
    """A drafted workflow and how it was drawn from the log."""

    id: str
    prefix: str
    log: str
    cases: int
    events: int
    min_share: float
    states: list[DraftState]
    transitions: list[DraftTransition]
    roles: list[str]
    roles_from_log: bool
    dropped: list[tuple[str, str, int, float]] = field(default_factory=list)  # (from, to, times, share)
    restored: list[tuple[str, str, int, float]] = field(default_factory=list)  # kept below the share: needed
    dropped_cases: int = 0  # cases that take a left-out pair (they will not fit)
    naive_times: int = 0
    left_out: int = 0
    first_left_out: str | None = None
    skipped: int = 0

    @property
    def pairs(self) -> int:
        return sum(1 for t in self.transitions for _, n in t.sources if n)

    def state(self, sid: str) -> DraftState:
        return next(s for s in self.states if s.id == sid)


def discover_workflow(path: str | Path, *, fmt: str | None = None, mapping: Mapping[str, str] | None = None,
                      min_share: float = 0.0, workflow_id: str | None = None, prefix: str | None = None,
                      hint: Callable[[Remedy], str] | None = None) -> tuple[Draft, str]:
    """The workflow a log suggests, and its text: :func:`draft_workflow` of the log's profile."""
    if not 0 <= min_share <= 1:
        raise InvalidInput(t("a share of directly-follows pairs is between 0 and 1, not {share}", share=min_share))
    for value, what, pattern in ((workflow_id, "workflow id", _WORKFLOW_ID), (prefix, "prefix", _PREFIX)):
        if value is not None and not pattern.match(value):
            raise InvalidInput(marked(_RULES[what], value=value))
    draft = draft_workflow(profile(path, fmt=fmt, mapping=mapping), min_share=min_share, workflow_id=workflow_id,
                           prefix=prefix)
    if not draft.states:
        left_out = " (" + t("the first row left out: {row}", row=draft.first_left_out) + ")" \
            if draft.first_left_out else ""
        raise InvalidInput(t("{path} has no case with a finished event whose activity and time can be read",
                             path=Path(path).name) + left_out)
    return draft, draft_text(draft, hint or _in_own_words)


def draft_workflow(found: LogProfile, *, min_share: float = 0.0, workflow_id: str | None = None,
                   prefix: str | None = None) -> Draft:
    """The workflow :func:`flowengine.eventlog.discovery.profile` suggests; see the module's text."""
    activities = found.activities()
    pairs, starts, ends = found.pairs(), found.starts(), found.ends()
    ids = _state_ids(activities, _order(pairs, starts, activities))
    leaving = Counter[str]()
    for (source, _), times in pairs.items():
        leaving[source] += times
    share = {pair: times / leaving[pair[0]] for pair, times in pairs.items()}
    kept = {pair for pair in pairs if share[pair] >= min_share}
    initial = sorted(starts, key=lambda a: (-starts[a], a))[0] if starts else ""
    finals = {a for a in ends if not leaving[a] and a != initial}
    edges = {(initial, start) for start in starts if start != initial}
    restored = _restore(pairs, kept, edges, initial, finals)
    kept |= restored
    roles, from_log = _roles(found)
    states = []
    for activity, sid in ids.items():
        final = activity in finals
        stage, guessed = (None, True) if final else _guess(activity, _STAGE_WORDS, "administration")
        outcome, outcome_guessed = _guess(activity, _OUTCOME_WORDS, "implemented") if final else (None, True)
        owner = None if final else _owner(found, activity, roles, from_log)
        states.append(DraftState(sid, activity, activities[activity], stage, guessed, owner, final, outcome,
                                 outcome_guessed, activity == initial, ends[activity], leaving[activity],
                                 starts[activity]))
    by_target: dict[str, list[tuple[str, int]]] = {}
    for activity in ids:  # sources in the order of the states
        for target in ids:
            if (activity, target) in kept:
                by_target.setdefault(target, []).append((ids[activity], pairs[(activity, target)]))
            elif (activity, target) in edges:
                by_target.setdefault(target, []).append((ids[activity], 0))
    transitions = [DraftTransition(_trigger(ids[target], set(ids.values())), ids[target], sources)
                   for target, sources in ((t, by_target[t]) for t in ids if t in by_target)]
    draft = Draft(workflow_id or _workflow_id(found.name), prefix or "", found.name, found.cases, found.events,
                  min_share, states, transitions, roles, from_log, naive_times=found.naive_times,
                  left_out=found.left_out, first_left_out=found.first_left_out, skipped=found.skipped)
    draft.prefix = prefix or _prefix(draft.id)
    draft.dropped = sorted(((ids[a], ids[b], n, share[(a, b)]) for (a, b), n in pairs.items()
                            if (a, b) not in kept), key=lambda d: (-d[2], d[0], d[1]))
    draft.restored = sorted(((ids[a], ids[b], pairs[(a, b)], share[(a, b)]) for a, b in restored),
                            key=lambda d: (-d[2], d[0], d[1]))
    left = {(a, b) for (a, b) in pairs if (a, b) not in kept}
    draft.dropped_cases = sum(n for trace, n in found.variants.items()
                              if any(pair in left for pair in pairwise(trace)))
    _close_traps(draft)
    return draft


def _restore(pairs: Counter[tuple[str, str]], kept: set[tuple[str, str]], edges: set[tuple[str, str]],
             initial: str, finals: set[str]) -> set[tuple[str, str]]:
    """Pairs below the share that are kept after all: the most frequent first, until every
    activity is reachable from the initial one and every one that can reach an end does."""
    restored: set[tuple[str, str]] = set()
    ranked = sorted(pairs, key=lambda p: (-pairs[p], p))
    while True:
        graph = kept | restored | edges
        reach = _reachable({initial}, graph)
        missing = next((p for p in ranked if p not in kept | restored and p[0] in reach and p[1] not in reach), None)
        if missing is None:
            break
        restored.add(missing)
    while True:
        graph = kept | restored | edges
        ending = _reachable(finals, {(b, a) for a, b in graph})
        missing = next((p for p in ranked if p not in kept | restored and p[0] not in ending and p[1] in ending),
                       None)
        if missing is None:
            return restored
        restored.add(missing)


def _reachable(start: set[str], edges: Iterable[tuple[str, str]]) -> set[str]:
    following: dict[str, set[str]] = {}
    for a, b in edges:
        following.setdefault(a, set()).add(b)
    seen, todo = set(start), list(start)
    while todo:
        for b in following.get(todo.pop(), ()):
            if b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


def _close_traps(draft: Draft) -> None:
    """A final state ``ended`` (entered by no log event) after every state that cannot reach an end."""
    finals = {s.id for s in draft.states if s.final}
    edges = {(source, t.target) for t in draft.transitions for source, _ in t.sources}
    ending = _reachable(finals, {(b, a) for a, b in edges})
    traps = [s.id for s in draft.states if not s.final and s.id not in ending]
    if not traps:
        return
    taken = {s.id for s in draft.states} | {s.activity for s in draft.states}
    ended = ENDED
    while ended in taken:
        ended += "_"
    draft.states.append(DraftState(ended, "", 0, None, False, None, True, "implemented", True))
    ends = [sid for sid in traps if draft.state(sid).ends]
    sources = ends or traps
    if ends:  # the states the log ends cases in; the others may reach them
        rest = _reachable(set(ends), {(b, a) for a, b in edges})
        sources = ends + [sid for sid in traps if sid not in rest]
    draft.transitions.append(DraftTransition(_trigger(ended, taken), ended, [(sid, 0) for sid in sources]))


def _roles(found: LogProfile) -> tuple[list[str], bool]:
    """The log's roles when every one is a usable id, else the one default role."""
    named = set(found.first_roles)
    for counts in found.leaving_roles.values():
        named.update(counts)
    if named and all(_ID.match(role) and len(role) <= _MAX_ID for role in named):
        return sorted(named), True
    return [DEFAULT_ROLE], False


def _owner(found: LogProfile, activity: str, roles: list[str], from_log: bool) -> str:
    if not from_log:
        return roles[0]
    counts = found.leaving_roles.get(activity) or found.first_roles
    return sorted(counts, key=lambda r: (-counts[r], r))[0] if counts else roles[0]


def _guess(activity: str, table: tuple[tuple[str, tuple[str, ...]], ...], fallback: str) -> tuple[str, bool]:
    """(the value the name's words say, True) or (``fallback``, False)."""
    name = f" {activity.lower()} "
    for value, words in table:
        if any(word in name for word in words):
            return value, True
    return fallback, False


def _slug(text: str, joiner: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return joiner.join(re.findall(r"[a-z0-9]+", plain))


def _order(pairs: Counter[tuple[str, str]], starts: Counter[str], activities: Counter[str]) -> list[str]:
    """The activities in the order the main flow passes them: from the most common start, each
    time the one the most frequent pair leads to from those already placed; never-followed ones last."""
    placed: list[str] = []
    seen: set[str] = set()
    candidates = sorted(starts, key=lambda a: (-starts[a], a))[:1] or sorted(activities)[:1]
    while candidates:
        chosen = candidates[0]
        placed.append(chosen)
        seen.add(chosen)
        best: dict[str, int] = {}
        for (a, b), times in pairs.items():
            if a in seen and b not in seen:
                best[b] = max(best.get(b, 0), times)
        for start in starts:
            if start not in seen:
                best.setdefault(start, 0)
        candidates = sorted(best, key=lambda b: (-best[b], b))
    rest = sorted(a for a in activities if a not in seen)
    leading = {a for a, _ in pairs}
    return [a for a in placed if a in leading] + [a for a in placed if a not in leading] + rest


def _state_ids(activities: Counter[str], order: list[str]) -> dict[str, str]:
    """Activity → state id, in ``order``: the name in lower case with ``_``, never another
    activity's name (the import finds states by id before label)."""
    names = set(activities)
    ids: dict[str, str] = {}
    used: set[str] = set()
    for activity in order:
        base = _slug(activity, "_")[:_MAX_ID] or "activity"
        if not base[0].isalpha():
            base = "a_" + base
        sid, number = base, 1
        while sid in used or (sid in names and sid != activity):
            number += 1
            sid = f"{base}_{number}"
        used.add(sid)
        ids[activity] = sid
    return ids


def _trigger(target: str, taken: set[str]) -> str:
    """The trigger into ``target``: its id, unless the engine reserves that name."""
    if target in _RESERVED_TRIGGERS or target.startswith(_RESERVED_PREFIXES):
        return f"go_{target}"
    return target


def _workflow_id(log_name: str) -> str:
    stem = log_name
    for suffix in (".gz", ".csv", ".xes", ".json", ".jsonocel"):
        stem = stem[:-len(suffix)] if stem.lower().endswith(suffix) else stem
    slug = _slug(stem, "-")[:_MAX_ID]
    return slug if slug[:1].isalpha() else f"log-{slug}" if slug else "discovered"


def _prefix(workflow_id: str) -> str:
    """2 to 6 capital letters from the id: its words' initials, else its first letters."""
    words = [w for w in re.split(r"[-_0-9]+", workflow_id) if w]
    initials = "".join(w[0] for w in words).upper()[:6]
    if len(initials) >= 2:
        return initials
    letters = re.sub(r"[^a-z]", "", workflow_id).upper()
    return (letters[:3] if len(letters) >= 2 else (letters + "LOG")[:3])


# -- the YAML text -----------------------------------------------------------------------------

def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def _pct(share: float) -> str:
    return f"{100 * share:.1f} %"


def _in_own_words(remedy: Remedy) -> str:
    return " ".join(part for part in (remedy.kind.replace("_", " "), remedy.name) if part)


def draft_text(draft: Draft, hint: Callable[[Remedy], str] = _in_own_words) -> str:
    """The draft as a workflow file, with comments saying what was guessed and what to check;
    ``hint`` writes a remedy as the caller's user types it (the command line: as an option)."""
    lines = [
        f"# Drafted by `flowengine workflow discover` from {draft.log}: {draft.cases:,} cases, {draft.events:,} "
        "events.",
        "# One state per activity (labelled with its name, so the log needs no map to import); a transition",
        "# for each pair of activities that directly follow each other"
        + (f" in at least {_pct(draft.min_share)} of the pairs leaving the first." if draft.min_share else "."),
    ]
    others = [s for s in draft.states if s.starts and not s.initial]
    initial = next((s for s in draft.states if s.initial), None)
    if initial is not None:
        lines.append(f"# Initial state: {initial.id} ({initial.starts:,} cases start there).")
    if others:
        lines += [f"# {sum(s.starts for s in others):,} cases start elsewhere ({', '.join(s.id for s in others)}): "
                  "the import creates them in", f"# {initial.id if initial else '?'} and steps them at once to their "
                  "first state, a stay of zero length."]
    if draft.dropped:
        lines.append(f"# Left out as noise: {len(draft.dropped)} pair(s) below the share, taken by "
                     f"{draft.dropped_cases:,} case(s), which will not fit (import the others with "
                     f"{hint(Remedy('keep_going'))},")
        lines.append(f"# or lower {hint(Remedy('min_share'))}):")
        lines += [f"#   {a} → {b}: {n:,} times, {_pct(share)}" for a, b, n, share in draft.dropped[:20]]
        if len(draft.dropped) > 20:
            lines.append(f"#   … and {len(draft.dropped) - 20} more")
    if draft.restored:
        lines.append("# Kept below the share, since a state would otherwise be unreachable or have no way to an end:")
        lines += [f"#   {a} → {b}: {n:,} times, {_pct(share)}" for a, b, n, share in draft.restored]
    if draft.naive_times:
        lines.append(f"# {draft.naive_times:,} times have no UTC offset: import with {hint(Remedy('assume_utc'))}.")
    lines += [
        "# Check the stages (and the outcomes of final states) where a comment says they were not guessed,",
        "# add deadlines where the process has them, then:",
        f"#   flowengine workflow validate {draft.id}.yaml",
        f"#   flowengine import {draft.log} {hint(Remedy('workflow', f'{draft.id}.yaml'))}",
        "",
        f"id: {draft.id}",
        "version: 1",
        f"prefix: {draft.prefix}",
        f"title: {_q('Discovered from ' + draft.log)}",
        "",
        "roles:",
    ]
    for role in draft.roles:
        described = "a role of the log (org:role)" if draft.roles_from_log else "whoever acts in the log"
        lines.append(f"  {role}: {{description: {_q(described)}}}")
    lines += ["", "states:"]
    for state in draft.states:
        lines += _state_lines(state)
    lines += ["", "# One trigger per state, named after it, from every state the log shows directly before it",
              "# (with how often); 0: added, not a pair of the log.", "transitions:"]
    for transition in draft.transitions:
        counts = ", ".join(f"{source} {times:,}" for source, times in transition.sources)
        lines += [f"  - trigger: {transition.trigger}  # {counts}",
                  f"    from: [{', '.join(source for source, _ in transition.sources)}]",
                  f"    to: {transition.target}"]
    return "\n".join(lines) + "\n"


def _state_lines(state: DraftState) -> list[str]:
    notes = []
    if state.activity:
        notes.append(f"{state.count:,} event{'s' if state.count != 1 else ''}")
    if state.final:
        notes.append(f"ends {state.ends:,} cases" if state.ends else "entered by no event of the log: added so that "
                     "every state can reach an end; close cases here by hand")
        if not state.outcome_guessed:
            notes.append("outcome not guessed from the name: check it")
    else:
        if state.ends:
            notes.append(f"ends {state.ends:,} cases but {state.followed:,} events follow it: kept open, so a case "
                         "ending here counts as waiting")
        if not state.stage_guessed:
            notes.append("stage not guessed from the name: set it")
    parts = []
    if state.initial:
        parts.append("initial: true")
    if state.final:
        parts += ["final: true", f"outcome: {state.outcome}"]
    else:
        parts += [f"stage: {state.stage}", f"owner: {state.owner}"]
    if state.activity:
        parts.append(f"labels: {{en: {_q(state.activity)}}}")
    else:
        parts.append(f"labels: {{en: {_q('Ended (not in the log)')}}}")
    return [f"  # {'; '.join(notes)}", f"  {state.id}: {{{', '.join(parts)}}}"]
