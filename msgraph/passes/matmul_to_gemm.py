"""MatMul of 2-D operands followed by an Add of a constant bias (a vector over the columns, or anything
broadcasting to the output) becomes one Gemm, when the Add is the MatMul's only reader."""
from __future__ import annotations

from .. import dtypes
from ..ir import Node
from ._rewrite import Rewriter
from .fold_bias import _addend


def run(rw: Rewriter) -> int:
    done = 0
    for k, node in rw.live():
        if node.op != "MatMul" or node.attr("activation") or node.domain not in ("", "ai.onnx"):
            continue
        a, b = node.inputs
        y = node.outputs[0]
        if rw.type(a).rank != 2 or rw.type(b).rank != 2 or rw.type(y).dtype not in (dtypes.F32, dtypes.F64):
            continue
        j = rw.sole_user(y)
        if j is None:
            continue
        add = rw.nodes[j]
        c = _addend(rw, add, y)
        if c is None:
            continue
        bias = c.reshape(-1) if c.shape[0] == 1 else c
        name = rw.add_const(f"{node.name}/C", bias)
        rw.remove(j)
        rw.replace(k, Node("Gemm", (a, b, name), add.outputs, {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0},
                           node.name))
        done += 1
    return done
