"""The DSL model zoo (msgraph.zoo): architectures as the originals, and each model, exported to ONNX, gives
the same numbers on msgraph (from the Graph and from the exported file) as on onnxruntime."""
from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
from conftest import ort_run

import msgraph
from msgraph import zoo
from msgraph.ir import Graph
from msgraph.onnx_export import to_onnx

NAMES = ["mlp", "lenet5", "mobilenet_v2", "resnet18", "squeezenet1_1", "transformer_encoder_layer"]


def feeds_for(g: Graph, seed: int = 0, batch: int | None = None) -> dict[str, np.ndarray]:
    shape = tuple(batch if isinstance(d, str) else d for d in g.type(g.inputs[0]).shape)
    return {g.inputs[0]: np.random.default_rng(seed).standard_normal(shape).astype(np.float32)}


def assert_close(got: np.ndarray, want: np.ndarray) -> None:
    # float32 sums in another order: errors scale with the output's magnitude (ResNet-18's logits reach ~500)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("name", NAMES)
def test_zoo_model_matches_onnxruntime(name, tmp_path):
    g = zoo.MODELS[name]()
    model = to_onnx(g)
    onnx.checker.check_model(model, full_check=True)
    feeds = feeds_for(g)
    (want,) = ort_run(model, feeds)
    assert np.all(np.isfinite(want)) and np.abs(want).max() > 0.1  # not a vanishing signal
    (got,) = msgraph.InferenceSession(g).run(None, feeds)
    assert_close(got, want)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    (from_file,) = msgraph.InferenceSession(str(path)).run(None, feeds)
    assert_close(from_file, want)


def n_params(g: Graph) -> int:
    """Learnable parameters (weights and biases; not BatchNorm's running statistics), as torchvision counts."""
    return sum(v.const.size for k, v in g.values.items()
               if v.const is not None and k.rsplit(".", 1)[-1] in ("weight", "bias"))


def op_counts(g: Graph) -> Counter:
    return Counter(n.op for n in g.nodes)


def test_mobilenet_v2_architecture():
    g = zoo.mobilenet_v2()
    c = op_counts(g)
    assert n_params(g) == 3_504_872  # torchvision.models.mobilenet_v2()
    assert (c["Conv"], c["BatchNormalization"], c["Clip"], c["Add"], c["GlobalAveragePool"], c["Gemm"]) == \
        (52, 52, 35, 10, 1, 1)
    depthwise = [n for n in g.nodes if n.op == "Conv" and n.attrs.get("group", 1) > 1]
    assert len(depthwise) == 17 and all(n.attrs["kernel_shape"] == (3, 3) for n in depthwise)
    for n in g.nodes:
        if n.op == "Clip":
            assert (g.const(n.inputs[1]), g.const(n.inputs[2])) == (0, 6)  # ReLU6
    assert g.type("output").shape == (1, 1000)


def test_resnet18_architecture():
    g = zoo.resnet18()
    c = op_counts(g)
    assert n_params(g) == 11_689_512  # torchvision.models.resnet18()
    assert (c["Conv"], c["BatchNormalization"], c["Relu"], c["Add"], c["MaxPool"], c["GlobalAveragePool"]) == \
        (20, 20, 17, 8, 1, 1)
    downsample = [n for n in g.nodes if n.op == "Conv" and n.attrs["kernel_shape"] == (1, 1)]
    assert len(downsample) == 3 and all(n.attrs["strides"] == (2, 2) for n in downsample)


def test_squeezenet1_1_architecture():
    g = zoo.squeezenet1_1()
    c = op_counts(g)
    assert n_params(g) == 1_235_496  # torchvision.models.squeezenet1_1()
    assert (c["Conv"], c["Relu"], c["Concat"], c["MaxPool"], c["GlobalAveragePool"]) == (26, 26, 8, 3, 1)
    assert all(n.attrs.get("ceil_mode") == 1 for n in g.nodes if n.op == "MaxPool")
    assert [g.type(n.outputs[0]).shape[2:] for n in g.nodes if n.op == "MaxPool"] == [(55, 55), (27, 27), (13, 13)]
    g = zoo.squeezenet1_1(size=225)  # 112 after conv1: here ceil mode counts (floor: 55, 27, 13)
    assert [g.type(n.outputs[0]).shape[2:] for n in g.nodes if n.op == "MaxPool"] == [(56, 56), (28, 28), (14, 14)]


def test_transformer_encoder_layer_architecture():
    g = zoo.transformer_encoder_layer()
    c = op_counts(g)
    assert n_params(g) == 789_760  # torch.nn.TransformerEncoderLayer(256, 4, 1024)
    assert (c["MatMul"], c["Softmax"], c["LayerNormalization"], c["Erf"], c["Transpose"], c["Reshape"]) == \
        (8, 1, 2, 1, 4, 4)
    heads = [g.type(n.outputs[0]).shape for n in g.nodes if n.op == "Transpose"]
    assert heads[:3] == [(1, 4, 128, 64), (1, 4, 64, 128), (1, 4, 128, 64)]
    assert g.type("output").shape == (1, 128, 256)


def test_symbolic_batch_cnn():
    g = zoo.squeezenet1_1(batch="N", size=97)  # 48 after conv1: ceil-mode pools
    model = to_onnx(g)
    sess = msgraph.InferenceSession(g)
    for batch in (1, 3):
        feeds = feeds_for(g, batch, batch)
        (want,) = ort_run(model, feeds)
        (got,) = sess.run(None, feeds)
        assert got.shape == (batch, 1000)
        assert_close(got, want)


def test_pre_ln_transformer_with_symbolic_batch_and_sequence():
    g = zoo.transformer_encoder_layer(batch="B", seq="S", d_model=64, heads=4, d_ff=128, rng=5, norm_first=True)
    model = to_onnx(g)
    sess = msgraph.InferenceSession(g)
    for batch, seq in ((1, 7), (2, 16)):
        x = np.random.default_rng(seq).standard_normal((batch, seq, 64)).astype(np.float32)
        (want,) = ort_run(model, {"x": x})
        (got,) = sess.run(None, {"x": x})
        assert_close(got, want)


def test_mlp_and_lenet5_are_the_shipped_models():
    from pathlib import Path
    models = Path(__file__).resolve().parent.parent / "models"
    assert to_onnx(zoo.mlp()).SerializeToString() == (models / "mlp.onnx").read_bytes()
    assert to_onnx(zoo.lenet5()).SerializeToString() == (models / "lenet5.onnx").read_bytes()


def test_build_script_writes_the_large_models(tmp_path):
    import importlib.util
    from pathlib import Path
    script = Path(__file__).resolve().parent.parent / "models" / "build_models.py"
    spec = importlib.util.spec_from_file_location("build_models", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert set(mod.LARGE) <= set(zoo.MODELS)
    (path,) = mod.build_large(tmp_path, ("transformer_encoder_layer",))
    assert path.name == "transformer_encoder_layer.onnx"
    assert path.read_bytes() == to_onnx(zoo.transformer_encoder_layer()).SerializeToString()  # deterministic
