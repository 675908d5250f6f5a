"""ONNX frontend: a ModelProto (path, bytes or proto) -> a typed ir.Graph, optionally cut to a subgraph.

Attributes are normalised per opset by each op's `onnx_attrs`; types come from our own per-op inference,
with onnx's shape inference as the fallback for what ours cannot see (unsupported nodes, symbolic dims)."""
from __future__ import annotations

import mmap
import sys
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import helper, numpy_helper
from onnx.external_data_helper import load_external_data_for_model

from . import dtypes, ops
from ._protowire import WireError, strip_initializers
from .errors import GraphError, MsGraphError, ShapeError, UnsupportedOpError, UnsupportedTypeError
from .ir import Graph, LazyConst, Node, TensorType, Value
from .passes.fold_constants import SHAPE_OPS, fold_node
from .schedule import needed_nodes, topological_order

UNKNOWN_RANK = ("?",)  # shape placeholder for a value whose type depends on unbound symbolic dims


def load_model(model) -> onnx.ModelProto:
    """A ModelProto from a path, raw bytes or a ModelProto, with a GraphError for anything unreadable."""
    if isinstance(model, onnx.ModelProto):
        return model
    try:
        if isinstance(model, (bytes, bytearray, memoryview)):
            return onnx.load_from_string(bytes(model))
        path = Path(model)
        if not path.is_file():
            raise GraphError(f"no ONNX model at '{path}'")
        if path.suffix.lower() != ".onnx" or path.stat().st_size == 0:
            return onnx.load(str(path))  # text formats by extension; an empty file cannot be mapped
        return _parse_mapped(path)
    except MsGraphError:
        raise
    except Exception as e:  # protobuf's DecodeError and friends
        raise GraphError(f"cannot read an ONNX model from {_describe(model)}: {e}") from e


def _parse_mapped(path: Path) -> onnx.ModelProto:
    """onnx.load for a binary .onnx file, parsed through a read-only memory map instead of a bytes copy of
    the whole file (for ResNet-18, 47 MB fewer to allocate and fault in); external data is then loaded
    from beside the file, as onnx.load does."""
    model = onnx.ModelProto()
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped, \
            memoryview(mapped) as view:
        model.ParseFromString(view)
    load_external_data_for_model(model, str(path.parent))
    return model


_PLAIN = frozenset(getattr(onnx.TensorProto, t) for t in (
    "FLOAT", "DOUBLE", "FLOAT16", "INT8", "UINT8", "INT16", "UINT16", "INT32", "UINT32", "INT64", "UINT64", "BOOL"))


def _load(model) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """The model, and its large initializers as read-only arrays viewing the file when `model` is the path
    of a binary .onnx file (msgraph._protowire: parsed without their bytes, so neither protobuf nor numpy
    copies the weights); anything else, or a file the walk does not understand, is parsed whole."""
    path = Path(model) if isinstance(model, (str, Path)) else None
    if (path is None or path.suffix.lower() != ".onnx" or not path.is_file() or path.stat().st_size == 0
            or sys.byteorder != "little"):
        return load_model(model), {}
    with open(path, "rb") as f:  # populated at once: one bulk mapping instead of a page fault per 4 KB
        mapped = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0),
                           prot=mmap.PROT_READ)
    try:
        with memoryview(mapped) as view:
            stripped, spans = strip_initializers(view, _PLAIN, SKELETON_MIN_BYTES)
        proto = onnx.ModelProto.FromString(stripped)
    except (WireError, DecodeError):
        return load_model(model), {}
    if len(spans) != len(proto.graph.initializer):
        return load_model(model), {}
    arrays = {}
    for init, span in zip(proto.graph.initializer, spans):
        if span is not None:
            dtype = np.dtype(helper.tensor_dtype_to_np_dtype(init.data_type))
            if span[1] != _nbytes(init):
                raise GraphError(f"invalid ONNX model: initializer '{init.name}' holds {span[1]} bytes, "
                                 f"its dims {list(init.dims)} need {_nbytes(init)}")
            arrays[init.name] = np.frombuffer(mapped, dtype, span[1] // dtype.itemsize, span[0]).reshape(
                tuple(init.dims))
    load_external_data_for_model(proto, str(path.parent))
    return proto, arrays


