"""Host overhead per node: a chain of N tiny Add nodes against a 1-node graph, both on [4] float32.

Run: python bench/host_overhead.py [--nodes 200] [--repeat 2000]
The difference of the medians divided by N-1 is the time each extra node costs (kernel + program walk);
the Python host adds nothing per node because a whole run is one call into WebAssembly."""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import msgraph
from msgraph.dsl import GraphBuilder


def chain(n: int):
    b = GraphBuilder(f"chain{n}")
    x = b.input("x", "float32", (4,))
    one = b.const(np.ones(4, np.float32))
    y = x
    for _ in range(n):
        y = y + one
    b.output(y, name="y")
    return b.build()


def median_us(sess, feeds, repeat: int) -> float:
    for _ in range(50):
        sess.run(None, feeds)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=2000)
    args = ap.parse_args()
    feeds = {"x": np.zeros(4, np.float32)}
    one = msgraph.InferenceSession(chain(1))
    many = msgraph.InferenceSession(chain(args.nodes))
    np.testing.assert_array_equal(many.run(None, feeds)[0], np.full(4, args.nodes, np.float32))
    t1, tn = median_us(one, feeds, args.repeat), median_us(many, feeds, args.repeat)
    print(f"1-node graph   : {t1:8.2f} us per run (median of {args.repeat})")
    print(f"{args.nodes}-node chain : {tn:8.2f} us per run")
    print(f"per extra node : {(tn - t1) / (args.nodes - 1):8.3f} us")


if __name__ == "__main__":
    main()
