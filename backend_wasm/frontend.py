"""`wasm-frontend`: the proof of concept's command line, kept working. Runs one of Add, Mul, Argmax,
EqualCount in FP32, INT32 or INT8 on JSON inputs through the WebAssembly kernels and prints JSON."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from msgraph import dtypes
from msgraph.errors import InputError, MsGraphError
from msgraph.ir import Graph, Node, TensorType, Value

OPS = {"add": ("Add", 2), "mul": ("Mul", 2), "argmax": ("ArgMax", 1), "equalcount": ("EqualCount", 2)}
DTYPES = {"fp32": dtypes.F32, "int32": dtypes.I32, "int8": dtypes.I8}


def _tensor(item, k: int, dtype: dtypes.DType) -> np.ndarray:
    if not isinstance(item, dict) or "input-data" not in item or "shape" not in item:
        raise InputError(f"input {k}: expected an object with 'input-data', 'shape' and 'dim-size'")
    shape = item["shape"]
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise InputError(f"input {k}: 'shape' must be a list of non-negative integers, got {shape!r}")
    if "dim-size" in item and item["dim-size"] != len(shape):
        raise InputError(f"input {k}: 'dim-size' is {item['dim-size']} but 'shape' has {len(shape)} dims")
    data = np.asarray(item["input-data"], dtype=np.float64).reshape(-1)
    if data.size != int(np.prod(shape, dtype=np.int64)):
        raise InputError(f"input {k}: {data.size} values do not fill shape {shape}")
    if dtype.is_float:
        return data.astype(dtype.np).reshape(shape)
    info = np.iinfo(dtype.np)
    if np.any(data != np.round(data)) or data.min(initial=0) < info.min or data.max(initial=0) > info.max:
        raise InputError(f"input {k}: values must be integers in [{info.min}, {info.max}] for {dtype.np}")
    return data.astype(dtype.np).reshape(shape)


def build_graph(op: str, arrays: list[np.ndarray]) -> Graph:
    """A one-node graph for the proof of concept's ops (Argmax: last axis, keepdims, first on ties)."""
    onnx_op, _ = OPS[op]
    names = [f"x{k}" for k in range(len(arrays))]
    values = {n: Value(n, TensorType(dtypes.from_numpy(a.dtype), a.shape)) for n, a in zip(names, arrays)}
    attrs = {"axis": -1, "keepdims": 1, "select_last_index": 0} if onnx_op == "ArgMax" else {}
    node = Node(onnx_op, tuple(names), ("y",), attrs, onnx_op)
    from msgraph.ops import check_node

    probe = Graph((node,), values, tuple(names), ("y",))
    values["y"] = Value("y", check_node(node, [values[n].type for n in names], probe)[0])
    return probe.replace(values=values).validate()


def _format(y: np.ndarray) -> str:
    if y.dtype.kind == "f":
        data = "[" + ", ".join(np.format_float_positional(v, unique=True, trim="0") for v in y.reshape(-1)) + "]"
    else:
        data = json.dumps([int(v) for v in y.reshape(-1)])
    return f'{{"input-data": {data}, "shape": {json.dumps(list(y.shape))}, "dim-size": {y.ndim}}}'


def _config_kernels(path: str | None) -> str | None:
    """-c accepts a kernels .wasm, or a JSON config whose "kernels" names one (relative to the config)."""
    if path is None:
        return None
    p = Path(path)
    if p.suffix == ".wasm":
        return str(p)
    try:
        cfg = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read backend config '{path}': {e}") from e
    if not isinstance(cfg, dict):
        raise InputError(f"backend config '{path}' must be a JSON object")
    k = cfg.get("kernels")
    return None if k is None else str((p.parent / k) if not Path(k).is_absolute() else k)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wasm-frontend",
                                description="Run one MindSpore WebAssembly-backend op on JSON inputs.")
    p.add_argument("-c", "--ms-backend-config", metavar="FILE",
                   help="a kernels .wasm, or a JSON config {\"kernels\": \"path.wasm\"} (default: built-in kernels)")
    p.add_argument("-o", "--op-type", default="Add", help="Add, Mul, Argmax or EqualCount (default Add)")
    p.add_argument("-d", "--data-type", default="FP32", help="FP32, INT32 or INT8 (default FP32)")
    p.add_argument("-I", "--input", metavar="JSON",
                   help='inputs: [{"input-data": [...], "shape": [...], "dim-size": N}, ...]')
    p.add_argument("-i", "--input-data-file", metavar="FILE", help="a file holding the input JSON")
    return p


def run(op_type: str, data_type: str, inputs_json: str, config: str | None = None) -> str:
    op = op_type.lower()
    if op not in OPS:
        raise InputError(f"unknown op type '{op_type}'; choose from Add, Mul, Argmax, EqualCount")
    dtype = DTYPES.get(data_type.lower())
    if dtype is None:
        raise InputError(f"unknown data type '{data_type}'; choose from FP32, INT32, INT8")
    try:
        items = json.loads(inputs_json)
    except ValueError as e:
        raise InputError(f"input is not valid JSON: {e}") from e
    if not isinstance(items, list):
        raise InputError("input JSON must be a list of tensors")
    arity = OPS[op][1]
    if len(items) != arity:
        raise InputError(f"{op_type} takes {arity} input(s), got {len(items)}")
    arrays = [_tensor(item, k, dtype) for k, item in enumerate(items)]
    from .session import InferenceSession

    sess = InferenceSession(build_graph(op, arrays), kernels=_config_kernels(config))
    (y,) = sess.run(None, {f"x{k}": a for k, a in enumerate(arrays)})
    return _format(y)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.input is not None and args.input_data_file is not None:
            raise InputError("give the inputs with -I or -i, not both")
        if args.input_data_file is not None:
            try:
                text = Path(args.input_data_file).read_text()
            except OSError as e:
                raise InputError(f"cannot read '{args.input_data_file}': {e}") from e
        elif args.input is not None:
            text = args.input
        else:
            raise InputError("no input: give -I JSON or -i FILE")
        print(run(args.op_type, args.data_type, text, args.ms_backend_config))
        return 0
    except MsGraphError as e:
        print(f"wasm-frontend: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
