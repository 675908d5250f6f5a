"""Elementwise ops end to end (binary with broadcasting, comparisons, logic, Where, variadic, unary math,
activations, Clip, Cast/CastLike): ONNX models written with onnx.helper, run by msgraph.InferenceSession and
compared with onnxruntime (numpy where onnxruntime lacks the opset), across the opsets that change attributes
or inputs."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from conftest import ort_run
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

import msgraph
from msgraph.errors import UnsupportedOpError

ONNX_TYPE = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE, np.int8: TensorProto.INT8,
             np.uint8: TensorProto.UINT8, np.int16: TensorProto.INT16, np.int32: TensorProto.INT32,
             np.int64: TensorProto.INT64, np.bool_: TensorProto.BOOL, np.uint16: TensorProto.UINT16}
NUMERIC = [np.float32, np.float64, np.int8, np.uint8, np.int16, np.int32, np.int64]


def node_model(op, inputs: dict, opset: int, consts: dict | None = None, n_out: int = 1, order=None, **attrs):
    """One `op` node over graph inputs `inputs` and initializers `consts` (name -> array), in `order`."""
    consts = consts or {}
    names = order or list(inputs) + list(consts)
    outs = [f"y{k}" for k in range(n_out)]
    node = helper.make_node(op, names, outs, name="n", **attrs)
    vi = [helper.make_tensor_value_info(k, ONNX_TYPE[v.dtype.type], list(v.shape)) for k, v in inputs.items()]
    g = helper.make_graph([node], "g", vi, [helper.make_empty_tensor_value_info(o) for o in outs],
                          [numpy_helper.from_array(v, k) for k, v in consts.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m, strict_mode=True)


def reference(m, feeds) -> list:
    """onnxruntime, or onnx's reference evaluator for what onnxruntime has no kernel for (int8 Add, Min...)."""
    try:
        return ort_run(m, feeds)
    except (ort_errors.NotImplemented, ort_errors.InvalidGraph):
        return ReferenceEvaluator(m).run(None, feeds)


def check(m, feeds, rtol=1e-6, atol=0.0, want=None):
    got = msgraph.InferenceSession(m).run(None, feeds)
    want = reference(m, feeds) if want is None else want
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        if g.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(g, w)
    return got


def rand(dtype, shape, rng, lo=-50, hi=50):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return np.asarray(rng.integers(0, 2, shape)).astype(bool)
    if dtype.kind == "f":
        return np.asarray(rng.standard_normal(shape) * 3).astype(dtype)
    info = np.iinfo(dtype)
    return np.asarray(rng.integers(max(lo, info.min), min(hi, info.max), shape, endpoint=True)).astype(dtype)


SHAPES = [((3, 4, 5), (3, 4, 5)), ((3, 4, 5), (5,)), ((3, 1, 5), (1, 4, 1)), ((), (2, 3)), ((2, 1, 3, 1, 2, 1, 3), (2, 2, 1, 2, 1, 3, 1))]


# ---------------------------------------------------------------- binary
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Min", "Max"])
@pytest.mark.parametrize("dtype", NUMERIC)
def test_arith_minmax(op, dtype, rng):
    for sa, sb in SHAPES:
        a, b = rand(dtype, sa, rng), rand(dtype, sb, rng)
        if op == "Div" and np.dtype(dtype).kind != "f":
            b = np.where(b == 0, 3, b).astype(dtype)
        check(node_model(op, {"a": a, "b": b}, 13), {"a": a, "b": b})


@pytest.mark.parametrize("op", ["Add", "Mul", "Pow", "Equal", "Greater", "Less", "And", "Xor"])
def test_legacy_broadcast_attr(op, rng):
    """Opsets 1-6: B broadcast only with broadcast=1, aligned at `axis` (numpy reference)."""
    logic = op in ("And", "Xor")
    dtype = np.bool_ if logic else np.float32
    a, b = rand(dtype, (2, 3, 4), rng), rand(dtype, (3,), rng)
    opset = 1 if op in ("Equal", "Greater", "Less", "And", "Xor") else 6
    if op == "Pow":
        a = np.abs(a) + 0.5
    m = node_model(op, {"a": a, "b": b}, opset, broadcast=1, axis=1)
    bb = b.reshape(1, 3, 1)
    ref = {"Add": np.add, "Mul": np.multiply, "Pow": np.power, "Equal": np.equal, "Greater": np.greater,
           "Less": np.less, "And": np.logical_and, "Xor": np.logical_xor}[op](a, bb)
    check(m, {"a": a, "b": b}, rtol=1e-6, want=[ref])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("opset", [7, 12, 15])
