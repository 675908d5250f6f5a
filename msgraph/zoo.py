"""Reference models written with the DSL, seeded random weights, traced at opset 17: an MLP, LeNet-5,
MobileNetV2, ResNet-18, SqueezeNet 1.1 and a transformer encoder layer. Imports only the DSL.

The architectures follow the originals (torchvision's layer sizes, parameter names and counts);
BatchNormalization nodes keep random running statistics (nothing is folded here). Every builder takes
`rng` (an int seed or a numpy Generator) and returns a validated ir.Graph with input "input" (the
transformer: "x") and output "output". A str `batch` is a symbolic dimension.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import dsl, nn
from .dsl import Cell, Parameter, Tensor
from .ir import Dim, Graph

OPSET = 17
F32 = np.float32


def _op(op: str, inputs: Sequence[Any], **attrs: Any) -> Tensor:
    x = next(t for t in inputs if isinstance(t, Tensor))
    return x.builder.op(op, list(inputs), **attrs)


# ---------------------------------------------------------------- building blocks
class BatchNorm2d(Cell):
    """Inference-mode BatchNormalization with random affine parameters and running statistics."""

    def __init__(self, channels: int, rng: np.random.Generator, eps: float = 1e-5):
        super().__init__()
        self.weight = Parameter(rng.uniform(0.5, 1.5, channels).astype(F32))
        self.bias = Parameter(rng.normal(0.0, 0.1, channels).astype(F32))
        self.running_mean = Parameter(rng.normal(0.0, 0.1, channels).astype(F32))
        self.running_var = Parameter(rng.uniform(0.5, 1.5, channels).astype(F32))
        self.eps = eps

    def construct(self, x: Tensor) -> Tensor:
        return _op("BatchNormalization", [x, self.weight, self.bias, self.running_mean, self.running_var],
                   epsilon=self.eps)


class ReLU6(Cell):
    """min(max(x, 0), 6) as Clip with constant min/max inputs (how torch exports it)."""

    def construct(self, x: Tensor) -> Tensor:
        return _op("Clip", [x, np.array(0, F32), np.array(6, F32)])


class GlobalAvgPool(Cell):
    """[N, C, H, W] -> [N, C] (GlobalAveragePool then Flatten)."""

    def construct(self, x: Tensor) -> Tensor:
        return dsl.flatten(_op("GlobalAveragePool", [x]), 1)


class ConvBNAct(Cell):
    """Conv (no bias, "same"-style symmetric padding) -> BatchNorm -> ReLU / ReLU6 / nothing."""

    def __init__(self, cin: int, cout: int, k: int, rng: np.random.Generator, stride: int = 1,
                 groups: int = 1, act: str | None = "relu"):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, pad_mode="pad", padding=(k - 1) // 2, group=groups,
                              rng=rng)
        self.bn = BatchNorm2d(cout, rng)
        self.act = {"relu": nn.ReLU(), "relu6": ReLU6(), None: None}[act]

    def construct(self, x: Tensor) -> Tensor:
        x = self.bn(self.conv(x))
        return self.act(x) if self.act is not None else x


class Linear(Cell):
    """x @ weight + bias on the last axis of any-rank x as MatMul + Add (weight [in, out], as torch's
    exporter writes nn.Linear on rank-3 inputs)."""

    def __init__(self, cin: int, cout: int, rng: np.random.Generator):
        super().__init__()
        bound = 1.0 / np.sqrt(cin)
        self.weight = Parameter(rng.uniform(-bound, bound, (cin, cout)).astype(F32))
        self.bias = Parameter(rng.uniform(-bound, bound, cout).astype(F32))

    def construct(self, x: Tensor) -> Tensor:
        return x @ self.weight + self.bias


class LayerNorm(Cell):
    def __init__(self, d: int, rng: np.random.Generator, eps: float = 1e-5):
        super().__init__()
        self.weight = Parameter(rng.uniform(0.5, 1.5, d).astype(F32))
        self.bias = Parameter(rng.normal(0.0, 0.1, d).astype(F32))
        self.eps = eps

    def construct(self, x: Tensor) -> Tensor:
        return _op("LayerNormalization", [x, self.weight, self.bias], axis=-1, epsilon=self.eps)


def gelu(x: Tensor) -> Tensor:
    """Exact GELU, x * 0.5 * (1 + erf(x / sqrt(2))), in the node order torch exports it."""
    return x * (_op("Erf", [x / np.array(np.sqrt(2.0), F32)]) + np.array(1, F32)) * np.array(0.5, F32)


# ---------------------------------------------------------------- small models
class MLP(Cell):
    """784-512-256-10, ReLU between layers, logits out (no softmax)."""

    def __init__(self, rng: np.random.Generator):
        super().__init__()
        self.fc1 = nn.Dense(784, 512, "relu", rng=rng)
        self.fc2 = nn.Dense(512, 256, "relu", rng=rng)
        self.fc3 = nn.Dense(256, 10, rng=rng)

    def construct(self, x: Tensor) -> Tensor:
        return self.fc3(self.fc2(self.fc1(x)))


class LeNet5(Cell):
    """LeNet-5 on 1x28x28: conv5x5(6, pad 2)-relu-maxpool2, conv5x5(16)-relu-maxpool2, 400-120-84-10."""

    def __init__(self, rng: np.random.Generator):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, pad_mode="pad", padding=2, has_bias=True, rng=rng)
        self.conv2 = nn.Conv2d(6, 16, 5, pad_mode="valid", has_bias=True, rng=rng)
        self.relu = nn.ReLU()
        self.max_pool2d = nn.MaxPool2d(kernel_size=2, stride=2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Dense(400, 120, rng=rng)
        self.fc2 = nn.Dense(120, 84, rng=rng)
        self.fc3 = nn.Dense(84, 10, rng=rng)

    def construct(self, x: Tensor) -> Tensor:
        x = self.max_pool2d(self.relu(self.conv1(x)))
        x = self.max_pool2d(self.relu(self.conv2(x)))
        x = self.flatten(x)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


# ---------------------------------------------------------------- MobileNetV2
class InvertedResidual(Cell):
    """1x1 expand (ReLU6) -> 3x3 depthwise (ReLU6) -> 1x1 linear projection, + x when shapes agree."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int, rng: np.random.Generator):
        super().__init__()
        hidden = cin * expand
        layers = [ConvBNAct(cin, hidden, 1, rng, act="relu6")] if expand != 1 else []
        layers += [ConvBNAct(hidden, hidden, 3, rng, stride, groups=hidden, act="relu6"),
                   ConvBNAct(hidden, cout, 1, rng, act=None)]
        self.conv = nn.SequentialCell(layers)
        self.residual = stride == 1 and cin == cout

    def construct(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(Cell):
    """torchvision's MobileNetV2 (width 1.0): 17 inverted residual blocks, 1280 features, 1000 classes."""

    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1))  # expansion t, channels c, repeats n, first stride s

    def __init__(self, rng: np.random.Generator, num_classes: int = 1000):
        super().__init__()
        layers: list[Cell] = [ConvBNAct(3, 32, 3, rng, 2, act="relu6")]
        cin = 32
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t, rng))
                cin = c
        layers.append(ConvBNAct(cin, 1280, 1, rng, act="relu6"))
        self.features = nn.SequentialCell(layers)
        self.pool = GlobalAvgPool()
        self.classifier = nn.Dense(1280, num_classes, rng=rng)

    def construct(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.features(x)))


