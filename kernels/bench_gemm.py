"""Times f32_gemm (and f64_gemm) at M = N = K = 256 through the test harness: one mg_run call walks a
program of the same gemm step repeated, so the host-call overhead is amortised.

Usage: PYTHONPATH=. python kernels/bench_gemm.py [size] [repeat]
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
    best = float("inf")

    def timed(call):
        nonlocal best
        t0 = time.perf_counter()
        status = call()
        best = min(best, time.perf_counter() - t0)
        return status

    kh.run(f"{dt}_gemm", [a, b, None], [((n, n), dt)], ints, repeat=1)  # warm up
    for _ in range(10):
        kh.run(f"{dt}_gemm", [a, b, None], [((n, n), dt)], ints, repeat=repeat, timer=timed)
    return 2.0 * n**3 * repeat / best / 1e9


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    for dt in ("f32", "f64"):
        for tb in (0, 1):
            print(f"{dt}_gemm {size}^3{' trans_b' if tb else ''}: {bench(dt, size, repeat, tb):.1f} GFLOP/s")
