import numpy as np
import onnxruntime as ort
import pytest


def ort_run(model, feeds, outputs=None):
    """onnxruntime, one thread, as the independent reference."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(outputs, feeds)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
