"""Tests of ONNX export: each DSL op exported, checked and run by onnxruntime against numpy written here;
opset-dependent attribute write-back; the MLP and LeNet-5 models against a numpy forward pass."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from msgraph import dsl
from msgraph.dtypes import F32
from msgraph.errors import GraphError, UnsupportedOpError
from msgraph.ir import Graph, Node, TensorType, Value
from msgraph.onnx_export import to_onnx

ort.set_default_logger_severity(3)
MODELS = Path(__file__).resolve().parent.parent / "models"
RNG = np.random.default_rng(42)


def run(graph: Graph, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    model = to_onnx(graph)
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version <= 10 and model.opset_import[0].version == graph.opset
    return ORT(model).run(None, feeds)


def ORT(model: onnx.ModelProto) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def one_op(fn, *inputs: np.ndarray, opset: int = 17) -> np.ndarray:
    """Builds fn(*input tensors) as a one-output graph, runs it in onnxruntime."""
    b = dsl.GraphBuilder("t", opset)
    ts = [b.input(f"in{i}", a.dtype, a.shape) for i, a in enumerate(inputs)]
    b.output(fn(*ts), "out")
    g = b.build()
    (out,) = run(g, {f"in{i}": a for i, a in enumerate(inputs)})
    assert out.dtype == g.type("out").dtype.np and out.shape == g.type("out").shape
    return out


def randn(*shape, dtype=np.float32) -> np.ndarray:
    return RNG.standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- numpy references
def np_softmax(x, axis):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def np_conv2d(x, w, b, stride, pads, dil, groups):
    """pads: (top, left, bottom, right)."""
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    n, _, h, wd = x.shape
    m, cg, kh, kw = w.shape
    oh, ow = (h - (kh - 1) * dil[0] - 1) // stride[0] + 1, (wd - (kw - 1) * dil[1] - 1) // stride[1] + 1
    out = np.zeros((n, m, oh, ow))
    mg = m // groups
    for g in range(groups):
        xs = x[:, g * cg:(g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dil[0]:i * dil[0] + stride[0] * (oh - 1) + 1:stride[0],
                           j * dil[1]:j * dil[1] + stride[1] * (ow - 1) + 1:stride[1]]
                wg = w[g * mg:(g + 1) * mg, :, i, j]
                out[:, g * mg:(g + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, wg)
    return out + (0 if b is None else b.reshape(1, -1, 1, 1))


def np_pool(x, k, stride, pads, kind, ceil=False, count_pad=False):
    """Max or average pooling over NCHW, pads (top, left, bottom, right); windows clipped like ONNX."""
    n, c, h, w = x.shape
    size = []
    for dim, kk, s, pb, pe in ((h, k[0], stride[0], pads[0], pads[2]),
                               (w, k[1], stride[1], pads[1], pads[3])):
        span = dim + pb + pe - kk
        o = (-(-span // s) if ceil else span // s) + 1
        if ceil and (o - 1) * s >= dim + pb:
            o -= 1
        size.append(o)
    out = np.zeros((n, c, *size))
    for oi in range(size[0]):
        for oj in range(size[1]):
            r0, c0 = oi * stride[0] - pads[0], oj * stride[1] - pads[1]
            rs, cs = slice(max(r0, 0), min(r0 + k[0], h)), slice(max(c0, 0), min(c0 + k[1], w))
            win = x[:, :, rs, cs].astype(np.float64)
            if kind == "max":
                out[:, :, oi, oj] = win.max((2, 3))
            else:
                if count_pad:
                    rows = min(r0 + k[0], h + pads[2]) - max(r0, -pads[0])
                    cols = min(c0 + k[1], w + pads[3]) - max(c0, -pads[1])
                    count = rows * cols
                else:
                    count = win.shape[2] * win.shape[3]
                out[:, :, oi, oj] = win.sum((2, 3)) / count
    return out


# ---------------------------------------------------------------- ops
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.uint8, np.int16, np.int32, np.int64])
def test_binary_ops_broadcast(dtype):
    a = (RNG.integers(1, 9, (2, 3, 4))).astype(dtype)
    c = (RNG.integers(1, 9, (3, 1))).astype(dtype)
    out = one_op(lambda x, y: (x + y) * x - y, a, c)
    np.testing.assert_array_equal(out, ((a + c) * a - c).astype(dtype))
    if np.dtype(dtype).kind == "f":
        np.testing.assert_allclose(one_op(lambda x, y: x / y - 2.0 / x, a, c), a / c - 2.0 / a, rtol=1e-6)


def test_overloads_with_constants():
    a = randn(2, 3)
    k = np.array([1.5, -2.0, 0.25], np.float32)
    out = one_op(lambda x: -(1.0 - x) * 2 + k / (x * x + 1) - np.float64(3.0), a)
    np.testing.assert_allclose(out, -(1 - a) * 2 + k / (a * a + 1) - 3, rtol=1e-6)


@pytest.mark.parametrize("name,ref", [("relu", lambda x: np.maximum(x, 0)), ("tanh", np.tanh),
                                      ("sigmoid", lambda x: 1 / (1 + np.exp(-x))), ("identity", lambda x: x)])
def test_unary(name, ref):
    x = randn(3, 5)
    np.testing.assert_allclose(one_op(getattr(dsl, name), x), ref(x.astype(np.float64)), rtol=1e-5, atol=1e-7)


def test_relu_int8():
    x = np.arange(-128, 128, dtype=np.int8).reshape(16, 16)
    np.testing.assert_array_equal(one_op(dsl.relu, x), np.maximum(x, 0))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_and_log_softmax(axis):
    x = randn(2, 3, 4)
    np.testing.assert_allclose(one_op(lambda t: dsl.softmax(t, axis), x), np_softmax(x, axis), rtol=1e-5)
    np.testing.assert_allclose(one_op(lambda t: dsl.log_softmax(t, axis), x), np.log(np_softmax(x, axis)),
                               rtol=1e-5, atol=1e-6)
    # the same single-axis softmax at opset 11, where ONNX's Softmax coerces to 2-D: exported via Transpose
    out = one_op(lambda t: dsl.softmax(t, axis), x, opset=11)
    np.testing.assert_allclose(out, np_softmax(x, axis), rtol=1e-5)


def _softmax_graph(opset: int, coerce: int, axis: int, op: str = "Softmax") -> Graph:
    t = TensorType(F32, (2, 3, 4))
    node = Node(op, ("x",), ("y",), {"axis": axis, "coerce_2d": coerce}, "sm")
    return Graph((node,), {"x": Value("x", t), "y": Value("y", t)}, ("x",), ("y",), "sm", opset).validate()


@pytest.mark.parametrize("opset", [11, 17])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_softmax_coerce_2d_at_every_opset(opset, axis):
    x = randn(2, 3, 4)
    flat = x.reshape(int(np.prod(x.shape[:axis])), -1)
    expect = np_softmax(flat, 1).reshape(x.shape)
    (out,) = run(_softmax_graph(opset, 1, axis), {"x": x})
    np.testing.assert_allclose(out, expect, rtol=1e-5)
    (out,) = run(_softmax_graph(opset, 1, axis, "LogSoftmax"), {"x": x})
    np.testing.assert_allclose(out, np.log(expect), rtol=1e-5, atol=1e-6)
    (out,) = run(_softmax_graph(opset, 0, axis), {"x": x})
    np.testing.assert_allclose(out, np_softmax(x, axis), rtol=1e-5)


def test_matmul_and_gemm():
    a, b = randn(2, 1, 3, 4), randn(5, 4, 6)
    np.testing.assert_allclose(one_op(dsl.matmul, a, b), np.matmul(a, b), rtol=1e-5, atol=1e-6)
    v = randn(4)
    np.testing.assert_allclose(one_op(dsl.matmul, v, b), v @ b, rtol=1e-5, atol=1e-6)
    x, w, c = randn(4, 3), randn(5, 4), randn(1, 5)
    out = one_op(lambda x, w, c: dsl.gemm(x, w, c, alpha=0.5, beta=2.0, trans_a=True, trans_b=True), x, w, c)
    np.testing.assert_allclose(out, 0.5 * x.T @ w.T + 2 * c, rtol=1e-5, atol=1e-6)
    xx = randn(3, 4)
    for opset in (9, 17):  # no C: before opset 11 a zero C is written
        out = one_op(lambda x, w: dsl.gemm(x, w, trans_b=True), xx, w, opset=opset)
        np.testing.assert_allclose(out, xx @ w.T, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("stride,padding,dilation,groups,pads", [
    (1, 0, 1, 1, (0, 0, 0, 0)), (2, 1, 1, 1, (1, 1, 1, 1)), (1, (1, 2), 2, 2, (1, 2, 1, 2)),
    ((2, 1), (0, 1, 2, 0), 1, 4, (0, 2, 1, 0)), (2, "same", 1, 1, (1, 0, 1, 0)),
    (1, "valid", (1, 2), 1, (0, 0, 0, 0))])
def test_conv2d(stride, padding, dilation, groups, pads):
    """pads: the expected (top, left, bottom, right); "same", stride 2, 7x8 input, 3x2 kernel: H by 1+1."""
    x, w = randn(2, 4, 7, 8), randn(8, 4 // groups, 3, 2)
    bias = randn(w.shape[0])
    out = one_op(lambda x, w, b: dsl.conv2d(x, w, b, stride, padding, dilation, groups), x, w, bias)
    s, d = dsl._pair(stride, ""), dsl._pair(dilation, "")
    np.testing.assert_allclose(out, np_conv2d(x, w, bias, s, pads, d, groups), rtol=1e-4, atol=1e-5)


def test_conv2d_same_padding_is_same_upper():
    x, w = randn(1, 1, 7, 8), randn(1, 1, 4, 4)
    out = one_op(lambda x, w: dsl.conv2d(x, w, padding="same", stride=2), x, w)
    # H: out 4, total pad (4-1)*2+4-7 = 3 -> top 1, bottom 2; W: out 4, total 2 -> 1, 1
    ref = np_conv2d(x, w, None, (2, 2), (1, 1, 2, 1), (1, 1), 1)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("k,stride,padding,ceil,count_pad,pads", [
    (2, None, 0, False, False, (0, 0, 0, 0)), (3, 2, 1, False, False, (1, 1, 1, 1)),
    ((3, 2), (2, 1), (1, 0, 1, 1), False, True, (1, 1, 0, 1)), (2, 2, 0, True, False, (0, 0, 0, 0)),
    (3, 2, 1, True, True, (1, 1, 1, 1))])
def test_pools(kind, k, stride, padding, ceil, count_pad, pads):
    x = randn(2, 3, 7, 6)
    if kind == "max":
        out = one_op(lambda t: dsl.max_pool2d(t, k, stride, padding, ceil_mode=ceil), x)
    else:
        out = one_op(lambda t: dsl.avg_pool2d(t, k, stride, padding, ceil, count_pad), x)
    kk = dsl._pair(k, "")
    ref = np_pool(x, kk, dsl._pair(stride or k, ""), pads, kind, ceil, count_pad)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_max_pool_int8_and_dilation():
    x = RNG.integers(-128, 128, (1, 2, 6, 6)).astype(np.int8)
    out = one_op(lambda t: dsl.max_pool2d(t, 2, 2), x)
    np.testing.assert_array_equal(out, x.reshape(1, 2, 3, 2, 3, 2).max((3, 5)))
    y = randn(1, 1, 5, 5)
    out = one_op(lambda t: dsl.max_pool2d(t, 2, 1, dilation=2), y)
    ref = np.max([y[:, :, i:i + 3, j:j + 3] for i in (0, 2) for j in (0, 2)], axis=0)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("opset", [11, 17])
def test_shape_ops(opset):
    x = randn(2, 1, 3, 4)
    out = one_op(lambda t: dsl.reshape(t, (0, -1, 2)), x, opset=opset)
    np.testing.assert_array_equal(out, x.reshape(2, 6, 2))
    np.testing.assert_array_equal(one_op(lambda t: dsl.flatten(t, 2), x, opset=opset), x.reshape(2, 12))
    np.testing.assert_array_equal(one_op(lambda t: dsl.squeeze(t, [1]), x, opset=opset), x[:, 0])
    np.testing.assert_array_equal(one_op(dsl.squeeze, x, opset=opset), x[:, 0])
    out = one_op(lambda t: dsl.unsqueeze(t, [0, 5]), x, opset=opset)
    np.testing.assert_array_equal(out, x[None, ..., None])


def test_shape_attrs_written_as_inputs_and_back():
    """IR nodes may hold Reshape's shape / Unsqueeze's axes as attributes at any opset, inputs at old ones."""
    t = TensorType(F32, (2, 3))
    shape = Value.constant("s", np.array([3, 2], np.int64))
    for opset in (11, 17):
        nodes = (Node("Reshape", ("x",), ("r",), {"shape": (3, 2)}, "r"),
                 Node("Unsqueeze", ("r",), ("u",), {"axes": (0,)}, "u"),
                 Node("Reshape", ("u", "s"), ("y",), {}, "y"))
        values = {"x": Value("x", t), "r": Value("r", TensorType(F32, (3, 2))), "s": shape,
                  "u": Value("u", TensorType(F32, (1, 3, 2))), "y": Value("y", TensorType(F32, (3, 2)))}
        g = Graph(nodes, values, ("x",), ("y", "u"), "g", opset).validate()
        x = randn(2, 3)
        y, u = run(g, {"x": x})
        np.testing.assert_array_equal(y, x.reshape(3, 2))
        np.testing.assert_array_equal(u, x.reshape(1, 3, 2))
    g4 = Graph(nodes, values, ("x",), ("y",), "g", 4)
    model = to_onnx(g4)
    onnx.checker.check_model(model, full_check=True)
    assert [n.input[:] for n in model.graph.node if n.op_type == "Reshape"] == [["x"], ["u"]]


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_reductions(name):
    x = RNG.integers(0, 3, (3, 4, 5)).astype(np.float32)  # many ties
    ref = getattr(np, name)
    for axis in (0, 1, -1):
        np.testing.assert_array_equal(one_op(lambda t, a=axis: getattr(dsl, name)(t, a), x), ref(x, axis))
        np.testing.assert_array_equal(one_op(lambda t, a=axis: getattr(dsl, name)(t, a, keepdims=True), x),
                                      np.expand_dims(ref(x, axis), axis))
    flipped = x.shape[1] - 1 - ref(x[:, ::-1], 1)
    out = one_op(lambda t: getattr(dsl, name)(t, 1, select_last_index=True), x)
    np.testing.assert_array_equal(out, flipped)
    b = dsl.GraphBuilder(opset=11)
    b.output(getattr(dsl, name)(b.input("x", "float32", (2, 3)), select_last_index=True))
    with pytest.raises(UnsupportedOpError, match="select_last_index=1 needs opset >= 12"):
        to_onnx(b.build())


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.uint8, np.int16, np.int32, np.int64])
def test_equal_count(dtype):
    a = RNG.integers(0, 3, (4, 50)).astype(dtype)
    c = RNG.integers(0, 3, (4, 50)).astype(dtype)
    out = one_op(dsl.equal_count, a, c)
    assert out.shape == (1,) and out.dtype == dtype
    np.testing.assert_array_equal(out, np.array([np.sum(a == c)]).astype(dtype))


@pytest.mark.parametrize("dtype,n,expect", [(np.int8, 200, -56), (np.uint8, 300, 44), (np.int8, 127, 127),
                                            (np.int16, 40000, -25536)])
def test_equal_count_wraps_like_numpy(dtype, n, expect):
    a = np.ones(n, dtype)
    out = one_op(dsl.equal_count, a, a.copy())
    assert np.array([n]).astype(dtype)[0] == expect
    np.testing.assert_array_equal(out, np.array([expect], dtype))


def test_equal_count_at_old_opsets():
    cases = ((9, "int32", True), (9, "float32", False), (11, "int8", True), (6, "int64", False))
    for opset, dtype, ok in cases:
        b = dsl.GraphBuilder(opset=opset)
        x = b.input("x", dtype, (3,))
        b.output(dsl.equal_count(x, x))
        if ok:
            onnx.checker.check_model(to_onnx(b.build()), full_check=True)
        else:
            with pytest.raises(UnsupportedOpError, match="EqualCount"):
                to_onnx(b.build())


def test_legacy_broadcast_attrs():
    # opset 6 (onnxruntime needs >= 7): attributes written back, checked by the ONNX checker
    b = dsl.GraphBuilder(opset=6)
    a, c = b.input("a", "float32", (2, 3, 4)), b.input("c", "float32", (3,))
    b.output(b.op("Add", [a, c], broadcast=1, axis=1), "y")
    b.output(a * b.input("d", "float32", (4,)), "z")  # numpy broadcasting that opset 6 can say: broadcast=1
    model = to_onnx(b.build())
    onnx.checker.check_model(model, full_check=True)
    attrs = [{at.name: onnx.helper.get_attribute_value(at) for at in n.attribute} for n in model.graph.node]
    assert attrs == [{"broadcast": 1, "axis": 1}, {"broadcast": 1}]
    b = dsl.GraphBuilder(opset=6)
    b.output(b.input("p", "float32", (3, 1)) + b.input("q", "float32", (1, 4)))
    with pytest.raises(UnsupportedOpError, match="numpy broadcasting"):
        to_onnx(b.build())
    # the same legacy alignment in an opset-17 graph: B reshaped explicitly, run in onnxruntime
    t = TensorType(F32, (2, 3, 4))
    values = {"a": Value("a", t), "c": Value("c", TensorType(F32, (3,))), "y": Value("y", t)}
    node = Node("Mul", ("a", "c"), ("y",), {"legacy_broadcast": 1, "legacy_axis": 1}, "m")
    g = Graph((node,), values, ("a", "c"), ("y",), "g", 17).validate()
    x, k = randn(2, 3, 4), randn(3)
    np.testing.assert_allclose(run(g, {"a": x, "c": k})[0], x * k[None, :, None], rtol=1e-6)


def test_symbolic_dims_become_dim_params():
    b = dsl.GraphBuilder()
    x = b.input("x", "float32", ("batch", 4))
    b.output(dsl.relu(dsl.gemm(x, randn(3, 4), randn(3), trans_b=True)), "y")
    g = b.build()
    model = to_onnx(g)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert (dims[0].dim_param, dims[1].dim_value) == ("batch", 4)
    assert model.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    x = randn(5, 4)
    w, c = (numpy_helper.to_array(i) for i in model.graph.initializer)
    np.testing.assert_allclose(run(g, {"x": x})[0], np.maximum(x @ w.T + c, 0), rtol=1e-5, atol=1e-6)


def test_unknown_internal_attribute_is_refused():
    t = TensorType(F32, (2,))
    node = Node("Relu", ("x",), ("y",), {"act": "fused"}, "r")
    g = Graph((node,), {"x": Value("x", t), "y": Value("y", t)}, ("x",), ("y",))
    with pytest.raises(GraphError, match=r"'r'.*\['act'\] have no ONNX equivalent"):
        to_onnx(g)


def test_output_that_is_an_input_or_constant():
    b = dsl.GraphBuilder()
    x = b.input("x", "float32", (2,))
    b.output(x)
    b.output(b.const(np.array([1.0, 2.0], np.float32), "k"))
    b.output(x, "x2")
    x_ = randn(2)
    outs = run(b.build(), {"x": x_})
    np.testing.assert_array_equal(outs[0], x_)
    np.testing.assert_array_equal(outs[1], [1, 2])
    np.testing.assert_array_equal(outs[2], x_)


# ---------------------------------------------------------------- models
def load_builder():
    spec = importlib.util.spec_from_file_location("build_models", MODELS / "build_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def builder():
    return load_builder()


def weights(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i).astype(np.float64) for i in model.graph.initializer}


def np_mlp(w: dict, x: np.ndarray) -> np.ndarray:
    h = np.maximum(x @ w["fc1.weight"].T + w["fc1.bias"], 0)
    h = np.maximum(h @ w["fc2.weight"].T + w["fc2.bias"], 0)
    return h @ w["fc3.weight"].T + w["fc3.bias"]


def np_lenet5(w: dict, x: np.ndarray) -> np.ndarray:
    h = np.maximum(np_conv2d(x, w["conv1.weight"], w["conv1.bias"], (1, 1), (2, 2, 2, 2), (1, 1), 1), 0)
    h = np_pool(h, (2, 2), (2, 2), (0, 0, 0, 0), "max")
    h = np.maximum(np_conv2d(h, w["conv2.weight"], w["conv2.bias"], (1, 1), (0, 0, 0, 0), (1, 1), 1), 0)
    h = np_pool(h, (2, 2), (2, 2), (0, 0, 0, 0), "max").reshape(1, -1)
    h = np.maximum(h @ w["fc1.weight"].T + w["fc1.bias"], 0)
    h = np.maximum(h @ w["fc2.weight"].T + w["fc2.bias"], 0)
    return h @ w["fc3.weight"].T + w["fc3.bias"]


@pytest.mark.parametrize("name,ref,input_file", [("mlp", np_mlp, "mlp_input.npy"),
                                                 ("lenet5", np_lenet5, "digit.npy")])
def test_models_match_numpy(builder, name, ref, input_file):
    graph = getattr(builder, f"build_{name}")()
    model = to_onnx(graph)
    onnx.checker.check_model(model, full_check=True)
    x = np.load(MODELS / input_file)
    (out,) = ORT(model).run(None, {"input": x})
    assert out.shape == (1, 10) and np.all(np.isfinite(out))
    expect = ref(weights(model), x.astype(np.float64))
    np.testing.assert_allclose(out, expect, rtol=1e-4, atol=1e-5)
    assert 0.1 < np.abs(expect).max() < 20  # He-init scaling: O(1) logits


def test_model_parameter_names(builder):
    assert set(weights(to_onnx(builder.build_lenet5()))) == {
        f"{layer}.{p}" for layer in ("conv1", "conv2", "fc1", "fc2", "fc3") for p in ("weight", "bias")}


@pytest.mark.parametrize("name", ["mlp", "lenet5"])
def test_shipped_models_are_valid_and_reproducible(builder, name):
    path = MODELS / f"{name}.onnx"
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == 17 and model.ir_version <= 10
    fresh = to_onnx(getattr(builder, f"build_{name}")()).SerializeToString()
    assert path.read_bytes() == fresh, f"{path} is stale: run python models/build_models.py"


def test_shipped_inputs(builder):
    digit, flat = np.load(MODELS / "digit.npy"), np.load(MODELS / "mlp_input.npy")
    assert digit.shape == (1, 1, 28, 28) and digit.dtype == np.float32 and flat.shape == (1, 784)
    np.testing.assert_array_equal(flat, digit.reshape(1, 784))
    np.testing.assert_array_equal(digit, builder.draw_digit())
    assert 0 <= digit.min() and digit.max() == 1 and 60 < (digit > 0.5).sum() < 300  # a stroke, not noise


def test_build_script_writes_all_files(builder, tmp_path):
    written = builder.build_all(tmp_path)
    assert sorted(p.name for p in written) == ["digit.npy", "lenet5.onnx", "mlp.onnx", "mlp_input.npy"]
    for p in written:
        assert p.read_bytes() == (MODELS / p.name).read_bytes()


@pytest.mark.parametrize("name", ["mlp", "lenet5"])
def test_export_import_round_trip(builder, name):
    from msgraph.onnx_import import import_onnx
    model = to_onnx(getattr(builder, f"build_{name}")())
    assert to_onnx(import_onnx(model)).SerializeToString() == model.SerializeToString()


def test_a_value_without_data_is_refused_not_exported():
    """A session's graph keeps no copy of the weights packed at load: exporting it names the missing value
    instead of writing a model without that initializer."""
    from onnx_builders import lenet5

    from backend_wasm.session import InferenceSession

    sess = InferenceSession(lenet5())
    with pytest.raises(GraphError, match="input '.*' has no value"):
        to_onnx(sess.graph)
