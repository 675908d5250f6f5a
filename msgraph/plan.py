"""The Plan: pure, serialisable data that any WebAssembly host can run (steps with arena offsets, the
constants blob, I/O bindings), and the planner that builds it from a static graph.

Memory: the constants at offset 0, the persistent buffers (filled once by the init steps, e.g. packed conv
weights) after them, then the arena of activations that the planner reuses. Constants that only init steps
read (the raw weights of those packed convs) are not resident: the host writes them into the arena, which
is free until the first run, stage by stage just before the init steps that read them (`Plan.stages`).
Offsets are bytes from the base; the host adds the base when it encodes the programs."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from . import ops
from .arena import ALIGN, Interval, align_up, lower_bound, place
from .errors import GraphError, PlanError
from .ir import Graph, LazyConst
from .ops._split import split_steps
from .schedule import needed_nodes, topological_order

FORMAT = 1


def _drain(items: list):
    """Yields the items of `items` first to last, dropping each from the list (which ends empty)."""
    items.reverse()
    while items:
        yield items.pop()


class Weights:
    """The constants region as its pieces (byte offset, array): `len()` is its size, `bytes()` joins it
    (to serialise), and a host writes it piece by piece straight into its memory (`weights_writer`), so
    loading a model never makes a joined copy of the weights."""

    def __init__(self, pieces: list[tuple[int, np.ndarray]], nbytes: int) -> None:
        self._pieces, self._nbytes = pieces, nbytes
        self._released = False

    def __len__(self) -> int:
        return self._nbytes

    def write_into(self, dst: np.ndarray, lo: int = 0, hi: int | None = None) -> None:
        """Copies the bytes [lo, hi) of the region (default: all of it) into the uint8 array `dst` (padding
        zeroed); the pieces stay."""
        self._check()
        hi = self._nbytes if hi is None else hi
        _write_pieces([p for p in self._pieces if lo <= p[0] < hi], dst, lo, hi)

    def release(self):
        """For a host that owns the plan: a writer like `write_into` for ranges in increasing order, which
        lets each piece go as soon as it is written (the weights are never held twice for long). This
        object cannot be written again."""
        self._check()
        self._released = True
        pieces, self._pieces = self._pieces, []
        pieces.reverse()  # the next piece at the end

        def write(dst: np.ndarray, lo: int = 0, hi: int | None = None) -> None:
            hi = self._nbytes if hi is None else hi
            taken = []
            while pieces and pieces[-1][0] < hi:
                if pieces[-1][0] < lo:
                    raise PlanError("released weights must be written in increasing order, each piece once")
                taken.append(pieces.pop())
            _write_pieces(_drain(taken), dst, lo, hi)

        return write

    def _check(self) -> None:
        if self._released:
            raise PlanError("these weights were released into an executor's memory; plan the graph again")

    def __bytes__(self) -> bytes:
        out = np.empty(self._nbytes, dtype=np.uint8)
        self.write_into(out)
        return out.tobytes()

    def __getitem__(self, key):
        return bytes(self)[key]

    def __eq__(self, other) -> bool:
        return bytes(self) == bytes(other)

    __hash__ = None


def _write_pieces(pieces, dst: np.ndarray, lo: int, hi: int) -> None:
    """Writes (offset, array) pieces in increasing order, all in [lo, hi), to dst (dst[0] is byte lo);
    the gaps are zeroed."""
    end = lo
    for off, array in pieces:
        dst[end - lo:off - lo] = 0
        end = off + array.nbytes
        if isinstance(array, LazyConst):
            array.fill(dst[off - lo:end - lo].view(array.dtype).reshape(array.shape))
        else:
            dst[off - lo:end - lo] = array.reshape(-1).view(np.uint8)
    dst[end - lo:hi - lo] = 0


def weights_writer(weights, release: bool = False):
    """A function (dst, lo=0, hi=None) writing bytes [lo, hi) of a plan's constants region (`Weights` or
    any bytes-like blob) into the uint8 array dst; `release`: see Weights.release."""
    if isinstance(weights, Weights):
        return weights.release() if release else weights.write_into
    blob = np.frombuffer(weights, dtype=np.uint8)

    def write(dst: np.ndarray, lo: int = 0, hi: int | None = None) -> None:
        dst[:(len(blob) if hi is None else hi) - lo] = blob[lo:hi]

    return write


@dataclass(frozen=True)
class PlanStep:
    node: str
    op: str
    kernel: str
    tensors: tuple[int | None, ...]  # byte offsets from the arena base; None = absent optional input
    ints: tuple[int, ...]


@dataclass(frozen=True)
class Binding:
    name: str
    dtype: str  # numpy name, e.g. "float32"
    shape: tuple[int, ...]
    offset: int

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class Stage:
    """Init-only constants written into the arena (free until the first run) just before the next `steps`
    init steps, which read them: copies of (name, offset in the weights blob, offset in memory, bytes)."""
    steps: int
    copies: tuple[tuple[str, int, int, int], ...]


@dataclass(frozen=True)
class Plan:
    steps: tuple[PlanStep, ...]
    inputs: tuple[Binding, ...]
    outputs: tuple[Binding, ...]
    weights: bytes | Weights = field(repr=False)  # the constants written at offset 0, then the init-only ones
    arena_offset: int  # activations start here (after the constants)
    arena_bytes: int  # activations, graph inputs and outputs, scratch
    naive_bytes: int  # the same without any reuse: every value and scratch in a buffer of its own
    lower_bound_bytes: int  # the largest sum of buffer sizes live at one step (aliases/in-place counted once)
    init_steps: tuple[PlanStep, ...] = ()  # run once at load, after the weights are written, before any run
    persistent_bytes: int = 0  # buffers live for the whole session, between the constants and the arena
    values: dict = field(default_factory=dict, repr=False)  # every placed value -> Binding (for reports)
    init_only_bytes: int = 0  # the weights blob's last bytes: constants only init steps read, never resident
    stages: tuple[Stage, ...] = ()  # where and when the init-only constants are written (all init steps)
    staging_bytes: int = 0  # the arena bytes they use during the init steps

    @property
    def resident_bytes(self) -> int:
        """The size of the constants region at offset 0 (the weights blob less its init-only part)."""
        return len(self.weights) - self.init_only_bytes

    @property
    def total_bytes(self) -> int:
        return self.arena_offset + max(self.arena_bytes, self.staging_bytes)

    def report(self) -> dict:
        return {"n_steps": len(self.steps), "n_init_steps": len(self.init_steps),
                "weights_bytes": self.resident_bytes, "init_only_bytes": self.init_only_bytes,
                "persistent_bytes": self.persistent_bytes, "arena_bytes": self.arena_bytes,
                "naive_bytes": self.naive_bytes, "lower_bound_bytes": self.lower_bound_bytes,
                "arena_vs_lower_bound": round(self.arena_bytes / max(self.lower_bound_bytes, 1), 4),
                "total_bytes": self.total_bytes}

    def to_json(self) -> str:
        """Everything but the weights blob, which travels beside it as raw bytes."""
        bare = asdict(replace(self, weights=b"", values={}))  # asdict deep-copies: leave the weights out
        d = {"format": FORMAT, **{k: v for k, v in bare.items() if k not in ("weights", "values")}}
        d["weights_bytes"] = len(self.weights)
        return json.dumps(d)

    @staticmethod
    def from_json(text: str, weights: bytes) -> Plan:
        d = json.loads(text)
        if d.pop("format", None) != FORMAT:
            raise PlanError(f"plan format is not {FORMAT}")
        if d.pop("weights_bytes") != len(weights):
            raise PlanError("the weights blob does not match the plan")
        def steps(key: str) -> tuple[PlanStep, ...]:
            return tuple(PlanStep(**{**s, "tensors": tuple(s["tensors"]), "ints": tuple(s["ints"])})
                         for s in d.pop(key, ()))

        stages = tuple(Stage(s["steps"], tuple(tuple(c) for c in s["copies"])) for s in d.pop("stages", ()))
        return Plan(steps=steps("steps"), init_steps=steps("init_steps"), stages=stages,
                    inputs=tuple(Binding(**{**b, "shape": tuple(b["shape"])}) for b in d.pop("inputs")),
                    outputs=tuple(Binding(**{**b, "shape": tuple(b["shape"])}) for b in d.pop("outputs")),
                    weights=weights, **d)

    def encode_program(self, opcodes: dict[str, int], base: int, steps: tuple[PlanStep, ...] | None = None
                       ) -> np.ndarray:
        """The steps (default: the run steps; pass plan.init_steps for those) as i32 words: opcode,
        n_tensors, n_ints, addresses (base + offset, 0 = absent), ints."""
        words: list[int] = []
        for s in self.steps if steps is None else steps:
            if s.kernel not in opcodes:
                raise PlanError(f"node '{s.node}' ({s.op}): kernels.wasm has no kernel '{s.kernel}'")
            words += [opcodes[s.kernel], len(s.tensors), len(s.ints)]
            words += [0 if t is None else base + t for t in s.tensors]
            words += s.ints
        return np.array(words, dtype=np.int64).astype(np.int32)


class _Buffers:
    """Union-find of values that share one buffer (aliases, in-place results, inputs that an op's output
    holds), each at a byte offset from the start of its root's buffer."""

    def __init__(self) -> None:
        self.parent: dict[str, tuple[str, int]] = {}  # non-roots only: value -> (parent, byte offset in it)

    def find(self, v: str) -> str:
        while v in self.parent:
            v = self.parent[v][0]
        return v

    def offset(self, v: str) -> int:
        at = 0
        while v in self.parent:
            v, d = self.parent[v]
            at += d
        return at

    def join(self, child: str, target: str, at: int = 0) -> None:
        """Puts child's buffer where `child` starts `at` bytes after the start of `target`."""
        rc, rt = self.find(child), self.find(target)
        if rc != rt:
            self.parent[rc] = (rt, self.offset(target) + at - self.offset(child))