# ---------------------------------------------------------------- ResNet-18
class BasicBlock(Cell):
    """conv3x3-BN-ReLU-conv3x3-BN + shortcut (1x1 conv + BN when the shape changes), then ReLU."""

    def __init__(self, cin: int, cout: int, stride: int, rng: np.random.Generator):
        super().__init__()
        self.conv1 = ConvBNAct(cin, cout, 3, rng, stride)
        self.conv2 = ConvBNAct(cout, cout, 3, rng, act=None)
        self.downsample = ConvBNAct(cin, cout, 1, rng, stride, act=None) if stride != 1 or cin != cout else None

    def construct(self, x: Tensor) -> Tensor:
        shortcut = self.downsample(x) if self.downsample is not None else x
        return dsl.relu(self.conv2(self.conv1(x)) + shortcut)


class ResNet18(Cell):
    """torchvision's resnet18: 7x7/2 stem, 3x3/2 max pool, 4 stages of 2 BasicBlocks, 512 -> 1000."""

    def __init__(self, rng: np.random.Generator, num_classes: int = 1000):
        super().__init__()
        self.stem = ConvBNAct(3, 64, 7, rng, 2)
        cin, stages = 64, []
        for i, c in enumerate((64, 128, 256, 512)):
            stages.append(nn.SequentialCell(BasicBlock(cin, c, 1 if i == 0 else 2, rng),
                                            BasicBlock(c, c, 1, rng)))
            cin = c
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = GlobalAvgPool()
        self.fc = nn.Dense(512, num_classes, rng=rng)

    def construct(self, x: Tensor) -> Tensor:
        x = dsl.max_pool2d(self.stem(x), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.pool(x))


