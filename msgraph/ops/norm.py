"""Normalisation ops: BatchNormalization (inference and training statistics), InstanceNormalization,
GroupNormalization, LayerNormalization, LRN and Hardmax."""
from __future__ import annotations

from .. import dtypes as dt
from ..errors import ShapeError, UnsupportedOpError
from ..ir import TensorType
from . import Lowering, register
from ._util import f32_bits, norm_axis, size

FLOATS = (dt.F32, dt.F64)


def _unsupported(node, why: str) -> UnsupportedOpError:
    return UnsupportedOpError([(node.name, node.op, node.domain, 0, why)])


def _same_dtype(node, types) -> None:
    x = types[0]
    for t in types[1:]:
        if t is not None and t.dtype != x.dtype:
            raise _unsupported(node, f"parameters of dtype {t.dtype.name} with a {x.dtype.name} input")


def _want_shape(node, t: TensorType, shape: tuple, what: str) -> None:
    if tuple(t.shape) != tuple(shape):
        raise ShapeError(f"{node}: {what} must have shape {list(shape)}, got {list(t.shape)}")


# ---------------------------------------------------------------- BatchNormalization
def _bn_attrs(attrs: dict, opset: int) -> dict:
    out = {"epsilon": float(attrs.get("epsilon", 1e-5)), "momentum": float(attrs.get("momentum", 0.9))}
    if opset < 9:
        out["spatial"] = int(attrs.get("spatial", 1))
    if opset < 7:
        out["is_test"] = int(attrs.get("is_test", 0))
    if opset >= 14:
        out["training_mode"] = int(attrs.get("training_mode", 0))
    return out


def bn_training(node) -> bool:
    """Opset >= 14: training_mode; < 7: not is_test; between: training when the statistics are outputs."""
    if "training_mode" in node.attrs:
        return bool(node.attrs["training_mode"])
    if "is_test" in node.attrs:
        return not node.attrs["is_test"]
    return sum(1 for o in node.outputs if o) > 1


def _bn_dims(node, x: TensorType) -> tuple[int, int, int]:
    """N, C, HW of the kernels: spatial=0 (opset < 9) normalises every C x H x W position on its own."""
    if x.rank < 2:
        raise ShapeError(f"{node}: input must have rank >= 2, got {x}")
    if not node.attr("spatial", 1):
        return x.shape[0], size(x.shape[1:]), 1
    return x.shape[0], x.shape[1], size(x.shape[2:])


@register("BatchNormalization", inputs=(5, 5), outputs=(1, 5), dtypes=FLOATS, onnx_attrs=_bn_attrs,
          lower=lambda ctx: _lower_bn(ctx))
def _infer_bn(node, types, consts):
    x = types[0]
    _same_dtype(node, types)
    _n, c, _hw = _bn_dims(node, x)
    pshape = (c,) if node.attr("spatial", 1) else tuple(x.shape[1:])
    for t, what in zip(types[1:], ("scale", "B", "mean", "var")):
        if t.size != c:
            raise ShapeError(f"{node}: {what} must have {c} elements, got {t}")
    outs = [x]
    if len(node.outputs) > 1:
        if not bn_training(node):
            raise ShapeError(f"{node}: statistics outputs need training mode")
        if any(node.outputs[3:]):
            raise _unsupported(node, "the saved_mean / saved_var outputs of BatchNormalization")
        outs += [TensorType(x.dtype, pshape)] * (len(node.outputs) - 1)
    return outs


def _lower_bn(ctx: Lowering) -> None:
    x = ctx.in_types[0]
    n, c, hw = _bn_dims(ctx.node, x)
    eps = f32_bits(ctx.node.attr("epsilon", 1e-5))
    ins = [ctx.input(i) for i in range(5)]
    if not bn_training(ctx.node):
        ctx.emit(f"{x.dtype.name}_batchnorm", [*ins, ctx.output(0)], [n, c, hw, eps])
        return
    stats = [ctx.output(i) if i < len(ctx.node.outputs) and ctx.node.outputs[i] else None for i in (1, 2)]
    ctx.emit(f"{x.dtype.name}_batchnorm_train", [*ins, ctx.output(0), *stats],
             [n, c, hw, eps, f32_bits(ctx.node.attr("momentum", 0.9))])


# ---------------------------------------------------------------- Instance / Group normalisation
def _eps_attrs(attrs: dict, opset: int) -> dict:
    out = {k: v for k, v in attrs.items() if k in ("num_groups", "stash_type")}
    out["epsilon"] = float(attrs.get("epsilon", 1e-5))
    return out


def _infer_groupnorm(node, types, consts):
    x = types[0]
    _same_dtype(node, types)
    if x.rank < 2:
        raise ShapeError(f"{node}: input must have rank >= 2, got {x}")
    c = x.shape[1]
    g = _groups(node, x)
    for t, what in zip(types[1:], ("scale", "B")):
        if t.shape not in ((c,), (g,)):  # opset 18: one per group; opset 21 (and InstanceNorm): per channel
            raise ShapeError(f"{node}: {what} must have shape [{c}] (or [{g}] per group), got {list(t.shape)}")
    return [x]


def _groups(node, x: TensorType) -> int:
    if node.op == "InstanceNormalization":
        return x.shape[1]
    g = node.attr("num_groups")
    if g is None or g < 1 or x.shape[1] % g:
        raise ShapeError(f"{node}: num_groups={g} must be >= 1 and divide the {x.shape[1]} channels")
    return g


