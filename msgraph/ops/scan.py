"""Ops along one axis: CumSum (exclusive, reverse) and TopK (values and int64 indices, sorted)."""
from __future__ import annotations

import numpy as np

from .. import dtypes as dt
from ..errors import ShapeError
from ..ir import TensorType
from . import Lowering, register
from ._util import norm_axis, size


def _scalar_input(node, consts, i: int, what: str) -> int:
    if consts[i] is None:
        raise ShapeError(f"{node}: input '{node.inputs[i]}' ({what}) must be a constant")
    v = np.asarray(consts[i]).reshape(-1)
    if v.size != 1:
        raise ShapeError(f"{node}: {what} must hold one value, got {v.size}")
    return int(v[0])


def _split(shape: tuple, axis: int) -> tuple[int, int, int]:
    return size(shape[:axis]), shape[axis], size(shape[axis + 1:])


# ---------------------------------------------------------------- CumSum
def _cumsum_attrs(attrs: dict, opset: int) -> dict:
    return {"exclusive": int(attrs.get("exclusive", 0)), "reverse": int(attrs.get("reverse", 0))}


@register("CumSum", inputs=(2, 2), dtypes=dt.NUMERIC, onnx_attrs=_cumsum_attrs, const_inputs=(1,),
          lower=lambda ctx: _lower_cumsum(ctx))
def _infer_cumsum(node, types, consts):
    x = types[0]
    if types[1].dtype not in (dt.I32, dt.I64):
        raise ShapeError(f"{node}: axis must be int32 or int64, got {types[1].dtype.name}")
    if x.rank == 0:
        raise ShapeError(f"{node}: input must have rank >= 1")
    norm_axis(_scalar_input(node, consts, 1, "axis"), x.rank)
    return [x]


def _lower_cumsum(ctx: Lowering) -> None:
    x = ctx.in_types[0]
    if x.size == 0:
        return
    axis = norm_axis(_scalar_input(ctx.node, ctx.consts, 1, "axis"), x.rank)
    ctx.emit(f"{x.dtype.name}_cumsum", [ctx.input(0), ctx.output(0)],
             [*_split(x.shape, axis), ctx.node.attr("exclusive", 0), ctx.node.attr("reverse", 0)])


# ---------------------------------------------------------------- TopK
def _topk_attrs(attrs: dict, opset: int) -> dict:
    out = {"axis": int(attrs.get("axis", -1))}
    if opset >= 11:  # the output is always sorted (a valid answer for sorted=0 too)
        out.update(largest=int(attrs.get("largest", 1)), sorted=int(attrs.get("sorted", 1)))
    if opset < 10 and "k" in attrs:  # k is an attribute before opset 10, input 1 after
        out["k"] = int(attrs["k"])
    return out


def _topk_k(node, consts) -> int:
    k = node.attr("k")
    if k is None:
        if len(node.inputs) < 2 or not node.inputs[1]:
            raise ShapeError(f"{node}: needs k")
        k = _scalar_input(node, consts, 1, "k")
    return k


@register("TopK", inputs=(1, 2), outputs=(2, 2), dtypes=dt.NUMERIC, onnx_attrs=_topk_attrs, const_inputs=(1,),
          lower=lambda ctx: _lower_topk(ctx))
def _infer_topk(node, types, consts):
    x = types[0]
    if x.rank == 0:
        raise ShapeError(f"{node}: input must have rank >= 1")
    axis = norm_axis(node.attr("axis", -1), x.rank)
    k = _topk_k(node, consts)
    if not 0 <= k <= x.shape[axis]:
        raise ShapeError(f"{node}: k={k} is out of range for axis {axis} of size {x.shape[axis]}")
    shape = tuple(k if i == axis else d for i, d in enumerate(x.shape))
    return [TensorType(x.dtype, shape), TensorType(dt.I64, shape)]


def _lower_topk(ctx: Lowering) -> None:
    x = ctx.in_types[0]
    axis = norm_axis(ctx.node.attr("axis", -1), x.rank)
    k = _topk_k(ctx.node, ctx.consts)
    outer, n, inner = _split(x.shape, axis)
    if outer * k * inner == 0:
        return
    outs = [ctx.output(i) if ctx.node.outputs[i] else ctx.new_scratch(outer * k * inner * item)
            for i, item in ((0, x.dtype.itemsize), (1, 8))]  # an unused output still gets written
    ctx.emit(f"{x.dtype.name}_topk", [ctx.input(0), *outs, ctx.new_scratch(4 * k)],
             [outer, n, inner, k, ctx.node.attr("largest", 1)])
