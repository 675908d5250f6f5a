"""Times the conv paths (direct conv2d, conv2d_im2col (weights packed per run or at load), conv2d_winograd{,4},
dwconv2d, 1x1 as gemm) on layer shapes of ResNet-18,
MobileNetV2 and SqueezeNet (batch 1) through the test harness, and which one the lowering picks.

Usage: PYTHONPATH=. python kernels/bench_conv.py [filter]   (prints GFLOP/s and ms per layer, best of 5)
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import kernel_harness as kh

# name: C, H, W, M, K (square), stride, pad, group
LAYERS = {
    "resnet conv1 7x7 s2 3->64 224": (3, 224, 224, 64, 7, 2, 3, 1),
    "resnet 3x3 64->64 56": (64, 56, 56, 64, 3, 1, 1, 1),
    "resnet 3x3 s2 64->128 56": (64, 56, 56, 128, 3, 2, 1, 1),
    "resnet 3x3 128->128 28": (128, 28, 28, 128, 3, 1, 1, 1),
    "resnet 1x1 s2 64->128 56": (64, 56, 56, 128, 1, 2, 0, 1),
    "resnet 3x3 256->256 14": (256, 14, 14, 256, 3, 1, 1, 1),
    "resnet 3x3 512->512 7": (512, 7, 7, 512, 3, 1, 1, 1),
    "mbv2 conv 3x3 s2 3->32 224": (3, 224, 224, 32, 3, 2, 1, 1),
    "mbv2 dw 3x3 32 112": (32, 112, 112, 32, 3, 1, 1, 32),
    "mbv2 dw 3x3 s2 96 112": (96, 112, 112, 96, 3, 2, 1, 96),
    "mbv2 dw 3x3 144 56": (144, 56, 56, 144, 3, 1, 1, 144),
    "mbv2 dw 3x3 s2 144 56": (144, 56, 56, 144, 3, 2, 1, 144),
    "mbv2 dw 3x3 192 28": (192, 28, 28, 192, 3, 1, 1, 192),
    "mbv2 dw 3x3 576 14": (576, 14, 14, 576, 3, 1, 1, 576),
    "mbv2 dw 3x3 960 7": (960, 7, 7, 960, 3, 1, 1, 960),
    "mbv2 1x1 16->96 112": (16, 112, 112, 96, 1, 1, 0, 1),
    "mbv2 1x1 32->16 112": (32, 112, 112, 16, 1, 1, 0, 1),
    "mbv2 1x1 96->24 56": (96, 56, 56, 24, 1, 1, 0, 1),
    "mbv2 1x1 144->24 56": (144, 56, 56, 24, 1, 1, 0, 1),
    "mbv2 1x1 192->32 28": (192, 28, 28, 32, 1, 1, 0, 1),
    "mbv2 1x1 384->64 14": (384, 14, 14, 64, 1, 1, 0, 1),
    "mbv2 1x1 960->160 7": (960, 7, 7, 160, 1, 1, 0, 1),
    "mbv2 1x1 160->960 7": (160, 7, 7, 960, 1, 1, 0, 1),
    "mbv2 1x1 960->320 7": (960, 7, 7, 320, 1, 1, 0, 1),
    "mbv2 1x1 320->1280 7": (320, 7, 7, 1280, 1, 1, 0, 1),
    "squeeze conv1 3x3 s2 3->64 224": (3, 224, 224, 64, 3, 2, 0, 1),
    "squeeze fire e3x3 16->64 55": (16, 55, 55, 64, 3, 1, 1, 1),
    "squeeze fire e3x3 32->128 27": (32, 27, 27, 128, 3, 1, 1, 1),
    "squeeze fire e3x3 64->256 13": (64, 13, 13, 256, 3, 1, 1, 1),
    "squeeze fire s1x1 512->64 13": (512, 13, 13, 64, 1, 1, 0, 1),
    "squeeze fire s1x1 128->16 55": (128, 55, 55, 16, 1, 1, 0, 1),
    "squeeze conv10 1x1 512->1000 13": (512, 13, 13, 1000, 1, 1, 0, 1),
    "lenet 5x5 1->6 28": (1, 28, 28, 6, 5, 1, 2, 1),
    "lenet 5x5 6->16 14": (6, 14, 14, 16, 5, 1, 0, 1),
}


def time_kernel(name, inputs, out_shape, ints, repeat=5) -> float:
    return kh.best_seconds(name, inputs, [(out_shape, "f32")], ints, repeat=repeat, rounds=5)


def paths(C, H, W, M, K, s, p, g):
    """(kernel, inputs, ints) for every path that can run this layer."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, C, H, W)).astype(np.float32)
    w = rng.standard_normal((M, C // g, K, K)).astype(np.float32)
    b = rng.standard_normal(M).astype(np.float32)
    OH = (H + 2 * p - K) // s + 1
    ints = [1, C, H, W, M, OH, OH, K, K, g, p, p, s, s, 1, 1, 1, 0, 0]
    out = {"conv2d": ("f32_conv2d", [x, w, b], ints)}
    if g == 1:
        scratch = np.zeros(-(-M // 4) * 4 * C * K * K, np.float32)
        out["im2col"] = ("f32_conv2d_im2col", [x, w, b, scratch], ints)
        packed = kh.run("f32_conv2d_pack_weights", [w], [((-(-M // 4) * 4 * C * K * K,), "f32")], ints)[0]
        out["im2col_packed"] = ("f32_conv2d_im2col_packed", [x, packed, b], ints)
    for m, kernel in ((2, "conv2d_winograd"), (4, "conv2d_winograd4")):
        if g == 1 and K == 3 and s == 1:
            u = kh.run(f"f32_{kernel}_weights", [w], [(((m + 2) ** 2 * -(-M // 4) * 4 * C,), "f32")], ints)[0]
            scratch = np.zeros((m + 2) ** 2 * C * 64, np.float32)  # the largest block: 64 tiles (ABI.md)
            out[f"winograd F({m}x{m})"] = (f"f32_{kernel}", [x, u, b, scratch], ints)
    if g == C == M and K == 3:
        out["dwconv"] = ("f32_dwconv2d", [x, w, b], ints)
    if g == 1 and K == 1 and s == 1 and p == 0:
        out["gemm"] = ("f32_gemm", [w, x, b], [M, H * W, C, 0, 0, kh.f32_bits(1.0), kh.f32_bits(1.0), 1, 0, 1, 0,
                                               C * H * W, 1, 0, 0])
    return out, (1, M, OH, OH)


if __name__ == "__main__":
    pat = sys.argv[1] if len(sys.argv) > 1 else ""
    for label, (C, H, W, M, K, s, p, g) in LAYERS.items():
        if pat not in label:
            continue
        runs, shape = paths(C, H, W, M, K, s, p, g)
        flops = 2.0 * M * (C // g) * K * K * shape[2] * shape[3]
        res = []
        for path, (kernel, inputs, ints) in runs.items():
            t = time_kernel(kernel, inputs, shape, ints)
            res.append(f"{path} {flops / t / 1e9:5.1f} GF/s {t * 1e3:7.3f} ms")
        print(f"{label:34s} " + " | ".join(res), flush=True)
