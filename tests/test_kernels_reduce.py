"""Kernels of kernels/include/mg_reduce.def (reductions, cumsum, top-k, hardmax, einsum, normalisation, LRN,
Lp pooling, col2im of transposed convolution) against independent numpy references, at SIMD-edge sizes and edge values."""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kernel_harness as kh

NAMES = kh.kernel_names()
FLOATS = ("f32", "f64")
INTS = ("i8", "u8", "i16", "i32", "i64")
NUM = FLOATS + INTS
REDUCE = ("reduce_sum", "reduce_sumsq", "reduce_asum", "reduce_prod", "reduce_max", "reduce_min")

# ABI.md's "Reductions, normalisation, pooling extras" table: op -> dtypes.
ABI = {
    **{op: NUM for op in (*REDUCE, "cumsum", "topk", "einsum")},
    **{op: FLOATS for op in ("reduce_lse", "hardmax", "batchnorm", "batchnorm_train", "groupnorm", "layernorm",
                             "lrn", "lppool", "col2im")},
}
TESTED: set[str] = set()


def npdt(dt: str) -> np.dtype:
    return np.dtype(kh.DTYPES[dt])


def lanes(dt: str) -> int:
    return 16 // npdt(dt).itemsize


def edge_sizes(dt: str) -> list[int]:
    L = lanes(dt)
    return sorted({1, 3, 7, L - 1, L, L + 1, 2 * L - 1, 2 * L, 2 * L + 1, 4 * L - 1, 4 * L + 1, 33} - {0})


def rand(dt: str, shape, rng, lo=None, hi=None) -> np.ndarray:
    t = npdt(dt)
    if t.kind == "f":
        return (rng.standard_normal(shape) * 3).astype(t)
    info = np.iinfo(t)
    return rng.integers(info.min if lo is None else lo, info.max if hi is None else hi, size=shape,
                        endpoint=True).astype(t)


def covers(*ops: str):
    TESTED.update(ops)
    return pytest.mark.parametrize("name", [n for n in NAMES if n.split("_", 1)[1] in ops])


def bits(x: float) -> int:
    return kh.f32_bits(x)


def test_kernel_list_matches_abi():
    mine = {f"{dt}_{op}" for op, dts in ABI.items() for dt in dts}
    assert mine <= set(NAMES)
    assert {n for n in NAMES if n.split("_", 1)[1] in ABI} == mine


# ---- reduce ------------------------------------------------------------------------------------------------
def ref_reduce(op: str, x: np.ndarray, dt: str) -> np.ndarray:
    """x: [outer, n, inner] -> [outer, inner]; integers wrap like the dtype."""
    t = npdt(dt)
    if t.kind == "f":
        x64 = x.astype(np.float64)
        with np.errstate(all="ignore"):
            r = {"reduce_sum": lambda: x64.sum(1), "reduce_sumsq": lambda: (x64 * x64).sum(1),
                 "reduce_asum": lambda: np.abs(x64).sum(1), "reduce_prod": lambda: x64.prod(1),
                 "reduce_max": lambda: x64.max(1, initial=-np.inf), "reduce_min": lambda: x64.min(1, initial=np.inf)}[op]()
        return r
    xi = x.astype(np.int64)
    with np.errstate(all="ignore"):
        if op == "reduce_max":
            return x.max(1, initial=np.iinfo(t).min)
        if op == "reduce_min":
            return x.min(1, initial=np.iinfo(t).max)
        r = {"reduce_sum": lambda: xi.sum(1), "reduce_sumsq": lambda: (xi * xi).sum(1),
             "reduce_asum": lambda: np.abs(xi).sum(1), "reduce_prod": lambda: xi.prod(1)}[op]()
    return r.astype(t)  # int64 arithmetic wraps mod 2^64; the cast keeps the low bits


def run_reduce(name, x, post=0, count=0):
    outer, n, inner = x.shape
    return kh.run(name, [x], [((outer, inner), name.split("_")[0])], [outer, n, inner, post, count])[0]


