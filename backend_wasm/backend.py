"""The ONNX backend API (like onnxruntime.backend): prepare / run_model / run_node / supports_device, so
onnx.backend.test.BackendTest and other tools can drive msgraph's WebAssembly executor."""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep

from msgraph import dtypes, ops
from msgraph.errors import InputError, UnsupportedOpError
from msgraph.ir import Graph, TensorType, Value
from msgraph.onnx_import import convert_node

from .session import InferenceSession


class WasmBackendRep(BackendRep):
    """A prepared model; run() takes a list in input order or a dict by name."""

    def __init__(self, session: InferenceSession):
        self.session = session

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        names = self.session.graph.inputs
        if isinstance(inputs, dict):
            feeds = dict(inputs)
        else:
            if isinstance(inputs, np.ndarray):
                inputs = [inputs]
            inputs = list(inputs)
            if len(inputs) != len(names):
                raise InputError(f"the model takes {len(names)} inputs {list(names)}, got {len(inputs)}")
            feeds = dict(zip(names, inputs))
        return tuple(self.session.run(None, feeds))


class WasmBackend(Backend):
    @classmethod
    def supports_device(cls, device: str) -> bool:
        return str(device).upper() == "CPU"

    @classmethod
    def _check_device(cls, device: str) -> None:
        if not cls.supports_device(device):
            raise InputError(f"device '{device}' is not supported; msgraph runs on 'CPU' (WebAssembly)")

    @classmethod
    def prepare(cls, model, device: str = "CPU", **kwargs: Any) -> WasmBackendRep:
        cls._check_device(device)
        return WasmBackendRep(InferenceSession(model))

    @classmethod
    def run_model(cls, model, inputs: Any, device: str = "CPU", **kwargs: Any) -> tuple[np.ndarray, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Any, device: str = "CPU", outputs_info=None,
                 **kwargs: Any) -> tuple[np.ndarray, ...]:
        """Runs one node on the given arrays (listed in the node's input order, "" inputs skipped)."""
        cls._check_device(device)
        opset = int(kwargs.get("opset_version") or onnx.defs.onnx_opset_version())
        ir_node = convert_node(node, opset, node.name or node.op_type)
        arrays = list(inputs.values()) if isinstance(inputs, dict) else list(inputs)
        present = [i for i in node.input if i]
        if len(arrays) != len(present):
            raise InputError(f"node {node.op_type} has {len(present)} inputs, got {len(arrays)} arrays")
        values: dict[str, Value] = {}
        for name, a in zip(present, arrays):
            a = np.asarray(a)
            values[name] = Value(name, TensorType(dtypes.from_numpy(a.dtype), tuple(a.shape)))
        probe = Graph((ir_node,), values, tuple(present), tuple(o for o in node.output if o), opset=opset)
        problem = ops.support_problem(ir_node, [values[i].type if i else None for i in node.input], opset)
        if problem:
            raise UnsupportedOpError([(ir_node.name, node.op_type, node.domain, opset, problem)])
        for o, t in zip(node.output, ops.check_node(ir_node, [values[i].type if i else None for i in node.input],
                                                    probe)):
            if o:
                values[o] = Value(o, t)
        graph = probe.replace(values=values).validate()
        return tuple(InferenceSession(graph).run(None, dict(zip(present, arrays))))


prepare = WasmBackend.prepare
run_model = WasmBackend.run_model
run_node = WasmBackend.run_node
supports_device = WasmBackend.supports_device
