"""The elementwise family's kernels (kernels/binary.c, unary.c, cast.c; ABI.md's elementwise section) against
numpy / mpmath references: every kernel x dtype at sizes 1, odd and SIMD width +-1, broadcasts, in place,
and edge values (NaN, +-inf, -0, subnormals, integer extremes)."""
from __future__ import annotations

import math

import kernel_harness as kh
import mpmath as mp
import numpy as np
import pytest

NAMES = kh.kernel_names()
FLOATS = ("f32", "f64")
INTS = ("i8", "u8", "i16", "i32", "i64")
NUM = FLOATS + INTS
SIGNED = FLOATS + ("i8", "i16", "i32", "i64")
ALL = NUM + ("bool",)

# This family's part of ABI.md: op -> dtypes.
ABI = {
    **{op: NUM for op in ("pow", "fmod", "mod", "min", "max", "greater", "greater_equal", "abs", "sign", "clip")},
    **{op: SIGNED for op in ("prelu", "neg")},
    **{op: INTS for op in ("shl", "shr")},
    **{op: ALL for op in ("equal", "cast")},
    **{op: ("bool",) for op in ("and", "or", "xor", "not")},
    "where": ("u8", "i16", "i32", "i64"),
    **{op: FLOATS for op in ("reciprocal", "sqrt", "exp", "log", "floor", "ceil", "round", "erf", "isnan", "isinf",
                             "act")},
}
ONNX_CODE = {"f32": 1, "u8": 2, "i8": 3, "i16": 5, "i32": 6, "i64": 7, "bool": 9, "f64": 11}
ACT = {"leakyrelu": 0, "elu": 1, "selu": 2, "celu": 3, "hardsigmoid": 4, "hardswish": 5, "softplus": 6,
       "softsign": 7, "gelu": 8, "gelu_tanh": 9, "mish": 10, "thresholdedrelu": 11, "clip": 12, "div": 13}


def npdt(dt: str) -> np.dtype:
    return np.dtype(kh.DTYPES[dt])


def sizes(dt: str) -> list[int]:
    L = 16 // npdt(dt).itemsize
    return sorted({1, 3, 7, L - 1, L, L + 1, 2 * L + 1, 33} - {0})


def rand(dt: str, shape, rng, scale: float = 4.0) -> np.ndarray:
    t = npdt(dt)
    if dt == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if t.kind == "f":
        return (rng.standard_normal(shape) * scale).astype(t)
    info = np.iinfo(t)
    return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(t)


