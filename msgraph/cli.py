"""The `msgraph` command: run a model, show its plan, list the supported operators."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from . import ops
from .errors import InputError, MsGraphError


def _load_array(spec: str) -> np.ndarray:
    path = Path(spec)
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if path.suffix == ".json":
        return np.asarray(json.loads(path.read_text()))
    raise InputError(f"input file '{spec}' must be a .npy or .json file")


def _feeds(specs: list[str], input_names: list[str]) -> dict[str, np.ndarray]:
    feeds: dict[str, np.ndarray] = {}
    for spec in specs:
        name, sep, file = spec.partition("=")
        if not sep:
            if len(input_names) != 1:
                raise InputError(f"the model has inputs {input_names}: give each as NAME=FILE")
            name, file = input_names[0], spec
        if Path(file).suffix == ".npz":
            raise InputError("give .npz archives without a name: --input FILE.npz")
        try:
            feeds[name] = _load_array(file)
        except OSError as e:
            raise InputError(f"cannot read input '{name}' from '{file}': {e}") from e
    return feeds


def _shape_overrides(specs: list[str]) -> dict[str, tuple[int, ...]]:
    out = {}
    for spec in specs:
        name, _, dims = spec.partition("=")
        try:
            out[name] = tuple(int(d) for d in dims.split(",") if d)
        except ValueError:
            raise InputError(f"--shape expects NAME=D1,D2,..., got '{spec}'") from None
    return out


def _positive_int(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def cmd_run(args: argparse.Namespace) -> int:
    from backend_wasm.session import InferenceSession  # the CLI is the one place that picks the backend

    sess = InferenceSession(args.model, threads=args.threads)
    names = [i.name for i in sess.get_inputs()]
    feeds: dict[str, np.ndarray] = {}
    for spec in args.input:
        if spec.endswith(".npz") and "=" not in spec:
            feeds.update(dict(np.load(spec, allow_pickle=False)))
        else:
            feeds.update(_feeds([spec], names))
    if args.random:
        rng = np.random.default_rng(0)
        for i in sess.get_inputs():
            if i.name not in feeds:
                t = sess.graph.values[i.name].type
                shape = [d if isinstance(d, int) else 1 for d in t.shape]
                feeds[i.name] = rng.standard_normal(shape).astype(t.dtype.np)
    missing = [i for i in sess.get_inputs() if i.name not in feeds]
    if missing:
        listed = ", ".join(f"{i.name} {i.type} {i.shape}" for i in missing)
        raise InputError(f"missing inputs: {listed} (give --input NAME=FILE.npy, or --random)")
    outputs = sess.run(args.output or None, feeds)
    sess.close()  # the worker threads, if any
    names = args.output or [o.name for o in sess.get_outputs()]
    if args.save:
        np.savez(args.save, **dict(zip(names, outputs)))
    if args.json:
        print(json.dumps({n: {"shape": list(o.shape), "dtype": str(o.dtype), "data": o.tolist()}
                          for n, o in zip(names, outputs)}))
    else:
        with np.printoptions(precision=6, suppress=True, threshold=64):
            for n, o in zip(names, outputs):
                print(f"{n}: {o.dtype}{list(o.shape)}")
                print(o)
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from .infer import infer
    from .onnx_import import import_onnx
    from .passes import optimize
    from .plan import Stage, build_plan

    graph = import_onnx(args.model)
    shapes = _shape_overrides(args.shape)
    if shapes or not all(graph.values[i].type.is_static for i in graph.inputs):
        unbound = [i for i in graph.inputs if i not in shapes and not graph.values[i].type.is_static]
        if unbound:
            raise InputError(f"inputs {unbound} have symbolic dims: give --shape NAME=D1,D2,...")
        graph = infer(graph, shapes)
    if not args.no_optimize:
        graph = optimize(graph, keep=args.output or None)
    plan = build_plan(graph, args.output or None)
    if args.json:
        d = json.loads(plan.to_json())
        d.update(plan.report())
        print(json.dumps(d))
        return 0
    def rows(steps, first: int = 0) -> None:
        for k, s in enumerate(steps, first):
            offs = ", ".join("-" if t is None else str(t) for t in s.tensors)
            print(f"{k:>4}  {s.node[:24]:<24} {s.kernel:<26} {offs}")

    print(f"{'#':>4}  {'node':<24} {'kernel':<26} tensors (offsets)")
    rows(plan.steps)
    if plan.init_steps:
        print("\ninit steps, once at load (each stage first writes the raw weights its steps read into the "
              "arena):")
        first = 0
        for n, stage in enumerate(plan.stages or (Stage(len(plan.init_steps), ()),), 1):
            staged = ", ".join(f"{name} ({nbytes} B at {dst})" for name, _, dst, nbytes in stage.copies)
            print(f"  stage {n}: {'writes ' + staged if staged else 'reads resident constants only'}")
            rows(plan.init_steps[first:first + stage.steps], first)
            first += stage.steps
    print()
    for kind, bindings in (("input", plan.inputs), ("output", plan.outputs)):
        for b in bindings:
            print(f"{kind:<6} {b.name:<24} {b.dtype}{list(b.shape)} at {b.offset}")
    print()
    for k, v in plan.report().items():
        print(f"{k:<22} {v}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Per op type: nodes, and whether each runs here (at the model's opset and dtypes)."""
    import collections

    from .errors import UnsupportedOpError
    from .onnx_import import import_onnx, load_model

    proto = load_model(args.model)
    counts = collections.Counter((n.domain or "ai.onnx", n.op_type) for n in proto.graph.node)
    bad: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    hint = ""
    try:
        import_onnx(proto)
    except UnsupportedOpError as e:
        for name, op, domain, _, why in e.problems:
            bad[(domain or "ai.onnx", op)].append(f"{name}: {why}")
        hint = str(e).splitlines()[-1] if str(e).splitlines()[-1].startswith("hint:") else ""
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    rows = [{"domain": d, "op": op, "nodes": n, "unsupported": len(bad.get((d, op), [])),
             "why": sorted({w.split(": ", 1)[1] for w in bad.get((d, op), [])})} for (d, op), n in sorted(counts.items())]
    if args.json:
        print(json.dumps({"opset": opset, "ops": rows, "supported": not bad, "hint": hint}))
    else:
        print(f"opset {opset}, {sum(counts.values())} nodes")
        print(f"{'op':<28} {'nodes':>6}  status")
        for r in rows:
            status = "ok" if not r["unsupported"] else f"{r['unsupported']} unsupported: {'; '.join(r['why'])}"
            print(f"{(r['op'] if r['domain'] == 'ai.onnx' else r['domain'] + '::' + r['op']):<28} {r['nodes']:>6}  {status}")
        if bad:
            print(f"\n{sum(len(v) for v in bad.values())} node(s) cannot run. {hint}".rstrip())
        else:
            print("\nevery node is supported")
    return 1 if bad else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import bench, format_result

    r = bench(args.model, vs=args.vs, threads=args.threads, repeat=args.repeat, warmup=args.warmup,
              profile=args.profile)
    print(json.dumps(r) if args.json else format_result(r))
    return 1 if any("error" in r[e] for e in ("msgraph", "onnxruntime") if e in r) else 0


