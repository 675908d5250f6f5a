"""Removes Identity and inference-mode Dropout: their readers read the input instead (or, when the output
must stay a named value, the producer writes that name directly)."""
from __future__ import annotations

from ._rewrite import Rewriter


def _is_noop(rw: Rewriter, node) -> bool:
    if node.domain not in ("", "ai.onnx") or len(node.inputs) < 1 or not node.inputs[0]:
        return False
    if node.op == "Identity":
        return True
    if node.op != "Dropout":
        return False
    if any(o and (o in rw.keep or rw.users.get(o)) for o in node.outputs[1:]):
        return False  # the mask is read: keep the node (and its error, if it cannot run)
    if len(node.inputs) > 2 and node.inputs[2]:
        mode = rw.const(node.inputs[2])
        if mode is None or bool(mode.reshape(-1)[0]):
            return False  # training mode, or not known to be off
    return True


def run(rw: Rewriter) -> int:
    done = 0
    for k, node in rw.live():
        if not _is_noop(rw, node):
            continue
        x, y = node.inputs[0], node.outputs[0]
        if rw.type(x) != rw.type(y):
            continue
        if y not in rw.keep:
            rw.remove(k)
            rw.rename_uses(y, x)
        elif x not in rw.keep and rw.const(x) is None and x in rw.producer:
            p = rw.producer[x]  # y must keep its name: the producer of x writes y, x's readers read y
            rw.remove(k)
            n = rw.nodes[p]
            rw.replace(p, n.__class__(n.op, n.inputs, tuple(y if o == x else o for o in n.outputs), n.attrs,
                                      n.name, n.domain))
            rw.rename_uses(x, y)
        else:
            continue
        done += 1
    return done
