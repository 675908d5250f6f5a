"""Threads: kernels_mt.wasm's worker pool and the split plans of msgraph.ops._split. Results on two threads
must be the same bits as on one (and as the unsplit plan), and match numpy / onnxruntime; kernel errors
name the node, traps in any thread raise without hanging, and every way a session ends stops its workers."""
from __future__ import annotations

import gc
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import wasmtime
from conftest import ort_run
from onnx import TensorProto, helper, numpy_helper
from onnx_builders import model, single
from test_kernels import conv_ref
from test_zoo import assert_close

from backend_wasm import loader
from backend_wasm.executor import Executor
from backend_wasm.session import InferenceSession
from msgraph import zoo
from msgraph.bench import bench
from msgraph.errors import KernelError
from msgraph.onnx_export import to_onnx
from msgraph.onnx_import import import_onnx
from msgraph.ops import _split
from msgraph.passes import optimize
from msgraph.plan import Plan, build_plan

ROOT = Path(__file__).resolve().parent.parent


def workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("msgraph-worker-")]


def near(got: np.ndarray, want: np.ndarray) -> None:
    """float32 sums (Winograd's transforms too) against a float64 reference: error scales with the values."""
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(want).max())))


def run(m, feeds: dict, threads: int) -> list[np.ndarray]:
    sess = InferenceSession(m, threads=threads)
    try:
        return sess.run(None, feeds)
    finally:
        sess.close()


@pytest.fixture
def split_all(monkeypatch):
    """Split every splittable step, however small (the default only splits steps worth a dispatch)."""
    monkeypatch.setattr(_split, "MIN_SECONDS", 0.0)


def test_shared_memory_import_workaround():
    mod = loader.module(None, True)
    ty = next(i.type for i in mod.imports if i.name == "memory")
    eng = loader.engine(True)
    mem_type = wasmtime.MemoryType(wasmtime.Limits(ty.limits.min, ty.limits.min), shared=True)
    try:  # wasmtime-py 50.0.1 passes a pointer to the pointer (its issue #318): drop the workaround once this works
        wasmtime.Instance(wasmtime.Store(eng), mod, [wasmtime.SharedMemory(eng, mem_type)])
    except TypeError as e:
        assert "sharedmemory" in str(e)
    shared = loader.SharedMemory(eng, mem_type)
    a, b = (wasmtime.Instance(wasmtime.Store(eng), mod, [shared]) for _ in range(2))
    assert a is not b and shared.data_len() == ty.limits.min * loader.PAGE


def test_threaded_build_has_the_same_kernels_and_own_stacks():
    plain = loader.instantiate(1 << 16)
    insts = loader.instances(1 << 16, None, 3)
    assert insts[0].opcodes == plain.opcodes and "u8_parallel" in plain.opcodes
    assert len({i.stack_top for i in insts}) == 3
    assert all(i.exports["__stack_pointer"].value(i.store) == i.stack_top for i in insts)
    with pytest.raises(KernelError, match="not a threaded kernels build"):
        loader.instances(1 << 16, str(loader.ensure_built()), 2)


def test_parallel_step_is_a_no_op_alone():
    inst = loader.instantiate(1 << 16)
    mem = np.frombuffer(inst.buffer(), dtype=np.uint8)
    base = (inst.heap_base + 63) // 64 * 64
    mem[base + 256:base + 264] = np.arange(8, dtype=np.uint8)
    words = np.array([inst.opcodes["u8_parallel"], 0, 1, 1, inst.opcodes["u8_copy"], 2, 1, base + 256, base + 512, 8],
                     dtype=np.int32)
    mem[base:base + words.nbytes] = words.view(np.uint8)
    assert inst.run(inst.store, base, 2) == 0
    assert list(mem[base + 512:base + 520]) == list(range(8))


def test_chunks():
    assert _split.chunks(10, 2) == [(0, 5), (5, 10)]
    assert _split.chunks(22, 2, 4) == [(0, 12), (12, 22)]
    assert _split.chunks(3, 2, 4) == [(0, 3)]
    assert _split.chunks(7, 3) == [(0, 3), (3, 6), (6, 7)]


