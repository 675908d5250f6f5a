"""ConvTranspose over 1-D, 2-D and 3-D inputs: strides, pads, dilations, group, output_padding, output_shape
and auto_pad, with the output geometry of onnxruntime (pads derived from output_shape when it is given).
Per image: one batched gemm step (cols = W^T @ X, a batch per group) and one col2im step into the output."""
from __future__ import annotations

from .. import dtypes as dt
from ..errors import ShapeError, UnsupportedOpError
from ..ir import TensorType
from . import Lowering, register
from ._util import f32_bits, size

FLOATS = (dt.F32, dt.F64)


def geometry(node, x: TensorType, w: TensorType) -> tuple[list, list, list, list]:
    """Output spatial sizes, begin pads, strides and dilations (pads may be negative: extra output)."""
    nd = x.rank - 2
    kernel = list(node.attr("kernel_shape") or w.shape[2:])
    strides = list(node.attr("strides") or [1] * nd)
    dil = list(node.attr("dilations") or [1] * nd)
    opad = list(node.attr("output_padding") or [0] * nd)
    pads = list(node.attr("pads") or [0] * (2 * nd))
    out_shape = node.attr("output_shape")
    auto = node.attr("auto_pad", "NOTSET") or "NOTSET"
    if kernel != list(w.shape[2:]):
        raise ShapeError(f"{node}: kernel_shape {kernel} differs from the weight's {list(w.shape[2:])}")
    if len(strides) != nd or len(dil) != nd or len(opad) != nd or len(pads) != 2 * nd:
        raise ShapeError(f"{node}: strides/dilations/output_padding/pads do not match {nd} spatial dims")
    if min(strides + dil) < 1:
        raise ShapeError(f"{node}: strides and dilations must be >= 1")
    if auto not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        raise ShapeError(f"{node}: unknown auto_pad '{auto}'")
    if out_shape is not None:
        out_shape = list(out_shape)[-nd:]
        if len(out_shape) != nd:
            raise ShapeError(f"{node}: output_shape must list {nd} sizes, got {list(node.attr('output_shape'))}")
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        out_shape = [x.shape[2 + i] * strides[i] for i in range(nd)]
    out, begin = [], []
    for i in range(nd):
        full = strides[i] * (x.shape[2 + i] - 1) + opad[i] + (kernel[i] - 1) * dil[i] + 1
        if out_shape is not None:
            total = full - out_shape[i]
            b = total // 2 if auto == "SAME_UPPER" else total - total // 2
            o = out_shape[i]
        else:
            b = 0 if auto == "VALID" else pads[i]
            o = full - (0 if auto == "VALID" else pads[i] + pads[i + nd])
        if o < 1:
            raise ShapeError(f"{node}: output size {o} along spatial dim {i} is < 1")
        out.append(o)
        begin.append(b)
    return out, begin, strides, dil


@register("ConvTranspose", inputs=(2, 3), dtypes=FLOATS, lower=lambda ctx: _lower(ctx))
def _infer(node, types, consts):
    x, w = types[0], types[1]
    if x.rank not in (3, 4, 5):
        raise UnsupportedOpError([(node.name, node.op, node.domain, 0,
                                   f"ConvTranspose on rank-{x.rank} input (1-D to 3-D spatial inputs only)")])
    for t in types[1:]:
        if t is not None and t.dtype != x.dtype:
            raise ShapeError(f"{node}: weight and bias must be {x.dtype.name} like the input, got {t.dtype.name}")
    group = node.attr("group", 1)
    if w.rank != x.rank or group < 1 or w.shape[0] != x.shape[1] or x.shape[1] % group:
        raise ShapeError(f"{node}: weight {w} does not fit input {x} with group={group}")
    m = w.shape[1] * group
    if len(types) > 2 and types[2] is not None and types[2].shape != (m,):
        raise ShapeError(f"{node}: bias must have shape [{m}], got {types[2]}")
    out = geometry(node, x, w)[0]
    return [TensorType(x.dtype, (x.shape[0], m, *out))]


def _lower(ctx: Lowering) -> None:
    x, w = ctx.in_types[0], ctx.in_types[1]
    y = ctx.out_types[0]
    if y.size == 0:
        return
    out, begin, strides, dil = geometry(ctx.node, x, w)
    n, c, m = x.shape[0], x.shape[1], y.shape[1]
    group = ctx.node.attr("group", 1)
    cg, mk, dhw = c // group, (m // group) * size(w.shape[2:]), size(x.shape[2:])
    if cg == 0:
        raise UnsupportedOpError([(ctx.node.name, ctx.node.op, ctx.node.domain, 0, "ConvTranspose of 0 channels")])
    pad = 5 - x.rank  # as 3-D: unit leading spatial dims

    def d3(v, fill):
        return [fill] * pad + list(v)
    item, dtn = x.dtype.itemsize, x.dtype.name
    cols = ctx.new_scratch(max(1, m * size(w.shape[2:]) * dhw) * item)
    for i in range(n):
        if dhw:  # cols[g] = W[g]^T (Mg*K x Cg) @ X[i, g] (Cg x DHW)
            ctx.emit(f"{dtn}_gemm", [ctx.input(1), ctx.input(0, i * c * dhw * item), None, cols],
                     [mk, dhw, cg, 1, 0, f32_bits(1.0), 0, 0, 0, group, cg * mk, cg * dhw, 0, 0, 0])
        ctx.emit(f"{dtn}_col2im", [cols, ctx.input(2), ctx.output(0, i * size(y.shape[1:]) * item)],
                 [m, *d3(x.shape[2:], 1), *d3(out, 1), *d3(w.shape[2:], 1), *d3(begin, 0), *d3(strides, 1),
                  *d3(dil, 1)])