def _lower_groupnorm(ctx: Lowering) -> None:
    x, scale = ctx.in_types[0], ctx.in_types[1]
    c = x.shape[1]
    ctx.emit(f"{x.dtype.name}_groupnorm", [ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)],
             [x.shape[0], c, size(x.shape[2:]), _groups(ctx.node, x), f32_bits(ctx.node.attr("epsilon", 1e-5)),
              int(scale.shape == (c,))])


for _op in ("InstanceNormalization", "GroupNormalization"):
    register(_op, inputs=(3, 3), dtypes=FLOATS, onnx_attrs=_eps_attrs, lower=_lower_groupnorm)(_infer_groupnorm)


# ---------------------------------------------------------------- LayerNormalization
def _ln_attrs(attrs: dict, opset: int) -> dict:
    return {"axis": int(attrs.get("axis", -1)), "epsilon": float(attrs.get("epsilon", 1e-5)),
            "stash_type": int(attrs.get("stash_type", 1))}


def _param_stride(node, t: TensorType, norm_shape: tuple, what: str) -> int:
    """1 when the parameter holds the whole normalised shape, 0 when it is one broadcast value."""
    shape = tuple(t.shape)
    while shape and shape[0] == 1 and len(shape) > len(norm_shape):
        shape = shape[1:]
    if t.size == size(norm_shape) and shape[-len(norm_shape):] == norm_shape:
        return 1
    if t.size == 1:
        return 0
    raise _unsupported(node, f"{what} of shape {list(t.shape)} broadcast over the normalised shape "
                             f"{list(norm_shape)} (only the full shape or one value)")


@register("LayerNormalization", inputs=(2, 3), outputs=(1, 3), dtypes=FLOATS, onnx_attrs=_ln_attrs,
          lower=lambda ctx: _lower_ln(ctx))
def _infer_ln(node, types, consts):
    x = types[0]
    _same_dtype(node, types)
    axis = norm_axis(node.attr("axis", -1), x.rank)
    for t, what in zip(types[1:], ("Scale", "B")):
        if t is not None:
            _param_stride(node, t, tuple(x.shape[axis:]), what)
    stat = tuple(x.shape[:axis]) + (1,) * (x.rank - axis)
    stash = dt.from_onnx(node.attr("stash_type", 1))
    if any(node.outputs[1:]) and stash != x.dtype:
        raise _unsupported(node, f"Mean/InvStdDev outputs in {stash.name} for a {x.dtype.name} input")
    return [x] + [TensorType(stash, stat)] * (len(node.outputs) - 1)


def _lower_ln(ctx: Lowering) -> None:
    x = ctx.in_types[0]
    axis = norm_axis(ctx.node.attr("axis", -1), x.rank)
    norm = tuple(x.shape[axis:])
    strides = [_param_stride(ctx.node, ctx.in_types[i], norm, "") if ctx.input(i) else 0 for i in (1, 2)]
    stats = [ctx.output(i) if i < len(ctx.node.outputs) and ctx.node.outputs[i] else None for i in (1, 2)]
    ctx.emit(f"{x.dtype.name}_layernorm", [ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0), *stats],
             [size(x.shape[:axis]), size(norm), *strides, f32_bits(ctx.node.attr("epsilon", 1e-5))])


# ---------------------------------------------------------------- LRN
def _lrn_attrs(attrs: dict, opset: int) -> dict:
    return {"alpha": float(attrs.get("alpha", 1e-4)), "beta": float(attrs.get("beta", 0.75)),
            "bias": float(attrs.get("bias", 1.0)), "size": int(attrs["size"]) if "size" in attrs else None}


@register("LRN", inputs=(1, 1), dtypes=FLOATS, onnx_attrs=_lrn_attrs, lower=lambda ctx: _lower_lrn(ctx))
def _infer_lrn(node, types, consts):
    x = types[0]
    if x.rank < 2:
        raise ShapeError(f"{node}: input must have rank >= 2, got {x}")
    if not node.attr("size") or node.attr("size") < 1:
        raise ShapeError(f"{node}: size must be >= 1, got {node.attr('size')}")
    return [x]


def _lower_lrn(ctx: Lowering) -> None:
    x, a = ctx.in_types[0], ctx.node.attr
    ctx.emit(f"{x.dtype.name}_lrn", [ctx.input(0), ctx.output(0)],
             [x.shape[0], x.shape[1], size(x.shape[2:]), a("size"), f32_bits(a("alpha", 1e-4)),
              f32_bits(a("beta", 0.75)), f32_bits(a("bias", 1.0))])


# ---------------------------------------------------------------- Hardmax
def _hardmax_attrs(attrs: dict, opset: int) -> dict:
    # Before opset 13 the input is coerced to 2-D at `axis` (default 1); from 13 on it is one axis (default -1).
    if opset < 13:
        return {"axis": int(attrs.get("axis", 1)), "coerce_2d": 1}
    return {"axis": int(attrs.get("axis", -1)), "coerce_2d": 0}


@register("Hardmax", inputs=(1, 1), dtypes=FLOATS, onnx_attrs=_hardmax_attrs, lower=lambda ctx: _lower_hardmax(ctx))
def _infer_hardmax(node, types, consts):
    norm_axis(node.attr("axis", -1), types[0].rank)
    return [types[0]]


def _lower_hardmax(ctx: Lowering) -> None:
    x = ctx.in_types[0]
    if x.size == 0:
        return
    axis = norm_axis(ctx.node.attr("axis", -1), x.rank)
    if ctx.node.attr("coerce_2d", 0):
        ints = [size(x.shape[:axis]), size(x.shape[axis:]), 1]
    else:
        ints = [size(x.shape[:axis]), x.shape[axis], size(x.shape[axis + 1:])]
    ctx.emit(f"{x.dtype.name}_hardmax", [ctx.input(0), ctx.output(0)], ints)
