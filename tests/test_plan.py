"""The planner: placement valid for every pair of values alive together, near the lower bound, and
random graphs with aliases and in-place reuse still compute what numpy computes."""
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx_builders import lenet5, mlp

import msgraph
from msgraph import ops
from msgraph.arena import ALIGN
from msgraph.errors import PlanError
from msgraph.ir import Graph, Node, TensorType, Value
from msgraph.plan import Plan, build_plan
from msgraph.schedule import needed_nodes, topological_order


def lifetimes(graph: Graph, plan: Plan):
    """first/last node position per value, in the schedule the plan follows."""
    order = topological_order(graph, needed_nodes(graph, [o.name for o in plan.outputs]))
    steps = [s.node for s in plan.steps]
    assert steps == sorted(steps, key=[n.name for n in order].index)  # the plan runs in that order
    first, last = {i: -1 for i in graph.inputs}, {}
    for k, node in enumerate(order):
        for o in node.outputs:
            first[o], last[o] = k, max(last.get(o, k), k)
        for i in node.inputs:
            last[i] = max(last.get(i, k), k)
    for o in plan.outputs:
        last[o.name] = len(order)
    for v, f in first.items():
        last.setdefault(v, f)
    return first, last, order


def shares_buffer_legally(graph: Graph, plan: Plan, order) -> set:
    """Pairs allowed to overlap: alias ops' in/out, in-place ops' in/out at the same offset (transitively)."""
    parent = {}

    def find(v):
        while parent.get(v, v) != v:
            v = parent[v]
        return v
    stepped = {s.node for s in plan.steps}
    for node in order:
        d = ops.REGISTRY[node.op]
        if d.lower is None or d.inplace:
            for i in node.inputs:
                if i in plan.values and plan.values[i].offset == plan.values[node.outputs[0]].offset:
                    parent[find(node.outputs[0])] = find(i)
        elif d.views and node.name not in stepped:  # inputs produced inside the output: no copy step
            y = plan.values[node.outputs[0]]
            for i in node.inputs:
                x = plan.values[i]
                assert y.offset <= x.offset and x.offset + x.nbytes <= y.offset + y.nbytes, (i, node.name)
                parent[find(i)] = find(node.outputs[0])
    return find


def viewed(graph: Graph, plan: Plan) -> set:
    """Values produced inside another op's output (the inputs of a Concat that runs no step)."""
    stepped = {s.node for s in plan.steps}
    return {i for n in graph.nodes if ops.REGISTRY[n.op].views and n.name not in stepped and n.outputs[0] in plan.values
            for i in n.inputs}


def check_plan(graph: Graph, plan: Plan):
    first, last, order = lifetimes(graph, plan)
    find = shares_buffer_legally(graph, plan, order)
    consts = {k for k, v in graph.values.items() if v.const is not None}
    live = [v for v in plan.values if v not in consts and v in first]
    inside = {find(v) for v in viewed(graph, plan)}
    for name, b in plan.values.items():
        assert b.offset % ALIGN == 0 or find(name) in inside, name
    for i, a in enumerate(live):
        for b in live[i + 1:]:
            if first[a] <= last[b] and first[b] <= last[a] and find(a) != find(b):
                ra, rb = plan.values[a], plan.values[b]
                assert ra.offset + ra.nbytes <= rb.offset or rb.offset + rb.nbytes <= ra.offset, (a, b)
    assert plan.lower_bound_bytes <= plan.arena_bytes <= plan.naive_bytes


