"""Ops whose output is known from shapes and constants: ConstantOfShape, Range, Shape, Size. The constant
folder evaluates them whenever it can; the fill/range kernels serve what stays (e.g. a result too large to fold)."""
from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import numpy_helper

from .. import dtypes as dt
from ..errors import ShapeError
from ..ir import TensorType
from . import Lowering, register
from ._layout import const_ints, const_scalar, sized, value_bits


# ---------------------------------------------------------------- ConstantOfShape
def _cos_attrs(a: dict, opset: int) -> dict:
    # kept as a TensorProto: the constant folder re-exports the node to ONNX, which takes no ndarray attribute
    v = a.get("value")
    return {} if v is None else {"value": numpy_helper.from_array(np.asarray(v).reshape(-1))}


def _cos_value(node) -> np.ndarray:
    v = node.attr("value")
    if isinstance(v, onnx.TensorProto):
        v = numpy_helper.to_array(v)
    v = np.zeros(1, np.float32) if v is None else np.asarray(v).reshape(-1)
    if v.size != 1:
        raise ShapeError(f"{node}: value must hold one element, got {v.size}")
    return v


@register("ConstantOfShape", inputs=(1, 1), const_inputs=(0,), onnx_attrs=_cos_attrs, lower=lambda ctx: _lower_cos(ctx))
def _infer_cos(node, types, consts):
    shape = const_ints(node, consts, 0)
    if min(shape, default=0) < 0:
        raise ShapeError(f"{node}: shape {shape} has negative dims")
    return [TensorType(dt.from_numpy(_cos_value(node).dtype), tuple(shape))]


def _lower_cos(ctx: Lowering) -> None:
    y = ctx.out_types[0]
    ctx.emit(sized(y.dtype, "fill"), [ctx.output(0)], [y.size, *value_bits(_cos_value(ctx.node)[0], y.dtype)])


# ---------------------------------------------------------------- Range
def _range_count(node, consts) -> int:
    start, limit, delta = (const_scalar(node, consts, k) for k in range(3))
    if delta == 0:
        raise ShapeError(f"{node}: delta must not be 0")
    return max(math.ceil((float(limit) - float(start)) / float(delta)), 0)


@register("Range", inputs=(3, 3), dtypes=dt.NUMERIC, const_inputs=(0, 1, 2), lower=lambda ctx: ctx.emit(
    f"{ctx.in_types[0].dtype.name}_range", [ctx.input(0), ctx.input(2), ctx.output(0)], [ctx.out_types[0].size]))
def _infer_range(node, types, consts):
    if any(t.dtype != types[0].dtype or t.rank != 0 for t in types):
        raise ShapeError(f"{node}: start, limit and delta must be scalars of one dtype, got {', '.join(map(str, types))}")
    return [TensorType(types[0].dtype, (_range_count(node, consts),))]


# ---------------------------------------------------------------- Shape / Size
def _shape_range(node, rank: int) -> tuple[int, int]:
    start, end = node.attr("start", 0), node.attr("end", rank)
    return tuple(max(0, min(rank, v + rank if v < 0 else v)) for v in (start, end))


@register("Shape", inputs=(1, 1), lower=lambda ctx: _lower_shape(ctx))
def _infer_shape(node, types, consts):
    start, end = _shape_range(node, types[0].rank)
    return [TensorType(dt.I64, (max(0, end - start),))]


def _lower_shape(ctx: Lowering) -> None:
    start, end = _shape_range(ctx.node, ctx.in_types[0].rank)
    for k, d in enumerate(ctx.in_types[0].shape[start:end]):
        ctx.emit("u64_fill", [ctx.output(0, 8 * k)], [1, *value_bits(d, dt.I64)])


@register("Size", inputs=(1, 1), lower=lambda ctx: ctx.emit(
    "u64_fill", [ctx.output(0)], [1, *value_bits(ctx.in_types[0].size, dt.I64)]))
def _infer_size(node, types, consts):
    return [TensorType(dt.I64, ())]
