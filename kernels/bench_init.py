"""Times the load-time (init step) kernels that transform constant conv weights: conv2d_winograd{,4}_weights
and conv2d_pack_weights, on ResNet-18's 3x3 stride-1 layer shapes (batch 1), and their sum over ResNet-18's
layers as the lowering emits them (winograd_tile picks F(4x4) for 64/128/256 channels, F(2x2) for 512).

Usage: PYTHONPATH=. python kernels/bench_init.py [f32|f64]   (ms per layer and GB/s of output, best of 7 x 3
runs, CPU time; the weights and the output stay paged in between runs; MG_KERNELS_WASM=path benchmarks another
build)
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import kernel_harness as kh

from msgraph.ops.nn import winograd_tile

# name: C = M, H = W (3x3, stride 1, pads 1), how many such convs ResNet-18 has
LAYERS = {"resnet 3x3 64->64 56": (64, 56, 4), "resnet 3x3 128->128 28": (128, 28, 3),
          "resnet 3x3 256->256 14": (256, 14, 3), "resnet 3x3 512->512 7": (512, 7, 3)}
KERNELS = {2: "conv2d_winograd_weights", 4: "conv2d_winograd4_weights"}


def best_ms(name: str, w: np.ndarray, n_out: int, ints: list[int], dt: str) -> float:
    return kh.best_seconds(name, [w], [((n_out,), dt)], ints, repeat=3, rounds=7) * 1e3


if __name__ == "__main__":
    dt = sys.argv[1] if len(sys.argv) > 1 else "f32"
    item = np.dtype(kh.DTYPES[dt]).itemsize
    total = {2: 0.0, 4: 0.0, "pack": 0.0, "resnet": 0.0}
    for label, (C, H, count) in LAYERS.items():
        M = C
        w = np.random.default_rng(0).standard_normal((M, C, 3, 3)).astype(kh.DTYPES[dt])
        ints = [1, C, H, H, M, H, H, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]
        mp = -(-M // 4) * 4
        res = []
        for m, kernel in KERNELS.items():
            n = (m + 2) ** 2 * mp * C
            ms = best_ms(f"{dt}_{kernel}", w, n, ints, dt)
            total[m] += ms * count
            if m == winograd_tile(C, M, H, H):
                total["resnet"] += ms * count
            res.append(f"F({m}x{m}) {ms:7.3f} ms ({n * item / ms / 1e6:5.1f} GB/s)")
        ms = best_ms(f"{dt}_conv2d_pack_weights", w, mp * C * 9, ints, dt)
        total["pack"] += ms * count
        res.append(f"pack {ms:6.3f} ms ({mp * C * 9 * item / ms / 1e6:5.1f} GB/s)")
        print(f"{label:24s} x{count} " + " | ".join(res), flush=True)
    print(f"ResNet-18 sums: Winograd weights as lowered {total['resnet']:.2f} ms (all F(2x2) {total[2]:.2f}, "
          f"all F(4x4) {total[4]:.2f}); conv2d_pack_weights on the same layers {total['pack']:.2f} ms")