def test_pow_same_types(dtype, opset, rng):
    a = rand(dtype, (3, 4), rng, -4, 4)
    b = rand(dtype, (4,), rng, 0, 5)
    if np.dtype(dtype).kind == "f":
        a = np.abs(a)
    check(node_model("Pow", {"a": a, "b": b}, opset), {"a": a, "b": b}, rtol=2e-6)


@pytest.mark.parametrize("xt,yt", [(np.float32, np.int32), (np.float32, np.int64), (np.float64, np.float32),
                                   (np.int32, np.float32), (np.int64, np.float32), (np.int32, np.int64),
                                   (np.int64, np.int8), (np.float32, np.uint8)])
def test_pow_mixed_types(xt, yt, rng):
    x = rand(xt, (2, 3, 4), rng, -5, 5)
    y = rand(yt, (3, 1), rng, 0, 4)
    if np.dtype(yt).kind == "f":
        y = np.round(np.abs(y)).astype(yt)  # integer-valued: onnxruntime's int ** float is pow() then truncation
    check(node_model("Pow", {"x": x, "y": y}, 15), {"x": x, "y": y}, rtol=2e-6)


def test_pow_constant_two_is_a_mul(rng):
    x = rand(np.float32, (3, 5), rng)
    m = node_model("Pow", {"x": x}, 15, consts={"e": np.array(2.0, np.float32)})
    plan = msgraph.InferenceSession(m).plan({"x": x})
    assert [s.kernel for s in plan.steps] == ["f32_mul"]
    check(m, {"x": x})


# onnxruntime rejects fmod=0 for floats: that case is test_float_mod_python_rule, against numpy
@pytest.mark.parametrize("dtype,fmod", [(d, f) for d in NUMERIC for f in (0, 1) if f or np.dtype(d).kind != "f"])
def test_mod(dtype, fmod, rng):
    a, b = rand(dtype, (4, 6), rng), rand(dtype, (6,), rng, -9, 9)
    b = np.where(b == 0, 7, b).astype(dtype)
    check(node_model("Mod", {"a": a, "b": b}, 13, fmod=fmod), {"a": a, "b": b})


def test_float_mod_python_rule(rng):
    a = np.array([5.5, -5.5, 5.5, -5.5, 0.0, -0.0, 3.0], np.float32)
    b = np.array([2.0, 2.0, -2.0, -2.0, -3.0, 3.0, 1.5], np.float32)
    got = check(node_model("Mod", {"a": a, "b": b}, 13, fmod=0), {"a": a, "b": b}, want=[np.mod(a, b)])[0]
    np.testing.assert_array_equal(np.signbit(got), np.signbit(np.mod(a, b)))


@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int32, np.int64])
def test_bitshift(direction, dtype, rng):
    x = rand(dtype, (3, 7), rng, -100, 100)
    s = rng.integers(0, 8 if dtype in (np.uint8, np.int8) else 20, (7,)).astype(dtype)
    m = node_model("BitShift", {"x": x, "s": s}, 11, direction=direction)
    if dtype == np.uint8:
        check(m, {"x": x, "s": s})
    else:  # signed BitShift is newer than onnxruntime's kernels: numpy (wrapping left shift)
        u = np.dtype(f"u{np.dtype(dtype).itemsize}")
        want = (x.view(u) << s.astype(u)).view(dtype) if direction == "LEFT" else x >> s
        check(m, {"x": x, "s": s}, want=[want])


# ---------------------------------------------------------------- comparisons, logic, where
@pytest.mark.parametrize("op,dtype", [(op, d) for op in ("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual")
                                       for d in NUMERIC + [np.bool_] if d != np.bool_ or op == "Equal"])
