"""Operator registry: per op, arity, supported dtypes, type inference, ONNX attribute normalisation and the
lowering of a node to kernel steps (see kernels/ABI.md). One module per op family registers its ops here."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..dtypes import DType
from ..errors import GraphError, ShapeError, UnsupportedOpError
from ..ir import Graph, Node, TensorType

Infer = Callable[[Node, list, list], list]  # (node, input types, input constants or None) -> output types


@dataclass(frozen=True)
class OpDef:
    name: str
    infer: Infer
    lower: Callable[[Lowering], None] | None  # None: the op is an alias (its output views input 0)
    inputs: tuple[int, int]  # min, max count (optional inputs may be "")
    outputs: tuple[int, int] = (1, 1)
    dtypes: tuple[DType, ...] = ()  # dtypes of input 0 the kernels handle
    inplace: bool = False  # output 0 may take the buffer of an input of the same shape that dies here
    onnx_attrs: Callable[[dict, int], dict] | None = None  # normalise ONNX attributes for an opset
    const_inputs: tuple[int, ...] = ()  # inputs whose values shape the output: constant at plan time
    # byte offsets at which output 0 holds each input when it is nothing but them side by side (or None for
    # this node): the planner may then produce the inputs in place and drop the op's steps
    views: Callable[[Lowering], list[int] | None] | None = None
    min_opset: int = 1
    doc: str = ""


REGISTRY: dict[str, OpDef] = {}


def register(name: str, **kw: Any) -> Callable[[Infer], Infer]:
    """Decorates an infer function: @register("Relu", lower=..., inputs=(1, 1), dtypes=...)."""

    def deco(infer: Infer) -> Infer:
        if name in REGISTRY:
            raise RuntimeError(f"op {name} registered twice")
        REGISTRY[name] = OpDef(name=name, infer=infer, **kw)
        return infer

    return deco


def get(op: str) -> OpDef:
    try:
        return REGISTRY[op]
    except KeyError:
        raise UnsupportedOpError([("?", op, "", 0, "no such operator")]) from None


def value_inputs(graph: Graph) -> list[str]:
    """Graph inputs that an op needs as constants (a Reshape's shape fed at run time): the session binds
    them by value, like symbolic dims, and plans once per distinct value."""
    names = set()
    for n in graph.nodes:
        d = REGISTRY.get(n.op)
        for k in d.const_inputs if d else ():
            if k < len(n.inputs) and n.inputs[k] in graph.inputs:
                names.add(n.inputs[k])
    return [i for i in graph.inputs if i in names]


def support_problem(node: Node, in_types: list[TensorType | None], opset: int) -> str | None:
    """Why `node` cannot run (unknown op, domain, opset, dtype), or None if it can."""
    if node.domain not in ("", "ai.onnx"):
        return f"domain '{node.domain}' is not supported"
    d = REGISTRY.get(node.op)
    if d is None:
        return f"no kernel for op type '{node.op}' (`msgraph ops` lists the supported ones)"
    if opset < d.min_opset:
        return f"opset {opset} is older than the oldest supported ({d.min_opset})"
    first = next((t for t in in_types if t is not None), None)
    if d.dtypes and first is not None and first.dtype not in d.dtypes:
        return f"dtype {first.dtype.name} not supported (supported: {', '.join(t.name for t in d.dtypes)})"
    return None


def check_node(node: Node, in_types: list[TensorType | None], graph: Graph) -> list[TensorType]:
    """Arity, support and type inference for one node of a graph."""
    problem = support_problem(node, in_types, graph.opset)
    if problem:
        raise UnsupportedOpError([(node.name, node.op, node.domain, graph.opset, problem)])
    d = REGISTRY[node.op]
    lo, hi = d.inputs
    if not lo <= len(node.inputs) <= hi:
        raise GraphError(f"{node}: takes {lo}..{hi} inputs, got {len(node.inputs)}")
    lo, hi = d.outputs
    if not lo <= len(node.outputs) <= hi:
        raise GraphError(f"{node}: gives {lo}..{hi} outputs, got {len(node.outputs)}")
    consts = [graph.const(i) if i else None for i in node.inputs]
    try:
        return list(d.infer(node, in_types, consts))
    except GraphError as e:
        if f"'{node.name}'" in str(e):
            raise
        raise type(e)(f"{node}: {e}") from e  # helpers such as broadcast_shape do not know the node
    except UnsupportedOpError as e:
        if all(p[3] == graph.opset for p in e.problems):
            raise
        raise UnsupportedOpError([(p[0], p[1], p[2], p[3] or graph.opset, p[4]) for p in e.problems]) from e
    except (ValueError, IndexError, TypeError, KeyError) as e:
        raise ShapeError(f"{node}: {e}") from e


@dataclass
class Step:
    """One kernel call before placement: tensors are (value name, byte offset), ("#scratch", k),
    ("#persistent", k) or None."""
    node: str
    op: str
    kernel: str
    tensors: tuple
    ints: tuple[int, ...]


@dataclass
class Lowering:
    """What an op's lower() sees: the node, its types and constants; it appends kernel steps."""
    node: Node
    in_types: list[TensorType | None]
    out_types: list[TensorType]
    consts: list[np.ndarray | None]
    steps: list[Step] = field(default_factory=list)
    scratch: list[int] = field(default_factory=list)  # byte sizes, live during this node's steps only
    init_steps: list[Step] = field(default_factory=list)  # run once at load, after the weights are written
    persistent: list[int] = field(default_factory=list)  # byte sizes, live for the whole session

    def input(self, i: int, byte_offset: int = 0):
        name = self.node.inputs[i] if i < len(self.node.inputs) else ""
        return (name, byte_offset) if name else None

    def output(self, i: int = 0, byte_offset: int = 0):
        return (self.node.outputs[i], byte_offset)

    def new_scratch(self, nbytes: int):
        self.scratch.append(int(nbytes))
        return ("#scratch", len(self.scratch) - 1)

    def new_persistent(self, nbytes: int):
        """A buffer of its own for the whole session, outside the reused arena (zeroed at load): init steps
        fill it from constants once, the node's steps read it on every run."""
        self.persistent.append(int(nbytes))
        return ("#persistent", len(self.persistent) - 1)

    def is_const(self, i: int) -> bool:
        """Whether input i is a constant (its value is known at plan time and written once at load)."""
        return i < len(self.consts) and self.consts[i] is not None

    def emit(self, kernel: str, tensors: list, ints: list[int]) -> None:
        self.steps.append(Step(self.node.name, self.node.op, kernel, tuple(tensors), tuple(int(i) for i in ints)))

    def emit_init(self, kernel: str, tensors: list, ints: list[int]) -> None:
        """A step run once at load (before the first run): it may read constant inputs and write persistent
        buffers only, since nothing else holds data then."""
        self.init_steps.append(Step(self.node.name, self.node.op, kernel, tuple(tensors), tuple(int(i) for i in ints)))


def _load_all() -> None:
    """Imports every op module of this package: each registers its ops (files starting "_" are helpers)."""
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_load_all()
