"""A mutable working copy of a graph for the rewriting passes: nodes by position, producer and user maps
kept up to date on every edit, the values a user may ask for (never removed), fresh names. New nodes are
appended but ordered by a sort key just before or after the node they stand beside, so the result keeps the
original schedule."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..ir import Graph, LazyConst, Node, Value, unique_name


class Rewriter:
    def __init__(self, graph: Graph, keep: Iterable[str] = ()):
        self.graph = graph
        self.nodes: list[Node | None] = list(graph.nodes)
        self.values = dict(graph.values)
        self.keep = set(keep) | set(graph.outputs) | set(graph.inputs)
        self.producer: dict[str, int] = {}
        self.users: dict[str, list[int]] = {}
        self._names = {n.name for n in graph.nodes} | set(graph.values)
        self._key: list[float] = [float(k) for k in range(len(self.nodes))]  # the result's order
        for k, n in enumerate(self.nodes):
            self._index(k, n, +1)

    def _index(self, k: int, node: Node, sign: int) -> None:
        for o in node.outputs:
            if o:
                if sign > 0:
                    self.producer[o] = k
                elif self.producer.get(o) == k:
                    del self.producer[o]
        for i in node.inputs:
            if i:
                if sign > 0:
                    self.users.setdefault(i, []).append(k)
                else:
                    self.users[i].remove(k)

    # ------------------------------------------------------------------ queries
    def const(self, name: str) -> np.ndarray | None:
        v = self.values.get(name) if name else None
        return None if v is None else v.const

    def type(self, name: str):
        return self.values[name].type

    def node_of(self, name: str) -> Node | None:
        k = self.producer.get(name)
        return None if k is None else self.nodes[k]

    def sole_user(self, name: str) -> int | None:
        """The position of the one node reading `name`, if exactly one node reads it (once) and no user
        may ask for it: only then may a rewrite make the value disappear."""
        users = self.users.get(name, [])
        if name in self.keep or len(users) != 1:
            return None
        return users[0]

    def scalar(self, name: str) -> float | None:
        c = self.const(name)
        return float(c.reshape(-1)[0]) if c is not None and c.size == 1 else None

    def live(self) -> Iterable[tuple[int, Node]]:
        """(position, node) of the nodes still present, in order; safe against edits while iterating."""
        for k in range(len(self.nodes)):
            n = self.nodes[k]
            if n is not None:
                yield k, n

    def producer_and_sole_user(self, ops: tuple[str, ...]) -> Iterable[tuple[int, Node, int, Node]]:
        """(k, node, j, user): live unfused ONNX nodes of `ops` whose output only node j reads."""
        for k, node in self.live():
            if node.op not in ops or node.attr("activation") or node.domain not in ("", "ai.onnx"):
                continue
            j = self.sole_user(node.outputs[0])
            if j is not None:
                yield k, node, j, self.nodes[j]

    # ------------------------------------------------------------------ edits
    def replace(self, k: int, node: Node) -> None:
        self._index(k, self.nodes[k], -1)
        self.nodes[k] = node
        self._index(k, node, +1)

    def remove(self, k: int) -> None:
        self._index(k, self.nodes[k], -1)
        self.nodes[k] = None

    def insert(self, node: Node, before: int | None = None, after: int | None = None) -> int:
        """Adds `node`, ordered just before position `before` or just after `after` (between that node and
        its current neighbour in the order); returns its position. Passes iterating `live()` do not visit it."""
        anchor = self._key[before if before is not None else after]
        if before is not None:
            near = max((x for x in self._key if x < anchor), default=anchor - 1.0)
        else:
            near = min((x for x in self._key if x > anchor), default=anchor + 1.0)
        self.nodes.append(node)
        self._key.append((anchor + near) / 2.0)
        self._index(len(self.nodes) - 1, node, +1)
        self._names.add(node.name)
        return len(self.nodes) - 1

    def rename_uses(self, old: str, new: str) -> None:
        """Every node reading `old` reads `new` instead."""
        for k in sorted(set(self.users.get(old, []))):
            n = self.nodes[k]
            self.replace(k, Node(n.op, tuple(new if i == old else i for i in n.inputs), n.outputs, n.attrs,
                                 n.name, n.domain))

    def fresh(self, base: str) -> str:
        return unique_name(base, self._names)

    def add_value(self, name: str, type_) -> str:
        """Declares the type of a new intermediate value `name` (from `fresh`)."""
        self.values[name] = Value(name, type_)
        return name

    def add_const(self, base: str, array: np.ndarray | LazyConst) -> str:
        name = self.fresh(base)
        if not isinstance(array, LazyConst):
            array = np.ascontiguousarray(array)
        self.values[name] = Value.constant(name, array)
        return name

    def result(self) -> Graph:
        """The rewritten graph; values no node, input or output refers to any more are dropped (their
        constants are not kept alive by the new graph)."""
        order = sorted(range(len(self.nodes)), key=self._key.__getitem__)
        nodes = tuple(self.nodes[k] for k in order if self.nodes[k] is not None)
        used = self.keep | {v for n in nodes for v in (*n.inputs, *n.outputs) if v}
        values = {k: v for k, v in self.values.items() if k in used}
        return self.graph.replace(nodes=nodes, values=values)
