"""Tests of the DSL: builder naming and typing, errors raised at the offending op, Cells and trace()."""
from __future__ import annotations

import numpy as np
import pytest

from msgraph import dsl, nn
from msgraph.dtypes import F32, F64, I8, I64
from msgraph.errors import GraphError, ShapeError, UnsupportedOpError
from msgraph.ir import Graph, TensorType


def nodes(g: Graph) -> list[tuple]:
    return [(n.name, n.op, n.inputs, n.outputs) for n in g.nodes]


# ---------------------------------------------------------------- builder
def test_builder_names_types_and_build():
    b = dsl.GraphBuilder("g")
    x = b.input("x", "float32", (1, 784))
    w = b.const(np.zeros((10, 784), np.float32), "w")
    c = b.const(np.zeros(10, np.float32))
    y = b.op("Gemm", [x, w, c], transB=1)
    assert (y.name, y.shape, y.dtype, y.ndim) == ("Gemm_0", (1, 10), F32, 2)
    z = b.op("Relu", [y])
    b.output(z, "y")
    assert z.name == "y"  # renamed in place, no Identity
    g = b.build()
    assert isinstance(g, Graph) and (g.inputs, g.outputs, g.opset) == (("x",), ("y",), 17)
    assert nodes(g) == [("Gemm_0", "Gemm", ("x", "w", "const_0"), ("Gemm_0",)),
                        ("Relu_0", "Relu", ("Gemm_0",), ("y",))]
    assert dict(g.nodes[0].attrs) == {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 1}
    assert g.type("y") == TensorType(F32, (1, 10))
    np.testing.assert_array_equal(g.const("w"), 0)


def test_names_are_deterministic_and_unique():
    def make():
        b = dsl.GraphBuilder()
        x = b.input("x", "f32", (2, 3))
        y = dsl.relu(dsl.relu(x) + 1.0) * x
        b.output(y)
        return b.build()
    g1, g2 = make(), make()
    assert nodes(g1) == nodes(g2)
    assert [n.name for n in g1.nodes] == ["Relu_0", "Add_0", "Relu_1", "Mul_0"]
    assert g1.outputs == ("Mul_0",)


def test_explicit_node_name_and_clashes():
    b = dsl.GraphBuilder()
    x = b.input("x", "f32", (2,))
    y = b.op("Relu", [x], name="Relu_0")
    z = b.op("Relu", [y])  # the automatic name skips the taken one
    assert z.name == "Relu_1"
    with pytest.raises(GraphError, match="Relu_0"):
        b.op("Relu", [x], name="Relu_0")
    with pytest.raises(GraphError, match="already used"):
        b.input("x", "f32", (2,))
    with pytest.raises(GraphError, match="no outputs"):
        b.build()


def test_symbolic_dims_flow_through():
    b = dsl.GraphBuilder()
    x = b.input("x", "float32", ("N", 4))
    y = dsl.gemm(x, np.ones((3, 4), np.float32), np.ones(3, np.float32), trans_b=True)
    assert y.shape == ("N", 3)
    b.output(dsl.softmax(y))
    assert b.build().type("Softmax_0").shape == ("N", 3)


def test_output_of_input_or_constant_gets_identity_and_twice_is_refused():
    b = dsl.GraphBuilder()
    x = b.input("x", "f32", (2,))
    b.output(x)
    out = b.output(x, "copy")
    assert out.name == "copy" and x.name == "x"
    with pytest.raises(GraphError, match="already an output"):
        b.output(x)
    r = b.op("Relu", [x])
    with pytest.raises(GraphError, match="already used"):
        b.output(r, "x")
    g = b.build()
    assert g.outputs == ("x", "copy")
    assert nodes(g) == [("Identity_0", "Identity", ("x",), ("copy",)),
                        ("Relu_0", "Relu", ("x",), ("Relu_0",))]


