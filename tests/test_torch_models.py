"""Real architectures exported by torch.onnx (opset 17, both exporters) run on msgraph as on onnxruntime:
MobileNetV2, ResNet-18, SqueezeNet 1.1 (torchvision's layouts, rewritten here: torchvision is not
installed) and a transformer encoder layer, with random weights and random BatchNorm running statistics."""
from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
import torch
from conftest import ort_run
from torch import nn
from torch.nn import functional as F

import msgraph


# ---------------------------------------------------------------- MobileNetV2
def conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: type | None = nn.ReLU6):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, *([act(inplace=True)] if act else []))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, t: int):
        super().__init__()
        hidden = cin * t
        layers = [conv_bn(cin, hidden, 1)] if t != 1 else []
        layers += [conv_bn(hidden, hidden, 3, stride, hidden), conv_bn(hidden, cout, 1, act=None)]
        self.conv = nn.Sequential(*layers)
        self.use_res = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        layers, cin = [conv_bn(3, 32, 3, 2)], 32
        for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                           (6, 160, 3, 2), (6, 320, 1, 1)):
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(conv_bn(cin, 1280, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# ---------------------------------------------------------------- ResNet-18
class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin, stages = 64, []
        for i, c in enumerate((64, 128, 256, 512)):
            stages.append(nn.Sequential(BasicBlock(cin, c, 1 if i == 0 else 2), BasicBlock(c, c, 1)))
            cin = c
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ---------------------------------------------------------------- SqueezeNet 1.1
class Fire(nn.Module):
    def __init__(self, cin: int, squeeze: int, e1: int, e3: int):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.expand1x1 = nn.Conv2d(squeeze, e1, 1)
        self.expand3x3 = nn.Conv2d(squeeze, e3, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.expand1x1(x)), F.relu(self.expand3x3(x))], 1)


class SqueezeNet11(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, 2), nn.ReLU(inplace=True), pool(), Fire(64, 16, 64, 64), Fire(128, 16, 64, 64),
            pool(), Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(), Fire(256, 48, 192, 192),
            Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(512, num_classes, 1), nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


# ---------------------------------------------------------------- transformer encoder layer
class EncoderLayer(nn.Module):
    """Post-LN encoder layer written out: Q/K/V Linear (MatMul + Add), split into heads by view/transpose,
    softmax(QK^T / sqrt(d)) V, output projection, residual + LayerNorm, FFN with exact (Erf) GELU."""

    def __init__(self, d_model: int = 256, heads: int = 4, d_ff: int = 1024):
        super().__init__()
        self.heads, self.d_head = heads, d_model // heads
        self.q, self.k, self.v, self.o = (nn.Linear(d_model, d_model) for _ in range(4))
        self.ff1, self.ff2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)

    def forward(self, x):
        b, s, d = x.shape
        split = lambda t: t.view(b, s, self.heads, self.d_head).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        att = torch.softmax(q @ k.transpose(-2, -1) / self.d_head ** 0.5, dim=-1)
        x = self.norm1(x + self.o((att @ v).transpose(1, 2).reshape(b, s, d)))
        return self.norm2(x + self.ff2(F.gelu(self.ff1(x))))


def torch_encoder_layer() -> nn.Module:
    """torch's own nn.TransformerEncoderLayer (packed in-projection, batch-first, GELU, no dropout)."""
    return nn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, activation="gelu", batch_first=True)


# ---------------------------------------------------------------- helpers
def make(net, shape: tuple[int, ...], seed: int = 0) -> nn.Module:
    """The module in eval mode with random weights; BatchNorm running statistics are those of a random
    batch (so activations stay O(1) through the depth), then randomly perturbed, as are gamma and beta."""
    torch.manual_seed(seed)
    module = net()
    bns = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    if bns:
        for m in bns:
            m.momentum = None  # running stats = the average over the calibration batch
        module.train()
        with torch.no_grad():
            module(torch.randn(2, *shape[1:]))
            for m in bns:
                m.running_mean.add_(0.1 * torch.randn_like(m.running_mean) * m.running_var.sqrt())
                m.running_var.mul_(torch.empty_like(m.running_var).uniform_(0.5, 1.5))
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
    return module.eval()


