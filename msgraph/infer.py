"""Type inference over a whole graph: (re)computes every node output's dtype and shape from the inputs,
e.g. to bind symbolic input dimensions to the shapes actually fed; nodes that become computable at plan
time (on constants, or Shape of a now static value) are folded on the way."""
from __future__ import annotations

import numpy as np

from .errors import ShapeError
from .ir import Graph, TensorType, Value
from .ops import check_node
from .passes.fold_constants import fold_node
from .schedule import topological_order


def infer(graph: Graph, input_shapes: dict[str, tuple] | None = None,
          input_values: dict[str, np.ndarray] | None = None) -> Graph:
    """A copy of `graph` whose node outputs carry freshly inferred types: inputs rebound to the shapes
    given, and inputs given by value turned into constants (they are no longer graph inputs)."""
    values = dict(graph.values)
    for name, array in (input_values or {}).items():
        array = np.asarray(array)
        declared = values[name].type
        if array.dtype != declared.dtype.np:
            raise ShapeError(f"input '{name}' must be {declared.dtype.np}, got {array.dtype}")
        values[name] = Value.constant(name, array)
    graph = graph.replace(inputs=tuple(i for i in graph.inputs if i not in (input_values or {})))
    for name, shape in (input_shapes or {}).items():
        if name in (input_values or {}):
            continue
        declared = values[name].type
        shape = tuple(int(d) for d in shape)
        if len(shape) != declared.rank or any(isinstance(d, int) and d != s for d, s in zip(declared.shape, shape)):
            raise ShapeError(f"input '{name}' has shape {list(declared.shape)}, cannot bind it to {list(shape)}")
        values[name] = Value(name, TensorType(declared.dtype, shape))
    bound = graph.replace(values=values)
    kept = []
    for node in topological_order(bound):
        if fold_node(node, values, graph.opset):
            continue  # now static: a shape computation, or a node on constants
        in_types = [values[i].type if i else None for i in node.inputs]
        for out, t in zip(node.outputs, check_node(node, in_types, bound)):
            if out:
                values[out] = Value(out, t)
        kept.append(node)
    return bound.replace(nodes=tuple(kept))
