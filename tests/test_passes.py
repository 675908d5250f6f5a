"""Graph passes: each rewrite fires where it should, keeps every value a user asks for, and leaves the
outputs unchanged: msgraph with the pass, msgraph without it (when every op of the original graph runs
here) and onnxruntime all agree. Export writes fused nodes back as plain ONNX nodes."""
import math

import numpy as np
import onnx
import pytest
from conftest import ort_run
from onnx import TensorProto, helper, numpy_helper

import msgraph
from msgraph import ops
from msgraph.ir import Graph, TensorType, Value
from msgraph.onnx_export import to_onnx
from msgraph.onnx_import import _type_of, convert_node
from msgraph.passes import (
    fold_batchnorm,
    fold_bias,
    fuse_activation,
    fusion_support,
    matmul_to_gemm,
    optimize,
    remove_identity,
)

RNG = np.random.default_rng(7)
F = TensorProto.FLOAT


def rand(*shape, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, shape).astype(np.float32)


def model(nodes, inputs, outputs, inits, opset=17):
    g = helper.make_graph(nodes, "m", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return onnx.shape_inference.infer_shapes(m)


def ir_of(m: onnx.ModelProto) -> Graph:
    """The model as an IR graph typed by onnx's shape inference: works even for ops not registered yet
    (a pass may remove them before planning)."""
    opset = m.opset_import[0].version
    values = {i.name: Value.constant(i.name, numpy_helper.to_array(i)) for i in m.graph.initializer}
    for vi in [*m.graph.input, *m.graph.value_info, *m.graph.output]:
        values.setdefault(vi.name, Value(vi.name, _type_of(vi, vi.name)))
    nodes = tuple(convert_node(n, opset, n.name or f"{n.op_type}_{k}") for k, n in enumerate(m.graph.node))
    return Graph(nodes, values, tuple(i.name for i in m.graph.input), tuple(o.name for o in m.graph.output),
                 "m", opset)


def runs_here(g: Graph) -> bool:
    return all(n.op in ops.REGISTRY for n in g.nodes)


def check_same(m: onnx.ModelProto, feeds: dict, passes, outputs=None, rtol=1e-4, atol=1e-5, fired=True):
    """msgraph with `passes`, msgraph without (when it can run the original) and onnxruntime agree."""
    g = ir_of(m)
    names = list(outputs or g.outputs)
    after = optimize(g, keep=names, passes=passes)
    assert (after is not g) == fired, [n.op for n in after.nodes]
    assert set(names) <= set(after.values)
    if not runs_here(after):
        pytest.skip(f"not fused, and {sorted({n.op for n in after.nodes} - set(ops.REGISTRY))} cannot run here yet")
    after.validate()
    want = ort_run(_with_outputs(m, names), feeds)
    got = msgraph.InferenceSession(after, optimize=False).run(names, feeds)
    for w, x, n in zip(want, got, names):
        np.testing.assert_allclose(x, w, rtol=rtol, atol=atol, err_msg=f"with the pass: {n}")
    if runs_here(g):
        plain = msgraph.InferenceSession(g, optimize=False).run(names, feeds)
        for w, x, n in zip(want, plain, names):
            np.testing.assert_allclose(x, w, rtol=rtol, atol=atol, err_msg=f"without the pass: {n}")
    full = msgraph.InferenceSession(g).run(names, feeds)  # the session's own pipeline (all passes)
    for w, x, n in zip(want, full, names):
        np.testing.assert_allclose(x, w, rtol=rtol, atol=atol, err_msg=f"session: {n}")
    return after


def _with_outputs(m, names):
    m2 = onnx.ModelProto()
    m2.CopyFrom(m)
    known = {v.name: v for v in [*m.graph.value_info, *m.graph.output, *m.graph.input]}
    del m2.graph.output[:]
    m2.graph.output.extend(known[n] for n in names)
    return m2


def conv_bn(with_bias: bool, keep_mid: bool = False):
    w, b = rand(8, 4, 3, 3), rand(8)
    inits = {"W": w, "scale": rand(8, lo=0.5, hi=2), "B": rand(8), "mean": rand(8), "var": rand(8, lo=0.1, hi=2)}
    conv_in = ["x", "W"] + (["b"] if with_bias else [])
    if with_bias:
        inits["b"] = b
    nodes = [helper.make_node("Conv", conv_in, ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("BatchNormalization", ["c", "scale", "B", "mean", "var"], ["y"], epsilon=1e-3,
                              name="bn")]
    return model(nodes, [helper.make_tensor_value_info("x", F, [1, 4, 6, 6])],
                 [helper.make_tensor_value_info("y", F, [1, 8, 6, 6])], inits)


@pytest.mark.parametrize("with_bias", [False, True])
def test_batchnorm_folds_into_conv(with_bias):
    after = check_same(conv_bn(with_bias), {"x": rand(1, 4, 6, 6)}, [fold_batchnorm])
    assert [n.op for n in after.nodes] == ["Conv"]


def test_folded_conv_weights_are_made_only_where_the_plan_puts_them():
    """The folded weights are a LazyConst: W * scale computed into the plan's weights (the same bits as
    the product in the weights' dtype), and as an array of its own when read; the plan never holds a copy."""
    from msgraph.ir import LazyConst
    from msgraph.plan import build_plan

    m = conv_bn(True)
    g = ir_of(m)
    after = optimize(g, passes=[fold_batchnorm])
    w_bn = after.values[after.nodes[0].inputs[1]].const
    assert isinstance(w_bn, LazyConst) and w_bn.shape == (8, 4, 3, 3) and w_bn.dtype == np.float32
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    scale = init["scale"].astype(np.float64) / np.sqrt(init["var"].astype(np.float64) + 1e-3)
    want = init["W"] * scale.astype(np.float32).reshape(-1, 1, 1, 1)
    assert np.array_equal(np.asarray(w_bn), want) and np.array_equal(w_bn.reshape(-1), want.reshape(-1))
    plan = build_plan(after)
    blob = np.frombuffer(bytes(plan.weights), np.uint8)
    assert want.tobytes() in blob.tobytes()
    import copy
    import pickle

    for again in (copy.deepcopy(w_bn), pickle.loads(pickle.dumps(w_bn))):  # a graph can be copied or saved
        assert isinstance(again, LazyConst) and np.array_equal(np.asarray(again), want)


def test_batchnorm_stays_when_the_conv_output_is_asked_for():
    g = ir_of(conv_bn(True))
    after = optimize(g, keep=["c", "y"], passes=[fold_batchnorm])
    assert after is g


def test_batchnorm_folds_into_gemm():
    inits = {"Wt": rand(5, 6), "C": rand(5), "scale": rand(5, lo=0.5, hi=2), "B": rand(5), "mean": rand(5),
             "var": rand(5, lo=0.1, hi=2)}
    nodes = [helper.make_node("Gemm", ["x", "Wt", "C"], ["g"], transB=1, beta=0.5, name="gemm"),
             helper.make_node("BatchNormalization", ["g", "scale", "B", "mean", "var"], ["y"], name="bn")]
    m = model(nodes, [helper.make_tensor_value_info("x", F, [3, 6])], [helper.make_tensor_value_info("y", F, [3, 5])],
              inits)
    after = check_same(m, {"x": rand(3, 6)}, [fold_batchnorm])
    assert [n.op for n in after.nodes] == ["Gemm"]


@pytest.mark.parametrize("bias_shape", [(8, 1, 1), (1, 8, 1, 1), (1,), ()])
def test_channel_bias_add_folds_into_conv(bias_shape):
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv"), helper.make_node("Add", ["bias", "c"], ["y"])]
    m = model(nodes, [helper.make_tensor_value_info("x", F, [2, 4, 5, 5])],
              [helper.make_tensor_value_info("y", F, [2, 8, 3, 3])], {"W": rand(8, 4, 3, 3), "bias": rand(*bias_shape)})
    after = check_same(m, {"x": rand(2, 4, 5, 5)}, [fold_bias])
    assert [n.op for n in after.nodes] == ["Conv"]


def test_spatial_add_is_not_a_bias():
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv"), helper.make_node("Add", ["c", "bias"], ["y"])]
    m = model(nodes, [helper.make_tensor_value_info("x", F, [1, 4, 5, 5])],
              [helper.make_tensor_value_info("y", F, [1, 8, 3, 3])], {"W": rand(8, 4, 3, 3), "bias": rand(8, 3, 1)})
    check_same(m, {"x": rand(1, 4, 5, 5)}, [fold_bias], fired=False)


@pytest.mark.parametrize("bias_shape", [(4,), (1, 4), (3, 4)])
def test_matmul_add_becomes_gemm(bias_shape):
    nodes = [helper.make_node("MatMul", ["x", "W"], ["mm"], name="mm"), helper.make_node("Add", ["mm", "b"], ["y"])]
    m = model(nodes, [helper.make_tensor_value_info("x", F, [3, 6])], [helper.make_tensor_value_info("y", F, [3, 4])],
              {"W": rand(6, 4), "b": rand(*bias_shape)})
    after = check_same(m, {"x": rand(3, 6)}, [matmul_to_gemm])
    assert [n.op for n in after.nodes] == ["Gemm"]


def _linear_nd(xs, bias_shape, w_const=True, extra=(), out="y"):
    """MatMul(x [..., 6], W [6, 4]) + b, as torch exports nn.Linear on an N-D input."""
    ys = [*xs[:-1], 4]
    nodes = [helper.make_node("MatMul", ["x", "W"], ["mm"], name="mm"), helper.make_node("Add", ["mm", "b"], ["y"]),
             *extra]
    inputs = [helper.make_tensor_value_info("x", F, xs)]
    inits = {"b": rand(*bias_shape)}
    if w_const:
        inits["W"] = rand(6, 4)
    else:
        inputs.append(helper.make_tensor_value_info("W", F, [6, 4]))
    return model(nodes, inputs, [helper.make_tensor_value_info(out, F, ys)], inits)


@pytest.mark.parametrize("xs,bias_shape", [([2, 3, 6], (4,)), ([2, 3, 6], (1, 1, 4)), ([2, 3, 6], (1,)),
                                           ([2, 2, 3, 6], (1, 4)), ([1, 5, 6], ())])
def test_nd_matmul_add_becomes_reshape_gemm_reshape(xs, bias_shape):
    m = _linear_nd(xs, bias_shape)
    after = check_same(m, {"x": rand(*xs)}, [matmul_to_gemm])
    assert [n.op for n in after.nodes] == ["Reshape", "Gemm", "Reshape"]  # in schedule order
    gemm = after.nodes[1]
    assert after.values[gemm.inputs[0]].type.shape == (int(np.prod(xs[:-1])), 6) and len(gemm.inputs) == 3
    assert after.nodes[2].outputs == ("y",)


def test_nd_matmul_with_a_bias_varying_along_rows_keeps_the_add():
    m = _linear_nd([2, 3, 6], (3, 4))
    after = check_same(m, {"x": rand(2, 3, 6)}, [matmul_to_gemm])
    assert [n.op for n in after.nodes] == ["Reshape", "Gemm", "Reshape", "Add"]
    assert len(after.nodes[1].inputs) == 2


def test_nd_matmul_output_asked_for_keeps_its_name_and_the_add():
    m = _linear_nd([2, 3, 6], (4,))
    after = check_same(m, {"x": rand(2, 3, 6)}, [matmul_to_gemm], outputs=["mm", "y"])
    assert [n.op for n in after.nodes] == ["Reshape", "Gemm", "Reshape", "Add"]
    assert after.nodes[2].outputs == ("mm",)


def test_nd_matmul_by_a_computed_or_batched_b_is_left_alone():
    m = _linear_nd([2, 3, 6], (4,), w_const=False)
    check_same(m, {"x": rand(2, 3, 6), "W": rand(6, 4)}, [matmul_to_gemm], fired=False)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["mm"], name="mm"), helper.make_node("Add", ["mm", "b"], ["y"])]
    m = model(nodes, [helper.make_tensor_value_info("x", F, [2, 3, 6])],
              [helper.make_tensor_value_info("y", F, [2, 3, 4])], {"W": rand(2, 6, 4), "b": rand(4)})
    check_same(m, {"x": rand(2, 3, 6)}, [matmul_to_gemm], fired=False)