# N, C, H, W, M, K, stride, pad, group, constant weights, bias, activation
CONVS = [
    (1, 16, 20, 23, 24, 3, 1, 1, 1, True, True, "Relu"),  # Winograd F(4x4): a slice of the weights per part
    (1, 8, 10, 11, 20, 3, 1, 1, 1, True, False, None),  # Winograd F(2x2), M % 8 != 0
    (2, 8, 10, 11, 12, 3, 1, 1, 1, True, True, None),  # Winograd over a batch: scratch per part
    (1, 16, 20, 23, 24, 5, 2, 2, 1, True, True, "Relu"),  # im2col on weights packed per part
    (1, 16, 20, 23, 22, 3, 2, 1, 1, False, True, None),  # im2col packing per run: scratch per part, M % 4 != 0
    (3, 8, 15, 17, 12, 3, 1, 1, 1, True, False, None),  # a batch: split by images
    (2, 6, 9, 11, 9, 3, 1, 1, 3, True, True, None),  # grouped direct conv over a batch
    (1, 24, 17, 19, 24, 3, 1, 1, 24, True, True, "Relu"),  # depthwise: split by channels
    (1, 24, 18, 18, 24, 3, 2, 1, 24, True, True, None),  # depthwise stride 2
    (1, 8, 13, 14, 6, 3, 1, 1, 2, True, True, None),  # grouped direct conv: split by groups
    (1, 32, 14, 14, 40, 1, 1, 0, 1, True, True, None),  # 1x1 on packed weights
    (1, 48, 14, 14, 16, 1, 1, 0, 1, True, True, None),  # 1x1 as a gemm: split by rows
]


def conv_model(n, c, h, w, m, k, s, p, g, const_w, bias, act, rng):
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((m, c // g, k, k)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32) if bias else None
    names = ["x", "w"] + (["b"] if bias else [])
    nodes = [helper.make_node("Conv", names, ["c" if act else "y"], name="conv0", group=g, pads=[p] * 4,
                              strides=[s, s], kernel_shape=[k, k])]
    if act:
        nodes.append(helper.make_node(act, ["c"], ["y"], name="act0"))
    inits = [numpy_helper.from_array(b, "b")] if bias else []
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))]
    feeds = {"x": x}
    if const_w:
        inits.append(numpy_helper.from_array(wt, "w"))
    else:
        inputs.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, list(wt.shape)))
        feeds["w"] = wt
    oh = (h + 2 * p - k) // s + 1
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, m, oh, (w + 2 * p - k) // s + 1])
    want = conv_ref(x, wt, b, (p,) * 4, (s, s), (1, 1), g, oh, (w + 2 * p - k) // s + 1, act == "Relu")
    return model(nodes, inputs, [out], inits), feeds, want


@pytest.mark.parametrize("case", CONVS, ids=[str(c) for c in CONVS])
def test_split_convs_are_bit_identical(case, split_all, rng):
    m, feeds, want = conv_model(*case, rng)
    plan = InferenceSession(m, threads=2).plan(feeds)
    assert any(s.kernel == "u8_parallel" for s in plan.steps), "this case should split"
    one = run(m, feeds, 1)
    two = run(m, feeds, 2)
    three = run(m, feeds, 3)
    near(one[0], want)
    assert np.array_equal(one[0], two[0]) and np.array_equal(one[0], three[0])


@pytest.mark.parametrize(("op", "attrs"), [
    ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2]}),
    ("MaxPool", {"kernel_shape": [2, 2], "pads": [1, 1, 1, 1], "strides": [2, 2]}),
    ("AveragePool", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
])
def test_split_pools_are_bit_identical(op, attrs, split_all, rng):
    x = rng.standard_normal((2, 5, 17, 19)).astype(np.float32)
    m = single(op, {"x": x}, **attrs)
    assert any(s.kernel == "u8_parallel" for s in InferenceSession(m, threads=2).plan({"x": x}).steps)
    one, two = run(m, {"x": x}, 1), run(m, {"x": x}, 2)
    near(one[0], ort_run(m, {"x": x})[0])
    assert np.array_equal(one[0], two[0])