def _maps_file(array: np.ndarray) -> bool:
    base = array
    while isinstance(base, np.ndarray):
        base = base.base
    return isinstance(base.obj if isinstance(base, memoryview) else base, mmap.mmap)


def detach_weights(graph: Graph) -> Graph:
    """`graph` with every constant that views a model file's memory map (import_onnx(map_weights=True)), or
    is computed from one (a LazyConst), replaced by an array of its own."""
    mapped = {k: v for k, v in graph.values.items()
              if v.const is not None and (isinstance(v.const, LazyConst) or _maps_file(v.const))}
    if not mapped:
        return graph
    own = {k: Value(k, v.type, np.array(v.const)) for k, v in mapped.items()}
    return graph.replace(values={**graph.values, **own})


def _describe(model) -> str:
    return f"{len(model)} bytes" if isinstance(model, (bytes, bytearray, memoryview)) else f"'{model}'"


def _type_of(vi: onnx.ValueInfoProto, sym_prefix: str) -> TensorType | None:
    kind = vi.type.WhichOneof("value")
    if kind is None:
        return None
    if kind != "tensor_type":
        raise UnsupportedTypeError(f"value '{vi.name}' is a {kind.replace('_type', '')}: only tensors are supported")
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return TensorType(dtypes.from_onnx(tt.elem_type), UNKNOWN_RANK)
    shape = []
    for k, d in enumerate(tt.shape.dim):
        if d.HasField("dim_value"):
            shape.append(int(d.dim_value))
        else:
            shape.append(d.dim_param or f"{sym_prefix}_{k}")
    return TensorType(dtypes.from_onnx(tt.elem_type), tuple(shape))


def _attrs(node: onnx.NodeProto) -> dict:
    out = {}
    for a in node.attribute:
        if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            out[a.name] = a  # subgraphs: no op of ours takes one; kept for the error message
            continue
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, onnx.TensorProto):
            v = numpy_helper.to_array(v)
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [s.decode() for s in v]
        out[a.name] = v
    return out


def _constant_value(node: onnx.NodeProto, attrs: dict) -> np.ndarray:
    for key, cast in (("value", None), ("value_float", np.float32), ("value_floats", np.float32),
                      ("value_int", np.int64), ("value_ints", np.int64)):
        if key in attrs:
            return np.asarray(attrs[key]) if cast is None else np.asarray(attrs[key], dtype=cast)
    raise UnsupportedOpError([(node.name, "Constant", "", 0, f"Constant with attribute {sorted(attrs)}")])


def convert_node(proto: onnx.NodeProto, opset: int, name: str, attrs: dict | None = None) -> Node:
    """An ONNX node as an IR node, its attributes normalised for `opset` by the op's own rules."""
    attrs = _attrs(proto) if attrs is None else attrs
    d = ops.REGISTRY.get(proto.op_type) if proto.domain in ("", "ai.onnx") else None
    if d is not None and d.onnx_attrs is not None:
        attrs = d.onnx_attrs(attrs, opset)
    return Node(proto.op_type, tuple(proto.input), tuple(proto.output), attrs, name, proto.domain)


SKELETON_MIN_BYTES = 4096  # initializers this large are only typed, not copied, for checking and inference


def _copy_fields(dst, src, skip: tuple[str, ...]) -> None:
    for field, value in src.ListFields():
        if field.name in skip:
            continue
        if hasattr(value, "extend") and not isinstance(value, (str, bytes)):
            getattr(dst, field.name).extend(value)
        elif field.message_type is not None:
            getattr(dst, field.name).CopyFrom(value)
        else:
            setattr(dst, field.name, value)


def _nbytes(init: onnx.TensorProto) -> int:
    """The bytes the initializer's dims and type declare (its data is not touched: reading raw_data copies)."""
    try:
        itemsize = helper.tensor_dtype_to_np_dtype(init.data_type).itemsize
    except (KeyError, ValueError, TypeError):
        return 0
    return int(np.prod(list(init.dims), dtype=np.int64)) * itemsize


