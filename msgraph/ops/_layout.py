"""Helpers of the layout ops: element-size kernel names, the strided N-d copy lowering, constant int inputs."""
from __future__ import annotations

import itertools

import numpy as np

from ..errors import ShapeError, UnsupportedOpError
from . import Lowering
from ._util import MAX_DIMS, contiguous_strides, size


def sized(dtype, op: str) -> str:
    """The element-size kernel serving `dtype`: u8_/u16_/u32_/u64_<op>."""
    return f"u{8 * dtype.itemsize}_{op}"


def value_bits(value, dtype) -> tuple[int, int]:
    """A scalar converted to `dtype`, as the (low, high) signed 32-bit halves of its bits."""
    raw = np.zeros(8, np.uint8)
    raw[:dtype.itemsize] = np.frombuffer(np.asarray(value).astype(dtype.np).reshape(()).tobytes(), np.uint8)
    lo, hi = (int(v) for v in raw.view(np.int32))
    return lo, hi


def f64_bits(x: float) -> tuple[int, int]:
    lo, hi = (int(v) for v in np.array([x], np.float64).view(np.int32))
    return lo, hi


class RuntimeValueError(UnsupportedOpError, ShapeError):
    """An input an op needs at plan time is not a constant: unsupported if it stays so, but a ShapeError too, so
    that import defers the node's type while the input is a graph input the session binds by value."""


def need_const(node, consts, idx: int) -> np.ndarray:
    """The constant value of input idx; a value computed at run time is unsupported (the op needs it at plan time)."""
    if consts[idx] is None:
        raise RuntimeValueError([(node.name, node.op, node.domain, 0,
                                   (f"input '{node.inputs[idx]}' is computed at run time; this op needs it as a "
                                    "constant (an initializer, a graph input bound by value, or foldable)"))])
    return consts[idx]


def const_ints(node, consts, idx: int, attr: str | None = None) -> list[int] | None:
    """An int list given as attribute `attr` (old opsets) or as constant input `idx` (new opsets); None if absent."""
    if attr is not None and attr in node.attrs:
        return [int(v) for v in node.attrs[attr]]
    if idx < len(node.inputs) and node.inputs[idx]:
        return [int(v) for v in np.asarray(need_const(node, consts, idx)).reshape(-1)]
    return None


def const_scalar(node, consts, idx: int, default=None):
    if idx < len(node.inputs) and node.inputs[idx]:
        a = np.asarray(need_const(node, consts, idx)).reshape(-1)
        if a.size != 1:
            raise ShapeError(f"{node}: input '{node.inputs[idx]}' must hold one value, got {a.size}")
        return a[0]
    return default


def _merge(dims: list[int], xs: list[int], ys: list[int]) -> tuple[list[int], list[int], list[int]]:
    """Drops unit dims and merges neighbours that both tensors walk contiguously."""
    od, ox, oy = [], [], []
    for d, a, b in zip(dims, xs, ys):
        if d == 1:
            continue
        if od and ox[-1] == a * d and oy[-1] == b * d:
            od[-1] *= d
            ox[-1], oy[-1] = a, b
            continue
        od.append(d)
        ox.append(a)
        oy.append(b)
    return od or [1], ox or [0], oy or [0]


def emit_copy(ctx: Lowering, src, dst, item: int, dims, xs, ys=None) -> None:
    """Y (through element strides ys, contiguous by default) = X (through xs) over dims: one or more
    u<bits>_copy_nd steps. src/dst are ctx.input/ctx.output refs (name, byte offset)."""
    dims = [int(d) for d in dims]
    if any(d == 0 for d in dims):
        return
    ys = contiguous_strides(tuple(dims)) if ys is None else list(ys)
    dims, xs, ys = _merge(dims, list(xs), list(ys))
    # loop order: y-contiguous dim innermost; an x-contiguous dim just outside it makes a 2-d tile transpose
    order = list(range(len(dims)))
    inner = [k for k in order if ys[k] == 1 and dims[k] > 1]
    if inner and xs[inner[-1]] != 1:
        k_y = inner[-1]
        k_x = next((k for k in order if xs[k] == 1 and k != k_y and dims[k] > 1), None)
        order = [k for k in order if k not in (k_x, k_y)] + ([k_x] if k_x is not None else []) + [k_y]
    dims, xs, ys = ([v[k] for k in order] for v in (dims, xs, ys))
    outer = max(0, len(dims) - MAX_DIMS)
    kernel = f"u{8 * item}_copy_nd"
    for idx in itertools.product(*(range(d) for d in dims[:outer])):
        xo = sum(i * s for i, s in zip(idx, xs)) * item
        yo = sum(i * s for i, s in zip(idx, ys)) * item
        nd = len(dims) - outer
        ctx.emit(kernel, [(src[0], src[1] + xo), (dst[0], dst[1] + yo)],
                 [nd, *dims[outer:], *xs[outer:], *ys[outer:]])


def unsupported(node, why: str) -> UnsupportedOpError:
    return UnsupportedOpError([(node.name, node.op, node.domain, 0, why)])


def numel(shape) -> int:
    return size(tuple(shape))
