"""Builds the example models with the msgraph DSL (definitions in msgraph/zoo.py) and writes them:
`python models/build_models.py [out_dir] [--all DIR]`.

Writes mlp.onnx (784-512-256-10), lenet5.onnx (1x1x28x28 -> 10), both opset 17 with seeded He-init
weights, and digit.npy (1x1x28x28 float32, a procedurally drawn "3") and mlp_input.npy (the same, 1x784).
`--all DIR` writes the large models instead, into DIR (they are not shipped): mobilenet_v2.onnx (14 MB),
resnet18.onnx (47 MB), squeezenet1_1.onnx (5 MB), transformer_encoder_layer.onnx (3 MB).
Everything is deterministic: running it again gives byte-identical files.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # build from this checkout

from msgraph import zoo
from msgraph.onnx_export import to_onnx

OPSET = zoo.OPSET
LARGE = ("mobilenet_v2", "resnet18", "squeezenet1_1", "transformer_encoder_layer")


def build_mlp(seed: int = 0):
    return zoo.mlp(rng=seed)


def build_lenet5(seed: int = 1):
    return zoo.lenet5(rng=seed)


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


def build_large(out_dir: Path, names: tuple[str, ...] = LARGE) -> list[Path]:
    """The zoo's large models (default sizes and seeds) as ONNX files in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        path = out_dir / f"{name}.onnx"
        path.write_bytes(to_onnx(zoo.MODELS[name]()).SerializeToString())
        written.append(path)
    return written


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", nargs="?", type=Path, help="where the small models go (default: models/)")
    ap.add_argument("--all", metavar="DIR", type=Path, help="write the large models into DIR (and the small "
                    "ones only if out_dir is given)")
    args = ap.parse_args()
    paths = []
    if args.all is None or args.out_dir is not None:
        paths += build_all(args.out_dir or Path(__file__).resolve().parent)
    if args.all is not None:
        paths += build_large(args.all)
    for p in paths:
        print(f"wrote {p} ({p.stat().st_size} bytes)")
