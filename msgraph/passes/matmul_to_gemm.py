"""MatMul by a 2-D B becomes Gemm: with a 2-D A, MatMul followed by an Add of a constant bias (a vector over
the columns, or anything broadcasting to the output) becomes one Gemm when the Add is the MatMul's only
reader. With an N-D A [..., K] (N > 2) and a constant B [K, N] (torch's Linear on [batch, seq, features]),
the MatMul, with its bias Add when the bias is constant along the leading axes, becomes
Reshape(A -> [prod(leading), K]) -> Gemm -> Reshape(-> [..., N]): the Reshapes are zero-copy aliases, the
Gemm sees all rows at once, and the later passes fold biases and fuse activations into it as for 2-D."""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..ir import Node, TensorType
from ._rewrite import Rewriter
from .fold_bias import _addend

GEMM = {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0}


def _bias(rw: Rewriter, y: str, rank: int) -> tuple[int, Node, np.ndarray] | None:
    """(position, Add node, C for the Gemm) when y's only reader adds a constant usable as Gemm's C."""
    j = rw.sole_user(y)
    if j is None:
        return None
    add = rw.nodes[j]
    c = _addend(rw, add, y)
    if c is None:
        return None
    if rank == 2:
        return j, add, (c.reshape(-1) if c.shape[0] == 1 else c)
    if any(d != 1 for d in c.shape[:-1]):
        return None  # varies along a leading axis: not the same C for every row block
    return j, add, c.reshape(-1)


def _flatten(rw: Rewriter, k: int, node: Node) -> None:
    """Rewrites the N-D MatMul at k (and its bias Add, if any) as Reshape -> Gemm -> Reshape."""
    a, b = node.inputs
    y = node.outputs[0]
    ta, ty = rw.type(a), rw.type(y)
    rows = int(np.prod(ta.shape[:-1], dtype=np.int64))
    got = _bias(rw, y, ta.rank)
    out = y
    inputs = [rw.fresh(f"{node.name}/A2d"), b]
    if got is not None:
        j, add, c = got
        rw.remove(j)
        out = add.outputs[0]
        inputs.append(rw.add_const(f"{node.name}/C", c))
    rw.add_value(inputs[0], TensorType(ta.dtype, (rows, ta.shape[-1])))
    y2 = rw.add_value(rw.fresh(f"{node.name}/Y2d"), TensorType(ty.dtype, (rows, ty.shape[-1])))
    shape_a = rw.add_const(f"{node.name}/A2d_shape", np.array([rows, ta.shape[-1]], np.int64))
    shape_y = rw.add_const(f"{node.name}/Y_shape", np.array(ty.shape, np.int64))
    rw.replace(k, Node("Gemm", tuple(inputs), (y2,), GEMM, node.name))
    rw.insert(Node("Reshape", (a, shape_a), (inputs[0],), {}, rw.fresh(f"{node.name}/reshape_A")), before=k)
    rw.insert(Node("Reshape", (y2, shape_y), (out,), {}, rw.fresh(f"{node.name}/reshape_Y")), after=k)


def run(rw: Rewriter) -> int:
    done = 0
    for k, node in rw.live():
        if node.op != "MatMul" or node.attr("activation") or node.domain not in ("", "ai.onnx"):
            continue
        a, b = node.inputs
        y = node.outputs[0]
        ta, tb = rw.type(a), rw.type(b)
        if tb.rank != 2 or rw.type(y).dtype not in (dtypes.F32, dtypes.F64):
            continue
        if ta.rank > 2:
            if rw.const(b) is None or not ta.is_static or rw.const(a) is not None or 0 in ta.shape:
                continue
            _flatten(rw, k, node)
            done += 1
            continue
        if ta.rank != 2:
            continue
        got = _bias(rw, y, 2)
        if got is None:
            continue
        j, add, bias = got
        name = rw.add_const(f"{node.name}/C", bias)
        rw.remove(j)
        rw.replace(k, Node("Gemm", (a, b, name), add.outputs, GEMM, node.name))
        done += 1
    return done
