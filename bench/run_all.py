"""Runs `msgraph bench --vs onnxruntime` over models/*.onnx and the zoo models (written to ONNX on the fly)
and writes bench/results.md, the table the README shows, with the host overhead per run.

Run: python bench/run_all.py [--repeat 30] [--threads 1,2] [--only resnet18,mlp] [--out bench/results.md]
(one table per thread count: msgraph's big kernels split over that many threads, onnxruntime with as many
intra-op threads)."""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from msgraph.bench import bench

NOTES = "## Notes"
ZOO = ("mobilenet_v2", "resnet18", "squeezenet1_1", "transformer_encoder_layer")


def model_files(tmp: Path, only: set[str] | None) -> list[tuple[str, Path | str]]:
    files: list[tuple[str, Path | str]] = [(p.stem, p) for p in sorted((ROOT / "models").glob("*.onnx"))]
    try:
        from msgraph import zoo
        from msgraph.onnx_export import to_onnx
    except ImportError as e:
        return files + [(name, f"zoo unavailable: {e}") for name in ZOO]
    for name in ZOO:
        if only and name not in only:
            continue
        path = tmp / f"{name}.onnx"
        try:
            path.write_bytes(to_onnx(zoo.MODELS[name]()).SerializeToString())
            files.append((name, path))
        except Exception as e:  # noqa: BLE001 - a zoo model the exporter cannot write yet: reported in the table
            files.append((name, f"{type(e).__name__}: {e}"))
    return [(n, p) for n, p in files if not only or n in only]


def row(name: str, r: dict) -> str:
    m, o = r.get("msgraph", {}), r.get("onnxruntime", {})
    err = m.get("error") or o.get("error")
    if err:
        return f"| {name} | error: {err.splitlines()[-1][:120]} |||||||"
    lb = max(m["lower_bound_bytes"], 1)
    return (f"| {name} | {m['median_ms']:.3f} ({m['p10_ms']:.3f}-{m['p90_ms']:.3f}) "
            f"| {o['median_ms']:.3f} ({o['p10_ms']:.3f}-{o['p90_ms']:.3f}) | {r['ratio']['median_ms']:.2f}x "
            f"| {m['first_run_ms']:.0f} / {o['first_run_ms']:.0f} | {m['peak_rss_mb']:.0f} / {o['peak_rss_mb']:.0f} "
            f"| {m['arena_bytes'] / 2**20:.2f} / {lb / 2**20:.2f} | {r['max_abs_diff']:.1e} |")


def host_overhead() -> str:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "host_overhead.py"), "--repeat", "5000"],
                         capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": ""},
                         check=False)
    return out.stdout.strip() or out.stderr.strip()[-500:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated model names")
    ap.add_argument("--threads", default="1", help="comma-separated thread counts, one table each")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results.md"))
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None
    counts = [int(t) for t in args.threads.split(",")]
    from backend_wasm import loader

    for t in counts:  # build and compile the kernels now, so no first-run figure includes a rebuild
        loader.module(threads=t > 1)
    lines = ["# Benchmarks", "",
             (f"`python bench/run_all.py --repeat {args.repeat} --threads {args.threads}` on {platform.machine()}, "
              f"{platform.python_version()}, batch 1; each engine measured in its own process. "
              "msgraph runs WebAssembly SIMD128 kernels under wasmtime; onnxruntime is native code with all graph "
              "optimisations on.")]
    with tempfile.TemporaryDirectory(prefix="msgraph-models-") as tmp:
        files = model_files(Path(tmp), only)
        for t in counts:
            lines += ["", f"## {t} thread{'s' if t > 1 else ''} (msgraph and onnxruntime)", "",
                      ("| model | msgraph median ms (p10-p90) | onnxruntime median ms (p10-p90) | ratio | first run ms "
                       "(load + 1 run) msgraph / ort | peak RSS MB msgraph / ort | arena / lower bound MB | max abs diff |"),
                      "|---|---|---|---|---|---|---|---|"]
            for name, path in files:
                if isinstance(path, str):
                    lines.append(f"| {name} | error: {path[:120]} |||||||")
                    print(name, path, flush=True)
                    continue
                r = bench(str(path), vs="onnxruntime", threads=t, repeat=args.repeat, warmup=args.warmup)
                lines.append(row(name, r))
                print(lines[-1], flush=True)
    lines += ["", "## Host overhead per run (`python bench/host_overhead.py`)", "", "```", host_overhead(), "```", ""]
    out = Path(args.out)
    old = out.read_text() if out.exists() else ""
    notes = old[old.index(NOTES):] if NOTES in old else ""  # the hand-written section survives a rerun
    out.write_text("\n".join(lines) + notes)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
