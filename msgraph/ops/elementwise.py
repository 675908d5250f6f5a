"""Elementwise ops: numpy-broadcasting binary ops (arithmetic, pow, mod, min/max, comparisons, logic, bit
shifts), Where, the variadic Sum/Mean/Min/Max, and unary math (see kernels/ABI.md's elementwise rows)."""
from __future__ import annotations

import itertools

import numpy as np

from .. import dtypes as dt
from ..errors import ShapeError, UnsupportedOpError
from ..ir import TensorType
from . import Lowering, register
from ._util import MAX_DIMS, broadcast_shape, broadcast_strides, collapse, f32_bits, size

FLOATS = (dt.F32, dt.F64)
SIGNED = (dt.F32, dt.F64, dt.I8, dt.I16, dt.I32, dt.I64)
STORED = (*dt.NUMERIC, dt.BOOL)  # every dtype the kernels store
ACT_DIV = 13  # unary.c's MG_ACT_DIV: y = x / alpha


def unsupported(node, why: str) -> UnsupportedOpError:
    return UnsupportedOpError([(node.name, node.op, node.domain, 0, why)])


def check_stored(node, t: TensorType, what: str = "input") -> None:
    if t.dtype not in STORED:
        raise unsupported(node, f"{what} dtype {t.dtype.name} not supported (supported: "
                                f"{', '.join(d.name for d in STORED)})")


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


def _infer_binary(node, types, consts, out_dtype=None):
    a, b = types
    if a.dtype != b.dtype:
        raise ShapeError(f"{node}: both inputs must have one dtype, got {a.dtype.name} and {b.dtype.name}")
    sa, sb = _operand_shapes(node, a.shape, b.shape)
    return [TensorType(out_dtype or a.dtype, broadcast_shape(sa, sb))]


def _offset(ref, nbytes: int, node):
    if nbytes == 0 or ref is None:
        return ref
    if ref[0] == "#scratch":
        raise unsupported(node, "more than 6 non-collapsible broadcast dims through a scratch buffer")
    return (ref[0], ref[1] + nbytes)


def emit_broadcast(ctx: Lowering, kernel: str, operands: list, out=None, out_shape=None, out_item=None,
                   pad: bool = False) -> None:
    """Emits `kernel` over the collapsed broadcast loop of `operands` [(ref, shape, itemsize)] into `out`
    (default output 0): ints `nd, dims, strides...` (padded to 6 dims when `pad`, for fixed layouts);
    splits into several steps beyond MAX_DIMS dims."""
    out = ctx.output(0) if out is None else out
    out_shape = ctx.out_types[0].shape if out_shape is None else out_shape
    out_item = ctx.out_types[0].dtype.itemsize if out_item is None else out_item
    dims, strides = collapse(out_shape, *(broadcast_strides(out_shape, s) for _, s, _ in operands))
    outer = max(0, len(dims) - MAX_DIMS)
    inner_size = size(dims[outer:])
    for idx in itertools.product(*(range(d) for d in dims[:outer])):
        refs = [_offset(ref, sum(i * s[k] for k, i in enumerate(idx)) * it, ctx.node)
                for (ref, _, it), s in zip(operands, strides)]
        flat = 0
        for k, i in enumerate(idx):
            flat = flat * dims[k] + i
        nd = len(dims) - outer
        rows = [dims[outer:], *(s[outer:] for s in strides)]
        if pad:
            rows = [r + [1 if k == 0 else 0] * (MAX_DIMS - nd) for k, r in enumerate(rows)]
        ctx.emit(kernel, [*refs, _offset(out, flat * inner_size * out_item, ctx.node)],
                 [nd, *(v for r in rows for v in r)])


def lower_broadcast(ctx: Lowering, kernel: str, n_inputs: int = 2, order: tuple | None = None) -> None:
    """Emits `kernel` over the node's inputs (in `order`, default 0..n-1) broadcast to output 0."""
    order = tuple(range(n_inputs)) if order is None else order
    shapes = [ctx.in_types[i].shape for i in range(n_inputs)]
    if n_inputs == 2:
        shapes = list(_operand_shapes(ctx.node, *shapes))
    emit_broadcast(ctx, kernel, [(ctx.input(i), shapes[i], ctx.in_types[i].dtype.itemsize) for i in order])


def _binary(name: str, kernel_op: str, dtypes: tuple = dt.NUMERIC, legacy: bool = True,
            out_dtype=None, order: tuple = (0, 1)) -> None:
    def lower(ctx: Lowering) -> None:
        lower_broadcast(ctx, f"{ctx.in_types[0].dtype.name}_{kernel_op}", 2, order)

    register(name, lower=lower, inputs=(2, 2), dtypes=dtypes, inplace=True,
             onnx_attrs=_legacy_attrs if legacy else None, doc=f"numpy-broadcasting {kernel_op}")(
        lambda node, types, consts: _infer_binary(node, types, consts, out_dtype))