# A shape, B shape, constant B, transA, transB, Gemm (else MatMul), C shape
GEMMS = [
    ((96, 200), (200, 72), True, 0, 0, False, None),  # small K: A read in packed blocks, B in place
    ((130, 300), (300, 72), True, 0, 0, False, None),  # B packed at load, 130 rows: parts of 68 and 62
    ((64, 96), (80, 96), True, 0, 1, True, (80,)),  # Gemm transB with a bias row
    ((40, 64), (64, 33), False, 0, 0, True, (40, 1)),  # C broadcast along rows, B an input
    ((4, 48, 32), (4, 32, 40), False, 0, 0, False, None),  # batched MatMul: split by batches
    ((50, 64), (50, 24), True, 1, 0, True, None),  # transA: not split, still right
]


@pytest.mark.parametrize("case", GEMMS, ids=[str(c[:2]) for c in GEMMS])
def test_split_gemms_are_bit_identical(case, split_all, rng):
    a_shape, b_shape, const_b, ta, tb, gemm, c_shape = case
    a = rng.standard_normal(a_shape).astype(np.float32)
    b = rng.standard_normal(b_shape).astype(np.float32)
    c = rng.standard_normal(c_shape).astype(np.float32) if c_shape else None
    names = ["a", "b"] + (["c"] if c is not None else [])
    attrs = {"transA": ta, "transB": tb} if gemm else {}
    node = helper.make_node("Gemm" if gemm else "MatMul", names, ["y"], name="mm0", **attrs)
    want = np.matmul((a.T if ta else a).astype(np.float64), (b.T if tb else b).astype(np.float64))
    if c is not None:
        want = want + c
    inputs = [helper.make_tensor_value_info("a", TensorProto.FLOAT, list(a_shape))]
    inits, feeds = [numpy_helper.from_array(c, "c")] if c is not None else [], {"a": a}
    if const_b:
        inits.append(numpy_helper.from_array(b, "b"))
    else:
        inputs.append(helper.make_tensor_value_info("b", TensorProto.FLOAT, list(b_shape)))
        feeds["b"] = b
    m = model([node], inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(want.shape))], inits)
    one, two = run(m, feeds, 1), run(m, feeds, 2)
    np.testing.assert_allclose(one[0], want, rtol=1e-4, atol=1e-4)
    assert np.array_equal(one[0], two[0])


ZOO = {"mlp": lambda: zoo.mlp(batch=64), "lenet5": lambda: zoo.lenet5(batch=16), "mobilenet_v2": zoo.mobilenet_v2,
       "resnet18": zoo.resnet18, "squeezenet1_1": zoo.squeezenet1_1,
       "transformer_encoder_layer": zoo.transformer_encoder_layer}


@pytest.mark.parametrize("name", ZOO)
def test_zoo_models_bit_identical_on_two_threads(name):
    g = ZOO[name]()
    x = np.random.default_rng(0).standard_normal(g.values[g.inputs[0]].type.shape).astype(np.float32)
    feeds = {g.inputs[0]: x}
    split = build_plan(optimize(g), threads=2)
    assert any(s.kernel == "u8_parallel" for s in split.steps)
    one, two = run(g, feeds, 1), run(g, feeds, 2)
    for a, b in zip(one, two):
        assert np.array_equal(a, b)
    for got, want in zip(two, ort_run(to_onnx(g), feeds)):
        assert_close(got, want)


def _bad(plan, part: int, **change):
    """The plan with part `part` of its first u8_parallel group changed (tensors or ints by index)."""
    steps = list(plan.steps)
    first = next(i for i, s in enumerate(steps) if s.kernel == "u8_parallel") + 1 + part
    s = steps[first]
    for field, (index, value) in change.items():
        seq = list(getattr(s, field))
        seq[index] = value
        s = replace(s, **{field: tuple(seq)})
    steps[first] = s
    return replace(plan, steps=tuple(steps))


