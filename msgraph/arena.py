"""Places buffers with known lifetimes in one arena (best-fit among those overlapping in time).

Knows nothing of graphs: a buffer is (size, first step, last step)."""
from __future__ import annotations

from dataclasses import dataclass

ALIGN = 64


def align_up(n: int, a: int = ALIGN) -> int:
    return (n + a - 1) // a * a


@dataclass(frozen=True)
class Interval:
    size: int
    first: int
    last: int

    def overlaps(self, other: Interval) -> bool:
        return self.first <= other.last and other.first <= self.last


def place(buffers: list[Interval], align: int = ALIGN) -> tuple[list[int], int]:
    """Offsets (aligned) for every buffer and the arena size; buffers alive at once never overlap."""
    offsets = [0] * len(buffers)
    placed: list[int] = []
    order = sorted(range(len(buffers)), key=lambda i: (-buffers[i].size, buffers[i].first, i))
    high = 0
    for i in order:
        need = align_up(buffers[i].size, align)
        busy = sorted((offsets[j], offsets[j] + align_up(buffers[j].size, align))
                      for j in placed if buffers[j].overlaps(buffers[i]))
        best, best_gap, cursor = None, None, 0
        for start, end in busy:
            gap = start - cursor
            if gap >= need and (best_gap is None or gap < best_gap):
                best, best_gap = cursor, gap
            cursor = max(cursor, end)
        offsets[i] = cursor if best is None else best
        placed.append(i)
        high = max(high, offsets[i] + need)
    return offsets, high


def lower_bound(buffers: list[Interval]) -> int:
    """The largest sum of sizes alive at one step: no placement can use less."""
    events = sorted({b.first for b in buffers})
    return max((sum(b.size for b in buffers if b.first <= t <= b.last) for t in events), default=0)


def overlapping_pairs(buffers: list[Interval], offsets: list[int]) -> list[tuple[int, int]]:
    """Pairs of buffers alive at the same step whose byte ranges overlap (empty for a valid placement)."""
    bad = []
    for i, a in enumerate(buffers):
        for j in range(i + 1, len(buffers)):
            b = buffers[j]
            if a.size and b.size and a.overlaps(b):
                if offsets[i] < offsets[j] + b.size and offsets[j] < offsets[i] + a.size:
                    bad.append((i, j))
    return bad
