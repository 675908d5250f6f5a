"""Reductions: ArgMax/ArgMin along an axis, and MindSpore's EqualCount."""
from __future__ import annotations

from .. import dtypes as dt
from ..errors import ShapeError
from ..ir import TensorType
from . import Lowering, register
from ._util import norm_axis, size


def _arg_attrs(attrs: dict, opset: int) -> dict:
    return {"axis": int(attrs.get("axis", 0)), "keepdims": int(attrs.get("keepdims", 1)),
            "select_last_index": int(attrs.get("select_last_index", 0))}


def _infer_arg(node, types, consts):
    x = types[0]
    axis = norm_axis(node.attr("axis", 0), x.rank)
    if x.rank == 0:
        raise ShapeError(f"{node}: input must have rank >= 1")
    shape = list(x.shape)
    if node.attr("keepdims", 1):
        shape[axis] = 1
    else:
        del shape[axis]
    return [TensorType(dt.I64, tuple(shape))]


def _arg(kernel_op: str):
    def lower(ctx: Lowering) -> None:
        x = ctx.in_types[0]
        axis = norm_axis(ctx.node.attr("axis", 0), x.rank)
        ints = [size(x.shape[:axis]), x.shape[axis], size(x.shape[axis + 1:]), ctx.node.attr("select_last_index", 0)]
        ctx.emit(f"{x.dtype.name}_{kernel_op}", [ctx.input(0), ctx.output(0)], ints)
    return lower


register("ArgMax", lower=_arg("argmax"), inputs=(1, 1), dtypes=dt.NUMERIC, onnx_attrs=_arg_attrs)(_infer_arg)
register("ArgMin", lower=_arg("argmin"), inputs=(1, 1), dtypes=dt.NUMERIC, onnx_attrs=_arg_attrs)(_infer_arg)


@register("EqualCount", inputs=(2, 2), dtypes=dt.NUMERIC,
          lower=lambda ctx: ctx.emit(f"{ctx.in_types[0].dtype.name}_equal_count",
                                     [ctx.input(0), ctx.input(1), ctx.output(0)], [ctx.in_types[0].size]),
          doc="MindSpore EqualCount: the number of equal elements, shape (1,), in the input dtype")
def _infer_equal_count(node, types, consts):
    a, b = types
    if a.dtype != b.dtype or a.shape != b.shape:
        raise ShapeError(f"{node}: inputs must have the same dtype and shape, got {a} and {b}")
    return [TensorType(a.dtype, (1,))]
