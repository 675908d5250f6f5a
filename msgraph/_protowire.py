"""Reads an ONNX file's large initializers in place: a walk over the protobuf wire format finds each
initializer's raw_data bytes, and the model is parsed without them. The weights then stay in the
file's memory map (numpy arrays viewing it: no copy by protobuf, none by numpy_helper), which is most
of the time and memory of loading a big model.

Only what onnx_import needs: field numbers of ModelProto.graph (7), GraphProto.initializer (5) and
TensorProto.data_type (2) / raw_data (9), from onnx.proto."""
from __future__ import annotations

MODEL_GRAPH, GRAPH_INITIALIZER, TENSOR_DATA_TYPE, TENSOR_RAW_DATA = 7, 5, 2, 9
VARINT, I64, LEN, I32 = 0, 1, 2, 5


class WireError(ValueError):
    """Bytes that are not the protobuf this walker expects (the caller falls back to a full parse)."""


def _varint(buf, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(buf) or shift > 63:
            raise WireError("truncated varint")
        b = buf[at]
        at += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, at
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _fields(buf, start: int, end: int):
    """(field number, wire type, start of the field's tag, start of its payload, end of the field)."""
    at = start
    while at < end:
        tag_at = at
        key, at = _varint(buf, at)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, at2 = _varint(buf, at)
            yield number, wire, tag_at, at, at2, value
            at = at2
            continue
        if wire == LEN:
            n, at = _varint(buf, at)
            body, at = at, at + n
        elif wire in (I64, I32):
            body, at = at, at + (8 if wire == I64 else 4)
        else:
            raise WireError(f"unsupported wire type {wire}")
        if at > end:
            raise WireError("field runs past its message")
        yield number, wire, tag_at, body, at, None


def _message(number: int, body: bytes) -> bytes:
    return _encode_varint(number << 3 | LEN) + _encode_varint(len(body)) + body


def strip_initializers(buf, keep_types: frozenset[int], min_bytes: int) -> tuple[bytes, list[tuple[int, int] | None]]:
    """The model in `buf` (a ModelProto) without the raw_data of its initializers of a data type in
    `keep_types` holding at least `min_bytes`, and, per initializer in order, (offset, length) of the
    raw_data left out, or None."""
    out, spans = [], []
    for number, wire, tag_at, body, end, _ in _fields(buf, 0, len(buf)):
        if number != MODEL_GRAPH or wire != LEN:
            out.append(bytes(buf[tag_at:end]))
            continue
        graph = []
        for g_number, g_wire, g_tag, g_body, g_end, _ in _fields(buf, body, end):
            if g_number != GRAPH_INITIALIZER or g_wire != LEN:
                graph.append(bytes(buf[g_tag:g_end]))
                continue
            raw, dtype = None, None
            for t_number, t_wire, _, t_body, t_end, value in _fields(buf, g_body, g_end):
                if t_number == TENSOR_RAW_DATA and t_wire == LEN:
                    raw = (t_body, t_end)
                elif t_number == TENSOR_DATA_TYPE and t_wire == VARINT:
                    dtype = value
            if raw is None or dtype not in keep_types or raw[1] - raw[0] < min_bytes:
                spans.append(None)
                graph.append(bytes(buf[g_tag:g_end]))
                continue
            spans.append((raw[0], raw[1] - raw[0]))
            kept = [bytes(buf[t_tag:t_end]) for t_number, _, t_tag, _, t_end, _ in _fields(buf, g_body, g_end)
                    if t_number != TENSOR_RAW_DATA]
            graph.append(_message(GRAPH_INITIALIZER, b"".join(kept)))
        out.append(_message(MODEL_GRAPH, b"".join(graph)))
    return b"".join(out), spans