def op_matrix() -> tuple[list[str], list[list[str]]]:
    """Rows (op, then one cell per dtype: 'x' if supported) generated from the registry."""
    from . import dtypes

    cols = [d for d in dtypes.ALL if any(d in o.dtypes for o in ops.REGISTRY.values())]
    rows = [[name] + ["x" if d in o.dtypes else "" for d in cols] for name, o in sorted(ops.REGISTRY.items())]
    return [d.name for d in cols], rows


def cmd_ops(args: argparse.Namespace) -> int:
    cols, rows = op_matrix()
    if args.json:
        print(json.dumps({r[0]: [c for c, x in zip(cols, r[1:]) if x] for r in rows}))
        return 0
    if args.markdown:
        print("| op | " + " | ".join(cols) + " |")
        print("|---|" + "---|" * len(cols))
        for r in rows:
            print(f"| {r[0]} | " + " | ".join(r[1:]) + " |")
        return 0
    width = max(len(r[0]) for r in rows) + 2
    print(" " * width + " ".join(f"{c:>4}" for c in cols))
    for r in rows:
        print(f"{r[0]:<{width}}" + " ".join(f"{x:>4}" for x in r[1:]))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="msgraph", description="Run ONNX models and msgraph graphs on WebAssembly.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a model on inputs and print or save its outputs")
    r.add_argument("model", help="an .onnx file")
    r.add_argument("--input", "-i", action="append", default=[], metavar="NAME=FILE",
                   help="an input from a .npy or .json file (NAME= may be left out for a one-input model); "
                        "or an .npz holding several inputs by name")
    r.add_argument("--output", "-o", action="append", default=[], metavar="NAME",
                   help="a value to return (any value of the graph; default: the model's outputs)")
    r.add_argument("--random", action="store_true", help="feed seeded random data to inputs not given")
    r.add_argument("--save", metavar="FILE.npz", help="also save the outputs to an .npz archive")
    r.add_argument("--json", action="store_true", help="print the outputs as one JSON object")
    r.add_argument("--threads", type=_positive_int, default=1,
                   help="split the big kernels over this many threads sharing the arena (default 1)")
    r.set_defaults(func=cmd_run)
    pl = sub.add_parser("plan", help="show the execution plan: steps, arena offsets, memory report")
    pl.add_argument("model")
    pl.add_argument("--json", action="store_true", help="print the plan and its report as one JSON object")
    pl.add_argument("--shape", action="append", default=[], metavar="NAME=D1,D2,..",
                    help="bind an input's symbolic dims")
    pl.add_argument("--output", "-o", action="append", default=[], metavar="NAME", help="plan for these outputs")
    pl.add_argument("--no-optimize", action="store_true", help="plan the graph as imported (no fusions or folds)")
    pl.set_defaults(func=cmd_plan)
    c = sub.add_parser("check", help="which of a model's ops run here; exits 1 if any does not")
    c.add_argument("model")
    c.add_argument("--json", action="store_true", help="print the report as one JSON object")
    c.set_defaults(func=cmd_check)
    b = sub.add_parser("bench", help="latency, first-run time and peak memory (optionally against onnxruntime)")
    b.add_argument("model", help="an .onnx file")
    b.add_argument("--vs", choices=["onnxruntime"], help="measure onnxruntime too, in the same run")
    b.add_argument("--threads", type=int, default=0,
                   help="threads of msgraph (big kernels split over worker threads) and of onnxruntime's intra-op "
                        "pool (default 1)")
    b.add_argument("--repeat", type=int, default=50, help="timed runs (default 50)")
    b.add_argument("--warmup", type=int, default=5, help="untimed runs first (default 5)")
    b.add_argument("--profile", action="store_true", help="time per op type (each node run on its own)")
    b.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    b.set_defaults(func=cmd_bench)
    o = sub.add_parser("ops", help="the supported operator x dtype matrix")
    o.add_argument("--json", action="store_true")
    o.add_argument("--markdown", action="store_true")
    o.set_defaults(func=cmd_ops)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except MsGraphError as e:
        print(f"msgraph {args.command}: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (`msgraph plan M | head`): stop quietly, like other tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (Python flushes stdout at exit)
        return 141


if __name__ == "__main__":
    sys.exit(main())
