"""Type inference over a whole graph: (re)computes every node output's dtype and shape from the inputs,
e.g. to bind symbolic input dimensions to the shapes actually fed."""
from __future__ import annotations

from .errors import ShapeError
from .ir import Graph, TensorType, Value
from .ops import check_node
from .schedule import topological_order


def infer(graph: Graph, input_shapes: dict[str, tuple] | None = None) -> Graph:
    """A copy of `graph` whose node outputs carry freshly inferred types (inputs rebound if given)."""
    values = dict(graph.values)
    for name, shape in (input_shapes or {}).items():
        declared = values[name].type
        shape = tuple(int(d) for d in shape)
        if len(shape) != declared.rank or any(isinstance(d, int) and d != s for d, s in zip(declared.shape, shape)):
            raise ShapeError(f"input '{name}' has shape {list(declared.shape)}, cannot bind it to {list(shape)}")
        values[name] = Value(name, TensorType(declared.dtype, shape))
    bound = graph.replace(values=values)
    for node in topological_order(bound):
        in_types = [values[i].type if i else None for i in node.inputs]
        for out, t in zip(node.outputs, check_node(node, in_types, bound)):
            if out:
                values[out] = Value(out, t)
    return bound
