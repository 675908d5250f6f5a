"""msgraph: build (DSL) or import (ONNX) a graph, plan it into one arena, run it on WebAssembly kernels.

The core modules never import wasmtime; `InferenceSession` comes from the backend_wasm package on first use."""
from __future__ import annotations

from .errors import (  # noqa: F401
    GraphError,
    InputError,
    KernelError,
    MsGraphError,
    PlanError,
    ShapeError,
    UnsupportedOpError,
    UnsupportedTypeError,
)
from .ir import Graph, Node, TensorType, Value  # noqa: F401
from .onnx_import import import_onnx  # noqa: F401
from .plan import Plan, build_plan  # noqa: F401

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "InferenceSession":
        from backend_wasm.session import InferenceSession
        return InferenceSession
    raise AttributeError(f"module 'msgraph' has no attribute '{name}'")
