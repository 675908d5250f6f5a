"""Compiles kernels/*.c into kernels.wasm and its threaded twin kernels_mt.wasm with the pip-installed zig
toolchain (no msgraph imports). Both come from the same sources; the threaded build adds atomics, a shared
memory and the worker pool of run.c (MG_THREADS). The two compiles run at once.

Usage: python kernels/build.py [--force]   (writes backend_wasm/kernels{,_mt}.wasm and their .sha256 stamps)
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLAGS = [
    "--target=wasm32-freestanding", "-O3", "-msimd128", "-mbulk-memory", "-nostdlib", "-s",
    "-std=c11", "-Wall", "-Werror", "-Wno-unused-function",
    # zig's wasm linker rejects --stack-first but puts the stack first by default (data from 65536 up).
    "-Wl,--no-entry", "-Wl,--import-memory", "-Wl,--export=__heap_base", "-Wl,-z,stack-size=65536",
    # the host puts the stack pointer back after a trap (which leaves it where the trapped frames moved it)
    # and, in the threaded build, gives every instance but the first a stack of its own
    "-Wl,--export=__stack_pointer",
]
# The threaded build: the imported memory is shared (its maximum must be declared; 4 GiB overflows the
# linker).
MT_FLAGS = ["-matomics", "-DMG_THREADS", "-Wl,--shared-memory", "-Wl,--max-memory=4294901760"]
VARIANTS = {"kernels": FLAGS, "kernels_mt": FLAGS + MT_FLAGS}


def sources(kernel_dir: Path) -> list[Path]:
    files = [*kernel_dir.glob("*.c"), *kernel_dir.glob("include/*.h"), *kernel_dir.glob("include/*.def")]
    return sorted(files, key=lambda p: p.relative_to(kernel_dir).as_posix())


def source_hash(kernel_dir: Path, variant: str = "kernels") -> str:
    """Hash of every source file and the variant's compiler flags: a binary whose hash differs is stale."""
    h = hashlib.sha256(" ".join(VARIANTS[variant]).encode())
    for path in sources(kernel_dir):
        h.update(path.relative_to(kernel_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def is_fresh(kernel_dir: Path, out_dir: Path, variant: str) -> bool:
    wasm, stamp = out_dir / f"{variant}.wasm", out_dir / f"{variant}.sha256"
    return wasm.exists() and stamp.exists() and stamp.read_text().strip() == source_hash(kernel_dir, variant)


def build(kernel_dir: Path = HERE, out_dir: Path | None = None, *, force: bool = False) -> Path:
    """Rebuilds every stale variant (all with force); returns the path of kernels.wasm."""
    out_dir = out_dir or kernel_dir.parent / "backend_wasm"
    todo = [v for v in VARIANTS if force or not is_fresh(kernel_dir, out_dir, v)]
    c_files = [str(p) for p in sorted(kernel_dir.glob("*.c"))]
    with tempfile.TemporaryDirectory(prefix="msgraph-zig-") as tmp:
        procs = {}
        for v in todo:  # one zig cache each: two compilers sharing one cache dir may race on it
            cache = Path(tmp) / v
            env = dict(os.environ, ZIG_GLOBAL_CACHE_DIR=str(cache), ZIG_LOCAL_CACHE_DIR=str(cache))
            cmd = [sys.executable, "-m", "ziglang", "cc", *VARIANTS[v], f"-I{kernel_dir / 'include'}",
                   "-o", str(out_dir / f"{v}.wasm.tmp"), *c_files]
            procs[v] = (cmd, subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        failed = []
        for v, (cmd, proc) in procs.items():
            _, err = proc.communicate()
            if proc.returncode != 0:
                failed.append(f"{' '.join(cmd)}\n{err}")
        if failed:
            raise RuntimeError("kernel build failed:\n" + "\n".join(failed))
    for v in todo:
        os.replace(out_dir / f"{v}.wasm.tmp", out_dir / f"{v}.wasm")
        (out_dir / f"{v}.sha256").write_text(source_hash(kernel_dir, v) + "\n")
    return out_dir / "kernels.wasm"


if __name__ == "__main__":
    print(build(force="--force" in sys.argv[1:]))