def test_comparisons(op, dtype, rng):  # ONNX defines bool comparisons for Equal only
    opset = 16 if "Or" in op else 13
    for sa, sb in SHAPES:
        a, b = rand(dtype, sa, rng, -3, 3), rand(dtype, sb, rng, -3, 3)
        if np.dtype(dtype).kind == "f":
            a, b = np.asarray(np.round(a)), np.asarray(np.round(b))  # ties
            if a.size > 2:
                a.flat[1] = np.nan
        check(node_model(op, {"a": a, "b": b}, opset), {"a": a, "b": b})


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
def test_logic(op, rng):
    for sa, sb in SHAPES:
        a, b = rand(np.bool_, sa, rng), rand(np.bool_, sb, rng)
        check(node_model(op, {"a": a, "b": b}, 7), {"a": a, "b": b})


def test_not(rng):
    x = rand(np.bool_, (3, 17), rng)
    check(node_model("Not", {"x": x}, 1), {"x": x})


@pytest.mark.parametrize("dtype", NUMERIC + [np.bool_])
@pytest.mark.parametrize("opset", [9, 16])
def test_where(dtype, opset, rng):
    for sc, sx, sy in [((4, 5), (4, 5), (4, 5)), ((4, 5), (), (5,)), ((3, 1, 5), (1, 4, 1), (5,)),
                       ((1,), (2, 3), (2, 1)), ((2, 1, 2, 1, 2, 1, 3), (2, 2, 1, 2, 1, 3, 1), ())]:
        c, x, y = rand(np.bool_, sc, rng), rand(dtype, sx, rng), rand(dtype, sy, rng)
        check(node_model("Where", {"c": c, "x": x, "y": y}, opset), {"c": c, "x": x, "y": y})


# ---------------------------------------------------------------- variadic
@pytest.mark.parametrize("op", ["Sum", "Mean", "Max", "Min"])
@pytest.mark.parametrize("opset", [6, 8, 13])
def test_variadic(op, opset, rng):
    dtypes = [np.float32, np.float64] + ([np.int32, np.uint8] if op in ("Max", "Min") and opset >= 12 else [])
    for dtype in dtypes:
        for shapes in [[(3, 4)], [(3, 4), (3, 4)], [(3, 4), (3, 4), (3, 4), (3, 4)],
                       *([[(3, 1), (4,), (2, 1, 1)], [(5,), (2, 5), (), (2, 1)]] if opset >= 8 else [])]:
            feeds = {f"x{k}": rand(dtype, s, rng) for k, s in enumerate(shapes)}
            arrays = np.broadcast_arrays(*feeds.values())
            fn = {"Sum": np.sum, "Mean": np.mean, "Max": np.max, "Min": np.min}[op]
            want = fn(np.stack(arrays), axis=0).astype(dtype)  # (onnxruntime lacks some of these)
            check(node_model(op, feeds, opset), feeds, rtol=1e-6, want=[want])


def test_sum_is_not_in_place_with_a_later_input(rng):
    """The accumulating chain must not write a buffer a later input still needs."""
    a, b, c = (rand(np.float32, (4, 8), rng) for _ in range(3))
    nodes = [helper.make_node("Relu", ["c"], ["rc"], name="r"), helper.make_node("Sum", ["a", "b", "rc"], ["y"], name="s")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, [4, 8]) for n in "abc"],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    check(m, {"a": a, "b": b, "c": c})


# ---------------------------------------------------------------- unary
@pytest.mark.parametrize("op,dtypes", [
    ("Neg", [np.float32, np.float64, np.int8, np.int16, np.int32, np.int64]),
    ("Abs", NUMERIC), ("Sign", NUMERIC),
    *((op, [np.float32, np.float64]) for op in ("Reciprocal", "Sqrt", "Exp", "Log", "Floor", "Ceil", "Round", "Erf",
                                               "Relu", "Sigmoid", "Tanh"))])