def test_operator_overloads_and_constants():
    b = dsl.GraphBuilder()
    x = b.input("x", "float64", (2, 3))
    m = b.input("m", "float64", (3, 4))
    ys = [x + 1, 1 + x, x - 2, 2 - x, x * 3, 3 * x, x / 4, 4 / x, -x, x @ m, np.ones(3) @ m,
          x + np.arange(3, dtype=np.float32)]
    assert [y.builder.opset for y in ys] == [17] * len(ys)
    assert [b._recs[i].op for i in range(len(ys))] == ["Add", "Add", "Sub", "Sub", "Mul", "Mul", "Div", "Div",
                                                      "Mul", "MatMul", "MatMul", "Add"]
    assert ys[-1].dtype == F64 and ys[9].shape == (2, 4) and ys[10].shape == (4,)
    g = (b.output(ys[-1]), b.build())[1]
    consts = [g.const(i) for n in g.nodes if n.op == "Add" for i in n.inputs if g.const(i) is not None]
    assert all(c.dtype == np.float64 for c in consts)
    np.testing.assert_array_equal(consts[-1], [0, 1, 2])
    assert g.const(g.nodes[8].inputs[1]) == -1  # -x is x * -1: exact, keeps the sign of zero


def test_negation_of_unsigned_and_int_constants():
    b = dsl.GraphBuilder()
    u = b.input("u", "uint8", (3,))
    n = -u
    assert b._vals[b._recs[-1].inputs[1]].const == 255  # -1 wrapped: u * 255 == -u (mod 256)
    assert n.dtype.name == "u8"
    i = b.input("i", "int8", (3,))
    assert (i + 3).dtype == I8
    with pytest.raises(ShapeError, match="exactly as i8"):
        i + 300
    with pytest.raises(ShapeError, match="exactly as i8"):
        i * 0.5


def test_shape_errors_name_the_node():
    b = dsl.GraphBuilder()
    x = b.input("x", "float32", (2, 3))
    y = b.input("y", "float32", (4, 5))
    img = b.input("img", "float32", (1, 3, 8, 8))
    dsl.relu(x)
    with pytest.raises(ShapeError, match=r"node 'Add_0' \(Add\).*do not broadcast"):
        x + y
    with pytest.raises(ShapeError, match=r"MatMul_0.*inner dimensions"):
        x @ y
    with pytest.raises(ShapeError, match="Gemm_0"):
        b.op("Gemm", [x, y])
    with pytest.raises(ShapeError, match="Reshape_0"):
        dsl.reshape(x, (4, 2))
    with pytest.raises(ShapeError, match="Conv_0"):
        dsl.conv2d(img, np.ones((4, 2, 3, 3), np.float32))
    with pytest.raises(ShapeError, match="Add_0"):
        x + np.ones(4, np.float32)
    assert [r.op for r in b._recs] == ["Relu"]  # failed ops leave nothing behind: no nodes, constants, names
    assert [v.name for v in b._vals] == ["x", "y", "img", "Relu_0"]
    assert (x + 1).name == "Add_0" and b._vals[-2].name == "const_0"


def test_wrong_dtype_combinations_raise():
    b = dsl.GraphBuilder()
    f = b.input("f", "float32", (2, 2))
    i = b.input("i", "int32", (2, 2))
    with pytest.raises(ShapeError, match="f32 and i32"):
        f + i
    with pytest.raises(ShapeError, match="Gemm_0"):
        dsl.gemm(f, f, b.input("d", "float64", (2,)))
    assert dsl.gemm(f, np.ones((2, 2)), np.ones(2)).dtype == F32  # arrays take the tensor's dtype
    assert b._vals[b._recs[-1].inputs[2]].const.dtype == np.float32
    with pytest.raises(ShapeError, match="exactly as i32"):
        dsl.conv2d(b.input("img", "int32", (1, 1, 3, 3)), np.full((1, 1, 2, 2), 0.5))
    with pytest.raises(UnsupportedOpError, match="MatMul.*i32 not supported"):
        i @ i
    with pytest.raises(UnsupportedOpError, match="Sigmoid"):
        dsl.sigmoid(i)
    with pytest.raises(UnsupportedOpError, match="no such operator"):
        b.op("Frobnicate", [f])
    with pytest.raises(GraphError, match="unknown attribute"):
        b.op("Relu", [f], alpha=0.1)
    other = dsl.GraphBuilder("other").input("z", "float32", (2, 2))
    with pytest.raises(GraphError, match="belongs to graph 'other'"):
        f + other
    with pytest.raises(GraphError, match=r"gives 1\.\.1 outputs"):
        b.op("Relu", [f], outputs=2)
    with pytest.raises(UnsupportedOpError, match="Indices"):
        b.op("MaxPool", [b.input("img2", "float32", (1, 1, 4, 4))], outputs=2, kernel_shape=[2, 2])