def _own_buffer(v: str, group: set[str], buffers: _Buffers, T: dict, fixed: set) -> bool:
    """Whether v's buffer holds v alone: no constant, every value in it at offset 0 and of v's size."""
    return not group & fixed and all(buffers.offset(m) == 0 and T[m].nbytes == T[v].nbytes for m in group)


def _place_views(order, lowered, buffers: _Buffers, members: dict[str, set[str]], T: dict, fixed: set) -> None:
    """Where an op's output 0 is just its inputs laid side by side (an op's `views`, e.g. a Concat with
    nothing but unit dims before its axis), each input is produced straight into its place in the output
    and the op's copy steps are dropped. Only inputs whose buffers are their own (no constant, no other
    value at another offset or of another size in it, not already inside another output; one buffer per
    input) move."""
    for node, ctx in zip(order, lowered):
        views = ops.REGISTRY[node.op].views
        at = views(ctx) if views else None
        out = node.outputs[0]
        if at is None or len({buffers.find(v) for v in node.inputs}) != len(node.inputs):
            continue  # an input twice, or two inputs in one buffer (an alias of the other)
        if not all(buffers.find(v) != buffers.find(out)
                   and _own_buffer(v, members[buffers.find(v)], buffers, T, fixed) for v in node.inputs):
            continue
        for v, off in zip(node.inputs, at):
            group = members.pop(buffers.find(v))
            buffers.join(v, out, off)
            members[buffers.find(out)] |= group
        ctx.steps.clear()


