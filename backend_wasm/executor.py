"""Runs a Plan on kernels.wasm: one Store and one host-owned Memory sized once at load, constants written
once, inputs and outputs through numpy views of the arena, and ONE call into WebAssembly per run."""
from __future__ import annotations

import numpy as np
import wasmtime

from msgraph.arena import align_up
from msgraph.errors import InputError, KernelError
from msgraph.plan import Binding, Plan

from . import loader


class Executor:
    """set_input / run / get_output over one arena. Not thread-safe: one Executor per thread."""

    def __init__(self, plan: Plan, kernels: str | None = None):
        self.plan = plan
        n_words = sum(3 + len(s.tensors) + len(s.ints) for s in plan.steps)
        program_offset = align_up(plan.total_bytes)
        self._inst = inst = loader.instantiate(program_offset + 4 * n_words + 64, kernels)
        self.base = align_up(inst.heap_base)
        missing = sorted({s.kernel for s in plan.steps} - set(inst.opcodes))
        if missing:
            raise KernelError(f"kernels.wasm lacks the kernels {', '.join(missing)}: rebuild it")
        program = plan.encode_program(inst.opcodes, self.base)
        self._memory = np.frombuffer(inst.buffer(), dtype=np.uint8)  # valid for life: memory never grows
        self._memory[self.base:self.base + len(plan.weights)] = np.frombuffer(plan.weights, dtype=np.uint8)
        start = self.base + program_offset
        self._memory[start:start + program.nbytes] = program.view(np.uint8)
        self._program = (start, len(plan.steps))
        self._inputs = {b.name: (b, self._view(b)) for b in plan.inputs}
        self._outputs = {b.name: (b, self._view(b)) for b in plan.outputs}

    def _view(self, b: Binding) -> np.ndarray:
        start = self.base + b.offset
        return self._memory[start:start + b.nbytes].view(b.dtype).reshape(b.shape)

    @property
    def memory_bytes(self) -> int:
        return len(self._memory)

    def set_input(self, name: str, value) -> None:
        if name not in self._inputs:
            raise InputError(f"unknown input '{name}'; the inputs are {', '.join(self._inputs) or 'none'}")
        b, view = self._inputs[name]
        array = np.asarray(value)
        if array.dtype != view.dtype:
            raise InputError(f"input '{name}' must be {view.dtype}, got {array.dtype}")
        if array.shape != view.shape:
            raise InputError(f"input '{name}' must have shape {list(view.shape)}, got {list(array.shape)}")
        view[...] = array

    def run(self) -> None:
        try:
            status = self._inst.run(self._inst.store, *self._program)
        except wasmtime.Trap as e:
            raise KernelError(f"a kernel trapped while running the plan: {e}") from e
        if status:
            step = self.plan.steps[status - 1]
            raise KernelError(f"node '{step.node}' ({step.op}), kernel {step.kernel}: {self._inst.error_text()}")

    def get_output(self, name: str) -> np.ndarray:
        if name not in self._outputs:
            raise InputError(f"unknown output '{name}'; the outputs are {', '.join(self._outputs)}")
        return self._outputs[name][1].copy()

    def __call__(self, feeds: dict) -> list[np.ndarray]:
        missing = [n for n in self._inputs if n not in feeds]
        extra = [n for n in feeds if n not in self._inputs]
        if missing or extra:
            raise InputError(f"feeds must be exactly the inputs {list(self._inputs)}: "
                             f"missing {missing}, unexpected {extra}")
        for name, value in feeds.items():
            self.set_input(name, value)
        self.run()
        return [self.get_output(b.name) for b in self.plan.outputs]
