"""Runs a Plan on kernels.wasm: one Store and one host-owned Memory sized once at load, constants written
once, inputs and outputs through numpy views of the arena, and ONE call into WebAssembly per run.

The call goes through wasmtime's unchecked C entry point with a pre-built argument buffer (the export's
type is checked once at load): about 1 us instead of the ~25 us of `Func.__call__`."""
from __future__ import annotations

import ctypes
import mmap
import sys
import threading
import time
from dataclasses import replace

import numpy as np
import wasmtime
from wasmtime import _ffi as ffi

from msgraph.arena import align_up
from msgraph.errors import InputError, KernelError, PlanError
from msgraph.plan import Binding, Plan, Stage, weights_writer

from . import loader
from .pool import WorkerPool

_I32 = wasmtime.ValType.i32()


def _unchecked_call():
    """A private ctypes handle on wasmtime_func_call_unchecked (wasmtime's own keeps its argtypes)."""
    fn = ffi.dll._FuncPtr(("wasmtime_func_call_unchecked", ffi.dll))
    fn.restype = ctypes.c_void_p
    fn.argtypes = None
    return fn


_CALL = _unchecked_call()


class _Trapped(KernelError):
    """A trap in mg_run; .step: the index of the step the calling thread was in (None if the module cannot
    say), for the executor to name its node."""

    def __init__(self, message: str, step: int | None):
        super().__init__(message)
        self.step = step


class _RawRun:
    """mg_run(program, n_steps) -> status, called without wasmtime-py's per-call type checks."""

    def __init__(self, inst: loader.Instance, program: int, n_steps: int, on_trap=None):
        ty = inst.run.type(inst.store)
        if [str(p) for p in ty.params] != [str(_I32)] * 2 or [str(r) for r in ty.results] != [str(_I32)]:
            raise KernelError(f"kernels.wasm exports mg_run with type {ty.params} -> {ty.results}, "
                              "expected (i32, i32) -> i32: rebuild it")
        self._inst = inst  # keeps the store and the function alive as long as this handle
        self._ctx = inst.store._context()
        self._func = ctypes.byref(inst.run._func)
        self._buf = (ffi.wasmtime_val_raw_t * 2)()
        self._a0, self._a1 = self._buf[0], self._buf[1]
        self._args = (program, n_steps)
        self._trap = ctypes.c_void_p()
        self._trap_ref = ctypes.byref(self._trap)
        self._on_trap = on_trap  # called before a trap is raised (the threaded executor's clean-up)
        self._current = inst.exports.get("mg_current_step")

    def __call__(self) -> int:
        a0 = self._a0
        a0.i32, self._a1.i32 = self._args
        err = _CALL(self._ctx, self._func, self._buf, 2, self._trap_ref)
        if err or self._trap.value:
            self._raise(err)
        return a0.i32

    def call(self, program: int, n_steps: int) -> int:
        """mg_run on another program (a slice of this one, for profiling)."""
        a0 = self._a0
        a0.i32, self._a1.i32 = program, n_steps
        err = _CALL(self._ctx, self._func, self._buf, 2, self._trap_ref)
        if err or self._trap.value:
            self._raise(err)
        return a0.i32

    def _raise(self, err) -> None:
        if self._trap.value:
            trap = wasmtime.Trap._from_ptr(ctypes.cast(self._trap.value, ctypes.POINTER(ffi.wasm_trap_t)))
            self._trap.value = None
            if self._on_trap is not None:
                self._on_trap()
            step = self._current(self._inst.store) if self._current is not None else None
            raise _Trapped(f"a kernel trapped while running the plan: {trap}", step)
        error = wasmtime.WasmtimeError._from_ptr(ctypes.cast(err, ctypes.POINTER(ffi.wasmtime_error_t)))
        raise KernelError(f"running the plan failed: {error}")


