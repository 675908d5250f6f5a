"""Layout ops lowered to strided copies: Transpose, Concat, Split, Slice, Expand, Tile, DepthToSpace,
SpaceToDepth, plus Pad and Trilu (their own kernels). Every dtype: the kernels work on element sizes."""
from __future__ import annotations

import numpy as np

from .. import dtypes as dt
from ..errors import ShapeError
from ..ir import TensorType
from . import Lowering, register
from ._layout import const_ints, const_scalar, emit_copy, sized, unsupported, value_bits
from ._util import broadcast_shape, broadcast_strides, contiguous_strides, norm_axis


def _item(ctx: Lowering) -> int:
    return ctx.in_types[0].dtype.itemsize


# ---------------------------------------------------------------- Transpose
def _perm(node, rank: int) -> list[int]:
    perm = node.attr("perm")
    perm = list(range(rank))[::-1] if perm is None else [int(p) for p in perm]
    if sorted(p % max(rank, 1) for p in perm) != list(range(rank)):
        raise ShapeError(f"{node}: perm {perm} is not a permutation of {rank} axes")
    return [p % max(rank, 1) for p in perm]


@register("Transpose", inputs=(1, 1), dtypes=dt.ALL, lower=lambda ctx: _lower_transpose(ctx))
def _infer_transpose(node, types, consts):
    x = types[0]
    return [TensorType(x.dtype, tuple(x.shape[p] for p in _perm(node, x.rank)))]


def _lower_transpose(ctx: Lowering) -> None:
    x = ctx.in_types[0]
    perm = _perm(ctx.node, x.rank)
    xs = contiguous_strides(x.shape)
    emit_copy(ctx, ctx.input(0), ctx.output(0), _item(ctx), [x.shape[p] for p in perm], [xs[p] for p in perm])


# ---------------------------------------------------------------- Concat / Split
def _sym_sum(dims) -> int | str:
    ints = sum(d for d in dims if isinstance(d, int))
    strs = [d for d in dims if isinstance(d, str)]
    return "+".join([*strs, str(ints)] if ints else strs) if strs else ints


@register("Concat", inputs=(1, 1 << 16), dtypes=dt.ALL, lower=lambda ctx: _lower_concat(ctx),
          views=lambda ctx: _concat_views(ctx), onnx_attrs=lambda a, opset: {"axis": int(a.get("axis", 1))})
def _infer_concat(node, types, consts):
    x = types[0]
    if x.rank == 0:
        raise ShapeError(f"{node}: inputs must have rank >= 1")
    axis = norm_axis(node.attr("axis"), x.rank)
    for t in types[1:]:
        if t.dtype != x.dtype or t.rank != x.rank or any(
                a != b and isinstance(a, int) and isinstance(b, int) for k, (a, b) in enumerate(zip(t.shape, x.shape))
                if k != axis):
            raise ShapeError(f"{node}: inputs {x} and {t} do not concatenate along axis {axis}")
    shape = list(x.shape)
    shape[axis] = _sym_sum([t.shape[axis] for t in types])
    return [TensorType(x.dtype, tuple(shape))]


def _lower_concat(ctx: Lowering) -> None:
    out = ctx.out_types[0]
    axis = norm_axis(ctx.node.attr("axis"), out.rank)
    ys = contiguous_strides(out.shape)
    at = 0
    for i, t in enumerate(ctx.in_types):
        emit_copy(ctx, ctx.input(i), ctx.output(0, at * ys[axis] * _item(ctx)), _item(ctx), t.shape,
                  contiguous_strides(t.shape), ys)
        at += t.shape[axis]


def _concat_views(ctx: Lowering) -> list[int] | None:
    """Each input's byte offset in the output, when nothing but unit dims come before the axis (then every
    input is one contiguous block of the output: channels of a batch-1 NCHW tensor)."""
    out = ctx.out_types[0]
    if any(d != 1 for d in out.shape[:norm_axis(ctx.node.attr("axis"), out.rank)]):
        return None
    starts = np.cumsum([0] + [t.nbytes for t in ctx.in_types[:-1]])
    return [int(a) for a in starts]


