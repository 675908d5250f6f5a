"""Cast and CastLike between the stored dtypes (ONNX semantics: float -> int truncates; see kernels/cast.c)."""
from __future__ import annotations

from onnx import TensorProto

from .. import dtypes as dt
from ..errors import MsGraphError
from ..ir import TensorType
from . import Lowering, register
from .elementwise import STORED, unsupported


def _cast_attrs(attrs: dict, opset: int) -> dict:
    to = attrs.get("to")
    if isinstance(to, str):  # opset 1 names the type: "FLOAT"
        to = dict(TensorProto.DataType.items()).get(to.upper(), -1)
    return {"to": int(to) if to is not None else -1}


def _target(node, code: int) -> dt.DType:
    try:
        target = dt.from_onnx(code)
    except MsGraphError:
        target = None
    if target not in STORED:
        name = TensorProto.DataType.Name(code) if code in TensorProto.DataType.values() else str(code)
        raise unsupported(node, f"cast to {name} (supported: {', '.join(d.name for d in STORED)})")
    return target


def _lower(ctx: Lowering) -> None:
    x = ctx.in_types[0]
    ctx.emit(f"{x.dtype.name}_cast", [ctx.input(0), ctx.output(0)], [x.size, ctx.out_types[0].dtype.onnx])


@register("Cast", lower=_lower, inputs=(1, 1), dtypes=STORED, inplace=True, onnx_attrs=_cast_attrs)
def _infer_cast(node, types, consts):
    return [TensorType(_target(node, node.attr("to", -1)), types[0].shape)]


@register("CastLike", lower=_lower, inputs=(2, 2), dtypes=STORED, inplace=True)
def _infer_castlike(node, types, consts):
    return [TensorType(_target(node, types[1].dtype.onnx), types[0].shape)]
