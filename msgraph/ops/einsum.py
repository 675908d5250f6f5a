"""Einsum: an equation parsed into labels; two float operands in a matmul-like pattern become (permuting
copies +) one batched gemm step, anything else one generic strided-contraction step per operand pair
(diagonals, traces, sums, transposes, outer products); three or more operands contract pairwise."""
from __future__ import annotations

import string

from .. import dtypes as dt
from ..errors import ShapeError, UnsupportedOpError
from ..ir import TensorType
from . import Lowering, register
from ._util import f32_bits, size

MAX = 6  # dims per group of the einsum kernel (kernels/ABI.md)


def _parse(node, ranks: list[int]) -> tuple[list[str], str]:
    """Per operand its labels (one char per dim; ellipsis dims become digits, aligned from the right) and
    the output's labels."""
    eq = (node.attr("equation") or "").replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ShapeError(f"{node}: equation '{eq}' has {len(terms)} operands, the node {len(ranks)} inputs")
    ell = 0
    out_terms = []
    for term, rank in zip(terms, ranks):
        if term.count("...") > 1 or not all(c in string.ascii_letters for c in term.replace("...", "")):
            raise ShapeError(f"{node}: bad term '{term}' in equation '{eq}'")
        n_ell = rank - len(term.replace("...", ""))
        if ("..." in term and n_ell < 0) or ("..." not in term and n_ell != 0):
            raise ShapeError(f"{node}: term '{term}' does not fit an input of rank {rank}")
        ell = max(ell, n_ell)
        out_terms.append(term.replace("...", "".join(str(9 - i) for i in range(n_ell - 1, -1, -1))))
    ell_labels = "".join(str(9 - i) for i in range(ell - 1, -1, -1))
    if arrow:
        if rhs.count("...") > 1 or not all(c in string.ascii_letters for c in rhs.replace("...", "")):
            raise ShapeError(f"{node}: bad output term '{rhs}' in equation '{eq}'")
        out = rhs.replace("...", ell_labels)
        if len(set(out)) != len(out) or any(c not in "".join(out_terms) for c in out):
            raise ShapeError(f"{node}: output '{rhs}' repeats a label or names one no input has")
    else:
        letters = "".join(out_terms)
        out = ell_labels + "".join(sorted(c for c in set(letters) if c.isalpha() and letters.count(c) == 1))
    return out_terms, out


