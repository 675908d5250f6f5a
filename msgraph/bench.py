"""`msgraph bench`: latency (median, p10/p90), first-run time (load + one run), peak RSS and the arena
against its lower bound, for msgraph and optionally onnxruntime, each measured in its own subprocess so
neither engine's memory pollutes the other's; `--profile` adds time per op type.

Run as a worker: `python -m msgraph.bench --worker ENGINE MODEL ...` prints one JSON object (the parent
process starts these). Imports the backend only inside the worker, like the CLI."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numpy.random import default_rng  # (imported here, not inside the timed first run)

from .errors import MsGraphError

ENGINES = ("msgraph", "onnxruntime")
SEED = 0


def _peak_rss_mb() -> float:
    """This process's RSS high-water mark. Linux's VmHWM belongs to the process image, while getrusage's
    ru_maxrss survives exec and so starts at the RSS of whatever process spawned this one."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024.0 if sys.platform != "darwin" else 2**20)


def _stats(times: list[float]) -> dict:
    t = np.asarray(times) * 1e3
    return {"median_ms": float(np.median(t)), "p10_ms": float(np.percentile(t, 10)),
            "p90_ms": float(np.percentile(t, 90)), "runs": len(times)}


def random_feeds(inputs: list[tuple[str, str, list]]) -> dict[str, np.ndarray]:
    """Seeded inputs for (name, numpy dtype, shape) triples; symbolic dims become 1."""
    rng = default_rng(SEED)
    feeds = {}
    for name, dtype, shape in inputs:
        shape = [d if isinstance(d, int) and d >= 0 else 1 for d in shape]
        dt = np.dtype(dtype)
        if dt.kind == "f":
            feeds[name] = rng.standard_normal(shape).astype(dt)
        elif dt.kind == "b":
            feeds[name] = rng.integers(0, 2, shape).astype(dt)
        else:
            feeds[name] = rng.integers(0, 4, shape).astype(dt)
    return feeds


MIN_WARMUP_S, MIN_TIMED_S = 0.2, 1.0  # small models get more runs: a few dozen of a 50 us run say little


def _time_runs(run, warmup: int, repeat: int) -> list[float]:
    """Per-run seconds: `warmup` runs (and at least MIN_WARMUP_S of them) untimed, then `repeat` timed
    runs, continued until they add up to MIN_TIMED_S."""
    clock = time.perf_counter
    start, n = clock(), 0
    while n < warmup or clock() - start < MIN_WARMUP_S:
        run()
        n += 1
    times: list[float] = []
    total = 0.0
    while len(times) < repeat or total < MIN_TIMED_S:
        t = clock()
        run()
        times.append(clock() - t)
        total += times[-1]
    return times


def _worker_msgraph(model: str, args) -> tuple[dict, list]:
    from backend_wasm.session import InferenceSession

    base_rss = _peak_rss_mb()
    t0 = time.perf_counter()
    sess = InferenceSession(model, threads=args.threads or 1)
    inputs = [(i.name, sess.graph.values[i.name].type.dtype.np, i.shape) for i in sess.get_inputs()]
    feeds = random_feeds(inputs)
    outs = sess.run(None, feeds)
    first = time.perf_counter() - t0
    times = _time_runs(lambda: sess.run(None, feeds), args.warmup, args.repeat)
    ex = sess._prepare(None, feeds)
    rep = ex.load_report
    res = {"engine": "msgraph", "first_run_ms": first * 1e3, **_stats(times),
           "arena_bytes": rep["arena_bytes"], "lower_bound_bytes": rep["lower_bound_bytes"],
           "weights_bytes": rep["weights_bytes"], "persistent_bytes": rep["persistent_bytes"],
           "n_steps": rep["n_steps"], "threads": args.threads or 1}
    res["load_ms"] = {k: s * 1e3 for k, s in sess.load_seconds.items()}
    if args.profile:
        res["profile"] = [list(p) for p in ex.profile(max(3, min(args.repeat, 20)))]
    res["peak_rss_mb"], res["base_rss_mb"] = _peak_rss_mb(), base_rss
    sess.close()
    return res, outs


def _worker_ort(model: str, args) -> tuple[dict, list]:
    import onnxruntime as ort

    base_rss = _peak_rss_mb()
    t0 = time.perf_counter()
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads or 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    inputs = [(i.name, _ort_dtype(i.type), i.shape) for i in sess.get_inputs()]
    feeds = random_feeds(inputs)
    outs = sess.run(None, feeds)
    first = time.perf_counter() - t0
    times = _time_runs(lambda: sess.run(None, feeds), args.warmup, args.repeat)
    res = {"engine": "onnxruntime", "first_run_ms": first * 1e3, **_stats(times), "threads": so.intra_op_num_threads}
    res["peak_rss_mb"], res["base_rss_mb"] = _peak_rss_mb(), base_rss
    return res, outs


def _ort_dtype(t: str) -> str:
    name = t.removeprefix("tensor(").removesuffix(")")
    return {"float": "float32", "double": "float64", "bool": "bool"}.get(name, name)


def worker(argv: list[str]) -> int:
    """The subprocess side: measure one engine, print JSON, save the outputs beside for comparison."""
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("engine", choices=ENGINES)
    p.add_argument("model")
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--outputs", default="")
    args = p.parse_args(argv)
    try:
        res, outs = (_worker_msgraph if args.engine == "msgraph" else _worker_ort)(args.model, args)
    except Exception as e:  # noqa: BLE001 - reported by the parent, whatever the engine raised
        print(json.dumps({"engine": args.engine, "error": f"{type(e).__name__}: {e}"}))
        return 1
    if args.outputs:
        np.savez(args.outputs, *outs)
    print(json.dumps(res))
    return 0