def edge_values(dt: str) -> np.ndarray:
    t = npdt(dt)
    if dt == "bool":
        return np.array([0, 1, 1, 0, 1], bool)
    if t.kind == "f":
        fi = np.finfo(t)
        return np.array([0.0, -0.0, 1, -1, 0.5, -0.5, 1.5, 2.5, -2.5, np.nan, np.inf, -np.inf, fi.max, -fi.max,
                         fi.tiny, fi.smallest_subnormal, -fi.smallest_subnormal, 3e-3, 7.25, -1e4], t)
    info = np.iinfo(t)
    return np.array([0, 1, info.max, info.min, info.max - 1, info.min + 1, 2, 7, info.max // 3], t)


def strides_for(shape: tuple, out: tuple) -> list[int]:
    shape = (1,) * (len(out) - len(shape)) + tuple(shape)
    st, acc = [0] * len(out), 1
    for d in range(len(out) - 1, -1, -1):
        st[d] = 0 if shape[d] == 1 and out[d] != 1 else acc
        acc *= shape[d]
    return st


def run_binary(name: str, a: np.ndarray, b: np.ndarray, out_dt: str | None = None, alias=None) -> np.ndarray:
    out = np.broadcast_shapes(a.shape, b.shape) or (1,)
    ints = [len(out), *out, *strides_for(a.shape, out), *strides_for(b.shape, out)]
    return kh.run(name, [a, b], [(out, out_dt or name.split("_")[0])], ints, alias=alias)[0]


def run_unary(name: str, x: np.ndarray, out_dt: str | None = None, extra=(), alias=None) -> np.ndarray:
    return kh.run(name, [x], [(x.shape, out_dt or name.split("_")[0])], [x.size, *extra], alias=alias)[0]


def kernels(op: str) -> list[str]:
    return [n for n in NAMES if n.split("_", 1)[1] == op]


def test_kernel_list_matches_abi():
    expected = {f"{dt}_{op}" for op, dts in ABI.items() for dt in dts}
    mine = {n for n in NAMES if n.split("_", 1)[1] in ABI}
    assert mine == expected


BROADCASTS = [((), (5,)), ((6,), ()), ((4, 9), (9,)), ((4, 9), (4, 1)), ((5, 1), (1, 7)), ((3, 4, 5), (3, 1, 5)),
              ((2, 1, 2, 1, 3, 5), (1, 2, 1, 2, 3, 1))]


# ---------------------------------------------------------------- integer reference helpers
def wrap(v: int, dt: str) -> int:
    bits = npdt(dt).itemsize * 8
    v %= 1 << bits
    return v - (1 << bits) if npdt(dt).kind == "i" and v >= 1 << (bits - 1) else v


def ipow(x: int, e: int, dt: str) -> int:
    if e < 0:
        return 1 if x == 1 else ((-1 if e % 2 else 1) if x == -1 else 0)
    return wrap(pow(x, e, 1 << (8 * npdt(dt).itemsize)), dt)


def ifmod(x: int, y: int, dt: str) -> int:
    if y == 0:
        return 0
    r = abs(x) % abs(y)
    return wrap(-r if x < 0 else r, dt)


def imod(x: int, y: int, dt: str) -> int:
    return 0 if y == 0 else wrap(x % y, dt)


def shift(x: int, s: int, dt: str, left: bool) -> int:
    bits = npdt(dt).itemsize * 8
    if not 0 <= s < bits:
        return 0 if left or x >= 0 else -1
    return wrap(x << s, dt) if left else x >> s


INT_REF = {"pow": ipow, "fmod": ifmod, "mod": imod, "shl": lambda x, y, d: shift(x, y, d, True),
           "shr": lambda x, y, d: shift(x, y, d, False), "min": lambda x, y, d: min(x, y),
           "max": lambda x, y, d: max(x, y), "prelu": lambda x, s, d: wrap(x * s, d) if x < 0 else x}


def float_ref(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        if op == "pow":
            return np.power(a.astype(np.float64), b.astype(np.float64))
        return {"fmod": np.fmod, "mod": np.mod, "min": np.minimum, "max": np.maximum,
                "prelu": lambda x, s: np.where(x < 0, s * x, x)}[op](a, b)


def reference(op: str, dt: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.broadcast_arrays(a, b)
    if npdt(dt).kind == "f":
        return float_ref(op, a, b)
    return np.array([INT_REF[op](int(x), int(y), dt) for x, y in zip(a.ravel(), b.ravel())],
                    npdt(dt)).reshape(a.shape)


def operands(op: str, dt: str, shape_a, shape_b, rng) -> tuple[np.ndarray, np.ndarray]:
    a, b = rand(dt, shape_a, rng), rand(dt, shape_b, rng)
    if op in ("shl", "shr"):
        b = rng.integers(-2, 8 * npdt(dt).itemsize + 2, size=shape_b).astype(npdt(dt)) if npdt(dt).kind == "i" \
            else rng.integers(0, 8 * npdt(dt).itemsize + 2, size=shape_b).astype(npdt(dt))
    if op == "pow" and npdt(dt).kind == "f":
        b = np.where(rng.random(shape_b) < 0.5, np.round(b), b).astype(npdt(dt))  # integer and fractional
    if op == "pow" and npdt(dt).kind != "f":
        b = rng.integers(-2 if npdt(dt).kind == "i" else 0, 70, size=shape_b).astype(npdt(dt))
    if op in ("fmod", "mod") and npdt(dt).kind != "f":
        b = np.where(rng.random(shape_b) < 0.2, 0, b).astype(npdt(dt))
    return a, b


def check_same(op: str, dt: str, got: np.ndarray, want: np.ndarray, msg: str = "", a=None, b=None) -> None:
    if op == "pow" and npdt(dt).kind == "f":
        # f32: within 2 ulp of a float64 reference. f64 (exp(y log x), log x rounded once): within 1e-14 relative
        # while |y ln x| <= 40, beyond that within |y ln x| * 2.5e-16 (the rounding of y log x, amplified by exp)
        want64 = want
        want = want64.astype(npdt(dt))
        finite = np.isfinite(want) & (want != 0)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=msg)
        np.testing.assert_array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)], err_msg=msg)
        if dt == "f32":
            ulp = np.abs(got[finite].astype(np.float64) - want64[finite]) / np.spacing(np.abs(want[finite]))
            assert ulp.max(initial=0) <= 2, msg
        else:
            with np.errstate(all="ignore"):
                ylx = np.abs(np.broadcast_to(b, want.shape) * np.log(np.abs(np.broadcast_to(a, want.shape))))
            bound = np.fmax(1e-14, ylx * 2.5e-16)[finite]
            rel = np.abs(got[finite] - want64[finite]) / np.abs(want64[finite])
            assert np.all(rel <= bound), (msg, rel.max(initial=0))
        return
    np.testing.assert_array_equal(got, want, err_msg=msg)
    if npdt(dt).kind == "f":
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want), err_msg=msg)