def test_op_inputs_scalars_lists_and_omitted():
    b = dsl.GraphBuilder()
    x = b.input("x", "float32", (2, 3))
    assert b.op("Add", [x, 2]).dtype == F32 and b._vals[-2].const.dtype == np.float32  # scalars: x's dtype
    r = b.op("Reshape", [x, [3, -1]])  # a list keeps numpy's dtype (int64 here)
    assert r.shape == (3, 2) and b._vals[-2].const.dtype == np.int64
    y = b.op("Gemm", [x, np.ones((3, 4), np.float32), None])
    assert y.shape == (2, 4) and b._recs[-1].inputs[2] == -1
    b.output(y)
    assert b.build().nodes[-1].inputs[2] == ""


def test_op_normalises_onnx_attrs_per_opset():
    for opset, coerce in ((11, 1), (17, 0)):
        b = dsl.GraphBuilder(opset=opset)
        y = b.op("Softmax", [b.input("x", "f32", (2, 3, 4))], axis=1)
        assert dict(b._recs[-1].attrs) == {"axis": 1, "coerce_2d": coerce} and y.shape == (2, 3, 4)
    b = dsl.GraphBuilder(opset=6)
    y = b.op("Add", [b.input("a", "f32", (2, 3, 4)), b.input("c", "f32", (3,))], broadcast=1, axis=1)
    assert dict(b._recs[-1].attrs) == {"legacy_broadcast": 1, "legacy_axis": 1} and y.shape == (2, 3, 4)
    s = dsl.softmax(y, axis=1)  # the functional helper means one axis at every opset
    assert dict(b._recs[-1].attrs) == {"axis": 1, "coerce_2d": 0} and s.shape == (2, 3, 4)


def test_shape_helpers_per_opset():
    for opset in (11, 17):
        b = dsl.GraphBuilder(opset=opset)
        x = b.input("x", "float32", (2, 1, 3))
        assert dsl.reshape(x, (3, -1)).shape == (3, 2)
        assert dsl.squeeze(x, [1]).shape == (2, 3) and dsl.squeeze(x).shape == (2, 3)
        assert dsl.unsqueeze(x, [0, -1]).shape == (1, 2, 1, 3, 1)
        assert dsl.flatten(x, 2).shape == (2, 3)
        assert dsl.argmax(x, 2).shape == (2, 1) and dsl.argmin(x, 0, keepdims=True).dtype == I64
        assert dsl.equal_count(x, x).shape == (1,)


def test_window_ops_shapes():
    b = dsl.GraphBuilder()
    x = b.input("x", "float32", (1, 4, 9, 9))
    w = np.ones((8, 2, 3, 3), np.float32)
    assert dsl.conv2d(x, w, groups=2).shape == (1, 8, 7, 7)
    assert dsl.conv2d(x, w, groups=2, padding="same", stride=2).shape == (1, 8, 5, 5)
    assert dsl.conv2d(x, w, groups=2, padding=(1, 0, 2, 0), dilation=2).shape == (1, 8, 6, 7)
    assert dsl.max_pool2d(x, 2).shape == (1, 4, 4, 4)
    assert dsl.max_pool2d(x, 2, ceil_mode=True).shape == (1, 4, 5, 5)
    assert dsl.avg_pool2d(x, 3, 2, padding=1).shape == (1, 4, 5, 5)


# ---------------------------------------------------------------- Cells
class Block(dsl.Cell):
    def __init__(self, rng):
        super().__init__()
        self.fc1 = nn.Dense(6, 5, activation="relu", rng=rng)
        self.fc2 = nn.Dense(5, 4, has_bias=False, rng=rng)

    def construct(self, x):
        return self.fc2(self.fc1(x))


