"""Models exported by torch.onnx (both exporters, opset 17) match onnxruntime on msgraph."""
import numpy as np
import onnx
import pytest
import torch
from conftest import ort_run
from torch import nn

import msgraph
from backend_wasm import backend


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))

    def forward(self, x):
        return self.net(x)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
        self.f1, self.f2, self.f3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.c1(x)), 2)
        x = nn.functional.avg_pool2d(torch.relu(self.c2(x)), 2)
        x = torch.flatten(x, 1)
        return self.f3(torch.relu(self.f2(torch.relu(self.f1(x)))))


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("net,shape", [(MLP, (1, 784)), (LeNet5, (1, 1, 28, 28))], ids=["mlp", "lenet5"])
def test_torch_exported_model_matches_onnxruntime(net, shape, dynamo, tmp_path):
    torch.manual_seed(0)
    module = net().eval()
    x = torch.randn(*shape)
    path = tmp_path / "m.onnx"
    torch.onnx.export(module, (x,), str(path), opset_version=17, dynamo=dynamo, input_names=["x"],
                      output_names=["y"])
    m = onnx.load(str(path))
    feeds = {"x": x.numpy()}
    (want,) = ort_run(m, feeds)
    with torch.no_grad():
        np.testing.assert_allclose(module(x).numpy(), want, rtol=1e-4, atol=1e-5)
    (got,) = msgraph.InferenceSession(str(path)).run(None, feeds)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    (via_backend,) = backend.prepare(m).run(feeds)
    np.testing.assert_allclose(via_backend, want, rtol=1e-4, atol=1e-5)


class ViewNet(nn.Module):
    """x.view(x.size(0), -1): the exporter writes Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""

    def __init__(self):
        super().__init__()
        self.c1, self.f1 = nn.Conv2d(1, 6, 5, padding=2), nn.Linear(6 * 14 * 14, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.c1(x)), 2)
        return self.f1(x.view(x.size(0), -1))


def test_symbolic_batch_with_a_shape_subgraph(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "view.onnx"
    torch.onnx.export(ViewNet().eval(), (torch.randn(1, 1, 28, 28),), str(path), opset_version=17, dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {0: "N"}})
    m = onnx.load(str(path))
    assert {"Shape", "Gather", "Concat"} <= {n.op_type for n in m.graph.node}
    sess = msgraph.InferenceSession(str(path))
    for n in (1, 3):
        x = np.random.default_rng(n).standard_normal((n, 1, 28, 28)).astype(np.float32)
        np.testing.assert_allclose(sess.run(None, {"x": x})[0], ort_run(m, {"x": x})[0], rtol=1e-4, atol=1e-5)
        plan_ops = {s.op for s in sess.plan({"x": x}).steps}
        assert plan_ops - {"Relu"} == {"Conv", "MaxPool", "Gemm"}  # shape subgraph folded away (Relu maybe fused)
