"""ONNX export: writes any ir.Graph as an onnx.ModelProto at the graph's opset (checker-clean, runnable by
onnxruntime). Imports only the IR; never the planner or a backend.

The IR's canonical attributes are written back as ONNX expects at that opset:
- Add/Sub/Mul/Div: `legacy_broadcast`/`legacy_axis` become `broadcast`/`axis` (opset < 7); numpy
  broadcasting at opset < 7 becomes broadcast=1 where that means the same, else an error.
- Softmax/LogSoftmax `axis` + `coerce_2d`: where the opset's own semantics differ, the node is expanded:
  coerce_2d=1 at opset >= 13 as Flatten -> Softmax -> Reshape(Shape(x)); coerce_2d=0 at opset < 13 as
  Transpose -> Softmax(last axis) -> Transpose. Both give the same numbers as the IR node.
- Reshape/Squeeze/Unsqueeze: `shape`/`axes` go to an attribute or a constant input, as the opset wants.
- A fused activation (attrs `activation`, `activation_params`, set by msgraph.passes.fuse_activation) is
  written back as its own node after the producer: Relu, Clip, Sigmoid, LeakyRelu, HardSwish (HardSigmoid
  and Mul before opset 14), Gelu (the Erf form x * (1 + erf(x / sqrt 2)) * 0.5 before opset 20).
- EqualCount (MindSpore, not ONNX) becomes Equal -> Cast(int64) -> ReduceSum(keepdims) -> Reshape([1]) ->
  Cast(input dtype); the last Cast wraps large counts in small integer dtypes like numpy's astype.
Any other attribute is checked against the ONNX schema: one with no ONNX meaning raises GraphError.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .errors import GraphError, UnsupportedOpError
from .ir import Graph, Node, TensorType, unique_name

IR_VERSION = 10  # the newest onnxruntime 1.32 loads; raised only when the opset demands more


class _Ctx:
    """The ONNX nodes and extra initializers being written, with fresh names that clash with nothing."""

    def __init__(self, graph: Graph):
        self.graph, self.opset = graph, graph.opset
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.taken = set(graph.values) | {n.name for n in graph.nodes}

    def fresh(self, base: str) -> str:
        return unique_name(base, self.taken)

    def const(self, base: str, array: np.ndarray) -> str:
        name = self.fresh(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array, order="C"), name))
        return name

    def emit(self, op: str, inputs: list[str], outputs: list[str], name: str, **attrs: Any) -> None:
        while inputs and inputs[-1] == "":
            inputs = inputs[:-1]  # trailing omitted optional inputs are left out, as ONNX writers do
        attrs = {k: numpy_helper.from_array(v) if isinstance(v, np.ndarray) else list(v) if isinstance(v, tuple)
                 else v for k, v in attrs.items() if v is not None}  # an ndarray is a TENSOR attribute
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, **attrs))

    def type(self, name: str) -> TensorType:
        return self.graph.values[name].type

    def fail(self, node: Node, why: str) -> UnsupportedOpError:
        why = f"cannot export to ONNX: {why}"
        return UnsupportedOpError([(node.name, node.op, node.domain, self.opset, why)])


def _schema_attrs(ctx: _Ctx, node: Node, attrs: dict) -> dict:
    """`attrs` with None values dropped, after checking every key exists in ONNX at this opset."""
    attrs = {k: v for k, v in attrs.items() if v is not None}
    try:
        known = onnx.defs.get_schema(node.op, ctx.opset, "").attributes
    except onnx.defs.SchemaError:
        raise ctx.fail(node, f"ONNX has no {node.op} at opset {ctx.opset}") from None
    extra = sorted(set(attrs) - set(known))
    if extra:
        raise GraphError(f"{node}: attribute(s) {extra} have no ONNX equivalent at opset {ctx.opset}")
    return attrs


def _generic(ctx: _Ctx, node: Node, attrs: dict | None = None) -> None:
    attrs = _schema_attrs(ctx, node, dict(node.attrs) if attrs is None else attrs)
    ctx.emit(node.op, list(node.inputs), list(node.outputs), node.name, **attrs)


def _require(ctx: _Ctx, node: Node, key: str, default: Any, since: int) -> None:
    v = node.attrs.get(key)
    if v is not None and v != default and ctx.opset < since and not (isinstance(v, (list, tuple))
                                                                      and all(i == default for i in v)):
        raise ctx.fail(node, f"{key}={v} needs opset >= {since}")


def _binary(ctx: _Ctx, node: Node) -> None:
    a, b = node.inputs
    ta, tb = ctx.type(a), ctx.type(b)
    legacy = node.attrs.get("legacy_broadcast")
    if ctx.opset < 7:
        if legacy is not None:
            axis = node.attrs.get("legacy_axis")
            return ctx.emit(node.op, [a, b], list(node.outputs), node.name, broadcast=int(legacy) or None,
                            axis=None if axis is None or not legacy else int(axis))
        if ta.shape == tb.shape:
            return ctx.emit(node.op, [a, b], list(node.outputs), node.name)
        if ctx.type(node.outputs[0]).shape == ta.shape and tb.rank <= ta.rank:
            return ctx.emit(node.op, [a, b], list(node.outputs), node.name, broadcast=1)
        raise ctx.fail(node, f"numpy broadcasting of {ta} and {tb} has no opset-{ctx.opset} form")
    if legacy:  # a pre-7 alignment of B at `axis` in a newer graph: make B's shape explicit
        axis = node.attrs.get("legacy_axis")
        axis = ta.rank - tb.rank if axis is None else int(axis) % max(ta.rank, 1)
        shape = (1,) * axis + tuple(tb.shape) + (1,) * (ta.rank - axis - tb.rank)
        b2 = ctx.fresh(f"{node.name}/B")
        ctx.emit("Reshape", [b, ctx.const(f"{node.name}/B_shape", np.array(shape, np.int64))], [b2], b2)
        b = b2
    ctx.emit(node.op, [a, b], list(node.outputs), node.name)


def _arg(ctx: _Ctx, node: Node) -> None:
    _require(ctx, node, "select_last_index", 0, 12)
    attrs = {k: node.attrs.get(k) for k in ("axis", "keepdims", "select_last_index")}
    if ctx.opset < 12:
        attrs.pop("select_last_index")
    _generic(ctx, node, attrs)


def _gemm(ctx: _Ctx, node: Node) -> None:
    inputs = list(node.inputs)
    attrs = {k: node.attrs.get(k) for k in ("alpha", "beta", "transA", "transB")}
    m, n = ctx.type(node.outputs[0]).shape
    if ctx.opset < 11 and (len(inputs) < 3 or not inputs[2]):  # C is required before opset 11
        inputs = inputs[:2] + [ctx.const(f"{node.name}/C", np.zeros([n], ctx.type(inputs[0]).dtype.np))]
    if ctx.opset < 7 and len(inputs) > 2 and ctx.type(inputs[2]).shape != (m, n):
        attrs["broadcast"] = 1
    ctx.emit("Gemm", inputs, list(node.outputs), node.name, **_schema_attrs(ctx, node, attrs))


def _pool(ctx: _Ctx, node: Node) -> None:
    _require(ctx, node, "ceil_mode", 0, 10)
    _require(ctx, node, "dilations", 1, 10 if node.op == "MaxPool" else 19)
    _require(ctx, node, "count_include_pad", 0, 7)
    _require(ctx, node, "storage_order", 0, 8)
    attrs = dict(node.attrs)
    for key, since in (("ceil_mode", 10), ("dilations", 10 if node.op == "MaxPool" else 19),
                       ("count_include_pad", 7), ("storage_order", 8)):
        if ctx.opset < since:
            attrs.pop(key, None)
    _generic(ctx, node, attrs)


def _softmax(ctx: _Ctx, node: Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    rank = ctx.type(x).rank
    axis = int(node.attrs.get("axis", -1)) % max(rank, 1)
    coerce = bool(node.attrs.get("coerce_2d", 0))
    if axis >= rank - 1 or coerce == (ctx.opset < 13):  # the opset's own semantics match
        return ctx.emit(node.op, [x], [y], node.name, axis=axis)
    if coerce:  # over all dims from `axis` on, at opset >= 13: Flatten -> Softmax -> Reshape back
        flat, soft, shape = (ctx.fresh(f"{node.name}/{s}") for s in ("flat", "softmax", "shape"))
        ctx.emit("Flatten", [x], [flat], flat, axis=axis)
        ctx.emit(node.op, [flat], [soft], soft, axis=1)
        ctx.emit("Shape", [x], [shape], shape)
        return ctx.emit("Reshape", [soft, shape], [y], node.name)
    # over one axis, at opset < 13: move it last, where both semantics agree, and back
    perm = list(range(rank))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    xt, soft = ctx.fresh(f"{node.name}/in_T"), ctx.fresh(f"{node.name}/softmax")
    ctx.emit("Transpose", [x], [xt], xt, perm=perm)
    ctx.emit(node.op, [xt], [soft], soft, axis=rank - 1)
    ctx.emit("Transpose", [soft], [y], node.name, perm=perm)


def _ints_input(ctx: _Ctx, node: Node, key: str, since: int) -> None:
    """Reshape's `shape`, (Un)squeeze's `axes`: an attribute before opset `since`, a constant input after."""
    values = node.attrs.get(key)
    if values is None and len(node.inputs) > 1 and node.inputs[1]:
        values = ctx.graph.const(node.inputs[1])
        if values is None and ctx.opset < since:
            raise ctx.fail(node, f"'{key}' computed at run time cannot be an attribute at opset {ctx.opset}")
    attrs = {k: v for k, v in node.attrs.items() if k != key}
    _require(ctx, node, "allowzero", 0, 14)
    if ctx.opset < 14:
        attrs.pop("allowzero", None)
    inputs = [node.inputs[0]]
    if ctx.opset < since:
        if values is not None:
            attrs[key] = [int(v) for v in np.asarray(values).reshape(-1)]
    elif key in node.attrs:
        inputs.append(ctx.const(f"{node.name}/{key}", np.asarray(node.attrs[key], np.int64).reshape(-1)))
    elif len(node.inputs) > 1:
        inputs.append(node.inputs[1])
    ctx.emit(node.op, inputs, list(node.outputs), node.name, **_schema_attrs(ctx, node, attrs))


def _equal_count(ctx: _Ctx, node: Node) -> None:
    dtype = ctx.type(node.inputs[0]).dtype
    if ctx.opset < 7 or (ctx.opset < 11 and dtype.onnx not in (TensorProto.INT32, TensorProto.INT64)):
        raise ctx.fail(node, f"EqualCount on {dtype.name} needs opset >= 11 (Equal's types)")
    eq, cnt, tot, one = (ctx.fresh(f"{node.name}/{s}") for s in ("equal", "as_int64", "sum", "as_1"))
    ctx.emit("Equal", list(node.inputs), [eq], eq)
    ctx.emit("Cast", [eq], [cnt], cnt, to=TensorProto.INT64)
    ctx.emit("ReduceSum", [cnt], [tot], tot, keepdims=1)
    ctx.emit("Reshape", [tot, ctx.const(f"{node.name}/shape_1", np.array([1], np.int64))], [one], one)
    ctx.emit("Cast", [one], list(node.outputs), node.name, to=dtype.onnx)


_EXPORT: dict[str, Callable[[_Ctx, Node], None]] = {
    **{op: _binary for op in ("Add", "Sub", "Mul", "Div")},
    "ArgMax": _arg, "ArgMin": _arg, "Gemm": _gemm, "MaxPool": _pool, "AveragePool": _pool,
    "Softmax": _softmax, "LogSoftmax": _softmax, "Hardmax": _softmax, "EqualCount": _equal_count,
    "Reshape": lambda c, n: _ints_input(c, n, "shape", 5),
    "Squeeze": lambda c, n: _ints_input(c, n, "axes", 13),
    "Unsqueeze": lambda c, n: _ints_input(c, n, "axes", 13),
}


_FUSED = ("activation", "activation_params")


def _activation(ctx: _Ctx, node: Node, x: str, y: str) -> None:
    """The fused activation of `node` as ONNX node(s) from x to y."""
    act = node.attrs["activation"]
    act = act.decode() if isinstance(act, bytes) else act
    params = tuple(float(p) for p in node.attrs.get("activation_params") or ())
    dt = ctx.type(y).dtype.np
    name = ctx.fresh(f"{node.name}/{act}")

    def scalar(tag: str, v: float) -> str:
        return ctx.const(f"{name}/{tag}", np.array(v, dt))

    if act in ("relu", "sigmoid"):
        return ctx.emit(act.capitalize(), [x], [y], name)
    if act == "leakyrelu":
        return ctx.emit("LeakyRelu", [x], [y], name, alpha=params[0] if params else 0.01)
    if act == "clip":
        lo, hi = (params + (-np.inf, np.inf)[len(params):])[:2]
        if ctx.opset < 11:
            return ctx.emit("Clip", [x], [y], name, min=float(lo), max=float(hi))
        return ctx.emit("Clip", [x, "" if lo == -np.inf else scalar("min", lo),
                                 "" if hi == np.inf else scalar("max", hi)], [y], name)
    if act == "hardswish":
        if ctx.opset >= 14:
            return ctx.emit("HardSwish", [x], [y], name)
        gate = ctx.fresh(f"{name}/gate")
        ctx.emit("HardSigmoid", [x], [gate], gate, alpha=1.0 / 6.0, beta=0.5)
        return ctx.emit("Mul", [x, gate], [y], name)
    if act == "gelu":
        if ctx.opset >= 20:
            return ctx.emit("Gelu", [x], [y], name)
        if ctx.opset < 9:
            raise ctx.fail(node, "a fused GELU needs opset >= 9 (Erf)")
        d, e, a, m = (ctx.fresh(f"{name}/{s}") for s in ("div", "erf", "add", "mul"))
        ctx.emit("Div", [x, scalar("sqrt2", np.sqrt(2.0))], [d], d)
        ctx.emit("Erf", [d], [e], e)
        ctx.emit("Add", [e, scalar("one", 1.0)], [a], a)
        ctx.emit("Mul", [x, a], [m], m)
        return ctx.emit("Mul", [m, scalar("half", 0.5)], [y], name)
    raise ctx.fail(node, f"unknown fused activation '{act}'")


def _export_node(ctx: _Ctx, node: Node) -> None:
    if not node.attrs.get("activation"):
        return _EXPORT.get(node.op, _generic)(ctx, node)
    y = node.outputs[0]
    plain = Node(node.op, node.inputs, node.outputs, {k: v for k, v in node.attrs.items() if k not in _FUSED},
                 node.name, node.domain)
    first = len(ctx.nodes)
    _EXPORT.get(node.op, _generic)(ctx, plain)
    pre = ctx.fresh(f"{y}/pre_{node.attrs['activation']}")
    for proto in ctx.nodes[first:]:  # the producer's node(s) now write `pre`
        for field in (proto.input, proto.output):
            for k, v in enumerate(field):
                if v == y:
                    field[k] = pre
    _activation(ctx, node, pre, y)


def _value_info(graph: Graph, name: str) -> onnx.ValueInfoProto:
    t = graph.type(name)
    return helper.make_tensor_value_info(name, t.dtype.onnx, list(t.shape))


def to_onnx(graph: Graph, producer: str = "msgraph") -> onnx.ModelProto:
    """The ONNX model of `graph` at opset graph.opset (IR version 10 unless the opset needs more).
    Constants used by a node or as an output become initializers (unused ones are left out), symbolic
    dims become dim_params, and every intermediate value gets a value_info with its type. Raises
    UnsupportedOpError for what the opset cannot express, GraphError for attributes ONNX does not know."""
    known = {o for n in graph.nodes for o in n.outputs} | set(graph.inputs)
    known |= {k for k, v in graph.values.items() if v.const is not None}
    for node in graph.nodes:
        missing = [i for i in node.inputs if i and i not in known]
        if missing:  # e.g. a session's graph, which keeps no copy of the weights packed at load
            raise GraphError(f"{node}: input '{missing[0]}' has no value (not a graph input, a constant or a "
                             "node's output): export the model the graph came from")
    ctx = _Ctx(graph)
    for node in graph.nodes:
        if node.domain not in ("", "ai.onnx"):
            raise ctx.fail(node, f"domain '{node.domain}'")
        _export_node(ctx, node)
    used = {i for n in graph.nodes for i in n.inputs if i} | set(graph.outputs)
    inits = [numpy_helper.from_array(np.asarray(v.const, order="C"), k) for k, v in graph.values.items()
             if v.const is not None and k in used and k not in graph.inputs]
    produced = [o for n in graph.nodes for o in n.outputs if o and o not in graph.outputs]
    g = helper.make_graph(ctx.nodes, graph.name, [_value_info(graph, i) for i in graph.inputs],
                          [_value_info(graph, o) for o in graph.outputs], inits + ctx.inits,
                          value_info=[_value_info(graph, v) for v in produced])
    opsets = [helper.make_opsetid("", graph.opset)]
    model = helper.make_model(g, opset_imports=opsets, producer_name=producer)
    model.ir_version = max(IR_VERSION, helper.find_min_ir_version_for(opsets, ignore_unknown=True))
    return model
