"""Every kernel of kernels.wasm (the list comes from its mg_kernel_names export, i.e. kernels/include/
mg_kernels.def) against an independent numpy reference, at SIMD-edge sizes, broadcasts and edge values."""
from __future__ import annotations

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

# ABI.md's table: op -> dtypes. The module must have exactly these kernels.
ABI = {
    **{op: NUM for op in ("add", "sub", "mul", "div", "argmax", "argmin", "equal_count")},
    "relu": ("f32", "f64", "i8", "i16", "i32", "i64"),
    **{op: FLOATS for op in ("sigmoid", "tanh", "gemm", "conv2d", "conv2d_im2col", "dwconv2d", "avgpool2d", "softmax",
                             "logsoftmax", "conv2d_pack_weights", "conv2d_im2col_packed", "gemm_pack_b",
                             "gemm_packed_b", "gemv_pack_b", "gemv_packed_b", "conv2d_winograd_weights",
                             "conv2d_winograd", "conv2d_winograd4_weights", "conv2d_winograd4")},
    "maxpool2d": ("f32", "f64", "i8", "u8"),
    "copy": ("u8",),
}


def split(name: str) -> tuple[str, str]:
    dt, op = name.split("_", 1)
    return dt, op


def kernels(*ops: str) -> list[str]:
    return [n for n in NAMES if split(n)[1] in ops]


def npdt(dt: str) -> np.dtype:
    return np.dtype(kh.DTYPES[dt])


def lanes(dt: str) -> int:
    return 16 // npdt(dt).itemsize


def edge_sizes(dt: str) -> list[int]:
    """1, odd sizes, and SIMD width -1/+0/+1 (one and two vectors)."""
    L = lanes(dt)
    return sorted({1, 3, 7, L - 1, L, L + 1, 2 * L - 1, 2 * L, 2 * L + 1, 33} - {0})


def rand(dt: str, shape, rng: np.random.Generator, lo=None, hi=None) -> np.ndarray:
    t = npdt(dt)
    if t.kind == "f":
        return (rng.standard_normal(shape) * 4).astype(t)
    info = np.iinfo(t)
    lo = info.min if lo is None else lo
    hi = info.max if hi is None else hi
    return rng.integers(lo, hi, size=shape, endpoint=True).astype(t)


def test_kernel_list_matches_abi():
    # Families added later keep their own table and check in their own test file (tests/test_kernels_*.py).
    expected = {f"{dt}_{op}" for op, dts in ABI.items() for dt in dts}
    assert expected <= set(NAMES)
    assert len(NAMES) == len(set(NAMES))


TESTED_OPS = set()


def covers(*ops: str):
    TESTED_OPS.update(ops)
    return pytest.mark.parametrize("name", kernels(*ops))


# ---- binary elementwise ---------------------------------------------------------------------------------


def strides_for(shape: tuple[int, ...], out: tuple[int, ...]) -> list[int]:
    """Element strides of a contiguous `shape` read as `out` (numpy broadcasting: 0 on broadcast dims)."""
    shape = (1,) * (len(out) - len(shape)) + tuple(shape)
    st, acc = [0] * len(out), 1
    for d in range(len(out) - 1, -1, -1):
        st[d] = 0 if shape[d] == 1 and out[d] != 1 else acc
        acc *= shape[d]
    return st


def run_binary(name: str, a: np.ndarray, b: np.ndarray, alias=None) -> np.ndarray:
    out = np.broadcast_shapes(a.shape, b.shape) or (1,)
    ints = [len(out), *out, *strides_for(a.shape, out), *strides_for(b.shape, out)]
    return kh.run(name, [a, b], [(out, split(name)[0])], ints, alias=alias)[0]


def wrap(values, dt: str) -> np.ndarray:
    """Python ints wrapped into dtype dt (two's complement), like numpy's integer arithmetic."""
    bits = npdt(dt).itemsize * 8
    signed = npdt(dt).kind == "i"
    out = []
    for v in values:
        v %= 1 << bits
        out.append(v - (1 << bits) if signed and v >= 1 << (bits - 1) else v)
    return np.array(out, dtype=npdt(dt))


def trunc_div(x: int, y: int) -> int:
    if y == 0:
        return 0
    q = abs(x) // abs(y)
    return q if (x < 0) == (y < 0) else -q


