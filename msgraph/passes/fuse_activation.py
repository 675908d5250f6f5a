"""Fuses an activation into the Conv, Gemm or MatMul producing its input (node attrs `activation` and
`activation_params`), when the activation is that output's only reader, nobody asks for the value before
the activation, and the op's lowering applies the attribute (fusion_support). Recognises Relu, Clip
(Relu6), Sigmoid, HardSwish, Gelu, LeakyRelu, and the Erf form of GELU that torch exports:
x * 0.5 * (1 + erf(x / sqrt(2))), its Mul and Add operands in any order and the 0.5 applied to x, to
(1 + erf) or to the product. An activation after a Reshape of the producer's output (the N-D MatMul that
matmul_to_gemm turned into Reshape -> Gemm -> Reshape) fuses too: elementwise, it commutes with the reshape."""
from __future__ import annotations

import math

from ..ir import Node
from ._rewrite import Rewriter
from .fusion_support import supports_activation

PRODUCERS = ("Conv", "Gemm", "MatMul")
SQRT2 = math.sqrt(2.0)


def _activation(rw: Rewriter, node: Node) -> tuple[str, tuple[float, ...]] | None:
    """(activation, params) if `node` is a plain activation on its first input."""
    if node.domain not in ("", "ai.onnx") or not node.inputs or len([o for o in node.outputs if o]) != 1:
        return None
    op = node.op
    if op in ("Relu", "Sigmoid", "HardSwish") and len(node.inputs) == 1:
        return op.lower(), ()
    if op == "LeakyRelu":
        return "leakyrelu", (float(node.attr("alpha", 0.01)),)
    if op == "Gelu" and (node.attr("approximate", "none") in ("none", b"none")):
        return "gelu", ()
    if op == "Clip":
        lo, hi = node.attr("min"), node.attr("max")
        for pos in (1, 2):
            if len(node.inputs) > pos and node.inputs[pos]:
                v = rw.scalar(node.inputs[pos])
                if v is None:
                    return None  # bounds computed at run time
                lo, hi = (v, hi) if pos == 1 else (lo, v)
        lo = -math.inf if lo is None else float(lo)
        hi = math.inf if hi is None else float(hi)
        if lo == -math.inf and hi == math.inf:
            return None
        return "clip", (lo, hi)
    return None


def _near(v: float | None, want: float) -> bool:
    return v is not None and abs(v - want) <= 1e-4 * abs(want)


def _const_operand(rw: Rewriter, node: Node, op: str) -> tuple[str, float | None] | None:
    """For a binary `op` node with one scalar constant operand: (the other input, the constant)."""
    if node.op != op or len(node.inputs) != 2 or node.attr("legacy_broadcast"):
        return None
    a, b = node.inputs
    if rw.scalar(b) is not None and rw.const(a) is None:
        return a, rw.scalar(b)
    if rw.scalar(a) is not None and rw.const(b) is None and op in ("Mul", "Add"):
        return b, rw.scalar(a)
    return None


