"""Constant folding: a node whose inputs are all constants (or a Shape/Size of a static value) is
evaluated once at plan time by onnx's reference implementation, so shape-computing subgraphs
(Shape -> Gather -> Concat -> Reshape, as exporters write them) cost nothing at run time."""
from __future__ import annotations

import numpy as np

from ..errors import MsGraphError
from ..ir import Graph, Node, TensorType, Value

MAX_FOLD_BYTES = 1 << 26  # larger results stay computed at run time rather than bloat the weights
SHAPE_OPS = ("Shape", "Size")


def foldable(node: Node, values: dict[str, Value]) -> bool:
    present = [i for i in node.inputs if i]
    if node.domain not in ("", "ai.onnx") or node.op in ("RandomNormal", "RandomUniform", "RandomNormalLike",
                                                         "RandomUniformLike", "Multinomial", "Bernoulli"):
        return False
    if node.op in SHAPE_OPS:
        return bool(present) and present[0] in values and values[present[0]].type.is_static
    return bool(present) and all(i in values and values[i].const is not None for i in present)


def shape_op(node: Node, t: TensorType) -> np.ndarray:
    if node.op == "Size":
        return np.array(t.size, np.int64)
    rank = t.rank
    start, end = node.attr("start", 0), node.attr("end", rank)
    start, end = (max(0, min(rank, v + rank if v < 0 else v)) for v in (start, end))
    return np.array(t.shape[start:end], np.int64)


def evaluate(node: Node, values: dict[str, Value], opset: int) -> list[np.ndarray]:
    """The outputs of `node` on constant inputs, or raises MsGraphError if the reference cannot run it."""
    if node.op in SHAPE_OPS:
        return [shape_op(node, values[node.inputs[0]].type)]
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    from .. import dtypes
    from ..onnx_export import to_onnx

    vals = {i: values[i] for i in node.inputs if i}
    outs = tuple(o for o in node.outputs if o)
    vals.update({o: Value(o, TensorType(dtypes.F32, ())) for o in outs})  # placeholders: types unknown yet
    try:
        model = to_onnx(Graph((node,), vals, (), outs, "fold", opset))
        del model.graph.output[:]
        del model.graph.value_info[:]
        model.graph.output.extend(helper.make_empty_tensor_value_info(o) for o in outs)
        results = [np.asarray(r) for r in ReferenceEvaluator(model).run(None, {})]
    except Exception as e:
        raise MsGraphError(f"{node}: cannot fold: {e}") from e
    if sum(r.nbytes for r in results) > MAX_FOLD_BYTES:
        raise MsGraphError(f"{node}: folded result too large to keep as a constant")
    return results


def fold_node(node: Node, values: dict[str, Value], opset: int) -> bool:
    """Folds `node` into constants in `values` if it can; True when it did."""
    if not foldable(node, values):
        return False
    try:
        results = evaluate(node, values, opset)
        folded = [Value.constant(o, r) for o, r in zip((o for o in node.outputs if o), results)]
    except MsGraphError:
        return False  # left to run as a node (or to be reported as unsupported)
    values.update((v.name, v) for v in folded)
    return True