# ---------------------------------------------------------------- SqueezeNet 1.1
class Fire(Cell):
    """1x1 squeeze (ReLU), then 1x1 and 3x3 expands (ReLU each) concatenated on channels."""

    def __init__(self, cin: int, squeeze: int, e1: int, e3: int, rng: np.random.Generator):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1, pad_mode="valid", has_bias=True, rng=rng)
        self.expand1x1 = nn.Conv2d(squeeze, e1, 1, pad_mode="valid", has_bias=True, rng=rng)
        self.expand3x3 = nn.Conv2d(squeeze, e3, 3, pad_mode="pad", padding=1, has_bias=True, rng=rng)

    def construct(self, x: Tensor) -> Tensor:
        s = dsl.relu(self.squeeze(x))
        return _op("Concat", [dsl.relu(self.expand1x1(s)), dsl.relu(self.expand3x3(s))], axis=1)


class SqueezeNet11(Cell):
    """torchvision's squeezenet1_1: 3x3/2 conv, three ceil-mode 3x3/2 max pools between 8 Fire modules,
    final 1x1 conv + ReLU + global average pool (1000 classes)."""

    FIRES = ((64, 16, 64, 64), (128, 16, 64, 64), "pool", (128, 32, 128, 128), (256, 32, 128, 128), "pool",
             (256, 48, 192, 192), (384, 48, 192, 192), (384, 64, 256, 256), (512, 64, 256, 256))

    def __init__(self, rng: np.random.Generator, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 2, pad_mode="valid", has_bias=True, rng=rng)
        self.fires = nn.SequentialCell([_CeilPool() if f == "pool" else Fire(*f, rng=rng) for f in self.FIRES])
        self.classifier = nn.Conv2d(512, num_classes, 1, pad_mode="valid", has_bias=True, rng=rng)
        self.pool = GlobalAvgPool()

    def construct(self, x: Tensor) -> Tensor:
        x = _CeilPool()(dsl.relu(self.conv1(x)))
        return self.pool(dsl.relu(self.classifier(self.fires(x))))


class _CeilPool(Cell):
    def construct(self, x: Tensor) -> Tensor:
        return dsl.max_pool2d(x, 3, 2, ceil_mode=True)


# ---------------------------------------------------------------- transformer encoder layer
class MultiHeadAttention(Cell):
    """Self-attention: Q/K/V projections (MatMul + Add), Reshape/Transpose to [B, heads, S, d_head],
    softmax(Q K^T / sqrt(d_head)) V, back to [B, S, d_model], output projection."""

    def __init__(self, d_model: int, heads: int, rng: np.random.Generator):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by heads {heads}")
        self.heads, self.d_head = heads, d_model // heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (Linear(d_model, d_model, rng) for _ in range(4))

    def _split(self, x: Tensor, perm: tuple[int, ...]) -> Tensor:
        x = dsl.reshape(x, (0, 0, self.heads, self.d_head))  # 0: copy batch and sequence dims
        return _op("Transpose", [x], perm=perm)

    def construct(self, x: Tensor) -> Tensor:
        q = self._split(self.q_proj(x), (0, 2, 1, 3))  # [B, H, S, dh]
        k = self._split(self.k_proj(x), (0, 2, 3, 1))  # [B, H, dh, S]
        v = self._split(self.v_proj(x), (0, 2, 1, 3))
        scores = (q @ k) * np.array(1.0 / np.sqrt(self.d_head), F32)
        ctx = _op("Transpose", [dsl.softmax(scores, -1) @ v], perm=(0, 2, 1, 3))  # [B, S, H, dh]
        return self.out_proj(dsl.reshape(ctx, (0, 0, self.heads * self.d_head)))


