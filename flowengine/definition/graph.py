"""The questions asked of a workflow's shape: what the initial state reaches, what can still
finish, and which outcomes can be reached while avoiding a kind of state or step — answered by
networkx (the only importer of it), on a graph the size of the file.

The graph holds the transitions *as written*: a transition ``from: "*"`` stays one edge from a
stand-in node that every open state leads to, instead of one edge per open state (2,000 states
with such transitions would otherwise be four million edges). Reachability is then linear in
states and transitions; shortest bypass paths are Dijkstra's, n·log n, with the hop into the
stand-in free, so a path through a "from any state" transition is as long as the one step it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import networkx as nx

from flowengine.definition.model import State, Transition, Workflow

_ANY = "*"  # the stand-in for "any open state"; never a state id (ids are words)
_FINISHED = "$finished"  # the sink every final state leads to; never a state id either
_STEP = "steps"  # the edge attribute Dijkstra reads: 1 per real step, 0 into the stand-in


def _graph(workflow: Workflow, keep: Callable[[Transition], bool] = lambda t: True) -> nx.DiGraph:
    """States as nodes (in file order), kept transitions as edges; from-any transitions through
    ``_ANY``, which the states those transitions come from (all open ones) lead into."""
    states = workflow.states
    graph = nx.DiGraph()
    graph.add_nodes_from(states)
    any_sources: dict[int, tuple[str, ...]] = {}
    for transition in workflow.transitions:
        if transition.target not in states or not keep(transition):
            continue
        if transition.from_any:
            graph.add_edge(_ANY, transition.target, **{_STEP: 1})
            any_sources.setdefault(id(transition.sources), transition.sources)
            continue
        graph.add_edges_from(((source, transition.target) for source in transition.sources if source in states),
                             **{_STEP: 1})
    for sources in any_sources.values():
        graph.add_edges_from(((source, _ANY) for source in sources if source in states), **{_STEP: 0})
    return graph


def unreachable_states(workflow: Workflow) -> list[str]:
    """States no sequence of transitions reaches from the initial state, in file order."""
    initial = workflow.initial_state
    if initial is None:
        return []
    graph = _graph(workflow)
    reached = nx.descendants(graph, initial.id) | {initial.id}
    return [sid for sid in workflow.states if sid not in reached]


def trap_states(workflow: Workflow) -> list[str]:
    """Open states from which no final state can ever be reached, in file order."""
    finals = [sid for sid, state in workflow.states.items() if state.final]
    if not finals:
        return []
    graph = _graph(workflow)
    graph.add_edges_from((sid, _FINISHED) for sid in finals)
    can_finish = nx.ancestors(graph, _FINISHED)
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
    blocked = {sid for sid, state in workflow.states.items() if avoid_state(state) and sid not in target_set}
    graph = _graph(workflow, lambda t: not avoid_transition(t))
    graph.remove_nodes_from(blocked)
    _, paths = nx.single_source_dijkstra(graph, initial.id, weight=_STEP)
    return {target: [step for step in paths[target] if step != _ANY] for target in dict.fromkeys(wanted)
            if target in paths}
