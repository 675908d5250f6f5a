"""The msgraph command line: run, plan, ops, --help, and clear errors."""
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ort_run
from onnx_builders import lenet5, mlp

from msgraph import cli, ops


@pytest.fixture
def lenet_file(tmp_path):
    m = lenet5()
    path = tmp_path / "lenet.onnx"
    path.write_bytes(m.SerializeToString())
    return m, path


def test_run_prints_and_saves(lenet_file, tmp_path, capsys, rng):
    m, path = lenet_file
    x = rng.standard_normal((1, 1, 28, 28)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out.npz"
    assert cli.main(["run", str(path), "--input", f"x={tmp_path / 'x.npy'}", "--save", str(out)]) == 0
    assert "logits: float32[1, 10]" in capsys.readouterr().out
    np.testing.assert_allclose(np.load(out)["logits"], ort_run(m, {"x": x})[0], rtol=1e-4, atol=1e-5)
    assert cli.main(["run", str(path), "--input", str(tmp_path / "x.npy"), "--json", "-o", "p1"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["p1"]["shape"] == [1, 6, 14, 14]


def test_run_on_two_threads_saves_the_same_outputs(lenet_file, tmp_path, capsys, rng):
    _, path = lenet_file
    np.save(tmp_path / "x.npy", rng.standard_normal((1, 1, 28, 28)).astype(np.float32))
    for t in ("1", "2"):
        assert cli.main(["run", str(path), "--input", str(tmp_path / "x.npy"), "--threads", t,
                         "--save", str(tmp_path / f"out{t}.npz")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "out1.npz")["logits"], np.load(tmp_path / "out2.npz")["logits"])
    with pytest.raises(SystemExit):
        cli.main(["run", str(path), "--random", "--threads", "0"])
    assert "must be >= 1" in capsys.readouterr().err


def test_run_reports_missing_inputs(lenet_file, capsys):
    _, path = lenet_file
    assert cli.main(["run", str(path)]) == 1
    assert "missing inputs: x tensor(float) [1, 1, 28, 28]" in capsys.readouterr().err
    assert cli.main(["run", str(path), "--random"]) == 0


def test_plan_json_is_one_object(tmp_path, capsys):
    path = tmp_path / "mlp.onnx"
    path.write_bytes(mlp(batch="N").SerializeToString())
    assert cli.main(["plan", str(path), "--json"]) == 1
    assert "symbolic" in capsys.readouterr().err
    assert cli.main(["plan", str(path), "--json", "--shape", "x=2,784"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["arena_bytes"] <= 1.10 * d["lower_bound_bytes"] and d["naive_bytes"] >= d["arena_bytes"]
    assert d["inputs"][0]["shape"] == [2, 784] and len(d["steps"]) in (3, 5)  # 3 Gemm, + 2 Relu unless fused
    assert cli.main(["plan", str(path), "--shape", "x=1,784"]) == 0
    text = capsys.readouterr().out
    assert "arena_bytes" in text and "f32_gemv_packed_b" in text
    # the init steps, stage by stage, with the raw weights each stage writes into the arena
    assert "init steps, once at load" in text and "stage 1: writes fc0.weight (1605632 B at" in text
    assert text.count("f32_gemv_pack_b ") == 3


def test_ops_matrix_comes_from_the_registry(capsys):
    assert cli.main(["ops", "--json"]) == 0
    matrix = json.loads(capsys.readouterr().out)
    assert set(matrix) == set(ops.REGISTRY)
    assert matrix["Add"] == ["f32", "f64", "i8", "u8", "i16", "i32", "i64"]


def test_help_for_every_command():
    for argv in (["--help"], ["run", "--help"], ["plan", "--help"], ["ops", "--help"], ["check", "--help"]):
        r = subprocess.run([sys.executable, "-m", "msgraph.cli", *argv], capture_output=True, text=True)
        assert r.returncode == 0 and "usage: msgraph" in r.stdout


def test_a_closed_stdout_ends_quietly():
    """`msgraph ops | head -1`: the reader goes away; no traceback, the exit status of a broken pipe."""
    code = ("import os, sys\nr, w = os.pipe()\nos.close(r)\nos.dup2(w, 1)\n"
            "from msgraph import cli\nsys.exit(cli.main(['ops']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 141 and r.stderr == "", r.stderr


def test_bad_model_path(capsys, tmp_path):
    assert cli.main(["run", str(tmp_path / "nope.onnx")]) == 1
    assert "no ONNX model" in capsys.readouterr().err


def test_check_reports_per_op_and_suggests_a_cut(tmp_path, capsys):
    from onnx import TensorProto, helper
    from onnx_builders import model

    n = helper.make_node
    m = model([n("Relu", ["x"], ["a"], name="r"), n("Cos", ["a"], ["b"], name="c1"), n("Cos", ["b"], ["c"], name="c2"),
               n("Relu", ["c"], ["d"], name="r2"), n("Sigmoid", ["d"], ["y"], name="s")],
              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    path = tmp_path / "m.onnx"
    path.write_bytes(m.SerializeToString())
    assert cli.main(["check", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    rows = {r["op"]: r for r in report["ops"]}
    assert rows["Cos"]["nodes"] == 2 and rows["Cos"]["unsupported"] == 2
    assert rows["Relu"] == {"domain": "ai.onnx", "op": "Relu", "nodes": 2, "unsupported": 0, "why": []}
    assert "inputs=['c'], outputs=['y']" in report["hint"]
    assert cli.main(["check", str(_write(tmp_path, lenet5()))]) == 0
    assert "every node is supported" in capsys.readouterr().out


def _write(tmp_path, m):
    path = tmp_path / "ok.onnx"
    path.write_bytes(m.SerializeToString())
    return path
