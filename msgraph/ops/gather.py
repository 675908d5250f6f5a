"""Indexed ops: Gather, GatherElements, GatherND, ScatterElements (and the old Scatter), ScatterND, OneHot.
Indices are data (int32 or int64, negative counts from the end; out of range fails at run time)."""
from __future__ import annotations

from .. import dtypes as dt
from ..errors import ShapeError
from ..ir import TensorType
from . import Lowering, register
from ._layout import const_scalar, numel, sized, unsupported

INDEX = (dt.I32, dt.I64)
_REDUCTIONS = {"none": 0, "add": 1, "mul": 2, "max": 3, "min": 4}
# dtype-specific kernels (the scatters' reductions) serve the other dtypes of one size without reduction
_SAME_BITS = {dt.BOOL: dt.U8, dt.F16: dt.I16, dt.U16: dt.I16, dt.U32: dt.I32, dt.U64: dt.I64}


def _indices(node, t: TensorType, what: str = "indices") -> int:
    if t.dtype not in INDEX:
        raise ShapeError(f"{node}: {what} must be int32 or int64, got {t.dtype.name}")
    return int(t.dtype == dt.I64)


def _pad6(vals: list[int], fill: int) -> list[int]:
    if len(vals) > 6:
        raise ShapeError(f"rank {len(vals)} is above the kernels' 6")
    return [*vals, *[fill] * (6 - len(vals))]


def _strides(shape) -> list[int]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return out[::-1]


# ---------------------------------------------------------------- Gather
@register("Gather", inputs=(2, 2), dtypes=dt.ALL, lower=lambda ctx: _lower_gather(ctx),
          onnx_attrs=lambda a, opset: {"axis": int(a.get("axis", 0))})
def _infer_gather(node, types, consts):
    x, i = types
    _indices(node, i)
    if x.rank == 0:
        raise ShapeError(f"{node}: data must have rank >= 1")
    axis = _axis(node, x.rank)
    return [TensorType(x.dtype, x.shape[:axis] + i.shape + x.shape[axis + 1:])]


def _axis(node, rank: int) -> int:
    axis = int(node.attr("axis", 0))
    if not -rank <= axis < rank:
        raise ShapeError(f"{node}: axis {axis} is out of range for rank {rank}")
    return axis % rank


def _lower_gather(ctx: Lowering) -> None:
    x, i = ctx.in_types
    axis = _axis(ctx.node, x.rank)
    ctx.emit(sized(x.dtype, "gather"), [ctx.input(0), ctx.input(1), ctx.output(0)],
             [numel(x.shape[:axis]), x.shape[axis], numel(x.shape[axis + 1:]), i.size, _indices(ctx.node, i)])


# ---------------------------------------------------------------- GatherElements / ScatterElements
@register("GatherElements", inputs=(2, 2), dtypes=dt.ALL, lower=lambda ctx: _lower_gather_elements(ctx),
          onnx_attrs=lambda a, opset: {"axis": int(a.get("axis", 0))})
def _infer_gather_elements(node, types, consts):
    x, i = types
    _indices(node, i)
    if x.rank == 0 or i.rank != x.rank:
        raise ShapeError(f"{node}: data and indices must have one rank >= 1, got {x} and {i}")
    axis = _axis(node, x.rank)
    if any(a > b for k, (a, b) in enumerate(zip(i.shape, x.shape)) if k != axis):
        raise ShapeError(f"{node}: indices {i} exceed data {x} outside axis {axis}")
    return [TensorType(x.dtype, i.shape)]


def _elements_ints(ctx: Lowering, data: TensorType, ind: TensorType) -> list[int]:
    axis = _axis(ctx.node, data.rank)
    if data.rank > 6:
        raise unsupported(ctx.node, f"rank {data.rank} (at most 6)")
    return [data.rank, axis, _indices(ctx.node, ind), data.shape[axis], *_pad6(list(ind.shape), 1),
            *_pad6(_strides(data.shape), 0)]


def _lower_gather_elements(ctx: Lowering) -> None:
    x, i = ctx.in_types
    ctx.emit(sized(x.dtype, "gather_elements"), [ctx.input(0), ctx.input(1), ctx.output(0)],
             _elements_ints(ctx, x, i))


def _scatter_attrs(a: dict, opset: int) -> dict:
    return {"axis": int(a.get("axis", 0)), "reduction": a.get("reduction", "none")}


def _scatter_kernel(node, dtype, op: str) -> tuple[str, int]:
    red = node.attr("reduction", "none")
    if red not in _REDUCTIONS:
        raise ShapeError(f"{node}: reduction must be one of {sorted(_REDUCTIONS)}, got {red!r}")
    if dtype in _SAME_BITS:
        if red != "none" and not (dtype == dt.BOOL and red in ("max", "min")):
            raise unsupported(node, f"reduction '{red}' on {dtype.name}")
        dtype = _SAME_BITS[dtype]
    return f"{dtype.name}_{op}", _REDUCTIONS[red]


def _infer_scatter_elements(node, types, consts):
    x, i, u = types
    _indices(node, i)
    if not (x.rank == i.rank and i.shape == u.shape and u.dtype == x.dtype) or x.rank == 0:
        raise ShapeError(f"{node}: data {x}, indices {i} and updates {u} do not fit")
    axis = _axis(node, x.rank)
    if any(a > b for k, (a, b) in enumerate(zip(i.shape, x.shape)) if k != axis):
        raise ShapeError(f"{node}: indices {i} exceed data {x} outside axis {axis}")
    _scatter_kernel(node, x.dtype, "scatter_elements")
    return [x]


