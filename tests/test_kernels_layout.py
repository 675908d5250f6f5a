"""The layout / data-movement kernels (kernels/include/mg_layout.def) against numpy, at SIMD and tile edge sizes."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kernel_harness as kh

NAMES = kh.kernel_names()
SIZES = ("u8", "u16", "u32", "u64")
NUM = ("f32", "f64", "i8", "u8", "i16", "i32", "i64")
# ABI.md's "Layout and data movement" table: op -> dtypes (element sizes for the size-generic kernels)
ABI = {
    **{op: SIZES for op in ("copy_nd", "fill", "pad", "trilu", "gather", "gather_elements", "gather_nd",
                            "resize_nearest")},
    **{op: NUM for op in ("scatter_elements", "scatter_nd", "onehot", "range")},
    "resize_linear": ("f32", "f64"),
}
UINT = {"u8": np.uint8, "u16": np.uint16, "u32": np.uint32, "u64": np.uint64}
TESTED = set()


def test_kernel_list_has_the_layout_table():
    expected = {f"{dt}_{op}" for op, dts in ABI.items() for dt in dts}
    assert expected <= set(NAMES)
    ours = {n for n in NAMES if n.split("_", 1)[1] in ABI}
    assert ours == expected


def covers(op: str, dts=None):
    TESTED.add(op)
    return pytest.mark.parametrize("dt", dts or ABI[op])


def rand(dt: str, shape, rng) -> np.ndarray:
    t = np.dtype(UINT.get(dt) or kh.DTYPES[dt])
    if t.kind == "f":
        return (rng.standard_normal(shape) * 4).astype(t)
    info = np.iinfo(t)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=t)


def strides(shape) -> list[int]:
    return [s // 1 for s in np.zeros(shape, np.int8).strides] if shape else []


# ---- copy_nd ---------------------------------------------------------------------------------------------
def copy_nd(dt, x: np.ndarray, view: np.ndarray, offset: int = 0) -> np.ndarray:
    """Copies the numpy view `view` of x (its strides in elements) into a contiguous array."""
    item = x.itemsize
    dims = list(view.shape)
    xs = [s // item for s in view.strides]
    start = (view.__array_interface__["data"][0] - x.__array_interface__["data"][0]) // item
    ys = [s // item for s in np.zeros(dims, x.dtype).strides]
    # the harness passes x at its start; fold the view's start in by shifting x
    src = x.reshape(-1)[start:] if start >= 0 else None
    assert src is not None
    return kh.run(f"{dt}_copy_nd", [src], [(dims, x.dtype)], [len(dims), *dims, *xs, *ys])[0]


TRANSPOSES = [((1,), (0,)), ((5, 7), (1, 0)), ((16, 16), (1, 0)), ((17, 33), (1, 0)), ((3, 4, 5), (0, 2, 1)),
              ((2, 3, 4, 5), (0, 2, 3, 1)), ((2, 3, 4, 5), (3, 1, 0, 2)), ((2, 1, 3, 2, 2, 3), (5, 4, 3, 2, 1, 0)),
              ((4, 31), (1, 0)), ((64, 3), (1, 0))]


@covers("copy_nd")
def test_copy_nd_transpose(dt, rng):
    for shape, perm in TRANSPOSES:
        x = rand(dt, shape, rng)
        view = x.transpose(perm)
        xs = [x.strides[p] // x.itemsize for p in perm]
        dims = list(view.shape)
        ys = [s // x.itemsize for s in np.zeros(dims, x.dtype).strides]
        # the kernel's tiled path needs the x-contiguous dim right before the y-contiguous one: try both orders
        for order in (list(range(len(dims))), [k for k in range(len(dims)) if xs[k] != 1] + [k for k in range(len(dims)) if xs[k] == 1]):
            if len(order) > 1 and order[-1] != len(dims) - 1:
                order = [k for k in order if k != len(dims) - 1] + [len(dims) - 1]
            got = kh.run(f"{dt}_copy_nd", [x], [(dims, x.dtype)],
                         [len(dims), *[dims[k] for k in order], *[xs[k] for k in order], *[ys[k] for k in order]])[0]
            np.testing.assert_array_equal(got, view)


@covers("copy_nd")
def test_copy_nd_slices_broadcast(dt, rng):
    x = rand(dt, (6, 9), rng)
    for view in (x[1:5, 2:8], x[1::2, ::3], x[:, 3:4]):
        np.testing.assert_array_equal(copy_nd(dt, x, view), view)
    # negative strides read below the start address: the source starts at the view's first element
    rev = x[::-1, ::-2]
    got = kh.run(f"{dt}_copy_nd", [x], [((6, 5), x.dtype)], [2, 6, 5, 9, 2, 5, 1])[0]
    np.testing.assert_array_equal(got[::-1, ::-1], rev)
    # stride 0 (Expand), and a strided destination (Concat into the middle of a larger output)
    row = rand(dt, (7,), rng)
    got = kh.run(f"{dt}_copy_nd", [row], [((3, 7), row.dtype)], [2, 3, 7, 0, 1, 7, 1])[0]
    np.testing.assert_array_equal(got, np.broadcast_to(row, (3, 7)))
    out = kh.run(f"{dt}_copy_nd", [row], [((7, 2), row.dtype)], [1, 7, 1, 2])[0]
    np.testing.assert_array_equal(out[:, 0], row)


@covers("copy_nd", ("u32",))
def test_copy_nd_rejects_bad_ints(dt):
    with pytest.raises(kh.KernelFailed, match="nd must be in 1..6"):
        kh.run("u32_copy_nd", [np.zeros(1, np.uint32)], [((1,), np.uint32)], [7] + [1] * 21)
    with pytest.raises(kh.KernelFailed, match="dims must be >= 0"):
        kh.run("u32_copy_nd", [np.zeros(1, np.uint32)], [((1,), np.uint32)], [1, -1, 1, 1])


# ---- fill / pad / trilu --------------------------------------------------------------------------------------
def bits(v: np.ndarray) -> list[int]:
    raw = np.zeros(8, np.uint8)
    raw[:v.itemsize] = np.frombuffer(v.tobytes(), np.uint8)
    return [int(b) for b in raw.view(np.int32)]


@covers("fill")
def test_fill(dt, rng):
    for n in (0, 1, 3, 15, 16, 17, 33):
        v = rand(dt, (1,), rng)
        got = kh.run(f"{dt}_fill", [], [((max(n, 1),), v.dtype)], [n, *bits(v)])[0]
        if n:
            np.testing.assert_array_equal(got, np.full(n, v[0]))


PADS = [((5,), [2], [3]), ((3, 4), [1, 0], [0, 2]), ((2, 3, 4), [0, 2, 1], [1, 1, 3]), ((4, 5), [-1, 2], [1, -2]),
        ((2, 3), [5, 7], [6, 8]), ((1, 1, 2, 3, 1, 2), [0, 1, 1, 0, 2, 1], [1, 0, 2, 1, 0, 1])]


@covers("pad")
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad(dt, mode, rng):
    for shape, b, e in PADS:
        if mode == "reflect" and any(max(bb, ee) >= d for d, bb, ee in zip(shape, b, e)) and dt != "u8":
            pass  # numpy's reflect handles repeats as we do; tested for all dtypes below anyway
        x = rand(dt, shape, rng)
        v = rand(dt, (1,), rng)
        crop = tuple(slice(max(-bb, 0), d - max(-ee, 0)) for d, bb, ee in zip(shape, b, e))
        pw = [(max(bb, 0), max(ee, 0)) for bb, ee in zip(b, e)]
        xc = x[crop]
        if mode == "constant":
            want = np.pad(xc, pw, mode="constant", constant_values=v[0])
        else:
            want = np.pad(xc, pw, mode={"reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode])
            if mode != "edge" and any(bb < 0 or ee < 0 for bb, ee in zip(b, e)):
                continue  # numpy reflects/wraps the cropped array; ONNX (and we) the input
        out = [d + bb + ee for d, bb, ee in zip(shape, b, e)]
        fill = 6 - len(shape)
        got = kh.run(f"{dt}_pad", [x], [(out, x.dtype)],
                     [["constant", "reflect", "edge", "wrap"].index(mode), len(shape), *bits(v),
                      *shape, *[1] * fill, *out, *[1] * fill, *b, *[0] * fill])[0]
        np.testing.assert_array_equal(got, want, err_msg=f"{shape} {b} {e}")


@covers("trilu")
def test_trilu(dt, rng):
    for shape in ((1, 1), (3, 5), (5, 3), (2, 4, 4), (17, 17)):
        x = rand(dt, shape, rng)
        for k in (-7, -1, 0, 1, 2, 9):
            for upper in (0, 1):
                want = np.triu(x, k) if upper else np.tril(x, k)
                batch = int(np.prod(shape[:-2]))
                got = kh.run(f"{dt}_trilu", [x], [(shape, x.dtype)], [batch, *shape[-2:], k, upper])[0]
                np.testing.assert_array_equal(got, want)
                got = kh.run(f"{dt}_trilu", [x], [(shape, x.dtype)], [batch, *shape[-2:], k, upper], alias={0: 0})[0]
                np.testing.assert_array_equal(got, want)


# ---- gathers -------------------------------------------------------------------------------------------------
@covers("gather")
@pytest.mark.parametrize("idt", [np.int32, np.int64])
def test_gather(dt, idt, rng):
    for shape, axis, ishape in (((5,), 0, (3,)), ((4, 6), 1, (2, 2)), ((3, 4, 5), 1, (7,)), ((2, 9, 1), 0, ())):
        x = rand(dt, shape, rng)
        ind = rng.integers(-shape[axis], shape[axis], size=ishape).astype(idt)
        want = np.take(x, ind, axis=axis)
        outer, inner = int(np.prod(shape[:axis])), int(np.prod(shape[axis + 1:]))
        got = kh.run(f"{dt}_gather", [x, ind], [(want.shape or (1,), x.dtype)],
                     [outer, shape[axis], inner, ind.size, int(idt == np.int64)])[0]
        np.testing.assert_array_equal(got.reshape(want.shape), want)
    with pytest.raises(kh.KernelFailed, match="index out of range"):
        kh.run(f"{dt}_gather", [x, np.array([9], idt)], [((1,), x.dtype)], [1, 2, 1, 1, int(idt == np.int64)])


def elements_ints(x_shape, i_shape, axis, is64):
    pad = 6 - len(x_shape)
    return [len(x_shape), axis, is64, x_shape[axis], *i_shape, *[1] * pad, *strides_el(x_shape), *[0] * pad]


def strides_el(shape):
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return out[::-1]


@covers("gather_elements")
@pytest.mark.parametrize("idt", [np.int32, np.int64])
def test_gather_elements(dt, idt, rng):
    for x_shape, i_shape, axis in (((5,), (7,), 0), ((3, 4), (2, 4), 0), ((3, 4), (3, 9), 1), ((2, 3, 4), (2, 2, 3), 1)):
        x = rand(dt, x_shape, rng)
        ind = rng.integers(-x_shape[axis], x_shape[axis], size=i_shape).astype(idt)
        pos = np.where(ind < 0, ind + x_shape[axis], ind)
        grids = list(np.indices(i_shape))
        grids[axis] = pos
        want = x[tuple(grids)]
        got = kh.run(f"{dt}_gather_elements", [x, ind], [(i_shape, x.dtype)],
                     elements_ints(x_shape, i_shape, axis, int(idt == np.int64)))[0]
        np.testing.assert_array_equal(got, want)


@covers("gather_nd")
@pytest.mark.parametrize("idt", [np.int32, np.int64])
def test_gather_nd(dt, idt, rng):
    for x_shape, i_shape, b in (((4, 5), (3, 2), 0), ((4, 5, 6), (2, 1), 0), ((2, 3, 4), (2, 5, 1), 1), ((2, 3, 4), (2, 2), 1)):
        x = rand(dt, x_shape, rng)
        k = i_shape[-1]
        ind = np.stack([rng.integers(-x_shape[b + j], x_shape[b + j], size=i_shape[:-1]) for j in range(k)], -1).astype(idt)
        B = int(np.prod(x_shape[:b]))
        xb = x.reshape((B,) + x_shape[b:])
        ib = ind.reshape((B, -1, k))
        want = np.stack([np.stack([xb[bb][tuple(ib[bb, n])] for n in range(ib.shape[1])]) for bb in range(B)])
        want = want.reshape(i_shape[:-1] + x_shape[b + k:])
        got = kh.run(f"{dt}_gather_nd", [x, ind], [(want.shape, x.dtype)],
                     [B, ib.shape[1], k, int(np.prod(x_shape[b + k:])), int(idt == np.int64), int(np.prod(x_shape[b:])),
                      *x_shape[b:b + k], *[1] * (6 - k)])[0]
        np.testing.assert_array_equal(got, want)


# ---- scatters ------------------------------------------------------------------------------------------------
def reduce_ref(a, b, red: int, dt: str):
    if red == 0:
        return b
    if red == 3:
        return max(a, b)
    if red == 4:
        return min(a, b)
    with np.errstate(all="ignore"):
        return (a + b) if red == 1 else (a * b)


@covers("scatter_elements")
@pytest.mark.parametrize("red", [0, 1, 2, 3, 4])
def test_scatter_elements(dt, red, rng):
    for x_shape, i_shape, axis in (((7,), (5,), 0), ((3, 4), (2, 4), 0), ((3, 4), (3, 2), 1), ((2, 3, 4), (2, 2, 3), 2)):
        x = rand(dt, x_shape, rng)
        u = rand(dt, i_shape, rng)
        ind = rng.integers(-x_shape[axis], x_shape[axis], size=i_shape).astype(np.int64)
        want = x.copy()
        for pos in np.ndindex(*i_shape):
            tgt = list(pos)
            tgt[axis] = ind[pos] % x_shape[axis]
            want[tuple(tgt)] = reduce_ref(want[tuple(tgt)], u[pos], red, dt)
        ints = [*elements_ints(x_shape, i_shape, axis, 1), red, x.size]
        for alias in (None, {0: 0}):
            got = kh.run(f"{dt}_scatter_elements", [x, ind, u], [(x_shape, x.dtype)], ints, alias=alias)[0]
            np.testing.assert_array_equal(got, want)


@covers("scatter_nd")
@pytest.mark.parametrize("red", [0, 1, 2, 3, 4])
def test_scatter_nd(dt, red, rng):
    for x_shape, n, k in (((8,), 4, 1), ((4, 5), 3, 1), ((4, 5, 3), 5, 2)):
        x = rand(dt, x_shape, rng)
        ind = np.stack([rng.integers(-x_shape[j], x_shape[j], size=n) for j in range(k)], -1).astype(np.int32)
        u = rand(dt, (n,) + x_shape[k:], rng)
        want = x.copy()
        for i in range(n):
            tgt = tuple(int(v) % d for v, d in zip(ind[i], x_shape))
            fn = [lambda a, b: b, np.add, np.multiply, np.maximum, np.minimum][red]
            with np.errstate(all="ignore"):
                want[tgt] = fn(np.asarray(want[tgt]), np.asarray(u[i]))
        for alias in (None, {0: 0}):
            got = kh.run(f"{dt}_scatter_nd", [x, ind, u], [(x_shape, x.dtype)],
                         [n, k, int(np.prod(x_shape[k:])), 0, red, *x_shape[:k], *[1] * (6 - k)], alias=alias)[0]
            np.testing.assert_array_equal(got, want)


# ---- onehot / range ------------------------------------------------------------------------------------------
@covers("onehot")
def test_onehot(dt, rng):
    for ishape, axis, depth in (((5,), 1, 4), ((2, 3), 0, 5), ((2, 3), 1, 3), ((4,), 0, 1)):
        ind = rng.integers(-depth - 1, depth + 1, size=ishape).astype(kh.DTYPES[dt])
        if dt.startswith("u"):
            ind = np.abs(ind).astype(kh.DTYPES[dt])
        for vdt in (np.float32, np.int8, np.int64, np.int16):
            vals = np.array([3, 7], vdt)
            iv = ind.astype(np.int64)
            iv = np.where(iv < 0, iv + depth, iv)
            hot = np.moveaxis(iv[..., None] == np.arange(depth), -1, axis)
            want = np.where(hot, vals[1], vals[0]).astype(vdt)
            got = kh.run(f"{dt}_onehot", [ind, vals], [(want.shape, vdt)],
                         [int(np.prod(ishape[:axis])), depth, int(np.prod(ishape[axis:])), np.dtype(vdt).itemsize])[0]
            np.testing.assert_array_equal(got, want)
    if dt in ("f32", "f64"):  # NaN and inf indices are never hot
        ind = np.array([np.nan, np.inf, -np.inf, 1.7], kh.DTYPES[dt])
        got = kh.run(f"{dt}_onehot", [ind, np.array([0, 1], np.int8)], [((4, 3), np.int8)], [4, 3, 1, 1])[0]
        np.testing.assert_array_equal(got, [[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 1, 0]])


@covers("range")
def test_range(dt):
    t = kh.DTYPES[dt]
    for start, delta, n in ((0, 1, 1), (3, 2, 17), (10, -3, 4), (1, 0, 0)):
        if delta < 0 and dt.startswith("u"):
            continue
        got = kh.run(f"{dt}_range", [np.array(start, t), np.array(delta, t)], [((max(n, 1),), t)], [n])[0]
        if n:
            np.testing.assert_array_equal(got, (np.arange(n) * delta + start).astype(t))
    if dt in ("f32", "f64"):
        got = kh.run(f"{dt}_range", [np.array(0.5, t), np.array(0.25, t)], [((5,), t)], [5])[0]
        np.testing.assert_allclose(got, 0.5 + 0.25 * np.arange(5))


# ---- resize --------------------------------------------------------------------------------------------------
def f64b(x: float) -> list[int]:
    return [int(v) for v in np.array([x], np.float64).view(np.int32)]


def axis_ints(n_in, n_out, scale, roi=(0.0, 1.0)):
    return [n_in, n_out, *f64b(scale), *f64b(roi[0]), *f64b(roi[1])]


@covers("resize_nearest")
def test_resize_nearest(dt, rng):
    x = rand(dt, (2, 3, 4), rng)
    # asymmetric + floor with integer scales is np.repeat
    got = kh.run(f"{dt}_resize_nearest", [x, np.zeros(64, np.int32)], [((2, 6, 12), x.dtype)],
                 [3, 1, 2, 0, 0, *axis_ints(2, 2, 1.0), *axis_ints(3, 6, 2.0), *axis_ints(4, 12, 3.0), *[0] * 24])[0]
    np.testing.assert_array_equal(got, x.repeat(2, 1).repeat(3, 2))
    # half_pixel + round_prefer_floor downsampling by 3/4 on 8 -> 6
    x = rand(dt, (8,), rng)
    src = np.clip(np.floor((np.arange(6) + 0.5) / 0.75 - 0.5 + 0.5 - 1e-12).astype(int), 0, 7)
    got = kh.run(f"{dt}_resize_nearest", [x, np.zeros(16, np.int32)], [((6,), x.dtype)],
                 [1, 0, 0, 0, 0, *axis_ints(8, 6, 0.75), *[0] * 40])[0]
    np.testing.assert_array_equal(got, x[src])


@covers("resize_linear")
def test_resize_linear(dt, rng):
    x = rand(dt, (2, 3, 5), rng)
    B, H, W, OH, OW = 2, 3, 5, 7, 9
    sh, sw = OH / H, OW / W

    def table(n_in, n_out, s):
        c = np.clip((np.arange(n_out) + 0.5) / s - 0.5, 0, n_in - 1)
        i0 = np.floor(c).astype(int)
        return i0, np.minimum(i0 + 1, n_in - 1), c - i0

    h0, h1, wh = table(H, OH, sh)
    w0, w1, ww = table(W, OW, sw)
    rows = x[:, h0] * (1 - wh)[None, :, None] + x[:, h1] * wh[None, :, None]
    want = rows[:, :, w0] * (1 - ww) + rows[:, :, w1] * ww
    got = kh.run(f"{dt}_resize_linear", [x, np.zeros(64, np.int32)], [((B, OH, OW), x.dtype)],
                 [B, H, W, OH, OW, 0, 0, *f64b(sh), *f64b(0), *f64b(1), *f64b(sw), *f64b(0), *f64b(1)])[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_every_op_is_tested():
    # runs last in file order: every op of the table has a test
    assert TESTED == set(ABI), sorted(set(ABI) - TESTED)