@pytest.mark.parametrize("opset", [6, 13])
def test_unary(op, dtypes, opset, rng):
    if opset < 11 and op in ("Round", "Erf", "Sign"):
        opset = 13
    for dtype in dtypes:
        if opset < 13 and np.dtype(dtype).kind != "f" and op in ("Sign",):
            continue
        x = rand(dtype, (3, 4, 5), rng)
        if np.dtype(dtype).kind == "f":
            x.flat[:6] = [0.5, 1.5, 2.5, -0.5, -2.5, 0.0]  # Round: half to even
            if op in ("Sqrt", "Log"):
                x = np.abs(x) + np.array(0.01, dtype)
        want = None
        if op in ("Sigmoid", "Tanh"):  # onnxruntime's are approximations (~3e-5): float64 numpy
            x64 = x.astype(np.float64)
            want = [(1 / (1 + np.exp(-x64)) if op == "Sigmoid" else np.tanh(x64)).astype(dtype)]
        check(node_model(op, {"x": x}, opset), {"x": x}, rtol=2e-6, want=want)


def test_isnan_isinf(rng):
    x = np.array([1.0, np.nan, np.inf, -np.inf, 0.0, -2.5, np.nan], np.float32)
    check(node_model("IsNaN", {"x": x}, 13), {"x": x})
    for attrs in ({}, {"detect_positive": 0}, {"detect_negative": 0}):
        check(node_model("IsInf", {"x": x.astype(np.float64)}, 10, **attrs), {"x": x.astype(np.float64)})


def test_unary_chain_in_place(rng):
    x = np.abs(rand(np.float32, (64,), rng)) + np.float32(0.1)
    nodes = [helper.make_node("Log", ["x"], ["a"], name="l"), helper.make_node("Neg", ["a"], ["b"], name="n"),
             helper.make_node("Exp", ["b"], ["c"], name="e"), helper.make_node("Erf", ["c"], ["y"], name="f")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    check(m, {"x": x}, rtol=2e-6)


# ---------------------------------------------------------------- activations
ACTS = [("LeakyRelu", [6, 16], {"alpha": 0.2}), ("Elu", [6, 22], {"alpha": 0.7}), ("Selu", [6, 22], {"alpha": 1.5, "gamma": 1.1}),
        ("Celu", [12], {"alpha": 1.3}), ("HardSigmoid", [6, 22], {"alpha": 0.3, "beta": 0.4}), ("HardSwish", [14, 22], {}),
        ("Softplus", [1, 22], {}), ("Softsign", [1, 22], {}), ("Mish", [18, 22], {}), ("ThresholdedRelu", [10, 22], {"alpha": 0.5}),
        ("Gelu", [20], {}), ("Gelu", [20], {"approximate": "tanh"})]


@pytest.mark.parametrize("op,opsets,attrs", ACTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations(op, opsets, attrs, dtype, rng):
    x = np.concatenate([rand(dtype, (60,), rng), np.linspace(-12, 12, 49)]).astype(dtype)
    for opset in opsets:
        for a in (attrs, {}):
            check(node_model(op, {"x": x}, opset, **a), {"x": x}, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opset", [7, 9, 16])
def test_prelu(opset, rng):
    x = rand(np.float32, (2, 3, 4, 5), rng)
    for slope_shape in [(3, 1, 1), (5,), (1,), (2, 3, 4, 5)]:
        s = rand(np.float32, slope_shape, rng)
        check(node_model("PRelu", {"x": x, "s": s}, opset), {"x": x, "s": s})
    if opset >= 9:
        xi, si = rand(np.int32, (3, 4), rng), rand(np.int32, (4,), rng)
        check(node_model("PRelu", {"x": xi, "s": si}, opset), {"x": xi, "s": si})


def test_clip_attributes_opset6(rng):
    x = rand(np.float32, (3, 7), rng)
    for attrs in ({"min": -1.0, "max": 2.0}, {"min": 0.5}, {"max": -0.25}, {}, {"min": 2.0, "max": 1.0}):
        want = np.minimum(np.maximum(x, attrs.get("min", -np.inf)), attrs.get("max", np.inf))
        check(node_model("Clip", {"x": x}, 6, **attrs), {"x": x}, want=[want])


@pytest.mark.parametrize("dtype", NUMERIC)
def test_clip_inputs(dtype, rng):
    opset = 11 if np.dtype(dtype).kind == "f" else 13
    x = rand(dtype, (3, 7), rng)
    lo, hi = np.array(-10 if np.dtype(dtype).kind != "u" else 5, dtype), np.array(20, dtype)
    for order, consts in ((["x", "lo", "hi"], {"lo": lo, "hi": hi}), (["x", "lo"], {"lo": lo}),
                          (["x", "", "hi"], {"hi": hi}), (["x"], {}), (["x", "lo", "hi"], {"lo": hi, "hi": lo})):
        check(node_model("Clip", {"x": x}, opset, consts, order=order), {"x": x})


def test_clip_bounds_as_graph_inputs(rng):
    x, lo, hi = rand(np.float32, (4, 5), rng), np.array(-1.0, np.float32), np.array(1.5, np.float32)
    check(node_model("Clip", {"x": x, "lo": lo, "hi": hi}, 13), {"x": x, "lo": lo, "hi": hi})


# ---------------------------------------------------------------- Cast, CastLike
CAST_TYPES = [np.float32, np.float64, np.int8, np.uint8, np.int16, np.int32, np.int64, np.bool_]


@pytest.mark.parametrize("src", CAST_TYPES)
@pytest.mark.parametrize("opset", [6, 13, 19])
def test_cast(src, opset, rng):
    x = rand(src, (3, 9), rng, -100, 100)
    if np.dtype(src).kind == "f":
        x = np.concatenate([x.ravel(), [0.0, -0.0, 0.5, -0.5, 1.9, -1.9, 127.0, -128.0]]).astype(src)
    for to in CAST_TYPES:
        m = node_model("Cast", {"x": x}, opset, to=ONNX_TYPE[to])
        check(m, {"x": x})


def test_cast_opset1_type_name(rng):
    x = rand(np.float32, (5,), rng)
    g = helper.make_graph([helper.make_node("Cast", ["x"], ["y"], name="c", to="INT32")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5])],
                          [helper.make_tensor_value_info("y", TensorProto.INT32, [5])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 1)])
    m.ir_version = 8
    check(m, {"x": x}, want=[x.astype(np.int32)])


