"""The questions asked of a workflow's shape: what the initial state reaches, what can still
finish, and which outcomes can be reached while avoiding a kind of state or step.

Every answer takes time linear in the states and the transitions *as written*: a transition
``from: "*"`` stays one edge from a stand-in node that every open state leads to, instead of one
edge per open state (2,000 states with such transitions would otherwise be four million edges).
Plain breadth-first searches; no graph library.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from flowengine.definition.model import State, Transition, Workflow

_ANY = "*"  # the stand-in for "any open state"; never a state id (ids are words)


def _successors(workflow: Workflow, keep: Callable[[Transition], bool] = lambda t: True) -> dict[str, list[str]]:
    """Each state's next states in file order; open states lead to ``_ANY`` when a kept transition
    comes from any state, and ``_ANY`` leads to those transitions' targets."""
    states = workflow.states
    following: dict[str, list[str]] = {sid: [] for sid in states}
    from_any: list[str] = []
    any_sources: dict[int, tuple[str, ...]] = {}
    for transition in workflow.transitions:
        if transition.target not in states or not keep(transition):
            continue
        if transition.from_any:
            from_any.append(transition.target)
            any_sources.setdefault(id(transition.sources), transition.sources)
            continue
        for source in transition.sources:
            if source in following:
                following[source].append(transition.target)
    if from_any:
        following[_ANY] = list(dict.fromkeys(from_any))
        for sources in any_sources.values():
            for source in sources:
                if source in following and _ANY not in following[source][-1:]:
                    following[source].append(_ANY)
    return following


def _reached(following: dict[str, list[str]], start: Iterable[str], blocked: frozenset[str] = frozenset()) \
        -> set[str]:
    seen = {s for s in start if s not in blocked}
    queue = deque(seen)
    while queue:
        for nxt in following.get(queue.popleft(), ()):
            if nxt not in seen and nxt not in blocked:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def unreachable_states(workflow: Workflow) -> list[str]:
    """States no sequence of transitions reaches from the initial state, in file order."""
    initial = workflow.initial_state
    if initial is None:
        return []
    reached = _reached(_successors(workflow), [initial.id])
    return [sid for sid in workflow.states if sid not in reached]


def trap_states(workflow: Workflow) -> list[str]:
    """Open states from which no final state can ever be reached, in file order."""
    finals = [sid for sid, state in workflow.states.items() if state.final]
    if not finals:
        return []
    preceding: dict[str, list[str]] = {}
    for source, targets in _successors(workflow).items():
        for target in targets:
            preceding.setdefault(target, []).append(source)
    can_finish = _reached(preceding, finals)
    return [sid for sid, state in workflow.states.items() if not state.final and sid not in can_finish]


def bypass_paths(
    workflow: Workflow,
    avoid_state: Callable[[State], bool],
    avoid_transition: Callable[[Transition], bool],
    targets: Iterable[str],
) -> dict[str, list[str]]:
    """For each target reachable from the initial state while avoiding the marked states and
    transitions, one shortest such path (the target itself is never avoided)."""
    initial = workflow.initial_state
    if initial is None or avoid_state(initial):
        return {}
    wanted = list(targets)
    target_set = set(wanted)
    blocked = frozenset(sid for sid, state in workflow.states.items() if avoid_state(state) and sid not in target_set)
    following = _successors(workflow, lambda t: not avoid_transition(t))
    # Breadth first in steps: the hop into the stand-in costs nothing (0-1 search), so a path
    # through a "from any state" transition is as long as the one step it is.
    parent: dict[str, str | None] = {initial.id: None}
    distance = {initial.id: 0}
    queue: deque[str] = deque([initial.id])
    while queue:
        node = queue.popleft()
        for nxt in following.get(node, ()):
            if nxt in blocked:
                continue
            cost = distance[node] + (0 if nxt == _ANY else 1)
            if nxt not in distance or cost < distance[nxt]:
                distance[nxt] = cost
                parent[nxt] = node
                if nxt == _ANY:
                    queue.appendleft(nxt)
                else:
                    queue.append(nxt)
    found: dict[str, list[str]] = {}
    for target in wanted:
        if target not in parent or target in found:
            continue
        path: list[str] = []
        step: str | None = target
        while step is not None:
            if step != _ANY:
                path.append(step)
            step = parent[step]
        found[target] = path[::-1]
    return found
