"""The graph IR: typed values (dtype + shape on every edge), nodes, graphs and their structural checks.

Imports nothing from the frontends, the planner or any backend.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import dtypes
from .dtypes import DType
from .errors import GraphError

Dim = int | str  # a str is a symbolic dimension, bound at plan time


def unique_name(base: str, taken: set[str]) -> str:
    """`base`, or `base_1`, `base_2`, ... whichever is not in `taken`; the name is added to `taken`."""
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


@dataclass(frozen=True)
class TensorType:
    dtype: DType
    shape: tuple[Dim, ...]

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_static(self) -> bool:
        return all(isinstance(d, int) for d in self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.is_static else -1

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __str__(self) -> str:
        return f"{self.dtype.name}[{','.join(str(d) for d in self.shape)}]"


class LazyConst:
    """A constant computed when it is read: `np.asarray(c)` (and any other ndarray attribute) computes it,
    `c.fill(out)` computes it straight into `out`, e.g. a place in an arena. BatchNorm-folded weights are
    one (msgraph.passes.fold_batchnorm): the folded product is never held as an array of its own, only
    written where the plan puts it. It keeps what it is computed from alive; every read recomputes."""

    def __init__(self, shape: tuple[int, ...], dtype, fill: Callable[[np.ndarray], None]) -> None:
        self.shape, self.dtype, self._fill = tuple(int(d) for d in shape), np.dtype(dtype), fill

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def fill(self, out: np.ndarray) -> None:
        """Computes the constant into `out` (of its shape and dtype)."""
        self._fill(out)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.empty(self.shape, self.dtype)
        self._fill(out)
        return out if dtype is None else out.astype(dtype, copy=False)

    def __getattr__(self, name: str):
        if name.startswith("_"):  # (copy and pickle look for hooks before the instance has its fields)
            raise AttributeError(name)
        return getattr(np.asarray(self), name)  # reshape, astype, copy, tobytes...

    def __getitem__(self, key):
        return np.asarray(self)[key]

    def __repr__(self) -> str:
        return f"LazyConst({self.dtype}{list(self.shape)})"


@dataclass(frozen=True, eq=False)
class Value:
    name: str
    type: TensorType
    const: np.ndarray | LazyConst | None = None  # set for initializers / constants

    @staticmethod
    def constant(name: str, array: np.ndarray | LazyConst) -> Value:
        if not isinstance(array, LazyConst):
            array = np.asarray(array, order="C")  # (ascontiguousarray would turn a scalar into shape [1])
        return Value(name, TensorType(dtypes.from_numpy(array.dtype), tuple(int(d) for d in array.shape)), array)


@dataclass(frozen=True, eq=False)
class Node:
    op: str
    inputs: tuple[str, ...]  # "" marks an omitted optional input
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""
    domain: str = ""

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def __str__(self) -> str:
        return f"node '{self.name}' ({self.op})"


@dataclass(frozen=True, eq=False)
class Graph:
    nodes: tuple[Node, ...]
    values: Mapping[str, Value]  # every value: inputs, constants, intermediates, outputs
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    name: str = "graph"
    opset: int = 17  # the ai.onnx opset the node semantics follow

    def replace(self, **changes: Any) -> Graph:
        return replace(self, **changes)

    def type(self, name: str) -> TensorType:
        return self.values[name].type

    def const(self, name: str) -> np.ndarray | None:
        v = self.values.get(name)
        return None if v is None else v.const

    def producers(self) -> dict[str, Node]:
        return {out: n for n in self.nodes for out in n.outputs if out}

    def consumers(self) -> dict[str, list[Node]]:
        users: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    users.setdefault(i, []).append(n)
        return users

    def validate(self) -> Graph:
        """Checks structure (dangling values, duplicates, cycles, arity) and re-infers every type."""
        from .ops import check_node  # ops depend on ir, so import late
        from .schedule import topological_order

        seen = set(self.inputs) | {k for k, v in self.values.items() if v.const is not None}
        for k, v in self.values.items():
            if v.const is not None and (v.const.dtype != v.type.dtype.np or v.const.shape != v.type.shape):
                raise GraphError(f"constant '{k}' holds {v.const.dtype}{list(v.const.shape)} but is typed {v.type}")
        if len(set(self.outputs)) != len(self.outputs):
            raise GraphError(f"graph outputs {list(self.outputs)} name a value twice")
        for name in self.inputs:
            if name not in self.values:
                raise GraphError(f"graph input '{name}' has no type")
            if self.values[name].const is not None:
                raise GraphError(f"graph input '{name}' is also a constant")
        names = set()
        for n in self.nodes:
            if not n.name or n.name in names:
                raise GraphError(f"node names must be unique and non-empty, found {n.name!r} twice or empty")
            names.add(n.name)
            for out in n.outputs:
                if out and out in seen:
                    raise GraphError(f"{n}: output '{out}' is defined more than once")
                if out:
                    seen.add(out)
        for n in self.nodes:
            for i in n.inputs:
                if i and i not in seen:
                    raise GraphError(f"{n}: input '{i}' is not a graph input, a constant or any node's output")
        for out in self.outputs:
            if out not in seen:
                raise GraphError(f"graph output '{out}' is not produced by any node, input or constant")
        order = topological_order(self)  # raises GraphError on a cycle
        from .ops import value_inputs

        if value_inputs(self) or not all(v.type.is_static for v in self.values.values()):
            return self  # types are checked once symbolic dims and value inputs are bound (msgraph.infer)
        for n in order:
            in_types = [self.values[i].type if i else None for i in n.inputs]
            inferred = check_node(n, in_types, self)
            for out, t in zip(n.outputs, inferred):
                if not out:
                    continue
                have = self.values.get(out)
                if have is None:
                    raise GraphError(f"{n}: output '{out}' has no type")
                if have.type.dtype != t.dtype or not _shapes_agree(have.type.shape, t.shape):
                    from .errors import ShapeError
                    raise ShapeError(f"{n}: output '{out}' is declared {have.type} but the op gives {t}")
        return self


def _shapes_agree(a: tuple[Dim, ...], b: tuple[Dim, ...]) -> bool:
    return len(a) == len(b) and all(x == y or isinstance(x, str) or isinstance(y, str) for x, y in zip(a, b))