def _split_sizes(node, x: TensorType, consts, n_out: int) -> tuple[int, list[int]]:
    axis = norm_axis(node.attr("axis", 0), x.rank)
    dim = x.shape[axis]
    split = const_ints(node, consts, 1, "split")
    if split is not None:
        if len(split) != n_out or min(split, default=0) < 0 or sum(split) != dim:
            raise ShapeError(f"{node}: split {split} does not cut {dim} into {n_out} parts")
        return axis, split
    n = int(node.attr("num_outputs", n_out))
    if n != n_out:
        raise ShapeError(f"{node}: num_outputs {n} but {n_out} outputs")
    if "num_outputs" in node.attrs:  # opset 18: chunks of ceil(dim / n), the last one smaller
        chunk = -(-dim // n)
        sizes = [min(chunk, max(0, dim - k * chunk)) for k in range(n)]
        if chunk * (n - 1) >= dim and dim:
            raise ShapeError(f"{node}: cannot split {dim} into {n} chunks of {chunk}")
        return axis, sizes
    if dim % n:
        raise ShapeError(f"{node}: {dim} does not split into {n} equal parts")
    return axis, [dim // n] * n


@register("Split", inputs=(1, 2), outputs=(1, 1 << 16), dtypes=dt.ALL, const_inputs=(1,),
          lower=lambda ctx: _lower_split(ctx))
def _infer_split(node, types, consts):
    x = types[0]
    axis, sizes = _split_sizes(node, x, consts, len(node.outputs))
    return [TensorType(x.dtype, x.shape[:axis] + (s,) + x.shape[axis + 1:]) for s in sizes]


def _lower_split(ctx: Lowering) -> None:
    x = ctx.in_types[0]
    axis, sizes = _split_sizes(ctx.node, x, ctx.consts, len(ctx.node.outputs))
    xs = contiguous_strides(x.shape)
    at = 0
    for k, (o, s) in enumerate(zip(ctx.node.outputs, sizes)):
        if o:
            emit_copy(ctx, ctx.input(0, at * xs[axis] * _item(ctx)), ctx.output(k), _item(ctx),
                      x.shape[:axis] + (s,) + x.shape[axis + 1:], xs)
        at += s


# ---------------------------------------------------------------- Slice
def _slices(node, x: TensorType, consts) -> list[tuple[int, int, int]]:
    """(start, step, count) per axis of x."""
    starts = const_ints(node, consts, 1, "starts")
    ends = const_ints(node, consts, 2, "ends")
    if starts is None or ends is None or len(starts) != len(ends):
        raise ShapeError(f"{node}: needs starts and ends of one length")
    axes = const_ints(node, consts, 3, "axes")
    axes = list(range(len(starts))) if axes is None else axes
    steps = const_ints(node, consts, 4)
    steps = [1] * len(starts) if steps is None else steps
    if not len(axes) == len(steps) == len(starts):
        raise ShapeError(f"{node}: starts, ends, axes and steps differ in length")
    out = [(0, 1, d) for d in x.shape]
    seen = set()
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = norm_axis(a, x.rank)
        if a in seen or st == 0:
            raise ShapeError(f"{node}: repeated axis {a} or zero step")
        seen.add(a)
        r = range(*slice(s, e, st).indices(x.shape[a]))
        out[a] = (r.start, st, len(r))
    return out


@register("Slice", inputs=(1, 5), dtypes=dt.ALL, const_inputs=(1, 2, 3, 4), lower=lambda ctx: _lower_slice(ctx))
def _infer_slice(node, types, consts):
    x = types[0]
    return [TensorType(x.dtype, tuple(c for _, _, c in _slices(node, x, consts)))]


def _lower_slice(ctx: Lowering) -> None:
    x = ctx.in_types[0]
    sl = _slices(ctx.node, x, ctx.consts)
    xs = contiguous_strides(x.shape)
    start = sum(s * st for (s, _, _), st in zip(sl, xs))
    emit_copy(ctx, ctx.input(0, start * _item(ctx)), ctx.output(0), _item(ctx), [c for _, _, c in sl],
              [step * st for (_, step, _), st in zip(sl, xs)])


# ---------------------------------------------------------------- Expand / Tile
@register("Expand", inputs=(2, 2), dtypes=dt.ALL, const_inputs=(1,),
          lower=lambda ctx: emit_copy(ctx, ctx.input(0), ctx.output(0), _item(ctx), ctx.out_types[0].shape,
                                      broadcast_strides(ctx.out_types[0].shape, ctx.in_types[0].shape)))
def _infer_expand(node, types, consts):
    shape = const_ints(node, consts, 1)
    if min(shape, default=0) < 0:
        raise ShapeError(f"{node}: shape {shape} has negative dims")
    return [TensorType(types[0].dtype, broadcast_shape(types[0].shape, tuple(shape)))]


@register("Tile", inputs=(2, 2), dtypes=dt.ALL, const_inputs=(1,), min_opset=6, lower=lambda ctx: _lower_tile(ctx))
def _infer_tile(node, types, consts):
    x = types[0]
    reps = const_ints(node, consts, 1)
    if len(reps) != x.rank or min(reps, default=0) < 0:
        raise ShapeError(f"{node}: repeats {reps} must be {x.rank} values >= 0")
    return [TensorType(x.dtype, tuple(d * r for d, r in zip(x.shape, reps)))]


def _lower_tile(ctx: Lowering) -> None:
    x, y = ctx.in_types[0], ctx.out_types[0]
    reps = const_ints(ctx.node, ctx.consts, 1)
    xs, ys = contiguous_strides(x.shape), contiguous_strides(y.shape)
    dims, sx, sy = [], [], []
    for d, r, a, b in zip(x.shape, reps, xs, ys):
        dims += [r, d]
        sx += [0, a]
        sy += [d * b, b]
    emit_copy(ctx, ctx.input(0), ctx.output(0), _item(ctx), dims, sx, sy)


# ---------------------------------------------------------------- DepthToSpace / SpaceToDepth
def _d2s_attrs(a: dict, opset: int) -> dict:
    return {"blocksize": int(a["blocksize"]), "mode": a.get("mode", "DCR")}


def _d2s_view(node, x: TensorType):
    """(input viewed as 6 dims, the permutation to the output's 6 dims, output shape)."""
    if x.rank != 4:
        raise ShapeError(f"{node}: input must be 4-D (NCHW), got {x}")
    n, c, h, w = x.shape
    b = node.attr("blocksize")
    if b < 1:
        raise ShapeError(f"{node}: blocksize must be >= 1, got {b}")
    if node.op == "DepthToSpace":
        if c % (b * b):
            raise ShapeError(f"{node}: channels {c} are not a multiple of blocksize^2 = {b * b}")
        cb = c // (b * b)
        if node.attr("mode", "DCR") == "CRD":
            return (n, cb, b, b, h, w), (0, 1, 4, 2, 5, 3), (n, cb, h * b, w * b)
        return (n, b, b, cb, h, w), (0, 3, 4, 1, 5, 2), (n, cb, h * b, w * b)
    if h % b or w % b:
        raise ShapeError(f"{node}: height and width {h}x{w} are not multiples of blocksize {b}")
    perm = (0, 1, 3, 5, 2, 4) if node.attr("mode", "DCR") == "CRD" else (0, 3, 5, 1, 2, 4)
    return (n, c, h // b, b, w // b, b), perm, (n, c * b * b, h // b, w // b)


def _infer_d2s(node, types, consts):
    return [TensorType(types[0].dtype, _d2s_view(node, types[0])[2])]


def _lower_d2s(ctx: Lowering) -> None:
    view, perm, _ = _d2s_view(ctx.node, ctx.in_types[0])
    xs = contiguous_strides(view)
    emit_copy(ctx, ctx.input(0), ctx.output(0), _item(ctx), [view[p] for p in perm], [xs[p] for p in perm])


register("DepthToSpace", inputs=(1, 1), dtypes=dt.ALL, onnx_attrs=_d2s_attrs, lower=_lower_d2s)(_infer_d2s)
register("SpaceToDepth", inputs=(1, 1), dtypes=dt.ALL, onnx_attrs=_d2s_attrs, lower=_lower_d2s)(_infer_d2s)


# ---------------------------------------------------------------- Pad
_PAD_MODES = {"constant": 0, "reflect": 1, "edge": 2, "wrap": 3}


def _pad_attrs(a: dict, opset: int) -> dict:
    out = {"mode": a.get("mode", "constant")}
    if opset < 11:  # pads and value were attributes ("paddings" in opset 1)
        out["pads"] = list(a.get("pads", a.get("paddings", [])))
        out["value"] = float(a.get("value", 0.0))
    return out


def _pad_spec(node, x: TensorType, consts) -> tuple[list[int], list[int]]:
    pads = const_ints(node, consts, 1, "pads")
    if pads is None:
        raise ShapeError(f"{node}: needs pads")
    axes = const_ints(node, consts, 3)
    axes = list(range(x.rank)) if axes is None else [norm_axis(a, x.rank) for a in axes]
    if len(pads) != 2 * len(axes) or len(set(axes)) != len(axes):
        raise ShapeError(f"{node}: {len(pads)} pads for axes {axes}")
    begin, end = [0] * x.rank, [0] * x.rank
    for k, a in enumerate(axes):
        begin[a], end[a] = pads[k], pads[k + len(axes)]
    return begin, end


@register("Pad", inputs=(1, 4), dtypes=dt.ALL, onnx_attrs=_pad_attrs, const_inputs=(1, 2, 3),
          lower=lambda ctx: _lower_pad(ctx))
def _infer_pad(node, types, consts):
    x = types[0]
    if node.attr("mode") not in _PAD_MODES:
        raise ShapeError(f"{node}: mode must be one of {sorted(_PAD_MODES)}, got {node.attr('mode')!r}")
    begin, end = _pad_spec(node, x, consts)
    shape = tuple(d + b + e for d, b, e in zip(x.shape, begin, end))
    if min(shape, default=0) < 0:
        raise ShapeError(f"{node}: pads {begin + end} crop {x} below zero")
    if node.attr("mode") != "constant" and x.size == 0 and min(shape, default=1) > 0:
        raise ShapeError(f"{node}: mode {node.attr('mode')} cannot pad an empty input")
    return [TensorType(x.dtype, shape)]


def _lower_pad(ctx: Lowering) -> None:
    x, y = ctx.in_types[0], ctx.out_types[0]
    mode = _PAD_MODES[ctx.node.attr("mode")]
    begin, end = _pad_spec(ctx.node, x, ctx.consts)
    value = ctx.node.attr("value", 0.0) if "value" in ctx.node.attrs else const_scalar(ctx.node, ctx.consts, 2, 0)
    ins, outs, bs = [], [], []
    for d, o, b, e in zip(x.shape, y.shape, begin, end):
        # an unpadded dim folds into the previous one when that one is unpadded too (or padded with a constant)
        if ins and b == 0 and e == 0 and (mode == 0 or ins[-1] == outs[-1] and bs[-1] == 0):
            ins[-1] *= d
            outs[-1] *= d
            bs[-1] *= d
            continue
        ins.append(d)
        outs.append(o)
        bs.append(b)
    while len(ins) > 1 and ins[0] == outs[0] == 1:
        del ins[0], outs[0], bs[0]
    if not ins:
        ins, outs, bs = [1], [1], [0]
    if len(ins) > 6:
        raise unsupported(ctx.node, f"Pad over {len(ins)} padded dims (at most 6)")
    if y.size == 0:
        return
    lo, hi = value_bits(value, x.dtype)
    fill = 6 - len(ins)
    ctx.emit(sized(x.dtype, "pad"), [ctx.input(0), ctx.output(0)],
             [mode, len(ins), lo, hi, *ins, *[1] * fill, *outs, *[1] * fill, *bs, *[0] * fill])


# ---------------------------------------------------------------- Trilu
@register("Trilu", inputs=(1, 2), dtypes=dt.ALL, const_inputs=(1,), inplace=True,
          lower=lambda ctx: _lower_trilu(ctx))
def _infer_trilu(node, types, consts):
    x = types[0]
    if x.rank < 2:
        raise ShapeError(f"{node}: input must have rank >= 2, got {x}")
    const_scalar(node, consts, 1, 0)
    return [x]


def _lower_trilu(ctx: Lowering) -> None:
    x = ctx.in_types[0]
    k = int(np.clip(int(const_scalar(ctx.node, ctx.consts, 1, 0)), -(1 << 30), 1 << 30))
    rows, cols = x.shape[-2:]
    batch = x.size // max(rows * cols, 1) if rows * cols else 0
    ctx.emit(sized(x.dtype, "trilu"), [ctx.input(0), ctx.output(0)], [batch, rows, cols, k, int(ctx.node.attr("upper", 1))])