def _init_only(lowered, buffers: _Buffers, outputs: list[str], const_roots: set[str]) -> dict[str, int]:
    """The constant buffers that only the init steps of one node read (no run step, not an output):
    root -> that node's position."""
    readers: dict[str, set[int]] = {}
    run_read = {buffers.find(o) for o in outputs}
    for pos, ctx in enumerate(lowered):
        for steps, into in ((ctx.steps, None), (ctx.init_steps, pos)):
            for s in steps:
                for t in s.tensors:
                    if t is not None and not t[0].startswith("#"):
                        root = buffers.find(t[0])
                        if into is None:
                            run_read.add(root)
                        else:
                            readers.setdefault(root, set()).add(into)
    return {r: min(p) for r, p in readers.items() if r in const_roots and r not in run_read and len(p) == 1}


def _stage(init_only: dict[str, int], nbytes: dict[str, int], arena_bytes: int):
    """Where the init-only constants go in the arena, free until the first run: node by node, in as many
    stages as it takes to fit them in the arena (or in the largest node's constants, if larger). Returns
    the position of each stage's first node, each stage's [(root, offset from the arena start)], and the
    bytes used."""
    by_pos: dict[int, list[str]] = {}
    for root, pos in sorted(init_only.items()):
        by_pos.setdefault(pos, []).append(root)
    need = {pos: sum(align_up(nbytes[r]) for r in roots) for pos, roots in by_pos.items()}
    capacity = max([arena_bytes, *need.values()])
    starts: list[int] = []
    staged: list[list[tuple[str, int]]] = []
    used = at = 0
    for pos in sorted(by_pos):
        if not staged or at + need[pos] > capacity:
            starts.append(pos)
            staged.append([])
            at = 0
        for root in by_pos[pos]:
            staged[-1].append((root, at))
            at += align_up(nbytes[root])
        used = max(used, at)
    return starts, staged, used


