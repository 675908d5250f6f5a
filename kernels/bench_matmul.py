"""Times f32_gemm on the transformer encoder layer's shapes (seq 128, d 256, 4 heads, FFN 1024; batched
attention as one gemm step with batch strides) through the test harness, CPU time, best of 10.

Usage: PYTHONPATH=. python kernels/bench_matmul.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import kernel_harness as kh

# label: M, N, K, trans_b, batch, act
SHAPES = {
    "qkv proj 128x768x256": (128, 768, 256, 0, 1, 0),
    "scores QK^T 4 x 128x128x64": (128, 128, 64, 0, 4, 0),
    "scores QK^T 4 x 128x128x64 trans_b": (128, 128, 64, 1, 4, 0),
    "context PV 4 x 128x64x128": (128, 64, 128, 0, 4, 0),
    "out proj 128x256x256": (128, 256, 256, 0, 1, 0),
    "ffn1 128x1024x256 + gelu": (128, 1024, 256, 0, 1, 5),
    "ffn2 128x256x1024": (128, 256, 1024, 0, 1, 0),
    "square 256^3": (256, 256, 256, 0, 1, 0),
}


def bench(M, N, K, tb, batch, act, repeat=10) -> float:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((batch, M, K)).astype(np.float32)
    b = rng.standard_normal((batch, N, K) if tb else (batch, K, N)).astype(np.float32)
    c = rng.standard_normal(N).astype(np.float32)
    ints = [M, N, K, 0, tb, kh.f32_bits(1.0), kh.f32_bits(1.0), 0, 1, batch, M * K, K * N, act, 0, 0]
    return kh.best_seconds("f32_gemm", [a, b, c], [((batch, M, N), "f32")], ints, repeat=repeat, rounds=10)


if __name__ == "__main__":
    for label, (M, N, K, tb, batch, act) in SHAPES.items():
        t = bench(M, N, K, tb, batch, act)
        print(f"{label:36s} {2.0 * M * N * K * batch / t / 1e9:5.1f} GFLOP/s {t * 1e6:8.1f} us", flush=True)
