from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from seer_client.events import EventSequencer, parse_event

from . import samples as s


def ev(seq: int):
    return parse_event(s.event(seq))


def seqs(events) -> list[int]:
    return [e.seq for e in events]


def test_in_order_delivery() -> None:
    q = EventSequencer(0)
    out = []
    for n in range(1, 6):
        out += q.push(ev(n))
    assert seqs(out) == [1, 2, 3, 4, 5]
    assert q.last_seq == 5 and not q.has_gap and q.duplicates == 0


def test_duplicates_are_dropped() -> None:
    q = EventSequencer(0)
    assert seqs(q.push(ev(1))) == [1]
    assert q.push(ev(1)) == []
    assert seqs(q.push(ev(2))) == [2]
    assert q.push(ev(1)) == [] and q.push(ev(2)) == []
    assert q.duplicates == 3


def test_gap_holds_back_later_events_until_filled() -> None:
    q = EventSequencer(0)
    assert seqs(q.push(ev(1))) == [1]
    assert q.push(ev(4)) == []
    assert q.push(ev(3)) == []
    assert q.has_gap and q.missing() == [2] and q.buffered == 2 and q.gaps_detected == 1
    assert q.push(ev(4)) == []  # a duplicate of a buffered event
    assert seqs(q.push(ev(2))) == [2, 3, 4]
    assert not q.has_gap and q.last_seq == 4 and q.duplicates == 1


def test_starts_after_a_known_seq() -> None:
    q = EventSequencer(10)
    assert q.push(ev(9)) == [] and q.push(ev(10)) == []
    assert seqs(q.push(ev(11))) == [11]


def test_reconnect_catch_up_before_buffered_live_events() -> None:
    """Live events seen after a reconnect wait until the fetched missed ones are delivered."""
    q = EventSequencer(0)
    delivered = seqs(q.push_many([ev(1), ev(2)]))
    # socket drops; 3..5 happen while down; after resubscribe live 6 and 7 arrive first
    delivered += seqs(q.push(ev(6)))
    delivered += seqs(q.push(ev(7)))
    assert delivered == [1, 2]
    # catch-up via session_events_since(after=2) returns 3..7 (6,7 again)
    delivered += seqs(q.push_many([ev(3), ev(4), ev(5), ev(6), ev(7)]))
    assert delivered == [1, 2, 3, 4, 5, 6, 7]
    assert q.duplicates == 2


def test_reset_skips_forward_explicitly() -> None:
    q = EventSequencer(0)
    q.push(ev(5))
    q.push(ev(3))
    assert seqs(q.reset(3)) == []
    assert seqs(q.reset(4)) == [5]
    assert q.last_seq == 5


@given(
    n=st.integers(min_value=1, max_value=60),
    data=st.data(),
)
def test_any_arrival_order_with_duplicates_is_delivered_once_in_order(n: int, data: st.DataObject) -> None:
    arrivals = data.draw(st.permutations(list(range(1, n + 1))))
    extra = data.draw(st.lists(st.integers(min_value=1, max_value=n), max_size=20))
    positions = data.draw(
        st.lists(st.integers(min_value=0, max_value=n), min_size=len(extra), max_size=len(extra))
    )
    stream = list(arrivals)
    for dup, pos in zip(extra, positions, strict=True):
        stream.insert(min(pos, len(stream)), dup)
    q = EventSequencer(0)
    out: list[int] = []
    for seq in stream:
        out += seqs(q.push(ev(seq)))
    assert out == list(range(1, n + 1))
    assert q.duplicates == len(stream) - n
    assert not q.has_gap
