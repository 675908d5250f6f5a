"""Finds, checks and compiles kernels.wasm once per process (with an on-disk cache of the compiled code),
and instantiates it over a host-owned memory. The only module that touches wasmtime's module API."""
from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import wasmtime
from wasmtime import _ffi as ffi

from msgraph.errors import KernelError, PlanError

ABI_VERSION = 2
PAGE = 65536
MAX_PAGES = 65536  # wasm32: 4 GiB
HERE = Path(__file__).resolve().parent
WASM = HERE / "kernels.wasm"
_lock = threading.Lock()


def _kernel_sources() -> Path | None:
    """The kernels/ folder of a source checkout or editable install, if there is one."""
    src = HERE.parent / "kernels"
    return src if (src / "build.py").exists() else None


def _build_module():
    spec = importlib.util.spec_from_file_location("_mg_kernel_build", _kernel_sources() / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def ensure_built(variant: str = "kernels") -> Path:
    """Returns kernels.wasm (variant "kernels_mt": the threaded build), rebuilding the stale builds first when
    the C sources beside them have changed.

    A stale binary never runs: in a checkout without the toolchain the error says how to rebuild.
    """
    wasm = HERE / f"{variant}.wasm"
    src = _kernel_sources()
    if src is not None:
        build = _build_module()
        if not build.is_fresh(src, HERE, variant):
            try:
                with _lock:
                    build.build(src, HERE)
            except Exception as e:  # no toolchain, or a compile error
                raise KernelError(
                    f"backend_wasm/{variant}.wasm is missing or older than kernels/*.c and could not be rebuilt "
                    f"({e}); run `pip install -e .` or `python kernels/build.py`"
                ) from e
    if not wasm.exists():
        raise KernelError(f"backend_wasm/{variant}.wasm is missing: reinstall msgraph (`pip install .`)")
    return wasm


def engine(threads: bool = False) -> wasmtime.Engine:
    """The engine (one per process); `threads`: the one that can create shared memories (kernels_mt.wasm)."""
    return _engine(bool(threads))


@lru_cache(maxsize=2)
def _engine(threads: bool) -> wasmtime.Engine:
    config = wasmtime.Config()
    if threads:
        config.shared_memory = True
    return wasmtime.Engine(config)


def _cache_dir() -> Path:
    base = os.environ.get("MSGRAPH_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "msgraph"


def module(path: str | None = None, threads: bool = False) -> wasmtime.Module:
    """The compiled kernels module (the package's own, kernels_mt.wasm with `threads`, unless `path` names
    another kernels .wasm); compiled code is cached on disk keyed by the wasm's hash."""
    return _module(None if path is None else str(path), bool(threads))


@lru_cache(maxsize=4)
def _module(path: str | None, threads: bool) -> wasmtime.Module:
    if path is None:
        wasm = ensure_built("kernels_mt" if threads else "kernels").read_bytes()
    else:
        try:
            wasm = Path(path).read_bytes()
        except OSError as e:
            raise KernelError(f"cannot read kernels module '{path}': {e}") from e
    key = hashlib.sha256(wasm + wasmtime.__name__.encode() + b"v50" + b"mt" * threads).hexdigest()[:32]
    cached = _cache_dir() / f"kernels-{key}.cwasm"
    if cached.exists():
        try:
            return _deserialize(engine(threads), cached)
        except Exception:
            pass  # a corrupt or incompatible cache entry: recompile below
    try:
        mod = wasmtime.Module(engine(threads), wasm)
    except Exception as e:
        raise KernelError(f"'{path or WASM}' is not a valid WebAssembly module: {e}") from e
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(mod.serialize())
        os.replace(tmp, cached)
    except OSError:
        pass  # an unwritable cache only costs compile time
    return mod


def _deserialize(eng: wasmtime.Engine, path: Path) -> wasmtime.Module:
    """The compiled module cached at `path`. On Linux the file is copied (in the kernel) into an anonymous
    memory file that wasmtime maps instead of copying: faster than deserialising bytes, and unlike mapping
    the cache file itself, safe if another process rewrites that file while the module is in use."""
    if not hasattr(os, "memfd_create"):
        return wasmtime.Module.deserialize(eng, path.read_bytes())
    fd = os.memfd_create("msgraph-kernels", os.MFD_CLOEXEC)
    try:
        with open(path, "rb") as f:
            size, done = os.fstat(f.fileno()).st_size, 0
            while done < size:
                sent = os.sendfile(fd, f.fileno(), done, size - done)
                if not sent:
                    break
                done += sent
        try:
            return wasmtime.Module.deserialize_file(eng, f"/proc/self/fd/{fd}")
        except wasmtime.WasmtimeError:
            if os.path.exists(f"/proc/self/fd/{fd}"):
                raise  # the file itself is bad
            return wasmtime.Module.deserialize(eng, path.read_bytes())  # no /proc
    finally:
        os.close(fd)


class SharedMemory(wasmtime.SharedMemory):
    """wasmtime.SharedMemory that can be passed as an import: wasmtime-py 50.0.1's `_as_extern` stores a
    pointer to its pointer in the extern (its issue #318), so instantiating a module on it fails. The one
    place that works around it (tests/test_threads.py checks it)."""

    def _as_extern(self) -> ffi.wasmtime_extern_t:
        union = ffi.wasmtime_extern_union(sharedmemory=self.ptr())
        return ffi.wasmtime_extern_t(ffi.WASMTIME_EXTERN_SHAREDMEMORY, union)


@dataclass
class Instance:
    """One Store + instance of kernels.wasm over a memory: one per arena (per thread with kernels_mt.wasm,
    where the instances share one SharedMemory), never used by two threads at once."""
    store: wasmtime.Store
    memory: wasmtime.Memory | SharedMemory
    heap_base: int
    run: wasmtime.Func
    last_error: wasmtime.Func
    opcodes: dict[str, int]
    exports: dict = field(repr=False, default_factory=dict)
    stack_top: int = 0  # where this instance's stack starts (reset after a trap)

    def error_text(self) -> str:
        addr = self.last_error(self.store)
        raw = np.frombuffer(self.buffer(), dtype=np.uint8)[addr:addr + 512].tobytes()
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")

    def reset_stack(self) -> None:
        """Puts __stack_pointer back at stack_top (a trap leaves it where the trapped frames had moved it);
        a module that does not export it is left as it is."""
        sp = self.exports.get("__stack_pointer")
        if isinstance(sp, wasmtime.Global):
            top = self.stack_top - (self.stack_top >> 31 << 32)  # an i32
            sp.set_value(self.store, wasmtime.Val.i32(top))

    def buffer(self):
        """A fresh ctypes view of linear memory (rebuild after any grow)."""
        if isinstance(self.memory, SharedMemory):
            n = self.memory.data_len()
            return (ctypes.c_ubyte * n).from_address(ctypes.addressof(self.memory.data_ptr().contents))
        return self.memory.get_buffer_ptr(self.store)


def _instance(store: wasmtime.Store, mod: wasmtime.Module, memory) -> Instance:
    """Instantiates `mod` on `memory` and checks its exports and ABI version."""
    try:
        inst = wasmtime.Instance(store, mod, [memory])
    except Exception as e:
        raise KernelError(f"cannot instantiate the kernels module: {e}") from e
    ex = inst.exports(store)
    for name in ("mg_abi_version", "mg_run", "mg_last_error", "mg_kernel_names", "__heap_base"):
        if name not in ex:
            raise KernelError(f"kernels.wasm lacks the export '{name}': rebuild it with `python kernels/build.py`")
    version = ex["mg_abi_version"](store)
    if version != ABI_VERSION:
        raise KernelError(f"kernels.wasm has ABI version {version}, this host expects {ABI_VERSION}: rebuild it")
    result = Instance(store, memory, ex["__heap_base"].value(store), ex["mg_run"], ex["mg_last_error"], {},
                      dict(ex))
    names_addr = ex["mg_kernel_names"](store)
    raw = np.frombuffer(result.buffer(), dtype=np.uint8)[names_addr:names_addr + 65536].tobytes()
    result.opcodes = {n: i for i, n in enumerate(raw.split(b"\0\0", 1)[0].decode().split("\0"))}
    return result


def instantiate(min_bytes_after_heap: int, wasm_path: str | None = None) -> Instance:
    """Creates a memory large enough for the module's own data plus `min_bytes_after_heap` bytes, and an
    instance of kernels.wasm (or the module at wasm_path) on it."""
    return instances(min_bytes_after_heap, wasm_path)[0]


def instances(min_bytes_after_heap: int, wasm_path: str | None = None, threads: int = 1) -> list[Instance]:
    """instantiate() as a list of one instance; with threads > 1, kernels_mt.wasm (or the threaded build at
    wasm_path) on a SharedMemory and one instance per thread, each in its own Store: [main, worker 1, ...].
    The module's data is initialised once per memory; each worker instance gets a stack of its own at the
    end of the memory (its __stack_pointer set here; Instance.reset_stack puts it back after a trap)."""
    mt = threads > 1
    mod = module(wasm_path, mt)
    mem_import = next((i for i in mod.imports if i.module == "env" and i.name == "memory"), None)
    if mem_import is None or not isinstance(mem_import.type, wasmtime.MemoryType):
        raise KernelError("the kernels module does not import env.memory: it is not an msgraph kernels.wasm")
    if mem_import.type.is_shared != mt:
        raise KernelError(f"'{wasm_path}' is {'' if mem_import.type.is_shared else 'not '}a threaded kernels build: "
                          f"use it with threads {'> 1' if mem_import.type.is_shared else '= 1'}")
    static_pages = mem_import.type.limits.min
    # __heap_base is only known after instantiation; the module's data + stack fit in its declared minimum.
    pages = static_pages + (min_bytes_after_heap + 64 + PAGE - 1) // PAGE
    stacks = (threads - 1) * static_pages if mt else 0  # each worker's stack, at the end of memory
    limit = mem_import.type.limits.max if mt else MAX_PAGES
    if pages + stacks > limit:
        need, most = (pages + stacks) * PAGE / 2**30, limit * PAGE / 2**30
        raise PlanError(f"the plan needs {need:.2f} GiB of memory; a WebAssembly (wasm32) memory holds at "
                        f"most {most:.2f} GiB: use a smaller batch or input")
    if not mt:
        store = wasmtime.Store(engine())
        memory = wasmtime.Memory(store, wasmtime.MemoryType(wasmtime.Limits(pages, None)))
        insts = [_instance(store, mod, memory)]
        sp = insts[0].exports.get("__stack_pointer")
        if isinstance(sp, wasmtime.Global):
            insts[0].stack_top = sp.value(store)
    else:
        pages += stacks  # (each in as many bytes as the module's own stack and data)
        memory = SharedMemory(engine(True), wasmtime.MemoryType(wasmtime.Limits(pages, pages), shared=True))
        insts = [_instance(wasmtime.Store(engine(True)), mod, memory) for _ in range(threads)]
        for k, inst in enumerate(insts):
            sp = inst.exports.get("__stack_pointer")
            if not isinstance(sp, wasmtime.Global):
                raise KernelError("the threaded kernels module does not export __stack_pointer: rebuild it")
            inst.stack_top = sp.value(inst.store) if k == 0 else (pages - (k - 1) * static_pages) * PAGE
            inst.reset_stack()
        assert insts[0].stack_top <= static_pages * PAGE, "a worker's stack would be smaller than the module's"
    assert insts[0].heap_base <= static_pages * PAGE, "module data outgrew its declared memory"
    return insts