def _skeleton(proto: onnx.ModelProto, mapped: frozenset[str] | dict = frozenset()) -> onnx.ModelProto:
    """The model with its large raw initializers turned into typed graph inputs: what onnx's checker and
    shape inference need (both serialise the whole model, and inference returns a full copy), without
    copying the weights. Small initializers stay: shape inference reads their values (Reshape shapes...).
    The left-out initializers' sizes are checked when they are read (`_initializer`)."""
    src = proto.graph
    large = {i.name for i in src.initializer
             if i.name in mapped or (i.HasField("raw_data") and i.data_location != onnx.TensorProto.EXTERNAL
                                     and _nbytes(i) >= SKELETON_MIN_BYTES)}
    if not large or proto.ir_version < 4:  # before IR 4 every initializer must also be a graph input
        return proto
    out = onnx.ModelProto()
    _copy_fields(out, proto, ("graph",))
    _copy_fields(out.graph, src, ("initializer", "input"))
    declared = {vi.name for vi in src.input}
    out.graph.input.extend(src.input)
    out.graph.input.extend(helper.make_tensor_value_info(i.name, i.data_type, list(i.dims))
                           for i in src.initializer if i.name in large and i.name not in declared)
    out.graph.initializer.extend(i for i in src.initializer if i.name not in large)
    return out


def _initializer(init: onnx.TensorProto) -> np.ndarray:
    try:
        array = numpy_helper.to_array(init)
    except (ValueError, TypeError) as e:
        raise GraphError(f"invalid ONNX model: initializer '{init.name}' ({list(init.dims)}): {e}") from e
    if array.nbytes != _nbytes(init) and init.data_type != onnx.TensorProto.STRING:
        raise GraphError(f"invalid ONNX model: initializer '{init.name}' holds {array.nbytes} bytes, "
                         f"its dims {list(init.dims)} need {_nbytes(init)}")
    return array


def import_onnx(model, inputs: list[str] | None = None, outputs: list[str] | None = None, *,
                map_weights: bool = False) -> Graph:
    """Imports an ONNX model. `inputs`/`outputs` cut it: keep only what `outputs` need from `inputs`.

    `map_weights` (a path only): the large initializers stay read-only views of the file's memory map
    instead of copies, which saves a copy of the weights; the caller must let go of them (or
    `detach_weights`) before the file can be truncated or rewritten in place, or reading them would crash
    the process. InferenceSession does, once the weights are in its arena."""
    proto, mapped = _load(model)
    if not map_weights:
        mapped = {k: a.copy() for k, a in mapped.items()}
    skeleton = _skeleton(proto, mapped)
    try:
        onnx.checker.check_model(skeleton)
    except Exception as e:
        raise GraphError(f"invalid ONNX model: {e}") from e
    # a model of other domains only (ai.onnx.ml, training) gets its nodes reported as unsupported below
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
                 onnx.defs.onnx_opset_version())
    try:
        inferred = onnx.shape_inference.infer_shapes(skeleton, strict_mode=False)
    except Exception:
        inferred = proto  # our own inference still runs; theirs is only a fallback
    g = proto.graph
    hints: dict[str, TensorType] = {}
    for vi in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        try:
            t = _type_of(vi, vi.name)
        except MsGraphError:
            t = None
        if t is not None:
            hints[vi.name] = t

    values: dict[str, Value] = {}
    for init in g.initializer:
        array = mapped.get(init.name)
        values[init.name] = Value.constant(init.name, _initializer(init) if array is None else array)
    nodes: list[Node] = []
    problems = []
    for k, np_ in enumerate(g.node):
        name = np_.name or f"{np_.op_type}_{k}"
        attrs = _attrs(np_)
        if np_.op_type == "Constant" and np_.domain in ("", "ai.onnx"):
            values[np_.output[0]] = Value.constant(np_.output[0], _constant_value(np_, attrs))
            continue
        nodes.append(convert_node(np_, opset, name, attrs))

    graph_inputs = [vi.name for vi in g.input if vi.name not in values]
    for vi in g.input:
        if vi.name not in values:
            t = _type_of(vi, vi.name)
            if t is None or t.shape == UNKNOWN_RANK:
                raise GraphError(f"graph input '{vi.name}' has no tensor type with a shape")
            values[vi.name] = Value(vi.name, t)
    out_names = list(outputs) if outputs is not None else [vi.name for vi in g.output]
    in_names = list(inputs) if inputs is not None else graph_inputs
    producers = {o: n for n in nodes for o in n.outputs if o}
    for name in [*in_names, *out_names]:
        if name not in values and name not in producers:
            raise GraphError(f"'{name}' is not a value of the model")
    for name in in_names:
        if name not in values or values[name].const is not None:
            t = hints.get(name)
            if t is None or t.shape == UNKNOWN_RANK:
                raise GraphError(f"cannot cut at '{name}': its type is unknown (run onnx shape inference first)")
            values[name] = Value(name, t)

    probe = Graph(nodes=tuple(nodes), values=values, inputs=tuple(in_names), outputs=tuple(out_names),
                  name=g.name or "model", opset=opset)
    kept = topological_order(probe, needed_nodes(probe, out_names, stop_at=set(in_names)))
    for n in kept:
        for i in n.inputs:
            if i and i not in values and i not in producers:
                raise GraphError(f"node '{n.name}' ({n.op}): input '{i}' is not defined by the model")
    folded, deferred = set(), set()  # deferred: values computable once symbolic dims are bound
    bound_by_value = set(ops.value_inputs(probe))  # bound per run, so types after them are not known yet
    for n in kept:
        if fold_node(n, values, opset):
            folded.add(n.name)
            continue
        present = [i for i in n.inputs if i]
        if present and (n.op in SHAPE_OPS or all(i in deferred or (i in values and values[i].const is not None)
                                                  for i in present)) and any(
                i in deferred or (n.op in SHAPE_OPS and not values[i].type.is_static) for i in present):
            deferred.update(o for o in n.outputs if o)  # a shape computation: folded when shapes are bound
            for o in n.outputs:
                if o:
                    values[o] = Value(o, hints.get(o) or TensorType(dtypes.I64, UNKNOWN_RANK))
            continue
        in_types = [(values[i].type if i in values else hints.get(i)) if i else None for i in n.inputs]
        problem = ops.support_problem(n, in_types, opset)
        if problem is None and n.domain in ("", "ai.onnx") and not onnx.defs.has(n.op):
            problem = "not an ONNX operator"
        if problem is not None:
            problems.append((n.name, n.op, n.domain, opset, problem))
            for o, t in zip(n.outputs, [hints.get(o) for o in n.outputs]):
                if o and t is not None:
                    values[o] = Value(o, t)
            continue
        for o, t in zip(n.outputs, _infer_node(n, in_types, probe, hints, bool(bound_by_value))):
            if o:
                values[o] = Value(o, t)
    if problems:
        raise UnsupportedOpError(problems, hint=_cut_hint(kept, {p[0] for p in problems}, values, out_names))
    return Graph(nodes=tuple(n for n in kept if n.name not in folded), values={k: v for k, v in values.items()}, inputs=tuple(in_names),
                 outputs=tuple(out_names), name=probe.name, opset=opset).validate()