def test_castlike(rng):
    x = rand(np.float64, (3, 4), rng)
    for like in CAST_TYPES:
        t = np.zeros((0,), like)
        check(node_model("CastLike", {"x": x, "t": t}, 15), {"x": x, "t": t})


def test_unsupported_types_are_clean_errors(rng):
    x = rand(np.float32, (3,), rng)
    with pytest.raises(UnsupportedOpError, match="cast to STRING"):
        msgraph.InferenceSession(node_model("Cast", {"x": x}, 13, to=TensorProto.STRING))
    u = np.arange(3, dtype=np.uint16)
    with pytest.raises(UnsupportedOpError, match="u16 not supported"):
        msgraph.InferenceSession(node_model("Add", {"a": u, "b": u}, 14))
    with pytest.raises(UnsupportedOpError, match="u16 not supported"):
        msgraph.InferenceSession(node_model("Where", {"c": np.ones(3, bool), "a": u, "b": u}, 16))


def test_compare_where_cast_graph(rng):
    """A mixed graph: Less (bool) -> Where -> Cast -> Mul, bool and int tensors planned in one arena."""
    x, y = rand(np.float32, (4, 6), rng), rand(np.float32, (6,), rng)
    nodes = [helper.make_node("Less", ["x", "y"], ["m"], name="lt"),
             helper.make_node("Where", ["m", "x", "y"], ["w"], name="wh"),
             helper.make_node("Cast", ["w"], ["i"], name="c", to=TensorProto.INT32),
             helper.make_node("Cast", ["m"], ["mi"], name="c2", to=TensorProto.INT32),
             helper.make_node("Mul", ["i", "mi"], ["z"], name="mul"),
             helper.make_node("Not", ["m"], ["nm"], name="not")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 6]),
                                       helper.make_tensor_value_info("y", TensorProto.FLOAT, [6])],
                          [helper.make_tensor_value_info("z", TensorProto.INT32, [4, 6]),
                           helper.make_tensor_value_info("nm", TensorProto.BOOL, [4, 6])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    check(m, {"x": x, "y": y})
