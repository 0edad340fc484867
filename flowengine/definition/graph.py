"""The declared workflow as a networkx graph, and the questions asked of its shape.

Only this module imports networkx, so commands that neither lint nor analyse never pay for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import networkx as nx

from flowengine.definition.model import State, Transition, Workflow


def definition_graph(workflow: Workflow) -> nx.MultiDiGraph:
    """States as nodes, one edge per (source, trigger) pair; unknown states are left out."""
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(workflow.states)
    for transition in workflow.transitions:
        if transition.target not in workflow.states:
            continue
        for source in transition.sources:
            if source in workflow.states:
                graph.add_edge(source, transition.target, key=transition.trigger, transition=transition)
    return graph


def unreachable_states(workflow: Workflow) -> list[str]:
    """States no sequence of transitions reaches from the initial state, in file order."""
    initial = workflow.initial_state
    if initial is None:
        return []
    graph = definition_graph(workflow)
    reached = nx.descendants(graph, initial.id) | {initial.id}
    return [sid for sid in workflow.states if sid not in reached]


def trap_states(workflow: Workflow) -> list[str]:
    """Open states from which no final state can ever be reached, in file order."""
    finals = [sid for sid, state in workflow.states.items() if state.final]
    if not finals:
        return []
    graph = definition_graph(workflow)
    can_finish: set[str] = set(finals)
    for final in finals:
        can_finish |= nx.ancestors(graph, final)
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
    graph = definition_graph(workflow)
    kept = nx.MultiDiGraph()
    kept.add_nodes_from(graph.nodes)
    for source, target, data in graph.edges(data=True):
        if not avoid_transition(data["transition"]):
            kept.add_edge(source, target)
    target_set = set(targets)
    blocked = [sid for sid, state in workflow.states.items() if avoid_state(state) and sid not in target_set]
    kept.remove_nodes_from(blocked)
    found: dict[str, list[str]] = {}
    for target in targets:
        if target in kept and nx.has_path(kept, initial.id, target):
            found[target] = nx.shortest_path(kept, initial.id, target)
    return found