def _conv_plan(rng):
    m, feeds, want = conv_model(1, 16, 20, 23, 24, 3, 1, 1, 1, True, True, None, rng)
    return InferenceSession(m, threads=2).plan(feeds), feeds, want


def test_kernel_error_in_a_part_names_the_node(split_all, rng):
    plan, feeds, _ = _conv_plan(rng)
    for part in (0, 1):
        bad = _bad(plan, part, ints=(16, 99))  # act code 99
        for threads in (1, 2):
            ex = Executor(bad, threads=threads)
            with pytest.raises(KernelError, match=r"node 'conv0' \(Conv\).*act must be in 0\.\.6 \(got 99\)"):
                ex(feeds)
            ex.close()


@pytest.mark.parametrize("parts", [(0,), (1,), (0, 1)])
def test_trap_in_any_thread_raises_and_the_pool_survives(parts, split_all, rng):
    plan, feeds, want = _conv_plan(rng)
    bad = plan
    for part in parts:
        bad = _bad(bad, part, tensors=(-1, 0x7FF00000))  # Y far outside the memory
    ex = Executor(bad, threads=2)
    outcome = []

    def attempt():
        for _ in range(3):
            try:
                ex(feeds)
                outcome.append("ran")
            except KernelError as e:
                outcome.append(str(e))

    t = threading.Thread(target=attempt)
    t.start()
    t.join(timeout=60)
    assert not t.is_alive(), "a trap left mg_run waiting"
    assert len(outcome) == 3 and all("node 'conv0' (Conv)" in o and "trap" in o for o in outcome), outcome
    good = plan.encode_program(ex._inst.opcodes, ex.base)  # the same layout with the part's real Y
    ex._memory[ex._program_start:ex._program_start + good.nbytes] = good.view(np.uint8)
    for _ in range(3):
        near(ex(feeds)[0], want)
    ex.close()


def test_close_and_garbage_collection_stop_the_workers(rng):
    m, feeds, want = conv_model(1, 16, 20, 23, 24, 3, 1, 1, 1, True, True, None, rng)
    before = len(workers())
    sess = InferenceSession(m, threads=3)
    assert len(workers()) == before + 2
    first = sess.run(None, feeds)[0]
    near(first, want)
    sess.close()
    assert len(workers()) == before
    assert np.array_equal(sess.run(None, feeds)[0], first)  # still runs, on one thread
    ex = Executor(build_plan(optimize(import_onnx(m)), threads=2), threads=2)
    assert len(workers()) == before + 1
    del ex
    gc.collect()
    assert len(workers()) == before


def test_interpreter_exit_with_running_workers():
    code = ("import numpy as np; from backend_wasm.session import InferenceSession; from msgraph import zoo; "
            "s = InferenceSession(zoo.squeezenet1_1(size=64), threads=2); "
            "s.run(None, {'input': np.zeros((1, 3, 64, 64), np.float32)}); print('ok')")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_threads_must_be_positive():
    with pytest.raises(ValueError, match="threads"):
        InferenceSession(zoo.mlp(), threads=0)


def test_bench_reports_threads_for_both_engines():
    r = bench(str(ROOT / "models" / "lenet5.onnx"), vs="onnxruntime", threads=2, repeat=3, warmup=1)
    assert r["msgraph"]["threads"] == 2 and r["onnxruntime"]["threads"] == 2
    assert r["max_abs_diff"] < 1e-4


def test_split_plan_survives_json(split_all, rng):
    m, feeds, want = conv_model(1, 16, 20, 23, 24, 5, 2, 2, 1, True, True, None, rng)
    g = optimize(import_onnx(m))
    plan = build_plan(g, threads=2)
    again = Plan.from_json(plan.to_json(), bytes(plan.weights))
    assert again.steps == plan.steps and any(s.kernel == "u8_parallel" for s in again.steps)
    ex = Executor(again, threads=2)
    got = ex(feeds)[0]
    ex.close()
    near(got, want)
    assert np.array_equal(got, Executor(build_plan(g))(feeds)[0])
