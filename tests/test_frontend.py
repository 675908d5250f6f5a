"""wasm-frontend, the proof of concept's CLI: all 12 (op, dtype) cells against numpy."""
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from backend_wasm import frontend

NP = {"FP32": np.float32, "INT32": np.int32, "INT8": np.int8}


def call(capsys, *argv):
    code = frontend.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def tensor(a):
    return {"input-data": np.asarray(a).reshape(-1).tolist(), "shape": list(np.shape(a)), "dim-size": np.ndim(a)}


def sample(dtype, shape, rng):
    if dtype == "INT8":
        return rng.integers(-128, 128, shape).astype(np.int8)
    if dtype == "INT32":
        return rng.integers(-2**31, 2**31, shape, dtype=np.int64).astype(np.int32)
    return (rng.standard_normal(shape) * 10).astype(np.float32)


def reference(op, arrays):
    if op == "Add":
        return arrays[0] + arrays[1]
    if op == "Mul":
        return arrays[0] * arrays[1]
    if op == "Argmax":
        return np.argmax(arrays[0], axis=-1, keepdims=True).astype(np.int64)
    a, b = arrays
    return np.array([np.sum(a == b)]).astype(a.dtype)


CASES = [("Add", [(2, 3), (3,)]), ("Add", [(4, 1, 5), (1, 6, 1)]), ("Add", [(17,), (17,)]),
         ("Mul", [(2, 3), (2, 1)]), ("Mul", [(33,), ()]), ("Argmax", [(3, 7)]), ("Argmax", [(1,)]),
         ("EqualCount", [(300,), (300,)])]


@pytest.mark.parametrize("dtype", ["FP32", "INT32", "INT8"])
@pytest.mark.parametrize("op,shapes", CASES)
def test_cells_match_numpy(capsys, op, shapes, dtype):
    rng = np.random.default_rng(7)
    arrays = [sample(dtype, s, rng) for s in shapes]
    if op == "EqualCount":
        arrays[1] = np.where(rng.random(shapes[1]) < 0.6, arrays[0], arrays[1]).astype(arrays[0].dtype)
    code, out, err = call(capsys, "-o", op, "-d", dtype, "-I", json.dumps([tensor(a) for a in arrays]))
    assert code == 0, err
    got = json.loads(out)
    want = reference(op, arrays)
    assert got["shape"] == list(want.shape) and got["dim-size"] == want.ndim
    np.testing.assert_array_equal(np.array(got["input-data"], dtype=want.dtype).reshape(want.shape), want)


def test_int8_overflow_wraps_like_numpy(capsys):
    a, b = np.array([100, -100, 127], np.int8), np.array([100, -100, 1], np.int8)
    for op, want in (("Add", a + b), ("Mul", a * b)):
        code, out, _ = call(capsys, "-o", op, "-d", "INT8", "-I", json.dumps([tensor(a), tensor(b)]))
        assert json.loads(out)["input-data"] == want.tolist()


def test_argmax_first_index_on_ties(capsys):
    code, out, _ = call(capsys, "-o", "Argmax", "-d", "FP32", "-I", json.dumps([tensor([[1, 5, 5], [2, 2, 0]])]))
    assert json.loads(out) == {"input-data": [1, 0], "shape": [2, 1], "dim-size": 2}


def test_defaults_and_input_file(capsys, tmp_path):
    f = tmp_path / "in.json"
    f.write_text(json.dumps([tensor([0.5, 1.5]), tensor([0.25, 0.25])]))
    code, out, _ = call(capsys, "-i", str(f))  # default op Add, dtype FP32
    assert code == 0 and json.loads(out) == {"input-data": [0.75, 1.75], "shape": [2], "dim-size": 1}


@pytest.mark.parametrize("argv,message", [
    (["-o", "Conv", "-I", "[]"], "unknown op type 'Conv'"),
    (["-d", "FP16", "-I", "[]"], "unknown data type 'FP16'"),
    (["-I", "[1"], "not valid JSON"),
    (["-I", json.dumps([tensor([1.0])])], "Add takes 2 input"),
    (["-I", json.dumps([{"input-data": [1, 2], "shape": [3], "dim-size": 1}] * 2)], "do not fill shape"),
    (["-I", json.dumps([{"input-data": [1], "shape": [1], "dim-size": 2}] * 2)], "'dim-size' is 2"),
    (["-d", "INT8", "-I", json.dumps([tensor([300]), tensor([1])])], "in \\[-128, 127\\]"),
    (["-I", json.dumps([tensor([1.0, 2.0]), tensor([1.0, 2.0, 3.0])])], "do not broadcast"),
    (["-o", "EqualCount", "-I", json.dumps([tensor([1.0, 2.0]), tensor([1.0])])], "same dtype and shape"),
    ([], "no input"),
    (["-c", "/nonexistent.wasm", "-I", json.dumps([tensor([1.0]), tensor([1.0])])], "cannot read kernels"),
])
def test_bad_input_is_a_clear_error(capsys, argv, message):
    code, out, err = call(capsys, *argv)
    assert code == 2 and out == ""
    assert re.search(message, err), err


def test_backend_config_json_names_a_kernels_file(capsys, tmp_path):
    from backend_wasm.loader import ensure_built

    cfg = tmp_path / "cfg.json"
    shutil.copy(ensure_built(), tmp_path / "k.wasm")
    cfg.write_text(json.dumps({"kernels": "k.wasm"}))
    code, out, err = call(capsys, "-c", str(cfg), "-o", "Mul", "-d", "INT32", "-I",
                          json.dumps([tensor([3, -4]), tensor([5, 6])]))
    assert code == 0, err
    assert json.loads(out)["input-data"] == [15, -24]


def test_installed_command():
    exe = shutil.which("wasm-frontend")
    if exe is None:
        pytest.fail("wasm-frontend is not on PATH: install the package with pip install -e .")
    r = subprocess.run([exe, "-o", "EqualCount", "-d", "INT8", "-I",
                        json.dumps([tensor([1, 2, 3]), tensor([1, 2, 4])])], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"input-data": [2], "shape": [1], "dim-size": 1}
