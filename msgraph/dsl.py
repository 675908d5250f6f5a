"""The Python DSL frontend: a graph builder of typed symbolic Tensors, functional ops over them, and
MindSpore-style Cells traced into a validated ir.Graph. Imports the IR, dtypes, the op registry and onnx.defs
(for attribute names); never the planner or a backend.

Types are inferred as each op is added (through `msgraph.ops.check_node`), so a shape or dtype error is
raised by the line that made it, naming the node. Building blocks (Dense, Conv2d, ...) live in `msgraph.nn`,
also reachable as `msgraph.dsl.nn`.
"""
from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx.defs

from . import dtypes, ops
from .dtypes import DType
from .errors import GraphError, ShapeError, UnsupportedOpError
from .ir import Dim, Graph, Node, TensorType, Value


class Tensor:
    """A symbolic value of a GraphBuilder: typed (dtype + shape), named, with + - * / @ and unary -."""

    __slots__ = ("builder", "vid")
    __array_ufunc__ = None  # make numpy defer to our reflected operators: ndarray + Tensor -> Tensor

    def __init__(self, builder: GraphBuilder, vid: int):
        self.builder, self.vid = builder, vid

    @property
    def name(self) -> str:
        return self.builder._vals[self.vid].name

    @property
    def type(self) -> TensorType:
        return self.builder._vals[self.vid].type

    @property
    def shape(self) -> tuple[Dim, ...]:
        return self.type.shape

    @property
    def dtype(self) -> DType:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.rank

    def __repr__(self) -> str:
        return f"Tensor('{self.name}', {self.type})"

    def __add__(self, other: Any) -> Tensor:
        return add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return div(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(other, self)

    def __neg__(self) -> Tensor:
        # Mul by -1 (wrapped to the dtype) is exact negation: it keeps -0.0 and wraps integers like numpy.
        return mul(self, np.array(-1).astype(self.dtype.np))


class Parameter:
    """A named constant array held by a Cell (MindSpore's Parameter); a graph constant once used."""

    def __init__(self, data: Any, name: str | None = None):
        self.data = np.array(data)  # a private copy: later edits of the caller's array do not leak in
        dtypes.from_numpy(self.data.dtype)
        self.name = name

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> DType:
        return dtypes.from_numpy(self.data.dtype)

    def __repr__(self) -> str:
        return f"Parameter(name={self.name!r}, shape={self.shape}, dtype={self.dtype})"


@dataclass
class _Val:
    name: str
    type: TensorType
    const: np.ndarray | None = None
    produced: bool = False  # output of a node (so renaming it needs no Identity)


@dataclass
class _Rec:
    op: str
    inputs: tuple[int, ...]  # value ids, -1 for an omitted optional input
    outputs: tuple[int, ...]
    attrs: dict
    name: str


class GraphBuilder:
    """Builds an ir.Graph op by op: input(), const(), op()/node(), output(), build()."""

    def __init__(self, name: str = "graph", opset: int = 17):
        self.name, self.opset = name, int(opset)
        self._vals: list[_Val] = []
        self._recs: list[_Rec] = []
        self._names: set[str] = set()  # value names in use
        self._node_names: set[str] = set()
        self._counters: dict[str, int] = {}
        self._n_const = 0
        self._inputs: list[int] = []
        self._outputs: list[int] = []
        self._params: dict[int, tuple[Parameter, Tensor]] = {}
        self.param_names: dict[int, str] = {}  # id(Parameter) -> graph name, set by trace()

    # ------------------------------------------------------------ values
    def _new(self, name: str, type_: TensorType, const: np.ndarray | None = None,
             produced: bool = False) -> Tensor:
        self._names.add(name)
        self._vals.append(_Val(name, type_, const, produced))
        return Tensor(self, len(self._vals) - 1)

    def _fresh(self, base: str) -> str:
        name, k = base, 0
        while name in self._names:
            name, k = f"{base}_{k}", k + 1
        return name

    def _claim(self, name: str, what: str) -> str:
        if not isinstance(name, str) or not name:
            raise GraphError(f"{what} name must be a non-empty string, got {name!r}")
        if name in self._names:
            raise GraphError(f"{what} name '{name}' is already used by another value of graph '{self.name}'")
        return name

    def input(self, name: str, dtype: str | DType | np.dtype, shape: Sequence[Dim]) -> Tensor:
        """A graph input; a str dimension is symbolic (bound when the graph is planned)."""
        shape = tuple(shape)
        for d in shape:
            bad_int = isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 0
            if not isinstance(d, str) and bad_int:
                raise ShapeError(f"input '{name}': dims must be ints >= 0 or str names, got {list(shape)}")
        shape = tuple(d if isinstance(d, str) else int(d) for d in shape)
        t = self._new(self._claim(name, "input"), TensorType(dtypes.parse(dtype), shape))
        self._inputs.append(t.vid)
        return t

    def const(self, array: Any, name: str | None = None) -> Tensor:
        """A constant (an initializer); the array is copied and keeps its numpy dtype."""
        array = np.array(array)
        dtypes.from_numpy(array.dtype)
        if name is None:
            name, self._n_const = self._fresh(f"const_{self._n_const}"), self._n_const + 1
        else:
            self._claim(name, "constant")
        array.flags.writeable = False
        return self._new(name, Value.constant(name, array).type, array)

    def parameter(self, p: Parameter) -> Tensor:
        """The constant of a Parameter, made once per builder and named by its attribute path when traced."""
        hit = self._params.get(id(p))
        if hit is None:
            name = self.param_names.get(id(p)) or p.name
            hit = (p, self.const(p.data, self._fresh(name) if name else None))
            self._params[id(p)] = hit  # holding p keeps id(p) unique for this builder's life
        return hit[1]

    def operand(self, x: Any, dtype: DType | None = None) -> Tensor:
        """`x` as a Tensor of this builder: Tensors pass, Parameters become constants, arrays and scalars
        become constants (of `dtype` if given, refusing values that the cast would change)."""
        if isinstance(x, Tensor):
            if x.builder is not self:
                raise GraphError(f"tensor '{x.name}' belongs to graph '{x.builder.name}', not '{self.name}'")
            return x
        if isinstance(x, Parameter):
            return self.parameter(x)
        if dtype is None:
            return self.const(x)
        arr = np.asarray(x)
        cast = arr.astype(dtype.np)
        with np.errstate(invalid="ignore"):
            same = arr.dtype.kind == "f" and dtype.is_float or np.array_equal(cast, arr)
        if not same:
            raise ShapeError(f"constant {arr.tolist() if arr.size < 8 else arr.shape} cannot be represented "
                             f"exactly as {dtype.name}")
        return self.const(cast)

    # ------------------------------------------------------------ nodes
    def op(self, op: str, inputs: Sequence[Any], outputs: int = 1, name: str | None = None,
           **attrs: Any) -> Tensor | tuple[Tensor, ...]:
        """Adds an ONNX-style node: `attrs` use ONNX names and defaults at this graph's opset and are
        normalised by the op's `onnx_attrs`. Inputs: Tensors, None (omitted), Parameters, arrays."""
        try:
            schema = onnx.defs.get_schema(op, self.opset, "")
        except onnx.defs.SchemaError:
            schema = None  # not an ONNX op (EqualCount) or not at this opset: the registry decides below
        unknown = sorted(set(attrs) - set(schema.attributes)) if schema is not None else []
        if unknown:
            raise GraphError(f"{op}: unknown attribute(s) {unknown} at opset {self.opset}; "
                             f"known: {sorted(schema.attributes)}")
        d = ops.REGISTRY.get(op)
        if d is not None and d.onnx_attrs is not None:
            attrs = d.onnx_attrs(dict(attrs), self.opset)
        return self.node(op, inputs, attrs, outputs, name)

    def node(self, op: str, inputs: Sequence[Any], attrs: Mapping[str, Any] | None = None, outputs: int = 1,
             name: str | None = None, cast: bool = False) -> Tensor | tuple[Tensor, ...]:
        """Adds a node whose `attrs` are already in the IR's canonical form (no ONNX normalisation).
        Python scalars (and with `cast`, arrays too) become constants of the first Tensor input's dtype.
        A node that fails leaves the builder as it was (no half-made constants, no used-up names)."""
        mark = (len(self._vals), self._n_const, dict(self._counters))
        try:
            return self._node(op, inputs, attrs, outputs, name, cast)
        except Exception:
            n, self._n_const, self._counters = mark
            self._names.difference_update(v.name for v in self._vals[n:])
            del self._vals[n:]
            self._params = {k: hit for k, hit in self._params.items() if hit[1].vid < n}
            raise

    def _node(self, op: str, inputs: Sequence[Any], attrs: Mapping[str, Any] | None, outputs: int,
              name: str | None, cast: bool) -> Tensor | tuple[Tensor, ...]:
        if name is None:
            k = self._counters.get(op, 0)
            while f"{op}_{k}" in self._node_names:
                k += 1
            self._counters[op] = k + 1
            name = f"{op}_{k}"
        elif name in self._node_names:
            raise GraphError(f"node name '{name}' is already used in graph '{self.name}'")
        if op not in ops.REGISTRY:
            raise UnsupportedOpError([(name, op, "", self.opset, "no such operator; supported: "
                                       + ", ".join(sorted(ops.REGISTRY)))])
        like = next((x.dtype for x in inputs if isinstance(x, Tensor)), None)
        vids = [-1 if x is None else self.operand(x, like if cast or _is_pyscalar(x) else None).vid
                for x in inputs]
        in_names = tuple(self._vals[v].name if v >= 0 else "" for v in vids)
        in_types = [self._vals[v].type if v >= 0 else None for v in vids]
        consts = {self._vals[v].name: Value(self._vals[v].name, self._vals[v].type, self._vals[v].const)
                  for v in vids if v >= 0 and self._vals[v].const is not None}
        out_names = (name,) if outputs == 1 else tuple(f"{name}_{i}" for i in range(outputs))
        out_names = tuple(self._fresh(n) for n in out_names)
        node = Node(op, in_names, out_names, dict(attrs or {}), name)
        scratch = Graph((), consts, (), (), self.name, self.opset)
        try:
            types = ops.check_node(node, in_types, scratch)
        except (ShapeError, GraphError) as e:
            if f"'{name}'" in str(e):
                raise
            raise type(e)(f"{node}: {e}") from e  # some inference helpers do not name the node
        if len(types) != outputs:
            raise GraphError(f"{node}: asked for {outputs} outputs, the op gives {len(types)}")
        self._node_names.add(name)
        outs = tuple(self._new(n, t, produced=True) for n, t in zip(out_names, types))
        self._recs.append(_Rec(op, tuple(vids), tuple(t.vid for t in outs), dict(node.attrs), name))
        return outs[0] if outputs == 1 else outs

    # ------------------------------------------------------------ outputs and the graph
    def output(self, t: Any, name: str | None = None) -> Tensor:
        """Marks `t` as a graph output, renamed to `name` (an Identity is added if `t` cannot be renamed)."""
        t = self.operand(t)
        v = self._vals[t.vid]
        if name is not None and name != v.name:
            self._claim(name, "output")
            if not v.produced or t.vid in self._outputs:
                t = self.node("Identity", [t])
            self._names.discard(self._vals[t.vid].name)
            self._vals[t.vid].name = name
            self._names.add(name)
        if t.vid in self._outputs:
            raise GraphError(f"'{t.name}' is already an output of graph '{self.name}'")
        self._outputs.append(t.vid)
        return t

    def build(self) -> Graph:
        """The validated ir.Graph of everything added so far (the builder stays usable)."""
        if not self._outputs:
            raise GraphError(f"graph '{self.name}' has no outputs: call output() first")
        name = [v.name for v in self._vals] + [""]  # name[-1]: an omitted input
        values = {v.name: Value(v.name, v.type, v.const) for v in self._vals}
        nodes = tuple(Node(r.op, tuple(name[i] for i in r.inputs), tuple(name[o] for o in r.outputs),
                           dict(r.attrs), r.name) for r in self._recs)
        inputs, outputs = tuple(name[i] for i in self._inputs), tuple(name[o] for o in self._outputs)
        return Graph(nodes, values, inputs, outputs, self.name, self.opset).validate()


def _is_pyscalar(x: Any) -> bool:
    return isinstance(x, numbers.Number)  # lists keep numpy's dtype: b.op("Reshape", [x, [3, -1]]) is int64


# ---------------------------------------------------------------- functional ops
def _builder(*args: Any) -> GraphBuilder:
    for a in args:
        if isinstance(a, Tensor):
            return a.builder
    raise GraphError("an op needs at least one Tensor operand (got only constants or Parameters)")


def _binary(op: str, a: Any, b: Any) -> Tensor:
    return _builder(a, b).node(op, [a, b], cast=True)


def add(a: Any, b: Any) -> Tensor:
    return _binary("Add", a, b)


def sub(a: Any, b: Any) -> Tensor:
    return _binary("Sub", a, b)


def mul(a: Any, b: Any) -> Tensor:
    return _binary("Mul", a, b)


def div(a: Any, b: Any) -> Tensor:
    return _binary("Div", a, b)


def matmul(a: Any, b: Any) -> Tensor:
    return _binary("MatMul", a, b)


def equal_count(a: Any, b: Any) -> Tensor:
    """MindSpore's EqualCount: the number of equal elements, shape (1,), in the inputs' dtype."""
    return _binary("EqualCount", a, b)


def relu(x: Tensor) -> Tensor:
    return _builder(x).node("Relu", [x])


def sigmoid(x: Tensor) -> Tensor:
    return _builder(x).node("Sigmoid", [x])


def tanh(x: Tensor) -> Tensor:
    return _builder(x).node("Tanh", [x])


def identity(x: Tensor) -> Tensor:
    return _builder(x).node("Identity", [x])


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """Softmax over one axis (at every opset)."""
    return _builder(x).node("Softmax", [x], {"axis": int(axis), "coerce_2d": 0})


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return _builder(x).node("LogSoftmax", [x], {"axis": int(axis), "coerce_2d": 0})


def gemm(a: Any, b: Any, c: Any = None, alpha: float = 1.0, beta: float = 1.0, trans_a: bool = False,
         trans_b: bool = False) -> Tensor:
    """alpha * op(a) @ op(b) + beta * c, a and b 2-D, c broadcast to the result; arrays become constants
    of the tensor operand's dtype."""
    attrs = {"alpha": float(alpha), "beta": float(beta), "transA": int(trans_a), "transB": int(trans_b)}
    return _builder(a, b).node("Gemm", [a, b] if c is None else [a, b, c], attrs, cast=True)


def _int_list(x: Any) -> list[int]:
    return [int(v) for v in np.asarray(x).reshape(-1)]


def reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    """ONNX Reshape: 0 copies the input dim, -1 is inferred."""
    if x.builder.opset < 5:
        return _builder(x).node("Reshape", [x], {"shape": tuple(_int_list(shape))})
    return _builder(x).node("Reshape", [x, np.array(_int_list(shape), np.int64)])


def flatten(x: Tensor, axis: int = 1) -> Tensor:
    """To 2-D: dims before `axis` make the rows, the rest the columns."""
    return _builder(x).node("Flatten", [x], {"axis": int(axis)})


def squeeze(x: Tensor, axes: Sequence[int] | None = None) -> Tensor:
    if axes is None:
        return _builder(x).node("Squeeze", [x])
    if x.builder.opset < 13:
        return _builder(x).node("Squeeze", [x], {"axes": tuple(_int_list(axes))})
    return _builder(x).node("Squeeze", [x, np.array(_int_list(axes), np.int64)])


def unsqueeze(x: Tensor, axes: Sequence[int]) -> Tensor:
    if x.builder.opset < 13:
        return _builder(x).node("Unsqueeze", [x], {"axes": tuple(_int_list(axes))})
    return _builder(x).node("Unsqueeze", [x, np.array(_int_list(axes), np.int64)])


def _arg(op: str, x: Tensor, axis: int, keepdims: bool, select_last_index: bool) -> Tensor:
    return _builder(x).node(op, [x], {"axis": int(axis), "keepdims": int(keepdims),
                                    "select_last_index": int(select_last_index)})


def argmax(x: Tensor, axis: int = -1, keepdims: bool = False, select_last_index: bool = False) -> Tensor:
    """Index (int64) of the largest element along `axis`; the first one on ties unless select_last_index."""
    return _arg("ArgMax", x, axis, keepdims, select_last_index)


def argmin(x: Tensor, axis: int = -1, keepdims: bool = False, select_last_index: bool = False) -> Tensor:
    return _arg("ArgMin", x, axis, keepdims, select_last_index)


Pad2d = int | str | Sequence[int]


def _pair(v: int | Sequence[int], what: str) -> tuple[int, int]:
    t = (int(v), int(v)) if isinstance(v, numbers.Integral) else tuple(int(i) for i in v)
    if len(t) != 2:
        raise ShapeError(f"{what} must be an int or a pair, got {v!r}")
    return t  # type: ignore[return-value]


def _window_attrs(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int], padding: Pad2d,
                  dilation: tuple[int, int]) -> dict:
    """ONNX strides/pads/dilations for a 2-D window. padding: int, (h, w), MindSpore's
    (top, bottom, left, right), "valid", or "same" (extra padding at the bottom/right, like SAME_UPPER)."""
    attrs: dict[str, Any] = {"strides": stride}
    if dilation != (1, 1):
        attrs["dilations"] = dilation
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return attrs
        if mode != "same":
            raise ShapeError(f"padding must be 'valid', 'same' or ints, got {padding!r}")
        hw = x.shape[2:]
        if len(hw) != 2 or not all(isinstance(d, int) for d in hw):
            return {**attrs, "auto_pad": "SAME_UPPER"}
        pads = []
        for size, k, s, d in zip(hw, kernel, stride, dilation):
            total = max(0, (-(-size // s) - 1) * s + (k - 1) * d + 1 - size)
            pads.append((total // 2, total - total // 2))
        attrs["pads"] = (pads[0][0], pads[1][0], pads[0][1], pads[1][1])
        return attrs
    p = (int(padding),) * 4 if isinstance(padding, numbers.Integral) else tuple(int(i) for i in padding)
    if len(p) == 2:
        p = (p[0], p[0], p[1], p[1])
    if len(p) != 4:
        raise ShapeError(f"padding must be an int, (h, w) or (top, bottom, left, right), got {padding!r}")
    if any(p):
        attrs["pads"] = (p[0], p[2], p[1], p[3])  # ONNX order: begins then ends
    return attrs


def conv2d(x: Tensor, w: Any, b: Any = None, stride: int | Sequence[int] = 1, padding: Pad2d = 0,
           dilation: int | Sequence[int] = 1, groups: int = 1) -> Tensor:
    """2-D convolution, NCHW input, weight [out, in/groups, kh, kw], optional bias [out]; arrays become
    constants of x's dtype."""
    w_shape = w.shape if isinstance(w, (Tensor, Parameter, np.ndarray)) else np.shape(w)
    kernel = tuple(w_shape[2:])
    attrs = _window_attrs(x, kernel, _pair(stride, "stride"), padding, _pair(dilation, "dilation"))  # type: ignore
    attrs.update(group=int(groups), kernel_shape=kernel)
    return _builder(x).node("Conv", [x, w] + ([] if b is None else [b]), attrs, cast=True)


def max_pool2d(x: Tensor, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
               padding: Pad2d = 0, dilation: int | Sequence[int] = 1, ceil_mode: bool = False) -> Tensor:
    """2-D max pooling; `stride` defaults to the kernel size."""
    k = _pair(kernel_size, "kernel_size")
    attrs = _window_attrs(x, k, _pair(k if stride is None else stride, "stride"), padding,
                          _pair(dilation, "dilation"))
    attrs["kernel_shape"] = k
    if ceil_mode:
        attrs["ceil_mode"] = 1
    return _builder(x).node("MaxPool", [x], attrs)


def avg_pool2d(x: Tensor, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
               padding: Pad2d = 0, ceil_mode: bool = False, count_include_pad: bool = False) -> Tensor:
    """2-D average pooling; `stride` defaults to the kernel size; padding is excluded from the mean
    unless count_include_pad."""
    k = _pair(kernel_size, "kernel_size")
    attrs = _window_attrs(x, k, _pair(k if stride is None else stride, "stride"), padding, (1, 1))
    attrs["kernel_shape"] = k
    if ceil_mode:
        attrs["ceil_mode"] = 1
    if count_include_pad:
        attrs["count_include_pad"] = 1
    return _builder(x).node("AveragePool", [x], attrs)


# ---------------------------------------------------------------- Cells and tracing
class Cell:
    """MindSpore-style module: subclasses set Parameters and sub-Cells as attributes in __init__ (after
    super().__init__()) and define construct(*inputs); calling the cell calls construct."""

    def __init__(self) -> None:
        object.__setattr__(self, "_params", {})
        object.__setattr__(self, "_cells", {})

    def __setattr__(self, name: str, value: Any) -> None:
        if "_params" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() first")
        self._params.pop(name, None)
        self._cells.pop(name, None)
        if isinstance(value, Parameter):
            self._params[name] = value
        elif isinstance(value, Cell):
            self._cells[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._params.pop(name, None)
        self._cells.pop(name, None)
        object.__delattr__(self, name)

    def name_cells(self) -> dict[str, Cell]:
        """The direct sub-cells by attribute name, in assignment order."""
        return dict(self._cells)

    def cells_and_names(self, prefix: str = "") -> Iterator[tuple[str, Cell]]:
        """This cell and every nested cell, with dotted attribute paths ("" for this one)."""
        yield prefix, self
        for name, cell in self._cells.items():
            yield from cell.cells_and_names(f"{prefix}.{name}" if prefix else name)

    def parameters_and_names(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every Parameter once (the first path wins when shared), named like "fc1.weight"."""
        seen: set[int] = set()
        for path, cell in self.cells_and_names(prefix):
            for name, p in cell._params.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{path}.{name}" if path else name), p

    def construct(self, *args: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define construct()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.construct(*args, **kwargs)


InputSpec = tuple[Any, Sequence[Dim]] | TensorType


def trace(cell: Cell, inputs: Mapping[str, InputSpec], opset: int = 17, name: str | None = None) -> Graph:
    """Runs cell.construct on symbolic inputs ({"x": ("float32", (1, 784))}, passed in order) and returns
    the validated Graph: parameters are constants named by attribute path, outputs "output" or
    "output_0", "output_1", ... when construct returns a tuple or list."""
    b = GraphBuilder(name or type(cell).__name__, opset)
    b.param_names = {id(p): path for path, p in cell.parameters_and_names()}
    args = []
    for key, spec in inputs.items():
        dtype, shape = (spec.dtype, spec.shape) if isinstance(spec, TensorType) else spec
        args.append(b.input(key, dtype, shape))
    out = cell(*args)
    if isinstance(out, (tuple, list)):
        for i, t in enumerate(out):
            b.output(t, f"output_{i}")
    else:
        b.output(out, "output")
    return b.build()


from . import nn

__all__ = [
    "Cell",
    "GraphBuilder",
    "Parameter",
    "Tensor",
    "add",
    "argmax",
    "argmin",
    "avg_pool2d",
    "conv2d",
    "div",
    "equal_count",
    "flatten",
    "gemm",
    "identity",
    "log_softmax",
    "matmul",
    "max_pool2d",
    "mul",
    "nn",
    "relu",
    "reshape",
    "sigmoid",
    "softmax",
    "squeeze",
    "sub",
    "tanh",
    "trace",
    "unsqueeze",
]
