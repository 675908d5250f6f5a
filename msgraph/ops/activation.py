"""Activations: the parameterised float ones on one `act` kernel (kind + alpha/beta as float32 bits), PRelu
(slope broadcast to X) and Clip (attributes before opset 11, optional min/max inputs from 11)."""
from __future__ import annotations

from .. import dtypes as dt
from ..errors import ShapeError
from ..ir import TensorType
from . import Lowering, register
from ._util import broadcast_shape, f32_bits
from .elementwise import FLOATS, SIGNED, lower_broadcast

# unary.c's MG_ACT_* kinds
KINDS = {"LeakyRelu": 0, "Elu": 1, "Selu": 2, "Celu": 3, "HardSigmoid": 4, "HardSwish": 5, "Softplus": 6,
         "Softsign": 7, "Gelu": 8, "GeluTanh": 9, "Mish": 10, "ThresholdedRelu": 11, "Clip": 12}
FLT_MAX = 3.4028234663852886e38

# op -> (alpha attribute, default), (beta attribute, default)
PARAMS = {
    "LeakyRelu": (("alpha", 0.01), None),
    "Elu": (("alpha", 1.0), None),
    "Selu": (("alpha", 1.67326319217681884765625), ("gamma", 1.05070102214813232421875)),
    "Celu": (("alpha", 1.0), None),
    "HardSigmoid": (("alpha", 0.2), ("beta", 0.5)),
    "HardSwish": (None, None),
    "Softplus": (None, None),
    "Softsign": (None, None),
    "Gelu": (None, None),
    "Mish": (None, None),
    "ThresholdedRelu": (("alpha", 1.0), None),
}


def _param_attrs(op: str):
    def norm(attrs: dict, opset: int) -> dict:
        out = {}
        for p in PARAMS[op]:
            if p is not None:
                out[p[0]] = float(attrs.get(p[0], p[1]))
        if op == "Gelu":
            out["approximate"] = str(attrs.get("approximate", "none"))
        return out
    return norm


def _infer_act(node, types, consts):
    if node.op == "Gelu" and node.attr("approximate") not in ("none", "tanh"):
        raise ShapeError(f"{node}: approximate must be 'none' or 'tanh', got {node.attr('approximate')!r}")
    return [types[0]]


def _lower_act(ctx: Lowering) -> None:
    op = ctx.node.op
    kind = KINDS["GeluTanh" if op == "Gelu" and ctx.node.attr("approximate") == "tanh" else op]
    a, b = (f32_bits(ctx.node.attr(p[0])) if p else 0 for p in PARAMS[op])
    x = ctx.in_types[0]
    ctx.emit(f"{x.dtype.name}_act", [ctx.input(0), ctx.output(0)], [x.size, kind, a, b])


for _op in PARAMS:
    register(_op, lower=_lower_act, inputs=(1, 1), dtypes=FLOATS, inplace=True, onnx_attrs=_param_attrs(_op),
             doc=f"{_op} activation")(_infer_act)


# ---------------------------------------------------------------- PRelu
@register("PRelu", lower=lambda ctx: lower_broadcast(ctx, f"{ctx.in_types[0].dtype.name}_prelu"), inputs=(2, 2),
          dtypes=SIGNED, inplace=True)
def _infer_prelu(node, types, consts):
    x, slope = types
    if slope.dtype != x.dtype:
        raise ShapeError(f"{node}: slope must be {x.dtype.name} like X, got {slope.dtype.name}")
    if broadcast_shape(x.shape, slope.shape) != tuple(x.shape):
        raise ShapeError(f"{node}: slope of shape {list(slope.shape)} does not broadcast to X's {list(x.shape)}")
    return [x]


# ---------------------------------------------------------------- Clip
def _clip_attrs(attrs: dict, opset: int) -> dict:
    if opset < 11:  # bounds are attributes (float32), defaulting to the float32 range
        return {"min": float(attrs.get("min", -FLT_MAX)), "max": float(attrs.get("max", FLT_MAX))}
    return {}


@register("Clip", lower=lambda ctx: _lower_clip(ctx), inputs=(1, 3), dtypes=dt.NUMERIC, inplace=True,
          onnx_attrs=_clip_attrs)
def _infer_clip(node, types, consts):
    x = types[0]
    if "min" in node.attrs and x.dtype not in FLOATS:
        raise ShapeError(f"{node}: Clip with min/max attributes (opset < 11) takes float input, got {x.dtype.name}")
    for t, what in zip(types[1:], ("min", "max")):
        if t is None:
            continue
        if t.dtype != x.dtype:
            raise ShapeError(f"{node}: {what} must be {x.dtype.name} like the input, got {t.dtype.name}")
        if t.size != 1:
            raise ShapeError(f"{node}: {what} must be a scalar, got shape {list(t.shape)}")
    return [TensorType(x.dtype, x.shape)]


def _lower_clip(ctx: Lowering) -> None:
    x = ctx.in_types[0]
    if "min" in ctx.node.attrs:
        ctx.emit(f"{x.dtype.name}_act", [ctx.input(0), ctx.output(0)],
                 [x.size, KINDS["Clip"], f32_bits(ctx.node.attr("min")), f32_bits(ctx.node.attr("max"))])
        return
    ctx.emit(f"{x.dtype.name}_clip", [ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)], [x.size])