def build_plan(graph: Graph, outputs: list[str] | None = None, threads: int = 1) -> Plan:
    """Schedules, lowers and places `graph`; `outputs` may name any value (default: the graph outputs).
    threads > 1 splits the big GEMM and conv steps into that many independent parts behind a u8_parallel
    step (msgraph.ops._split), for a threaded host; the results are the same bits as with threads=1."""
    outputs = list(graph.outputs if outputs is None else outputs)
    for o in outputs:
        if o not in graph.values:
            raise PlanError(f"'{o}' is not a value of the graph; values include {', '.join(graph.outputs)}")
    for name in graph.inputs:
        if not graph.values[name].type.is_static:
            raise PlanError(f"input '{name}' has symbolic dims {list(graph.values[name].type.shape)}: "
                            "bind them first (msgraph.infer.infer(graph, {name: shape}))")
    order = topological_order(graph, needed_nodes(graph, outputs))
    T = {k: v.type for k, v in graph.values.items()}
    is_const = {k for k, v in graph.values.items() if v.const is not None}
    known = {o for n in order for o in n.outputs} | set(graph.inputs) | is_const
    for node in order:
        for i in node.inputs:
            if i and i not in known:
                raise PlanError(f"{node}: input '{i}' has no value: not a graph input, a constant or a "
                                "node's output")

    # lower every node to kernel steps; remember aliases and scratch
    lowered, buffers = [], _Buffers()
    for node in order:
        d = ops.REGISTRY[node.op]
        ctx = ops.Lowering(node, [T[i] if i else None for i in node.inputs], [T[o] for o in node.outputs if o],
                           [graph.const(i) if i else None for i in node.inputs])
        if d.lower is None:
            buffers.join(node.outputs[0], node.inputs[0])
        else:
            d.lower(ctx)
            if threads > 1:
                split_steps(ctx, threads)
        lowered.append(ctx)

    # lifetimes in node positions: graph inputs from -1, requested outputs to len(order)
    end = len(order)
    first = {name: -1 for name in graph.inputs}
    last: dict[str, int] = {}
    for pos, node in enumerate(order):
        for o in node.outputs:
            if o:
                first[o] = pos
                last.setdefault(o, pos)
        for i in node.inputs:
            if i:
                first.setdefault(i, -1)  # constants
                last[i] = max(last.get(i, pos), pos)
    for o in outputs:
        last[o] = end
        first.setdefault(o, -1)
    for v, f in first.items():
        last.setdefault(v, f)  # an input no node reads still gets its own place

    fixed = is_const
    members: dict[str, set[str]] = {}
    for v in first:
        members.setdefault(buffers.find(v), set()).add(v)
    _place_views(order, lowered, buffers, members, T, fixed)

    # in-place: an elementwise output takes the buffer of a same-shape input whose buffer dies at this node
    # (never a constant's: graph inputs are written before every run, their space is reused like any other)
    for pos, (node, ctx) in enumerate(zip(order, lowered)):
        if not ops.REGISTRY[node.op].inplace:
            continue
        out = node.outputs[0]
        for i, t in zip(node.inputs, ctx.in_types):
            root = buffers.find(i)
            group = members[root]
            if (t == T[out] and not (group & fixed) and max(last[m] for m in group) == pos
                    and buffers.find(out) == out):
                buffers.join(out, i)
                group |= members.pop(out)
                break

    def const_array(root: str) -> np.ndarray | LazyConst:
        c = graph.values[sorted(members[root] & is_const)[0]].const
        return c if isinstance(c, LazyConst) else np.ascontiguousarray(c)

    # constants: each distinct constant buffer once, at the start; those only one node's init steps read
    # (raw weights that are packed or transformed at load) are staged in the arena instead (_stage)
    const_roots = {r for r, g in members.items() if g & is_const}
    init_only = {r: pos for r, pos in _init_only(lowered, buffers, outputs, const_roots).items()
                 if const_array(r).size}  # (an empty one stays resident: it takes no bytes)
    pieces: list[tuple[int, np.ndarray]] = []  # the constants' own arrays, not copied here
    n_weights = 0
    offset: dict[str, int] = {}
    for root in sorted(const_roots - set(init_only)):
        array = const_array(root)
        offset[root] = n_weights = align_up(n_weights)
        if array.size:
            pieces.append((n_weights, array))
        n_weights += array.nbytes
    resident = n_weights

    # persistent buffers: each its own place after the constants, for the whole session
    persistent_at: dict[tuple[int, int], int] = {}
    persistent_bytes = 0
    for pos, ctx in enumerate(lowered):
        for k, nbytes in enumerate(ctx.persistent):
            persistent_at[pos, k] = align_up(resident) + persistent_bytes
            persistent_bytes += align_up(nbytes)
    arena_offset = align_up(resident) + persistent_bytes

    # everything else: one interval per buffer, plus per-node scratch
    roots = [r for r in sorted(members) if r not in offset and r not in init_only]
    intervals = [Interval(max(buffers.offset(m) + T[m].nbytes for m in members[r]), min(first[m] for m in members[r]),
                          max(last[m] for m in members[r])) for r in roots]
    scratch_at = []
    for pos, ctx in enumerate(lowered):
        for nbytes in ctx.scratch:
            scratch_at.append((pos, len(intervals)))
            intervals.append(Interval(nbytes, pos, pos))
    placed, arena_bytes = place(intervals)
    for r, off in zip(roots, placed):
        offset[r] = arena_offset + off
    value_bytes = intervals[:len(roots)]

    arrays = {r: const_array(r) for r in init_only}
    stage_starts, staged, staging_bytes = _stage(init_only, {r: a.nbytes for r, a in arrays.items()},
                                                 arena_bytes)
    stages = []
    for k, (pos, group) in enumerate(zip(stage_starts, staged)):
        copies = []
        for root, at in group:
            offset[root] = arena_offset + at
            n_weights = align_up(n_weights)
            pieces.append((n_weights, arrays[root]))
            copies.append((root, n_weights, offset[root], arrays[root].nbytes))
            n_weights += arrays[root].nbytes
        end = stage_starts[k + 1] if k + 1 < len(stage_starts) else len(lowered)
        n_init = sum(len(ctx.init_steps) for ctx in lowered[0 if k == 0 else pos:end])
        stages.append(Stage(n_init, tuple(copies)))
    del arrays
    weights = Weights(pieces, n_weights)

    def where(ref, pos: int, init: bool = False) -> int | None:
        if ref is None:
            return None
        name, extra = ref
        if name == "#persistent":
            return persistent_at[pos, extra]
        if init and (name == "#scratch" or not members[buffers.find(name)] & is_const):
            node = order[pos]
            raise PlanError(f"node '{node.name}' ({node.op}): an init step may read constants and write "
                            f"persistent buffers only, not {name}")
        if name == "#scratch":
            return arena_offset + placed[[j for p, j in scratch_at if p == pos][extra]]
        return offset[buffers.find(name)] + buffers.offset(name) + extra

    steps = tuple(PlanStep(s.node, s.op, s.kernel, tuple(where(t, pos) for t in s.tensors), s.ints)
                  for pos, ctx in enumerate(lowered) for s in ctx.steps)
    init_steps = tuple(PlanStep(s.node, s.op, s.kernel, tuple(where(t, pos, True) for t in s.tensors), s.ints)
                       for pos, ctx in enumerate(lowered) for s in ctx.init_steps)

    def binding(name: str) -> Binding:
        t = T[name]
        return Binding(name, str(t.dtype.np), tuple(t.shape), offset[buffers.find(name)] + buffers.offset(name))

    values = {v: binding(v) for v in first if T[v].is_static and buffers.find(v) not in init_only}
    naive = sum(align_up(T[v].nbytes) for v in first if v not in is_const) + sum(
        align_up(i.size) for i in intervals[len(roots):])
    return Plan(steps=steps, inputs=tuple(binding(i) for i in graph.inputs), outputs=tuple(binding(o) for o in outputs),
                weights=weights, arena_offset=arena_offset, arena_bytes=arena_bytes, naive_bytes=naive,
                lower_bound_bytes=lower_bound(value_bytes), init_steps=init_steps, persistent_bytes=persistent_bytes,
                values=values, init_only_bytes=n_weights - resident, stages=tuple(stages),
                staging_bytes=staging_bytes)


__all__ = ["ALIGN", "Binding", "GraphError", "Plan", "PlanStep", "Stage", "Weights", "build_plan",
           "weights_writer"]
