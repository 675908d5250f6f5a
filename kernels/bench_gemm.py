"""Times f32_gemm (and f64_gemm) at M = N = K = 256 through the test harness: one mg_run call walks a
program of the same gemm step repeated, so the host-call overhead is amortised. With `gemv`: a few rows
(M = 1..3) on the MLP's layers (B^T, bias, relu), gemm on B in place against gemv_packed_b on B packed by
gemv_pack_b, alternating the two per trial (the machine is shared), best of 30.

Usage: PYTHONPATH=. python kernels/bench_gemm.py [size] [repeat]  |  python kernels/bench_gemm.py gemv
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import kernel_harness as kh


def bench(dt: str, n: int, repeat: int, trans_b: int = 0) -> float:
    """Best-of-10 GFLOP/s of dt_gemm n x n x n (best, since the machine may be shared)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(kh.DTYPES[dt])
    b = rng.standard_normal((n, n)).astype(kh.DTYPES[dt])
    ints = [n, n, n, 0, trans_b, kh.f32_bits(1.0), kh.f32_bits(0.0), 0, 0, 1, 0, 0, 0, 0, 0]
    best = kh.best_seconds(f"{dt}_gemm", [a, b, None], [((n, n), dt)], ints, repeat=repeat, rounds=10,
                           clock=time.perf_counter)
    return 2.0 * n**3 / best / 1e9


GEMV_LAYERS = [(512, 784), (256, 512), (10, 256)]  # N, K of models/mlp.onnx's three Gemms


def bench_gemv(m: int, n: int, k: int, repeat: int = 50) -> dict[str, float]:
    """Best-of-30 microseconds of f32_gemm and f32_gemv_packed_b for Y = relu(A @ B^T + bias), A m x k."""
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(s).astype(np.float32) for s in ((m, k), (n, k), (n,)))
    ints = [m, n, k, 0, 1, kh.f32_bits(1.0), kh.f32_bits(1.0), 0, 1, 1, 0, 0, 1, 0, 0]
    packed = kh.run("f32_gemv_pack_b", [b], [((-(-n // 6) * 6 * -(-k // 4) * 4,), "f32")], ints)[0]
    args = {"f32_gemm": [a, b, c], "f32_gemv_packed_b": [a, packed, c]}
    best = dict.fromkeys(args, float("inf"))
    for _ in range(30):  # the two kernels alternate
        for name, ins in args.items():
            t = kh.best_seconds(name, ins, [((m, n), "f32")], ints, repeat=repeat, rounds=1, clock=time.perf_counter)
            best[name] = min(best[name], t * 1e6)
    return best


if __name__ == "__main__":
    if sys.argv[1:] == ["gemv"]:
        for m in (1, 2, 3):
            for n, k in GEMV_LAYERS:
                t = bench_gemv(m, n, k)
                print(f"M={m} N={n:4d} K={k:4d}: " + "  ".join(f"{name} {us:6.2f} us" for name, us in t.items()))
        sys.exit()
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    for dt in ("f32", "f64"):
        for tb in (0, 1):
            print(f"{dt}_gemm {size}^3{' trans_b' if tb else ''}: {bench(dt, size, repeat, tb):.1f} GFLOP/s")
