"""Deterministic topological order of a graph's nodes (networkx) and the nodes an output set needs."""
from __future__ import annotations

import networkx as nx

from .errors import GraphError
from .ir import Graph, Node


def topological_order(graph: Graph, nodes: list[Node] | None = None) -> list[Node]:
    """Nodes ordered so producers precede consumers; ties keep the graph's own order (deterministic)."""
    nodes = list(graph.nodes if nodes is None else nodes)
    index = {id(n): i for i, n in enumerate(nodes)}
    producer = {out: i for i, n in enumerate(nodes) for out in n.outputs if out}
    dag = nx.DiGraph()
    dag.add_nodes_from(range(len(nodes)))
    dag.add_edges_from((producer[i], index[id(n)]) for n in nodes for i in n.inputs if i in producer)
    try:
        return [nodes[i] for i in nx.lexicographical_topological_sort(dag)]
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(dag)
        names = " -> ".join(nodes[a].name for a, _ in cycle)
        raise GraphError(f"the graph has a cycle: {names} -> {nodes[cycle[0][0]].name}") from None


def needed_nodes(graph: Graph, outputs: list[str], stop_at: set[str] = frozenset()) -> list[Node]:
    """The nodes that the values `outputs` depend on, walking back no further than `stop_at`."""
    producers = graph.producers()
    keep, todo = set(), [o for o in outputs if o not in stop_at]
    while todo:
        node = producers.get(todo.pop())
        if node is None or id(node) in keep:
            continue
        keep.add(id(node))
        todo.extend(i for i in node.inputs if i and i not in stop_at)
    return [n for n in graph.nodes if id(n) in keep]
