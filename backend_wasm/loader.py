"""Finds, checks and compiles kernels.wasm once per process (with an on-disk cache of the compiled code),
and instantiates it over a host-owned memory. The only module that touches wasmtime's module API."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import wasmtime

from msgraph.errors import KernelError

ABI_VERSION = 2
PAGE = 65536
HERE = Path(__file__).resolve().parent
WASM = HERE / "kernels.wasm"
STAMP = HERE / "kernels.sha256"
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


def ensure_built() -> Path:
    """Returns kernels.wasm, rebuilding it first when the C sources beside it have changed.

    A stale binary never runs: in a checkout without the toolchain the error says how to rebuild.
    """
    src = _kernel_sources()
    if src is not None:
        build = _build_module()
        fresh = WASM.exists() and STAMP.exists() and STAMP.read_text().strip() == build.source_hash(src)
        if not fresh:
            try:
                with _lock:
                    build.build(src, HERE)
            except Exception as e:  # no toolchain, or a compile error
                raise KernelError(
                    f"backend_wasm/kernels.wasm is missing or older than kernels/*.c and could not be rebuilt "
                    f"({e}); run `pip install -e .` or `python kernels/build.py`"
                ) from e
    if not WASM.exists():
        raise KernelError("backend_wasm/kernels.wasm is missing: reinstall msgraph (`pip install .`)")
    return WASM


@lru_cache(maxsize=1)
def engine() -> wasmtime.Engine:
    return wasmtime.Engine(wasmtime.Config())


def _cache_dir() -> Path:
    base = os.environ.get("MSGRAPH_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "msgraph"


@lru_cache(maxsize=4)
def module(path: str | None = None) -> wasmtime.Module:
    """The compiled kernels module (the package's own unless `path` names another kernels .wasm);
    compiled code is cached on disk keyed by the wasm's hash."""
    if path is None:
        wasm = ensure_built().read_bytes()
    else:
        try:
            wasm = Path(path).read_bytes()
        except OSError as e:
            raise KernelError(f"cannot read kernels module '{path}': {e}") from e
    key = hashlib.sha256(wasm + wasmtime.__name__.encode() + b"v50").hexdigest()[:32]
    cached = _cache_dir() / f"kernels-{key}.cwasm"
    if cached.exists():
        try:
            return wasmtime.Module.deserialize(engine(), cached.read_bytes())
        except Exception:
            pass  # a corrupt or incompatible cache entry: recompile below
    try:
        mod = wasmtime.Module(engine(), wasm)
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


@dataclass
class Instance:
    """One Store + Memory + instance of kernels.wasm: one per arena, never shared between threads."""
    store: wasmtime.Store
    memory: wasmtime.Memory
    heap_base: int
    run: wasmtime.Func
    last_error: wasmtime.Func
    opcodes: dict[str, int]

    def error_text(self) -> str:
        addr = self.last_error(self.store)
        raw = self.memory.read(self.store, addr, addr + 512)
        return bytes(raw).split(b"\0", 1)[0].decode("utf-8", "replace")

    def buffer(self):
        """A fresh ctypes view of linear memory (rebuild after any grow)."""
        return self.memory.get_buffer_ptr(self.store)


def instantiate(min_bytes_after_heap: int, wasm_path: str | None = None) -> Instance:
    """Creates a memory large enough for the module's own data plus `min_bytes_after_heap` bytes."""
    mod = module(None if wasm_path is None else str(wasm_path))
    store = wasmtime.Store(engine())
    mem_import = next((i for i in mod.imports if i.module == "env" and i.name == "memory"), None)
    if mem_import is None or not isinstance(mem_import.type, wasmtime.MemoryType):
        raise KernelError("the kernels module does not import env.memory: it is not an msgraph kernels.wasm")
    static_pages = mem_import.type.limits.min
    # __heap_base is only known after instantiation; the module's data + stack fit in its declared minimum.
    pages = static_pages + (min_bytes_after_heap + 64 + PAGE - 1) // PAGE
    memory = wasmtime.Memory(store, wasmtime.MemoryType(wasmtime.Limits(pages, None)))
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
    heap_base = ex["__heap_base"].value(store)
    assert heap_base <= static_pages * PAGE, "module data outgrew its declared memory"
    names_addr = ex["mg_kernel_names"](store)
    raw = bytes(memory.read(store, names_addr, min(names_addr + 65536, memory.data_len(store))))
    names = raw.split(b"\0\0", 1)[0].decode().split("\0")
    return Instance(store, memory, heap_base, ex["mg_run"], ex["mg_last_error"], {n: i for i, n in enumerate(names)})


_HUGE_PAGE = 1 << 21
_MADV_HUGEPAGE = 14


@lru_cache(maxsize=1)
def _madvise():
    """libc's madvise on Linux (None elsewhere, or when it cannot be found)."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int], ctypes.c_int
    return fn


def advise_huge_pages(address: int, nbytes: int) -> bool:
    """Asks Linux to back [address, address + nbytes) with transparent huge pages (the kernel's default is
    "madvise", and wasmtime does not ask): loading ResNet-18 then takes ~20,000 fewer page faults (weights,
    packed weights, arena), and the kernels fewer TLB misses. Best effort: False where unsupported."""
    madvise = _madvise()
    start = -(-address // _HUGE_PAGE) * _HUGE_PAGE
    length = (address + nbytes - start) // _HUGE_PAGE * _HUGE_PAGE
    if madvise is None or length <= 0:
        return False
    return madvise(start, length, _MADV_HUGEPAGE) == 0