def test_activation_fuses_through_the_reshape_of_an_nd_linear():
    """MatMul [2,3,6] + bias -> Relu: the Relu reads the Reshape after the Gemm and fuses into the Gemm."""
    m = _linear_nd([2, 3, 6], (4,), extra=[helper.make_node("Relu", ["y"], ["r"])], out="r")
    after = check_same(m, {"x": rand(2, 3, 6)}, [matmul_to_gemm, fuse_activation])
    assert [n.op for n in after.nodes] == ["Reshape", "Gemm", "Reshape"]
    assert after.nodes[1].attrs["activation"] == "relu" and after.nodes[2].outputs == ("r",)
    # the value before the activation is asked for: not fused, still computed under its name
    after = check_same(m, {"x": rand(2, 3, 6)}, [matmul_to_gemm, fuse_activation], outputs=["y", "r"])
    assert [n.op for n in after.nodes] == ["Reshape", "Gemm", "Reshape", "Relu"]


def test_gemm_bias_add_folds():
    nodes = [helper.make_node("Gemm", ["x", "W", "C"], ["g"], name="gemm", beta=2.0),
             helper.make_node("Add", ["g", "b"], ["y"])]
    m = model(nodes, [helper.make_tensor_value_info("x", F, [3, 6])], [helper.make_tensor_value_info("y", F, [3, 4])],
              {"W": rand(6, 4), "C": rand(4), "b": rand(3, 1)})
    after = check_same(m, {"x": rand(3, 6)}, [fold_bias])
    assert [n.op for n in after.nodes] == ["Gemm"]


