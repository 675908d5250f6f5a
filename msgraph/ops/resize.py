"""Resize (opset 10+) and the deprecated Upsample (7-9): nearest over any axes (every dtype), bilinear over at
most two adjacent axes (f32, f64). Sizes and scales follow onnx's reference; cubic and antialiased
downsampling are not supported."""
from __future__ import annotations

import numpy as np

from .. import dtypes as dt
from ..errors import ShapeError
from ..ir import TensorType
from . import Lowering, register
from ._layout import f64_bits, need_const, sized, unsupported, value_bits

COORD = {"half_pixel": 0, "asymmetric": 1, "align_corners": 2, "pytorch_half_pixel": 3, "tf_half_pixel_for_nn": 4,
         "tf_crop_and_resize": 5, "half_pixel_symmetric": 6}
NEAREST = {"round_prefer_floor": 0, "round_prefer_ceil": 1, "floor": 2, "ceil": 3, "simple": 4}


def _resize_attrs(a: dict, opset: int) -> dict:
    out = {"mode": a.get("mode", "nearest"), "extrapolation_value": float(a.get("extrapolation_value", 0.0)),
           "antialias": int(a.get("antialias", 0)), "keep_aspect_ratio_policy": a.get("keep_aspect_ratio_policy", "stretch"),
           "exclude_outside": int(a.get("exclude_outside", 0))}
    if "axes" in a:
        out["axes"] = [int(v) for v in a["axes"]]
    if opset < 11:  # inputs (X, scales); asymmetric coordinates, nearest pixel as onnxruntime's "simple"
        out.update(scales_at=1, coordinate_transformation_mode="asymmetric", nearest_mode="simple")
    else:
        out.update(scales_at=2, coordinate_transformation_mode=a.get("coordinate_transformation_mode", "half_pixel"),
                   nearest_mode=a.get("nearest_mode", "round_prefer_floor"))
    return out


def _upsample_attrs(a: dict, opset: int) -> dict:
    out = {"mode": a.get("mode", "nearest"), "scales_at": 1, "coordinate_transformation_mode": "asymmetric",
           "nearest_mode": "simple", "extrapolation_value": 0.0, "antialias": 0, "keep_aspect_ratio_policy": "stretch",
           "exclude_outside": 0}
    if "scales" in a:  # opset 7: an attribute
        out["scale_values"] = [float(v) for v in a["scales"]]
    return out


def _const(node, consts, k: int) -> np.ndarray | None:
    if k < len(node.inputs) and node.inputs[k]:
        a = np.asarray(need_const(node, consts, k)).reshape(-1)
        return a if a.size else None
    return None


def _plan(node, x: TensorType, consts):
    """Per axis (out, scale, roi start, roi end), as the reference computes them."""
    r = x.rank
    axes = [a % r for a in node.attr("axes", list(range(r)))]
    scales = node.attr("scale_values")
    scales = np.asarray(scales, np.float32) if scales is not None else _const(node, consts, node.attr("scales_at", 2))
    sizes = _const(node, consts, 3) if node.attr("scales_at", 2) == 2 else None
    roi = _const(node, consts, 1) if node.attr("scales_at", 2) == 2 else None
    starts, ends = [0.0] * r, [1.0] * r
    if roi is not None and node.attr("coordinate_transformation_mode") == "tf_crop_and_resize":
        if roi.size != 2 * len(axes):
            raise ShapeError(f"{node}: roi has {roi.size} values for {len(axes)} axes")
        for k, a in enumerate(axes):
            starts[a], ends[a] = float(roi[k]), float(roi[k + len(axes)])
    if (scales is None) == (sizes is None):
        raise ShapeError(f"{node}: needs exactly one of scales and sizes")
    if scales is not None:
        if len(scales) != len(axes) or min(scales) <= 0:
            raise ShapeError(f"{node}: scales {list(scales)} must be {len(axes)} values > 0")
        sc = [1.0] * r
        for k, a in enumerate(axes):
            sc[a] = float(scales[k])
        out = [int(np.float64(s) * d) for s, d in zip(sc, x.shape)]
    else:
        if len(sizes) != len(axes) or min(sizes) < 0:
            raise ShapeError(f"{node}: sizes {list(sizes)} must be {len(axes)} values >= 0")
        out = list(x.shape)
        for k, a in enumerate(axes):
            out[a] = int(sizes[k])
        sc = [o / d if d else 1.0 for o, d in zip(out, x.shape)]
        policy = node.attr("keep_aspect_ratio_policy", "stretch")
        if policy in ("not_larger", "not_smaller"):
            s = (min if policy == "not_larger" else max)(sc[a] for a in axes)
            sc = [s if i in axes else 1.0 for i in range(r)]
            out = [int(s * d + 0.5) if i in axes else d for i, d in enumerate(x.shape)]
        elif policy != "stretch":
            raise ShapeError(f"{node}: keep_aspect_ratio_policy {policy!r}")
    return [(o, s, a, b) for o, s, a, b in zip(out, sc, starts, ends)]


