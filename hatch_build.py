"""Hatch build hook: compiles kernels/*.c into backend_wasm/kernels.wasm and kernels_mt.wasm (the threaded
build) for wheels and editable installs."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class KernelBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        root = Path(self.root)
        spec = importlib.util.spec_from_file_location("_mg_kernel_build", root / "kernels" / "build.py")
        build = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(build)
        build.build(root / "kernels", root / "backend_wasm")
        build_data["artifacts"] += [f"backend_wasm/{v}.{ext}" for v in build.VARIANTS for ext in ("wasm", "sha256")]