for _name, _kop in (("Add", "add"), ("Sub", "sub"), ("Mul", "mul"), ("Div", "div")):
    _binary(_name, _kop)
_binary("Equal", "equal", STORED, out_dtype=dt.BOOL)
_binary("Greater", "greater", out_dtype=dt.BOOL)
_binary("Less", "greater", out_dtype=dt.BOOL, order=(1, 0))
_binary("GreaterOrEqual", "greater_equal", legacy=False, out_dtype=dt.BOOL)
_binary("LessOrEqual", "greater_equal", legacy=False, out_dtype=dt.BOOL, order=(1, 0))
for _name in ("And", "Or", "Xor"):
    _binary(_name, _name.lower(), (dt.BOOL,))


# ---------------------------------------------------------------- Mod, BitShift
def _mod_attrs(attrs: dict, opset: int) -> dict:
    return {"fmod": int(attrs.get("fmod", 0))}


def _lower_mod(ctx: Lowering) -> None:
    lower_broadcast(ctx, f"{ctx.in_types[0].dtype.name}_{'fmod' if ctx.node.attr('fmod') else 'mod'}")


register("Mod", lower=_lower_mod, inputs=(2, 2), dtypes=dt.NUMERIC, inplace=True, onnx_attrs=_mod_attrs,
         doc="numpy mod (fmod=0) or C fmod (fmod=1)")(_infer_binary)


def _shift_attrs(attrs: dict, opset: int) -> dict:
    return {"direction": str(attrs.get("direction", ""))}


def _lower_shift(ctx: Lowering) -> None:
    lower_broadcast(ctx, f"{ctx.in_types[0].dtype.name}_{'shl' if ctx.node.attr('direction') == 'LEFT' else 'shr'}")


@register("BitShift", lower=_lower_shift, inputs=(2, 2), dtypes=dt.INTEGER, inplace=True, onnx_attrs=_shift_attrs)
def _infer_shift(node, types, consts):
    if node.attr("direction") not in ("LEFT", "RIGHT"):
        raise ShapeError(f"{node}: direction must be LEFT or RIGHT, got {node.attr('direction')!r}")
    return _infer_binary(node, types, consts)


# ---------------------------------------------------------------- Pow
@register("Pow", lower=lambda ctx: _lower_pow(ctx), inputs=(2, 2), dtypes=dt.NUMERIC, inplace=True,
          onnx_attrs=_legacy_attrs)
def _infer_pow(node, types, consts):
    a, b = types
    if b.dtype not in dt.NUMERIC:
        raise unsupported(node, f"exponent dtype {b.dtype.name} not supported")
    sa, sb = _operand_shapes(node, a.shape, b.shape)
    return [TensorType(a.dtype, broadcast_shape(sa, sb))]


def _lower_pow(ctx: Lowering) -> None:
    """Same dtypes: one pow step (x * x for a constant exponent 2). Otherwise the exponent is cast to a
    float base's dtype; an integer base computes in i64 (integer exponent) or f64 (float exponent)."""
    x, y = ctx.in_types
    sx, sy = _operand_shapes(ctx.node, x.shape, y.shape)
    out = ctx.out_types[0]
    c = ctx.consts[1]
    if c is not None and x.dtype.is_float and c.size and np.all(c == 2):
        emit_broadcast(ctx, f"{x.dtype.name}_mul", [(ctx.input(0), sx, x.dtype.itemsize)] * 2)
        return
    if x.dtype == y.dtype:
        lower_broadcast(ctx, f"{x.dtype.name}_pow")
        return
    work = x.dtype if x.dtype.is_float else dt.F64 if y.dtype.is_float else dt.I64

    def as_work(i: int, t: TensorType):
        if t.dtype == work:
            return ctx.input(i)
        ref = ctx.new_scratch(t.size * work.itemsize)
        ctx.emit(f"{t.dtype.name}_cast", [ctx.input(i), ref], [t.size, work.onnx])
        return ref

    operands = [(as_work(0, x), sx, work.itemsize), (as_work(1, y), sy, work.itemsize)]
    if work == x.dtype:
        emit_broadcast(ctx, f"{work.name}_pow", operands)
        return
    res = ctx.new_scratch(out.size * work.itemsize)
    emit_broadcast(ctx, f"{work.name}_pow", operands, res, out.shape, work.itemsize)
    ctx.emit(f"{work.name}_cast", [res, ctx.output(0)], [out.size, x.dtype.onnx])