@pytest.mark.parametrize("build", [mlp, lenet5], ids=["mlp", "lenet5"])
def test_models_plan_near_the_lower_bound(build):
    g = msgraph.import_onnx(build(batch=1))
    plan = build_plan(g)
    check_plan(g, plan)
    assert plan.arena_bytes <= 1.10 * plan.lower_bound_bytes, plan.report()
    # constants, then the persistent buffers (packed conv weights), then the arena
    assert plan.arena_offset == -(-plan.resident_bytes // ALIGN) * ALIGN + plan.persistent_bytes


@pytest.mark.parametrize("build", [mlp, lenet5], ids=["mlp", "lenet5"])
def test_init_only_constants_are_staged_in_the_arena(build):
    """Weights that only init steps read (packed at load) are not resident: each stage writes them into
    the arena, free until the first run, before its init steps; they never overlap within a stage, and
    the plan runs like one with every constant resident (the executor's tests compare outputs)."""
    g = msgraph.import_onnx(build(batch=1))
    plan = build_plan(g)
    assert plan.stages and plan.init_only_bytes > 0
    assert sum(s.steps for s in plan.stages) == len(plan.init_steps)
    biggest = max(c[3] for s in plan.stages for c in s.copies)
    assert plan.staging_bytes <= max(plan.arena_bytes, biggest + ALIGN)
    blob = bytes(plan.weights)
    first = 0
    for stage in plan.stages:
        spans = sorted((dst, dst + n) for _, _, dst, n in stage.copies)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
        staging = (plan.arena_offset, plan.arena_offset + plan.staging_bytes)
        assert all(staging[0] <= lo and hi <= staging[1] for lo, hi in spans)
        for name, src, dst, n in stage.copies:
            assert src >= plan.resident_bytes and name not in plan.values
            assert blob[src:src + n] == np.ascontiguousarray(g.values[name].const).tobytes()
            assert any(dst in s.tensors for s in plan.init_steps[first:first + stage.steps])  # in its stage
        first += stage.steps


def test_a_weight_two_nodes_pack_stays_resident(rng):
    """An init-only constant is staged for one node's init steps; one that two nodes pack (a shared
    weight) stays in the constants region, and both convs still agree with onnxruntime."""
    from conftest import ort_run
    from onnx import TensorProto, helper, numpy_helper
    from onnx_builders import model

    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    u = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"], pads=[1] * 4, name="c1"),
             helper.make_node("Conv", ["a", "w"], ["b"], pads=[1] * 4, name="c2"),
             helper.make_node("Conv", ["b", "u"], ["y"], pads=[1] * 4, name="c3")]
    m = model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 10, 10])],
              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 10, 10])],
              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(u, "u")])
    plan = build_plan(msgraph.import_onnx(m))
    staged = [name for stage in plan.stages for name, *_ in stage.copies]
    assert staged == ["u"] and "w" in plan.values and plan.values["w"].offset < plan.resident_bytes
    x = rng.standard_normal((1, 8, 10, 10)).astype(np.float32)
    from test_threads import near

    from backend_wasm.executor import Executor

    near(Executor(plan)({"x": x})[0], ort_run(m, {"x": x})[0])  # (Winograd: error scales with the values)


def test_plan_json_round_trip():
    plan = build_plan(msgraph.import_onnx(lenet5()))
    assert plan.init_steps and plan.persistent_bytes > 0  # the convs' weights are packed at load
    again = Plan.from_json(plan.to_json(), plan.weights)
    assert again.steps == plan.steps and again.inputs == plan.inputs and again.outputs == plan.outputs
    assert again.init_steps == plan.init_steps and again.persistent_bytes == plan.persistent_bytes
    assert again.stages == plan.stages and again.staging_bytes == plan.staging_bytes and plan.stages
    assert again.arena_offset == plan.arena_offset and again.report() == plan.report()
    assert json.loads(plan.to_json())["format"] == 1
    with pytest.raises(PlanError):
        Plan.from_json(plan.to_json(), plan.weights[:-1])