def _named(e: _Trapped, steps) -> KernelError:
    """The trap as a KernelError naming the node of the step it happened in, when known."""
    if e.step is None or not 0 <= e.step < len(steps):
        return e
    s = steps[e.step]
    return KernelError(f"node '{s.node}' ({s.op}), kernel {s.kernel}: {e}")


def _populate_in_background(memory: np.ndarray, start: int, stop: int) -> threading.Thread | None:
    """Faults in memory[start:stop] on another thread (Linux's MADV_POPULATE_WRITE), so that the init steps
    filling the persistent buffers find their pages ready instead of faulting them in one by one (ResNet-18:
    95 MB, a third of its load time on one core). Join the thread before returning; None when there is
    nothing to do or no such call."""
    if sys.platform != "linux" or stop - start < _POPULATE_MIN_BYTES:
        return None
    lo = (memory.ctypes.data + start + _OS_PAGE - 1) // _OS_PAGE * _OS_PAGE
    hi = (memory.ctypes.data + stop) // _OS_PAGE * _OS_PAGE
    libc = ctypes.CDLL(None, use_errno=True)
    madvise = libc.madvise
    madvise.argtypes, madvise.restype = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int), ctypes.c_int
    # (fails harmlessly before Linux 5.14: the pages are then faulted in by the init steps as before)
    thread = threading.Thread(target=madvise, args=(lo, hi - lo, _MADV_POPULATE_WRITE), daemon=True)
    thread.start()
    return thread


_MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23)
_OS_PAGE = mmap.PAGESIZE
_POPULATE_MIN_BYTES = 1 << 20


class ArenaBytes(np.ndarray):
    """A read-only uint8 view of arena bytes standing in for a `bytes` blob (len, bytes(), the buffer
    protocol); copying a plan that holds it shares it rather than duplicating the weights."""

    def __deepcopy__(self, memo) -> ArenaBytes:
        return self

    def __copy__(self) -> ArenaBytes:
        return self


