"""End to end: ONNX models written by onnx.helper, run by msgraph.InferenceSession and the ONNX backend API,
against onnxruntime."""
import numpy as np
import pytest
from conftest import ort_run
from onnx_builders import lenet5, mlp, single

import msgraph
from backend_wasm import backend
from msgraph.errors import GraphError, InputError, UnsupportedOpError


@pytest.mark.parametrize("build", [mlp, lenet5], ids=["mlp", "lenet5"])
def test_models_match_onnxruntime(build, rng):
    m = build(batch=1)
    shape = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    x = rng.standard_normal(shape).astype(np.float32)
    (want,) = ort_run(m, {"x": x})
    sess = msgraph.InferenceSession(m)
    (got,) = sess.run(None, {"x": x})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    (via_backend,) = backend.prepare(m).run([x])
    np.testing.assert_allclose(via_backend, want, rtol=1e-4, atol=1e-5)
    (run_model,) = backend.run_model(m, {"x": x})
    np.testing.assert_allclose(run_model, want, rtol=1e-4, atol=1e-5)


def test_model_from_path_and_bytes(tmp_path, rng):
    m = lenet5()
    path = tmp_path / "lenet.onnx"
    path.write_bytes(m.SerializeToString())
    x = rng.standard_normal((1, 1, 28, 28)).astype(np.float32)
    (want,) = ort_run(m, {"x": x})
    for src in (str(path), path, m.SerializeToString()):
        np.testing.assert_allclose(msgraph.InferenceSession(src).run(None, {"x": x})[0], want, rtol=1e-4, atol=1e-5)


def test_symbolic_batch_runs_at_any_size(rng):
    m = mlp(batch="N")
    sess = msgraph.InferenceSession(m)
    assert sess.get_inputs()[0].shape == ["N", 784]
    for n in (1, 3):
        x = rng.standard_normal((n, 784)).astype(np.float32)
        (want,) = ort_run(m, {"x": x})
        (got,) = sess.run(None, {"x": x})
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_io_metadata_like_onnxruntime():
    sess = msgraph.InferenceSession(lenet5())
    (i,), (o,) = sess.get_inputs(), sess.get_outputs()
    assert (i.name, i.shape, i.type) == ("x", [1, 1, 28, 28], "tensor(float)")
    assert (o.name, o.shape, o.type) == ("logits", [1, 10], "tensor(float)")


def test_any_value_can_be_an_output(rng):
    m = lenet5()
    x = rng.standard_normal((1, 1, 28, 28)).astype(np.float32)
    names = ["c1", "p1", "f", "h2", "logits"]
    want = ort_run(_with_outputs(m, names), {"x": x})
    got = msgraph.InferenceSession(m).run(names, {"x": x})
    for w, g, n in zip(want, got, names):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5, err_msg=n)


def _with_outputs(m, names):
    import onnx
    from onnx import helper

    m2 = onnx.ModelProto()
    m2.CopyFrom(m)
    inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(m2).graph.value_info}
    del m2.graph.output[:]
    for n in names:
        m2.graph.output.append(inferred[n] if n in inferred else helper.make_empty_tensor_value_info(n))
    if "logits" in names:
        m2.graph.output[names.index("logits")].CopyFrom(m.graph.output[0])
    return m2


def test_repeated_runs_are_independent(rng):
    sess = msgraph.InferenceSession(mlp(batch=1))
    xs = [rng.standard_normal((1, 784)).astype(np.float32) for _ in range(3)]
    first = [sess.run(None, {"x": x})[0] for x in xs]
    again = [sess.run(None, {"x": x})[0] for x in xs]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])


@pytest.fixture(scope="module")
def sess():
    return msgraph.InferenceSession(lenet5())


class TestBadInput:
    def test_missing_feed(self, sess):
        with pytest.raises(InputError, match="missing \\['x'\\]"):
            sess.run(None, {})

    def test_extra_feed(self, sess):
        x = np.zeros((1, 1, 28, 28), np.float32)
        with pytest.raises(InputError, match="unexpected \\['z'\\]"):
            sess.run(None, {"x": x, "z": x})

    def test_wrong_dtype(self, sess):
        with pytest.raises(InputError, match="must be float32, got float64"):
            sess.run(None, {"x": np.zeros((1, 1, 28, 28))})

    def test_wrong_shape(self, sess):
        with pytest.raises(InputError, match=r"shape \[1, 1, 28, 28\], got \[1, 1, 28, 27\]"):
            sess.run(None, {"x": np.zeros((1, 1, 28, 27), np.float32)})

    def test_unknown_output(self, sess):
        with pytest.raises(InputError, match="'nope' is not a value"):
            sess.run(["nope"], {"x": np.zeros((1, 1, 28, 28), np.float32)})

    def test_errors_share_one_hierarchy(self):
        assert issubclass(InputError, msgraph.MsGraphError) and issubclass(InputError, ValueError)


def test_malformed_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07this is not a protobuf\xff\xff")
    with pytest.raises(GraphError, match="bad.onnx"):
        msgraph.InferenceSession(str(bad))
    with pytest.raises(GraphError, match="no ONNX model"):
        msgraph.InferenceSession(str(tmp_path / "missing.onnx"))


def test_two_unsupported_ops_named_at_once():
    from onnx import TensorProto, helper
    from onnx_builders import model

    n = helper.make_node
    m = model([n("Relu", ["x"], ["a"], name="ok"), n("Cos", ["a"], ["b"], name="the_cos"),
               n("Sin", ["b"], ["y"], name="the_sin")],
              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    with pytest.raises(UnsupportedOpError) as e:
        msgraph.InferenceSession(m)
    assert "the_cos" in str(e.value) and "the_sin" in str(e.value)
    assert [p[1] for p in e.value.problems] == ["Cos", "Sin"]
    assert isinstance(e.value, NotImplementedError)


def test_run_node_backend_api(rng):
    from onnx import helper

    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4,)).astype(np.float32)
    (y,) = backend.run_node(helper.make_node("Add", ["a", "b"], ["y"]), [a, b])
    np.testing.assert_array_equal(y, a + b)
    assert backend.supports_device("CPU") and not backend.supports_device("CUDA")


def test_single_node_models(rng):
    x = rng.standard_normal((2, 3, 5)).astype(np.float32)
    for op, attrs in (("Softmax", {"axis": 1}), ("Sigmoid", {}), ("Tanh", {}), ("ArgMax", {"axis": 2})):
        m = single(op, {"x": x}, **attrs)
        (want,) = ort_run(m, {"x": x})
        (got,) = msgraph.InferenceSession(m).run(None, {"x": x})
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=op)
