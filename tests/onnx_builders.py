"""ONNX models written with onnx.helper alone (an exporter independent of msgraph's DSL), seeded weights."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _init(rng, name, shape, scale=None):
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    scale = scale or np.sqrt(2.0 / fan_in)
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def model(nodes, inputs, outputs, inits=(), opset=17, name="g") -> onnx.ModelProto:
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="onnx.helper")
    m.ir_version = min(m.ir_version, 8)
    onnx.checker.check_model(m, full_check=True)
    return m


def mlp(batch="N", opset=17, seed=0) -> onnx.ModelProto:
    """784-512-256-10 written the way torch exports nn.Linear: Gemm(transB=1)."""
    rng = np.random.default_rng(seed)
    inits, nodes, x = [], [], "x"
    dims = [784, 512, 256, 10]
    for k in range(3):
        inits += [_init(rng, f"fc{k}.weight", (dims[k + 1], dims[k])), _init(rng, f"fc{k}.bias", (dims[k + 1],), 0.1)]
        nodes.append(helper.make_node("Gemm", [x, f"fc{k}.weight", f"fc{k}.bias"], [f"g{k}"], name=f"fc{k}",
                                      transB=1, alpha=1.0, beta=1.0))
        x = f"g{k}"
        if k < 2:
            nodes.append(helper.make_node("Relu", [x], [f"r{k}"], name=f"relu{k}"))
            x = f"r{k}"
    nodes[-1].output[0] = "logits"
    return model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 784])],
                 [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 10])], inits, opset, "mlp")


def lenet5(batch=1, opset=17, seed=0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    inits = [_init(rng, "c1.w", (6, 1, 5, 5)), _init(rng, "c1.b", (6,), 0.1), _init(rng, "c2.w", (16, 6, 5, 5)),
             _init(rng, "c2.b", (16,), 0.1), _init(rng, "f1.w", (120, 400)), _init(rng, "f1.b", (120,), 0.1),
             _init(rng, "f2.w", (84, 120)), _init(rng, "f2.b", (84,), 0.1), _init(rng, "f3.w", (10, 84)),
             _init(rng, "f3.b", (10,), 0.1), numpy_helper.from_array(np.array([-1, 400], np.int64), "flat")]
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "c1.w", "c1.b"], ["c1"], name="conv1", kernel_shape=[5, 5], pads=[2, 2, 2, 2]),
        n("Relu", ["c1"], ["r1"], name="relu1"),
        n("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        n("Conv", ["p1", "c2.w", "c2.b"], ["c2"], name="conv2", kernel_shape=[5, 5]),
        n("Relu", ["c2"], ["r2"], name="relu2"),
        n("MaxPool", ["r2"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
        n("Reshape", ["p2", "flat"], ["f"], name="flatten"),
        n("Gemm", ["f", "f1.w", "f1.b"], ["g1"], name="fc1", transB=1),
        n("Relu", ["g1"], ["h1"], name="relu3"),
        n("Gemm", ["h1", "f2.w", "f2.b"], ["g2"], name="fc2", transB=1),
        n("Relu", ["g2"], ["h2"], name="relu4"),
        n("Gemm", ["h2", "f3.w", "f3.b"], ["logits"], name="fc3", transB=1),
    ]
    return model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 1, 28, 28])],
                 [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 10])], inits, opset, "lenet5")


def single(op, inputs: dict, out_dtype=TensorProto.FLOAT, out_shape=None, opset=17, **attrs) -> onnx.ModelProto:
    """A one-node model over the given input arrays (names are their keys)."""
    vis = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape))
           for k, v in inputs.items()]
    node = helper.make_node(op, list(inputs), ["y"], name=f"{op.lower()}0", **attrs)
    if out_shape is None:  # let onnx's shape inference declare the output, as exporters do
        probe = helper.make_model(helper.make_graph([node], op, vis, [helper.make_empty_tensor_value_info("y")]),
                                  opset_imports=[helper.make_opsetid("", opset)])
        inferred = onnx.shape_inference.infer_shapes(probe).graph.value_info
        out = next(v for v in inferred if v.name == "y")
    else:
        out = helper.make_tensor_value_info("y", out_dtype, out_shape)
    g = helper.make_graph([node], op, vis, [out])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = min(m.ir_version, 8)
    return m