class Executor:
    """set_input / run / get_output over one arena. Not thread-safe: one Executor per thread. The plan's
    init steps (packing constant weights into persistent buffers) run once here, at load.

    threads > 1 runs kernels_mt.wasm on a shared arena with threads - 1 worker threads (backend_wasm.pool)
    that take their share of each u8_parallel group (a plan built with build_plan(..., threads=N));
    close() stops them (so does garbage collection or interpreter exit).

    After loading, `plan` is the plan as loaded: its weights a read-only view of the arena's constants and
    persistent buffers (filled by the init steps, which it no longer lists; the init-only constants are
    gone), so a planned model holds its weights once and `plan.to_json()` with those weights loads again
    without init steps; `load_report` is the report of the plan as planned. With `own_weights` the caller
    hands the plan over: its host copies of the weights go as they are written (lower peak memory at load),
    and the plan object passed in cannot be loaded again."""

    def __init__(self, plan: Plan, kernels: str | None = None, threads: int = 1, *, own_weights: bool = False):
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be an int >= 1, got {threads!r}")
        if plan.stages and sum(s.steps for s in plan.stages) != len(plan.init_steps):
            raise PlanError(f"the plan's stages cover {sum(s.steps for s in plan.stages)} init steps, "
                            f"it has {len(plan.init_steps)}")
        n_words = sum(3 + len(s.tensors) + len(s.ints) for s in (*plan.steps, *plan.init_steps))
        program_offset = align_up(plan.total_bytes)
        clock = time.perf_counter
        t0 = clock()
        instances = loader.instances(program_offset + 4 * n_words + 64, kernels, threads)
        # where the load went (s): the kernels module and memory, writing the weights, the init steps
        self.load_seconds = {"kernels": clock() - t0, "weights": 0.0, "init steps": 0.0}
        self._inst = inst = instances[0]
        self.threads = threads
        self._pool = WorkerPool(instances) if threads > 1 else None
        del instances
        self.base = align_up(inst.heap_base)
        missing = sorted({s.kernel for s in (*plan.steps, *plan.init_steps)} - set(inst.opcodes))
        if missing:
            raise KernelError(f"kernels.wasm lacks the kernels {', '.join(missing)}: rebuild it")
        program = plan.encode_program(inst.opcodes, self.base)
        buffer = inst.buffer()
        buffer.keepalive = inst  # numpy views of the arena keep the store (the memory's owner) alive
        self._memory = np.frombuffer(buffer, dtype=np.uint8)  # valid for life: memory never grows
        persistent = self.base + plan.arena_offset - plan.persistent_bytes
        populating = (_populate_in_background(self._memory, persistent, persistent + plan.persistent_bytes)
                      if plan.init_steps else None)
        try:
            write = weights_writer(plan.weights, release=own_weights)
            t0 = clock()
            write(self._memory[self.base:self.base + plan.resident_bytes], 0, plan.resident_bytes)
            self.load_seconds["weights"] += clock() - t0
            start = self.base + program_offset
            self._memory[start:start + program.nbytes] = program.view(np.uint8)
            self._call = _RawRun(inst, start, len(plan.steps),
                                 self._pool.after_trap if self._pool else inst.reset_stack)
            self._program_start = start
            self.load_report = plan.report()  # the plan as planned (self.plan is the plan as loaded)
            if plan.init_steps:
                self._init(plan, write, start + program.nbytes)
        finally:
            if populating is not None:
                populating.join()
        # the plan as loaded: its weights the arena's constants (and persistent buffers, now filled), no init
        n_weights = plan.arena_offset if plan.persistent_bytes else plan.resident_bytes
        weights = self._memory[self.base:self.base + n_weights].view(ArenaBytes)
        weights.flags.writeable = False
        self.plan = replace(plan, weights=weights, init_steps=(), persistent_bytes=0, init_only_bytes=0,
                            stages=(), staging_bytes=0)
        del plan, write
        self._inputs = {b.name: (b, self._view(b)) for b in self.plan.inputs}
        self._outputs = {b.name: (b, self._view(b)) for b in self.plan.outputs}
        self._fast_in = tuple((b.name, v, v.dtype, v.shape) for b, v in self._inputs.values())
        self._fast_out = tuple(self._view(b) for b in self.plan.outputs)

    def _init(self, plan: Plan, write, at: int) -> None:
        """Runs the init steps (program at memory offset `at`), stage by stage: each stage's init-only
        constants written into the arena first. The arena is zeroed again afterwards."""
        inst = self._inst
        init = plan.encode_program(inst.opcodes, self.base, plan.init_steps)
        self._memory[at:at + init.nbytes] = init.view(np.uint8)
        words = np.cumsum([0] + [3 + len(s.tensors) + len(s.ints) for s in plan.init_steps])
        first, clock, spent = 0, time.perf_counter, self.load_seconds
        for stage in plan.stages or (Stage(len(plan.init_steps), ()),):
            t0 = clock()
            for _, src, dst, nbytes in stage.copies:
                write(self._memory[self.base + dst:self.base + dst + nbytes], src, src + nbytes)
            t1 = clock()
            steps = plan.init_steps[first:first + stage.steps]
            try:
                status = self._call.call(at + 4 * int(words[first]), stage.steps)
            except _Trapped as e:
                raise _named(e, steps) from None
            spent["weights"] += t1 - t0
            spent["init steps"] += clock() - t1
            if status:
                step = steps[status - 1]
                raise KernelError(f"node '{step.node}' ({step.op}), init kernel {step.kernel}: "
                                  f"{inst.error_text()}")
            first += stage.steps
        staging = self.base + plan.arena_offset
        self._memory[staging:staging + plan.staging_bytes] = 0

    def _view(self, b: Binding) -> np.ndarray:
        start = self.base + b.offset
        return self._memory[start:start + b.nbytes].view(b.dtype).reshape(b.shape)

    def constant_view(self, name: str) -> np.ndarray | None:
        """A read-only view of the constant `name` in the arena (None if the plan did not place it there);
        it keeps the arena alive."""
        b = self.plan.values.get(name)
        if b is None or b.offset + b.nbytes > len(self.plan.weights):
            return None
        view = self._view(b)
        view.flags.writeable = False
        return view

    @property
    def memory_bytes(self) -> int:
        return len(self._memory)

    def set_input(self, name: str, value) -> None:
        if name not in self._inputs:
            raise InputError(f"unknown input '{name}'; the inputs are {', '.join(self._inputs) or 'none'}")
        view = self._inputs[name][1]
        array = np.asarray(value)
        if array.dtype != view.dtype:
            raise InputError(f"input '{name}' must be {view.dtype}, got {array.dtype}")
        if array.shape != view.shape:
            raise InputError(f"input '{name}' must have shape {list(view.shape)}, got {list(array.shape)}")
        view[...] = array

    def _error(self) -> str:
        """The failing kernel's message (or the trap of a worker thread)."""
        trap = self._pool and self._pool.take_trap()
        return f"a kernel trapped in a worker thread: {trap}" if trap else self._inst.error_text()

    def run(self) -> None:
        try:
            status = self._call()
        except _Trapped as e:
            raise _named(e, self.plan.steps) from None
        if status:
            step = self.plan.steps[status - 1]
            raise KernelError(f"node '{step.node}' ({step.op}), kernel {step.kernel}: {self._error()}")

    def close(self) -> None:
        """Stops the worker threads (threads > 1); the executor can still run, on one thread."""
        if self._pool is not None:
            self._pool.close()

    def get_output(self, name: str) -> np.ndarray:
        if name not in self._outputs:
            raise InputError(f"unknown output '{name}'; the outputs are {', '.join(self._outputs)}")
        return self._outputs[name][1].copy()

    def run_fast(self, feeds: dict) -> list[np.ndarray] | None:
        """The outputs for `feeds` if they are exactly this plan's inputs as ndarrays of its dtypes and
        shapes; None (nothing run) otherwise, for the caller's checked path. Inputs go straight into the
        arena."""
        if len(feeds) != len(self._fast_in):
            return None
        for name, view, dtype, shape in self._fast_in:
            a = feeds.get(name)
            if a.__class__ is not np.ndarray or a.dtype != dtype or a.shape != shape:
                return None
            view[...] = a
        self.run()
        return [v.copy() for v in self._fast_out]

    def profile(self, repeat: int = 10) -> list[tuple[str, str, str, float]]:
        """(node, op, kernels, seconds) per node, in plan order: each node's steps run on their own as a
        slice of the program (the data flow is the real one), median of `repeat` rounds, minus the median
        cost of an empty call. Run it after set_input."""
        import time

        groups, word, k = [], 0, 0
        steps = self.plan.steps
        while k < len(steps):
            j, start = k, word
            while j < len(steps) and steps[j].node == steps[k].node:
                word += 3 + len(steps[j].tensors) + len(steps[j].ints)
                j += 1
            groups.append((steps[k].node, steps[k].op, "+".join(dict.fromkeys(s.kernel for s in steps[k:j])),
                           self._program_start + 4 * start, j - k))
            k = j
        times = [[] for _ in groups]
        empty = []
        clock, call = time.perf_counter, self._call.call
        for _ in range(max(1, repeat)):
            for g, (node, op, kernels, addr, n) in enumerate(groups):
                t = clock()
                try:
                    status = call(addr, n)
                except _Trapped as e:
                    raise KernelError(f"node '{node}' ({op}), kernels {kernels}: {e}") from None
                times[g].append(clock() - t)
                if status:
                    raise KernelError(f"node '{node}' ({op}), kernels {kernels}: {self._error()}")
            t = clock()
            call(self._program_start, 0)
            empty.append(clock() - t)
        base = float(np.median(empty))
        return [(node, op, kernels, max(0.0, float(np.median(ts)) - base))
                for (node, op, kernels, _, _), ts in zip(groups, times)]

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
