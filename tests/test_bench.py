"""`msgraph bench`: both engines measured in subprocesses, figures present and sane, outputs agree,
the per-op profile covers every step; a clear error without onnxruntime or without the model."""
import json
import sys

import pytest
from onnx_builders import lenet5

from msgraph import cli
from msgraph.bench import bench, format_result, profile_table
from msgraph.errors import MsGraphError


@pytest.fixture(scope="module")
def lenet_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "lenet5.onnx"
    path.write_bytes(lenet5().SerializeToString())
    return str(path)


@pytest.fixture(scope="module")
def result(lenet_path):
    return bench(lenet_path, vs="onnxruntime", repeat=5, warmup=1, profile=True)


def test_both_engines_report_every_figure(result):
    for e in ("msgraph", "onnxruntime"):
        r = result[e]
        assert "error" not in r, r
        assert 0 < r["p10_ms"] <= r["median_ms"] <= r["p90_ms"]
        assert r["first_run_ms"] > r["median_ms"] and r["peak_rss_mb"] >= r["base_rss_mb"] > 0
        assert r["threads"] == 1 and r["runs"] >= 5  # and at least MIN_TIMED_S of them
    m = result["msgraph"]
    assert m["lower_bound_bytes"] <= m["arena_bytes"]
    # where the load went: every phase, none negative, together within the load + first run
    assert list(m["load_ms"]) == ["import", "optimize", "plan", "kernels", "weights", "init steps"]
    assert min(m["load_ms"].values()) >= 0 and sum(m["load_ms"].values()) <= m["first_run_ms"]
    assert "msgraph's load (ms): import" in format_result(result)
    assert result["max_abs_diff"] < 1e-4
    assert result["ratio"]["median_ms"] == pytest.approx(m["median_ms"] / result["onnxruntime"]["median_ms"])


def test_profile_covers_every_step(result):
    m = result["msgraph"]
    assert {p[1] for p in m["profile"]} == {"Conv", "MaxPool", "Gemm"} | {p[1] for p in m["profile"]}
    assert sum(n for _, _, n, _ in profile_table(m["profile"])) == len(m["profile"])
    assert all(p[3] >= 0 for p in m["profile"])
    text = format_result(result)
    assert "median latency" in text and "profile" in text and "ratio" in text


def test_cli_json(lenet_path, capsys):
    assert cli.main(["bench", lenet_path, "--repeat", "3", "--warmup", "0", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert "onnxruntime" not in r and r["msgraph"]["runs"] >= 3


def test_missing_onnxruntime_is_a_clear_error(lenet_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(MsGraphError, match="pip install onnxruntime"):
        bench(lenet_path, vs="onnxruntime")


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["bench", str(tmp_path / "nope.onnx")]) == 1
    assert "no model file" in capsys.readouterr().err


def test_a_failing_engine_is_reported_not_raised(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    r = bench(str(bad), repeat=1, warmup=0)
    assert "error" in r["msgraph"]
    assert "error" in format_result(r)


def test_timed_runs_reach_the_count_and_the_minimum_time(monkeypatch):
    import time

    from msgraph import bench as b

    calls = []
    monkeypatch.setattr(b, "MIN_WARMUP_S", 0.0)
    monkeypatch.setattr(b, "MIN_TIMED_S", 0.0)
    assert len(b._time_runs(lambda: calls.append(1), 2, 3)) == 3 and len(calls) == 5
    monkeypatch.setattr(b, "MIN_TIMED_S", 0.05)
    times = b._time_runs(lambda: time.sleep(0.002), 0, 3)
    assert sum(times) >= 0.05 and len(times) < 50