def _erf_gelu(rw: Rewriter, erf: Node) -> tuple[str, list[int], str] | None:
    """(x, positions of the pattern's nodes, output) for x * 0.5 * (1 + erf(x / sqrt 2)) around `erf`."""
    scaled = rw.node_of(erf.inputs[0])
    if scaled is None or rw.sole_user(erf.inputs[0]) is None:
        return None
    got = _const_operand(rw, scaled, "Div")
    if got is not None and _near(got[1], SQRT2):
        x = got[0]
    else:
        got = _const_operand(rw, scaled, "Mul")
        if got is None or not _near(got[1], 1 / SQRT2):
            return None
        x = got[0]
    chain = [rw.producer[erf.inputs[0]], rw.producer[erf.outputs[0]]]
    j = rw.sole_user(erf.outputs[0])
    if j is None or (_const_operand(rw, rw.nodes[j], "Add") or (None, 0))[1] != 1.0:
        return None
    chain.append(j)
    one_plus = rw.nodes[j].outputs[0]
    j = rw.sole_user(one_plus)
    if j is None or rw.nodes[j].op != "Mul" or len(rw.nodes[j].inputs) != 2 or rw.nodes[j].attr("legacy_broadcast"):
        return None
    mul = rw.nodes[j]
    chain.append(j)
    other = mul.inputs[1] if mul.inputs[0] == one_plus else mul.inputs[0]
    if _const_operand(rw, mul, "Mul") == (one_plus, 0.5):  # ((1 + erf) * 0.5) * x
        j = rw.sole_user(mul.outputs[0])
        last = None if j is None else rw.nodes[j]
        if last is None or last.op != "Mul" or len(last.inputs) != 2 or last.attr("legacy_broadcast"):
            return None
        if sorted(last.inputs) != sorted((x, mul.outputs[0])):
            return None
        chain.append(j)
        out = last.outputs[0]
    elif other == x:  # (x * (1 + erf)) * 0.5
        j = rw.sole_user(mul.outputs[0])
        half = None if j is None else _const_operand(rw, rw.nodes[j], "Mul")
        if half is None or half[1] != 0.5:
            return None
        chain.append(j)
        out = rw.nodes[j].outputs[0]
    else:  # (x * 0.5) * (1 + erf)
        half_node = rw.node_of(other)
        half = None if half_node is None else _const_operand(rw, half_node, "Mul")
        if half is None or half != (x, 0.5) or rw.sole_user(other) is None:
            return None
        chain.append(rw.producer[other])
        out = mul.outputs[0]
    if x in rw.keep or sorted(rw.users.get(x, [])) != sorted(k for k in chain if x in rw.nodes[k].inputs):
        return None  # x is read outside the pattern
    return x, chain, out


ALIASES = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")  # zero-copy: the activation commutes with them


def _producer(rw: Rewriter, x: str) -> tuple[int, int | None, str] | None:
    """(producer position, position of a Reshape-like alias between it and x or None, the producer's
    output) for the node whose output, directly or through one alias nobody else reads, is x."""
    k = rw.producer.get(x)
    if k is None:
        return None
    node = rw.nodes[k]
    if node.op in ALIASES and node.domain in ("", "ai.onnx") and node.inputs and node.inputs[0]:
        p = node.inputs[0]
        if rw.sole_user(p) != k or p not in rw.producer or rw.type(p).dtype != rw.type(x).dtype:
            return None
        return rw.producer[p], k, p
    return k, None, x


def _fuse(rw: Rewriter, x: str, act: str, params: tuple, drop: list[int], out: str) -> bool:
    got = _producer(rw, x)
    if got is None or rw.type(out) != rw.type(x):
        return False
    k, alias, y = got
    node = rw.nodes[k]
    if node.op not in PRODUCERS or node.attr("activation") or node.domain not in ("", "ai.onnx"):
        return False
    if len(node.outputs) != 1:
        return False
    in_types = [rw.type(i) if i else None for i in node.inputs]
    consts = [rw.const(i) for i in node.inputs]
    if not supports_activation(node, act, params, in_types, [rw.type(y)], consts):
        return False
    for j in drop:
        rw.remove(j)
    # through an alias the producer keeps its output name (only the alias reads it) and the alias writes out
    rw.replace(k, Node(node.op, node.inputs, (y if alias is not None else out,),
                       {**node.attrs, "activation": act, "activation_params": params}, node.name, node.domain))
    if alias is not None:
        a = rw.nodes[alias]
        rw.replace(alias, Node(a.op, a.inputs, (out,), a.attrs, a.name, a.domain))
    return True


def run(rw: Rewriter) -> int:
    done = 0
    for k, node in rw.live():
        if node.op == "Erf" and node.domain in ("", "ai.onnx"):
            got = _erf_gelu(rw, node)
            if got is not None and _fuse(rw, got[0], "gelu", (), got[1], got[2]):
                done += 1
            continue
        act = _activation(rw, node)
        if act is None or rw.sole_user(node.inputs[0]) != k:
            continue
        done += _fuse(rw, node.inputs[0], act[0], act[1], [k], node.outputs[0])
    return done