def _identity_model(op):
    extra = {"ratio": np.array(0.5, np.float32), "mode": np.array(False)} if op == "Dropout" else {}
    ins = ["a", "ratio", "mode"] if op == "Dropout" else ["a"]
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node(op, ins, ["b"]),
             helper.make_node("Add", ["b", "b"], ["y"]), helper.make_node(op, ins[:1] + ins[1:], ["z"])]
    return model(nodes, [helper.make_tensor_value_info("x", F, [2, 3])],
                 [helper.make_tensor_value_info("y", F, [2, 3]), helper.make_tensor_value_info("z", F, [2, 3])], extra)


@pytest.mark.parametrize("op", ["Identity", "Dropout"])
def test_identity_and_dropout_are_removed(op):
    m = _identity_model(op)
    after = check_same(m, {"x": rand(2, 3)}, [remove_identity])
    assert op not in [n.op for n in after.nodes]
    assert set(after.outputs) == {"y", "z"}


def test_identity_of_a_graph_input_to_an_output_stays():
    m = model([helper.make_node("Identity", ["x"], ["y"])], [helper.make_tensor_value_info("x", F, [2])],
              [helper.make_tensor_value_info("y", F, [2])], {})
    check_same(m, {"x": rand(2)}, [remove_identity], fired=False)


