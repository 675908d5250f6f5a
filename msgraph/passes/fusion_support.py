"""Which fused activations an op's lowering honours: the activation pass fuses only what this says, so a
kernel that does not apply the `activation` attribute never gets a node that relies on it.

An op module may declare its support (`declare_fused_activations("Conv", [...])`); without a declaration
the lowering is probed: lowering the node with the attribute must emit different kernel steps than without
it (and different steps for different `activation_params`), else the attribute would be silently ignored.
Imports only the IR and the op registry."""
from __future__ import annotations

from collections.abc import Iterable

from .. import ops
from ..errors import MsGraphError
from ..ir import Node, TensorType

ACTIVATIONS = ("relu", "clip", "sigmoid", "hardswish", "gelu", "leakyrelu")
_DECLARED: dict[str, frozenset[str]] = {}


def declare_fused_activations(op: str, names: Iterable[str]) -> None:
    """States that `op`'s lowering applies these activations (attrs `activation`, `activation_params`)."""
    names = frozenset(names)
    unknown = names - set(ACTIVATIONS)
    if unknown:
        raise ValueError(f"unknown fused activations {sorted(unknown)}; known: {', '.join(ACTIVATIONS)}")
    _DECLARED[op] = names


def _steps(node: Node, in_types: list, out_types: list, consts: list):
    d = ops.REGISTRY.get(node.op)
    if d is None or d.lower is None:
        return None
    ctx = ops.Lowering(node, in_types, out_types, consts)
    try:
        d.lower(ctx)
    except (MsGraphError, ValueError, KeyError, TypeError):
        return None
    return [(s.kernel, s.tensors, s.ints) for s in ctx.steps], ctx.scratch


def _with(node: Node, activation: str, params: tuple) -> Node:
    return Node(node.op, node.inputs, node.outputs, {**node.attrs, "activation": activation,
                                                     "activation_params": params}, node.name, node.domain)


def supports_activation(node: Node, activation: str, params: tuple[float, ...], in_types: list[TensorType | None],
                        out_types: list[TensorType], consts: list) -> bool:
    """True when `node` (a Conv, Gemm, MatMul...) with this fused activation lowers to steps that apply it."""
    if activation not in ACTIVATIONS:
        return False
    declared = _DECLARED.get(node.op)
    if declared is not None:
        return activation in declared
    plain = _steps(node, in_types, out_types, consts)
    fused = _steps(_with(node, activation, params), in_types, out_types, consts)
    if plain is None or fused is None or plain == fused:
        return False
    if params:  # the parameters must reach the kernel too
        other = tuple(p + 1.0 for p in params)
        if _steps(_with(node, activation, other), in_types, out_types, consts) == fused:
            return False
    return True
