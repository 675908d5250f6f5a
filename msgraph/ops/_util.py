"""Shape helpers shared by the op modules: broadcasting, strides, axis normalisation."""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError

MAX_DIMS = 6  # the broadcast kernels' loop depth (kernels/ABI.md)


def broadcast_shape(*shapes: tuple) -> tuple:
    out: list = []
    rank = max(len(s) for s in shapes)
    for i in range(rank):
        dims = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0}
        dims.discard(1)
        if len(dims) > 1:
            ints = {d for d in dims if isinstance(d, int)}
            if len(ints) > 1:
                raise ShapeError(f"shapes {' and '.join(str(list(s)) for s in shapes)} do not broadcast")
            dims = ints or dims
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def contiguous_strides(shape: tuple) -> list[int]:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return strides[::-1]


def broadcast_strides(out_shape: tuple, in_shape: tuple) -> list[int]:
    """Element strides of `in_shape` read as `out_shape` (0 on broadcast dims)."""
    pad = (1,) * (len(out_shape) - len(in_shape)) + tuple(in_shape)
    return [0 if d == 1 and o != 1 else s for d, o, s in zip(pad, out_shape, contiguous_strides(pad))]


def collapse(out_shape: tuple, *strides: list[int]) -> tuple[list[int], list[list[int]]]:
    """Merges adjacent dims that every operand walks contiguously, so the kernels loop over few dims."""
    dims: list[int] = []
    merged: list[list[int]] = [[] for _ in strides]
    for k, d in enumerate(out_shape):
        if d == 1:
            continue
        if dims and all(s[k] * d == m[-1] for s, m in zip(strides, merged)):
            dims[-1] *= d
            for s, m in zip(strides, merged):
                m[-1] = s[k]
            continue
        dims.append(d)
        for s, m in zip(strides, merged):
            m.append(s[k])
    if not dims:
        return [1], [[0] for _ in strides]
    return dims, merged


def norm_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"{what} {axis} is out of range for rank {rank}")
    return axis % max(rank, 1)


def f32_bits(x: float) -> int:
    return int(np.array(x, np.float32).view(np.int32))


def size(shape: tuple) -> int:
    return int(np.prod(shape, dtype=np.int64))
