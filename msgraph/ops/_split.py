"""Splits a lowered node's big kernel steps into independent parts for a threaded host.

Each part is the same kernel on a disjoint slice of the output (images of a batch, rows of a GEMM, output
channels of a conv, planes of a pool) at offset addresses, so every output element is computed exactly as by the whole step:
results are bit-identical on any number of threads. A `u8_parallel` step before the parts tells a threaded
kernels module that it may run them at once; elsewhere it does nothing. Only steps whose estimated time
dwarfs a dispatch (10-25 us, DESIGN.md) are split. Knows the kernels' ABI (kernels/ABI.md), not graphs."""
from __future__ import annotations

from dataclasses import replace

from . import Lowering, Step

MIN_SECONDS = 150e-6  # split a step only when one thread would take longer than this
MR = 4  # rows of the GEMM micro-tile: parts of a GEMM or an im2col conv start on a tile
# single-thread speed of each splittable kernel (FLOP/s, kernels/README.md), to estimate a step's time
RATE = {"gemm": 30e9, "gemm_packed_b": 33e9, "conv2d_im2col": 30e9, "conv2d_im2col_packed": 32e9,
        "conv2d_winograd": 45e9, "conv2d_winograd4": 55e9, "dwconv2d": 6e9, "conv2d": 8e9,
        "maxpool2d": 2.4e9, "avgpool2d": 2.4e9}  # pools: window taps per second
WINOGRAD = {"conv2d_winograd": 16, "conv2d_winograd4": 36}  # transformed weights per output and input channel
ITEM = {"f32": 4, "f64": 8, "i8": 1, "u8": 1}