def check_close(got, want, dt, scale=None):
    if npdt(dt).kind == "f":
        tol = 1e-5 if dt == "f32" else 1e-13
        atol = tol * (scale if scale is not None else np.max(np.abs(want), initial=1.0))
        np.testing.assert_allclose(got.astype(np.float64), want, rtol=tol * 4, atol=atol)
    else:
        np.testing.assert_array_equal(got, want)


@covers(*REDUCE)
def test_reduce_shapes(name):
    dt, op = name.split("_", 1)
    rng = np.random.default_rng(0)
    L = lanes(dt)
    small = op == "reduce_prod"
    for n, inner in itertools.chain(((n, 1) for n in edge_sizes(dt)),
                                    ((n, i) for n in (1, 3, L + 1) for i in (2, 3, L, L + 1, 4 * L, 4 * L + 3))):
        if small and npdt(dt).kind == "f":
            x = (rng.uniform(0.5, 1.5, (2, n, inner)) * rng.choice([-1, 1], (2, n, inner))).astype(npdt(dt))
        else:
            x = rand(dt, (2, n, inner), rng)
        want = ref_reduce(op, x, dt)
        scale = None
        if npdt(dt).kind == "f" and op in ("reduce_sum", "reduce_asum", "reduce_sumsq"):
            scale = ref_reduce("reduce_sumsq" if op == "reduce_sumsq" else "reduce_asum", x, dt).max()
        check_close(run_reduce(name, x), want, dt, scale)


@covers(*REDUCE)
def test_reduce_empty_gives_identity(name):
    dt, op = name.split("_", 1)
    for inner in (1, 5):
        x = np.zeros((3, 0, inner), npdt(dt))
        got = run_reduce(name, x)
        np.testing.assert_array_equal(got, ref_reduce(op, x, dt).astype(npdt(dt)))


@pytest.mark.parametrize("dt", FLOATS)
def test_reduce_nan_and_inf(dt):
    x = np.array([[1, np.nan, 3, 4, 5, 6, 7, 8, 9], [1, 2, np.inf, -np.inf, 0, 1, 2, 3, 4]], npdt(dt))[:, :, None]
    for op in ("max", "min", "sum"):
        with np.errstate(all="ignore"):
            want = {"max": np.max, "min": np.min, "sum": np.sum}[op](x, axis=1)
        np.testing.assert_array_equal(run_reduce(f"{dt}_reduce_{op}", x), want)
        xt = np.ascontiguousarray(np.repeat(x, 7, axis=2))  # across inner (SIMD columns)
        with np.errstate(all="ignore"):
            want = {"max": np.max, "min": np.min, "sum": np.sum}[op](xt, axis=1)
        np.testing.assert_array_equal(run_reduce(f"{dt}_reduce_{op}", xt), want)


@pytest.mark.parametrize("dt", NUM)
def test_reduce_post_divide(dt):
    rng = np.random.default_rng(1)
    x = rand(dt, (3, 11, 5), rng, -10, 10) if dt != "u8" else rand(dt, (3, 11, 5), rng, 0, 20)
    got = run_reduce(f"{dt}_reduce_sum", x, post=1, count=22)  # the count of every pass (e.g. 2 x 11)
    s = x.astype(np.float64).sum(1)
    want = s / 22 if npdt(dt).kind == "f" else np.trunc(s / 22).astype(npdt(dt))
    check_close(got, want, dt)
    if npdt(dt).kind == "i":
        np.testing.assert_array_equal(run_reduce(f"{dt}_reduce_sum", x, post=1, count=0), np.zeros((3, 5), npdt(dt)))


