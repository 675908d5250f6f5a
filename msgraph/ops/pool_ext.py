"""Pooling extras: GlobalAveragePool and GlobalMaxPool over any spatial rank (reduce steps), and LpPool
over 1-D, 2-D and 3-D windows."""
from __future__ import annotations

from .. import dtypes as dt
from ..errors import ShapeError
from ..ir import TensorType
from . import Lowering, register
from ._util import f32_bits, size
from .nn import window_geometry
from .reduce import emit_reduce

FLOATS = (dt.F32, dt.F64)


def _infer_global(node, types, consts):
    x = types[0]
    if x.rank < 2:
        raise ShapeError(f"{node}: input must be N x C x ..., got {x}")
    return [TensorType(x.dtype, (*x.shape[:2], *(1,) * (x.rank - 2)))]


def _lower_global(ctx: Lowering) -> None:
    x = ctx.in_types[0]
    nc, hw = size(x.shape[:2]), size(x.shape[2:])
    if nc == 0:
        return
    if ctx.node.op == "GlobalMaxPool":
        emit_reduce(ctx, f"{x.dtype.name}_reduce_max", nc, hw, 1, ctx.input(0), ctx.output(0))
    else:
        emit_reduce(ctx, f"{x.dtype.name}_reduce_sum", nc, hw, 1, ctx.input(0), ctx.output(0), 1, hw)


for _op in ("GlobalAveragePool", "GlobalMaxPool"):
    register(_op, inputs=(1, 1), dtypes=FLOATS, lower=_lower_global)(_infer_global)


def _lppool_attrs(attrs: dict, opset: int) -> dict:
    out = dict(attrs)
    out["p"] = float(attrs.get("p", 2)) if opset < 2 else int(attrs.get("p", 2))  # a float attribute in opset 1
    return out


def _lp_geometry(node, x: TensorType):
    kernel = node.attr("kernel_shape")
    if x.rank not in (3, 4, 5):
        raise ShapeError(f"{node}: LpPool takes N x C x (1 to 3 spatial dims), got {x}")
    if not kernel or len(kernel) != x.rank - 2:
        raise ShapeError(f"{node}: kernel_shape must list {x.rank - 2} sizes, got {kernel}")
    if node.attr("p", 2) <= 0:
        raise ShapeError(f"{node}: p must be > 0, got {node.attr('p')}")
    return window_geometry(node, x.shape[2:], tuple(kernel), bool(node.attr("ceil_mode", 0)))


@register("LpPool", inputs=(1, 1), dtypes=FLOATS, onnx_attrs=_lppool_attrs, lower=lambda ctx: _lower_lppool(ctx))
def _infer_lppool(node, types, consts):
    x = types[0]
    out = _lp_geometry(node, x)[0]
    return [TensorType(x.dtype, (*x.shape[:2], *out))]


def _lower_lppool(ctx: Lowering) -> None:
    x = ctx.in_types[0]
    out, begin, _, strides, dil = _lp_geometry(ctx.node, x)
    pad = 3 - len(out)  # as 3-D: unit leading dims

    def d3(v, fill):
        return [fill] * pad + list(v)
    ctx.emit(f"{x.dtype.name}_lppool", [ctx.input(0), ctx.output(0)],
             [size(x.shape[:2]), *d3(x.shape[2:], 1), *d3(out, 1), *d3(ctx.node.attr("kernel_shape"), 1),
              *d3(begin, 0), *d3(strides, 1), *d3(dil, 1), f32_bits(ctx.node.attr("p", 2))])
