"""The compiled-module cache: written on first use, loaded from a private copy on the next (so rewriting the
entry cannot crash a process using it), a corrupt entry recompiled."""
import numpy as np

import msgraph
from backend_wasm import loader
from msgraph.dsl import GraphBuilder


def _add_session():
    b = GraphBuilder("add")
    x = b.input("x", "float32", (4,))
    b.output(x + 1.0, name="y")
    return msgraph.InferenceSession(b.build())


def test_module_cache_is_written_mapped_and_survives_corruption(tmp_path, monkeypatch):
    monkeypatch.setenv("MSGRAPH_CACHE_DIR", str(tmp_path))
    loader._module.cache_clear()
    try:
        loader.module()
        entries = list((tmp_path / "msgraph").glob("kernels-*.cwasm"))
        assert len(entries) == 1 and entries[0].stat().st_size > 0
        loader._module.cache_clear()
        assert loader.module() is not None  # from the cache entry
        sess = _add_session()
        entries[0].write_bytes(b"not a compiled module")  # rewritten in place: the loaded module has a copy
        x = np.arange(4, dtype=np.float32)
        for _ in range(2):
            np.testing.assert_array_equal(sess.run(None, {"x": x})[0], x + 1)
        loader._module.cache_clear()
        got = _add_session().run(None, {"x": np.arange(4, dtype=np.float32)})[0]
        np.testing.assert_array_equal(got, np.arange(4, dtype=np.float32) + 1)
        assert entries[0].read_bytes() != b"not a compiled module"  # recompiled and written again
    finally:
        loader._module.cache_clear()
