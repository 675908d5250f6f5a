"""The README's examples run, its commands work, and its operator table matches the registry."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from msgraph import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README, re.DOTALL)


@pytest.mark.parametrize("k", range(len(python_blocks())))
def test_python_examples_run(k, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(compile(python_blocks()[k], f"README block {k}", "exec"), {})


def test_operator_table_is_generated_from_the_registry(capsys):
    cli.main(["ops", "--markdown"])
    assert capsys.readouterr().out.strip() in README


def test_quick_start_command():
    r = subprocess.run([sys.executable, "-m", "msgraph.cli", "run", "models/lenet5.onnx", "--input",
                        "models/digit.npy"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("output: float32[1, 10]")


def test_wasm_frontend_example():
    line = next(ln for ln in README.splitlines() if ln.startswith("$ wasm-frontend"))
    arg = re.search(r"-I '(.*)'", line).group(1)
    from backend_wasm import frontend

    expected = README.splitlines()[README.splitlines().index(line) + 1]
    assert json.loads(frontend.run("EqualCount", "INT8", arg)) == json.loads(expected)