def _infer_node(node: Node, in_types: list, graph: Graph, hints: dict, unbound: bool) -> list[TensorType]:
    symbolic = unbound or any(t is not None and not t.is_static for t in in_types)
    if any(t is None for t, i in zip(in_types, node.inputs) if i):
        raise GraphError(f"node '{node.name}' ({node.op}): the type of an input is unknown")
    try:
        return ops.check_node(node, in_types, graph)
    except (ShapeError, TypeError, ValueError):
        if not symbolic:
            raise
    # symbolic dims our inference cannot follow: onnx's guess, resolved when shapes are bound at run time
    dtype = in_types[0].dtype
    return [hints.get(o) or TensorType(dtype, UNKNOWN_RANK) for o in node.outputs]


def _cut_hint(nodes: list[Node], bad: set[str], values: dict[str, Value], outputs: list[str]) -> str:
    """Suggests the import_onnx(inputs=, outputs=) cut that runs the most supported nodes: the part
    before the first unsupported node, or the part after the last one, whichever is larger."""
    positions = [k for k, n in enumerate(nodes) if n.name in bad]
    head, tail = nodes[:positions[0]], nodes[positions[-1] + 1:]
    part = head if len(head) >= len(tail) else tail
    if not part:
        return ""
    produced = {o for n in part for o in n.outputs if o}
    inputs = sorted({i for n in part for i in n.inputs
                     if i and i not in produced and (i not in values or values[i].const is None)})
    outs = [o for o in outputs if o in produced] or [part[-1].outputs[0]]
    return (f"hint: the largest supported part ({len(part)} nodes) runs with "
            f"import_onnx(model, inputs={inputs}, outputs={outs})")
