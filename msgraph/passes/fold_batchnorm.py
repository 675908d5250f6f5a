"""Folds an inference BatchNormalization into the Conv or Gemm before it (scaled weights, shifted bias),
when the BatchNormalization is the only reader of that output and nobody asks for it. A Conv's scaled
weights are a LazyConst: computed when the plan's weights are written, not held beside the originals."""
from __future__ import annotations

from functools import partial

import numpy as np

from ..ir import LazyConst, Node
from ..ops.norm import bn_training
from ._rewrite import Rewriter


def _bn_params(rw: Rewriter, bn: Node, channels: int):
    """(scale, shift) in float64 with y = x * scale + shift per channel, or None if not foldable."""
    if len(bn.inputs) != 5 or any(o for o in bn.outputs[1:]) or bn_training(bn):
        return None
    if not bn.attr("spatial", 1):
        return None
    arrays = [rw.const(i) for i in bn.inputs[1:]]
    if any(a is None or a.shape != (channels,) for a in arrays):
        return None
    gamma, beta, mean, var = (a.astype(np.float64) for a in arrays)
    scale = gamma / np.sqrt(var + float(bn.attr("epsilon", 1e-5)))
    return scale, beta - mean * scale


def _fold_conv(rw: Rewriter, node: Node, bn: Node) -> Node | None:
    w = rw.const(node.inputs[1])
    bias = rw.const(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    if w is None or (len(node.inputs) > 2 and node.inputs[2] and bias is None):
        return None
    p = _bn_params(rw, bn, w.shape[0])
    if p is None:
        return None
    scale, shift = p
    s = scale.astype(w.dtype).reshape(-1, *([1] * (w.ndim - 1)))  # in the weights' dtype, like onnxruntime
    w2 = LazyConst(w.shape, w.dtype, partial(np.multiply, w, s))  # made where the plan puts it (out: 3rd arg)
    b2 = ((0.0 if bias is None else bias.astype(np.float64)) * scale + shift).astype(w.dtype)
    inputs = (node.inputs[0], rw.add_const(f"{node.name}/W_bn", w2), rw.add_const(f"{node.name}/B_bn", b2))
    return Node(node.op, inputs, bn.outputs[:1], node.attrs, node.name, node.domain)


def _fold_gemm(rw: Rewriter, node: Node, bn: Node) -> Node | None:
    b = rw.const(node.inputs[1])
    c_name = node.inputs[2] if len(node.inputs) > 2 else ""
    c = rw.const(c_name)
    if b is None or (c_name and c is None):
        return None
    n = rw.type(node.outputs[0]).shape[1]
    p = _bn_params(rw, bn, n)
    if p is None:
        return None
    scale, shift = p
    scale_w = scale.astype(b.dtype)
    b2 = b * (scale_w[:, None] if node.attr("transB", 0) else scale_w[None, :])
    c2 = shift if c is None else float(node.attr("beta", 1.0)) * c.astype(np.float64) * scale + shift
    if c2.ndim == 2 and c2.shape[0] == 1:
        c2 = c2.reshape(-1)
    inputs = (node.inputs[0], rw.add_const(f"{node.name}/B_bn", b2.astype(b.dtype)),
              rw.add_const(f"{node.name}/C_bn", np.asarray(c2).astype(b.dtype)))
    return Node(node.op, inputs, bn.outputs[:1], {**node.attrs, "beta": 1.0}, node.name, node.domain)


def run(rw: Rewriter) -> int:
    done = 0
    for k, node, j, bn in rw.producer_and_sole_user(("Conv", "Gemm")):
        if bn.op != "BatchNormalization" or bn.inputs[0] != node.outputs[0]:
            continue
        if rw.type(bn.outputs[0]) != rw.type(node.outputs[0]):
            continue
        fused = (_fold_conv if node.op == "Conv" else _fold_gemm)(rw, node, bn)
        if fused is None:
            continue
        rw.remove(j)
        rw.replace(k, fused)
        done += 1
    return done
