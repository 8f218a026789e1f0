"""EventSequencer: exactly-once, in-order release of session events.

Events reach a client two ways: live over the realtime channel (may be lost while the socket
is down, may be duplicated by a replay) and on demand through ``session_events_since``. The
sequencer turns that into exactly-once, in-order delivery. It is pure (no I/O, no asyncio).

Inside the SDK it is the release step of :class:`~seer_client._delivery.DeliveryCore`, which
only ever offers it the next seq (live events ahead of it are claims the log decides, and a
hole the log itself has, in an ended session's compacted log, is crossed with ``reset``), so
its out-of-order buffer is for callers that assemble events themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar


class Sequenced(Protocol):
    """What the sequencer needs of an event: its per-session ``seq`` (every session event has
    one). A protocol rather than the event classes, so this module imports nothing of them."""

    @property
    def seq(self) -> int: ...


E = TypeVar("E", bound=Sequenced)

__all__ = ["EventSequencer", "Sequenced"]


class EventSequencer(Generic[E]):
    """Exactly-once, in-order release of events that arrive out of order or more than once.

    ``push(event)`` returns the events that became deliverable (possibly none, possibly many).
    Events with ``seq <= last_seq`` are duplicates and are dropped; events beyond the next
    expected ``seq`` wait in a buffer until the hole is filled (by a catch-up fetch).
    The sequencer never invents or skips events: ``reset`` is the only way to move past a hole.
    """

    def __init__(self, last_seq: int = 0) -> None:
        self.last_seq: int = last_seq
        self._buffer: dict[int, E] = {}
        self.delivered: int = 0
        self.duplicates: int = 0
        self.gaps_detected: int = 0

    @property
    def expected_seq(self) -> int:
        """The next seq that can be released."""
        return self.last_seq + 1

    @property
    def buffered(self) -> int:
        """How many events wait behind a hole."""
        return len(self._buffer)

    @property
    def has_gap(self) -> bool:
        """True when events are waiting behind a missing ``seq``."""
        return bool(self._buffer)

    def is_buffered(self, seq: int) -> bool:
        """True when the event ``seq`` is waiting behind a hole."""
        return seq in self._buffer

    def missing(self) -> list[int]:
        """The seqs known to be missing (between ``last_seq`` and the highest buffered)."""
        if not self._buffer:
            return []
        top = max(self._buffer)
        return [s for s in range(self.expected_seq, top) if s not in self._buffer]

    def push(self, event: E) -> list[E]:
        """Offer one event; returns the events that became deliverable, in order."""
        seq = event.seq
        if seq <= self.last_seq or seq in self._buffer:
            self.duplicates += 1
            return []
        if seq != self.expected_seq:
            if not self._buffer:
                self.gaps_detected += 1
            self._buffer[seq] = event
            return []
        self.last_seq = seq
        return self._release([event])

    def push_many(self, events: Sequence[E]) -> list[E]:
        """Offer several events (any order); returns what became deliverable, in order."""
        released: list[E] = []
        for event in sorted(events, key=lambda e: e.seq):
            released.extend(self.push(event))
        return released

    def reset(self, last_seq: int) -> list[E]:
        """Jump to ``last_seq`` (dropping older buffered events) and release what follows."""
        self.last_seq = last_seq
        for seq in [s for s in self._buffer if s <= last_seq]:
            del self._buffer[seq]
        return self._release([])

    def _release(self, released: list[E]) -> list[E]:
        """Append the buffered events that now follow ``last_seq`` in order, count them all."""
        while self.expected_seq in self._buffer:
            nxt = self._buffer.pop(self.expected_seq)
            released.append(nxt)
            self.last_seq = nxt.seq
        self.delivered += len(released)
        return released
