"""ONNX import: opset-dependent attributes, constants, subgraph cuts, and what each reports when wrong."""
import numpy as np
import onnx
import pytest
from conftest import ort_run
from onnx import TensorProto, helper, numpy_helper
from onnx_builders import model, single

import msgraph
from msgraph.errors import GraphError, ShapeError, UnsupportedOpError

F = TensorProto.FLOAT
n = helper.make_node
vi = helper.make_tensor_value_info


def run(m, feeds, outputs=None):
    return msgraph.InferenceSession(m).run(outputs, feeds)


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_softmax_axis_semantics_per_opset(opset, rng):
    # before 13: flatten to 2-D at axis; from 13: one axis
    x = rng.standard_normal((2, 3, 4)).astype(np.float32) * 3
    for attrs in ({}, {"axis": 1}, {"axis": -1}):
        m = single("Softmax", {"x": x}, opset=opset, **attrs)
        np.testing.assert_allclose(run(m, {"x": x})[0], ort_run(m, {"x": x})[0], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("opset", [11, 12, 13])
def test_argmax_select_last_index(opset):
    x = np.array([[1, 3, 3, 0], [2, 2, 1, 2]], np.float32)
    attrs = {"axis": 1, "keepdims": 0} | ({"select_last_index": 1} if opset >= 12 else {})
    m = single("ArgMax", {"x": x}, opset=opset, **attrs)
    np.testing.assert_array_equal(run(m, {"x": x})[0], ort_run(m, {"x": x})[0])


@pytest.mark.parametrize("opset", [7, 9, 11, 13])
def test_gemm_across_opsets(opset, rng):
    a = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((5, 3)).astype(np.float32)
    c = rng.standard_normal((5,)).astype(np.float32)
    m = single("Gemm", {"a": a, "b": b, "c": c}, opset=opset, transB=1, alpha=0.5, beta=2.0)
    np.testing.assert_allclose(run(m, {"a": a, "b": b, "c": c})[0], 0.5 * a @ b.T + 2 * c, rtol=1e-5, atol=1e-6)


def test_legacy_broadcast_add_opset6(rng):
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    b = rng.standard_normal((3,)).astype(np.float32)
    m = model([n("Add", ["a", "b"], ["y"], name="add", broadcast=1, axis=1)], [vi("a", F, [2, 3, 4]), vi("b", F, [3])],
              [vi("y", F, [2, 3, 4])], opset=6)
    # onnx's reference evaluator no longer runs opset-6 broadcasting: the spec's meaning, in numpy
    np.testing.assert_allclose(run(m, {"a": a, "b": b})[0], a + b[None, :, None], rtol=1e-6)


def test_reshape_opset1_attribute_and_opset5_input(rng):
    x = rng.standard_normal((2, 6)).astype(np.float32)
    old = model([n("Reshape", ["x"], ["y"], name="r", shape=[3, 4])], [vi("x", F, [2, 6])], [vi("y", F, [3, 4])], opset=1)
    np.testing.assert_array_equal(run(old, {"x": x})[0], x.reshape(3, 4))
    shape = numpy_helper.from_array(np.array([0, -1, 2], np.int64), "s")
    new = model([n("Reshape", ["x", "s"], ["y"], name="r")], [vi("x", F, [2, 6])], [vi("y", F, [2, 3, 2])], [shape])
    np.testing.assert_array_equal(run(new, {"x": x})[0], x.reshape(2, 3, 2))


def test_squeeze_unsqueeze_attr_vs_input(rng):
    x = rng.standard_normal((3, 1, 4)).astype(np.float32)
    for opset in (11, 13):
        if opset < 13:
            nodes, inits = [n("Squeeze", ["x"], ["s"], name="sq", axes=[1]),
                            n("Unsqueeze", ["s"], ["y"], name="un", axes=[0])], []
        else:
            nodes = [n("Squeeze", ["x", "a1"], ["s"], name="sq"), n("Unsqueeze", ["s", "a0"], ["y"], name="un")]
            inits = [numpy_helper.from_array(np.array([1], np.int64), "a1"),
                     numpy_helper.from_array(np.array([0], np.int64), "a0")]
        m = model(nodes, [vi("x", F, [3, 1, 4])], [vi("y", F, [1, 3, 4])], inits, opset=opset)
        np.testing.assert_array_equal(run(m, {"x": x})[0], x.reshape(1, 3, 4))


def test_constant_nodes_and_initializers_listed_as_inputs(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    w = numpy_helper.from_array(np.full((2, 3), 0.5, np.float32), "w")
    nodes = [n("Constant", [], ["k"], name="k", value_float=2.0),
             n("Constant", [], ["v"], name="v", value=numpy_helper.from_array(np.arange(3, dtype=np.float32))),
             n("Mul", ["x", "k"], ["a"], name="mul"), n("Add", ["a", "v"], ["b"], name="add"),
             n("Sub", ["b", "w"], ["y"], name="sub")]
    g = helper.make_graph(nodes, "g", [vi("x", F, [2, 3]), vi("w", F, [2, 3])], [vi("y", F, [2, 3])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    sess = msgraph.InferenceSession(m)
    assert [i.name for i in sess.get_inputs()] == ["x"]
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], x * 2 + np.arange(3) - 0.5, rtol=1e-6)


def test_cut_runs_the_supported_part(rng):
    nodes = [n("Relu", ["x"], ["a"], name="relu"), n("Cos", ["a"], ["b"], name="cos"),
             n("Mul", ["b", "b"], ["c"], name="mul"), n("Sigmoid", ["c"], ["y"], name="sig")]
    m = model(nodes, [vi("x", F, [8])], [vi("y", F, [8])])
    with pytest.raises(UnsupportedOpError, match="import_onnx\\(model, inputs=\\['b'\\], outputs=\\['y'\\]\\)"):
        msgraph.import_onnx(m)  # the 2 nodes after Cos beat the 1 before it
    x = rng.standard_normal(8).astype(np.float32)
    head = msgraph.InferenceSession(msgraph.import_onnx(m, inputs=["x"], outputs=["a"]))
    np.testing.assert_array_equal(head.run(None, {"x": x})[0], np.maximum(x, 0))
    tail = msgraph.InferenceSession(msgraph.import_onnx(m, inputs=["b"], outputs=["y"]))
    assert [i.name for i in tail.get_inputs()] == ["b"]
    b = np.cos(np.maximum(x, 0))
    np.testing.assert_allclose(tail.run(None, {"b": b})[0], 1 / (1 + np.exp(-b * b)), rtol=1e-6)
    with pytest.raises(GraphError, match="'zz' is not a value"):
        msgraph.import_onnx(m, outputs=["zz"])


def test_shape_errors_name_the_node():
    m = model([n("Relu", ["x"], ["a"], name="r")], [vi("x", F, [2, 3])], [vi("a", F, [2, 3])])
    m.graph.node.append(n("MatMul", ["a", "a"], ["y"], name="bad_matmul"))
    m.graph.output[0].CopyFrom(vi("y", F, [2, 3]))
    with pytest.raises(ShapeError, match="bad_matmul"):
        msgraph.import_onnx(m)


def test_custom_domain_is_unsupported():
    m = helper.make_model(helper.make_graph([n("Foo", ["x"], ["y"], name="foo", domain="com.acme")], "g",
                                            [vi("x", F, [2])], [vi("y", F, [2])]),
                          opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.acme", 1)])
    with pytest.raises(UnsupportedOpError, match="node 'foo'.*com.acme"):
        msgraph.import_onnx(m)


def test_unsupported_dtype_is_reported(rng):
    x = np.zeros((4,), np.float16)
    with pytest.raises(UnsupportedOpError, match="dtype f16"):
        msgraph.import_onnx(single("Sigmoid", {"x": x}, out_dtype=TensorProto.FLOAT16))


def test_import_is_typed_everywhere():
    g = msgraph.import_onnx(model([n("Relu", ["x"], ["y"], name="r")], [vi("x", F, [2, 3])], [vi("y", F, [2, 3])]))
    assert str(g.values["y"].type) == "f32[2,3]"
    assert isinstance(g, msgraph.Graph) and onnx is not None


@pytest.mark.parametrize("external", [False, True])
def test_model_files_with_and_without_external_data(external, tmp_path, rng):
    """A .onnx path is parsed through a memory map; weights saved as external data beside it are read
    from there, as onnx.load does. An unreadable file is a GraphError."""
    from onnx_builders import mlp

    proto = mlp(batch=2)
    x = rng.standard_normal((2, 784)).astype(np.float32)
    want = ort_run(proto, {"x": x})[0]
    path = tmp_path / "mlp.onnx"
    onnx.save_model(proto, str(path), save_as_external_data=external, all_tensors_to_one_file=True,
                    location="mlp.weights", size_threshold=0)  # (this moves proto's weights out, too)
    assert (tmp_path / "mlp.weights").exists() == external
    got = msgraph.InferenceSession(str(path)).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    path.write_bytes(b"\x08\x07garbage that is not a protobuf")
    with pytest.raises(GraphError, match="cannot read an ONNX model"):
        msgraph.import_onnx(str(path))


def _weights_model(rng, bf16: bool = True):
    """A graph whose initializers span the plain dtypes, small and large, plus one the fast path leaves alone
    (bfloat16) and one stored as float_data instead of raw bytes."""
    arrays = {
        "w_f32": rng.standard_normal((64, 33)).astype(np.float32),
        "w_f16": rng.standard_normal((3000,)).astype(np.float16),
        "w_i64": rng.integers(-5, 5, (600,)).astype(np.int64),
        "w_bool": rng.random(5000) > 0.5,
        "small": rng.standard_normal(4).astype(np.float32),
    }
    inits = [numpy_helper.from_array(a, k) for k, a in arrays.items()]
    inits.append(helper.make_tensor("as_floats", TensorProto.FLOAT, [1100], rng.standard_normal(1100).tolist()))
    if bf16:  # (msgraph itself has no bfloat16: only _load sees it)
        inits.append(helper.make_tensor("w_bf16", TensorProto.BFLOAT16, [2100], np.zeros(2100, np.float32).tolist()))
    arrays["as_floats"] = np.zeros(1100, np.float32)  # (for its output's type)
    nodes = [helper.make_node("Identity", [k], [f"out_{k}"]) for k in arrays]
    outs = [helper.make_tensor_value_info(f"out_{k}", helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
            for k, a in arrays.items()]
    g = helper.make_graph(nodes, "weights", [], outs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_initializers_are_read_in_place_from_the_file(tmp_path, rng):
    """A .onnx path: the large raw initializers become read-only arrays viewing the file (no copy), equal
    to what onnx reads; small, non-raw and non-plain ones go through onnx as before."""
    from msgraph.onnx_import import _load

    proto = _weights_model(rng)
    path = tmp_path / "w.onnx"
    path.write_bytes(proto.SerializeToString())
    stripped, mapped = _load(path)
    assert set(mapped) == {"w_f32", "w_f16", "w_i64", "w_bool"}
    want = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    for name, array in mapped.items():
        assert array.dtype == want[name].dtype and not array.flags.writeable
        np.testing.assert_array_equal(array, want[name])
    kept = {i.name: i for i in stripped.graph.initializer}
    assert all(not kept[n].raw_data for n in mapped) and kept["small"].raw_data
    assert list(stripped.graph.node) == list(proto.graph.node) and stripped.opset_import == proto.opset_import
    proto = _weights_model(np.random.default_rng(5), bf16=False)
    path.write_bytes(proto.SerializeToString())
    g_path, g_proto = msgraph.import_onnx(str(path)), msgraph.import_onnx(proto)
    for i in proto.graph.initializer:
        np.testing.assert_array_equal(g_path.values[i.name].const, g_proto.values[i.name].const)


def test_broken_files_are_graph_errors(tmp_path, rng):
    """A truncated file, or one whose raw_data does not hold what its dims say, is a GraphError."""
    data = _weights_model(rng).SerializeToString()
    path = tmp_path / "bad.onnx"
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(GraphError):
        msgraph.import_onnx(str(path))
    m = _weights_model(rng)
    t = next(i for i in m.graph.initializer if i.name == "w_f32")
    t.raw_data = t.raw_data[:-4]
    path.write_bytes(m.SerializeToString())
    with pytest.raises(GraphError, match="initializer 'w_f32' holds 8444 bytes"):
        msgraph.import_onnx(str(path))


def test_no_view_of_the_file_outlives_the_load(tmp_path, rng):
    """Only map_weights=True keeps views of the file; a session lets go of them once its weights are in
    the arena, so the file can then be rewritten in place (a view would crash the process on access)."""
    from onnx_builders import mlp

    from msgraph.onnx_import import _maps_file

    proto = mlp(batch=1)
    path = tmp_path / "mlp.onnx"
    path.write_bytes(proto.SerializeToString())
    big = [i.name for i in proto.graph.initializer if i.raw_data and len(i.raw_data) >= 4096]
    assert big and all(_maps_file(msgraph.import_onnx(str(path), map_weights=True).values[n].const) for n in big)
    g = msgraph.import_onnx(str(path))
    assert not any(v.const is not None and _maps_file(v.const) for v in g.values.values())
    x = rng.standard_normal((1, 784)).astype(np.float32)
    sess = msgraph.InferenceSession(str(path))
    want = sess.run(None, {"x": x})[0]
    assert not any(v.const is not None and _maps_file(v.const) for v in sess.graph.values.values())
    path.write_bytes(b"")  # truncated in place
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], want)
    np.testing.assert_array_equal(g.values[big[0]].const, numpy_helper.to_array(
        next(i for i in proto.graph.initializer if i.name == big[0])))
