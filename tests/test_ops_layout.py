"""Layout / data-movement ops end to end (onnx.helper model -> msgraph.InferenceSession) against onnxruntime,
at every opset variant that changes their attributes or inputs."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from conftest import ort_run
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from backend_wasm.session import InferenceSession
from msgraph.errors import UnsupportedOpError

NP2ONNX = {np.dtype(k): v for k, v in ((np.float32, TensorProto.FLOAT), (np.float64, TensorProto.DOUBLE),
                                       (np.int8, TensorProto.INT8), (np.uint8, TensorProto.UINT8),
                                       (np.int16, TensorProto.INT16), (np.int32, TensorProto.INT32),
                                       (np.int64, TensorProto.INT64), (np.bool_, TensorProto.BOOL),
                                       (np.float16, TensorProto.FLOAT16))}


def model(op, inputs: dict, consts: dict, n_out=1, opset=17, out_names=None, **attrs):
    """One `op` node: `inputs` are graph inputs (name -> array or (dtype, shape)), `consts` initializers;
    the node takes them in the order inputs then consts unless `order` lists names ("" = omitted)."""
    order = attrs.pop("order", None) or [*inputs, *consts]
    outs = out_names or [f"y{k}" for k in range(n_out)]
    node = helper.make_node(op, order, outs, **attrs)
    g = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(k, NP2ONNX[np.asarray(v).dtype], np.asarray(v).shape) for k, v in inputs.items()],
        [helper.make_empty_tensor_value_info(o) for o in outs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    return onnx.shape_inference.infer_shapes(m, strict_mode=True)  # types the outputs


def check(op, inputs: dict, consts: dict | None = None, n_out=1, opset=17, reference=False, **attrs):
    """msgraph against onnxruntime (or onnx's reference evaluator where the two disagree and ONNX's node tests
    follow the reference)."""
    m = model(op, inputs, consts or {}, n_out, opset, **attrs)
    feeds = {k: np.asarray(v) for k, v in inputs.items()}
    want = ReferenceEvaluator(m).run(None, feeds) if reference else ort_run(m, feeds)
    got = InferenceSession(m.SerializeToString()).run(None, feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
        if g.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(g, w)
    return got


def arr(shape, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype) == np.bool_:
        return rng.random(shape) > 0.5
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, 100, size=shape).astype(dtype)


I64 = np.int64
DTYPES = [np.float32, np.float64, np.int8, np.uint8, np.int16, np.int32, np.int64, np.bool_, np.float16]


@pytest.mark.parametrize("dtype", DTYPES)
def test_transpose_dtypes(dtype):
    check("Transpose", {"x": arr((2, 3, 4), dtype)}, perm=[2, 0, 1])


@pytest.mark.parametrize("shape,perm", [((5, 7), None), ((33, 17), [1, 0]), ((2, 3, 4, 5), [0, 2, 3, 1]),
                                        ((2, 3, 4, 5), [0, 3, 1, 2]), ((1, 2, 1, 3, 2, 2, 3), [6, 5, 4, 3, 2, 1, 0])])
def test_transpose_shapes(shape, perm):
    kw = {} if perm is None else {"perm": perm}
    check("Transpose", {"x": arr(shape)}, **kw)


@pytest.mark.parametrize("opset", [4, 11, 13])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(opset, axis):
    shapes = [(2, 3, 4), (2, 3, 4), (2, 3, 4)]
    shapes = [tuple(d + k if i == axis % 3 else d for i, d in enumerate(s)) for k, s in enumerate(shapes)]
    if opset < 11 and axis < 0:
        axis = 2
    check("Concat", {f"x{k}": arr(s, seed=k) for k, s in enumerate(shapes)}, {"c": arr(shapes[0], seed=9)}, opset=opset,
          axis=axis)


@pytest.mark.parametrize("opset,kw,consts", [
    (11, {"split": [1, 3, 2]}, {}), (11, {}, {}), (13, {}, {"s": np.array([2, 0, 4], I64)}), (13, {}, {}),
    (18, {"num_outputs": 3}, {}), (18, {}, {"s": np.array([1, 1, 4], I64)})])
def test_split(opset, kw, consts):
    check("Split", {"x": arr((2, 6, 3))}, consts, n_out=3, opset=opset, axis=1, **kw)


def test_split_uneven_num_outputs():
    check("Split", {"x": arr((7, 2))}, n_out=3, opset=18, num_outputs=3)


@pytest.mark.parametrize("starts,ends,axes,steps", [
    ([1, 0], [3, 10], [0, 1], [1, 1]), ([-1, -2], [-100, 0], [0, 2], [-1, -1]), ([0], [100], [1], [2]),
    ([3, 1], [0, 5], [1, 2], [-2, 3]), ([100], [200], [0], None), ([1], [-1], [-1], None)])
def test_slice(starts, ends, axes, steps):
    consts = {"s": np.array(starts, I64), "e": np.array(ends, I64), "a": np.array(axes, I64)}
    if steps is not None:
        consts["st"] = np.array(steps, I64)
    check("Slice", {"x": arr((4, 5, 6))}, consts, opset=13)


def test_slice_opset9_attributes():
    check("Slice", {"x": arr((4, 5, 6))}, opset=9, starts=[1, -3], ends=[3, 100], axes=[0, 2])


def test_slice_starts_fed_at_run_time():
    m = model("Slice", {"x": arr((4, 5)), "s": np.array([1], I64)}, {"e": np.array([3], I64)}, opset=13)
    sess = InferenceSession(m.SerializeToString())
    x = arr((4, 5))
    for s in (0, 2):
        np.testing.assert_array_equal(sess.run(None, {"x": x, "s": np.array([s], I64)})[0], x[s:3])


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.bool_, np.int64])
def test_expand_tile(dtype):
    check("Expand", {"x": arr((3, 1), dtype)}, {"s": np.array([2, 1, 4], I64)}, opset=13)
    check("Tile", {"x": arr((2, 3), dtype)}, {"r": np.array([3, 2], I64)}, opset=13)
    check("Tile", {"x": arr((2, 1, 3), dtype)}, {"r": np.array([1, 4, 1], I64)}, opset=6)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad(mode):
    if mode == "wrap":  # opset 19
        check("Pad", {"x": arr((3, 4))}, {"p": np.array([1, 2, 2, 3], I64)}, opset=19, mode=mode)
        return
    check("Pad", {"x": arr((2, 3, 4))}, {"p": np.array([0, 1, 2, 1, 2, 1], I64), "v": np.array(1.5, np.float32)},
          opset=13, mode=mode)
    check("Pad", {"x": arr((2, 3, 4))}, opset=2, mode=mode, pads=[0, 1, 2, 0, 2, 1], value=-2.0)


def test_pad_axes_and_crop():
    check("Pad", {"x": arr((3, 4, 5), np.int32)}, {"p": np.array([1, -1, 2, 0], I64), "v": np.array(7, np.int32),
                                                   "a": np.array([0, -1], I64)}, opset=18)


@pytest.mark.parametrize("op,mode", [("DepthToSpace", "DCR"), ("DepthToSpace", "CRD"), ("SpaceToDepth", None)])
def test_depth_space(op, mode):
    kw = {"mode": mode} if mode else {}
    shape = (2, 8, 3, 5) if op == "DepthToSpace" else (2, 3, 4, 6)
    check(op, {"x": arr(shape)}, opset=13, blocksize=2, **kw)


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [None, -2, 0, 3])
def test_trilu(upper, k):
    consts = {} if k is None else {"k": np.array(k, I64)}
    check("Trilu", {"x": arr((2, 4, 5), np.int32)}, consts, opset=14, upper=upper)


@pytest.mark.parametrize("idt", [np.int32, np.int64])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather(idt, axis):
    x = arr((4, 5, 6))
    n = x.shape[axis]
    check("Gather", {"x": x, "i": np.array([[0, -1, 2], [n - 1, -n, 1]], idt)}, opset=13, axis=axis)


def test_gather_elements_and_nd():
    x = arr((3, 4), np.int16)
    check("GatherElements", {"x": x, "i": np.array([[0, -1], [2, 1], [1, 1]], I64)}, opset=13, axis=1)
    check("GatherElements", {"x": x, "i": np.array([[0, 2, 1, 0]], np.int32)}, opset=11, axis=0)
    y = arr((2, 3, 4))
    check("GatherND", {"x": y, "i": np.array([[1, 2], [0, -1]], I64)}, opset=12)
    check("GatherND", {"x": y, "i": np.array([[[2]], [[0]]], I64)}, opset=12, batch_dims=1)


@pytest.mark.parametrize("opset,red", [(11, None), (16, "add"), (16, "mul"), (18, "max"), (18, "min")])
def test_scatters(opset, red):
    kw = {} if red is None else {"reduction": red}
    check("ScatterElements", {"x": arr((3, 4)), "i": np.array([[1, 0, 2, -1], [1, 1, 0, 0]], I64),
                              "u": arr((2, 4), seed=3)}, opset=opset, axis=0, **kw)
    check("ScatterND", {"x": arr((4, 3)), "i": np.array([[1], [3], [1]], I64), "u": arr((3, 3), seed=4)},
          opset=opset, **kw)


def test_scatter_opset9():
    check("Scatter", {"x": arr((3, 3)), "i": np.array([[1, 0, 2]], I64), "u": arr((1, 3), seed=2)}, opset=9, axis=0)


@pytest.mark.parametrize("idt,ddt,vdt", [(np.int64, np.int64, np.float32), (np.float32, np.float32, np.float32),
                                         (np.int32, np.float32, np.float32), (np.int64, np.float32, np.int32),
                                         (np.int64, np.int64, np.int64)])
def test_onehot(idt, ddt, vdt):
    check("OneHot", {"i": np.array([[0, 2], [-1, 7]], idt)}, {"d": np.array(4, ddt), "v": np.array([5, 2], vdt)},
          opset=11, axis=1)


def test_range_constant_of_shape_shape_size():
    check("Range", {}, {"a": np.array(1, np.int32), "b": np.array(10, np.int32), "c": np.array(3, np.int32)}, opset=11)
    check("ConstantOfShape", {}, {"s": np.array([2, 3], I64)}, opset=9,
          value=numpy_helper.from_array(np.array([7], np.int8)))
    check("Shape", {"x": arr((2, 3, 4))}, opset=15, start=1, end=-1)
    check("Size", {"x": arr((2, 3, 4))}, opset=13)


@pytest.mark.parametrize("opset", [7, 10, 12, 13])
def test_dropout_inference(opset):
    # onnx's reference and spec: at inference the output is the input and the mask all true (onnxruntime's
    # Dropout-10 gives an all-false mask, so the mask is checked against the spec)
    x = arr((3, 5))
    consts = {"r": np.array(0.3, np.float32)} if opset >= 12 else {}
    check("Dropout", {"x": x}, consts, opset=opset)
    m = model("Dropout", {"x": x}, consts, n_out=2, opset=opset) if opset >= 10 else None
    if m is not None:
        y, mask = InferenceSession(m.SerializeToString()).run(None, {"x": x})
        np.testing.assert_array_equal(y, x)
        assert mask.dtype == np.bool_ and mask.all()


def test_nonzero_needs_a_constant():
    with pytest.raises(UnsupportedOpError, match="NonZero"):
        InferenceSession(model("NonZero", {"x": arr((3,))}, {}, opset=13).SerializeToString())
    m = model("NonZero", {}, {"c": np.array([0, 1, 2, 0], np.int32)}, opset=13)
    np.testing.assert_array_equal(InferenceSession(m.SerializeToString()).run(None, {})[0], [[1, 2]])


@pytest.mark.parametrize("kw", [
    {"mode": "nearest"}, {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
    {"mode": "nearest", "coordinate_transformation_mode": "align_corners", "nearest_mode": "round_prefer_ceil"},
    {"mode": "linear"}, {"mode": "linear", "coordinate_transformation_mode": "align_corners"},
    {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"},
    {"mode": "linear", "coordinate_transformation_mode": "asymmetric"}])
@pytest.mark.parametrize("scales", [[1, 1, 2, 3], [1, 1, 0.6, 0.5], [1, 1, 1.7, 1]])
def test_resize(kw, scales):
    x = arr((1, 2, 5, 6))
    # a fractional scale * length: the spec's (and reference's) align_corners divides by it, onnxruntime by the
    # integer output length
    fractional = kw.get("coordinate_transformation_mode") == "align_corners" and scales[2] == 1.7
    check("Resize", {"x": x}, {"roi": np.zeros(0, np.float32), "s": np.array(scales, np.float32)}, opset=13,
          reference=fractional, **kw)


def test_resize_sizes_and_older_opsets():
    x = arr((2, 3, 4, 5))
    check("Resize", {"x": x}, {"s": np.array([2, 3, 7, 3], I64)}, opset=13, order=["x", "", "", "s"], mode="linear")
    check("Resize", {"x": arr((1, 1, 3, 4), np.uint8)}, {"s": np.array([1, 1, 2, 2], np.float32)}, opset=10)
    check("Upsample", {"x": arr((1, 2, 2, 3), np.int32)}, {"s": np.array([1, 1, 2, 3], np.float32)}, opset=9)


def test_resize_cubic_is_unsupported():
    m = model("Resize", {"x": arr((1, 1, 4, 4))}, {"s": np.array([1, 1, 2, 2], np.float32)}, opset=13,
              order=["x", "", "s"], mode="cubic")
    with pytest.raises(UnsupportedOpError, match="cubic"):
        InferenceSession(m.SerializeToString())


def test_symbolic_flatten_reshape():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4])
    nodes = [helper.make_node("Flatten", ["x"], ["f"], axis=1),
             helper.make_node("Reshape", ["f", "s"], ["r"]), helper.make_node("Flatten", ["r"], ["y"], axis=2)]
    g = helper.make_graph(nodes, "g", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["M", 2])],
                          [numpy_helper.from_array(np.array([0, -1, 2], I64), "s")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    sess = InferenceSession(m.SerializeToString())
    assert sess.graph.values["f"].type.shape == ("N", 12)
    assert sess.graph.values["r"].type.shape == ("N", 6, 2)
    for n in (1, 3):
        xv = arr((n, 3, 4))
        np.testing.assert_array_equal(sess.run(None, {"x": xv})[0], xv.reshape(n * 6, 2))
