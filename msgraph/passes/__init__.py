"""Graph -> Graph passes, one per module. Each keeps every value a user may ask for.

`optimize(graph, keep)` runs the inference-time rewrites in order: drop Identity/Dropout, MatMul(+Add) by a
2-D B -> Gemm (an N-D A through zero-copy Reshapes), bias Adds into Conv/Gemm, BatchNormalization into
Conv/Gemm, activations into their producer (also through a Reshape)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import ModuleType

from ..ir import Graph


def default_passes() -> list[ModuleType]:
    from . import fold_batchnorm, fold_bias, fuse_activation, matmul_to_gemm, remove_identity

    return [remove_identity, matmul_to_gemm, fold_bias, fold_batchnorm, fold_bias, fuse_activation]


def optimize(graph: Graph, keep: Iterable[str] | None = None, passes: Sequence[ModuleType] | None = None) -> Graph:
    """`graph` rewritten for inference. Every value in `keep` (and every graph input and output) is still
    computed, under its name, with the same numbers up to float rounding."""
    from ._rewrite import Rewriter

    rw = Rewriter(graph, keep or ())
    changed = sum(p.run(rw) for p in (default_passes() if passes is None else passes))
    return rw.result() if changed else graph
