"""Elementwise ops: numpy-broadcasting binary arithmetic and unary activations."""
from __future__ import annotations

import itertools

from .. import dtypes as dt
from ..errors import ShapeError
from ..ir import TensorType
from . import Lowering, register
from ._util import MAX_DIMS, broadcast_shape, broadcast_strides, collapse, size


def _legacy_attrs(attrs: dict, opset: int) -> dict:
    # Opsets 1-6 broadcast only with broadcast=1, aligning B at `axis` (default: trailing dims).
    if opset < 7:
        return {"legacy_broadcast": int(attrs.get("broadcast", 0)), "legacy_axis": attrs.get("axis")}
    return {}


def _operand_shapes(node, a: tuple, b: tuple) -> tuple[tuple, tuple]:
    if "legacy_broadcast" not in node.attrs:
        return a, b
    if not node.attrs["legacy_broadcast"]:
        if a != b:
            raise ShapeError(f"{node}: without broadcast=1 (opset < 7) the shapes must be equal, got {a} and {b}")
        return a, b
    axis = node.attrs.get("legacy_axis")
    axis = len(a) - len(b) if axis is None else axis % max(len(a), 1)
    return a, (1,) * axis + b + (1,) * (len(a) - axis - len(b))


def _infer_binary(node, types, consts):
    a, b = types
    if a.dtype != b.dtype:
        raise ShapeError(f"{node}: both inputs must have one dtype, got {a.dtype.name} and {b.dtype.name}")
    sa, sb = _operand_shapes(node, a.shape, b.shape)
    return [TensorType(a.dtype, broadcast_shape(sa, sb))]


def lower_broadcast(ctx: Lowering, kernel: str, n_inputs: int = 2) -> None:
    """Emits `kernel` over the collapsed broadcast loop; splits into several steps beyond MAX_DIMS dims."""
    out = ctx.out_types[0].shape
    shapes = [ctx.in_types[i].shape for i in range(n_inputs)]
    if n_inputs == 2:
        shapes = list(_operand_shapes(ctx.node, *shapes))
    dims, strides = collapse(out, *(broadcast_strides(out, s) for s in shapes))
    outer = max(0, len(dims) - MAX_DIMS)
    items = [ctx.in_types[i].dtype.itemsize for i in range(n_inputs)]
    out_item = ctx.out_types[0].dtype.itemsize
    inner_size = size(dims[outer:])
    for idx in itertools.product(*(range(d) for d in dims[:outer])):
        in_off = [sum(i * s[k] for k, i in enumerate(idx)) * it for s, it in zip(strides, items)]
        flat = 0
        for k, i in enumerate(idx):
            flat = flat * dims[k] + i
        tensors = [ctx.input(i, in_off[i]) for i in range(n_inputs)] + [ctx.output(0, flat * inner_size * out_item)]
        nd = len(dims) - outer
        ctx.emit(kernel, tensors, [nd, *dims[outer:], *(v for s in strides for v in s[outer:])])


def _binary(name: str, kernel_op: str) -> None:
    def lower(ctx: Lowering) -> None:
        lower_broadcast(ctx, f"{ctx.in_types[0].dtype.name}_{kernel_op}")

    register(name, lower=lower, inputs=(2, 2), dtypes=dt.NUMERIC, inplace=True, onnx_attrs=_legacy_attrs,
             doc=f"numpy-broadcasting {kernel_op}")(_infer_binary)


for _name, _kop in (("Add", "add"), ("Sub", "sub"), ("Mul", "mul"), ("Div", "div")):
    _binary(_name, _kop)


def _infer_same(node, types, consts):
    return [types[0]]


def _unary(name: str, kernel_op: str, dtypes: tuple) -> None:
    def lower(ctx: Lowering) -> None:
        ctx.emit(f"{ctx.in_types[0].dtype.name}_{kernel_op}", [ctx.input(0), ctx.output(0)], [ctx.in_types[0].size])

    register(name, lower=lower, inputs=(1, 1), dtypes=dtypes, inplace=True)(_infer_same)


_unary("Relu", "relu", (dt.F32, dt.F64, dt.I8, dt.I16, dt.I32, dt.I64))
_unary("Sigmoid", "sigmoid", (dt.F32, dt.F64))
_unary("Tanh", "tanh", (dt.F32, dt.F64))