SAME_OPS = ("pow", "fmod", "mod", "min", "max", "prelu", "shl", "shr")


@pytest.mark.parametrize("name", [n for op in SAME_OPS for n in kernels(op)])
def test_binary_sizes_and_broadcasts(name):
    dt, op = name.split("_", 1)
    rng = np.random.default_rng(11)
    cases = [((n,), (n,)) for n in sizes(dt)] + BROADCASTS
    for sa, sb in cases:
        a, b = operands(op, dt, sa, sb, rng)
        want = reference(op, dt, a, b).reshape(np.broadcast_shapes(sa, sb) or (1,))
        check_same(op, dt, run_binary(name, a, b), want, f"{sa} {sb}", a, b)


@pytest.mark.parametrize("name", [n for op in SAME_OPS for n in kernels(op)])
def test_binary_edges_and_in_place(name):
    dt, op = name.split("_", 1)
    e = edge_values(dt)
    a, b = np.repeat(e, len(e)), np.tile(e, len(e))  # every pair of edge values
    if op in ("shl", "shr"):
        b = np.tile(np.array([0, 1, 3, 7, 8 * npdt(dt).itemsize - 1, 8 * npdt(dt).itemsize]
                             + ([-1, -100] if npdt(dt).kind == "i" else [200 % 256]), npdt(dt)), len(e))
        a = np.repeat(e, len(b) // len(e))
    if op == "pow" and npdt(dt).kind == "f":
        e = np.concatenate([e[np.isfinite(e) & (np.abs(e) < 1e3)], [np.nan, np.inf, -np.inf]]).astype(npdt(dt))
        a, b = np.repeat(e, len(e)), np.tile(e, len(e))
    if op == "pow" and npdt(dt).kind != "f":
        b = np.tile(np.array([0, 1, 2, 3, 63, 64] + ([-1, -2] if npdt(dt).kind == "i" else []), npdt(dt)), len(e))
        a = np.repeat(e, len(b) // len(e))
    want = reference(op, dt, a, b)
    check_same(op, dt, run_binary(name, a, b), want, "", a, b)
    check_same(op, dt, run_binary(name, a, b, alias={0: 0}), want, "", a, b)  # Y == A
    check_same(op, dt, run_binary(name, a, b, alias={0: 1}), want, "", a, b)  # Y == B


def test_float_mod_exact_and_signs():
    x = np.array([5.5, -5.5, 5.5, -5.5, 1e30, -1e30, 3.0, -3.0, 0.0, -0.0, 7.0, 1e-300, 2.0**1000], np.float64)
    y = np.array([2.0, 2.0, -2.0, -2.0, 3.0, 7.0, 1.5, 1.5, 2.0, -2.0, np.inf, 3e-310, 3.0], np.float64)
    for dt in FLOATS:
        xs, ys = x.astype(npdt(dt)), y.astype(npdt(dt))
        with np.errstate(all="ignore"):
            for op, ref in (("fmod", np.fmod), ("mod", np.mod)):
                check_same(op, dt, run_binary(f"{dt}_{op}", xs, ys), ref(xs, ys))


# ---------------------------------------------------------------- comparisons, logic
CMP = {"equal": np.equal, "greater": np.greater, "greater_equal": np.greater_equal}


@pytest.mark.parametrize("name", [n for op in CMP for n in kernels(op)])
def test_comparisons(name):
    dt, op = name.split("_", 1)
    rng = np.random.default_rng(5)
    e = edge_values(dt)
    cases = [(rand(dt, n, rng), rand(dt, n, rng)) for n in sizes(dt)]
    cases += [(np.repeat(e, len(e)), np.tile(e, len(e)))]
    cases += [(rand(dt, sa, rng), rand(dt, sb, rng)) for sa, sb in BROADCASTS]
    if dt != "bool":  # ties
        cases += [(a, np.where(rng.random(a.shape) < 0.5, a, b).astype(a.dtype)) for a, b in cases[:4]]
    for a, b in cases:
        want = CMP[op](a, b).reshape(np.broadcast_shapes(a.shape, b.shape) or (1,))
        np.testing.assert_array_equal(run_binary(name, a, b, "bool"), want, err_msg=f"{a.shape} {b.shape}")


@pytest.mark.parametrize("op", ["and", "or", "xor"])
def test_logic(op):
    rng = np.random.default_rng(6)
    fn = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}[op]
    for sa, sb in [((n,), (n,)) for n in sizes("bool")] + BROADCASTS:
        a, b = rand("bool", sa, rng), rand("bool", sb, rng)
        want = fn(a, b).reshape(np.broadcast_shapes(sa, sb) or (1,))
        np.testing.assert_array_equal(run_binary(f"bool_{op}", a, b), want)
        if a.shape == want.shape:
            np.testing.assert_array_equal(run_binary(f"bool_{op}", a, b, alias={0: 0}), want)


# ---------------------------------------------------------------- where
def run_where(name: str, c, x, y, alias=None) -> np.ndarray:
    out = np.broadcast_shapes(c.shape, x.shape, y.shape) or (1,)
    nd = len(out)
    pad = [0] * (6 - nd)
    ints = [nd, *out, *[1] * (6 - nd)]
    for s in (c, x, y):
        ints += [*strides_for(s.shape, out), *pad]
    return kh.run(name, [c, x, y], [(out, x.dtype)], ints, alias=alias)[0]


@pytest.mark.parametrize("dt", ALL)
def test_where(dt):
    rng = np.random.default_rng(7)
    name = {1: "u8", 2: "i16", 4: "i32", 8: "i64"}[npdt(dt).itemsize] + "_where"
    shapes = [((n,), (n,), (n,)) for n in sizes(dt)] + [
        ((17,), (), (17,)), ((17,), (17,), ()), ((), (3, 5), (3, 5)), ((4, 1), (1, 5), (4, 5)),
        ((2, 3, 1, 4), (3, 5, 1), (1,)), ((1, 2, 1, 2, 3, 1), (2, 1, 2, 1, 3, 5), (3, 5))]
    for sc, sx, sy in shapes:
        c, x, y = rand("bool", sc, rng), rand(dt, sx, rng), rand(dt, sy, rng)
        want = np.where(c, x, y).reshape(np.broadcast_shapes(sc, sx, sy) or (1,))
        np.testing.assert_array_equal(run_where(name, c, x.view(npdt(dt)), y), want, err_msg=f"{sc} {sx} {sy}")
        if x.shape == want.shape:
            np.testing.assert_array_equal(run_where(name, c, x, y, alias={0: 1}), want)


# ---------------------------------------------------------------- unary
def unary_ref(op: str, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        if op == "neg":
            return np.negative(x)
        if op == "abs":
            return np.abs(x)
        if op == "sign":
            return np.sign(x)
        if op == "not":
            return ~x
        return {"reciprocal": np.reciprocal, "sqrt": np.sqrt, "floor": np.floor, "ceil": np.ceil,
                "round": np.round}[op](x)


@pytest.mark.parametrize("name", [n for op in ("neg", "abs", "sign", "reciprocal", "sqrt", "floor", "ceil", "round",
                                               "not") for n in kernels(op)])
def test_unary_exact(name):
    dt, op = name.split("_", 1)
    rng = np.random.default_rng(8)
    for x in [rand(dt, n, rng) for n in sizes(dt)] + [edge_values(dt), rand(dt, 1000, rng) * 0.75]:
        x = x.astype(npdt(dt))
        want = unary_ref(op, x)
        got = run_unary(name, x)
        np.testing.assert_array_equal(got, want)
        if npdt(dt).kind == "f":
            np.testing.assert_array_equal(np.signbit(got[~np.isnan(want)]), np.signbit(want[~np.isnan(want)]))
        np.testing.assert_array_equal(run_unary(name, x, alias={0: 0}), want)


def ulps(got: np.ndarray, want64: np.ndarray, dt: str, bound: float | np.ndarray = 2.0) -> float:
    """Checks |got - want| <= bound ulp of the dtype against a float64 (or better) reference and returns the
    largest error in ulp. Results below 64 * tiny (where intermediates run subnormal, with fewer bits) get
    an absolute bound of 64 * tiny * eps instead."""
    want = want64.astype(npdt(dt))
    ok = np.isfinite(want) & np.isfinite(got)
    np.testing.assert_array_equal(got[~ok], want[~ok])
    fi = np.finfo(npdt(dt))
    err = np.abs(got.astype(np.float64) - want64)
    small = ok & (np.abs(want64) < 64 * float(fi.tiny))
    assert np.all(err[small] <= 64 * float(fi.tiny) * float(fi.eps))
    big = ok & ~small
    u = err[big] / np.spacing(np.abs(want[big])).astype(np.float64)
    bound = np.broadcast_to(bound, want.shape)[big]
    assert np.all(u <= bound), f"{u.max(initial=0)} ulp (bound {bound[np.argmax(u)] if u.size else 0})"
    return float(u.max(initial=0))


def mp_map(f, x: np.ndarray) -> np.ndarray:
    with mp.workdps(50):
        return np.array([float(f(mp.mpf(float(v)))) if np.isfinite(v) else np.nan for v in x])


def math_inputs(dt: str, rng) -> list[np.ndarray]:
    return [rand(dt, n, rng) for n in sizes(dt)] + [
        np.concatenate([rng.standard_normal(400) * 6, np.linspace(-30, 30, 241), edge_values(dt)]).astype(npdt(dt))]


@pytest.mark.parametrize("dt", FLOATS)
def test_exp_log_erf_accuracy(dt):
    """f32 within 2 ulp of a float64 reference, f64 within 2 ulp of mpmath (sampled)."""
    rng = np.random.default_rng(9)
    for x in math_inputs(dt, rng):
        xl = np.abs(x) * np.float32(3.7) + np.array(np.finfo(npdt(dt)).smallest_subnormal, npdt(dt))
        pos = np.concatenate([xl, np.array([np.finfo(npdt(dt)).smallest_subnormal, 1e-30, 1.0, 2.0, 1e30], npdt(dt))])
        for op, f64, mpf, arg in (("exp", np.exp, mp.exp, x), ("log", np.log, mp.log, pos),
                                  ("erf", np.vectorize(math.erf), mp.erf, x)):
            arg = arg.astype(npdt(dt))
            got = run_unary(f"{dt}_{op}", arg)
            if dt == "f32":
                with np.errstate(all="ignore"):
                    want = f64(arg.astype(np.float64))
            else:
                want = np.where(np.isfinite(arg), mp_map(mpf, arg), f64(arg))
            ulps(got, want, dt, 2)
    special = np.array([0.0, -0.0, -1.0, np.inf, -np.inf, np.nan], npdt(dt))
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(run_unary(f"{dt}_log", special), np.log(special))
        np.testing.assert_array_equal(run_unary(f"{dt}_exp", special), np.exp(special.astype(np.float64)).astype(npdt(dt)))
        np.testing.assert_array_equal(run_unary(f"{dt}_erf", special),
                                      np.array([0, -0.0, math.erf(-1), 1, -1, np.nan]).astype(npdt(dt)))


@pytest.mark.parametrize("dt", FLOATS)
def test_isnan_isinf(dt):
    rng = np.random.default_rng(10)
    for x in [rand(dt, n, rng) for n in sizes(dt)] + [np.tile(edge_values(dt), 3)]:
        np.testing.assert_array_equal(run_unary(f"{dt}_isnan", x, "bool"), np.isnan(x))
        for pos in (0, 1):
            for neg in (0, 1):
                want = (np.isposinf(x) & bool(pos)) | (np.isneginf(x) & bool(neg))
                np.testing.assert_array_equal(run_unary(f"{dt}_isinf", x, "bool", (pos, neg)), want)
    with pytest.raises(kh.KernelFailed, match="detect flags"):
        run_unary(f"{dt}_isinf", np.zeros(3, npdt(dt)), "bool", (2, 0))


# ---------------------------------------------------------------- activations
def act_ref(kind: str, x: mp.mpf, a: float, b: float) -> mp.mpf:
    a, b = mp.mpf(a), mp.mpf(b)
    return {
        "leakyrelu": lambda: x if x >= 0 else a * x,
        "elu": lambda: x if x >= 0 else a * mp.expm1(x),
        "selu": lambda: b * (x if x > 0 else a * mp.expm1(x)),
        "celu": lambda: x if x > 0 else a * mp.expm1(x / a),
        "hardsigmoid": lambda: max(0, min(1, a * x + b)),
        "hardswish": lambda: x * max(0, min(1, x / 6 + mp.mpf(0.5))),
        "softplus": lambda: mp.log1p(mp.exp(x)),
        "softsign": lambda: x / (1 + abs(x)),
        "gelu": lambda: x / 2 * mp.erfc(-x / mp.sqrt(2)),
        "gelu_tanh": lambda: x * mp.mpf(1) / (1 + mp.exp(-2 * mp.sqrt(2 / mp.pi) * (x + mp.mpf(0.044715) * x ** 3))),
        "mish": lambda: x * mp.tanh(mp.log1p(mp.exp(x))),
        "thresholdedrelu": lambda: x if x > a else 0,
        "clip": lambda: min(max(x, a), b),
        "div": lambda: x / a,
    }[kind]()


ACT_PARAMS = {"leakyrelu": (0.1, 0.0), "elu": (1.0, 0.0), "selu": (1.67326319217681884765625, 1.05070102214813232421875),
              "celu": (1.5, 0.0), "hardsigmoid": (0.2, 0.5), "hardswish": (0.0, 0.0), "softplus": (0.0, 0.0),
              "softsign": (0.0, 0.0), "gelu": (0.0, 0.0), "gelu_tanh": (0.0, 0.0), "mish": (0.0, 0.0),
              "thresholdedrelu": (1.0, 0.0), "clip": (-0.75, 2.5), "div": (3.0, 0.0)}
# max error in ulp of the result against mpmath (hardsigmoid / hardswish: a x + b cancels, so their bound is in
# ulp of the larger term instead)
ACT_ULP = {"selu": 3, "celu": 3, "softplus": 3, "softsign": 2, "mish": 4, "gelu": 5}


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("kind", list(ACT))
def test_act(kind, dt):
    rng = np.random.default_rng(12)
    a, b = (float(np.float32(v)) for v in ACT_PARAMS[kind])
    xs = [rand(dt, n, rng) for n in sizes(dt)] + [np.concatenate(
        [rng.standard_normal(150) * 5, np.linspace(-40, 40, 81), rng.standard_normal(20) * 1e-6, [0.0, -0.0]]
    ).astype(npdt(dt))]
    for x in xs:
        got = kh.run(f"{dt}_act", [x], [(x.shape, dt)], [x.size, ACT[kind], kh.f32_bits(a), kh.f32_bits(b)])[0]
        with mp.workdps(60):
            want = np.array([float(act_ref(kind, mp.mpf(float(v)), a, b)) for v in x])
        if kind in ("hardsigmoid", "hardswish"):
            scale = np.abs(x.astype(np.float64)) * (a if kind == "hardsigmoid" else 1 / 6) + 0.5
            scale *= np.abs(x) if kind == "hardswish" else 1
            assert np.all(np.abs(got - want) <= 2 * np.finfo(npdt(dt)).eps * np.maximum(scale, np.abs(want))), kind
        elif kind == "gelu_tanh":
            # x sigmoid(w), w = 2v = 2k(x + 0.044715 x^3) rounded in 4 operations (<= ~2.5 ulp of w): in the tail
            # sigmoid(w) ~ e^w turns that into a relative error of up to 2.5 |w| ulp
            w = 2 * 0.7978845608028654 * (x + 0.044715 * x.astype(np.float64) ** 3)
            ulps(got, want, dt, 4 + 3 * np.abs(w))
        else:
            ulps(got, want, dt, ACT_ULP.get(kind, 1))
    special = np.array([np.nan, np.inf, -np.inf], npdt(dt))
    got = kh.run(f"{dt}_act", [special], [((3,), dt)], [3, ACT[kind], kh.f32_bits(a), kh.f32_bits(b)])[0]
    assert np.isnan(got[0]) != (kind == "thresholdedrelu"), kind  # NaN passes (ThresholdedRelu: NaN > alpha fails)


def test_act_rejects_unknown_kind():
    with pytest.raises(kh.KernelFailed, match="unknown activation kind"):
        kh.run("f32_act", [np.zeros(3, np.float32)], [((3,), "f32")], [3, 99, 0, 0])


# ---------------------------------------------------------------- clip
@pytest.mark.parametrize("name", kernels("clip"))
def test_clip(name):
    dt = name.split("_")[0]
    rng = np.random.default_rng(13)
    lo, hi = np.array(rand(dt, (), rng)), np.array(rand(dt, (), rng))
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    for x in [rand(dt, n, rng) for n in sizes(dt)] + [edge_values(dt)]:
        for mn, mx in ((lo, hi), (lo, None), (None, hi), (None, None), (hi, lo)):  # (hi, lo): min > max gives max
            want = x.copy()
            if mn is not None:
                want = np.where(want < mn, mn, want)
            if mx is not None:
                want = np.where(want > mx, mx, want)
            got = kh.run(name, [x, mn, mx], [(x.shape, dt)], [x.size])[0]
            np.testing.assert_array_equal(got, want.astype(x.dtype))


# ---------------------------------------------------------------- cast
def cast_ref(x: np.ndarray, to: str) -> np.ndarray:
    t = npdt(to)
    if to == "bool" or t.kind == "f" or x.dtype.kind != "f":
        with np.errstate(all="ignore"):
            return x.astype(t) if to != "bool" else x != 0
    # float -> int: truncate into int32 (int64 for i64), NaN and out of range -> that type's minimum, then wrap
    bits = 64 if to == "i64" else 32
    out = [int(v) if -(2.0 ** (bits - 1)) - 1 < v < 2.0 ** (bits - 1) else -(2 ** (bits - 1))
           for v in x.astype(np.float64)]
    return np.array([wrap(v, to) for v in out], t).reshape(x.shape)


@pytest.mark.parametrize("src", ALL)
def test_cast(src):
    rng = np.random.default_rng(14)
    for x in [rand(src, n, rng) for n in (1, 7, 17)] + [edge_values(src),
                                                       rand(src, 50, rng, 1e3) if src in FLOATS else rand(src, 50, rng)]:
        for to, code in ONNX_CODE.items():
            if x.dtype.kind == "f" and to in ("f32",) and src == "f64":
                pass  # rounding to nearest: numpy's astype
            got = kh.run(f"{src}_cast", [x], [(x.shape, to)], [x.size, code])[0]
            np.testing.assert_array_equal(got, cast_ref(x, to), err_msg=f"{src} -> {to}")
    with pytest.raises(kh.KernelFailed, match="unsupported target dtype code"):
        kh.run(f"{src}_cast", [np.zeros(2, npdt(src))], [((2,), src)], [2, 8])


def test_checks_reject_bad_ints():
    a = np.zeros(3, np.float32)
    with pytest.raises(kh.KernelFailed, match="f32_pow: nd must be in 1..6"):
        kh.run("f32_pow", [a, a], [((3,), "f32")], [7, *[1] * 21])
    with pytest.raises(kh.KernelFailed, match="f32_exp: n must be >= 0"):
        kh.run("f32_exp", [a], [((3,), "f32")], [-1])
    with pytest.raises(kh.KernelFailed, match="i32_where: dims must be >= 0"):
        kh.run("i32_where", [a.astype(bool), a, a], [((3,), "f32")], [1, -3, *[1] * 5, *[0] * 18])