class TransformerEncoderLayer(Cell):
    """torch.nn.TransformerEncoderLayer(activation="gelu", dropout=0) in eval mode: post-LN by default
    (x = LN1(x + MHA(x)); x = LN2(x + FFN(x))), pre-LN with norm_first."""

    def __init__(self, d_model: int, heads: int, d_ff: int, rng: np.random.Generator, norm_first: bool = False):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, heads, rng)
        self.linear1, self.linear2 = Linear(d_model, d_ff, rng), Linear(d_ff, d_model, rng)
        self.norm1, self.norm2 = LayerNorm(d_model, rng), LayerNorm(d_model, rng)
        self.norm_first = norm_first

    def construct(self, x: Tensor) -> Tensor:
        ffn = lambda h: self.linear2(gelu(self.linear1(h)))
        if self.norm_first:
            x = x + self.self_attn(self.norm1(x))
            return x + ffn(self.norm2(x))
        x = self.norm1(x + self.self_attn(x))
        return self.norm2(x + ffn(x))


# ---------------------------------------------------------------- traced graphs
def _trace(cell: Cell, name: str, shape: tuple[Dim, ...], input_name: str = "input") -> Graph:
    return dsl.trace(cell, {input_name: ("float32", shape)}, OPSET, name)


def mlp(batch: Dim = 1, rng: nn.Rng = 0) -> Graph:
    """The 784-512-256-10 MLP (models/mlp.onnx), input [batch, 784]."""
    return _trace(MLP(nn._rng(rng)), "mlp", (batch, 784))


def lenet5(batch: Dim = 1, rng: nn.Rng = 1) -> Graph:
    """LeNet-5 (models/lenet5.onnx), input [batch, 1, 28, 28]."""
    return _trace(LeNet5(nn._rng(rng)), "lenet5", (batch, 1, 28, 28))


def mobilenet_v2(batch: Dim = 1, rng: nn.Rng = 0, size: int = 224, num_classes: int = 1000) -> Graph:
    """MobileNetV2, input [batch, 3, size, size] -> logits [batch, num_classes]."""
    return _trace(MobileNetV2(nn._rng(rng), num_classes), "mobilenet_v2", (batch, 3, size, size))


def resnet18(batch: Dim = 1, rng: nn.Rng = 0, size: int = 224, num_classes: int = 1000) -> Graph:
    """ResNet-18, input [batch, 3, size, size] -> logits [batch, num_classes]."""
    return _trace(ResNet18(nn._rng(rng), num_classes), "resnet18", (batch, 3, size, size))


def squeezenet1_1(batch: Dim = 1, rng: nn.Rng = 0, size: int = 224, num_classes: int = 1000) -> Graph:
    """SqueezeNet 1.1, input [batch, 3, size, size] -> class scores [batch, num_classes] (after ReLU)."""
    return _trace(SqueezeNet11(nn._rng(rng), num_classes), "squeezenet1_1", (batch, 3, size, size))


def transformer_encoder_layer(batch: Dim = 1, seq: Dim = 128, d_model: int = 256, heads: int = 4,
                              d_ff: int = 1024, rng: nn.Rng = 0, norm_first: bool = False) -> Graph:
    """One transformer encoder layer, input "x" [batch, seq, d_model] -> the same shape."""
    cell = TransformerEncoderLayer(d_model, heads, d_ff, nn._rng(rng), norm_first)
    return _trace(cell, "transformer_encoder_layer", (batch, seq, d_model), "x")


MODELS = {"mlp": mlp, "lenet5": lenet5, "mobilenet_v2": mobilenet_v2, "resnet18": resnet18,
          "squeezenet1_1": squeezenet1_1, "transformer_encoder_layer": transformer_encoder_layer}

__all__ = ["MODELS", "lenet5", "mlp", "mobilenet_v2", "resnet18", "squeezenet1_1", "transformer_encoder_layer"]