def _lower_scatter_elements(ctx: Lowering) -> None:
    x, i, _ = ctx.in_types
    kernel, red = _scatter_kernel(ctx.node, x.dtype, "scatter_elements")
    ctx.emit(kernel, [ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)],
             [*_elements_ints(ctx, x, i), red, x.size])


register("ScatterElements", inputs=(3, 3), dtypes=dt.ALL, onnx_attrs=_scatter_attrs,
         lower=_lower_scatter_elements)(_infer_scatter_elements)
register("Scatter", inputs=(3, 3), dtypes=dt.ALL, onnx_attrs=_scatter_attrs,
         lower=_lower_scatter_elements)(_infer_scatter_elements)


# ---------------------------------------------------------------- GatherND / ScatterND
def _gather_nd_parts(node, x: TensorType, i: TensorType):
    b = int(node.attr("batch_dims", 0))
    _indices(node, i)
    if i.rank < 1 or not 0 <= b < min(x.rank, i.rank) or x.shape[:b] != i.shape[:b]:
        raise ShapeError(f"{node}: data {x} and indices {i} do not fit batch_dims {b}")
    k = i.shape[-1]
    if not 1 <= k <= x.rank - b:
        raise ShapeError(f"{node}: indices' last dim {k} must be in 1..{x.rank - b}")
    return b, k


@register("GatherND", inputs=(2, 2), dtypes=dt.ALL, lower=lambda ctx: _lower_gather_nd(ctx),
          onnx_attrs=lambda a, opset: {"batch_dims": int(a.get("batch_dims", 0))})
def _infer_gather_nd(node, types, consts):
    x, i = types
    b, k = _gather_nd_parts(node, x, i)
    return [TensorType(x.dtype, i.shape[:-1] + x.shape[b + k:])]


def _lower_gather_nd(ctx: Lowering) -> None:
    x, i = ctx.in_types
    b, k = _gather_nd_parts(ctx.node, x, i)
    if k > 6:
        raise unsupported(ctx.node, f"indices of depth {k} (at most 6)")
    ctx.emit(sized(x.dtype, "gather_nd"), [ctx.input(0), ctx.input(1), ctx.output(0)],
             [numel(x.shape[:b]), numel(i.shape[b:-1]), k, numel(x.shape[b + k:]), _indices(ctx.node, i),
              numel(x.shape[b:]), *_pad6(list(x.shape[b:b + k]), 1)])


@register("ScatterND", inputs=(3, 3), dtypes=dt.ALL, lower=lambda ctx: _lower_scatter_nd(ctx),
          onnx_attrs=lambda a, opset: {"reduction": a.get("reduction", "none")})
def _infer_scatter_nd(node, types, consts):
    x, i, u = types
    _indices(node, i)
    k = i.shape[-1] if i.rank else 0
    if not 1 <= k <= x.rank or u.dtype != x.dtype or u.shape != i.shape[:-1] + x.shape[k:]:
        raise ShapeError(f"{node}: data {x}, indices {i} and updates {u} do not fit")
    _scatter_kernel(node, x.dtype, "scatter_nd")
    return [x]


def _lower_scatter_nd(ctx: Lowering) -> None:
    x, i, _ = ctx.in_types
    k = i.shape[-1]
    if k > 6:
        raise unsupported(ctx.node, f"indices of depth {k} (at most 6)")
    kernel, red = _scatter_kernel(ctx.node, x.dtype, "scatter_nd")
    ctx.emit(kernel, [ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)],
             [numel(i.shape[:-1]), k, numel(x.shape[k:]), _indices(ctx.node, i), red, *_pad6(list(x.shape[:k]), 1)])


# ---------------------------------------------------------------- OneHot
def _depth(node, consts) -> int:
    d = const_scalar(node, consts, 1)
    if d is None:
        raise ShapeError(f"{node}: needs depth")
    d = int(d)
    if d < 0:
        raise ShapeError(f"{node}: depth must be >= 0, got {d}")
    return d


@register("OneHot", inputs=(3, 3), dtypes=dt.NUMERIC, const_inputs=(1,), lower=lambda ctx: _lower_onehot(ctx),
          onnx_attrs=lambda a, opset: {"axis": int(a.get("axis", -1))})
def _infer_onehot(node, types, consts):
    i, _, v = types
    if v.size != 2 and v.is_static:
        raise ShapeError(f"{node}: values must hold 2 elements [off, on], got {v}")
    if v.dtype.itemsize not in (1, 2, 4, 8):
        raise ShapeError(f"{node}: values dtype {v.dtype.name}")
    rank = i.rank + 1
    axis = int(node.attr("axis", -1))
    if not -rank <= axis < rank:
        raise ShapeError(f"{node}: axis {axis} is out of range for rank {rank}")
    axis %= rank
    return [TensorType(v.dtype, i.shape[:axis] + (_depth(node, consts),) + i.shape[axis:])]


def _lower_onehot(ctx: Lowering) -> None:
    i, _, v = ctx.in_types
    axis = int(ctx.node.attr("axis", -1)) % (i.rank + 1)
    ctx.emit(f"{i.dtype.name}_onehot", [ctx.input(0), ctx.input(2), ctx.output(0)],
             [numel(i.shape[:axis]), _depth(ctx.node, ctx.consts), numel(i.shape[axis:]), v.dtype.itemsize])