def test_training_dropout_stays():
    g = ir_of(model([helper.make_node("Dropout", ["x", "r", "t"], ["y"])], [helper.make_tensor_value_info("x", F, [4])],
                    [helper.make_tensor_value_info("y", F, [4])],
                    {"r": np.array(0.5, np.float32), "t": np.array(True)}))
    assert optimize(g, passes=[remove_identity]) is g


# ---------------------------------------------------------------- activations
ACTS = {
    "relu": ([helper.make_node("Relu", ["p"], ["y"])], {}, 17),
    "relu6": ([helper.make_node("Clip", ["p", "lo", "hi"], ["y"])],
              {"lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}, 17),
    "clip_attrs": ([helper.make_node("Clip", ["p"], ["y"], min=-0.5, max=0.75)], {}, 10),
    "clip_min_only": ([helper.make_node("Clip", ["p", "lo"], ["y"])], {"lo": np.array(-0.2, np.float32)}, 13),
    "sigmoid": ([helper.make_node("Sigmoid", ["p"], ["y"])], {}, 17),
    "hardswish": ([helper.make_node("HardSwish", ["p"], ["y"])], {}, 17),
    "leakyrelu": ([helper.make_node("LeakyRelu", ["p"], ["y"], alpha=0.2)], {}, 17),
    "gelu": ([helper.make_node("Gelu", ["p"], ["y"])], {}, 20),
    "gelu_erf": ([helper.make_node("Div", ["p", "sqrt2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
                  helper.make_node("Add", ["e", "one"], ["a"]), helper.make_node("Mul", ["p", "a"], ["m"]),
                  helper.make_node("Mul", ["m", "half"], ["y"])],
                 {"sqrt2": np.array(math.sqrt(2), np.float32), "one": np.array(1, np.float32),
                  "half": np.array(0.5, np.float32)}, 17),
    "gelu_erf_half_first": ([helper.make_node("Mul", ["p", "rs2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
                             helper.make_node("Add", ["one", "e"], ["a"]), helper.make_node("Mul", ["half", "p"], ["h"]),
                             helper.make_node("Mul", ["h", "a"], ["y"])],
                            {"rs2": np.array(1 / math.sqrt(2), np.float32), "one": np.array(1, np.float32),
                             "half": np.array(0.5, np.float32)}, 17),
    "gelu_erf_swapped": ([helper.make_node("Div", ["p", "sqrt2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
                          helper.make_node("Add", ["one", "e"], ["a"]), helper.make_node("Mul", ["a", "p"], ["m"]),
                          helper.make_node("Mul", ["half", "m"], ["y"])],
                         {"sqrt2": np.array(math.sqrt(2), np.float32), "one": np.array(1, np.float32),
                          "half": np.array(0.5, np.float32)}, 17),
    "gelu_erf_half_on_sum": ([helper.make_node("Mul", ["rs2", "p"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
                              helper.make_node("Add", ["e", "one"], ["a"]), helper.make_node("Mul", ["half", "a"], ["h"]),
                              helper.make_node("Mul", ["p", "h"], ["y"])],
                             {"rs2": np.array(1 / math.sqrt(2), np.float32), "one": np.array(1, np.float32),
                              "half": np.array(0.5, np.float32)}, 17),
    "gelu_erf_half_on_sum_swapped": ([helper.make_node("Div", ["p", "sqrt2"], ["d"]),
                                      helper.make_node("Erf", ["d"], ["e"]),
                                      helper.make_node("Add", ["one", "e"], ["a"]),
                                      helper.make_node("Mul", ["a", "half"], ["h"]),
                                      helper.make_node("Mul", ["h", "p"], ["y"])],
                                     {"sqrt2": np.array(math.sqrt(2), np.float32), "one": np.array(1, np.float32),
                                      "half": np.array(0.5, np.float32)}, 17),
}
KIND = {"relu6": "clip", "clip_attrs": "clip", "clip_min_only": "clip", "gelu_erf": "gelu",
        "gelu_erf_half_first": "gelu", "gelu_erf_swapped": "gelu", "gelu_erf_half_on_sum": "gelu",
        "gelu_erf_half_on_sum_swapped": "gelu"}
PRODUCERS = {
    "Conv": (lambda: [helper.make_node("Conv", ["x", "W", "b"], ["p"], pads=[1, 1, 1, 1], name="prod")],
             {"W": rand(6, 3, 3, 3, lo=-2, hi=2), "b": rand(6)}, [1, 3, 5, 5], [1, 6, 5, 5]),
    "Gemm": (lambda: [helper.make_node("Gemm", ["x", "W", "b"], ["p"], transB=1, name="prod")],
             {"W": rand(7, 9, lo=-2, hi=2), "b": rand(7)}, [4, 9], [4, 7]),
    "MatMul": (lambda: [helper.make_node("MatMul", ["x", "W"], ["p"], name="prod")],
               {"W": rand(9, 7, lo=-2, hi=2)}, [2, 4, 9], [2, 4, 7]),
}


def act_model(producer: str, act: str):
    make, inits, xs, ys = PRODUCERS[producer]
    nodes, consts, opset = ACTS[act]
    return model(make() + nodes, [helper.make_tensor_value_info("x", F, xs)], [helper.make_tensor_value_info("y", F, ys)],
                 {**inits, **consts}, opset), xs


@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("producer", list(PRODUCERS))
def test_activation_fuses_into_producer(producer, act):
    m, xs = act_model(producer, act)
    g = ir_of(m)
    kind = KIND.get(act, act)
    prod = g.nodes[0]
    supported = fusion_support.supports_activation(
        prod, kind, (0.0, 6.0) if kind == "clip" else (0.2,) if kind == "leakyrelu" else (),
        [g.values[i].type for i in prod.inputs], [g.values["p"].type], [g.const(i) for i in prod.inputs])
    after = check_same(m, {"x": rand(*xs, lo=-3, hi=3)}, [fuse_activation], fired=supported)
    if supported:
        assert [n.op for n in after.nodes] == [producer]
        assert after.nodes[0].attrs["activation"] == kind and after.nodes[0].outputs == ("y",)
        back = to_onnx(after)  # export writes the activation back as separate node(s)
        onnx.checker.check_model(back)
        assert len(back.graph.node) > 1
        feeds = {"x": rand(*xs, lo=-3, hi=3)}
        np.testing.assert_allclose(ort_run(back, feeds)[0], ort_run(m, feeds)[0], rtol=1e-5, atol=1e-5)


def test_activation_is_not_fused_when_its_input_is_asked_for():
    m, xs = act_model("Gemm", "relu")
    after = check_same(m, {"x": rand(*xs)}, [fuse_activation], outputs=["p", "y"], fired=False)
    assert [n.op for n in after.nodes] == ["Gemm", "Relu"]


def test_activation_is_not_fused_when_its_input_has_other_readers():
    nodes = [helper.make_node("Gemm", ["x", "W"], ["p"], name="g"), helper.make_node("Relu", ["p"], ["r"]),
             helper.make_node("Add", ["p", "r"], ["y"])]
    m = model(nodes, [helper.make_tensor_value_info("x", F, [2, 3])], [helper.make_tensor_value_info("y", F, [2, 4])],
              {"W": rand(3, 4)})
    check_same(m, {"x": rand(2, 3)}, [fuse_activation], fired=False)


def test_unsupported_activation_is_not_fused(monkeypatch):
    monkeypatch.setitem(fusion_support._DECLARED, "Gemm", frozenset())
    m, xs = act_model("Gemm", "relu")
    check_same(m, {"x": rand(*xs)}, [fuse_activation], fired=False)


def test_probe_rejects_a_lowering_that_ignores_the_attribute(monkeypatch):
    g = ir_of(act_model("Gemm", "relu")[0])
    node = g.nodes[0]
    d = ops.REGISTRY["Gemm"]

    def ignores(ctx):  # emits the same steps whatever the activation
        ctx.emit("f32_gemm", [ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)], [0])
    monkeypatch.setitem(ops.REGISTRY, "Gemm", d.__class__(**{**d.__dict__, "lower": ignores}))
    types = [g.values[i].type for i in node.inputs]
    assert not fusion_support.supports_activation(node, "relu", (), types, [g.values["p"].type], [None] * 3)


def test_declared_activations_are_checked():
    with pytest.raises(ValueError, match="unknown"):
        fusion_support.declare_fused_activations("Conv", ["swish"])


# ---------------------------------------------------------------- the whole pipeline
def test_conv_bn_relu_block_through_the_session():
    """Conv -> BatchNormalization -> Relu -> Conv(+Add bias) -> Relu6: one Conv per block after optimize."""
    inits = {"W1": rand(8, 3, 3, 3), "s": rand(8, lo=0.5, hi=2), "B": rand(8), "mu": rand(8), "var": rand(8, lo=0.2, hi=1),
             "W2": rand(4, 8, 1, 1), "b2": rand(1, 4, 1, 1), "lo": np.array(0, np.float32),
             "hi": np.array(6, np.float32)}
    nodes = [helper.make_node("Conv", ["x", "W1"], ["c1"], pads=[1, 1, 1, 1], name="c1"),
             helper.make_node("BatchNormalization", ["c1", "s", "B", "mu", "var"], ["n1"], name="bn1"),
             helper.make_node("Relu", ["n1"], ["r1"], name="r1"),
             helper.make_node("Identity", ["r1"], ["i1"], name="id"),
             helper.make_node("Conv", ["i1", "W2"], ["c2"], name="c2"),
             helper.make_node("Add", ["c2", "b2"], ["a2"], name="add"),
             helper.make_node("Clip", ["a2", "lo", "hi"], ["y"], name="relu6")]
    m = model(nodes, [helper.make_tensor_value_info("x", F, [1, 3, 8, 8])],
              [helper.make_tensor_value_info("y", F, [1, 4, 8, 8])], inits)
    feeds = {"x": rand(1, 3, 8, 8, lo=-2, hi=2)}
    after = check_same(m, feeds, None)
    assert [n.op for n in after.nodes] == ["Conv", "Conv"]
    check_same(m, feeds, None, outputs=["n1", "y"])  # asking for the BN output keeps it, still correct


def test_plan_command_optimizes(tmp_path, capsys):
    from msgraph import cli

    m, _ = act_model("Gemm", "relu")
    path = tmp_path / "m.onnx"
    path.write_bytes(m.SerializeToString())
    assert cli.main(["plan", str(path), "--json"]) == 0
    import json
    fused = json.loads(capsys.readouterr().out)["n_steps"]
    assert cli.main(["plan", str(path), "--json", "--no-optimize"]) == 0
    assert json.loads(capsys.readouterr().out)["n_steps"] >= fused


def test_optimize_returns_the_same_graph_when_nothing_applies():
    g = Graph((), {"x": Value("x", TensorType(msgraph.dtypes.F32, (2,)))}, ("x",), ("x",))
    assert optimize(g) is g


# ---------------------------------------------------------------- transformer encoder layer
def _ffn_steps(g: Graph) -> list[str]:
    from msgraph.plan import build_plan

    return [s.kernel for s in build_plan(optimize(g)).steps]


def _check_encoder(m: onnx.ModelProto, x: np.ndarray) -> list[str]:
    """The session (all passes) matches onnxruntime; the optimised plan's kernels."""
    (want,) = ort_run(m, {"x": x})
    (got,) = msgraph.InferenceSession(m.SerializeToString()).run(None, {"x": x})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(want).max())))
    return _ffn_steps(msgraph.import_onnx(m.SerializeToString()))


@pytest.mark.parametrize("norm_first", [False, True])
def test_zoo_transformer_linear_layers_become_gemms_with_bias_and_gelu(norm_first):
    from msgraph import zoo

    g = zoo.transformer_encoder_layer(batch=2, seq=16, d_model=64, heads=4, d_ff=128, norm_first=norm_first)
    steps = _check_encoder(to_onnx(g), rand(2, 16, 64, lo=-2, hi=2))
    # the 6 Linear layers are Gemms with their bias (and GELU) inside: only the 2 residual Adds remain
    assert steps.count("f32_add") == 2 and "f32_erf" not in steps and "f32_div" not in steps, steps
    gemms = steps.count("f32_gemm") + steps.count("f32_gemm_packed_b")  # (constant B packed at load)
    assert gemms == 8 and steps.count("f32_gemm_packed_b") == 6, steps  # 6 Linear + QK^T + attention @ V


@pytest.mark.parametrize("dynamo", [False, True])
def test_torch_transformer_linear_layers_become_gemms_with_bias_and_gelu(dynamo, tmp_path):
    torch = pytest.importorskip("torch")
    from test_torch_models import EncoderLayer, export, make

    x = torch.randn(1, 16, 256, generator=torch.Generator().manual_seed(3))
    m = export(make(EncoderLayer, (1, 16, 256)), x, tmp_path / "t.onnx", dynamo)
    assert "Erf" in {n.op_type for n in m.graph.node}
    steps = _check_encoder(m, x.numpy())
    assert steps.count("f32_add") == 2 and "f32_erf" not in steps, steps
