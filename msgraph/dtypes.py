"""Element types: one table mapping ONNX codes, numpy dtypes and the kernels' dtype prefixes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import TensorProto

from .errors import GraphError, UnsupportedTypeError


@dataclass(frozen=True)
class DType:
    name: str  # kernel prefix: mg_<name>_<op>
    onnx: int  # TensorProto.DataType
    np: np.dtype
    aliases: tuple[str, ...] = ()

    @property
    def itemsize(self) -> int:
        return self.np.itemsize

    @property
    def is_float(self) -> bool:
        return self.np.kind == "f"

    def __repr__(self) -> str:
        return self.name


F32 = DType("f32", TensorProto.FLOAT, np.dtype(np.float32), ("float32", "float", "fp32"))
F64 = DType("f64", TensorProto.DOUBLE, np.dtype(np.float64), ("float64", "double", "fp64"))
I8 = DType("i8", TensorProto.INT8, np.dtype(np.int8), ("int8",))
U8 = DType("u8", TensorProto.UINT8, np.dtype(np.uint8), ("uint8",))
I16 = DType("i16", TensorProto.INT16, np.dtype(np.int16), ("int16",))
U16 = DType("u16", TensorProto.UINT16, np.dtype(np.uint16), ("uint16",))
I32 = DType("i32", TensorProto.INT32, np.dtype(np.int32), ("int32",))
U32 = DType("u32", TensorProto.UINT32, np.dtype(np.uint32), ("uint32",))
I64 = DType("i64", TensorProto.INT64, np.dtype(np.int64), ("int64",))
U64 = DType("u64", TensorProto.UINT64, np.dtype(np.uint64), ("uint64",))
BOOL = DType("bool", TensorProto.BOOL, np.dtype(np.bool_), ("bool",))
F16 = DType("f16", TensorProto.FLOAT16, np.dtype(np.float16), ("float16", "half", "fp16"))

ALL = (F32, F64, I8, U8, I16, U16, I32, U32, I64, U64, BOOL, F16)
NUMERIC = (F32, F64, I8, U8, I16, I32, I64)  # the dtypes most kernels are instantiated for
INTEGER = (I8, U8, I16, I32, I64)

_BY_ONNX = {d.onnx: d for d in ALL}
_BY_NP = {d.np: d for d in ALL}
_BY_NAME = {key: d for d in ALL for key in (d.name, *d.aliases)}


def from_onnx(code: int) -> DType:
    try:
        return _BY_ONNX[code]
    except KeyError:
        name = TensorProto.DataType.Name(code) if code in TensorProto.DataType.values() else str(code)
        raise UnsupportedTypeError(f"element type {name} is not supported; supported: "
                                   f"{', '.join(d.name for d in ALL)}") from None


def from_numpy(dtype) -> DType:
    dt = np.dtype(dtype)
    try:
        return _BY_NP[dt]
    except KeyError:
        raise UnsupportedTypeError(f"numpy dtype {dt} is not supported; supported: "
                                   f"{', '.join(str(d.np) for d in ALL)}") from None


def parse(name: str | DType | np.dtype | type) -> DType:
    """Accepts a DType, a numpy dtype, or a name such as 'f32', 'float32', 'FP32', 'INT8'."""
    if isinstance(name, DType):
        return name
    if isinstance(name, str):
        d = _BY_NAME.get(name.lower())
        if d is None:
            raise GraphError(f"unknown dtype '{name}'; known: {', '.join(sorted(_BY_NAME))}")
        return d
    return from_numpy(name)
