"""ONNX's own conformance suite on backend_wasm.backend: the allowlisted node tests through
onnx.backend.test.BackendTest, the bundled real-architecture models, and for every other node test
proof that it ends in a clean "unsupported" error, never a wrong answer or a crash."""
import os
import tempfile
import unittest

import onnx.backend.test
import pytest
from onnx_suite import MODEL_ALLOWLIST, allowlist, node_cases, run_case

from backend_wasm import backend

os.environ.setdefault("ONNX_HOME", os.path.join(tempfile.gettempdir(), "msgraph-onnx-home"))

ALLOWED = allowlist()
REAL_MODELS = ["test_bvlc_alexnet", "test_densenet121", "test_inception_v1", "test_inception_v2", "test_resnet50",
               "test_shufflenet", "test_squeezenet", "test_vgg19", "test_zfnet512"]
MODEL_TESTS = allowlist(MODEL_ALLOWLIST)  # bundled model tests that pass: real, simple, pytorch-*

_suite = onnx.backend.test.BackendTest(backend, __name__)  # it generates the node tests itself
_wanted = {f"{n}_cpu" for n in ALLOWED + MODEL_TESTS}
# Only the allowlisted tests become test methods (test_cases would add every other one as a skip).
for _category, _items in _suite._test_items.items():
    _methods = {n: item.func for n, item in _items.items() if n in _wanted}
    if _methods:
        globals()[f"OnnxBackend{_category}Test"] = type(f"OnnxBackend{_category}Test", (unittest.TestCase,),
                                                        {"__module__": __name__, **_methods})


def test_allowlist_names_real_tests():
    assert len(ALLOWED) == len(set(ALLOWED)) and set(ALLOWED) <= set(node_cases())
    assert set(REAL_MODELS) <= set(MODEL_TESTS)  # the nine bundled real architectures all run


@pytest.mark.parametrize("name", sorted(set(node_cases()) - set(ALLOWED)))
def test_outside_the_allowlist_fails_cleanly(name):
    outcome, detail = run_case(node_cases()[name])
    if outcome == "pass":
        pytest.fail(f"{name} passes: add it to tests/onnx_backend_allowlist.txt "
                    "(python tests/onnx_suite.py --write-allowlist)")
    assert outcome == "unsupported", f"{name}: {outcome}: {detail}"
