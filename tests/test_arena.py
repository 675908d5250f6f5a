"""The arena placer: no two buffers alive at once overlap, offsets are aligned, never below the bound."""
from hypothesis import given, settings
from hypothesis import strategies as st

from msgraph.arena import ALIGN, Interval, lower_bound, overlapping_pairs, place

intervals = st.lists(
    st.tuples(st.integers(1, 5000), st.integers(0, 30), st.integers(0, 10)).map(
        lambda t: Interval(t[0], t[1], t[1] + t[2])),
    max_size=40)


@settings(max_examples=300, deadline=None)
@given(intervals)
def test_placement_is_valid(bufs):
    offsets, total = place(bufs)
    assert overlapping_pairs(bufs, offsets) == []
    assert all(o % ALIGN == 0 for o in offsets)
    assert all(o + b.size <= total for o, b in zip(offsets, bufs))
    assert total >= lower_bound(bufs)


def test_disjoint_lifetimes_share_memory():
    bufs = [Interval(1000, 0, 1), Interval(1000, 2, 3), Interval(1000, 4, 5)]
    offsets, total = place(bufs)
    assert offsets == [0, 0, 0] and total == 1024


def test_best_fit_picks_the_smallest_gap():
    # a 4096 gap and a 1024 gap are both free at step 5: a 1000-byte buffer goes to the 1024 one
    bufs = [Interval(4096, 0, 4), Interval(4096, 0, 9), Interval(1024, 0, 4), Interval(1024, 0, 9),
            Interval(1000, 5, 6)]
    offsets, _ = place(bufs)
    assert overlapping_pairs(bufs, offsets) == []
    assert offsets[4] == offsets[2]


def test_lower_bound_is_the_peak_live_sum():
    assert lower_bound([Interval(10, 0, 2), Interval(20, 1, 3), Interval(5, 3, 4)]) == 30
    assert lower_bound([]) == 0
