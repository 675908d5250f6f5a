"""Folds an Add of a per-channel constant into the bias of the Conv or Gemm before it (Conv: the constant
varies along the channel axis only; Gemm: it broadcasts to the output like C), when the Add is the only
reader of that output and nobody asks for it."""
from __future__ import annotations

import numpy as np

from ..ir import Node
from ._rewrite import Rewriter


def _addend(rw: Rewriter, add: Node, y: str) -> np.ndarray | None:
    if add.op != "Add" or add.domain not in ("", "ai.onnx") or add.attr("legacy_broadcast") or len(add.inputs) != 2:
        return None
    a, b = add.inputs
    other = b if a == y else a if b == y else None
    if other is None or other == y:
        return None
    c = rw.const(other)
    t = rw.type(y)
    if c is None or c.dtype != t.dtype.np or c.ndim > t.rank or rw.type(add.outputs[0]) != t:
        return None
    return c.reshape((1,) * (t.rank - c.ndim) + c.shape)


def _conv_bias(rw: Rewriter, node: Node, c: np.ndarray) -> tuple | None:
    m = rw.type(node.outputs[0]).shape[1]
    if any(d != 1 for k, d in enumerate(c.shape) if k != 1):
        return None  # varies along a spatial or batch axis: not a bias
    add = np.broadcast_to(c.reshape(-1), (m,)).astype(np.float64)
    old = node.inputs[2] if len(node.inputs) > 2 else ""
    bias = rw.const(old)
    if old and bias is None:
        return None
    new = add if bias is None else bias.astype(np.float64) + add
    name = rw.add_const(f"{node.name}/B_add", new.astype(c.dtype))
    return (node.inputs[0], node.inputs[1], name), node.attrs


def _gemm_bias(rw: Rewriter, node: Node, c: np.ndarray) -> tuple | None:
    old = node.inputs[2] if len(node.inputs) > 2 else ""
    have = rw.const(old)
    if old and have is None:
        return None
    new = c.astype(np.float64)
    if have is not None:
        new = float(node.attr("beta", 1.0)) * have.astype(np.float64) + new
    if new.ndim == 2 and new.shape[0] == 1:
        new = new.reshape(-1)
    name = rw.add_const(f"{node.name}/C_add", new.astype(c.dtype))
    return (node.inputs[0], node.inputs[1], name), {**node.attrs, "beta": 1.0}


def run(rw: Rewriter) -> int:
    done = 0
    for k, node, j, add in rw.producer_and_sole_user(("Conv", "Gemm")):
        c = _addend(rw, add, node.outputs[0])
        if c is None:
            continue
        got = (_conv_bias if node.op == "Conv" else _gemm_bias)(rw, node, c)
        if got is None:
            continue
        rw.remove(j)
        rw.replace(k, Node(node.op, got[0], add.outputs, got[1], node.name, node.domain))
        done += 1
    return done
