"""The one exception hierarchy of msgraph and backend_wasm: every error a user can see derives from MsGraphError."""
from __future__ import annotations


class MsGraphError(Exception):
    """Base class of every msgraph error."""


class GraphError(MsGraphError, ValueError):
    """A malformed graph or model: dangling values, cycles, wrong arity, bad attributes."""


class ShapeError(GraphError):
    """Shapes or dtypes that do not fit an operator, or inputs that contradict the model."""


class UnsupportedOpError(MsGraphError, NotImplementedError):
    """One or more nodes whose (op, domain, opset, dtype) has no kernel; lists every such node at once."""

    def __init__(self, problems: list[tuple[str, str, str, int, str]], hint: str = ""):
        # problems: (node name, op type, domain, opset, what is missing)
        self.problems = list(problems)
        lines = [f"{len(self.problems)} unsupported node(s):"]
        for name, op, domain, opset, why in self.problems:
            lines.append(f"  node '{name}': {domain or 'ai.onnx'}::{op} (opset {opset}): {why}")
        if hint:
            lines.append(hint)
        super().__init__("\n".join(lines))


class UnsupportedTypeError(MsGraphError, NotImplementedError):
    """A value of a type msgraph does not store: string, complex, bfloat16, float8, sequence, map, optional."""


class PlanError(MsGraphError):
    """A graph that cannot be planned: an unbound dynamic dimension, an arena over the memory limit."""


class InputError(MsGraphError, ValueError):
    """A bad feed to run(): unknown or missing name, wrong dtype or shape."""


class KernelError(MsGraphError, RuntimeError):
    """A kernel that trapped or returned a non-zero status, or a kernels.wasm that cannot be used."""