def _packed_bytes(kernel: str, ints, itemsize: int) -> int:
    """Bytes conv2d_pack_weights (conv2d's ints) or gemv_pack_b (gemm's ints) writes (ABI.md)."""
    if kernel.endswith("gemv_pack_b"):
        n, k, lanes = ints[1], ints[2], 16 // itemsize
        return -(-n // 6) * 6 * -(-k // lanes) * lanes * itemsize
    c, m, kh, kw, group = ints[1], ints[4], ints[7], ints[8], ints[9]
    return group * -(-(m // group) // 4) * 4 * (c // group) * kh * kw * itemsize


@pytest.mark.parametrize("batch", [1, 3])
def test_persistent_buffers_never_overlap(batch):
    """Packed weights live between the constants and the arena, one buffer each, written by init steps only
    and read by the run steps; no arena value or constant overlaps them."""
    g = msgraph.import_onnx(lenet5(batch=batch))
    plan = build_plan(g)
    check_plan(g, plan)
    lo, hi = -(-plan.resident_bytes // ALIGN) * ALIGN, plan.arena_offset
    staged = {dst for stage in plan.stages for _, _, dst, _ in stage.copies}
    # the two convs' weights, and the three fully connected layers' (1 or 3 rows: packed for dot products)
    assert [s.kernel for s in plan.init_steps] == ["f32_conv2d_pack_weights"] * 2 + ["f32_gemv_pack_b"] * 3
    spans = []
    for s in plan.init_steps:
        w, packed = s.tensors
        assert w in staged  # reads a constant that only init steps read: staged in the arena
        spans.append((packed, packed + _packed_bytes(s.kernel, s.ints, 4)))
    spans.sort()
    assert spans[0][0] >= lo and spans[-1][1] <= hi and hi - lo == plan.persistent_bytes
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    for name, b in plan.values.items():
        if g.values[name].const is None:
            assert b.offset >= hi, name  # activations and I/O in the arena
        else:
            assert b.offset + b.nbytes <= lo, name
    for s in plan.steps:
        for t in s.tensors:
            if t is not None and lo <= t < hi:
                assert s.kernel in ("f32_conv2d_im2col_packed", "f32_gemv_packed_b") and t in {a for a, _ in spans}
    assert sorted(t for s in plan.steps if "_packed" in s.kernel for t in s.tensors[1:2]) == [a for a, _ in spans]


@pytest.mark.parametrize("const_w", [True, False])
def test_conv_weights_packed_at_load_only_when_constant(const_w, rng):
    """A constant W: pack_weights once at load + conv2d_im2col_packed; W fed at run time: conv2d_im2col
    packing into scratch. Both agree with onnxruntime, over several runs."""
    from conftest import ort_run
    from onnx import numpy_helper
    from onnx_builders import single

    x = rng.standard_normal((2, 8, 9, 13)).astype(np.float32)
    w = rng.standard_normal((12, 8, 3, 3)).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    m = single("Conv", {"x": x, "w": w, "b": b}, pads=[1, 1, 1, 1], strides=[2, 1])
    if const_w:  # W and the bias become initializers
        m.graph.initializer.extend([numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
        del m.graph.input[1:]
    feeds = {"x": x} if const_w else {"x": x, "w": w, "b": b}
    sess = msgraph.InferenceSession(m)
    plan = build_plan(msgraph.import_onnx(m))
    kernels = [s.kernel for s in plan.steps]
    assert kernels == (["f32_conv2d_im2col_packed"] if const_w else ["f32_conv2d_im2col"])
    assert [s.kernel for s in plan.init_steps] == (["f32_conv2d_pack_weights"] if const_w else [])
    want = ort_run(m, feeds)[0]
    for _ in range(2):
        np.testing.assert_allclose(sess.run(None, feeds)[0], want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("c,m,const_w,kernel", [
    (8, 24, True, "f32_conv2d_im2col_packed"),  # widening 1x1: im2col on weights packed at load
    (24, 8, True, "f32_conv2d_im2col_packed"),  # narrowing 1x1 too (X's rows copied into panels, no gather)
    (24, 3, True, "f32_gemm"),  # fewer than 4 outputs: a gemm (its few-row paths)
    (8, 24, False, "f32_gemm"),  # W fed at run time: a gemm
])
def test_pointwise_conv_paths(c, m, const_w, kernel, rng):
    from conftest import ort_run
    from onnx import numpy_helper
    from onnx_builders import single

    x = rng.standard_normal((2, c, 5, 11)).astype(np.float32)
    w = rng.standard_normal((m, c, 1, 1)).astype(np.float32)
    mdl = single("Conv", {"x": x, "w": w})
    if const_w:
        mdl.graph.initializer.append(numpy_helper.from_array(w, "w"))
        del mdl.graph.input[1:]
    feeds = {"x": x} if const_w else {"x": x, "w": w}
    plan = build_plan(msgraph.import_onnx(mdl))
    assert [s.kernel for s in plan.steps] == [kernel]
    got = msgraph.InferenceSession(mdl).run(None, feeds)[0]
    np.testing.assert_allclose(got, ort_run(mdl, feeds)[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("op,m,k,const_b,kernel", [
    ("Gemm", 16, 40, True, "f32_gemm_packed_b"),  # B^T (transB=1): packed at load
    ("Gemm", 3, 40, True, "f32_gemv_packed_b"),  # a few rows: B packed at load for dot products
    ("Gemm", 3, 40, False, "f32_gemm"),  # a few rows, B fed at run time: dot products with B^T in place
    ("Gemm", 4, 40, True, "f32_gemm_packed_b"),  # 4 rows: the 4 x 8 micro-kernel on B packed at load
    ("MatMul", 16, 300, True, "f32_gemm_packed_b"),  # K > 256 (3-D A, one 2-D B for the batch)
    ("MatMul", 16, 40, True, "f32_gemm_packed_b"),  # small K: packed at load too (faster than read in place)
    ("MatMul", 1, 300, True, "f32_gemv_packed_b"),  # a batch of 2 single rows: one 2-row product
    ("Gemm", 16, 40, False, "f32_gemm"),  # B fed at run time
])
def test_gemm_constant_b_paths(op, m, k, const_b, kernel, rng):
    from conftest import ort_run
    from onnx import numpy_helper
    from onnx_builders import single

    n = 21
    if op == "Gemm":
        a, b, c = (rng.standard_normal(s).astype(np.float32) for s in ((m, k), (n, k), (n,)))
        mdl = single("Gemm", {"a": a, "b": b, "c": c}, transB=1, beta=0.5)
        feeds = {"a": a, "b": b, "c": c}
    else:
        a, b = rng.standard_normal((2, m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
        mdl = single("MatMul", {"a": a, "b": b})
        feeds = {"a": a, "b": b}
    if const_b:
        mdl.graph.initializer.append(numpy_helper.from_array(b, "b"))
        del mdl.graph.input[1]
        del feeds["b"]
    plan = build_plan(msgraph.import_onnx(mdl))
    assert [s.kernel for s in plan.steps] == [kernel]
    assert [s.kernel for s in plan.init_steps] == ([kernel.replace("packed", "pack")] if kernel.endswith("packed_b")
                                                   else [])
    got = msgraph.InferenceSession(mdl).run(None, feeds)[0]
    np.testing.assert_allclose(got, ort_run(mdl, feeds)[0], rtol=1e-4, atol=1e-4)


def test_init_steps_read_constants_only(monkeypatch):
    """An init step runs before any input exists: a lowering that points one at a value is a PlanError."""
    from dataclasses import replace

    def bad(ctx):
        ctx.emit_init("u8_copy", [ctx.input(0), ctx.new_persistent(16)], [16])
        ctx.emit("f32_tanh", [ctx.input(0), ctx.output(0)], [24])

    monkeypatch.setitem(ops.REGISTRY, "Tanh", replace(ops.REGISTRY["Tanh"], lower=bad))
    g = Graph(nodes=(Node("Tanh", ("x",), ("y",), {}, "t"),), values={"x": Value("x", F32), "y": Value("y", F32)},
              inputs=("x",), outputs=("y",))
    with pytest.raises(PlanError, match="init step"):
        build_plan(g)


def test_a_value_without_producer_or_data_is_a_plan_error():
    """A graph whose constant lost its data (e.g. a session's graph without the weights only init steps
    read) must not plan as if the value were an input written at run time."""
    g = Graph(nodes=(Node("Add", ("x", "w"), ("y",), {}, "add"),),
              values={"x": Value("x", F32), "w": Value("w", F32), "y": Value("y", F32)}, inputs=("x",),
              outputs=("y",))
    with pytest.raises(PlanError, match="'add'.*input 'w' has no value"):
        build_plan(g)


def test_failing_init_step_is_reported_at_load():
    from backend_wasm.executor import Executor
    from msgraph.errors import KernelError
    from msgraph.plan import PlanStep

    plan = build_plan(msgraph.import_onnx(lenet5()))
    s = plan.init_steps[0]
    broken = PlanStep(s.node, s.op, s.kernel, s.tensors, s.ints[:9] + (5,) + s.ints[10:])
    bad = Plan(**{**plan.__dict__, "init_steps": (broken,) + plan.init_steps[1:]})
    with pytest.raises(KernelError, match="init kernel f32_conv2d_pack_weights.*group"):
        Executor(bad)


def test_reshape_is_an_alias_and_costs_no_step():
    g = msgraph.import_onnx(lenet5())
    plan = build_plan(g, ["p2", "f"])
    assert "Reshape" not in {s.op for s in plan.steps}
    assert plan.values["f"].offset == plan.values["p2"].offset


def test_symbolic_input_must_be_bound():
    g = msgraph.import_onnx(mlp(batch="N"))
    with pytest.raises(PlanError, match="symbolic"):
        build_plan(g)


# ------------------------------------------------------------- random graphs, executed, against numpy
F32 = TensorType(msgraph.dtypes.F32, (4, 6))
OPS = ["Add", "Mul", "Sub", "Relu", "Reshape", "Tanh", "Concat"]


@st.composite
def random_graph(draw):
    n_inputs = draw(st.integers(1, 3))
    names = [f"in{k}" for k in range(n_inputs)]
    values = {n: Value(n, F32) for n in names}
    shape_const = Value.constant("shape", np.array([6, 4], np.int64))
    back_const = Value.constant("back", np.array([4, 6], np.int64))
    values.update({"shape": shape_const, "back": back_const})
    nodes, avail, cats = [], list(names), []  # cats: Concat outputs (n x 6), read by Concats only
    for k in range(draw(st.integers(1, 12))):
        op = draw(st.sampled_from(OPS))
        a = draw(st.sampled_from(avail))
        out = f"v{k}"
        if op == "Concat":  # along axis 0: a view of its inputs when each is its own buffer
            parts = draw(st.lists(st.sampled_from(avail + cats), min_size=1, max_size=3))
            nodes.append(Node("Concat", tuple(parts), (out,), {"axis": 0}, f"n{k}"))
            values[out] = Value(out, TensorType(F32.dtype, (sum(values[p].type.shape[0] for p in parts), 6)))
            cats.append(out)
            continue
        if op == "Reshape":  # there and back, so every value keeps shape (4, 6)
            nodes += [Node("Reshape", (a, "shape"), (out + "r",), {}, f"n{k}r"),
                      Node("Reshape", (out + "r", "back"), (out,), {}, f"n{k}")]
            values[out + "r"] = Value(out + "r", TensorType(F32.dtype, (6, 4)))
        elif op in ("Relu", "Tanh"):
            nodes.append(Node(op, (a,), (out,), {}, f"n{k}"))
        else:
            nodes.append(Node(op, (a, draw(st.sampled_from(avail))), (out,), {}, f"n{k}"))
        values[out] = Value(out, F32)
        avail.append(out)
    outs = draw(st.lists(st.sampled_from(avail[n_inputs:] + cats), min_size=1, max_size=3, unique=True))
    return Graph(tuple(nodes), values, tuple(names), tuple(outs)).validate()


def numpy_eval(graph: Graph, feeds):
    env = dict(feeds)
    env.update({k: v.const for k, v in graph.values.items() if v.const is not None})
    f = {"Add": np.add, "Mul": np.multiply, "Sub": np.subtract}
    for n in graph.nodes:
        x = [env[i] for i in n.inputs]
        if n.op in f:
            env[n.outputs[0]] = f[n.op](x[0], x[1])
        elif n.op == "Relu":
            env[n.outputs[0]] = np.maximum(x[0], 0)
        elif n.op == "Tanh":
            env[n.outputs[0]] = np.tanh(x[0])
        elif n.op == "Concat":
            env[n.outputs[0]] = np.concatenate(x, axis=0)
        else:
            env[n.outputs[0]] = x[0].reshape(tuple(x[1]))
    return [env[o] for o in graph.outputs]


@settings(max_examples=60, deadline=None)
@given(random_graph(), st.integers(0, 2**31))
def test_random_graphs_compute_what_numpy_computes(graph, seed):
    rng = np.random.default_rng(seed)
    feeds = {i: rng.standard_normal((4, 6)).astype(np.float32) for i in graph.inputs}
    plan = build_plan(graph)
    check_plan(graph, plan)
    got = msgraph.InferenceSession(graph).run(None, feeds)
    for g, w in zip(got, numpy_eval(graph, feeds)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch,viewed_", [(1, True), (2, False)])
def test_concat_inputs_are_produced_inside_its_output(batch, viewed_, rng):
    """Batch 1, channel axis: each input is a contiguous block of the output, so its producer writes it there
    and the Concat runs no step; batch 2 interleaves the inputs, so it copies. An input read again after
    the Concat (and requested as an output) keeps its value either way."""
    t = TensorType(msgraph.dtypes.F32, (batch, 3, 5))
    values = {n: Value(n, t) for n in ("x", "a", "b", "c")}
    values["y"] = Value("y", TensorType(t.dtype, (batch, 6, 5)))
    nodes = (Node("Relu", ("x",), ("a",), {}, "relu"), Node("Tanh", ("x",), ("b",), {}, "tanh"),
             Node("Concat", ("a", "b"), ("y",), {"axis": 1}, "cat"), Node("Sigmoid", ("a",), ("c",), {}, "sig"))
    graph = Graph(nodes, values, ("x",), ("y", "c", "a")).validate()
    plan = build_plan(graph)
    check_plan(graph, plan)
    assert ("cat" not in {s.node for s in plan.steps}) == viewed_
    y, a, b = (plan.values[n] for n in ("y", "a", "b"))
    assert (a.offset == y.offset and b.offset == y.offset + a.nbytes) == viewed_
    x = rng.standard_normal(t.shape).astype(np.float32)
    got_y, got_c, got_a = msgraph.InferenceSession(graph).run(None, {"x": x})
    want_a = np.maximum(x, 0)
    np.testing.assert_allclose(got_y, np.concatenate([want_a, np.tanh(x)], axis=1), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got_c, 1 / (1 + np.exp(-want_a)), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(got_a, want_a)