def reference_binary(op: str, dt: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.broadcast_arrays(a, b)
    if npdt(dt).kind == "f":
        with np.errstate(all="ignore"):
            return {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[op](a, b)
    fn = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y, "div": trunc_div}[op]
    return wrap([fn(int(x), int(y)) for x, y in zip(a.ravel(), b.ravel())], dt).reshape(a.shape)


BROADCASTS = [
    ((), (5,)),  # scalar first
    ((6,), ()),  # scalar second
    ((1,), (17,)),
    ((4, 9), (9,)),  # row
    ((4, 9), (4, 1)),  # column
    ((5, 1), (1, 7)),  # both
    ((3, 4, 5), (3, 1, 5)),  # middle dim
    ((2, 3, 1, 18), (1, 3, 4, 1)),
    ((2, 1, 2, 1, 3, 5), (1, 2, 1, 2, 3, 1)),  # nd = 6
]


@covers("add", "sub", "mul", "div")
def test_binary_contiguous(name):
    dt, op = split(name)
    rng = np.random.default_rng(1)
    for n in edge_sizes(dt):
        a, b = rand(dt, n, rng), rand(dt, n, rng)
        np.testing.assert_array_equal(run_binary(name, a, b), reference_binary(op, dt, a, b), err_msg=f"n={n}")


@covers("add", "sub", "mul", "div")
def test_binary_broadcast(name):
    dt, op = split(name)
    rng = np.random.default_rng(2)
    for sa, sb in BROADCASTS:
        a, b = rand(dt, sa, rng), rand(dt, sb, rng)
        want = reference_binary(op, dt, a, b).reshape(np.broadcast_shapes(sa, sb) or (1,))
        np.testing.assert_array_equal(run_binary(name, a, b), want, err_msg=f"{sa} {sb}")


@covers("add", "sub", "mul", "div")
def test_binary_in_place(name):
    dt, op = split(name)
    rng = np.random.default_rng(3)
    for shape_other in [(3, 21), (21,), (3, 1), ()]:
        a, b = rand(dt, (3, 21), rng), rand(dt, shape_other, rng)
        want = reference_binary(op, dt, a, b)
        np.testing.assert_array_equal(run_binary(name, a, b, alias={0: 0}), want)  # Y == A
        want = reference_binary(op, dt, b, a)
        np.testing.assert_array_equal(run_binary(name, b, a, alias={0: 1}), want)  # Y == B


@pytest.mark.parametrize("dt", ["i8", "u8", "i16"])
def test_binary_small_ints_wrap(dt):
    info = np.iinfo(npdt(dt))
    a = np.array([info.max, info.max, info.min, info.min, 100, info.max // 2 + 1], dtype=npdt(dt))
    b = np.array([1, info.max, 1, info.max, 3, 7], dtype=npdt(dt))
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(run_binary(f"{dt}_add", a, b), a + b)
        np.testing.assert_array_equal(run_binary(f"{dt}_sub", a, b), a - b)
        np.testing.assert_array_equal(run_binary(f"{dt}_mul", a, b), a * b)


@pytest.mark.parametrize("dt", INTS)
def test_int_div_edges(dt):
    info = np.iinfo(npdt(dt))
    signed = info.min < 0
    a = np.array([7, -7 if signed else 250, info.min, info.max, 0, info.min, 5, info.max] * 3, dtype=npdt(dt))
    b = np.array([0, 2, -1 if signed else 3, 0, 0, 1, 7 if signed else 9, -1 if signed else 1] * 3,
                 dtype=npdt(dt))
    got = run_binary(f"{dt}_div", a, b)
    np.testing.assert_array_equal(got, reference_binary("div", dt, a, b))
    if signed:
        assert got[2] == info.min  # MIN / -1 wraps to MIN
        assert got[1] == -3  # truncation toward zero
    assert got[0] == 0 and got[3] == 0  # division by zero gives 0


@pytest.mark.parametrize("dt", FLOATS)
def test_float_div_ieee(dt):
    a = np.array([1, -1, 0, np.inf, 1, -0.0], dtype=npdt(dt))
    b = np.array([0, 0, 0, np.inf, -0.0, 5], dtype=npdt(dt))
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(run_binary(f"{dt}_div", a, b), a / b)
    assert np.signbit(run_binary(f"{dt}_div", a, b)[5])


# ---- unary ----------------------------------------------------------------------------------------------


def run_unary(name: str, x: np.ndarray, alias=None) -> np.ndarray:
    return kh.run(name, [x], [(x.shape, split(name)[0])], [x.size], alias=alias)[0]


@covers("relu")
def test_relu(name):
    dt, _ = split(name)
    rng = np.random.default_rng(4)
    for n in edge_sizes(dt):
        x = rand(dt, n, rng)
        np.testing.assert_array_equal(run_unary(name, x), np.maximum(x, 0))
        np.testing.assert_array_equal(run_unary(name, x.copy(), alias={0: 0}), np.maximum(x, 0))
    if dt in FLOATS:
        x = np.array([np.nan, -np.inf, np.inf, -1, 0], dtype=npdt(dt))
        np.testing.assert_array_equal(run_unary(name, x), np.maximum(x, 0))


def sigmoid_ref(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.longdouble)
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


TRANSCENDENTAL_RTOL = {"f32": 1e-6, "f64": 1e-13}


@covers("sigmoid", "tanh")
def test_sigmoid_tanh(name):
    dt, op = split(name)
    ref = sigmoid_ref if op == "sigmoid" else (lambda v: np.tanh(v.astype(np.longdouble)))
    rng = np.random.default_rng(5)
    tiny = np.finfo(npdt(dt)).tiny
    for n in edge_sizes(dt):
        x = rand(dt, n, rng)
        np.testing.assert_allclose(run_unary(name, x), ref(x), rtol=TRANSCENDENTAL_RTOL[dt], atol=tiny)
    # whole range: tiny, moderate, past overflow/underflow of exp
    x = np.concatenate([np.logspace(-30, 3, 2000), -np.logspace(-30, 3, 2000), rng.uniform(-30, 30, 2000)])
    x = x.astype(npdt(dt))
    np.testing.assert_allclose(run_unary(name, x), ref(x).astype(npdt(dt)), rtol=TRANSCENDENTAL_RTOL[dt],
                               atol=tiny)
    # saturation and specials
    x = np.array([np.inf, -np.inf, 1e4, -1e4, 800, -800, 0.0, -0.0, np.nan], dtype=npdt(dt))
    got = run_unary(name, x)
    if op == "sigmoid":
        np.testing.assert_array_equal(got[:6], [1, 0, 1, 0, 1, 0])
        assert got[6] == 0.5 and got[7] == 0.5
    else:
        np.testing.assert_array_equal(got[:6], [1, -1, 1, -1, 1, -1])
        assert got[6] == 0 and not np.signbit(got[6]) and got[7] == 0 and np.signbit(got[7])
    assert np.isnan(got[8])


@covers("copy")
def test_copy(name):
    rng = np.random.default_rng(6)
    for n in [0, 1, 15, 16, 17, 1000]:
        x = rng.integers(0, 255, n, dtype=np.uint8)
        np.testing.assert_array_equal(kh.run(name, [x], [((n,), "u8")], [n])[0], x)


# ---- reductions -----------------------------------------------------------------------------------------


def argext_ref(x: np.ndarray, op: str, last: bool) -> np.ndarray:
    fn = np.argmax if op == "argmax" else np.argmin
    if not last:
        return fn(x, axis=1)
    return x.shape[1] - 1 - fn(x[:, ::-1, :], axis=1)


@covers("argmax", "argmin")
def test_argmax_argmin(name):
    dt, op = split(name)
    rng = np.random.default_rng(7)
    L = lanes(dt)
    shapes = [(1, 1, 1), (1, L + 1, 1), (3, 2 * L - 1, 1), (2, 5, 4), (4, 3, L + 1), (1, 17, 3)]
    for shape in shapes:
        for data in (rand(dt, shape, rng), rand(dt, shape, rng, 0, 2)):  # the second has many ties
            for last in (0, 1):
                got = kh.run(name, [data], [((shape[0], shape[2]), "i64")], [*shape, last])[0]
                np.testing.assert_array_equal(got, argext_ref(data, op, bool(last)), err_msg=f"{shape} last={last}")
    if dt in FLOATS:  # a NaN is the extreme, like numpy
        x = np.array([1, np.nan, 3, np.nan, -5], dtype=npdt(dt)).reshape(1, 5, 1)
        for last, want in ((0, 1), (1, 3)):
            assert kh.run(name, [x], [((1, 1), "i64")], [1, 5, 1, last])[0][0, 0] == want


@covers("equal_count")
def test_equal_count(name):
    dt, _ = split(name)
    rng = np.random.default_rng(8)
    for n in [*edge_sizes(dt), 200, 300, 1000]:
        a, b = rand(dt, n, rng, 0, 1), rand(dt, n, rng, 0, 1)
        if dt in FLOATS:
            a, b = np.round(a / 8).astype(npdt(dt)), np.round(b / 8).astype(npdt(dt))
        count = int(np.sum(a == b))
        want = wrap([count], dt)[0] if dt in INTS else npdt(dt).type(count)
        got = kh.run(name, [a, b], [((1,), dt)], [n])[0][0]
        assert got == want, (n, count, got)


def test_equal_count_i8_wraps():
    a = np.zeros(300, np.int8)
    assert kh.run("i8_equal_count", [a, a], [((1,), "i8")], [300])[0][0] == np.int8(300 - 256)
    assert kh.run("u8_equal_count", [a.view(np.uint8)] * 2, [((1,), "u8")], [300])[0][0] == 44


# ---- fused activations (gemm and conv epilogues) ----------------------------------------------------------

# code -> (a, b) params; the act ints are [code, f32 bits of a, f32 bits of b]
ACTS = {0: (0.0, 0.0), 1: (0.0, 0.0), 2: (-0.5, 1.25), 3: (0.0, 0.0), 4: (0.0, 0.0), 5: (0.0, 0.0), 6: (0.1, 0.0)}


def act_ints(code: int) -> list[int]:
    a, b = ACTS[code]
    return [code, kh.f32_bits(a), kh.f32_bits(b)]


def act_ref(y: np.ndarray, code: int) -> np.ndarray:
    """The activation in float64 (math.erf for gelu)."""
    import math
    a, b = (float(np.float32(v)) for v in ACTS[code])
    if code == 1:
        return np.maximum(y, 0)
    if code == 2:
        return np.minimum(np.maximum(y, a), b)
    if code == 3:
        return 1 / (1 + np.exp(-y))
    if code == 4:
        return y * np.clip(y / 6 + 0.5, 0, 1)
    if code == 5:
        return 0.5 * y * (1 + np.vectorize(math.erf)(y / np.sqrt(2)))
    if code == 6:
        return np.where(y < 0, a * y, y)
    return y


# ---- gemm -----------------------------------------------------------------------------------------------

GEMM_TOL = {"f32": (1e-4, 1e-5), "f64": (1e-12, 1e-13)}  # rtol, atol per unit of sqrt(K)


def run_gemm(name, M, N, K, ta=0, tb=0, alpha=1.0, beta=1.0, c=None, batch=1, b_shared=False, act=0,
             seed=0, alias=None, c_kind=None):
    """`name` may be <dt>_gemm_packed_b or <dt>_gemv_packed_b: B (shared by the batch) is packed by
    gemm_pack_b / gemv_pack_b first, as a plan's init step does; returns Y."""
    dt, op = split(name)
    rng = np.random.default_rng(seed)
    a = rand(dt, (batch, K, M) if ta else (batch, M, K), rng) / 4
    b = rand(dt, (1 if b_shared else batch, N, K) if tb else (1 if b_shared else batch, K, N), rng) / 4
    crs, ccs, cfull = 0, 0, None
    if c_kind is not None:
        shape = {"scalar": (1,), "row": (N,), "col": (M,), "full": (M, N)}[c_kind]
        c = rand(dt, shape, rng)
        crs, ccs = {"scalar": (0, 0), "row": (0, 1), "col": (1, 0), "full": (N, 1)}[c_kind]
        cfull = np.broadcast_to(c.reshape((M, 1)) if c_kind == "col" else c, (M, N)).astype(np.float64)
    ints = [M, N, K, ta, tb, kh.f32_bits(alpha), kh.f32_bits(beta), crs, ccs, batch,
            a[0].size, 0 if b_shared else b[0].size, *act_ints(act)]
    if op == "gemm_packed_b":
        nr = 2 * lanes(dt)
        bp = kh.run(f"{dt}_gemm_pack_b", [b[0]], [((-(-N // nr) * nr * K,), dt)], ints)[0]
        got = kh.run(name, [a, bp, c], [((batch, M, N), dt)], ints, alias=alias)[0]
    elif op == "gemv_packed_b":
        bp = kh.run(f"{dt}_gemv_pack_b", [b[0]], [((gemv_packed_size(dt, N, K),), dt)], ints)[0]
        got = kh.run(name, [a, bp, c], [((batch, M, N), dt)], ints, alias=alias)[0]
    else:
        got = kh.run(name, [a, b, c], [((batch, M, N), dt)], ints, alias=alias)[0]
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    opa = a64.transpose(0, 2, 1) if ta else a64
    opb = b64.transpose(0, 2, 1) if tb else b64
    ref = np.float32(alpha).astype(np.float64) * (opa @ opb)
    if cfull is not None:
        ref = ref + np.float64(np.float32(beta)) * cfull
    ref = act_ref(ref, act)
    rtol, atol = GEMM_TOL[dt]
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol * np.sqrt(max(K, 1)) * 4,
                               err_msg=f"{name} M={M} N={N} K={K} ta={ta} tb={tb} C={c_kind}")
    return got


GEMM_SIZES = [(1, 1, 1), (5, 7, 3), (17, 9, 33), (64, 64, 64), (3, 17, 300), (4, 8, 2), (2, 37, 9), (1, 300, 17),
              (70, 20, 5)]


@covers("gemm")
@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_gemm_trans(name, ta, tb):
    for M, N, K in GEMM_SIZES:
        run_gemm(name, M, N, K, ta, tb)


@covers("gemm")
@pytest.mark.parametrize("c_kind", ["scalar", "row", "col", "full"])
def test_gemm_c_alpha_beta(name, c_kind):
    for (M, N, K), (alpha, beta) in zip([(1, 1, 1), (5, 7, 3), (17, 9, 33), (8, 16, 5)],
                                        [(1.0, 1.0), (0.5, 2.0), (-1.5, 0.25), (2.0, 0.0)]):
        run_gemm(name, M, N, K, alpha=alpha, beta=beta, c_kind=c_kind, ta=M % 2, tb=N % 2)


@covers("gemm")
def test_gemm_batch_act_and_k_blocks(name):
    run_gemm(name, 5, 7, 3, batch=3)
    run_gemm(name, 6, 9, 11, batch=4, b_shared=True, tb=1)
    run_gemm(name, 17, 9, 33, act=1, c_kind="row")
    run_gemm(name, 9, 13, 700, act=1, c_kind="full", alpha=0.5, beta=-1.0)  # several K blocks
    run_gemm(name, 0, 5, 3)
    run_gemm(name, 4, 5, 0, c_kind="full", beta=2.0)  # K = 0: Y = beta * C


@covers("gemm")
@pytest.mark.parametrize("act", list(ACTS))
def test_gemm_activations(name, act):
    """Every act code on every gemm path (packed, rows of B, dot products with B^T), several K blocks."""
    for M, N, K, tb in [(17, 19, 33, 0), (9, 13, 300, 1), (1, 21, 9, 0), (3, 10, 7, 1), (64, 64, 64, 0)]:
        run_gemm(name, M, N, K, tb=tb, act=act, c_kind="row", alpha=1.5, beta=0.5)


@covers("gemm")
@pytest.mark.parametrize("M", [1, 2, 3, 4, 5])
def test_gemm_small_m(name, M):
    """Few rows take unpacked paths (rows of B streamed, or dot products with B^T)."""
    for ta, tb in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        run_gemm(name, M, 19, 23, ta, tb, alpha=0.5, beta=2.0, c_kind="full", act=1, batch=2)
        run_gemm(name, M, 8, 1, ta, tb, c_kind="col")
        run_gemm(name, M, 3, 40, ta, tb, c_kind="scalar", alpha=-1.0)


@covers("gemm")
@pytest.mark.parametrize("act", list(ACTS))
def test_gemm_small_k(name, act):
    """K <= 256, no B^T, alpha 1, no C or a per-row C (a conv bias): A packed once, B read in place, tiles
    started from the bias; column edges (a last panel full or partial, N < one strip), row edges, K = 1 and
    256, and K = 257 (the general path) for contrast."""
    for M, N, K, ta in [(96, 37, 16, 0), (5, 24, 3, 1), (7, 9, 1, 0), (13, 16, 256, 0), (4, 3, 40, 1),
                        (9, 41, 257, 0), (70, 50, 24, 0)]:
        run_gemm(name, M, N, K, ta=ta, act=act, c_kind="col", beta=0.5, batch=2)
        run_gemm(name, M, N, K, ta=ta, act=act)


@covers("gemm_packed_b", "gemm_pack_b")
@pytest.mark.parametrize("act", list(ACTS))
def test_gemm_packed_b(name, act):
    """B packed once (gemm_pack_b) then the blocked path on it: row/column edges, several K blocks, B^T,
    A^T, every kind of C, a batch sharing B; bit-identical to gemm where gemm takes its blocked path."""
    dt = split(name)[0]
    cases = [(17, 19, 33, 0, 0, "row"), (9, 13, 300, 0, 1, "full"), (70, 50, 257, 1, 0, "col"), (5, 8, 1, 0, 1, None),
             (64, 64, 129, 1, 1, "scalar"), (13, 3, 700, 0, 0, "row"), (1, 21, 9, 0, 1, None)]
    for M, N, K, ta, tb, c_kind in cases:
        got = run_gemm(f"{dt}_gemm_packed_b", M, N, K, ta, tb, c_kind=c_kind, beta=0.5, act=act, batch=2,
                       b_shared=True)
        if M > 4 and (tb or K > 256):  # gemm's blocked path: the same arithmetic in the same order
            np.testing.assert_array_equal(got, run_gemm(f"{dt}_gemm", M, N, K, ta, tb, c_kind=c_kind, beta=0.5,
                                                        act=act, batch=2, b_shared=True))


def gemv_packed_size(dt, N, K):
    """Elements of gemv_pack_b's output: ceil(N / 6) groups of 6 columns, K padded to the lanes."""
    L = lanes(dt)
    return -(-N // 6) * 6 * (-(-K // L) * L)


@covers("gemv_pack_b")
@pytest.mark.parametrize("tb", [0, 1])
def test_gemv_pack_b_layout(name, tb):
    """ABI.md's layout: Packed[(g * Kv + kv) * 6 * L + j * L + l] = op(B)[kv * L + l, g * 6 + j], 0 past K, N."""
    dt = split(name)[0]
    L = lanes(dt)
    for N, K in [(1, 1), (6, 4), (13, 9), (37, 33)]:
        b = rand(dt, (N, K) if tb else (K, N), np.random.default_rng(N))
        opb = b.T if tb else b
        ints = [1, N, K, 0, tb, kh.f32_bits(1.0), 0, 0, 0, 1, 0, 0, 0, 0, 0]
        got = kh.run(name, [b], [((gemv_packed_size(dt, N, K),), dt)], ints)[0]
        G, Kv = -(-N // 6), -(-K // L)
        ref = np.zeros((Kv * L, G * 6), npdt(dt))
        ref[:K, :N] = opb
        ref = ref.reshape(Kv, L, G, 6).transpose(2, 0, 3, 1)  # [g][kv][j][l]
        np.testing.assert_array_equal(got, ref.reshape(-1))


@covers("gemv_packed_b")
@pytest.mark.parametrize("act", list(ACTS))
def test_gemv_packed_b(name, act):
    """M = 1..3 rows times B packed by gemv_pack_b: N and K not multiples of the 6-column group or the lanes
    (a last group partly or wholly past N, a last partial k vector), B^T or not, A^T (one row), every kind
    of C and none, a batch sharing B."""
    cases = [(1, 1, 1, 0, 0, None), (1, 7, 5, 1, 1, "row"), (1, 37, 33, 0, 1, "scalar"), (1, 12, 300, 1, 0, "full"),
             (2, 5, 3, 0, 1, "col"), (2, 13, 64, 0, 0, "full"), (2, 6, 9, 0, 1, None), (3, 19, 23, 0, 1, "row"),
             (3, 4, 130, 0, 0, "col"), (3, 37, 33, 0, 1, "full"), (3, 2, 7, 0, 0, "scalar"), (3, 24, 8, 0, 1, "row")]
    for M, N, K, ta, tb, c_kind in cases:
        run_gemm(name, M, N, K, ta, tb, c_kind=c_kind, beta=0.5, act=act, batch=2, b_shared=True)


@covers("gemv_packed_b")
def test_gemv_packed_b_in_place_c(name):
    """Y over a full-shape C (the planner may do this): each C element is read before Y's is written."""
    dt = split(name)[0]
    rng = np.random.default_rng(5)
    for M, N, K in [(1, 13, 20), (2, 9, 11), (3, 7, 6)]:
        a, b, c = rand(dt, (M, K), rng), rand(dt, (N, K), rng), rand(dt, (M, N), rng)
        ints = [M, N, K, 0, 1, kh.f32_bits(1.0), kh.f32_bits(0.5), N, 1, 1, 0, 0, 0, 0, 0]
        bp = kh.run(f"{dt}_gemv_pack_b", [b], [((gemv_packed_size(dt, N, K),), dt)], ints)[0]
        got = kh.run(name, [a, bp, c], [((M, N), dt)], ints, alias={0: 2})[0]
        ref = a.astype(np.float64) @ b.T.astype(np.float64) + 0.5 * c.astype(np.float64)
        rtol, atol = GEMM_TOL[dt]
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol * 4 * np.sqrt(K) * 4)


def test_gelu_epilogue_accuracy():
    """The f32 GELU epilogue's rational erf: relative error ~1e-6 for x > 0; where 1 + erf cancels (x < 0)
    an absolute error of ~3e-7 |x|; NaN and infinities pass as GELU's limits."""
    import math
    x = np.concatenate([np.linspace(-12, 12, 4001), np.geomspace(1e-30, 1e-2, 57), -np.geomspace(1e-30, 1e-2, 57),
                        [0.0, 5.65685, -5.65685, np.inf, -np.inf, np.nan]]).astype(np.float32)
    n = x.size
    a = np.ones((4, 1), np.float32)
    got = kh.run("f32_gemm", [a, x.reshape(1, n), None], [((4, n), "f32")],
                 [4, n, 1, 0, 0, kh.f32_bits(1.0), 0, 0, 0, 1, 0, 0, *act_ints(5)])[0]
    xd = x.astype(np.float64)
    with np.errstate(invalid="ignore"):
        ref = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) if np.isfinite(v) else v for v in xd])
    ref[np.isneginf(xd)] = np.nan  # -inf * 0
    for row in got:
        fin = np.isfinite(xd)
        err = np.abs(row[fin] - ref[fin])
        assert np.all(err <= 1.5e-6 * np.abs(ref[fin]) + 3e-7 * np.abs(xd[fin]) + 1e-37), np.max(err)
        assert np.isnan(row[np.isnan(xd)]).all() and row[np.isposinf(xd)][0] == np.inf


@covers("gemm")
def test_gemm_in_place_c(name):
    """Y written over a full-shape C (the planner may do this): every C element is read first."""
    dt = split(name)[0]
    rng = np.random.default_rng(9)
    for M, N, K, tb in [(5, 7, 3, 0), (9, 13, 600, 0), (1, 13, 20, 0), (2, 9, 11, 1)]:
        a, b, c = rand(dt, (M, K), rng), rand(dt, (N, K) if tb else (K, N), rng), rand(dt, (M, N), rng)
        ints = [M, N, K, 0, tb, kh.f32_bits(1.0), kh.f32_bits(0.5), N, 1, 1, 0, 0, 0, 0, 0]
        got = kh.run(name, [a, b, c], [((M, N), dt)], ints, alias={0: 2})[0]
        ref = a.astype(np.float64) @ (b.T if tb else b).astype(np.float64) + 0.5 * c.astype(np.float64)
        rtol, atol = GEMM_TOL[dt]
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol * 4 * np.sqrt(K) * 4)


# ---- conv2d ---------------------------------------------------------------------------------------------


def conv_ref(x, w, bias, pads, strides, dils, group, OH, OW, act):
    N = x.shape[0]
    M, Cg, KH, KW = w.shape
    pt, pl, pb, pr = pads
    sh, sw = strides
    dh, dw = dils
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    y = np.zeros((N, M, OH, OW))
    Mg = M // group
    for g in range(group):
        for kh_ in range(KH):
            for kw_ in range(KW):
                sl = xp[:, g * Cg:(g + 1) * Cg, kh_ * dh: kh_ * dh + sh * (OH - 1) + 1: sh,
                        kw_ * dw: kw_ * dw + sw * (OW - 1) + 1: sw]
                y[:, g * Mg:(g + 1) * Mg] += np.einsum("nchw,mc->nmhw", sl, w[g * Mg:(g + 1) * Mg, :, kh_, kw_])
    if bias is not None:
        y += bias.astype(np.float64)[None, :, None, None]
    return np.maximum(y, 0) if act else y


# N, C, H, W, M, KH, KW, (pt, pl, pb, pr), (sh, sw), (dh, dw), group, bias, act
CONV_CASES = [
    (1, 3, 8, 8, 4, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, True, 0),
    (2, 4, 9, 17, 6, 3, 3, (1, 1, 1, 1), (2, 2), (1, 1), 1, True, 1),  # stride 2, odd sizes
    (1, 2, 11, 13, 3, 3, 3, (2, 2, 2, 2), (1, 1), (2, 2), 1, False, 0),  # dilation 2
    (1, 4, 7, 7, 6, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 2, True, 0),  # groups
    (1, 8, 10, 19, 8, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 8, True, 1),  # depthwise
    (1, 8, 10, 9, 8, 3, 3, (1, 1, 1, 1), (2, 2), (1, 1), 8, False, 0),  # depthwise stride 2
    (2, 5, 6, 33, 7, 1, 1, (0, 0, 0, 0), (1, 1), (1, 1), 1, True, 0),  # 1x1
    (1, 3, 5, 4, 2, 1, 1, (0, 0, 0, 0), (2, 2), (1, 1), 1, False, 0),  # 1x1 stride 2
    (1, 2, 1, 1, 3, 1, 1, (0, 0, 0, 0), (1, 1), (1, 1), 1, True, 0),  # 1x1 image
    (1, 3, 9, 16, 2, 2, 5, (0, 2, 1, 1), (1, 3), (1, 1), 1, True, 0),  # asymmetric pads, odd stride
    (1, 2, 4, 4, 2, 5, 5, (3, 3, 3, 3), (1, 1), (1, 1), 1, True, 0),  # kernel wider than the input
    (1, 2, 12, 40, 3, 7, 3, (3, 1, 3, 1), (1, 1), (1, 3), 1, True, 1),  # wide rows, dilated width
    (1, 64, 8, 8, 16, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, True, 0),  # K = C*KH*KW = 576
    (1, 3, 11, 70, 4, 3, 3, (1, 1, 1, 1), (2, 2), (1, 1), 1, True, 1),  # stride 2, wide rows: SIMD tiles
    (1, 2, 9, 50, 3, 3, 3, (2, 3, 2, 3), (2, 2), (2, 2), 1, False, 0),  # stride 2 and dilation 2
    (1, 4, 3, 40, 5, 1, 1, (0, 0, 0, 0), (2, 2), (1, 1), 1, True, 0),  # 1x1 stride 2, odd M
    (2, 6, 5, 20, 9, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 3, True, 1),  # 3 output channels per group
    (1, 2, 6, 41, 2, 3, 3, (0, 0, 0, 0), (2, 2), (1, 1), 1, False, 0),  # stride 2, no pad, odd width
]


def packed_size(M, C, KH, KW, group) -> int:
    """Elements of conv2d_pack_weights' output: per group ceil(M/group / 4) * 4 rows of C/group * KH * KW."""
    return group * -(-(M // group) // 4) * 4 * (C // group) * KH * KW


def pack_ref(w: np.ndarray, group: int, mr: int = 4, kc: int = 128) -> np.ndarray:
    """ABI.md's packed layout in numpy: per group, per K block of kc, 4-row tiles stored k-major."""
    M = w.shape[0]
    mg = M // group
    wk = w.reshape(M, -1)
    K = wk.shape[1]
    mp = -(-mg // mr) * mr
    out = []
    for g in range(group):
        wp = np.zeros((mp, K), w.dtype)
        wp[:mg] = wk[g * mg:(g + 1) * mg]
        for k0 in range(0, K, kc):
            blk = wp[:, k0:k0 + kc]
            out.append(blk.reshape(mp // mr, mr, -1).transpose(0, 2, 1).ravel())
    return np.concatenate(out) if out else np.zeros(0, w.dtype)


def run_conv(name, case, act=None):
    """Runs conv kernel `name` (conv2d, conv2d_im2col with its scratch, dwconv2d, or gemm as the lowering
    emits it for 1x1 convs) on CONV_CASES-style `case` and checks it against conv_ref."""
    dt, op = split(name)
    N, C, H, W, M, KH, KW, pads, strides, dils, group, has_bias, act0 = case
    act = act0 if act is None else act
    pt, pl, pb, pr = pads
    OH = (H + pt + pb - dils[0] * (KH - 1) - 1) // strides[0] + 1
    OW = (W + pl + pr - dils[1] * (KW - 1) - 1) // strides[1] + 1
    rng = np.random.default_rng(10 + sum(case[:5]))
    x = rand(dt, (N, C, H, W), rng)
    w = rand(dt, (M, C // group, KH, KW), rng) / 4
    bias = rand(dt, (M,), rng) if has_bias else None
    ints = [N, C, H, W, M, OH, OW, KH, KW, group, pt, pl, strides[0], strides[1], dils[0], dils[1], *act_ints(act)]
    k = C // group * KH * KW
    if op == "conv2d_im2col":
        scratch = np.full(-(-(M // group) // 4) * 4 * k, np.nan, npdt(dt))  # every element written before read
        got = kh.run(name, [x, w, bias, scratch], [((N, M, OH, OW), dt)], ints)[0]
    elif op in ("conv2d_im2col_packed", "conv2d_pack_weights"):  # packed by their own kernel first (an init step)
        packed = kh.run(f"{dt}_conv2d_pack_weights", [w], [((packed_size(M, C, KH, KW, group),), dt)], ints)[0]
        np.testing.assert_array_equal(packed, pack_ref(w, group))
        got = kh.run(f"{dt}_conv2d_im2col_packed", [x, packed, bias], [((N, M, OH, OW), dt)], ints)[0]
    elif op.startswith("conv2d_winograd"):  # weights transformed by their own kernel first (an init step)
        kernel = op.removesuffix("_weights")
        m = 4 if kernel == "conv2d_winograd4" else 2
        u = kh.run(f"{dt}_{kernel}_weights", [w], [(((m + 2) ** 2 * -(-M // 4) * 4 * C,), dt)], ints)[0]
        rtol = 1e-6 if dt == "f32" else 1e-13  # computed in f64 and rounded once: summation order only
        np.testing.assert_allclose(u, winograd_weights_ref(w, m), rtol=rtol, atol=rtol * 0.1)
        scratch = np.full(winograd_scratch(C, OH, OW, dt, m), np.nan, npdt(dt))  # every element read is written first
        got = kh.run(f"{dt}_{kernel}", [x, u, bias, scratch], [((N, M, OH, OW), dt)], ints)[0]
    elif op == "gemm":
        assert group == 1 and KH == KW == 1 and strides == dils == (1, 1) and pads == (0, 0, 0, 0)
        gints = [M, H * W, C, 0, 0, kh.f32_bits(1.0), kh.f32_bits(1.0 if has_bias else 0.0), 1, 0, N, 0, C * H * W,
                 *act_ints(act)]
        got = kh.run(name, [w, x, bias], [((N, M, OH, OW), dt)], gints)[0]
    else:
        got = kh.run(name, [x, w, bias], [((N, M, OH, OW), dt)], ints)[0]
    ref = act_ref(conv_ref(x, w, bias, pads, strides, dils, group, OH, OW, 0), act)
    rtol, atol = GEMM_TOL[dt]
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol * np.sqrt(k) * 16, err_msg=f"{name} {case} act={act}")


@covers("conv2d", "conv2d_im2col", "conv2d_im2col_packed", "conv2d_pack_weights")
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv2d(name, case):
    run_conv(name, CONV_CASES[case])


# im2col + GEMM: chunks of 64 (f32) / 32 (f64) output pixels, panels of 8 / 4, K blocks of 128, 4-row tiles
IM2COL_CASES = [
    (1, 16, 12, 12, 20, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, True, 1),  # 144 pixels: chunk and panel edges
    (2, 32, 9, 13, 7, 3, 3, (1, 1, 1, 1), (2, 2), (1, 1), 1, True, 0),  # stride 2, M not a multiple of 4
    (1, 64, 8, 24, 9, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, False, 0),  # K = 576: 5 K blocks, rows of 24
    (1, 20, 10, 40, 12, 3, 3, (0, 2, 1, 0), (2, 2), (1, 1), 1, True, 1),  # asymmetric pads, stride-2 wide rows
    (1, 8, 9, 35, 8, 3, 3, (2, 2, 2, 2), (1, 1), (2, 2), 2, True, 0),  # dilation and groups
    (1, 24, 7, 7, 33, 1, 1, (0, 0, 0, 0), (2, 2), (1, 1), 1, True, 0),  # 1x1 stride 2
    (1, 3, 40, 40, 16, 3, 3, (1, 1, 1, 1), (2, 2), (1, 1), 1, True, 1),  # K = 27: few channels
    (1, 130, 5, 5, 6, 1, 1, (0, 0, 0, 0), (1, 1), (1, 1), 1, False, 0),  # K = 130: one element past a block
    # pointwise (1x1, stride 1, no pads: X's rows copied as panels) and last panels of 1..NR-1 pixels
    (2, 150, 7, 7, 10, 1, 1, (0, 0, 0, 0), (1, 1), (1, 1), 1, True, 2),  # K = 150: 2 blocks, 49 pixels, batch 2
    (1, 5, 3, 23, 6, 1, 1, (0, 0, 0, 0), (1, 1), (1, 1), 1, False, 1),  # 69 pixels: a chunk edge, then 5
    (1, 12, 13, 13, 9, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, True, 4),  # 169 pixels: panels across rows
    (1, 140, 7, 7, 7, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, True, 3),  # K = 1260 (10 blocks), 3 rows left
    # stride 2 with rows of >= 24 inputs: a kernel row's taps from one load of the panel (f32), shuffled
    (1, 3, 30, 70, 8, 7, 7, (3, 3, 3, 3), (2, 2), (1, 1), 1, True, 1),  # a 7x7 stem: K = 147 splits a kernel row
    (1, 4, 9, 61, 5, 5, 4, (2, 1, 2, 2), (2, 2), (1, 1), 1, False, 0),  # even KW, asymmetric pads
    (1, 2, 6, 50, 4, 3, 6, (1, 0, 1, 5), (2, 2), (1, 1), 1, True, 2),  # KW = 6, a wide right pad
    (1, 8, 5, 57, 6, 1, 1, (0, 0, 0, 0), (2, 2), (1, 1), 1, True, 0),  # 1x1 stride 2 (KW = 1)
    (1, 2, 6, 60, 4, 3, 8, (1, 1, 1, 1), (2, 2), (1, 1), 1, True, 0),  # KW = 8: one tap at a time
]


@covers("conv2d_im2col", "conv2d_im2col_packed")
@pytest.mark.parametrize("case", range(len(IM2COL_CASES)))
def test_conv2d_im2col(name, case):
    run_conv(name, IM2COL_CASES[case])


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("width", range(1, 10))
@pytest.mark.parametrize("pointwise", [True, False])
def test_conv2d_im2col_last_panel_widths(dt, width, pointwise):
    """One output row of 1..9 pixels: every width of the last panel (1..7 for f32's 8, 1..3 for f64's 4), taken
    by the kernel that keeps the tile's rows in the lanes; M = 6 leaves a 2-row tile, K = 131 two K blocks."""
    k = 1 if pointwise else 3
    case = (1, 131, k, width + k - 1, 6, k, k, (0, 0, 0, 0), (1, 1), (1, 1), 1, width % 2 == 1, width % 7)
    run_conv(f"{dt}_conv2d_im2col_packed", case)
    run_conv(f"{dt}_conv2d_im2col", case)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("case", range(len(IM2COL_CASES)))
def test_conv2d_im2col_packed_equals_unpacked(dt, case):
    """Weights packed once at load give bit-identical outputs to packing them in the scratch on every run."""
    N, C, H, W, M, KH, KW, (pt, pl, pb, pr), st, dil, group, has_bias, act = IM2COL_CASES[case]
    OH = (H + pt + pb - dil[0] * (KH - 1) - 1) // st[0] + 1
    OW = (W + pl + pr - dil[1] * (KW - 1) - 1) // st[1] + 1
    rng = np.random.default_rng(case)
    x, w = rand(dt, (N, C, H, W), rng), rand(dt, (M, C // group, KH, KW), rng)
    bias = rand(dt, (M,), rng) if has_bias else None
    ints = [N, C, H, W, M, OH, OW, KH, KW, group, pt, pl, *st, *dil, *act_ints(act)]
    n = packed_size(M, C, KH, KW, group)
    packed = kh.run(f"{dt}_conv2d_pack_weights", [w], [((n,), dt)], ints)[0]
    got = kh.run(f"{dt}_conv2d_im2col_packed", [x, packed, bias], [((N, M, OH, OW), dt)], ints)[0]
    ref = kh.run(f"{dt}_conv2d_im2col", [x, w, bias, np.zeros(n // group, npdt(dt))], [((N, M, OH, OW), dt)], ints)[0]
    np.testing.assert_array_equal(got, ref)


WINOGRAD_G = {2: np.array([[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]]),
              4: np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6],
                           [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]])}  # Lavin & Gray's G of F(m x m, 3x3)


def winograd_weights_ref(w: np.ndarray, m: int) -> np.ndarray:
    """ABI.md's conv2d_winograd{,4}_weights layout in numpy: U = G g G^T per (o, c); per 4-row tile of the M
    rows (zero past M), the 4 x C tiles of the (m+2)^2 positions ij of the transform in turn, each k-major."""
    g, aa = WINOGRAD_G[m], (m + 2) ** 2
    M, C = w.shape[:2]
    u = np.zeros((aa, -(-M // 4) * 4, C))
    u[:, :M] = np.einsum("ik,mckl,jl->ijmc", g, w.astype(np.float64), g).reshape(aa, M, C)
    return u.reshape(aa, -1, 4, C).transpose(1, 0, 3, 2).ravel().astype(w.dtype)


def winograd_scratch(C: int, OH: int, OW: int, dt: str, m: int) -> int:
    """conv2d_winograd{,4}'s scratch (ABI.md): (m+2)^2 * C * nt elements, nt the tiles of one block."""
    nr, per_tile = 2 * lanes(dt), npdt(dt).itemsize * (m + 2) ** 2 * max(C, 1)
    tiles = -(-OH // m) * -(-OW // m)
    nt = 262144 // per_tile // nr * nr
    nt = 2 * nr if nt < 2 * nr and 2 * nr * per_tile <= 2 * 262144 else nt
    return (m + 2) ** 2 * C * max(min(nt, 64, -(-tiles // nr) * nr), nr)


# 3x3 stride-1 convs (Winograd F(2x2, 3x3) and F(4x4, 3x3)): tiles of 2x2 / 4x4 outputs, panels of 8 (f32) /
# 4 (f64) tiles, blocks of up to 64 tiles (fewer for large C), 4-row tiles of output channels
WINOGRAD_CASES = [
    (1, 3, 8, 8, 4, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, True, 0),
    (2, 5, 9, 17, 6, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, True, 1),  # odd H/W: partial tiles, batch 2
    (1, 16, 28, 28, 20, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, False, 1),  # 14 tiles a row: runs cross panels
    (1, 7, 13, 13, 9, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, True, 0),  # SqueezeNet's 13x13, M, C odd
    (1, 2, 10, 11, 3, 3, 3, (0, 0, 0, 0), (1, 1), (1, 1), 1, True, 0),  # no pads, M < 4
    (1, 3, 6, 7, 5, 3, 3, (2, 2, 2, 2), (1, 1), (1, 1), 1, True, 1),  # pads 2
    (1, 4, 9, 12, 4, 3, 3, (2, 0, 1, 2), (1, 1), (1, 1), 1, False, 0),  # asymmetric pads
    (1, 600, 5, 5, 6, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, True, 0),  # large C: smallest block (one panel)
    (1, 300, 9, 9, 5, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, True, 1),  # F(2x2) f32: blocks of two panels
    (1, 130, 14, 14, 12, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, True, 1),  # several blocks, 7 tiles a row
    (1, 3, 1, 1, 4, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, True, 0),  # 1x1 image
    (1, 1, 3, 40, 1, 3, 3, (0, 1, 0, 1), (1, 1), (1, 1), 1, True, 0),  # one output row, wide
    (1, 4, 33, 3, 5, 3, 3, (1, 0, 1, 0), (1, 1), (1, 1), 1, False, 0),  # one output column
]


@covers("conv2d_winograd", "conv2d_winograd_weights", "conv2d_winograd4", "conv2d_winograd4_weights")
@pytest.mark.parametrize("case", range(len(WINOGRAD_CASES)))
def test_conv2d_winograd(name, case):
    run_conv(name, WINOGRAD_CASES[case])


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("M, C", [(1, 1), (5, 4), (6, 9), (7, 13), (13, 36), (3, 130), (4, 128), (5, 256)])
def test_conv2d_winograd_weights_layout(dt, m, M, C):
    """conv2d_winograd{,4}_weights alone against numpy's G g G^T in ABI.md's packed layout: input channels in
    groups of the vector width (4 f32, 2 f64) with a partial last group, M not a multiple of 4 (zero rows),
    and
    C * 4 rows a multiple of 4 KB (128 f64, 256 both), where the kernel writes through a line buffer."""
    w = rand(dt, (M, C, 3, 3), np.random.default_rng(M * 1000 + C)) / 4
    ints = [1, C, 6, 6, M, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]
    kernel = "conv2d_winograd4_weights" if m == 4 else "conv2d_winograd_weights"
    u = kh.run(f"{dt}_{kernel}", [w], [(((m + 2) ** 2 * -(-M // 4) * 4 * C,), dt)], ints)[0]
    rtol = 1e-6 if dt == "f32" else 1e-13  # computed in f64 and rounded once: summation order only
    np.testing.assert_allclose(u, winograd_weights_ref(w, m), rtol=rtol, atol=rtol * 0.1)


DW_CASES = [  # N, C, H, W, pads, stride
    (1, 3, 8, 8, (1, 1, 1, 1), 1), (2, 5, 9, 17, (1, 1, 1, 1), 1), (1, 4, 12, 40, (1, 1, 1, 1), 1),
    (1, 4, 12, 40, (1, 1, 1, 1), 2), (1, 3, 11, 37, (1, 1, 1, 1), 2), (1, 2, 7, 56, (0, 0, 1, 1), 2),
    (1, 2, 5, 33, (0, 0, 0, 0), 1), (1, 2, 6, 21, (2, 2, 2, 2), 1), (1, 2, 2, 2, (1, 1, 1, 1), 2),
    (1, 2, 1, 1, (1, 1, 1, 1), 1), (1, 1, 9, 70, (1, 0, 1, 2), 2),
    # border columns as vectors over padded copies: widths around the vector length, wide pads
    (1, 3, 7, 7, (1, 1, 1, 1), 1), (1, 2, 14, 14, (1, 1, 1, 1), 2), (1, 2, 5, 4, (1, 1, 1, 1), 1),
    (1, 2, 6, 9, (2, 3, 2, 3), 2), (1, 2, 4, 14, (0, 3, 0, 3), 1), (1, 2, 3, 5, (1, 1, 1, 1), 2),
    (1, 2, 5, 6, (1, 5, 1, 4), 1), (1, 1, 4, 30, (1, 6, 1, 1), 2),
    # rows wider than the zero row (padded top / bottom passes) and than a padded chunk (several chunks)
    (1, 2, 4, 300, (1, 1, 1, 1), 1), (1, 2, 5, 301, (1, 1, 1, 1), 2), (1, 1, 3, 290, (2, 2, 2, 2), 1),
    (1, 1, 4, 270, (0, 3, 1, 0), 2),
]


@covers("dwconv2d")
@pytest.mark.parametrize("case", range(len(DW_CASES)))
def test_dwconv2d(name, case):
    N, C, H, W, pads, s = DW_CASES[case]
    run_conv(name, (N, C, H, W, C, 3, 3, pads, (s, s), (1, 1), C, case % 2 == 0, case % 7))


@covers("dwconv2d")
@pytest.mark.parametrize("s", [1, 2])
def test_dwconv2d_edges(name, s):
    """Every width 1..17 and height 1..9 (vector lengths, in-place interior vs padded borders, the one- and
    two-row passes), cycling through pads (symmetric 1 takes the shifted-zero border vectors), bias and
    every act code."""
    pads = [(1, 1, 1, 1), (0, 0, 0, 0), (2, 1, 0, 2), (0, 1, 1, 0), (1, 2, 2, 1), (3, 3, 3, 3)]
    sizes = [(1 + i % 9, w) for i, w in enumerate(range(1, 18))] + [(h, 5 + 3 * h) for h in range(1, 10)]
    for i, (H, W) in enumerate(sizes):
        pt, pl, pb, pr = pads[i % len(pads)]
        if H + pt + pb < 3 or W + pl + pr < 3:
            pt, pl, pb, pr = 1, 1, 1, 1
        run_conv(name, (1, 2, H, W, 2, 3, 3, (pt, pl, pb, pr), (s, s), (1, 1), 2, i % 2 == 0, i % 7))


@pytest.mark.parametrize("act", list(ACTS))
def test_conv_paths_activations(act):
    """Every act code on every conv path: direct, im2col, Winograd, depthwise, 1x1 as gemm (with and without bias)."""
    for dt in FLOATS:
        run_conv(f"{dt}_conv2d", (1, 3, 6, 21, 5, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, True, 0), act)
        run_conv(f"{dt}_conv2d_im2col", (1, 16, 6, 21, 5, 3, 3, (1, 1, 1, 1), (2, 2), (1, 1), 1, True, 0), act)
        run_conv(f"{dt}_conv2d_im2col_packed", (1, 16, 6, 21, 5, 3, 3, (1, 1, 1, 1), (2, 2), (1, 1), 1, True, 0), act)
        run_conv(f"{dt}_conv2d_im2col_packed", (1, 9, 5, 5, 6, 1, 1, (0, 0, 0, 0), (1, 1), (1, 1), 1, True, 0), act)
        run_conv(f"{dt}_conv2d_im2col_packed", (1, 9, 3, 3, 7, 1, 1, (0, 0, 0, 0), (1, 1), (1, 1), 1, False, 0), act)
        run_conv(f"{dt}_dwconv2d", (1, 3, 6, 21, 3, 3, 3, (1, 1, 1, 1), (2, 2), (1, 1), 3, True, 0), act)
        run_conv(f"{dt}_conv2d_winograd", (1, 5, 7, 21, 6, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, True, 0), act)
        run_conv(f"{dt}_conv2d_winograd4", (1, 5, 7, 21, 6, 3, 3, (1, 1, 1, 1), (1, 1), (1, 1), 1, True, 0), act)
        run_conv(f"{dt}_gemm", (2, 7, 5, 13, 6, 1, 1, (0, 0, 0, 0), (1, 1), (1, 1), 1, True, 0), act)
        run_conv(f"{dt}_gemm", (1, 9, 3, 3, 17, 1, 1, (0, 0, 0, 0), (1, 1), (1, 1), 1, False, 0), act)


# ---- pools ----------------------------------------------------------------------------------------------


def pool_windows(H, W, OH, OW, KH, KW, pt, pl, sh, sw, dh=1, dw=1):
    for oh in range(OH):
        for ow in range(OW):
            rows = [oh * sh - pt + i * dh for i in range(KH)]
            cols = [ow * sw - pl + j * dw for j in range(KW)]
            yield oh, ow, rows, cols


# H, W, KH, KW, pt, pl, pb, pr, sh, sw, dh, dw
POOL_CASES = [
    (8, 8, 2, 2, 0, 0, 0, 0, 2, 2, 1, 1),
    (9, 17, 3, 3, 1, 1, 1, 1, 2, 2, 1, 1),
    (7, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),  # stride 1: SIMD rows
    (10, 11, 3, 3, 2, 2, 2, 2, 1, 1, 2, 2),  # dilation 2
    (5, 6, 3, 2, 0, 1, 2, 1, 2, 1, 1, 1),  # asymmetric pads
    (1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1),
    (6, 33, 2, 5, 1, 2, 0, 2, 1, 1, 1, 1),
    (5, 71, 3, 3, 1, 1, 1, 1, 2, 2, 1, 1),  # stride 2, wide rows: even-lane SIMD loads (i8: 16 lanes)
    (4, 40, 2, 2, 0, 0, 0, 0, 2, 2, 1, 1),
    (3, 38, 1, 3, 0, 0, 0, 0, 1, 2, 1, 2),  # stride 2 and dilation 2 along the width
]


@covers("maxpool2d")
@pytest.mark.parametrize("case", range(len(POOL_CASES)))
def test_maxpool2d(name, case):
    dt = split(name)[0]
    H, W, KH, KW, pt, pl, pb, pr, sh, sw, dh, dw = POOL_CASES[case]
    OH = (H + pt + pb - dh * (KH - 1) - 1) // sh + 1
    OW = (W + pl + pr - dw * (KW - 1) - 1) // sw + 1
    NC = 3
    x = rand(dt, (NC, H, W), np.random.default_rng(case))
    ints = [NC, H, W, OH, OW, KH, KW, pt, pl, sh, sw, dh, dw]
    got = kh.run(name, [x], [((NC, OH, OW), dt)], ints)[0]
    ref = np.empty((NC, OH, OW), npdt(dt))
    for oh, ow, rows, cols in pool_windows(H, W, OH, OW, KH, KW, pt, pl, sh, sw, dh, dw):
        r = [i for i in rows if 0 <= i < H]
        c = [j for j in cols if 0 <= j < W]
        ref[:, oh, ow] = x[:, r][:, :, c].reshape(NC, -1).max(axis=1)
    np.testing.assert_array_equal(got, ref)


def pool_out(n: int, k: int, s: int, p: int, ceil: int) -> int:
    """ONNX's pooled size; with ceil_mode a last window starting in the end padding is dropped."""
    o = -(-(n + 2 * p - k) // s) + 1 if ceil else (n + 2 * p - k) // s + 1
    return o - 1 if ceil and (o - 1) * s >= n + p else o


def maxpool_ref(x, OH, OW, KH, KW, pt, pl, sh, sw, dh=1, dw=1):
    NC, H, W = x.shape
    ref = np.empty((NC, OH, OW), x.dtype)
    for oh, ow, rows, cols in pool_windows(H, W, OH, OW, KH, KW, pt, pl, sh, sw, dh, dw):
        r = [i for i in rows if 0 <= i < H]
        c = [j for j in cols if 0 <= j < W]
        ref[:, oh, ow] = x[:, r][:, :, c].reshape(NC, -1).max(axis=1)
    return ref


@covers("maxpool2d")
@pytest.mark.parametrize("ceil", [0, 1])
def test_maxpool2d_edges(name, ceil):
    """The separable path over every width 1..17 and height 1..9 (vector lengths up to i8's 16 lanes, the
    overlapping last vector), windows 1..4 (2 and 3 unrolled), strides 1 and 2, pads, ceil_mode (the last
    window hangs over the end: ONNX's rule drops one that starts in the end padding)."""
    dt = split(name)[0]
    rng = np.random.default_rng(ceil)
    sizes = [(1 + i % 9, w) for i, w in enumerate(range(1, 18))] + [(h, 9 + 5 * h) for h in range(1, 10)]
    sizes += [(3, 600), (4, 517)]  # several row-buffer chunks of 256 output columns
    for i, (H, W) in enumerate(sizes):
        K, s, p = 1 + i % 4, 1 + (i // 2) % 2, i % 3 // 2 if i % 4 else 0
        K, p = min(K, H + 2 * p, W + 2 * p), min(p, K - 1)
        OH, OW = pool_out(H, K, s, p, ceil), pool_out(W, K, s, p, ceil)
        x = rand(dt, (3, H, W), rng)
        got = kh.run(name, [x], [((3, OH, OW), dt)], [3, H, W, OH, OW, K, K, p, p, s, s, 1, 1])[0]
        np.testing.assert_array_equal(got, maxpool_ref(x, OH, OW, K, K, p, p, s, s), err_msg=f"{name} {H}x{W} K{K} s{s} p{p}")


@covers("avgpool2d")
@pytest.mark.parametrize("case", range(len(POOL_CASES)))
@pytest.mark.parametrize("cip", [0, 1])
def test_avgpool2d(name, case, cip):
    dt = split(name)[0]
    H, W, KH, KW, pt, pl, pb, pr, sh, sw, _, _ = POOL_CASES[case]
    extra = case % 2  # ceil_mode-like: one more output row/col than the padded input holds
    OH = (H + pt + pb - KH) // sh + 1 + extra
    OW = (W + pl + pr - KW) // sw + 1 + extra
    NC = 2
    x = rand(dt, (NC, H, W), np.random.default_rng(case))
    ints = [NC, H, W, OH, OW, KH, KW, pt, pl, pb, pr, sh, sw, cip]
    got = kh.run(name, [x], [((NC, OH, OW), dt)], ints)[0]
    ref = np.zeros((NC, OH, OW))
    for oh, ow, rows, cols in pool_windows(H, W, OH, OW, KH, KW, pt, pl, sh, sw):
        r = [i for i in rows if 0 <= i < H]
        c = [j for j in cols if 0 <= j < W]
        if cip:
            count = len([i for i in rows if -pt <= i < H + pb]) * len([j for j in cols if -pl <= j < W + pr])
        else:
            count = len(r) * len(c)
        ref[:, oh, ow] = x[:, r][:, :, c].astype(np.float64).reshape(NC, -1).sum(axis=1) / count if count else 0
    rtol = 1e-6 if dt == "f32" else 1e-14
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol)


# ---- softmax --------------------------------------------------------------------------------------------


@covers("softmax", "logsoftmax")
def test_softmax(name):
    dt, op = split(name)
    L = lanes(dt)
    rng = np.random.default_rng(11)
    shapes = [(1, 1, 1), (2, 5, 1), (3, L - 1, 1), (2, 4 * L + 1, 1), (2, 4, 3), (2, 5, L), (1, 3, 2 * L + 1),
              (3, 1, 5), (1, 1000, 1)]
    for shape in shapes:
        for scale, shift in ((1, 0), (1000, 1e4)):  # large values: only the max subtraction saves them
            x = (rand(dt, shape, rng) * scale + shift).astype(npdt(dt))
            x64 = x.astype(np.float64)
            z = x64 - x64.max(axis=1, keepdims=True)
            lse = np.log(np.exp(z).sum(axis=1, keepdims=True))
            ref = z - lse if op == "logsoftmax" else np.exp(z - lse)
            tol = 2e-6 if dt == "f32" else 1e-13
            for alias in (None, {0: 0}):
                got = kh.run(name, [x], [(shape, dt)], list(shape), alias=alias)[0]
                atol = tol * np.maximum(1, np.abs(ref).max())
                np.testing.assert_allclose(got, ref, rtol=tol * 5, atol=atol, err_msg=f"{shape} x{scale}")


# ---- errors ---------------------------------------------------------------------------------------------


def test_bad_nd_fails_with_message():
    a = np.ones(4, np.float32)
    with pytest.raises(kh.KernelFailed) as e:
        kh.run("f32_add", [a, a], [((4,), "f32")], [7, *[1] * 21])
    assert e.value.status == 1 and "f32_add" in e.value.message and "nd" in e.value.message


@pytest.mark.parametrize("name,ints,expect", [
    ("f32_gemm", [2, 2, 2, 0, 0, 0, 0, 0, 0, 1, 0, 0, 7, 0, 0], "act"),
    ("f32_gemm", [-1, 2, 2, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], ">= 0"),
    ("f32_gemm_packed_b", [2, 2, 2, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], "alpha must be 1"),
    ("f32_gemm_packed_b", [2, 2, 0, 0, 0, 0x3F800000, 0, 0, 0, 1, 0, 0, 0, 0, 0], "K >= 1"),
    ("f64_gemm_pack_b", [2, 2, 2, 0, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], "trans_b"),
    ("f32_gemv_packed_b", [4, 2, 2, 0, 0, 0x3F800000, 0, 0, 0, 1, 0, 0, 0, 0, 0], "M must be in 0..3"),
    ("f32_gemv_packed_b", [2, 2, 2, 1, 0, 0x3F800000, 0, 0, 0, 1, 0, 0, 0, 0, 0], "trans_a"),
    ("f64_gemv_packed_b", [1, 2, 2, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], "alpha must be 1"),
    ("f32_gemv_packed_b", [1, 2, 2, 0, 0, 0x3F800000, 0, 0, 0, 1, 0, 0, 7, 0, 0], "act"),
    ("f32_gemv_pack_b", [1, 2, 2, 0, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], "trans_b"),
    ("f32_conv2d", [1, 3, 4, 4, 4, 4, 4, 1, 1, 2, 0, 0, 1, 1, 1, 1, 0, 0, 0], "group"),
    ("f32_conv2d", [1, 4, 4, 4, 4, 4, 4, 1, 1, 2, 0, 0, 1, 1, 1, 1, -1, 0, 0], "act"),
    ("f32_conv2d_im2col", [1, 3, 4, 4, 4, 4, 4, 1, 1, 2, 0, 0, 1, 1, 1, 1, 0, 0, 0], "group"),
    ("f32_conv2d_im2col_packed", [1, 3, 4, 4, 4, 4, 4, 1, 1, 2, 0, 0, 1, 1, 1, 1, 0, 0, 0], "group"),
    ("f64_conv2d_pack_weights", [1, 4, 4, 4, 4, 4, 4, 1, 1, 2, 0, 0, 0, 1, 1, 1, 0, 0, 0], "strides"),
    ("f32_dwconv2d", [1, 4, 4, 4, 4, 4, 4, 3, 3, 4, 0, 0, 3, 3, 1, 1, 0, 0, 0], "strides"),
    ("f32_conv2d_winograd", [1, 4, 4, 4, 4, 4, 4, 3, 3, 1, 0, 0, 2, 2, 1, 1, 0, 0, 0], "3x3"),
    ("f64_conv2d_winograd_weights", [1, 4, 4, 4, 4, 4, 4, 3, 3, 2, 0, 0, 1, 1, 1, 1, 0, 0, 0], "3x3"),
    ("f32_conv2d_winograd4", [1, 4, 4, 4, 4, 4, 4, 3, 3, 1, 0, 0, 1, 1, 2, 1, 0, 0, 0], "3x3"),
    ("f32_dwconv2d", [1, 4, 4, 4, 4, 4, 4, 5, 5, 4, 0, 0, 1, 1, 1, 1, 0, 0, 0], "depthwise 3x3"),
    ("i8_argmax", [1, 0, 1, 0], "n"),
    ("f32_relu", [4, 5], "wrong number of ints"),
])
def test_bad_params(name, ints, expect):
    x = np.zeros(64, npdt(split(name)[0]))
    n_tensors = {"gemm": 4, "gemm_packed_b": 4, "gemv_packed_b": 4, "conv2d": 4, "dwconv2d": 4, "conv2d_im2col": 5, "conv2d_im2col_packed": 4,
                 "conv2d_winograd": 5, "conv2d_winograd4": 5}.get(split(name)[1], 2)
    with pytest.raises(kh.KernelFailed) as e:
        kh.run(name, [x] * (n_tensors - 1), [((4,), "i64")], ints)
    assert expect in e.value.message and split(name)[1] in e.value.message


def test_unknown_opcode_and_status_index():
    inst = kh.get_instance(0)
    mem = np.frombuffer(inst.buffer(), dtype=np.int32)
    base = (inst.heap_base + 63) // 64 * 64
    words = [inst.opcodes["u8_copy"], 2, 1, base + 256, base + 512, 0, 9999, 0, 0]
    mem[base // 4: base // 4 + len(words)] = words
    assert inst.run(inst.store, int(base), 2) == 2  # the second step failed
    assert "unknown opcode" in inst.error_text()


def test_every_kernel_is_tested():
    assert set(ABI) <= TESTED_OPS  # families in other test files check their own
