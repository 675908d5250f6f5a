"""Neural-network ops: MatMul, Gemm, Conv, MaxPool, AveragePool, Softmax, LogSoftmax."""
from __future__ import annotations

import itertools
import math

from .. import dtypes as dt
from ..errors import ShapeError, UnsupportedOpError
from ..ir import TensorType
from . import Lowering, register
from ._util import broadcast_shape, broadcast_strides, collapse, f32_bits, norm_axis, size

FLOATS = (dt.F32, dt.F64)

# Fused activations (attrs `activation`, `activation_params` set by the fusion pass) -> the kernels' act codes.
ACT_CODES = {"": 0, "relu": 1, "clip": 2, "sigmoid": 3, "hardswish": 4, "gelu": 5, "leakyrelu": 6}
_ACT_DEFAULTS = {"clip": (-math.inf, math.inf), "leakyrelu": (0.01,)}


def act_ints(node) -> list[int]:
    """[act, act_alpha_bits, act_beta_bits] for the node's fused activation (none when the attrs are absent)."""
    name = node.attr("activation", "") or ""
    name = name.decode() if isinstance(name, bytes) else name
    if name not in ACT_CODES:
        raise UnsupportedOpError([(node.name, node.op, node.domain, 0, f"fused activation '{name}'")])
    params = [float(v) for v in (node.attr("activation_params", ()) or _ACT_DEFAULTS.get(name, ()))]
    params += [0.0] * (2 - len(params))
    return [ACT_CODES[name], f32_bits(params[0]), f32_bits(params[1])]


# ---------------------------------------------------------------- MatMul / Gemm
def _matmul_dims(node, a: tuple, b: tuple):
    if not a or not b:
        raise ShapeError(f"{node}: MatMul inputs must have rank >= 1, got {list(a)} and {list(b)}")
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ShapeError(f"{node}: inner dimensions differ: {list(a)} @ {list(b)}")
    batch = broadcast_shape(a2[:-2], b2[:-2])
    out = (*batch, *((a2[-2],) if len(a) > 1 else ()), *((b2[-1],) if len(b) > 1 else ()))
    return a2, b2, batch, out


@register("MatMul", inputs=(2, 2), dtypes=FLOATS, lower=lambda ctx: _lower_matmul(ctx))
def _infer_matmul(node, types, consts):
    a, b = types
    if a.dtype != b.dtype:
        raise ShapeError(f"{node}: dtypes differ: {a.dtype.name} and {b.dtype.name}")
    return [TensorType(a.dtype, _matmul_dims(node, a.shape, b.shape)[3])]