# ---------------------------------------------------------------- Where
@register("Where", lower=lambda ctx: _lower_where(ctx), inputs=(3, 3), dtypes=(dt.BOOL,), inplace=True)
def _infer_where(node, types, consts):
    c, x, y = types
    if x.dtype != y.dtype:
        raise ShapeError(f"{node}: X and Y must have one dtype, got {x.dtype.name} and {y.dtype.name}")
    check_stored(node, x, "X")
    return [TensorType(x.dtype, broadcast_shape(c.shape, x.shape, y.shape))]


_BY_SIZE = {1: "u8", 2: "i16", 4: "i32", 8: "i64"}


def _lower_where(ctx: Lowering) -> None:
    item = ctx.in_types[1].dtype.itemsize
    emit_broadcast(ctx, f"{_BY_SIZE[item]}_where",
                   [(ctx.input(i), ctx.in_types[i].shape, ctx.in_types[i].dtype.itemsize) for i in range(3)],
                   pad=True)


# ---------------------------------------------------------------- variadic Sum, Mean, Max, Min
def _infer_variadic(node, types, consts):
    first = types[0]
    for t in types[1:]:
        if t.dtype != first.dtype:
            raise ShapeError(f"{node}: all inputs must have one dtype, got {first.dtype.name} and {t.dtype.name}")
    return [TensorType(first.dtype, broadcast_shape(*(t.shape for t in types)))]


def _variadic(name: str, kernel_op: str, dtypes: tuple) -> None:
    def lower(ctx: Lowering) -> None:
        out = ctx.out_types[0]
        item = out.dtype.itemsize
        kernel = f"{out.dtype.name}_{kernel_op}"
        ins = [(ctx.input(i), t.shape, item) for i, t in enumerate(ctx.in_types)]
        if len(ins) == 1:
            ctx.emit("u8_copy", [ctx.input(0), ctx.output(0)], [out.nbytes])
        else:
            emit_broadcast(ctx, kernel, ins[:2])
            for operand in ins[2:]:  # accumulate in the output (in place: same shape)
                emit_broadcast(ctx, kernel, [(ctx.output(0), out.shape, item), operand])
        if name == "Mean" and len(ins) > 1:
            ctx.emit(f"{out.dtype.name}_act", [ctx.output(0), ctx.output(0)], [out.size, ACT_DIV, f32_bits(len(ins)), 0])

    # not in place: a later input must not share the output's buffer while the chain writes it
    register(name, lower=lower, inputs=(1, 2**31 - 1), dtypes=dtypes, doc=f"variadic {kernel_op}")(_infer_variadic)


_variadic("Sum", "add", dt.NUMERIC)
_variadic("Mean", "add", FLOATS)
_variadic("Max", "max", dt.NUMERIC)
_variadic("Min", "min", dt.NUMERIC)


# ---------------------------------------------------------------- unary
def _infer_same(node, types, consts):
    return [types[0]]


def _unary(name: str, kernel_op: str, dtypes: tuple) -> None:
    def lower(ctx: Lowering) -> None:
        ctx.emit(f"{ctx.in_types[0].dtype.name}_{kernel_op}", [ctx.input(0), ctx.output(0)], [ctx.in_types[0].size])

    register(name, lower=lower, inputs=(1, 1), dtypes=dtypes, inplace=True)(_infer_same)


_unary("Relu", "relu", SIGNED)
_unary("Sigmoid", "sigmoid", FLOATS)
_unary("Tanh", "tanh", FLOATS)
_unary("Neg", "neg", SIGNED)
_unary("Abs", "abs", dt.NUMERIC)
_unary("Sign", "sign", dt.NUMERIC)
for _name in ("Reciprocal", "Sqrt", "Exp", "Log", "Floor", "Ceil", "Round", "Erf"):
    _unary(_name, _name.lower(), FLOATS)
_unary("Not", "not", (dt.BOOL,))


def _isinf_attrs(attrs: dict, opset: int) -> dict:
    return {"detect_positive": int(attrs.get("detect_positive", 1)),
            "detect_negative": int(attrs.get("detect_negative", 1))}


def _infer_test(node, types, consts):
    return [TensorType(dt.BOOL, types[0].shape)]


register("IsNaN", inputs=(1, 1), dtypes=FLOATS,
         lower=lambda ctx: ctx.emit(f"{ctx.in_types[0].dtype.name}_isnan", [ctx.input(0), ctx.output(0)],
                                    [ctx.in_types[0].size]))(_infer_test)
register("IsInf", inputs=(1, 1), dtypes=FLOATS, onnx_attrs=_isinf_attrs,
         lower=lambda ctx: ctx.emit(f"{ctx.in_types[0].dtype.name}_isinf", [ctx.input(0), ctx.output(0)],
                                    [ctx.in_types[0].size, ctx.node.attr("detect_positive"),
                                     ctx.node.attr("detect_negative")]))(_infer_test)