def chunks(n: int, parts: int, align: int = 1) -> list[tuple[int, int]]:
    """[lo, hi) ranges covering range(n) in at most `parts` pieces, each starting on a multiple of align."""
    size = -(-n // parts)
    size = max(align, -(-size // align) * align)
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def _at(ref, delta: int):
    """The tensor `delta` bytes further on (an absent optional tensor stays absent)."""
    if ref is None or delta == 0:
        return ref
    name, offset = ref
    assert not name.startswith("#"), f"cannot offset {ref}"
    return (name, offset + delta)


def _gemm_parts(ctx: Lowering, s: Step, parts: int, item: int) -> list[Step]:
    """Gemm by batches, else by rows of A and Y (trans_a 0): parts of more than MR rows keep gemm's blocked
    or small-K path (its small-M paths sum in another order)."""
    m, n, k, ta, _tb, _al, _be, crs, _ccs, batch, a_bs, b_bs, *_ = s.ints
    packed = s.kernel.endswith("packed_b")
    a, b, c, y = s.tensors
    out = []
    if batch >= 2:
        for lo, hi in chunks(batch, parts):
            ints = list(s.ints)
            ints[9] = hi - lo
            out.append(replace(s, tensors=(_at(a, lo * a_bs * item), b if packed else _at(b, lo * b_bs * item), c,
                                           _at(y, lo * m * n * item)), ints=tuple(ints)))
        return out
    ranges = chunks(m, parts, MR)
    if ta or len(ranges) < 2 or any(hi - lo <= MR for lo, hi in ranges):
        return []
    for lo, hi in ranges:
        ints = list(s.ints)
        ints[0] = hi - lo
        out.append(replace(s, tensors=(_at(a, lo * k * item), b, _at(c, lo * crs * item), _at(y, lo * n * item)),
                           ints=tuple(ints)))
    return out


def _own_scratch(ctx: Lowering, tensors: list) -> list:
    """The tensors with each scratch buffer replaced by a new one of the same size (one per part)."""
    return [ctx.new_scratch(ctx.scratch[t[1]]) if t is not None and t[0] == "#scratch" else t for t in tensors]


def _conv_parts(ctx: Lowering, s: Step, parts: int, item: int) -> list[Step]:
    """Convs by images, else (batch 1) by output channels: depthwise channel ranges, im2col / Winograd /
    direct conv ranges of whole MR-row tiles (group 1) or whole groups (direct conv). Each part gets scratch
    of its own, and weights packed (transformed) at load too: the init step is split the same way."""
    n, c, h, w, m, oh, ow, kh, kw, g, *_ = s.ints
    op = s.kernel.split("_", 1)[1]
    tensors = list(s.tensors)
    x, y = tensors[0], tensors[-1]
    plane, per_m = oh * ow * item, (c // g) * kh * kw * item  # bytes of one output channel, of its weights
    out = []
    if n >= 2:
        for lo, hi in chunks(n, parts):
            ints = list(s.ints)
            ints[0] = hi - lo
            t = _own_scratch(ctx, tensors) if lo > 0 else list(tensors)
            t[0], t[-1] = _at(x, lo * c * h * w * item), _at(y, lo * m * plane)
            out.append(replace(s, tensors=tuple(t), ints=tuple(ints)))
        return out
    if op == "dwconv2d":
        for lo, hi in chunks(c, parts):
            ints = list(s.ints)
            ints[1] = ints[4] = ints[9] = hi - lo
            out.append(replace(s, tensors=(_at(x, lo * h * w * item), _at(tensors[1], lo * 9 * item),
                                           _at(tensors[2], lo * item), _at(y, lo * plane)), ints=tuple(ints)))
        return out
    if g > 1:
        if op != "conv2d":
            return []
        cg, mg = c // g, m // g
        for lo, hi in chunks(g, parts):
            ints = list(s.ints)
            ints[1], ints[4], ints[9] = (hi - lo) * cg, (hi - lo) * mg, hi - lo
            out.append(replace(s, tensors=(_at(x, lo * cg * h * w * item), _at(tensors[1], lo * mg * per_m),
                                           _at(tensors[2], lo * mg * item), _at(y, lo * mg * plane)), ints=tuple(ints)))
        return out
    ranges = chunks(m, parts, MR)
    if len(ranges) < 2:
        return []
    packs = op == "conv2d_im2col_packed" or op in WINOGRAD  # weights packed (transformed) at load
    init = [i for i, t in enumerate(ctx.init_steps) if packs and t.tensors[1] == tensors[1]]
    for lo, hi in ranges:
        ints = list(s.ints)
        ints[4] = hi - lo
        t = _own_scratch(ctx, tensors) if lo > 0 else list(tensors)
        t[-1] = _at(y, lo * plane)
        t[2] = _at(tensors[2], lo * item)
        if packs:  # weights packed per part, each part's into a buffer of its own
            packed_bytes = -(-(hi - lo) // MR) * MR * (WINOGRAD[op] * c * item if op in WINOGRAD else per_m)
            if lo == 0:
                ctx.persistent[tensors[1][1]] = packed_bytes
            else:
                t[1] = ctx.new_persistent(packed_bytes)
            for i in init:
                p = ctx.init_steps[i]
                ctx.init_steps.append(replace(p, tensors=(_at(p.tensors[0], lo * per_m), t[1]), ints=tuple(ints)))
        else:
            t[1] = _at(tensors[1], lo * per_m)
        out.append(replace(s, tensors=tuple(t), ints=tuple(ints)))
    for i in reversed(init):
        del ctx.init_steps[i]
    return out


def _pool_parts(ctx: Lowering, s: Step, parts: int, item: int) -> list[Step]:
    """Pools by planes (images x channels)."""
    nc, h, w, oh, ow, *_ = s.ints
    x, y = s.tensors
    return [replace(s, tensors=(_at(x, lo * h * w * item), _at(y, lo * oh * ow * item)), ints=(hi - lo, *s.ints[1:]))
            for lo, hi in chunks(nc, parts)]


def _flops(s: Step) -> int:
    """Multiply-adds x 2 (pools: window taps)."""
    op = s.kernel.split("_", 1)[1]
    if op.endswith("pool2d"):
        nc, _h, _w, oh, ow, kh, kw, *_ = s.ints
        return nc * oh * ow * kh * kw
    if op.startswith("gemm"):
        m, n, k, *_ = s.ints
        return 2 * m * n * k * s.ints[9]
    n, c, _h, _w, m, oh, ow, kh, kw, g, *_ = s.ints
    return 2 * n * m * oh * ow * (c // g) * kh * kw


def split_steps(ctx: Lowering, parts: int) -> None:
    """Rewrites ctx's steps: each big splittable one becomes `u8_parallel(k)` and its k parts."""
    steps = []
    for s in ctx.steps:
        dtype, op = s.kernel.split("_", 1)
        pieces = []
        if op in RATE and dtype in ITEM and _flops(s) / RATE[op] >= MIN_SECONDS:
            rule = _gemm_parts if op.startswith("gemm") else _pool_parts if op.endswith("pool2d") else _conv_parts
            pieces = rule(ctx, s, parts, ITEM[dtype])
        if len(pieces) >= 2:
            steps.append(Step(s.node, s.op, "u8_parallel", (), (len(pieces),)))
            steps += pieces
        else:
            steps.append(s)
    ctx.steps[:] = steps