def _pack_b(ctx: Lowering, m: int, n: int, k: int, trans_a: int, trans_b: int, alpha: float, ints: list[int]):
    """(persistent buffer, run kernel) when the constant 2-D B is worth packing once at load (an init step),
    else (None, None). A few rows (M <= 3, rows of A contiguous): gemv_pack_b's dot-product groups, streamed
    once per run (1.7x faster than gemm's unpacked small-M paths at M = 1). More rows: gemm_pack_b's panels,
    always: against gemm's blocked path (which packs them once per 64 rows of A on every run), its dot
    products with B^T at M = 4, and its small-K path reading B in place (K <= 256: the transformer layer's
    Gemms, 6.95 -> 6.12 ms, same bits). Both need alpha 1."""
    if not (ctx.is_const(1) and ctx.in_types[1].rank == 2 and alpha == 1.0 and k > 0):
        return None, None
    dtype = ctx.in_types[1].dtype
    lanes = 16 // dtype.itemsize
    if 0 < m <= 3 and (not trans_a or m == 1):
        size, op = -(-n // 6) * 6 * -(-k // lanes) * lanes, "gemv"  # groups of 6 columns, K padded to lanes
    elif m >= 4:
        size, op = -(-n // (2 * lanes)) * 2 * lanes * k, "gemm"  # panels of 2 vectors
    else:
        return None, None
    packed = ctx.new_persistent(size * dtype.itemsize)
    ctx.emit_init(f"{dtype.name}_{op}_pack_b", [ctx.input(1), packed], ints)
    return packed, f"{dtype.name}_{op}_packed_b"


def _lower_matmul(ctx: Lowering) -> None:
    a, b = ctx.in_types
    a2, b2, batch, _ = _matmul_dims(ctx.node, a.shape, b.shape)
    m, k, n = a2[-2], a2[-1], b2[-1]
    if b.rank <= 2:  # one B for the whole batch: A's batch is more rows (A and Y are contiguous)
        m, batch = m * size(batch), ()
    item = a.dtype.itemsize
    sa = [s * m * k for s in broadcast_strides(batch, a2[:-2])]
    sb = [s * k * n for s in broadcast_strides(batch, b2[:-2])]
    dims, (sa, sb) = collapse(batch, sa, sb)
    one = f32_bits(1.0)
    ints = [m, n, k, 0, 0, one, 0, 0, 0, dims[-1], sa[-1], sb[-1], *act_ints(ctx.node)]
    packed, run = _pack_b(ctx, m, n, k, 0, 0, 1.0, ints)
    for idx in itertools.product(*(range(d) for d in dims[:-1])):  # only non-collapsible batch dims loop here
        flat = 0
        for kdim, i in enumerate(idx):
            flat = flat * dims[kdim] + i
        offs = [sum(i * s[kdim] for kdim, i in enumerate(idx)) * item for s in (sa, sb)]
        y = ctx.output(0, flat * dims[-1] * m * n * item)
        if packed is not None:
            ctx.emit(run, [ctx.input(0, offs[0]), packed, None, y], ints)
        else:
            ctx.emit(f"{a.dtype.name}_gemm", [ctx.input(0, offs[0]), ctx.input(1, offs[1]), None, y], ints)


def _gemm_attrs(attrs: dict, opset: int) -> dict:
    return {"alpha": float(attrs.get("alpha", 1.0)), "beta": float(attrs.get("beta", 1.0)),
            "transA": int(attrs.get("transA", 0)), "transB": int(attrs.get("transB", 0))}


@register("Gemm", inputs=(2, 3), dtypes=FLOATS, onnx_attrs=_gemm_attrs, lower=lambda ctx: _lower_gemm(ctx))
def _infer_gemm(node, types, consts):
    a, b = types[0], types[1]
    if a.rank != 2 or b.rank != 2:
        raise ShapeError(f"{node}: A and B must be 2-D, got {a} and {b}")
    m, k = a.shape[::-1] if node.attr("transA", 0) else a.shape
    k2, n = b.shape[::-1] if node.attr("transB", 0) else b.shape
    if k != k2:
        raise ShapeError(f"{node}: inner dimensions differ: op(A) is {m}x{k}, op(B) is {k2}x{n}")
    c = types[2] if len(types) > 2 else None
    for t in (b, c):
        if t is not None and t.dtype != a.dtype:
            raise ShapeError(f"{node}: dtypes differ: {a.dtype.name} and {t.dtype.name}")
    if c is not None and broadcast_shape((m, n), c.shape) != (m, n):
        raise ShapeError(f"{node}: C of shape {list(c.shape)} does not broadcast to {[m, n]}")
    return [TensorType(a.dtype, (m, n))]


def _lower_gemm(ctx: Lowering) -> None:
    a = ctx.in_types[0]
    c = ctx.in_types[2] if len(ctx.in_types) > 2 else None
    m, n = ctx.out_types[0].shape
    k = a.shape[0] if ctx.node.attr("transA", 0) else a.shape[1]
    cs = broadcast_strides((m, n), c.shape) if c is not None else [0, 0]
    beta = ctx.node.attr("beta", 1.0) if c is not None else 0.0
    ta, tb, alpha = ctx.node.attr("transA", 0), ctx.node.attr("transB", 0), ctx.node.attr("alpha", 1.0)
    ints = [m, n, k, ta, tb, f32_bits(alpha), f32_bits(beta), cs[0], cs[1], 1, 0, 0, *act_ints(ctx.node)]
    packed, run = _pack_b(ctx, m, n, k, ta, tb, alpha, ints)
    if packed is not None:
        ctx.emit(run, [ctx.input(0), packed, ctx.input(2), ctx.output(0)], ints)
        return
    ctx.emit(f"{a.dtype.name}_gemm", [ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)], ints)


# ---------------------------------------------------------------- windows: Conv and pooling
def window_geometry(node, spatial: tuple, kernel: tuple, ceil_mode: bool = False):
    """Output sizes and begin/end pads for a sliding window, from the ONNX attributes of `node`."""
    nd = len(spatial)
    strides = list(node.attr("strides") or [1] * nd)
    dil = list(node.attr("dilations") or [1] * nd)
    pads = list(node.attr("pads") or [0] * (2 * nd))
    auto = node.attr("auto_pad", "NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if len(strides) != nd or len(dil) != nd or len(pads) != 2 * nd:
        raise ShapeError(f"{node}: strides/dilations/pads do not match {nd} spatial dims")
    if min(strides + dil + list(kernel)) < 1 or min(pads) < 0:
        raise ShapeError(f"{node}: strides, dilations and kernel must be >= 1 and pads >= 0")
    out, begin, end = [], [], []
    for i in range(nd):
        ext = (kernel[i] - 1) * dil[i] + 1
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-spatial[i] // strides[i])
            total = max(0, (o - 1) * strides[i] + ext - spatial[i])
            pb = total // 2 if auto == "SAME_UPPER" else total - total // 2
            pe = total - pb
        elif auto == "VALID":
            pb = pe = 0
            o = (spatial[i] - ext) // strides[i] + 1
        elif auto in ("NOTSET", ""):
            pb, pe = pads[i], pads[i + nd]
            span = spatial[i] + pb + pe - ext
            o = (math.ceil(span / strides[i]) if ceil_mode else span // strides[i]) + 1
            if ceil_mode and (o - 1) * strides[i] >= spatial[i] + pb:
                o -= 1  # the last window must start inside the input or the begin padding
        else:
            raise ShapeError(f"{node}: unknown auto_pad '{auto}'")
        if o < 1:
            raise ShapeError(f"{node}: window {ext} (with padding) is larger than the input {spatial[i]}")
        out.append(o)
        begin.append(pb)
        end.append(pe)
    return out, begin, end, strides, dil


def _spatial_2d(node, x: TensorType, what: str):
    if x.rank not in (3, 4):
        why = f"{what} on rank-{x.rank} input (only 1-D and 2-D spatial inputs, NCL / NCHW, are supported)"
        raise UnsupportedOpError([(node.name, node.op, node.domain, 0, why)])


@register("Conv", inputs=(2, 3), dtypes=FLOATS, lower=lambda ctx: _lower_conv(ctx))
def _infer_conv(node, types, consts):
    x, w = types[0], types[1]
    _spatial_2d(node, x, "Conv")
    for t in types[1:]:
        if t is not None and t.dtype != x.dtype:
            raise ShapeError(f"{node}: weight and bias must be {x.dtype.name} like the input, got {t.dtype.name}")
    group = node.attr("group", 1)
    if w.rank != x.rank or x.shape[1] != w.shape[1] * group or w.shape[0] % group:
        raise ShapeError(f"{node}: weight {w} does not fit input {x} with group={group}")
    if len(types) > 2 and types[2] is not None and types[2].shape != (w.shape[0],):
        raise ShapeError(f"{node}: bias must have shape [{w.shape[0]}], got {types[2]}")
    kernel = tuple(node.attr("kernel_shape") or w.shape[2:])
    if kernel != tuple(w.shape[2:]):
        raise ShapeError(f"{node}: kernel_shape {list(kernel)} differs from the weight's {list(w.shape[2:])}")
    out = window_geometry(node, x.shape[2:], kernel)[0]
    return [TensorType(x.dtype, (x.shape[0], w.shape[0], *out))]


def _as_2d(node, x: TensorType, kernel: tuple):
    """(H, W), (KH, KW), out (OH, OW), pads (top, left, bottom, right), strides, dilations; 1-D as H=1."""
    out, pb, pe, st, dil = window_geometry(node, x.shape[2:], kernel, bool(node.attr("ceil_mode", 0)))
    if x.rank == 3:
        return (1, x.shape[2]), (1, kernel[0]), (1, out[0]), (0, pb[0], 0, pe[0]), (1, st[0]), (1, dil[0])
    return tuple(x.shape[2:]), tuple(kernel), tuple(out), (pb[0], pb[1], pe[0], pe[1]), tuple(st), tuple(dil)


def pointwise_packed(m: int) -> bool:
    """Whether a 1x1 stride-1 conv with constant weights and m outputs runs as conv2d_im2col_packed
    (weights packed at load, X's rows copied into aligned panels) rather than as a gemm that packs W every run
    and reads X in place: measured as fast or faster on every MobileNetV2 / SqueezeNet shape, narrowing ones
    included (kernels/README.md); below 4 outputs the gemm's few-row paths waste no tile rows."""
    return m >= 4


WINOGRAD_VBYTES, WINOGRAD_MAX_TILES = 262144, 64  # conv2d_winograd{,4}'s block of transformed inputs (ABI.md)


def winograd_tile(c: int, m: int, oh: int, ow: int) -> int:
    """The output tile of the Winograd kernel for a 3x3 stride-1 conv with c inputs and m outputs (0: none).
    F(2x2, 3x3) (16 multiplies per 4 outputs and channel pair instead of 36) when c, m >= 4: measured 1.3-2x
    faster than im2col on ResNet-18's, SqueezeNet's and small shapes down to 4 -> 4 channels, but slower with
    3 input channels (an RGB stem: 6.1 vs 5.7 ms at 224). F(4x4, 3x3) (36 per 16 outputs) when the output is
    at least 12x12 and m >= 8: 1.1-1.6x faster than F(2x2) there, slower on small images (7x7 to 10x10: the
    tiles cover up to 1.4x the output and 36 matrices of weights stream from memory) and with 4 outputs (the
    transforms dominate). Numbers in kernels/README.md."""
    if c < 4 or m < 4:
        return 0
    return 4 if m >= 8 and min(oh, ow) >= 12 else 2


def _winograd(ctx: Lowering, ints: list[int]) -> bool:
    """Emits a 3x3 stride-1 conv with constant weights as Winograd F(2x2, 3x3) or F(4x4, 3x3) (winograd_tile),
    the weights transformed once at load (an init step); False when it does not apply."""
    c, m, oh, ow = ints[1], ints[4], ints[5], ints[6]
    tile = winograd_tile(c, m, oh, ow)
    if (*ints[7:10], *ints[12:16]) != (3, 3, 1, 1, 1, 1, 1) or not tile or not ctx.is_const(1):
        return False  # kernel 3x3, group 1, strides and dilations 1
    dtype = ctx.in_types[0].dtype
    item, nr, aa = dtype.itemsize, 32 // dtype.itemsize, (tile + 2) ** 2  # nr: the micro-kernel's panel width
    per_tile, tiles = aa * c * item, -(-oh // tile) * -(-ow // tile)
    nt = WINOGRAD_VBYTES // per_tile // nr * nr
    if nt < 2 * nr and 2 * nr * per_tile <= 2 * WINOGRAD_VBYTES:
        nt = 2 * nr  # two panels per block when they fit in twice the budget (the kernel's rule)
    nt = max(nr, min(nt, WINOGRAD_MAX_TILES, -(-tiles // nr) * nr))
    kernel = f"{dtype.name}_conv2d_winograd{'4' if tile == 4 else ''}"
    packed = ctx.new_persistent(aa * -(-m // 4) * 4 * c * item)
    ctx.emit_init(f"{kernel}_weights", [ctx.input(1), packed], ints)
    ctx.emit(kernel, [ctx.input(0), packed, ctx.input(2), ctx.new_scratch(aa * c * nt * item), ctx.output(0)], ints)
    return True


def _lower_conv(ctx: Lowering) -> None:
    """Picks the conv path by shape: 1x1 stride-1 unpadded convs with constant weights im2col on weights packed
    at load when pointwise_packed, else one batched gemm step (Y[n] = W @ X[n]);
    3x3 depthwise convs (stride 1 or 2) a dedicated kernel; 3x3 stride-1 convs Winograd when _winograd takes
    them; convs with >= 4 output channels per group im2col +
    GEMM (measured faster than the direct kernel even for LeNet's 1 -> 6 5x5, kernels/bench_conv.py), with
    constant weights packed into GEMM tiles once at load (an init step) instead of on every run; the rest
    (other grouped convs) the direct kernel."""
    x, w = ctx.in_types[0], ctx.in_types[1]
    hw, k, o, p, s, d = _as_2d(ctx.node, x, tuple(w.shape[2:]))
    n, c, m, group = x.shape[0], x.shape[1], w.shape[0], ctx.node.attr("group", 1)
    act = act_ints(ctx.node)
    ints = [n, c, *hw, m, *o, *k, group, p[0], p[1], *s, *d, *act]
    name = x.dtype.name
    pointwise = group == 1 and k == (1, 1) and s == (1, 1) and p == (0, 0, 0, 0)
    if pointwise and not (ctx.is_const(1) and pointwise_packed(m)):
        has_bias = ctx.input(2) is not None
        ctx.emit(f"{name}_gemm", [ctx.input(1), ctx.input(0), ctx.input(2), ctx.output(0)],
                 [m, hw[0] * hw[1], c, 0, 0, f32_bits(1.0), f32_bits(1.0 if has_bias else 0.0), 1, 0,
                  n, 0, c * hw[0] * hw[1], *act])
        return
    cg, mg = c // group, m // group
    if group == c == m and k == (3, 3) and d == (1, 1) and s in ((1, 1), (2, 2)):
        ctx.emit(f"{name}_dwconv2d", [ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)], ints)
        return
    if _winograd(ctx, ints):
        return
    if mg >= 4:
        packed_bytes = -(-mg // 4) * 4 * cg * k[0] * k[1] * x.dtype.itemsize  # one group's packed weights
        if ctx.is_const(1):  # constant weights: packed once at load into a buffer of their own
            packed = ctx.new_persistent(group * packed_bytes)
            ctx.emit_init(f"{name}_conv2d_pack_weights", [ctx.input(1), packed], ints)
            ctx.emit(f"{name}_conv2d_im2col_packed", [ctx.input(0), packed, ctx.input(2), ctx.output(0)], ints)
            return
        scratch = ctx.new_scratch(packed_bytes)
        ctx.emit(f"{name}_conv2d_im2col", [ctx.input(0), ctx.input(1), ctx.input(2), scratch, ctx.output(0)], ints)
        return
    ctx.emit(f"{name}_conv2d", [ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)], ints)


def _pool_infer(node, types, consts):
    x = types[0]
    _spatial_2d(node, x, node.op)
    kernel = node.attr("kernel_shape")
    if not kernel or len(kernel) != x.rank - 2:
        raise ShapeError(f"{node}: kernel_shape must list {x.rank - 2} sizes, got {kernel}")
    if node.op == "AveragePool" and node.attr("dilations") and any(v != 1 for v in node.attr("dilations")):
        raise UnsupportedOpError([(node.name, node.op, node.domain, 0, "AveragePool with dilations")])
    out = window_geometry(node, x.shape[2:], tuple(kernel), bool(node.attr("ceil_mode", 0)))[0]
    return [TensorType(x.dtype, (*x.shape[:2], *out))]


def _lower_pool(ctx: Lowering) -> None:
    x = ctx.in_types[0]
    hw, k, o, p, s, d = _as_2d(ctx.node, x, tuple(ctx.node.attr("kernel_shape")))
    nc = x.shape[0] * x.shape[1]
    if ctx.node.op == "MaxPool":
        ctx.emit(f"{x.dtype.name}_maxpool2d", [ctx.input(0), ctx.output(0)], [nc, *hw, *o, *k, p[0], p[1], *s, *d])
    else:
        ctx.emit(f"{x.dtype.name}_avgpool2d", [ctx.input(0), ctx.output(0)],
                 [nc, *hw, *o, *k, *p, *s, ctx.node.attr("count_include_pad", 0)])


def _maxpool_outputs(node, types, consts):
    if len(node.outputs) > 1 and node.outputs[1]:
        raise UnsupportedOpError([(node.name, node.op, node.domain, 0, "the Indices output of MaxPool")])
    return _pool_infer(node, types, consts)


register("MaxPool", inputs=(1, 1), outputs=(1, 2), dtypes=(dt.F32, dt.F64, dt.I8, dt.U8),
         lower=_lower_pool)(_maxpool_outputs)
register("AveragePool", inputs=(1, 1), dtypes=FLOATS, lower=_lower_pool)(_pool_infer)


# ---------------------------------------------------------------- Softmax
def _softmax_attrs(attrs: dict, opset: int) -> dict:
    # Before opset 13 the input is coerced to 2-D at `axis` (default 1); from 13 on it is one axis (default -1).
    if opset < 13:
        return {"axis": int(attrs.get("axis", 1)), "coerce_2d": 1}
    return {"axis": int(attrs.get("axis", -1)), "coerce_2d": 0}


def _lower_softmax(ctx: Lowering) -> None:
    x = ctx.in_types[0]
    axis = norm_axis(ctx.node.attr("axis", -1), x.rank)
    if ctx.node.attr("coerce_2d", 0):
        ints = [size(x.shape[:axis]), size(x.shape[axis:]), 1]
    else:
        ints = [size(x.shape[:axis]), x.shape[axis], size(x.shape[axis + 1:])]
    kernel = "softmax" if ctx.node.op == "Softmax" else "logsoftmax"
    ctx.emit(f"{x.dtype.name}_{kernel}", [ctx.input(0), ctx.output(0)], ints)


def _infer_softmax(node, types, consts):
    norm_axis(node.attr("axis", -1), types[0].rank)
    return [types[0]]


for _op in ("Softmax", "LogSoftmax"):
    register(_op, inputs=(1, 1), dtypes=FLOATS, onnx_attrs=_softmax_attrs, lower=_lower_softmax,
             inplace=True)(_infer_softmax)
