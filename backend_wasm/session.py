"""onnxruntime-style InferenceSession over the WebAssembly executor: one plan and executor per
(input shapes, requested outputs) signature, built on first use and cached."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import onnx

from msgraph import ops
from msgraph.errors import InputError
from msgraph.infer import infer
from msgraph.ir import Graph
from msgraph.onnx_import import import_onnx
from msgraph.passes import optimize
from msgraph.plan import build_plan

from .executor import Executor


@dataclass(frozen=True)
class NodeArg:
    """Like onnxruntime.NodeArg: name, shape (symbolic dims as str) and type ('tensor(float)')."""
    name: str
    shape: list
    type: str


def _type_name(dtype) -> str:
    return f"tensor({onnx.helper.tensor_dtype_to_string(dtype.onnx).removeprefix('TensorProto.').lower()})"


class InferenceSession:
    """Runs an ONNX model (path, bytes, ModelProto) or an msgraph Graph on WebAssembly kernels."""

    def __init__(self, model, *, kernels: str | None = None, max_cached_plans: int = 8, optimize: bool = True,
                 **_ignored):
        self.graph: Graph = model if isinstance(model, Graph) else import_onnx(model)
        self._cache: OrderedDict[tuple, Executor] = OrderedDict()
        self._max = max_cached_plans
        self._kernels = kernels  # another kernels .wasm (default: the package's own)
        self._optimize = optimize  # msgraph.passes.optimize before planning (fusions, folds)
        self._by_value = ops.value_inputs(self.graph)  # inputs an op needs as constants: bound per value
        self._fast: dict[tuple, Executor] = {}  # requested outputs -> the executor last used for them
        if not self._by_value and all(v.type.is_static for v in self.graph.values.values()):
            self._executor(tuple(tuple(self.graph.values[i].type.shape) for i in self.graph.inputs), (),
                           tuple(self.graph.outputs), {})  # plan and load now: errors surface at construction

    def _arg(self, name: str) -> NodeArg:
        t = self.graph.values[name].type
        return NodeArg(name, list(t.shape), _type_name(t.dtype))

    def get_inputs(self) -> list[NodeArg]:
        return [self._arg(n) for n in self.graph.inputs]

    def get_outputs(self) -> list[NodeArg]:
        return [self._arg(n) for n in self.graph.outputs]

    def _executor(self, shapes: tuple, values: tuple, outputs: tuple, feeds: dict) -> Executor:
        key = (shapes, values, outputs)
        ex = self._cache.get(key)
        if ex is None:
            g = self.graph
            if self._by_value or not all(v.type.is_static for v in g.values.values()):
                g = infer(g, dict(zip(g.inputs, shapes)), {n: feeds[n] for n in self._by_value})
            if self._optimize:
                g = optimize(g, keep=outputs)
            ex = self._cache[key] = Executor(build_plan(g, list(outputs)), self._kernels)
            if len(self._cache) > self._max:
                _, old = self._cache.popitem(last=False)
                self._fast = {k: v for k, v in self._fast.items() if v is not old}
        self._cache.move_to_end(key)
        return ex

    def _prepare(self, output_names, input_feed: dict) -> Executor:
        """Checks the feeds and returns the executor planned for their shapes (and bound values)."""
        g = self.graph
        missing = [n for n in g.inputs if n not in input_feed]
        extra = [n for n in input_feed if n not in g.inputs]
        if missing or extra:
            raise InputError(f"feeds must name exactly the inputs {list(g.inputs)}: missing {missing}, "
                             f"unexpected {extra}")
        outputs = tuple(output_names) if output_names else tuple(g.outputs)
        for o in outputs:
            if o not in g.values:
                raise InputError(f"'{o}' is not a value of the model; outputs are {list(g.outputs)}")
        shapes = []
        for name in g.inputs:
            t = g.values[name].type
            array = np.asarray(input_feed[name])
            if array.dtype != t.dtype.np:
                raise InputError(f"input '{name}' must be {t.dtype.np}, got {array.dtype}")
            if array.ndim != t.rank or any(isinstance(d, int) and d != s for d, s in zip(t.shape, array.shape)):
                raise InputError(f"input '{name}' must have shape {list(t.shape)}, got {list(array.shape)}")
            shapes.append(tuple(array.shape))
        values = tuple(np.asarray(input_feed[n]).tobytes() for n in self._by_value)
        return self._executor(tuple(shapes), values, outputs, input_feed)

    def plan(self, input_feed: dict, output_names=None):
        """The msgraph.plan.Plan that run() uses for feeds like these."""
        return self._prepare(output_names, input_feed).plan

    def run(self, output_names, input_feed: dict, run_options=None) -> list[np.ndarray]:
        key = tuple(output_names) if output_names else ()
        fast = self._fast.get(key)
        if fast is not None and input_feed.__class__ is dict:
            out = fast.run_fast(input_feed)  # the cached signature: only dtype/shape checks
            if out is not None:
                return out
        ex = self._prepare(output_names, input_feed)
        out = ex({b.name: input_feed[b.name] for b in ex.plan.inputs})
        if not self._by_value:
            self._fast[key] = ex
        return out
