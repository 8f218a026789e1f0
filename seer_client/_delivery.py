"""The stream's delivery policy as a pure state machine (no asyncio, no sockets, no clock).

:class:`DeliveryCore` owns everything that decides what a participant sees: the last
delivered ``seq`` (through its :class:`~seer_client._sequencer.EventSequencer`), the highest
seq anything says exists (``wanted_seq``), the live events ahead of the log (claims, checked
against it), the generation of the topic the connection joined, and the counters. Each input
is answered with a :class:`Decision`; :class:`~seer_client._connection.SessionConnection` is
only its driver (it reads the log, (re)joins, dispatches and sleeps when told to).

The inputs, and the rules (docs/security.md "The session stream", docs/sdk.md):

* ``on_broadcast``: a broadcast on the session topic.
  - not a well-formed event or poke for this session: *ignore* (counted);
  - a rekey poke ``{sessionId, seq, type: "rekey"}``: *rejoin* the current topic (a
    "rekey" with anything more is no poke and no event: *ignore*);
  - ``seq <= last_seq``: a duplicate, *ignore*; when it differs from the event delivered for
    that seq, a conflict is counted and reported (one of the two copies was forged);
  - exactly the next seq, a readable event, not a consequential type (``CONFIRM_TYPES``):
    *deliver* it live;
  - anything else (ahead of the next seq, a consequential type, unreadable): a *claim*:
    *fetch* the log; the log's event is delivered and the claim checked against it.
* ``on_heartbeat(last_seq, generation)``: a newer channel generation than the joined one
  means the rekey poke was lost: *rejoin*; a ``last_seq`` beyond ours means a broadcast was
  lost: *fetch*.
* ``begin_fetch()`` / ``on_log_page(after_seq, events, limit)``: the log is the truth. Its
  events after ``last_seq`` are delivered in seq order, gaps included (an ended session's
  compacted log has gaps on purpose); a full page asks for the next one; a claim the log,
  read after the claim arrived, does not have is *discarded* (counted, WARNING).
* ``on_joined(generation)``: subscribed to a topic: *fetch* (catch up on what happened while
  away).
* ``on_channel_close(reason)``: *rejoin*, after a full-jitter pause when Realtime closed the
  channel for a rate limit.

The core never invents or skips an event the log has: only a log page moves ``last_seq``
past a hole.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

from ._sequencer import EventSequencer
from .events import BaseEvent, UnknownEvent, parse_event

__all__ = [
    "CONFIRM_TYPES",
    "MAX_CLAIMS",
    "Decision",
    "DeliveryCore",
    "RejoinReason",
    "is_rate_limited",
]

logger: logging.Logger = logging.getLogger("seer_client.connection")

#: at most this many live claims ahead of the log are remembered (a flood cannot grow memory)
MAX_CLAIMS = 1024
#: delivered events remembered to tell a conflicting later copy apart
_RECENT = 256
#: event types that end or change the session for everyone: even at the next seq they are
#: delivered only once the log confirms them (one read each; they are rare), so a forged
#: in-order ``session_ended`` or kick cannot act before the log is consulted
CONFIRM_TYPES = frozenset({"session_ended", "session_status", "player_left", "player_inactive"})
_POKE_KEYS = frozenset({"sessionId", "seq", "type", "id"})


class RejoinReason(StrEnum):
    """Why the connection must (re)join the session topic."""

    REKEY = "rekey"  # the poke on the old topic
    STALE_TOPIC = "stale topic"  # a heartbeat reported a newer channel generation
    CLOSED = "closed"  # the server closed or errored the channel
    RATE_LIMITED = "rate limited"  # ... for a rate limit (full-jitter pause first)


def is_rate_limited(reason: str) -> bool:
    """True when a close or refusal reason says Realtime rate-limited the tenant or client.

    Realtime's texts: "Too many messages per second", "Too many presence messages per
    second", "Client presence rate limit exceeded", "ClientJoinRateLimitReached: ...",
    "ChannelRateLimitReached: Too many channels"."""
    text = reason.lower()
    return "rate limit" in text or "ratelimit" in text or "too many" in text


@dataclass(frozen=True, slots=True)
class Decision:
    """What the driver does about one input (several parts may be set at once)."""

    #: events to dispatch now, in this order
    deliver: tuple[BaseEvent, ...] = ()
    #: read the log after ``last_seq`` (begin_fetch, then on_log_page until fetch is False)
    fetch: bool = False
    #: leave the channel and join the current topic (why)
    rejoin: RejoinReason | None = None
    #: the input had no effect (malformed, foreign, duplicate)
    ignored: bool = False
    #: seqs whose live claim lost to the log (reported as a WARNING)
    discarded: tuple[int, ...] = ()
    #: delivered seqs that a later live copy contradicted (reported as a WARNING and on_error)
    conflicts: tuple[int, ...] = ()
    #: the log had nothing new for what was claimed: pause before the next claim-driven read
    idle: bool = False

    @property
    def actions(self) -> frozenset[str]:
        """The parts that are set, by name (for table tests and logs)."""
        names = {
            "deliver": bool(self.deliver),
            "fetch": self.fetch,
            "rejoin": self.rejoin is not None,
            "ignore": self.ignored,
            "discard": bool(self.discarded),
            "conflict": bool(self.conflicts),
            "idle": self.idle,
        }
        return frozenset(name for name, on in names.items() if on)


def _poke_of(data: object, session_id: str) -> tuple[int, str] | None:
    """``(seq, type)`` of a well-formed broadcast (event or rekey poke) for ``session_id``."""
    if not isinstance(data, dict):
        return None
    fields = cast(dict[str, Any], data)
    seq, kind = fields.get("seq"), fields.get("type")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or seq > 2**53:
        return None
    if not isinstance(kind, str) or not 0 < len(kind) <= 64:
        return None
    if fields.get("sessionId") != session_id:
        return None
    return seq, kind


def _event_of(data: dict[str, Any]) -> BaseEvent | None:
    """The typed event of a broadcast (unknown types kept), or None when it is no event."""
    data = {k: v for k, v in data.items() if k != "id"}  # realtime.send's message id
    try:
        return parse_event(data)
    except Exception:
        try:
            return UnknownEvent.model_validate(data)
        except Exception:
            return None


def _same(a: BaseEvent | None, b: BaseEvent) -> bool:
    return a is not None and a.model_dump() == b.model_dump()


@dataclass
class DeliveryCore:
    """Exactly-once, in-order, log-checked delivery for one session (see the module doc)."""

    session_id: str
    last_seq: int = 0
    sequencer: EventSequencer[BaseEvent] = field(init=False)
    #: highest seq a broadcast or heartbeat says exists
    wanted_seq: int = 0
    #: the channel generation of the topic joined (None before the first join)
    generation: int | None = None
    #: live events delivered straight from the broadcast
    live_delivered: int = 0
    #: events no broadcast announced (lost, or before a (re)connect), found in the log
    recovered: int = 0
    #: live claims the log contradicted or does not have
    discarded_broadcasts: int = 0
    #: broadcasts that are no well-formed event or poke for this session
    ignored_broadcasts: int = 0
    #: live events that showed a hole (seq beyond the next expected one)
    gaps_detected: int = 0
    #: delivered events a later live copy contradicted
    conflicts: int = 0
    #: holes the log itself has (compacted logs of ended sessions), delivered across
    log_gaps: int = 0
    #: consequential live events held until the log confirmed them
    confirmed: int = 0
    _claims: OrderedDict[int, BaseEvent | None] = field(default_factory=OrderedDict[int, "BaseEvent | None"])
    _recent: OrderedDict[int, BaseEvent] = field(default_factory=OrderedDict[int, BaseEvent])
    _fetch_mark: int = 0  # wanted_seq when the current read began

    def __post_init__(self) -> None:
        self.sequencer = EventSequencer(self.last_seq)

    # ------------------------------------------------------------------ state
    def reset(self, last_seq: int) -> None:
        """Start delivering after ``last_seq`` (connect, ``since_seq``)."""
        self.sequencer = EventSequencer(last_seq)
        self.last_seq = last_seq
        self.wanted_seq = max(self.wanted_seq, last_seq)
        self._claims.clear()
        self._recent.clear()

    @property
    def behind(self) -> bool:
        """True while something announced is not delivered yet (the driver keeps reading)."""
        return self.wanted_seq > self.last_seq

    @property
    def claims(self) -> int:
        """How many live claims wait for the log."""
        return len(self._claims)

    # ------------------------------------------------------------------ inputs
    def on_broadcast(self, message: dict[str, Any]) -> Decision:
        """A broadcast payload as realtime-py hands it over (``{event, payload, ...}``)."""
        data = message.get("payload")
        poke = _poke_of(data, self.session_id)
        if poke is None:
            self.ignored_broadcasts += 1
            return Decision(ignored=True)
        seq, kind = poke
        fields = cast(dict[str, Any], data)
        if kind == "rekey":
            if set(fields) <= _POKE_KEYS:
                # The key was rotated (someone was removed): the poke's seq is the last event
                # sent on this topic; the catch-up after the rejoin covers it.
                return Decision(rejoin=RejoinReason.REKEY)
            self.ignored_broadcasts += 1  # no event is called "rekey": not the database's
            return Decision(ignored=True)
        event = _event_of(fields)
        if seq <= self.last_seq:
            delivered = self._recent.get(seq)
            if event is not None and delivered is not None and not _same(delivered, event):
                self.conflicts += 1
                return Decision(ignored=True, conflicts=(seq,))
            return Decision(ignored=True)
        if event is not None and seq == self.last_seq + 1 and event.type not in CONFIRM_TYPES:
            self._claims.pop(seq, None)
            self.wanted_seq = max(self.wanted_seq, seq)
            self.live_delivered += 1
            return Decision(deliver=self._release(self.sequencer.push(event)))
        # ahead of what we have, consequential, or unreadable: a claim the log decides
        if event is not None and seq == self.last_seq + 1:
            self.confirmed += 1
        self._claims[seq] = event
        while len(self._claims) > MAX_CLAIMS:
            self._claims.popitem(last=False)
        if seq > self.last_seq + 1 and seq > self.wanted_seq + 1:
            self.gaps_detected += 1
        self.wanted_seq = max(self.wanted_seq, seq)
        return Decision(fetch=True)

    def on_heartbeat(self, last_seq: int | None, generation: int | None) -> Decision:
        """The heartbeat RPC's view: the session's last seq and its channel generation."""
        rejoin = None
        if generation is not None and self.generation is not None and generation > self.generation:
            rejoin = RejoinReason.STALE_TOPIC  # the rekey poke was lost
        fetch = False
        if last_seq is not None and last_seq > self.last_seq:
            self.wanted_seq = max(self.wanted_seq, last_seq)  # a broadcast was lost (or in flight)
            fetch = True
        return Decision(fetch=fetch, rejoin=rejoin, ignored=not (fetch or rejoin))

    def on_joined(self, generation: int | None) -> Decision:
        """Subscribed to the topic of ``generation``: catch up on what happened meanwhile."""
        if generation is not None:
            self.generation = generation if self.generation is None else max(self.generation, generation)
        return Decision(fetch=True)

    def on_channel_close(self, reason: str) -> Decision:
        """The server closed or errored the channel (or the socket died)."""
        if is_rate_limited(reason):
            return Decision(rejoin=RejoinReason.RATE_LIMITED)
        return Decision(rejoin=RejoinReason.CLOSED)

    def begin_fetch(self) -> int:
        """The driver starts a log read: returns the ``after_seq`` to read from."""
        self._fetch_mark = self.wanted_seq
        return self.last_seq

    def on_log_page(self, after_seq: int, events: Sequence[BaseEvent], limit: int) -> Decision:
        """One page of ``session_events_since(after_seq, limit)``: the truth."""
        fresh = sorted(
            (e for e in events if e.session_id == self.session_id and e.seq > self.last_seq),
            key=lambda e: e.seq,
        )
        released: list[BaseEvent] = []
        discarded: list[int] = []
        for event in fresh:
            if event.seq <= self.last_seq:
                continue  # (a page repeating a seq)
            claim_known = event.seq in self._claims
            claim = self._claims.pop(event.seq, None)
            if not claim_known:
                self.recovered += 1  # no broadcast announced it
            elif not _same(claim, event):
                discarded.append(event.seq)
            elif claim is not None and claim.type in CONFIRM_TYPES and event.seq == self.last_seq + 1:
                pass  # a consequential event, now confirmed
            if event.seq > self.last_seq + 1:
                self.log_gaps += 1  # the log has a hole (compacted): it wins
                self.sequencer.reset(event.seq - 1)
            released.extend(self.sequencer.push(event))
            self.last_seq = self.sequencer.last_seq
        self._release(released)
        # claims the log has passed over (a compacted hole, or the log moved past them)
        for seq in [seq for seq in self._claims if seq <= self.last_seq]:
            del self._claims[seq]
            discarded.append(seq)
        full = len(events) >= limit
        idle = False
        if not full and self.wanted_seq > self.last_seq:
            # The log, read after these claims arrived, ends at last_seq: claims up to the
            # mark were forged or misdirected. (Later claims may be newer than the read.)
            mark = self._fetch_mark
            bogus = [seq for seq in self._claims if self.last_seq < seq <= mark]
            for seq in bogus:
                del self._claims[seq]
            if mark > self.last_seq:
                discarded.extend(bogus or [mark])
            if self.wanted_seq <= mark:
                self.wanted_seq = self.last_seq
            idle = not fresh
        self.discarded_broadcasts += len(discarded)
        return Decision(
            deliver=tuple(released),
            fetch=full or self.wanted_seq > self.last_seq,
            discarded=tuple(discarded),
            idle=idle,
        )

    # ------------------------------------------------------------------ helpers
    def _release(self, events: Iterable[BaseEvent]) -> tuple[BaseEvent, ...]:
        out = tuple(events)
        for event in out:
            self._recent[event.seq] = event
            self.last_seq = max(self.last_seq, event.seq)
        while len(self._recent) > _RECENT:
            self._recent.popitem(last=False)
        return out