def _spawn(engine: str, model: str, args, outputs: str) -> dict:
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    cmd = [sys.executable, "-m", "msgraph.bench", "--worker", engine, model, "--repeat", str(args.repeat),
           "--warmup", str(args.warmup), "--threads", str(args.threads or 0), "--outputs", outputs]
    if args.profile and engine == "msgraph":
        cmd.append("--profile")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"engine": engine, "error": f"worker failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"}


def bench(model: str, *, vs: str | None = None, threads: int = 0, repeat: int = 50, warmup: int = 5,
          profile: bool = False) -> dict:
    """Measures `model` (an .onnx path) on msgraph and, with vs="onnxruntime", on onnxruntime too; `threads`
    (0 = 1) is msgraph's thread count (its big kernels split over worker threads) and onnxruntime's intra-op
    threads."""
    import argparse

    if not Path(model).is_file():
        raise MsGraphError(f"no model file at '{model}'")
    if vs not in (None, "onnxruntime"):
        raise MsGraphError(f"--vs must be onnxruntime, got '{vs}'")
    if vs:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise MsGraphError("--vs onnxruntime needs the onnxruntime package: pip install onnxruntime") from None
    args = argparse.Namespace(threads=threads, repeat=repeat, warmup=warmup, profile=profile)
    result = {"model": str(model), "repeat": repeat, "warmup": warmup}
    with tempfile.TemporaryDirectory(prefix="msgraph-bench-") as tmp:
        engines = ["msgraph"] + ([vs] if vs else [])
        for e in engines:
            result[e] = _spawn(e, str(model), args, str(Path(tmp) / f"{e}.npz"))
        if vs and "error" not in result["msgraph"] and "error" not in result[vs]:
            a, b = np.load(Path(tmp) / "msgraph.npz"), np.load(Path(tmp) / f"{vs}.npz")
            result["max_abs_diff"] = max((float(np.max(np.abs(a[k].astype(np.float64) - b[k])))
                                          for k in a.files if a[k].size), default=0.0)
            m, o = result["msgraph"], result[vs]
            result["ratio"] = {k: m[k] / o[k] for k in ("median_ms", "first_run_ms", "peak_rss_mb") if o[k]}
    return result


def profile_table(profile: list) -> list[tuple[str, str, int, float]]:
    """(op, kernels, nodes, total ms) per op type and kernel set, slowest first."""
    agg: dict[tuple[str, str], list] = {}
    for _node, op, kernels, sec in profile:
        row = agg.setdefault((op, kernels), [0, 0.0])
        row[0] += 1
        row[1] += sec * 1e3
    return sorted(((op, k, n, ms) for (op, k), (n, ms) in agg.items()), key=lambda r: -r[3])


def format_result(r: dict) -> str:
    engines = [e for e in ENGINES if e in r]
    runs = "/".join(str(r[e]["runs"]) for e in engines if "runs" in r[e])
    lines = [f"model: {r['model']}  ({runs or r['repeat']} timed runs, at least {r['repeat']} and "
             f"{MIN_TIMED_S:g} s, after {r['warmup']} warm-up)"]
    for e in engines:
        if "error" in r[e]:
            lines.append(f"{e}: error: {r[e]['error']}")
    ok = [e for e in engines if "error" not in r[e]]
    if not ok:
        return "\n".join(lines)
    rows = [("median latency (ms)", "median_ms", "{:.3f}"), ("p10 (ms)", "p10_ms", "{:.3f}"),
            ("p90 (ms)", "p90_ms", "{:.3f}"), ("first run: load + 1 run (ms)", "first_run_ms", "{:.1f}"),
            ("peak RSS (MB)", "peak_rss_mb", "{:.1f}"), ("threads", "threads", "{}")]
    head = f"{'':<30}" + "".join(f"{e:>14}" for e in ok) + ("   ratio" if len(ok) == 2 else "")
    lines.append(head)
    for label, key, fmt in rows:
        cells = "".join(f"{fmt.format(r[e][key]):>14}" for e in ok)
        ratio = r.get("ratio", {}).get(key)
        lines.append(f"{label:<30}{cells}" + (f"   {ratio:.2f}x" if ratio is not None else ""))
    m = r.get("msgraph", {})
    if "arena_bytes" in m:
        lb = max(m["lower_bound_bytes"], 1)
        packed = m.get("persistent_bytes", 0) / 2**20
        lines.append(f"arena {m['arena_bytes'] / 2**20:.2f} MB vs lower bound {lb / 2**20:.2f} MB "
                     f"({m['arena_bytes'] / lb:.3f}x); weights {m['weights_bytes'] / 2**20:.2f} MB as they "
                     f"are + {packed:.2f} MB packed at load; {m['n_steps']} steps")
    if m.get("load_ms"):
        lines.append("msgraph's load (ms): " + ", ".join(f"{k} {ms:.1f}" for k, ms in m["load_ms"].items()))
    if "max_abs_diff" in r:
        lines.append(f"outputs: max |msgraph - onnxruntime| = {r['max_abs_diff']:.3g}")
    if m.get("profile"):
        total = sum(p[3] for p in m["profile"]) * 1e3
        lines.append(f"\nprofile (each node run alone, empty-call cost subtracted; sum {total:.3f} ms):")
        lines.append(f"{'op':<22}{'kernels':<34}{'nodes':>6}{'ms':>10}{'%':>7}")
        for op, k, n, ms in profile_table(m["profile"]):
            lines.append(f"{op:<22}{k[:33]:<34}{n:>6}{ms:>10.3f}{100 * ms / max(total, 1e-12):>7.1f}")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        sys.exit(worker(sys.argv[2:]))
    sys.exit("usage: msgraph bench MODEL (this module's own entry point is the worker)")
