"""Reductions: Reduce* (sum, mean, max, min, prod, L1, L2, sum of squares, log-sum, log-sum-exp) over any
axes, ArgMax/ArgMin along an axis, and MindSpore's EqualCount."""
from __future__ import annotations

import numpy as np

from .. import dtypes as dt
from ..errors import ShapeError
from ..ir import TensorType
from . import Lowering, register
from ._util import norm_axis, size

FLOATS = (dt.F32, dt.F64)

# op -> (kernel of the first pass, kernel of later passes, post of the last pass, dtypes). A reduction over
# axes that are not adjacent runs as one pass per group of adjacent axes; post: 0 none, 1 divide by the
# number of reduced elements, 2 sqrt, 3 log (kernels/ABI.md, reduce_*).
REDUCE_OPS = {
    "ReduceSum": ("sum", "sum", 0, dt.NUMERIC),
    "ReduceMean": ("sum", "sum", 1, dt.NUMERIC),
    "ReduceMax": ("max", "max", 0, (*dt.NUMERIC, dt.BOOL)),
    "ReduceMin": ("min", "min", 0, (*dt.NUMERIC, dt.BOOL)),
    "ReduceProd": ("prod", "prod", 0, dt.NUMERIC),
    "ReduceL1": ("asum", "sum", 0, dt.NUMERIC),
    "ReduceL2": ("sumsq", "sum", 2, FLOATS),
    "ReduceSumSquare": ("sumsq", "sum", 0, dt.NUMERIC),
    "ReduceLogSum": ("sum", "sum", 3, FLOATS),
    "ReduceLogSumExp": ("lse", "lse", 0, FLOATS),
}


def kernel_dtype(t: TensorType) -> str:
    """The kernels' dtype prefix: bool runs on the u8 kernels (max = any, min = all)."""
    return "u8" if t.dtype == dt.BOOL else t.dtype.name


def emit_reduce(ctx: Lowering, kernel: str, outer: int, n: int, inner: int, src, dst, post: int = 0,
                count: int = 0) -> None:
    """One reduce step: dst[outer, inner] = post(reduce of src[outer, n, inner]) (kernels/ABI.md)."""
    ctx.emit(kernel, [src, dst], [outer, n, inner, post, count])


def _reduce_attrs(attrs: dict, opset: int) -> dict:
    out = {"keepdims": int(attrs.get("keepdims", 1)), "noop_with_empty_axes": int(attrs.get("noop_with_empty_axes", 0))}
    if "axes" in attrs:  # an attribute before opset 18 (ReduceSum: 13), the optional input 1 after
        out["axes"] = [int(a) for a in attrs["axes"]]
    return out


def reduced_axes(node, x: TensorType, consts) -> list[int] | None:
    """The sorted reduced axes, or None when the node is an identity (empty axes, noop_with_empty_axes)."""
    axes = node.attr("axes")
    if axes is None and len(node.inputs) > 1 and node.inputs[1]:
        if consts[1] is None:
            raise ShapeError(f"{node}: input '{node.inputs[1]}' (axes) must be a constant")
        axes = [int(v) for v in np.asarray(consts[1]).reshape(-1)]
    if not axes:
        if node.attr("noop_with_empty_axes", 0) and "axes" not in node.attrs:
            return None
        return list(range(x.rank))
    norm = sorted({norm_axis(a, x.rank, "axes") for a in axes})
    if len(norm) != len(axes):
        raise ShapeError(f"{node}: axes {axes} name an axis twice")
    return norm


def _infer_reduce(node, types, consts):
    x = types[0]
    if len(types) > 1 and types[1] is not None and types[1].dtype != dt.I64:
        raise ShapeError(f"{node}: axes must be int64, got {types[1].dtype.name}")
    axes = reduced_axes(node, x, consts)
    if axes is None:
        return [x]
    keep = node.attr("keepdims", 1)
    shape = [1 if i in axes else d for i, d in enumerate(x.shape) if keep or i not in axes]
    return [TensorType(x.dtype, tuple(shape))]


def _lower_reduce(ctx: Lowering) -> None:
    x, y = ctx.in_types[0], ctx.out_types[0]
    if y.size == 0:
        return
    axes = reduced_axes(ctx.node, x, ctx.consts)
    if axes is None:
        ctx.emit("u8_copy", [ctx.input(0), ctx.output(0)], [x.nbytes])
        return
    first, later, post, _ = REDUCE_OPS[ctx.node.op]
    dtn = kernel_dtype(x)
    count = size([x.shape[a] for a in axes])
    if count == 0:  # the empty set: one pass with n = 0 writes each op's identity (all = prod of none = 1)
        kern = "prod" if x.dtype == dt.BOOL and first == "min" else first
        emit_reduce(ctx, f"{dtn}_reduce_{kern}", y.size, 0, 1, ctx.input(0), ctx.output(0), post, 0)
        return
    groups: list[list] = []  # [size, reduced] runs of adjacent dims (size-1 dims dropped)
    for i, d in enumerate(x.shape):
        if d == 1:
            continue
        if groups and groups[-1][1] == (i in axes):
            groups[-1][0] *= d
        else:
            groups.append([d, i in axes])
    passes = [k for k, g in enumerate(groups) if g[1]][::-1] or [None]  # the innermost group first
    src = ctx.input(0)
    dims = [g[0] for g in groups]
    for step, k in enumerate(passes):
        last = step == len(passes) - 1
        kern = first if step == 0 else later
        if k is None:
            outer, n, inner = size(dims), 1, 1
        else:
            outer, n, inner = size(dims[:k]), dims[k], size(dims[k + 1:])
            del dims[k]
        dst = ctx.output(0) if last else ctx.new_scratch(size(dims) * x.dtype.itemsize)
        emit_reduce(ctx, f"{dtn}_reduce_{kern}", outer, n, inner, src, dst, post if last else 0, count)
        src = dst


for _op, (_k1, _k2, _post, _dts) in REDUCE_OPS.items():
    register(_op, lower=_lower_reduce, inputs=(1, 2), dtypes=_dts, onnx_attrs=_reduce_attrs,
             const_inputs=(1,))(_infer_reduce)


# ---------------------------------------------------------------- ArgMax / ArgMin / EqualCount
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