@pytest.mark.parametrize("dt", FLOATS)
def test_reduce_post_sqrt_log(dt):
    rng = np.random.default_rng(2)
    x = rand(dt, (2, 9, 3), rng)
    check_close(run_reduce(f"{dt}_reduce_sumsq", x, post=2), np.sqrt((x.astype(np.float64) ** 2).sum(1)), dt)
    a = np.abs(x)
    check_close(run_reduce(f"{dt}_reduce_sum", a, post=3), np.log(a.astype(np.float64).sum(1)), dt, 1.0)
    z = np.array([[0.0], [-1.0], [1e-310 if dt == "f64" else 1e-40]], npdt(dt))[:, :, None]
    with np.errstate(all="ignore"):
        want = np.log(z.astype(np.float64).sum(1))
    got = run_reduce(f"{dt}_reduce_sum", z, post=3)
    np.testing.assert_array_equal(got[:2], want[:2].astype(npdt(dt)))
    np.testing.assert_allclose(got[2], want[2], rtol=1e-6)


def test_reduce_rejects_bad_params():
    with pytest.raises(kh.KernelFailed, match="i32_reduce_sum: post"):
        kh.run("i32_reduce_sum", [np.zeros(4, np.int32)], [((1,), "i32")], [1, 4, 1, 2, 4])
    with pytest.raises(kh.KernelFailed, match="f32_reduce_max: outer, n and inner"):
        kh.run("f32_reduce_max", [np.zeros(4, np.float32)], [((1,), "f32")], [1, -4, 1, 0, 0])


@covers("reduce_lse")
def test_reduce_lse(name):
    dt = name.split("_")[0]
    rng = np.random.default_rng(3)
    for n, inner in [(n, 1) for n in edge_sizes(dt)] + [(5, i) for i in (2, 3, 4, 5, 9)]:
        x = rand(dt, (2, n, inner), rng) * 10
        x64 = x.astype(np.float64)
        m = x64.max(1)
        want = m + np.log(np.exp(x64 - m[:, None]).sum(1))
        np.testing.assert_allclose(run_reduce(name, x), want, rtol=1e-6 if dt == "f32" else 1e-13, atol=1e-6)
    x = np.array([[-np.inf, -np.inf], [np.inf, 1], [np.nan, 1]], npdt(dt))[:, :, None]
    np.testing.assert_array_equal(run_reduce(name, x), np.array([[-np.inf], [np.inf], [np.nan]]))
    np.testing.assert_array_equal(run_reduce(name, np.zeros((2, 0, 3), npdt(dt))), np.full((2, 3), -np.inf))


# ---- cumsum / topk / hardmax ---------------------------------------------------------------------------------
@covers("cumsum")
def test_cumsum(name):
    dt = name.split("_")[0]
    rng = np.random.default_rng(4)
    for (n, inner), excl, rev in itertools.product([(1, 1), (7, 1), (33, 1), (5, 3), (4, lanes(dt) + 1)], (0, 1), (0, 1)):
        x = rand(dt, (2, n, inner), rng)
        xr = x[:, ::-1] if rev else x
        c = np.cumsum(xr.astype(np.float64 if dt in FLOATS else np.int64), axis=1)
        if excl:
            c = np.concatenate([np.zeros_like(c[:, :1]), c[:, :-1]], axis=1)
        want = (c[:, ::-1] if rev else c).astype(npdt(dt))
        got = kh.run(name, [x], [(x.shape, dt)], [2, n, inner, excl, rev])[0]
        check_close(got, want, dt, np.abs(x).sum() + 1)


def topk_key(v, i: int, largest: bool):
    v = v.item()  # a Python number: no wrapping when negated
    rank = (1, 0) if np.isnan(v) else (0, v)  # NaN above all
    return (tuple(-r for r in rank) if largest else rank, i)


def topk_ref(x: np.ndarray, k: int, largest: bool):
    """[outer, n, inner] -> values, indices: best first, ties to the lower index, NaN above every number."""
    outer, n, inner = x.shape
    vals = np.empty((outer, k, inner), x.dtype)
    idx = np.empty((outer, k, inner), np.int64)
    for o, j in itertools.product(range(outer), range(inner)):
        col = x[o, :, j]
        order = sorted(range(n), key=lambda i, col=col: topk_key(col[i], i, largest))[:k]
        vals[o, :, j], idx[o, :, j] = col[order], order
    return vals, idx


