"""MindSpore-style building-block Cells for the DSL (Dense, Conv2d, pools, activations, SequentialCell).

Weights come from a numpy Generator (or an int seed; default seed 0), so a model is deterministic:
He-normal weights (std sqrt(2 / fan_in)) and uniform biases in +-1/sqrt(fan_in) keep activations O(1).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from . import dsl
from .dsl import Cell, Parameter, Tensor
from .errors import GraphError, ShapeError

Rng = np.random.Generator | int | None


def _rng(rng: Rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(0 if rng is None else rng)


def _init(g: np.random.Generator, shape: tuple[int, ...], fan_in: int,
          dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    w = g.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    bound = 1.0 / np.sqrt(fan_in)
    b = g.uniform(-bound, bound, shape[0])
    return w.astype(dtype), b.astype(dtype)


class ReLU(Cell):
    def construct(self, x: Tensor) -> Tensor:
        return dsl.relu(x)


class Sigmoid(Cell):
    def construct(self, x: Tensor) -> Tensor:
        return dsl.sigmoid(x)


class Tanh(Cell):
    def construct(self, x: Tensor) -> Tensor:
        return dsl.tanh(x)


class Softmax(Cell):
    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def construct(self, x: Tensor) -> Tensor:
        return dsl.softmax(x, self.axis)


class LogSoftmax(Softmax):
    def construct(self, x: Tensor) -> Tensor:
        return dsl.log_softmax(x, self.axis)


class Flatten(Cell):
    """[N, ...] -> [N, prod(...)]."""

    def construct(self, x: Tensor) -> Tensor:
        return dsl.flatten(x, 1)


_ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax}


def _activation(act: str | Cell | None) -> Cell | None:
    if act is None or isinstance(act, Cell):
        return act
    try:
        return _ACTIVATIONS[act.lower()]()
    except KeyError:
        raise GraphError(f"unknown activation {act!r}; known: {', '.join(_ACTIVATIONS)}") from None


class Dense(Cell):
    """y = activation(x @ weight.T + bias), weight [out, in] (MindSpore's layout), lowered to Gemm transB=1.
    Inputs of rank != 2 are reshaped to [-1, in] and back (their leading dims must be static)."""

    def __init__(self, in_channels: int, out_channels: int, activation: str | Cell | None = None,
                 has_bias: bool = True, dtype: Any = np.float32, rng: Rng = None):
        super().__init__()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        w, b = _init(_rng(rng), (self.out_channels, self.in_channels), self.in_channels, dtype)
        self.weight = Parameter(w)
        self.bias = Parameter(b) if has_bias else None
        self.activation = _activation(activation)

    def construct(self, x: Tensor) -> Tensor:
        lead = x.shape[:-1]
        if x.ndim != 2:
            if not all(isinstance(d, int) for d in lead):
                raise ShapeError(f"Dense: input {x.type} of rank {x.ndim} needs static leading dims")
            x = dsl.reshape(x, (-1, self.in_channels))
        y = dsl.gemm(x, self.weight, self.bias, trans_b=True)
        if len(lead) != 1:
            y = dsl.reshape(y, (*lead, self.out_channels))
        return self.activation(y) if self.activation is not None else y


class Conv2d(Cell):
    """MindSpore's Conv2d: NCHW, weight [out, in/group, kh, kw]; pad_mode "same" (default), "valid" or
    "pad" (then `padding` is an int or (top, bottom, left, right))."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int], stride: int = 1,
                 pad_mode: str = "same", padding: int | Sequence[int] = 0, dilation: int = 1, group: int = 1,
                 has_bias: bool = False, dtype: Any = np.float32, rng: Rng = None):
        super().__init__()
        if pad_mode not in ("same", "valid", "pad"):
            raise GraphError(f"Conv2d: pad_mode must be 'same', 'valid' or 'pad', got {pad_mode!r}")
        if pad_mode != "pad" and np.any(np.asarray(padding) != 0):
            raise GraphError(f"Conv2d: padding {padding} needs pad_mode='pad', got {pad_mode!r}")
        if in_channels % group or out_channels % group:
            raise GraphError(f"Conv2d: channels {in_channels} -> {out_channels} not divisible by {group=}")
        k = dsl._pair(kernel_size, "kernel_size")
        fan_in = in_channels // group * k[0] * k[1]
        w, b = _init(_rng(rng), (out_channels, in_channels // group, *k), fan_in, dtype)
        self.weight = Parameter(w)
        self.bias = Parameter(b) if has_bias else None
        self.stride, self.dilation, self.group = stride, dilation, group
        self.padding = padding if pad_mode == "pad" else pad_mode

    def construct(self, x: Tensor) -> Tensor:
        return dsl.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.group)


class _Pool2d(Cell):
    def __init__(self, kernel_size: int | Sequence[int] = 1, stride: int | Sequence[int] = 1,
                 pad_mode: str = "valid"):
        super().__init__()
        if pad_mode.lower() not in ("valid", "same"):
            raise GraphError(f"{type(self).__name__}: pad_mode must be 'valid' or 'same', got {pad_mode!r}")
        self.kernel_size, self.stride, self.pad_mode = kernel_size, stride, pad_mode.lower()


class MaxPool2d(_Pool2d):
    """MindSpore's MaxPool2d(kernel_size=1, stride=1, pad_mode="valid")."""

    def construct(self, x: Tensor) -> Tensor:
        return dsl.max_pool2d(x, self.kernel_size, self.stride, self.pad_mode)


class AvgPool2d(_Pool2d):
    """MindSpore's AvgPool2d(kernel_size=1, stride=1, pad_mode="valid"); padding is not counted."""

    def construct(self, x: Tensor) -> Tensor:
        return dsl.avg_pool2d(x, self.kernel_size, self.stride, self.pad_mode)


class SequentialCell(Cell):
    """Applies its cells in order; they are named "0", "1", ... (so parameters are "0.weight", ...)."""

    def __init__(self, *cells: Cell | Iterable[Cell]):
        super().__init__()
        if len(cells) == 1 and not isinstance(cells[0], Cell):
            cells = tuple(cells[0])
        for i, c in enumerate(cells):
            if not isinstance(c, Cell):
                raise GraphError(f"SequentialCell: item {i} is a {type(c).__name__}, not a Cell")
            setattr(self, str(i), c)

    def __len__(self) -> int:
        return len(self._cells)

    def __getitem__(self, i: int) -> Cell:
        return list(self._cells.values())[i]

    def construct(self, x: Any) -> Any:
        for c in self._cells.values():
            x = c(x)
        return x


__all__ = [
    "AvgPool2d",
    "Conv2d",
    "Dense",
    "Flatten",
    "LogSoftmax",
    "MaxPool2d",
    "ReLU",
    "SequentialCell",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
