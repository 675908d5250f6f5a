"""onnxruntime-style InferenceSession over the WebAssembly executor: one plan and executor per
(input shapes, requested outputs) signature, built on first use and cached."""
from __future__ import annotations

import ctypes
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import onnx

from msgraph import ops
from msgraph.errors import InputError
from msgraph.infer import infer
from msgraph.ir import Graph, Value
from msgraph.onnx_import import detach_weights, import_onnx
from msgraph.passes import optimize as optimize_graph
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


def _release_freed_memory() -> None:
    """Hands memory freed by dropped weight copies back to the OS (glibc keeps freed heap pages, which would
    count towards the peak when the arena is allocated next)."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None


class InferenceSession:
    """Runs an ONNX model (path, bytes, ModelProto) or an msgraph Graph on WebAssembly kernels. threads > 1
    splits the big GEMM and conv steps over that many threads sharing the arena (same results to the bit;
    worth it only when that many cores are free); close() stops the worker threads, as garbage collection
    and interpreter exit do.

    `graph` is the graph the session plans (optimised, for a static model): its constants view the arena,
    and those that only the load-time init steps read (raw weights packed at load) have no data (const
    None); plan it only through the session, which imports the model again when it needs them."""

    def __init__(self, model, *, kernels: str | None = None, max_cached_plans: int = 8, optimize: bool = True,
                 threads: int = 1, **_ignored):
        t0 = time.perf_counter()
        graph: Graph = model if isinstance(model, Graph) else import_onnx(model, map_weights=True)
        # where the construction went (s): import, optimize, plan, then the executor's load_seconds
        self.load_seconds: dict[str, float] = {"import": time.perf_counter() - t0}
        self._source = model  # re-imported only to plan a value the optimised graph folded away
        self._names = frozenset(graph.values)
        self._cache: OrderedDict[tuple, Executor] = OrderedDict()
        self._max = max_cached_plans
        self._kernels = kernels  # another kernels .wasm (default: the package's own)
        self._optimize = optimize  # msgraph.passes.optimize before planning (fusions, folds)
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be an int >= 1, got {threads!r}")
        self._threads = threads  # > 1: big kernels split over worker threads sharing the arena (Executor)
        self._by_value = ops.value_inputs(graph)  # inputs an op needs as constants: bound per value
        self._fast: dict[tuple, Executor] = {}  # requested outputs -> the executor last used for them
        self._staged: set[str] = set()  # constants of self.graph left out (they are in no arena after load)
        if not self._by_value and all(v.type.is_static for v in graph.values.values()):
            # a static model: plan and load now (errors surface at construction); the session keeps the
            # optimised graph, its constants viewing the arena, so the weights are held once
            if optimize:
                t0 = time.perf_counter()
                graph = optimize_graph(graph)  # the imported graph (and weights BatchNorm folded) go
                _release_freed_memory()
                self.load_seconds["optimize"] = time.perf_counter() - t0
            holder = [graph]
            del graph
            self.graph = detach_weights(self._load_static(holder))  # (constants no plan placed)
        else:
            self.graph = detach_weights(graph)  # kept for the session: no view of the model file

    def _load_static(self, holder: list[Graph]) -> Graph:
        """Plans and loads a static graph for its outputs; returns it with its constants viewing the arena.
        The graph's own copies are dropped before the arena is filled, and the executor lets the plan's go
        as it writes them: the weights are held twice only piece by piece, never while the init steps fill
        the persistent buffers (packed / transformed weights)."""
        g = holder.pop()  # the only reference: the constants go when this function drops them
        outputs = tuple(g.outputs)
        t0 = time.perf_counter()
        plan = build_plan(g, list(outputs), self._threads)
        self.load_seconds["plan"] = time.perf_counter() - t0
        placed = {k for k, v in g.values.items() if v.const is not None and k in plan.values}
        # constants only init steps read (raw weights packed at load) are not kept: a plan for other
        # outputs imports the model again (_executor)
        self._staged = {name for stage in plan.stages for name, *_ in stage.copies}
        g = g.replace(values={k: Value(k, v.type) if k in placed or k in self._staged else v
                              for k, v in g.values.items()})
        _release_freed_memory()
        ex = Executor(plan, self._kernels, self._threads, own_weights=True)
        del plan
        self.load_seconds.update(ex.load_seconds)
        values = dict(g.values)
        for k in placed:
            values[k] = Value(k, g.values[k].type, ex.constant_view(k))
        key = (tuple(tuple(g.values[i].type.shape) for i in g.inputs), (), outputs)
        self._cache[key] = ex
        return g.replace(values=values)

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
            if self._staged or not set(outputs) <= set(g.values):  # a value or a weight the session dropped
                g = self._source if isinstance(self._source, Graph) else import_onnx(self._source)
            if self._by_value or not all(v.type.is_static for v in g.values.values()):
                g = infer(g, dict(zip(g.inputs, shapes)), {n: feeds[n] for n in self._by_value})
            if self._optimize:
                g = optimize_graph(g, keep=outputs)
            ex = self._cache[key] = Executor(build_plan(g, list(outputs), self._threads), self._kernels,
                                             self._threads, own_weights=True)
            if len(self._cache) > self._max:
                _, old = self._cache.popitem(last=False)
                old.close()
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
            if o not in self._names:
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

    def close(self) -> None:
        """Stops the worker threads of every executor (threads > 1); garbage collection does it too."""
        for ex in self._cache.values():
            ex.close()

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
