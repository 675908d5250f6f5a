"""Shape-only ops. They have no kernel: the planner makes their output an alias of input 0's buffer."""
from __future__ import annotations

import numpy as np

from .. import dtypes as dt
from ..errors import ShapeError
from ..ir import TensorType
from . import register
from ._util import norm_axis, size


def _const_ints(node, consts, idx: int, attr: str):
    """An int list given as attribute (old opsets) or as a constant input (new opsets)."""
    if attr in node.attrs:
        return [int(v) for v in node.attrs[attr]]
    if idx < len(node.inputs) and node.inputs[idx]:
        if consts[idx] is None:
            raise ShapeError(f"{node}: input '{node.inputs[idx]}' ({attr}) must be a constant; "
                             "shapes computed at run time are not supported")
        return [int(v) for v in np.asarray(consts[idx]).reshape(-1)]
    return None


@register("Reshape", lower=None, inputs=(1, 2), dtypes=dt.ALL, const_inputs=(1,))
def _infer_reshape(node, types, consts):
    x = types[0]
    target = _const_ints(node, consts, 1, "shape")
    if target is None:
        raise ShapeError(f"{node}: needs a shape")
    allowzero = node.attr("allowzero", 0)
    out = [x.shape[i] if (d == 0 and not allowzero) else d for i, d in enumerate(target)]
    if out.count(-1) > 1:
        raise ShapeError(f"{node}: at most one -1 in shape {target}")
    if -1 in out:
        known = size([d for d in out if d != -1])
        if known == 0 or x.size % known:
            raise ShapeError(f"{node}: cannot reshape {x} to {target}")
        out[out.index(-1)] = x.size // known
    if size(out) != x.size:
        raise ShapeError(f"{node}: cannot reshape {x} ({x.size} elements) to {target}")
    return [TensorType(x.dtype, tuple(out))]


@register("Flatten", lower=None, inputs=(1, 1), dtypes=dt.ALL)
def _infer_flatten(node, types, consts):
    x = types[0]
    axis = node.attr("axis", 1)
    if not -x.rank <= axis <= x.rank:
        raise ShapeError(f"{node}: axis {axis} out of range for rank {x.rank}")
    axis = axis + x.rank if axis < 0 else axis
    return [TensorType(x.dtype, (size(x.shape[:axis]), size(x.shape[axis:])))]


@register("Squeeze", lower=None, inputs=(1, 2), dtypes=dt.ALL, const_inputs=(1,))
def _infer_squeeze(node, types, consts):
    x = types[0]
    axes = _const_ints(node, consts, 1, "axes")
    if axes is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    axes = {norm_axis(a, x.rank) for a in axes}
    for a in axes:
        if x.shape[a] != 1:
            raise ShapeError(f"{node}: cannot squeeze axis {a} of size {x.shape[a]}")
    return [TensorType(x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in axes))]


@register("Unsqueeze", lower=None, inputs=(1, 2), dtypes=dt.ALL, const_inputs=(1,))
def _infer_unsqueeze(node, types, consts):
    x = types[0]
    axes = _const_ints(node, consts, 1, "axes")
    if axes is None:
        raise ShapeError(f"{node}: needs axes")
    rank = x.rank + len(axes)
    axes = sorted(norm_axis(a, rank) for a in axes)
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{node}: repeated axes {axes}")
    dims = iter(x.shape)
    return [TensorType(x.dtype, tuple(1 if i in axes else next(dims) for i in range(rank)))]


@register("Identity", lower=None, inputs=(1, 1), dtypes=dt.ALL)
def _infer_identity(node, types, consts):
    return [types[0]]
