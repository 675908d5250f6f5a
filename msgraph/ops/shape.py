"""Shape-only ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity): no kernel, the planner makes their output
an alias of input 0's buffer. Also Dropout at inference (a copy plus an all-true mask) and NonZero (constants only).
Symbolic (str) dims flow through as names or products such as "N*3"."""
from __future__ import annotations

from collections import Counter

from .. import dtypes as dt
from ..errors import ShapeError, UnsupportedOpError
from ..ir import TensorType
from . import Lowering, register
from ._layout import const_ints, const_scalar, sized, value_bits
from ._util import norm_axis


def _factors(dims) -> tuple[int, Counter]:
    """A shape's element count as (static product, multiset of symbolic dims)."""
    p, syms = 1, Counter()
    for d in dims:
        if isinstance(d, str):
            syms[d] += 1
        else:
            p *= int(d)
    return p, syms


def _sym(p: int, syms: Counter) -> int | str:
    """The dim p * prod(syms): an int when nothing is symbolic, else a str like "N" or "N*3"."""
    names = sorted(syms.elements())
    if not names:
        return p
    return "*".join(names + ([str(p)] if p != 1 else []))


def _sym_prod(dims) -> int | str:
    return _sym(*_factors(dims))


@register("Reshape", lower=None, inputs=(1, 2), dtypes=dt.ALL, const_inputs=(1,))
def _infer_reshape(node, types, consts):
    x = types[0]
    target = const_ints(node, consts, 1, "shape")
    if target is None:
        raise ShapeError(f"{node}: needs a shape")
    allowzero = node.attr("allowzero", 0)
    if allowzero and 0 in target and -1 in target:
        raise ShapeError(f"{node}: allowzero with both 0 and -1 in shape {target}")
    if len(target) > x.rank and any(d == 0 for d in target[x.rank:]) and not allowzero:
        raise ShapeError(f"{node}: a 0 in shape {target} beyond the input's rank {x.rank}")
    out = [x.shape[i] if (d == 0 and not allowzero) else d for i, d in enumerate(target)]
    if out.count(-1) > 1 or any(isinstance(d, int) and d < -1 for d in out):
        raise ShapeError(f"{node}: at most one -1 and no other negative dim in shape {target}")
    p_in, s_in = _factors(x.shape)
    p_out, s_out = _factors(d for d in out if d != -1)
    if -1 in out:
        if s_out - s_in or p_out == 0 or p_in % p_out:
            raise ShapeError(f"{node}: cannot reshape {x} to {target}" + ("" if x.is_static else " (undecidable)"))
        out[out.index(-1)] = _sym(p_in // p_out, s_in - s_out)
    elif not s_in and not s_out and p_in != p_out:
        raise ShapeError(f"{node}: cannot reshape {x} ({p_in} elements) to {target}")
    return [TensorType(x.dtype, tuple(out))]


@register("Flatten", lower=None, inputs=(1, 1), dtypes=dt.ALL)
def _infer_flatten(node, types, consts):
    x = types[0]
    axis = node.attr("axis", 1)
    if not -x.rank <= axis <= x.rank:
        raise ShapeError(f"{node}: axis {axis} out of range for rank {x.rank}")
    axis = axis + x.rank if axis < 0 else axis
    return [TensorType(x.dtype, (_sym_prod(x.shape[:axis]), _sym_prod(x.shape[axis:])))]


@register("Squeeze", lower=None, inputs=(1, 2), dtypes=dt.ALL, const_inputs=(1,))
def _infer_squeeze(node, types, consts):
    x = types[0]
    axes = const_ints(node, consts, 1, "axes")
    if axes is None:
        if not x.is_static:
            raise ShapeError(f"{node}: without axes, which symbolic dims of {x} are 1 is undecidable")
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    axes = {norm_axis(a, x.rank) for a in axes}
    for a in axes:
        if isinstance(x.shape[a], int) and x.shape[a] != 1:
            raise ShapeError(f"{node}: cannot squeeze axis {a} of size {x.shape[a]}")
    return [TensorType(x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in axes))]


@register("Unsqueeze", lower=None, inputs=(1, 2), dtypes=dt.ALL, const_inputs=(1,))
def _infer_unsqueeze(node, types, consts):
    x = types[0]
    axes = const_ints(node, consts, 1, "axes")
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


# ---------------------------------------------------------------- Dropout (inference)
def _dropout_attrs(a: dict, opset: int) -> dict:
    # opset < 10: the mask has the input's dtype; opset < 7: is_test; opset < 12: ratio is an attribute
    out = {"mask_bool": int(opset >= 10)}
    if "ratio" in a:
        out["ratio"] = float(a["ratio"])
    if opset < 7 and not a.get("is_test", 0):
        out["training"] = 1
    return out


@register("Dropout", inputs=(1, 3), outputs=(1, 2), dtypes=dt.ALL, onnx_attrs=_dropout_attrs, const_inputs=(1, 2),
          lower=lambda ctx: _lower_dropout(ctx))
def _infer_dropout(node, types, consts):
    x = types[0]
    training = bool(const_scalar(node, consts, 2, node.attr("training", 0)))
    ratio = float(const_scalar(node, consts, 1, node.attr("ratio", 0.5)))
    if training and ratio != 0:
        raise UnsupportedOpError([(node.name, node.op, node.domain, 0,
                                   "Dropout in training mode (random masks are not supported)")])
    mask = TensorType(dt.BOOL if node.attr("mask_bool", 1) else x.dtype, x.shape)
    return [x, mask][:len(node.outputs)]


def _lower_dropout(ctx: Lowering) -> None:
    x = ctx.in_types[0]
    ctx.emit("u8_copy", [ctx.input(0), ctx.output(0)], [x.nbytes])
    if len(ctx.out_types) > 1 and ctx.node.outputs[1]:
        m = ctx.out_types[1].dtype
        ctx.emit(sized(m, "fill"), [ctx.output(1)], [x.size, *value_bits(1, m)])


# ---------------------------------------------------------------- NonZero
@register("NonZero", inputs=(1, 1), dtypes=dt.ALL, lower=None)
def _infer_nonzero(node, types, consts):
    raise UnsupportedOpError([(node.name, node.op, node.domain, 0,
                               ("NonZero's output shape depends on its input's values: only a constant input "
                               "(evaluated at plan time) is supported"))])
