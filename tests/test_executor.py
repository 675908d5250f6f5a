"""The executor's fast call path: results, kernel faults and traps through the unchecked call, the fast
run() path falling back to full checks, outputs that are copies, weights held once (in the arena)."""
import gc
import sys
import time

import numpy as np
import pytest
from onnx_builders import lenet5

import msgraph
from backend_wasm.executor import ArenaBytes, Executor
from msgraph.dsl import GraphBuilder
from msgraph.errors import InputError, KernelError
from msgraph.plan import Plan, PlanStep, build_plan


def add_graph(n: int = 1):
    b = GraphBuilder("adds")
    x = b.input("x", "float32", (4,))
    y = x
    for _ in range(n):
        y = y + b.const(np.ones(4, np.float32))
    b.output(y, name="y")
    return b.build()


def test_run_fast_and_checked_paths_agree():
    sess = msgraph.InferenceSession(add_graph(3))
    x = np.arange(4, dtype=np.float32)
    for _ in range(3):  # first call plans/checks, the next ones take the cached fast path
        (y,) = sess.run(None, {"x": x})
        np.testing.assert_array_equal(y, x + 3)
    (y,) = sess.run(["y"], {"x": x})  # requested by name: another cache key, same plan
    np.testing.assert_array_equal(y, x + 3)


def test_fast_path_still_rejects_bad_feeds():
    sess = msgraph.InferenceSession(add_graph())
    x = np.zeros(4, np.float32)
    sess.run(None, {"x": x})
    with pytest.raises(InputError, match="float32"):
        sess.run(None, {"x": x.astype(np.float64)})
    with pytest.raises(InputError, match="shape"):
        sess.run(None, {"x": np.zeros(5, np.float32)})
    with pytest.raises(InputError, match="missing"):
        sess.run(None, {"z": x})
    with pytest.raises(InputError, match="unexpected"):
        sess.run(None, {"x": x, "z": x})
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], x + 1)  # still fine after the errors


def test_lists_and_non_contiguous_inputs_take_the_checked_path():
    sess = msgraph.InferenceSession(add_graph())
    sess.run(None, {"x": np.zeros(4, np.float32)})
    strided = np.arange(8, dtype=np.float32)[::2]
    np.testing.assert_array_equal(sess.run(None, {"x": strided})[0], strided + 1)
    with pytest.raises(InputError):
        sess.run(None, {"x": [1, 2, 3, 4]})  # a list is int64 for numpy: rejected like onnxruntime


def test_outputs_are_copies_not_arena_views():
    sess = msgraph.InferenceSession(add_graph())
    (a,) = sess.run(None, {"x": np.zeros(4, np.float32)})
    (b,) = sess.run(None, {"x": np.ones(4, np.float32)})
    np.testing.assert_array_equal(a, np.ones(4))
    np.testing.assert_array_equal(b, np.full(4, 2.0))
    assert a.flags.owndata or a.base is None or a.base is not b.base


def test_other_outputs_get_their_own_fast_entry(rng):
    m = lenet5()
    sess = msgraph.InferenceSession(m)
    x = rng.standard_normal((1, 1, 28, 28)).astype(np.float32)
    (logits,) = sess.run(None, {"x": x})
    p1, logits2 = sess.run(["p1", "logits"], {"x": x})
    np.testing.assert_array_equal(logits, logits2)
    (logits3,) = sess.run(None, {"x": x})
    np.testing.assert_array_equal(logits, logits3)
    assert p1.shape[0] == 1


def test_kernel_status_names_the_node():
    plan = build_plan(add_graph())
    s = plan.steps[0]
    bad = Plan(**{**plan.__dict__, "steps": (PlanStep(s.node, s.op, s.kernel, s.tensors, s.ints + (7,)),)})
    ex = Executor(bad)
    with pytest.raises(KernelError, match=f"node '{s.node}'.*wrong number of ints"):
        ex.run()


def test_a_trap_is_a_kernel_error_and_the_executor_survives():
    plan = build_plan(add_graph())
    s = plan.steps[0]
    far = 1 << 30  # far beyond the memory: the kernel's load traps
    bad = Plan(**{**plan.__dict__, "steps": (PlanStep(s.node, s.op, s.kernel, (far,) + s.tensors[1:], s.ints),)})
    ex = Executor(bad)
    sp = ex._inst.exports["__stack_pointer"]
    top = sp.value(ex._inst.store)
    for _ in range(2):
        with pytest.raises(KernelError, match="trap"):
            ex.run()
        assert sp.value(ex._inst.store) == top  # the trapped frames' stack given back
    good = Executor(plan)
    good.set_input("x", np.zeros(4, np.float32))
    good.run()
    np.testing.assert_array_equal(good.get_output("y"), np.ones(4))


