"""Builds the example models with the msgraph DSL and writes them: `python models/build_models.py [out_dir]`.

Writes mlp.onnx (784-512-256-10), lenet5.onnx (1x1x28x28 -> 10), both opset 17 with seeded He-init
weights, and digit.npy (1x1x28x28 float32, a procedurally drawn "3") and mlp_input.npy (the same, 1x784).
Everything is deterministic: running it again gives byte-identical files.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # build from this checkout

from msgraph import dsl, nn
from msgraph.onnx_export import to_onnx

OPSET = 17


class MLP(dsl.Cell):
    """784-512-256-10, ReLU between layers, logits out (no softmax)."""

    def __init__(self, rng: np.random.Generator):
        super().__init__()
        self.fc1 = nn.Dense(784, 512, "relu", rng=rng)
        self.fc2 = nn.Dense(512, 256, "relu", rng=rng)
        self.fc3 = nn.Dense(256, 10, rng=rng)

    def construct(self, x):
        return self.fc3(self.fc2(self.fc1(x)))


class LeNet5(dsl.Cell):
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

    def construct(self, x):
        x = self.max_pool2d(self.relu(self.conv1(x)))
        x = self.max_pool2d(self.relu(self.conv2(x)))
        x = self.flatten(x)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


def build_mlp(seed: int = 0):
    return dsl.trace(MLP(np.random.default_rng(seed)), {"input": ("float32", (1, 784))}, OPSET, "mlp")


def build_lenet5(seed: int = 1):
    cell = LeNet5(np.random.default_rng(seed))
    return dsl.trace(cell, {"input": ("float32", (1, 1, 28, 28))}, OPSET, "lenet5")


def draw_digit(seed: int = 3) -> np.ndarray:
    """A handwritten-looking "3" (1x1x28x28 float32 in [0, 1]): two slanted, slightly wobbly arcs drawn
    as a soft-edged pen stroke."""
    g = np.random.default_rng(seed)
    points = []
    for (cx, cy, r, t0, t1) in ((14.0, 9.0, 5.0, -150, 90), (14.5, 18.8, 5.6, -90, 150)):
        t = np.radians(np.linspace(t0, t1, 120))
        wobble = 1 + 0.06 * np.sin(3 * t + g.uniform(0, np.pi)) + g.normal(0, 0.01, t.size)
        x, y = cx + r * wobble * np.cos(t), cy + r * wobble * np.sin(t)
        points.append(np.stack([x + 0.18 * (14 - y), y], 1))  # slant to the right
    pts = np.concatenate(points)
    yy, xx = np.mgrid[0:28, 0:28] + 0.5
    dist = np.sqrt((xx[..., None] - pts[:, 0]) ** 2 + (yy[..., None] - pts[:, 1]) ** 2).min(-1)
    img = np.clip((1.9 - dist) / 1.1, 0.0, 1.0)
    return img.astype(np.float32).reshape(1, 1, 28, 28)


def build_all(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, graph in (("mlp.onnx", build_mlp()), ("lenet5.onnx", build_lenet5())):
        path = out_dir / name
        path.write_bytes(to_onnx(graph).SerializeToString())
        written.append(path)
    digit = draw_digit()
    for name, array in (("digit.npy", digit), ("mlp_input.npy", digit.reshape(1, 784))):
        np.save(out_dir / name, array)
        written.append(out_dir / name)
    return written


if __name__ == "__main__":
    for p in build_all(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent):
        print(f"wrote {p} ({p.stat().st_size} bytes)")
