"""Runs one kernel of kernels.wasm on numpy arrays through a one-step mg_run program (tests and benchmarks)."""
from __future__ import annotations

import os
import struct
import time
from collections.abc import Sequence

import numpy as np

from backend_wasm.loader import Instance, instantiate

ALIGN = 64
DTYPES = {"f32": np.float32, "f64": np.float64, "i8": np.int8, "u8": np.uint8, "i16": np.int16,
          "i32": np.int32, "i64": np.int64, "bool": np.bool_}
_instance: Instance | None = None
_capacity = 0


def f32_bits(x: float) -> int:
    """The IEEE-754 float32 bits of x as a signed i32 (how float params travel in the program)."""
    return struct.unpack("<i", struct.pack("<f", x))[0]


def get_instance(nbytes: int) -> Instance:
    """A cached instance with at least nbytes after its heap base (a bigger one when needed)."""
    global _instance, _capacity
    if _instance is None or nbytes > _capacity:
        _capacity = max(nbytes, 16 << 20)
        _instance = instantiate(_capacity, os.environ.get("MG_KERNELS_WASM") or None)  # a private build
    return _instance


def kernel_names() -> list[str]:
    """Every kernel of kernels.wasm, in opcode order (read from its mg_kernel_names export)."""
    ops = get_instance(0).opcodes
    return sorted(ops, key=ops.__getitem__)


class KernelFailed(RuntimeError):
    """mg_run returned a non-zero status; .status and the kernel's message are kept."""

    def __init__(self, status: int, message: str):
        super().__init__(f"status {status}: {message}")
        self.status, self.message = status, message


def _up(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def run(
    name: str,
    inputs: Sequence[np.ndarray | None],
    outputs: Sequence[tuple[Sequence[int], np.dtype | str]],
    ints: Sequence[int],
    *,
    alias: dict[int, int] | None = None,
    repeat: int = 1,
    timer=None,
) -> list[np.ndarray]:
    """Runs kernel `name` once (or `repeat` times in one mg_run call) and returns its outputs.

    inputs: arrays (None = absent tensor, address 0); outputs: (shape, dtype) per output tensor;
    ints: the kernel's int params; alias {output index: input index} makes an output share the
    input's address (in-place). timer, if given, is called as timer(fn) around the mg_run call.
    """
    alias = alias or {}
    ins = [None if a is None else np.ascontiguousarray(a) for a in inputs]
    outs = [(tuple(int(d) for d in s), np.dtype(DTYPES.get(dt, dt))) for s, dt in outputs]
    step = 3 + len(ins) + len(outs) + len(ints)
    sizes = [0 if a is None else a.nbytes for a in ins] + [int(np.prod(s)) * dt.itemsize for s, dt in outs]
    total = sum(_up(max(n, 1)) for n in sizes) + _up(4 * step * repeat) + ALIGN
    inst = get_instance(total)
    store = inst.store
    mem = np.frombuffer(inst.buffer(), dtype=np.uint8)
    base = _up(inst.heap_base)
    addrs = []
    for n in sizes:
        addrs.append(base)
        base += _up(max(n, 1))
    for i, a in enumerate(ins):
        if a is None:
            addrs[i] = 0
        else:
            mem[addrs[i]:addrs[i] + a.nbytes] = a.reshape(-1).view(np.uint8)
    for o, i in alias.items():
        addrs[len(ins) + o] = addrs[i]
    if name not in inst.opcodes:
        raise KeyError(f"no kernel {name!r} in kernels.wasm")
    words = [inst.opcodes[name], len(addrs), len(ints), *addrs, *(int(v) for v in ints)]
    for v in words:
        if not -(2**31) <= v < 2**32:
            raise ValueError(f"{name}: program word {v} does not fit in 32 bits")
    prog = np.array([v - 2**32 if v >= 2**31 else v for v in words] * repeat, dtype=np.int32)
    prog_addr = base
    mem[prog_addr:prog_addr + prog.nbytes] = prog.view(np.uint8)

    def call():
        return inst.run(store, int(prog_addr), int(repeat))

    status = timer(call) if timer else call()
    if status != 0:
        raise KernelFailed(status, inst.error_text())
    results = []
    for k, (shape, dt) in enumerate(outs):
        a = addrs[len(ins) + k]
        n = int(np.prod(shape)) * dt.itemsize
        results.append(mem[a:a + n].view(dt).reshape(shape).copy())
    return results


def best_seconds(name: str, inputs, outputs, ints, *, repeat: int = 10, rounds: int = 7,
                 clock=time.process_time) -> float:
    """Seconds per run of kernel `name`: the best of `rounds` mg_run calls that each run it `repeat` times
    (best, since the machine may be shared), after one untimed run."""
    best = float("inf")

    def timed(call):
        nonlocal best
        t0 = clock()
        status = call()
        best = min(best, (clock() - t0) / repeat)
        return status

    run(name, inputs, outputs, ints)
    for _ in range(rounds):
        run(name, inputs, outputs, ints, repeat=repeat, timer=timed)
    return best
