"""Compiles kernels/*.c into one kernels.wasm with the pip-installed zig toolchain (no msgraph imports).

Usage: python kernels/build.py [--force]   (writes backend_wasm/kernels.wasm and kernels.sha256)
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
]


def sources(kernel_dir: Path) -> list[Path]:
    files = [*kernel_dir.glob("*.c"), *kernel_dir.glob("include/*.h"), *kernel_dir.glob("include/*.def")]
    return sorted(files, key=lambda p: p.relative_to(kernel_dir).as_posix())


def source_hash(kernel_dir: Path) -> str:
    """Hash of every source file and the compiler flags: a binary whose hash differs is stale."""
    h = hashlib.sha256(" ".join(FLAGS).encode())
    for path in sources(kernel_dir):
        h.update(path.relative_to(kernel_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def build(kernel_dir: Path = HERE, out_dir: Path | None = None, *, force: bool = False) -> Path:
    out_dir = out_dir or kernel_dir.parent / "backend_wasm"
    wasm, stamp = out_dir / "kernels.wasm", out_dir / "kernels.sha256"
    digest = source_hash(kernel_dir)
    if not force and wasm.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return wasm
    c_files = [str(p) for p in sorted(kernel_dir.glob("*.c"))]
    with tempfile.TemporaryDirectory(prefix="msgraph-zig-") as cache:
        env = dict(os.environ, ZIG_GLOBAL_CACHE_DIR=cache, ZIG_LOCAL_CACHE_DIR=cache)
        tmp = out_dir / "kernels.wasm.tmp"
        cmd = [sys.executable, "-m", "ziglang", "cc", *FLAGS, f"-I{kernel_dir / 'include'}", "-o", str(tmp), *c_files]
        result = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"kernel build failed:\n{' '.join(cmd)}\n{result.stderr}")
    os.replace(tmp, wasm)
    stamp.write_text(digest + "\n")
    return wasm


if __name__ == "__main__":
    print(build(force="--force" in sys.argv[1:]))