def export(module: nn.Module, x: torch.Tensor, path, dynamo: bool, dynamic_batch: bool = False,
           fold: bool = True) -> onnx.ModelProto:
    """torch.onnx.export at opset 17 (the dynamo exporter keeps 18 where it cannot convert down: CNNs whose
    average pool it writes as ReduceMean); fold=False keeps BatchNormalization nodes (else folded into Conv)."""
    kw = {"dynamic_axes": {"x": {0: "N"}, "y": {0: "N"}}} if dynamic_batch else {}
    if not fold:
        kw["do_constant_folding"] = False
    torch.onnx.export(module, (x,), str(path), opset_version=17, dynamo=dynamo, input_names=["x"],
                      output_names=["y"], **kw)
    return onnx.load(str(path))


def assert_close(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(want).max())))


CASES = {  # id: (module factory, input shape, export options)
    "mobilenet_v2-torchscript": (MobileNetV2, (1, 3, 224, 224), {}),
    "resnet18-torchscript": (ResNet18, (1, 3, 224, 224), {}),
    "squeezenet1_1-torchscript": (SqueezeNet11, (1, 3, 224, 224), {}),
    "transformer-torchscript": (EncoderLayer, (1, 128, 256), {}),
    "resnet18-torchscript-batchnorm": (ResNet18, (1, 3, 112, 112), {"fold": False}),
    "mobilenet_v2-dynamo": (MobileNetV2, (1, 3, 112, 112), {"dynamo": True}),
    "resnet18-dynamo": (ResNet18, (1, 3, 112, 112), {"dynamo": True}),
    "squeezenet1_1-dynamo": (SqueezeNet11, (1, 3, 113, 113), {"dynamo": True}),  # 56 after conv1: ceil counts
    "transformer-dynamo": (EncoderLayer, (1, 128, 256), {"dynamo": True}),
    "nn_transformer-dynamo": (torch_encoder_layer, (1, 128, 256), {"dynamo": True}),  # the torchscript
}  # exporter fails on nn.TransformerEncoderLayer in torch 2.13 (is_causal passed as a Tensor to SDPA)


@pytest.mark.parametrize("case", list(CASES))
def test_torch_model_matches_onnxruntime(case, tmp_path):
    net, shape, options = CASES[case]
    module = make(net, shape)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    model = export(module, x, tmp_path / "m.onnx", options.get("dynamo", False), fold=options.get("fold", True))
    assert model.opset_import[0].version in (17, 18)
    if not options.get("fold", True):
        assert Counter(n.op_type for n in model.graph.node)["BatchNormalization"] == 20
    feeds = {"x": x.numpy()}
    (want,) = ort_run(model, feeds)
    with torch.no_grad():
        assert_close(module(x).numpy(), want)  # the file is the module
    assert np.abs(want).max() > 0.01  # not a vanishing signal
    (got,) = msgraph.InferenceSession(str(tmp_path / "m.onnx")).run(None, feeds)
    assert_close(got, want)


def test_exported_architectures_use_the_expected_ops(tmp_path):
    ops = {}
    for name, net, shape in (("mobilenet", MobileNetV2, (1, 3, 64, 64)), ("squeezenet", SqueezeNet11, (1, 3, 64, 64)),
                             ("transformer", EncoderLayer, (1, 8, 256))):
        m = export(make(net, shape), torch.randn(*shape), tmp_path / f"{name}.onnx", dynamo=False)
        ops[name] = Counter(n.op_type for n in m.graph.node)
    assert ops["mobilenet"]["Clip"] == 35 and ops["mobilenet"]["Conv"] == 52  # ReLU6; BN folded into Conv
    assert ops["squeezenet"]["Concat"] == 8 and ops["squeezenet"]["MaxPool"] == 3
    assert {"Erf", "Softmax", "LayerNormalization", "Transpose", "MatMul"} <= set(ops["transformer"])


def test_symbolic_batch_cnn(tmp_path):
    module = make(ResNet18, (1, 3, 224, 224))
    path = tmp_path / "resnet18_dyn.onnx"
    model = export(module, torch.randn(1, 3, 224, 224), path, dynamo=False, dynamic_batch=True)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    sess = msgraph.InferenceSession(str(path))
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 3, 224, 224)).astype(np.float32)
        (want,) = ort_run(model, {"x": x})
        (got,) = sess.run(None, {"x": x})
        assert got.shape == (batch, 1000)
        assert_close(got, want)