def _sizes(node, terms: list[str], shapes: list[tuple]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        for c, d in zip(term, shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = d
            elif d not in (1, sizes[c]):
                raise ShapeError(f"{node}: label '{c}' has sizes {sizes[c]} and {d}")
    return sizes


def _strides(term: str, shape: tuple, labels: str, sizes: dict) -> list[int]:
    """Element strides of an operand per label (summed over repeats: a diagonal; 0 if absent or broadcast)."""
    st, acc = {}, 1
    for c, d in reversed(list(zip(term, shape))):
        if d != 1 or sizes[c] == 1:
            st[c] = st.get(c, 0) + acc
        acc *= d
    return [st.get(c, 0) for c in labels]


@register("Einsum", inputs=(1, 64), dtypes=dt.NUMERIC, lower=lambda ctx: _lower(ctx))
def _infer(node, types, consts):
    x = types[0]
    for t in types[1:]:
        if t.dtype != x.dtype:
            raise ShapeError(f"{node}: inputs must share one dtype, got {x.dtype.name} and {t.dtype.name}")
    terms, out = _parse(node, [t.rank for t in types])
    sizes = _sizes(node, terms, [t.shape for t in types])
    return [TensorType(x.dtype, tuple(sizes[c] for c in out))]


def _collapse(dims: list[int], *strides: list[int]):
    """Drops unit dims and merges adjacent dims every operand walks contiguously."""
    d2: list[int] = []
    s2: list[list[int]] = [[] for _ in strides]
    for k, d in enumerate(dims):
        if d == 1:
            continue
        if d2 and all(s[k] * d == m[-1] for s, m in zip(strides, s2)):
            d2[-1] *= d
            for s, m in zip(strides, s2):
                m[-1] = s[k]
            continue
        d2.append(d)
        for s, m in zip(strides, s2):
            m.append(s[k])
    return d2, s2


def _emit_generic(ctx: Lowering, dtn: str, srcs: list, terms: list[str], shapes: list[tuple], out: str,
                  sizes: dict, dst) -> None:
    red = "".join(sorted({c for t in terms for c in t} - set(out)))
    ost = [_strides(t, s, out, sizes) for t, s in zip(terms, shapes)]
    rst = [_strides(t, s, red, sizes) for t, s in zip(terms, shapes)]
    if len(srcs) == 1:
        ost.append([0] * len(out))
        rst.append([0] * len(red))
    odims, ost = _collapse([sizes[c] for c in out], *ost)
    rdims, rst = _collapse([sizes[c] for c in red], *rst)
    if len(odims) > MAX or len(rdims) > MAX:
        raise UnsupportedOpError([(ctx.node.name, ctx.node.op, ctx.node.domain, 0,
                                   (f"equation '{ctx.node.attr('equation')}' needs more than {MAX} output or "
                                   "summed dims after merging"))])

    def pad(v, fill):
        return list(v) + [fill] * (MAX - len(v))
    ctx.emit(f"{dtn}_einsum", [srcs[0], srcs[1] if len(srcs) > 1 else None, dst],
             [len(odims), len(rdims), *pad(odims, 1), *pad(rdims, 1), *pad(ost[0], 0), *pad(rst[0], 0),
              *pad(ost[1], 0), *pad(rst[1], 0)])


def _permute(ctx, dtn, src, term: str, shape: tuple, order: str, sizes: dict, item: int):
    """src (labels `term`) copied into a new scratch with the labels in `order`; src itself if already so."""
    if term == order:
        return src
    dst = ctx.new_scratch(max(1, size([sizes[c] for c in order])) * item)
    _emit_generic(ctx, dtn, [src], [term], [shape], order, sizes, dst)
    return dst


def _try_gemm(ctx: Lowering, srcs, terms, shapes, out, sizes, dst) -> bool:
    """Two float operands without diagonals, broadcasting or single-operand sums: one batched gemm."""
    (ta, tb), x = terms, ctx.in_types[0]
    if x.dtype not in (dt.F32, dt.F64) or len(set(ta)) != len(ta) or len(set(tb)) != len(tb):
        return False
    if any(d != sizes[c] for t, s in zip(terms, shapes) for c, d in zip(t, s)):
        return False  # a broadcast size-1 dim
    batch = "".join(c for c in out if c in ta and c in tb)
    m = "".join(c for c in out if c in ta and c not in tb)
    n = "".join(c for c in out if c in tb and c not in ta)
    k = "".join(c for c in ta if c in tb and c not in out)
    if len(batch) + len(m) + len(k) != len(ta) or len(batch) + len(n) + len(k) != len(tb):
        return False  # a label summed within one operand
    nb, nm, nn, nk = (size([sizes[c] for c in g]) for g in (batch, m, n, k))
    if 0 in (nb, nm, nn, nk):
        return False
    dtn, item = x.dtype.name, x.dtype.itemsize
    trans_a = ta == batch + k + m and ta != batch + m + k
    a = srcs[0] if trans_a else _permute(ctx, dtn, srcs[0], ta, shapes[0], batch + m + k, sizes, item)
    trans_b = tb == batch + n + k and tb != batch + k + n
    b = srcs[1] if trans_b else _permute(ctx, dtn, srcs[1], tb, shapes[1], batch + k + n, sizes, item)
    direct = out == batch + m + n
    y = dst if direct else ctx.new_scratch(nb * nm * nn * item)
    ctx.emit(f"{dtn}_gemm", [a, b, None, y],
             [nm, nn, nk, int(trans_a), int(trans_b), f32_bits(1.0), 0, 0, 0, nb, nm * nk, nk * nn, 0, 0, 0])
    if not direct:
        _emit_generic(ctx, dtn, [y], [batch + m + n], [tuple(sizes[c] for c in batch + m + n)], out, sizes, dst)
    return True


def _lower(ctx: Lowering) -> None:
    x, y = ctx.in_types[0], ctx.out_types[0]
    if y.size == 0:
        return
    terms, out = _parse(ctx.node, [t.rank for t in ctx.in_types])
    shapes = [tuple(t.shape) for t in ctx.in_types]
    sizes = _sizes(ctx.node, terms, shapes)
    srcs = [ctx.input(i) for i in range(len(terms))]
    dtn, item = x.dtype.name, x.dtype.itemsize
    while len(terms) > 2:  # contract the first two, keeping the labels still needed
        rest = set(out) | {c for t in terms[2:] for c in t}
        keep = "".join(dict.fromkeys(c for c in terms[0] + terms[1] if c in rest))
        mid_shape = tuple(sizes[c] for c in keep)
        mid = ctx.new_scratch(max(1, size(mid_shape)) * item)
        _contract(ctx, dtn, srcs[:2], terms[:2], shapes[:2], keep, sizes, mid)
        srcs, terms, shapes = [mid, *srcs[2:]], [keep, *terms[2:]], [mid_shape, *shapes[2:]]
    _contract(ctx, dtn, srcs, terms, shapes, out, sizes, ctx.output(0))


def _contract(ctx, dtn, srcs, terms, shapes, out, sizes, dst) -> None:
    if len(terms) == 2 and _try_gemm(ctx, srcs, terms, shapes, out, sizes, dst):
        return
    _emit_generic(ctx, dtn, srcs, terms, shapes, out, sizes, dst)