def _check(node, x: TensorType, consts):
    mode = node.attr("mode")
    if mode not in ("nearest", "linear", "bilinear", "cubic"):
        raise ShapeError(f"{node}: mode {mode!r}")
    if node.attr("coordinate_transformation_mode") not in COORD or node.attr("nearest_mode") not in NEAREST:
        raise ShapeError(f"{node}: coordinate_transformation_mode {node.attr('coordinate_transformation_mode')!r} "
                         f"or nearest_mode {node.attr('nearest_mode')!r}")
    if mode == "cubic":
        raise unsupported(node, "Resize mode 'cubic'")
    plan = _plan(node, x, consts)
    if mode != "nearest":
        if x.dtype not in (dt.F32, dt.F64):
            raise unsupported(node, f"linear Resize of {x.dtype.name} (f32, f64 only)")
        moving = [k for k, (o, s, a, b) in enumerate(plan) if not _identity(x.shape[k], o, s, a, b)]
        if any(not _identity(*d) for d in _merged(x, plan)[:-2]):
            raise unsupported(node, f"linear Resize over axes {moving} (at most two axes, adjacent but for "
                                    "unit dims, followed by no unresized axis unless only one axis is resized)")
        if node.attr("antialias", 0) and any(plan[k][1] < 1 for k in moving):
            raise unsupported(node, "antialiased linear downsampling")
    if min((d for d in x.shape), default=1) == 0 and any(o for o, *_ in plan):
        raise ShapeError(f"{node}: cannot resize an empty input {x}")
    return plan


def _identity(n_in: int, out: int, scale: float, r0: float, r1: float) -> bool:
    return n_in == out and scale == 1.0 and r0 == 0.0 and r1 == 1.0


def _merged(x: TensorType, plan) -> list[tuple]:
    """(in, out, scale, roi start, roi end) per axis, unit axes dropped and runs of unresized axes merged."""
    dims: list[tuple] = []
    for n_in, (o, s, a, b) in zip(x.shape, plan):
        if n_in == 1 and o == 1:
            continue
        if _identity(n_in, o, s, a, b) and dims and _identity(*dims[-1]):
            dims[-1] = (dims[-1][0] * n_in, dims[-1][1] * o, 1.0, 0.0, 1.0)
        else:
            dims.append((n_in, o, s, a, b))
    return dims or [(1, 1, 1.0, 0.0, 1.0)]


def _infer(node, types, consts):
    x = types[0]
    return [TensorType(x.dtype, tuple(o for o, *_ in _check(node, x, consts)))]


def _axis_ints(n_in: int, o: int, s: float, a: float, b: float) -> list[int]:
    return [n_in, o, *f64_bits(s), *f64_bits(a), *f64_bits(b)]


def _lower(ctx: Lowering) -> None:
    x, y = ctx.in_types[0], ctx.out_types[0]
    node = ctx.node
    plan = _check(node, x, ctx.consts)
    if y.size == 0:
        return
    dims = _merged(x, plan)
    cmode = COORD[node.attr("coordinate_transformation_mode")]
    ext = node.attr("extrapolation_value", 0.0)
    if node.attr("mode") == "nearest":
        if len(dims) > 6:
            raise unsupported(node, f"Resize over {len(dims)} separate axes (at most 6)")
        scratch = ctx.new_scratch(4 * sum(d[1] for d in dims))
        ints = [len(dims), cmode, NEAREST[node.attr("nearest_mode")], *value_bits(ext, x.dtype)]
        for d in dims:
            ints += _axis_ints(*d)
        ints += [0] * (8 * (6 - len(dims)))
        ctx.emit(sized(x.dtype, "resize_nearest"), [ctx.input(0), scratch, ctx.output(0)], ints)
        return
    while len(dims) < 3:
        dims.insert(0, (1, 1, 1.0, 0.0, 1.0))
    batch = int(np.prod([d[0] for d in dims[:-2]]))
    (h, oh, *hr), (w, ow, *wr) = dims[-2:]
    scratch = ctx.new_scratch(16 * (oh + ow))
    ctx.emit(f"{x.dtype.name}_resize_linear", [ctx.input(0), scratch, ctx.output(0)],
             [batch, h, w, oh, ow, cmode, int(np.array(ext, np.float32).view(np.int32)),
              *(v for f in hr for v in f64_bits(f)), *(v for f in wr for v in f64_bits(f))])


register("Resize", inputs=(1, 4), dtypes=dt.ALL, onnx_attrs=_resize_attrs, const_inputs=(1, 2, 3), min_opset=10,
         lower=_lower)(_infer)
register("Upsample", inputs=(1, 2), dtypes=dt.ALL, onnx_attrs=_upsample_attrs, const_inputs=(1,), min_opset=7,
         lower=_lower)(_infer)