def test_weights_live_only_in_the_arena():
    """The loaded plan's weights are the arena's constants and persistent buffers (the packed weights the
    init steps made); saved and loaded again, it runs without init steps and gives the same outputs."""
    plan = build_plan(msgraph.import_onnx(lenet5()))
    assert plan.init_steps and plan.stages
    raw = bytes(plan.weights)[:plan.resident_bytes]
    ex = Executor(plan)
    assert isinstance(ex.plan.weights, ArenaBytes) and not ex.plan.weights.flags.writeable
    assert np.shares_memory(ex.plan.weights, ex._memory)
    assert bytes(ex.plan.weights)[:len(raw)] == raw and len(ex.plan.weights) == plan.arena_offset
    assert not ex.plan.init_steps and not ex.plan.stages and ex.load_report == plan.report()
    again = Plan.from_json(ex.plan.to_json(), bytes(ex.plan.weights))
    assert again.steps == ex.plan.steps
    x = np.random.default_rng(0).standard_normal((1, 1, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(Executor(again)({"x": x})[0], ex({"x": x})[0])


def test_owned_weights_are_released_into_the_arena():
    """own_weights: the plan's host arrays are let go as they are written (the arena's copy is the one
    that stays); the emptied plan refuses a second load instead of loading zeros."""
    import weakref

    g = msgraph.import_onnx(lenet5())
    plan = build_plan(g)
    raw = bytes(plan.weights)
    w = next(k for k, v in g.values.items() if v.const is not None and v.const.size > 100)
    ref = weakref.ref(g.values[w].const)
    x = np.random.default_rng(0).standard_normal((1, 1, 28, 28)).astype(np.float32)
    want = Executor(plan)({"x": x})
    del g
    ex = Executor(plan, own_weights=True)
    gc.collect()
    assert ref() is None and bytes(ex.plan.weights)[:plan.resident_bytes] == raw[:plan.resident_bytes]
    np.testing.assert_array_equal(ex({"x": x})[0], want[0])
    with pytest.raises(msgraph.errors.PlanError, match="released"):
        Executor(plan)


def test_arena_views_outlive_the_executor():
    ex = Executor(build_plan(add_graph()))
    weights = ex.plan.weights
    del ex
    gc.collect()
    assert bytes(weights) == np.ones(4, np.float32).tobytes()


def test_host_overhead_of_a_one_node_graph_is_small():
    sess = msgraph.InferenceSession(add_graph())
    feeds = {"x": np.zeros(4, np.float32)}
    for _ in range(200):
        sess.run(None, feeds)
    times = []
    for _ in range(2000):
        t = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - t)
    assert np.median(times) < 20e-6, f"median {np.median(times) * 1e6:.1f} us per run"


# ---------------------------------------------------------------- load: memory and start-up
def _big_model(raw=None):
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)  # 8 KB: a "large" initializer
    init = numpy_helper.from_array(w, "W")
    if raw is not None:
        init.raw_data = raw
    shape = numpy_helper.from_array(np.array([2, 32], np.int64), "shape")
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["x2"]), helper.make_node("Transpose", ["W"], ["Wt"]),
             helper.make_node("MatMul", ["x2", "Wt"], ["y"])]
    g = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 64])], [init, shape])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m, w


def test_large_initializers_import_without_copies_and_still_checked():
    m, w = _big_model()
    x = np.random.default_rng(1).standard_normal((4, 16)).astype(np.float32)
    (y,) = msgraph.InferenceSession(m).run(None, {"x": x})
    np.testing.assert_allclose(y, x.reshape(2, 32) @ w.T, rtol=1e-4, atol=1e-5)
    bad, _ = _big_model(raw=b"\0" * 8196)
    with pytest.raises(msgraph.GraphError, match="initializer 'W'"):
        msgraph.InferenceSession(bad)


def test_static_session_holds_weights_in_the_arena_and_plans_folded_values_again(rng):
    from onnx.reference import ReferenceEvaluator

    m = lenet5()
    sess = msgraph.InferenceSession(m)
    ex = next(iter(sess._cache.values()))
    consts = [v.const for v in sess.graph.values.values() if v.const is not None and v.const.size > 16]
    assert consts and all(np.shares_memory(c, ex._memory) for c in consts)
    x = rng.standard_normal((1, 1, 28, 28)).astype(np.float32)
    # the raw conv weights were only read by init steps (packed at load): the session kept none of them,
    # and a plan for another output imports the model again
    assert all(sess.graph.values[n].const is None for n in sess._staged) and sess._staged
    mid = next(n.outputs[0] for n in sess.graph.nodes if n.op == "MaxPool")
    got = sess.run([mid], {"x": x})[0]
    want = ReferenceEvaluator(m).run([mid], {"x": x})[0]  # (onnxruntime serves graph outputs only)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    gone = [n for n in msgraph.import_onnx(m).values if n not in sess.graph.values]
    for name in gone[:2]:  # values the optimised graph folded away are still computed on request
        (v,) = sess.run([name], {"x": x})
        assert v.size > 0


def test_big_persistent_buffers_are_populated_in_the_background(monkeypatch, rng):
    """A model whose init steps fill megabytes of persistent buffers (Winograd filters) has their pages
    faulted in by a helper thread meanwhile: finished by the end of the load, the results unchanged."""
    from test_threads import conv_model, near

    from backend_wasm import executor

    started = []

    def recording(*args):
        thread = real(*args)
        started.append(thread)
        return thread

    real = executor._populate_in_background
    monkeypatch.setattr(executor, "_populate_in_background", recording)
    m, feeds, want = conv_model(1, 128, 14, 14, 256, 3, 1, 1, 1, True, True, None, rng)
    sess = msgraph.InferenceSession(m)
    plan = next(iter(sess._cache.values())).load_report
    assert plan["persistent_bytes"] >= 1 << 20 and len(started) == 1
    thread = started[0]
    assert (thread is not None) == sys.platform.startswith("linux") and not (thread and thread.is_alive())
    near(sess.run(None, feeds)[0], want)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_plan_over_the_wasm32_memory_is_a_plan_error(threads):
    """A plan that needs more than a 4 GiB WebAssembly memory (a huge batch) is refused with the size it
    needs, not a wasmtime error."""
    from dataclasses import replace

    plan = replace(build_plan(msgraph.import_onnx(lenet5())), arena_bytes=5 << 30)
    with pytest.raises(msgraph.errors.PlanError, match=r"needs 5\.\d\d GiB .* at most 4\.00 GiB"):
        Executor(plan, threads=threads)
