"""Times maxpool2d / avgpool2d on the pooling layers of ResNet-18 and SqueezeNet 1.1 (and two other common
shapes), batch 1, through the test harness.

Usage: PYTHONPATH=. python kernels/bench_pool.py [filter]   (ms per layer, best of 7 x 10 runs, CPU time;
MG_KERNELS_WASM=path benchmarks another build)
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import kernel_harness as kh

# name: C, H (square), K (square), stride, pad, ceil_mode
LAYERS = {
    "resnet maxpool 3x3 s2 p1 64@112": (64, 112, 3, 2, 1, 0),
    "squeeze maxpool 3x3 s2 ceil 64@111": (64, 111, 3, 2, 0, 1),
    "squeeze maxpool 3x3 s2 ceil 128@55": (128, 55, 3, 2, 0, 1),
    "squeeze maxpool 3x3 s2 ceil 256@27": (256, 27, 3, 2, 0, 1),
    "maxpool 2x2 s2 64@56": (64, 56, 2, 2, 0, 0),
    "maxpool 3x3 s1 p1 64@28": (64, 28, 3, 1, 1, 0),
}


def out_size(n: int, k: int, s: int, p: int, ceil: int) -> int:
    o = -(-(n + 2 * p - k) // s) + 1 if ceil else (n + 2 * p - k) // s + 1
    return o - 1 if ceil and (o - 1) * s >= n + p else o


def best_ms(name, inputs, out_shape, ints, repeat=10) -> float:
    return kh.best_seconds(name, inputs, [(out_shape, "f32")], ints, repeat=repeat) * 1e3


if __name__ == "__main__":
    pat = sys.argv[1] if len(sys.argv) > 1 else ""
    for label, (C, H, K, s, p, ceil) in LAYERS.items():
        if pat not in label:
            continue
        x = np.random.default_rng(0).standard_normal((C, H, H)).astype(np.float32)
        O = out_size(H, K, s, p, ceil)
        mx = best_ms("f32_maxpool2d", [x], (C, O, O), [C, H, H, O, O, K, K, p, p, s, s, 1, 1])
        avg = best_ms("f32_avgpool2d", [x], (C, O, O), [C, H, H, O, O, K, K, p, p, p, p, s, s, 0])
        mb = 4 * C * (H * H + O * O) / 1e6
        print(f"{label:38s} maxpool {mx:6.3f} ms ({mb / mx:5.1f} GB/s) | avgpool {avg:6.3f} ms", flush=True)
