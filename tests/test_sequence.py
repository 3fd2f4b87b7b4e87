"""Sequence accounting: wrap-around, duplicates, out-of-order, loss."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from p424.sequence import MODULO, SequenceTracker, unwrap


def test_unwrap_picks_the_nearest_epoch() -> None:
    assert unwrap(5, 2**32 - 3) == 2**32 + 5
    assert unwrap(2**32 - 2, 2**32 + 3) == 2**32 - 2
    assert unwrap(100, 90) == 100


def test_counts_duplicates_out_of_order_and_loss() -> None:
    t = SequenceTracker()
    kinds = [t.observe(s)[1] for s in [0, 1, 2, 5, 4, 4, 1, 9]]
    assert kinds == ["new", "new", "new", "new", "out_of_order", "duplicate", "duplicate", "new"]
    s = t.stats
    assert (s.received, s.duplicated, s.out_of_order) == (6, 2, 1)
    assert s.lost == 4  # 3, 6, 7, 8


def test_wraps_past_2_to_the_32() -> None:
    t = SequenceTracker()
    for seq in range(MODULO - 3, MODULO + 3):
        t.observe(seq % MODULO)
    assert t.stats.received == 6 and t.stats.lost == 0 and t.stats.highest == MODULO + 2


def test_frames_older_than_the_window_are_counted_apart() -> None:
    t = SequenceTracker(window=8)
    for seq in range(20):
        t.observe(seq)
    assert t.observe(3)[1] == "too_old"
    assert t.stats.too_old == 1 and t.stats.lost == 0


@given(
    st.permutations(list(range(200))),
    st.sets(st.integers(0, 199), max_size=40),
    st.lists(st.integers(0, 199), max_size=30),
)
def test_any_arrival_order_accounts_for_every_frame(order: list[int], dropped: set[int], repeats: list[int]) -> None:
    t = SequenceTracker()
    arrivals = [s for s in order if s not in dropped] + [r for r in repeats if r not in dropped]
    for s in arrivals:
        t.observe(s)
    delivered = set(range(200)) - dropped
    stats = t.stats
    assert stats.received == len(delivered)
    assert stats.duplicated == len(arrivals) - len(delivered)
    span = max(delivered) - min(delivered) + 1 if delivered else 0
    assert stats.lost == span - len(delivered)