class Net(dsl.Cell):
    def __init__(self, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.block = Block(rng)
        self.head = nn.SequentialCell([nn.Dense(4, 3, rng=rng), nn.Softmax()])
        self.scale = dsl.Parameter(np.full(3, 2.0, np.float32))

    def construct(self, x):
        y = self.head(self.block(x))
        return y * self.scale, dsl.argmax(y)


def test_trace_names_parameters_by_attribute_path():
    g = dsl.trace(Net(), {"x": ("float32", (2, 6))})
    consts = [k for k, v in g.values.items() if v.const is not None]
    assert consts == ["block.fc1.weight", "block.fc1.bias", "block.fc2.weight", "head.0.weight",
                      "head.0.bias", "scale"]
    assert g.name == "Net" and g.inputs == ("x",) and g.outputs == ("output_0", "output_1")
    assert g.type("output_0") == TensorType(F32, (2, 3)) and g.type("output_1") == TensorType(I64, (2,))
    assert g.type("block.fc1.weight").shape == (5, 6)  # MindSpore layout [out, in]
    assert [n.op for n in g.nodes] == ["Gemm", "Relu", "Gemm", "Gemm", "Softmax", "Mul", "ArgMax"]
    assert all(n.attrs["transB"] == 1 for n in g.nodes if n.op == "Gemm")
    assert [p for p, _ in Net().parameters_and_names()] == consts[-1:] + consts[:-1]  # own ones first
    assert [p for p, _ in Net().cells_and_names()] == ["", "block", "block.fc1", "block.fc1.activation",
                                                        "block.fc2", "head", "head.0", "head.1"]


def test_trace_single_output_shared_parameter_and_determinism():
    class Tied(dsl.Cell):
        def __init__(self):
            super().__init__()
            self.a = nn.Dense(3, 3)
            self.b = nn.Dense(3, 3)
            self.b.weight = self.a.weight  # shared: one constant, named by its first path

        def construct(self, x):
            return self.b(self.a(x))

    g = dsl.trace(Tied(), {"x": TensorType(F32, (1, 3))}, name="tied")
    assert g.outputs == ("output",) and g.name == "tied"
    assert [n.inputs[1] for n in g.nodes] == ["a.weight", "a.weight"]
    g1, g2, g3 = (dsl.trace(Net(s), {"x": ("float32", (1, 6))}) for s in (0, 0, 1))
    np.testing.assert_array_equal(g1.const("block.fc1.weight"), g2.const("block.fc1.weight"))
    assert not np.array_equal(g1.const("block.fc1.weight"), g3.const("block.fc1.weight"))


def test_cell_errors():
    class NoInit(dsl.Cell):
        def __init__(self):
            self.w = dsl.Parameter(np.ones(2))

    with pytest.raises(AttributeError, match="super"):
        NoInit()

    class Bad(dsl.Cell):
        def __init__(self):
            super().__init__()
            self.fc = nn.Dense(4, 2)

        def construct(self, x):
            return self.fc(x)

    with pytest.raises(ShapeError, match=r"Gemm_0.*inner dimensions"):
        dsl.trace(Bad(), {"x": ("float32", (1, 5))})
    with pytest.raises(NotImplementedError):
        dsl.Cell()(1)
    with pytest.raises(GraphError, match="activation"):
        nn.Dense(2, 2, activation="gelu")
    with pytest.raises(GraphError, match="pad_mode"):
        nn.Conv2d(1, 1, 3, pad_mode="valid", padding=1)


def test_layers_shapes():
    class Conv(dsl.Cell):
        def __init__(self):
            super().__init__()
            self.same = nn.Conv2d(1, 4, 3, stride=2)
            self.valid = nn.Conv2d(4, 4, 5, pad_mode="valid", group=2, has_bias=True)
            self.pad = nn.Conv2d(4, 2, 5, pad_mode="pad", padding=2)
            self.pool = nn.MaxPool2d(2, 2)
            self.avg = nn.AvgPool2d(3, 1, pad_mode="same")
            self.dense = nn.Dense(5, 7, activation=nn.Tanh())  # on rank 4: via Reshape to [-1, 5] and back
            self.act = nn.SequentialCell(nn.Sigmoid(), nn.ReLU(), nn.Flatten(), nn.LogSoftmax())

        def construct(self, x):
            a = self.same(x)
            b = self.valid(a)
            c = self.pad(b)
            p = self.pool(c)
            return a, b, c, self.avg(p), self.dense(p), self.act(p)

    g = dsl.trace(Conv(), {"x": ("float32", (1, 1, 28, 28))})
    shapes = [g.type(o).shape for o in g.outputs]
    assert shapes == [(1, 4, 14, 14), (1, 4, 10, 10), (1, 2, 10, 10), (1, 2, 5, 5), (1, 2, 5, 7), (1, 50)]
    assert g.type("valid.weight").shape == (4, 2, 5, 5) and "same.bias" not in g.values


def test_dense_on_rank3_input():
    class D(dsl.Cell):
        def __init__(self):
            super().__init__()
            self.fc = nn.Dense(4, 2)

        def construct(self, x):
            return self.fc(x)

    g = dsl.trace(D(), {"x": ("float32", (2, 3, 4))})
    assert [n.op for n in g.nodes] == ["Reshape", "Gemm", "Reshape"] and g.type("output").shape == (2, 3, 2)