@covers("topk")
def test_topk(name):
    dt = name.split("_")[0]
    rng = np.random.default_rng(5)
    for (n, inner), largest in itertools.product([(1, 1), (7, 1), (33, 1), (9, 3), (16, 2)], (1, 0)):
        x = rand(dt, (2, n, inner), rng, 0, 5)  # many ties
        if dt in FLOATS:
            x = np.round(x)
        for k in sorted({0, 1, 2, n // 2, n} & set(range(n + 1))):
            v, i, _ = kh.run(name, [x], [((2, k, inner), dt), ((2, k, inner), "i64"), ((max(k, 1),), "i32")],
                             [2, n, inner, k, largest])
            rv, ri = topk_ref(x, k, bool(largest))
            np.testing.assert_array_equal(v, rv, err_msg=f"n={n} k={k} largest={largest}")
            np.testing.assert_array_equal(i, ri, err_msg=f"n={n} k={k} largest={largest}")


def test_topk_nan_and_check():
    x = np.array([1, np.nan, 3, np.nan, -np.inf], np.float32)[None, :, None]
    v, i, _ = kh.run("f32_topk", [x], [((1, 3, 1), "f32"), ((1, 3, 1), "i64"), ((3,), "i32")], [1, 5, 1, 3, 1])
    np.testing.assert_array_equal(i.ravel(), [1, 3, 2])
    np.testing.assert_array_equal(v.ravel(), [np.nan, np.nan, 3])
    _v, i, _ = kh.run("f32_topk", [x], [((1, 3, 1), "f32"), ((1, 3, 1), "i64"), ((3,), "i32")], [1, 5, 1, 3, 0])
    np.testing.assert_array_equal(i.ravel(), [4, 0, 2])
    with pytest.raises(kh.KernelFailed, match="f32_topk: k must be"):
        kh.run("f32_topk", [x], [((1,), "f32"), ((1,), "i64"), ((6,), "i32")], [1, 5, 1, 6, 1])


@covers("hardmax")
def test_hardmax(name):
    dt = name.split("_")[0]
    rng = np.random.default_rng(6)
    for n, inner in [(1, 1), (5, 1), (6, 3), (4, 5)]:
        x = np.round(rand(dt, (2, n, inner), rng))
        want = np.zeros_like(x)
        am = np.argmax(x, axis=1)
        for o, j in itertools.product(range(2), range(inner)):
            want[o, am[o, j], j] = 1
        np.testing.assert_array_equal(kh.run(name, [x], [(x.shape, dt)], [2, n, inner])[0], want)


# ---- einsum ---------------------------------------------------------------------------------------------------
def run_einsum(name, a, b, out_dims, a_out, a_red, b_out, b_red, red_dims):
    def pad(v, f):
        return list(v) + [f] * (6 - len(v))
    ints = [len(out_dims), len(red_dims), *pad(out_dims, 1), *pad(red_dims, 1), *pad(a_out, 0), *pad(a_red, 0),
            *pad(b_out, 0), *pad(b_red, 0)]
    return kh.run(name, [a, b], [(tuple(out_dims) or (1,), name.split("_")[0])], ints)[0]


@covers("einsum")
def test_einsum(name):
    dt = name.split("_")[0]
    rng = np.random.default_rng(7)
    lo, hi = (-20, 20) if dt != "u8" else (0, 20)
    a, b = rand(dt, (3, 4), rng, lo, hi), rand(dt, (4, 5), rng, lo, hi)
    wide = np.float64 if dt in FLOATS else np.int64
    mm = (a.astype(wide) @ b.astype(wide)).astype(npdt(dt))  # ij,jk->ik
    check_close(run_einsum(name, a, b, [3, 5], [4, 0], [1], [0, 1], [5], [4]), mm, dt)
    check_close(run_einsum(name, a, None, [4, 3], [1, 4], [], [], [], []), a.T, dt)  # transpose copy
    sq = rand(dt, (5, 5), rng, lo, hi)
    check_close(run_einsum(name, sq, None, [], [], [6], [], [], [5]), np.array([np.trace(sq.astype(wide))]).astype(npdt(dt)), dt)
    check_close(run_einsum(name, sq, None, [5], [6], [], [], [], []), np.diag(sq), dt)  # ii->i
    u, v = rand(dt, (3,), rng, lo, hi), rand(dt, (4,), rng, lo, hi)
    check_close(run_einsum(name, u, v, [3, 4], [1, 0], [], [0, 1], [], []),
                np.multiply.outer(u.astype(wide), v.astype(wide)).astype(npdt(dt)), dt)
    x = rand(dt, (2, 3, 4, 5, 2, 3, 2), rng, lo, hi)  # 7 dims: sum of everything over 6 + 1 reduced loops
    st = [s // x.itemsize for s in x.strides]
    got = run_einsum(name, x, None, [2], [st[0]], st[1:], [], [], list(x.shape[1:]))
    check_close(got, x.astype(wide).reshape(2, -1).sum(1).astype(npdt(dt)), dt, np.abs(x).sum())
    empty = run_einsum(name, a, b, [3, 5], [4, 0], [1], [0, 1], [5], [0])  # a zero-size contraction
    np.testing.assert_array_equal(empty, np.zeros((3, 5), npdt(dt)))


# ---- normalisation --------------------------------------------------------------------------------------------
def tol(dt):
    return {"rtol": 2e-5, "atol": 2e-5} if dt == "f32" else {"rtol": 1e-12, "atol": 1e-12}


@covers("batchnorm", "batchnorm_train")
def test_batchnorm(name):
    dt = name.split("_")[0]
    rng = np.random.default_rng(8)
    for n, c, hw in [(1, 1, 1), (2, 3, 5), (1, 2, lanes(dt) + 1), (2, 2, 33)]:
        x = rand(dt, (n, c, hw), rng)
        s, b, m = (rand(dt, (c,), rng) for _ in range(3))
        v = np.abs(rand(dt, (c,), rng)).astype(npdt(dt))
        x64 = x.astype(np.float64)
        if name.endswith("train"):
            bm, bv = x64.mean((0, 2)), x64.var((0, 2))
            y, rm, rv = kh.run(name, [x, s, b, m, v], [(x.shape, dt), ((c,), dt), ((c,), dt)],
                               [n, c, hw, bits(1e-3), bits(0.8)])
            want = (x64 - bm[:, None]) / np.sqrt(bv[:, None] + np.float64(np.float32(1e-3))) * s[:, None] + b[:, None]
            np.testing.assert_allclose(rm, m * np.float64(np.float32(0.8)) + bm * (1 - np.float64(np.float32(0.8))), **tol(dt))
            np.testing.assert_allclose(rv, v * np.float64(np.float32(0.8)) + bv * (1 - np.float64(np.float32(0.8))), **tol(dt))
        else:
            y = kh.run(name, [x, s, b, m, v], [(x.shape, dt)], [n, c, hw, bits(1e-3)])[0]
            want = (x64 - m[:, None]) / np.sqrt(v[:, None] + np.float64(np.float32(1e-3))) * s[:, None] + b[:, None]
        np.testing.assert_allclose(y, want, **tol(dt))


def ref_groupnorm(x, s, b, g, eps, per_channel):
    n, c, hw = x.shape
    xg = x.astype(np.float64).reshape(n, g, -1)
    y = ((xg - xg.mean(-1, keepdims=True)) / np.sqrt(xg.var(-1, keepdims=True) + eps)).reshape(n, c, hw)
    if per_channel:
        return y * s[:, None] + b[:, None]
    return y * np.repeat(s, c // g)[:, None] + np.repeat(b, c // g)[:, None]


@covers("groupnorm")
def test_groupnorm(name):
    dt = name.split("_")[0]
    rng = np.random.default_rng(9)
    for (n, c, hw, g), per_channel in itertools.product([(1, 1, 1, 1), (2, 4, 5, 2), (1, 6, lanes(dt) + 1, 3),
                                                          (2, 3, 33, 3), (1, 4, 9, 1)], (0, 1)):
        x = rand(dt, (n, c, hw), rng)
        s, b = (rand(dt, (c if per_channel else g,), rng) for _ in range(2))
        eps = np.float32(1e-2)
        y = kh.run(name, [x, s, b], [(x.shape, dt)], [n, c, hw, g, bits(eps), per_channel])[0]
        np.testing.assert_allclose(y, ref_groupnorm(x, s, b, g, np.float64(eps), per_channel), **tol(dt))
    with pytest.raises(kh.KernelFailed, match="groupnorm: G must be"):
        kh.run(name, [x, s, b], [(x.shape, dt)], [1, 4, 9, 3, 0, 0])


@covers("layernorm")
def test_layernorm(name):
    dt = name.split("_")[0]
    rng = np.random.default_rng(10)
    for (outer, n), ws, bs in itertools.product([(1, 1), (3, 7), (2, lanes(dt) + 1), (2, 33)], (0, 1), (0, 1)):
        x = rand(dt, (outer, n), rng)
        w, b = rand(dt, (n if ws else 1,), rng), rand(dt, (n if bs else 1,), rng)
        y, m, inv = kh.run(name, [x, w, b], [(x.shape, dt), ((outer,), dt), ((outer,), dt)],
                           [outer, n, ws, bs, bits(1e-5)])
        x64 = x.astype(np.float64)
        rm, rinv = x64.mean(1), 1 / np.sqrt(x64.var(1) + np.float64(np.float32(1e-5)))
        np.testing.assert_allclose(y, (x64 - rm[:, None]) * rinv[:, None] * w + b, **tol(dt))
        np.testing.assert_allclose(m, rm, **tol(dt))
        np.testing.assert_allclose(inv, rinv, rtol=tol(dt)["rtol"])
    y = kh.run(name, [x, w, None], [(x.shape, dt), ((outer,), dt), ((outer,), dt)], [outer, n, ws, 1, bits(1e-5)])[0]
    np.testing.assert_allclose(y, (x64 - rm[:, None]) * rinv[:, None] * w, **tol(dt))


@covers("lrn")
def test_lrn(name):
    dt = name.split("_")[0]
    rng = np.random.default_rng(11)
    for (n, c, hw), size in itertools.product([(1, 1, 1), (2, 5, 7), (1, 4, lanes(dt) + 1)], (1, 2, 3, 5)):
        x = rand(dt, (n, c, hw), rng)
        alpha, beta, bias = np.float32(0.002), np.float32(0.75), np.float32(1.5)
        y = kh.run(name, [x], [(x.shape, dt)], [n, c, hw, size, bits(alpha), bits(beta), bits(bias)])[0]
        x64 = x.astype(np.float64)
        sq = np.zeros_like(x64)
        for ch in range(c):
            lo, hi = max(0, ch - (size - 1) // 2), min(c - 1, ch + size // 2)
            sq[:, ch] = (x64[:, lo:hi + 1] ** 2).sum(1)
        want = x64 / (np.float64(bias) + np.float64(alpha) / size * sq) ** np.float64(beta)
        np.testing.assert_allclose(y, want, rtol=1e-6 if dt == "f32" else 1e-13, atol=1e-7)


# ---- pooling and transposed convolution -----------------------------------------------------------------------
def ref_lppool(x, k, s, pad, dil, out, p):
    nc = x.shape[0]
    y = np.zeros((nc, *out))
    for o in itertools.product(*(range(v) for v in out)):
        acc = np.zeros(nc)
        for t in itertools.product(*(range(v) for v in k)):
            i = [o[d] * s[d] - pad[d] + t[d] * dil[d] for d in range(3)]
            if all(0 <= i[d] < x.shape[1 + d] for d in range(3)):
                acc += np.abs(x[(slice(None), *i)].astype(np.float64)) ** p
        y[(slice(None), *o)] = acc ** (1 / p)
    return y


@covers("lppool")
def test_lppool(name):
    dt = name.split("_")[0]
    rng = np.random.default_rng(12)
    cases = [((1, 1, 5), (1, 1, 3), (1, 1, 1), (0, 0, 1), (1, 1, 1)),
             ((1, 6, 7), (1, 2, 3), (1, 2, 1), (0, 1, 1), (1, 1, 2)),
             ((3, 4, 4), (2, 2, 2), (1, 1, 1), (1, 0, 1), (1, 2, 1))]
    for (dims, k, s, pad, dil), p in itertools.product(cases, (1.0, 2.0, 3.0, 0.5)):
        out = [(dims[d] + 2 * pad[d] - (k[d] - 1) * dil[d] - 1) // s[d] + 1 for d in range(3)]
        x = rand(dt, (2, *dims), rng)
        y = kh.run(name, [x], [((2, *out), dt)], [2, *dims, *out, *k, *pad, *s, *dil, bits(p)])[0]
        np.testing.assert_allclose(y, ref_lppool(x, k, s, pad, dil, out, p), rtol=1e-5 if dt == "f32" else 1e-12)


def ref_col2im(cols, bias, out, pads, s, d):
    """cols [M, KD, KH, KW, D, H, W] scattered into [M, *out] at o = i * s - pad + k * d."""
    m = cols.shape[0]
    y = np.zeros((m, *out)) + (bias if bias is not None else np.zeros(m))[:, None, None, None]
    ksz, isz = cols.shape[1:4], cols.shape[4:]
    for t in itertools.product(*(range(v) for v in ksz)):
        for i in itertools.product(*(range(v) for v in isz)):
            o = [i[k] * s[k] - pads[k] + t[k] * d[k] for k in range(3)]
            if all(0 <= o[k] < out[k] for k in range(3)):
                y[(slice(None), *o)] += cols[(slice(None), *t, *i)]
    return y


@covers("col2im")
def test_col2im(name):
    dt = name.split("_")[0]
    rng = np.random.default_rng(13)
    cases = [  # input (D, H, W), kernel, strides, dilations, begin pads (may be negative), M, extra output
        ((1, 1, 5), (1, 1, 3), (1, 1, 1), (1, 1, 1), (0, 0, 0), 1, (0, 0, 0)),
        ((1, 3, lanes(dt) + 3), (1, 3, 3), (1, 1, 1), (1, 1, 1), (0, 1, 1), 3, (0, 0, 0)),
        ((1, 3, 4), (1, 3, 2), (1, 2, 3), (1, 1, 2), (0, 1, 0), 2, (0, 1, 1)),
        ((1, 4, 5), (1, 4, 4), (1, 2, 2), (1, 1, 1), (0, 1, 1), 2, (0, 0, 0)),
        ((1, 2, 4 * lanes(dt) + 3), (1, 3, 3), (1, 2, 2), (1, 1, 1), (0, 1, 0), 2, (0, 1, 1)),  # SIMD stride 2
        ((1, 2, 9), (1, 1, 2), (1, 1, 3), (1, 1, 1), (0, 0, 0), 1, (0, 0, 2)),
        ((2, 3, 3), (2, 2, 2), (2, 1, 2), (1, 2, 1), (0, 0, -1), 2, (0, 0, 0)),
    ]
    for sp, k, s, dil, pads, m, extra in cases:
        out = [(sp[i] - 1) * s[i] + (k[i] - 1) * dil[i] + 1 - 2 * max(pads[i], 0) + extra[i] for i in range(3)]
        cols = rand(dt, (m, *k, *sp), rng)
        bias = rand(dt, (m,), rng)
        for b in (bias, None):
            y = kh.run(name, [cols, b], [((m, *out), dt)], [m, *sp, *out, *k, *pads, *s, *dil])[0]
            np.testing.assert_allclose(y, ref_col2im(cols, b, out, pads, s, dil), **tol(dt))
    with pytest.raises(kh.KernelFailed, match="col2im: strides and dilations"):
        kh.run(name, [cols, None], [((1,), dt)], [m, *sp, *out, *k, *pads, 0, 1, 1, *dil])


def test_every_op_is_tested():
    assert set(ABI) - TESTED == set()
