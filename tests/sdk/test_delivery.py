"""The delivery core (seer_client/_delivery.py), input by input, in every state: no sockets,
no asyncio, no clock. Each row: a state, one input, the decision's parts, the seqs it
delivers and what it does to the counters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from seer_client._delivery import CONFIRM_TYPES, MAX_CLAIMS, Decision, DeliveryCore, RejoinReason
from seer_client.events import BaseEvent, parse_event

from . import samples as s

SID = s.SESSION_ID
OTHER = "00000000-0000-4000-8000-0000000000ff"


def ev(seq: int, type_: str = "game_state", **fields: Any) -> BaseEvent:
    return parse_event(s.event(seq, type_, **fields))


def wire(seq: int, type_: str = "game_state", **fields: Any) -> dict[str, Any]:
    """A broadcast as realtime-py hands it over: {event, payload: <the event>, meta}."""
    return {"event": type_, "payload": {**s.event(seq, type_, **fields), "id": "m"}, "meta": {"id": "m"}}


def poke(seq: int, **extra: Any) -> dict[str, Any]:
    return {"event": "rekey", "payload": {"sessionId": SID, "seq": seq, "type": "rekey", **extra}}


# --------------------------------------------------------------------------- states
def idle() -> DeliveryCore:
    """Joined generation 2, everything up to seq 5 delivered, nothing pending."""
    core = DeliveryCore(SID)
    core.reset(3)
    core.on_joined(2)
    core.on_broadcast(wire(4))
    core.on_broadcast(wire(5))
    return core


def claimed() -> DeliveryCore:
    """As idle, plus a live claim for seq 7 (6 was lost): a read is due."""
    core = idle()
    core.on_broadcast(wire(7))
    return core


def unjoined() -> DeliveryCore:
    """Connected at seq 5, no topic joined yet (no generation known)."""
    core = DeliveryCore(SID)
    core.reset(5)
    return core


STATES: dict[str, Callable[[], DeliveryCore]] = {"idle": idle, "claimed": claimed, "unjoined": unjoined}
COUNTERS = (
    "live_delivered",
    "recovered",
    "discarded_broadcasts",
    "ignored_broadcasts",
    "gaps_detected",
    "conflicts",
    "log_gaps",
    "confirmed",
)


def counts(core: DeliveryCore) -> dict[str, int]:
    return {name: getattr(core, name) for name in COUNTERS}


def delta(before: dict[str, int], core: DeliveryCore) -> dict[str, int]:
    return {k: v - before[k] for k, v in counts(core).items() if v != before[k]}


def page(core: DeliveryCore, events: list[BaseEvent], limit: int = 500) -> Decision:
    after = core.begin_fetch()
    return core.on_log_page(after, events, limit)


# --------------------------------------------------------------------------- broadcasts
BROADCASTS: list[tuple[str, dict[str, Any]]] = [
    ("not a dict", {"event": "x", "payload": "nope"}),
    ("other session", {"event": "game_state", "payload": {**s.event(6), "sessionId": OTHER}}),
    ("bool seq", {"event": "game_state", "payload": {**s.event(6), "seq": True}}),
    ("rekey poke", poke(5)),
    ("rekey with content", poke(6, patch={"x": 1})),  # not content-free: no poke, no event
    ("duplicate, same", wire(5)),
    ("duplicate, different", wire(5, "node_change", nodeId="n2")),
    ("next seq", wire(6)),
    ("next seq, consequential", wire(6, "session_ended", outcome="completed")),
    ("ahead", wire(9)),
]

# state -> input -> (actions, delivered seqs, counter changes)
EXPECTED_BROADCAST: dict[str, dict[str, tuple[set[str], list[int], dict[str, int]]]] = {
    "idle": {
        "not a dict": ({"ignore"}, [], {"ignored_broadcasts": 1}),
        "other session": ({"ignore"}, [], {"ignored_broadcasts": 1}),
        "bool seq": ({"ignore"}, [], {"ignored_broadcasts": 1}),
        "rekey poke": ({"rejoin"}, [], {}),
        "rekey with content": ({"ignore"}, [], {"ignored_broadcasts": 1}),
        "duplicate, same": ({"ignore"}, [], {}),
        "duplicate, different": ({"ignore", "conflict"}, [], {"conflicts": 1}),
        "next seq": ({"deliver"}, [6], {"live_delivered": 1}),
        "next seq, consequential": ({"fetch"}, [], {"confirmed": 1}),
        "ahead": ({"fetch"}, [], {"gaps_detected": 1}),
    },
    "claimed": {
        "not a dict": ({"ignore"}, [], {"ignored_broadcasts": 1}),
        "other session": ({"ignore"}, [], {"ignored_broadcasts": 1}),
        "bool seq": ({"ignore"}, [], {"ignored_broadcasts": 1}),
        "rekey poke": ({"rejoin"}, [], {}),
        "rekey with content": ({"ignore"}, [], {"ignored_broadcasts": 1}),
        "duplicate, same": ({"ignore"}, [], {}),
        "duplicate, different": ({"ignore", "conflict"}, [], {"conflicts": 1}),
        # 6 arrives late, 7 still waits for the log (claims are only released by the log)
        "next seq": ({"deliver"}, [6], {"live_delivered": 1}),
        "next seq, consequential": ({"fetch"}, [], {"confirmed": 1}),
        "ahead": ({"fetch"}, [], {"gaps_detected": 1}),
    },
    "unjoined": {
        "not a dict": ({"ignore"}, [], {"ignored_broadcasts": 1}),
        "other session": ({"ignore"}, [], {"ignored_broadcasts": 1}),
        "bool seq": ({"ignore"}, [], {"ignored_broadcasts": 1}),
        "rekey poke": ({"rejoin"}, [], {}),
        "rekey with content": ({"ignore"}, [], {"ignored_broadcasts": 1}),
        "duplicate, same": ({"ignore"}, [], {}),  # (nothing delivered yet to compare with)
        "duplicate, different": ({"ignore"}, [], {}),
        "next seq": ({"deliver"}, [6], {"live_delivered": 1}),
        "next seq, consequential": ({"fetch"}, [], {"confirmed": 1}),
        "ahead": ({"fetch"}, [], {"gaps_detected": 1}),
    },
}


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize(("name", "message"), BROADCASTS, ids=[n for n, _ in BROADCASTS])
def test_broadcast(state: str, name: str, message: dict[str, Any]) -> None:
    core = STATES[state]()
    before, last = counts(core), core.last_seq
    decision = core.on_broadcast(message)
    actions, seqs, changes = EXPECTED_BROADCAST[state][name]
    assert set(decision.actions) == actions
    assert [e.seq for e in decision.deliver] == seqs
    assert delta(before, core) == changes
    assert core.last_seq == (seqs[-1] if seqs else last)  # only delivery moves last_seq
    if "rejoin" in actions:
        assert decision.rejoin is RejoinReason.REKEY


# --------------------------------------------------------------------------- heartbeats
HEARTBEATS: list[tuple[str, int | None, int | None]] = [
    ("in step", 5, 2),
    ("log ahead", 8, 2),
    ("newer generation (lost poke)", 5, 3),
    ("both", 8, 3),
    ("older generation", 5, 1),
    ("no generation (old server)", 5, None),
    ("no lastSeq", None, 2),
]
EXPECTED_HEARTBEAT: dict[str, dict[str, set[str]]] = {
    "idle": {
        "in step": {"ignore"},
        "log ahead": {"fetch"},
        "newer generation (lost poke)": {"rejoin"},
        "both": {"rejoin", "fetch"},
        "older generation": {"ignore"},
        "no generation (old server)": {"ignore"},
        "no lastSeq": {"ignore"},
    },
    # a pending claim already wants a read: the heartbeat adds a fetch only if it is ahead
    "claimed": {
        "in step": {"ignore"},
        "log ahead": {"fetch"},
        "newer generation (lost poke)": {"rejoin"},
        "both": {"rejoin", "fetch"},
        "older generation": {"ignore"},
        "no generation (old server)": {"ignore"},
        "no lastSeq": {"ignore"},
    },
    # no topic joined: nothing to compare the generation with
    "unjoined": {
        "in step": {"ignore"},
        "log ahead": {"fetch"},
        "newer generation (lost poke)": {"ignore"},
        "both": {"fetch"},
        "older generation": {"ignore"},
        "no generation (old server)": {"ignore"},
        "no lastSeq": {"ignore"},
    },
}


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize(("name", "last_seq", "generation"), HEARTBEATS, ids=[h[0] for h in HEARTBEATS])
def test_heartbeat(state: str, name: str, last_seq: int | None, generation: int | None) -> None:
    core = STATES[state]()
    before = counts(core)
    decision = core.on_heartbeat(last_seq, generation)
    assert set(decision.actions) == EXPECTED_HEARTBEAT[state][name]
    assert not decision.deliver and delta(before, core) == {}
    if decision.rejoin is not None:
        assert decision.rejoin is RejoinReason.STALE_TOPIC
    if decision.fetch:
        assert core.wanted_seq == last_seq and core.behind


# --------------------------------------------------------------------------- log pages
LOG_PAGES: list[tuple[str, list[BaseEvent], int]] = [
    ("empty", [], 500),
    ("the next events", [ev(6), ev(7)], 500),
    ("a full page", [ev(6), ev(7)], 2),
    ("with a hole (compacted log)", [ev(6), ev(9, "session_status", newStatus="completed")], 500),
    ("already delivered", [ev(4), ev(5)], 500),
    ("other session", [parse_event({**s.event(6), "sessionId": OTHER})], 500),
    ("disagrees with the claim", [ev(6), ev(7, "node_change", nodeId="n9")], 500),
]
# state -> page -> (actions, delivered seqs, counter changes)
EXPECTED_PAGE: dict[str, dict[str, tuple[set[str], list[int], dict[str, int]]]] = {
    "idle": {
        "empty": (set(), [], {}),
        "the next events": ({"deliver"}, [6, 7], {"recovered": 2}),
        "a full page": ({"deliver", "fetch"}, [6, 7], {"recovered": 2}),
        "with a hole (compacted log)": ({"deliver"}, [6, 9], {"recovered": 2, "log_gaps": 1}),
        "already delivered": (set(), [], {}),
        "other session": (set(), [], {}),
        "disagrees with the claim": ({"deliver"}, [6, 7], {"recovered": 2}),
    },
    "claimed": {
        # the log, read after the claim for 7 arrived, ends at 5: the claim is discarded
        "empty": ({"discard", "idle"}, [], {"discarded_broadcasts": 1}),
        "the next events": ({"deliver"}, [6, 7], {"recovered": 1}),
        "a full page": ({"deliver", "fetch"}, [6, 7], {"recovered": 1}),
        "with a hole (compacted log)": (
            {"deliver", "discard"},
            [6, 9],
            {"recovered": 2, "log_gaps": 1, "discarded_broadcasts": 1},
        ),
        "already delivered": ({"discard", "idle"}, [], {"discarded_broadcasts": 1}),
        "other session": ({"discard", "idle"}, [], {"discarded_broadcasts": 1}),
        "disagrees with the claim": (
            {"deliver", "discard"},
            [6, 7],
            {"recovered": 1, "discarded_broadcasts": 1},
        ),
    },
    "unjoined": {
        "empty": (set(), [], {}),
        "the next events": ({"deliver"}, [6, 7], {"recovered": 2}),
        "a full page": ({"deliver", "fetch"}, [6, 7], {"recovered": 2}),
        "with a hole (compacted log)": ({"deliver"}, [6, 9], {"recovered": 2, "log_gaps": 1}),
        "already delivered": (set(), [], {}),
        "other session": (set(), [], {}),
        "disagrees with the claim": ({"deliver"}, [6, 7], {"recovered": 2}),
    },
}


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize(("name", "events", "limit"), LOG_PAGES, ids=[p[0] for p in LOG_PAGES])
def test_log_page(state: str, name: str, events: list[BaseEvent], limit: int) -> None:
    core = STATES[state]()
    before = counts(core)
    decision = page(core, events, limit)
    actions, seqs, changes = EXPECTED_PAGE[state][name]
    assert set(decision.actions) == actions
    assert [e.seq for e in decision.deliver] == seqs
    assert delta(before, core) == changes
    if seqs:
        assert core.last_seq == seqs[-1]


# --------------------------------------------------------------------------- joins, closes
@pytest.mark.parametrize("state", list(STATES))
def test_joined_always_reads_the_log_and_keeps_the_newest_generation(state: str) -> None:
    core = STATES[state]()
    assert core.on_joined(4).actions == {"fetch"}
    assert core.generation == 4
    core.on_joined(3)  # an older answer arriving late never moves it back
    assert core.generation == 4
    assert core.on_joined(None).actions == {"fetch"} and core.generation == 4


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize(
    ("reason", "rejoin"),
    [
        ("Too many messages per second", RejoinReason.RATE_LIMITED),
        ("Too many presence messages per second", RejoinReason.RATE_LIMITED),
        ("Client presence rate limit exceeded", RejoinReason.RATE_LIMITED),
        ("ClientJoinRateLimitReached: Too many joins per second", RejoinReason.RATE_LIMITED),
        ("Track message size exceeded", RejoinReason.CLOSED),
        ("socket closed", RejoinReason.CLOSED),
    ],
)
def test_channel_close(state: str, reason: str, rejoin: RejoinReason) -> None:
    core = STATES[state]()
    before, last = counts(core), core.last_seq
    decision = core.on_channel_close(reason)
    assert decision.actions == {"rejoin"} and decision.rejoin is rejoin
    assert delta(before, core) == {} and core.last_seq == last


# --------------------------------------------------------------------------- sequences
def test_claim_that_arrives_during_a_read_is_not_discarded_by_it() -> None:
    core = idle()
    after = core.begin_fetch()  # a read starts (nothing claimed)
    core.on_broadcast(wire(7))  # 7 arrives live meanwhile (committed after the read's snapshot)
    decision = core.on_log_page(after, [ev(6)], 500)
    assert [e.seq for e in decision.deliver] == [6] and decision.fetch and not decision.discarded
    decision = page(core, [ev(7)], 500)  # the next read has it: delivered once, not recovered
    assert [e.seq for e in decision.deliver] == [7] and core.recovered == 1 and core.discarded_broadcasts == 0


def test_consequential_event_is_delivered_only_from_the_log() -> None:
    needs: dict[str, dict[str, Any]] = {
        "session_ended": {"outcome": "completed"},
        "session_status": {"newStatus": "paused"},
        "player_left": {"playerId": "p1", "reason": "kicked"},
        "player_inactive": {"playerId": "p1"},
    }
    assert set(needs) == CONFIRM_TYPES
    for kind in sorted(CONFIRM_TYPES):
        core = idle()
        fields = needs[kind]
        assert not core.on_broadcast(wire(6, kind, **fields)).deliver
        real = page(core, [ev(6, kind, **fields)])
        assert [e.seq for e in real.deliver] == [6] and not real.discarded, kind
    core = idle()  # a forged in-order session_ended: the log has the real seq 6 instead
    core.on_broadcast(wire(6, "session_ended", outcome="completed"))
    decision = page(core, [ev(6)])
    assert [e.type for e in decision.deliver] == ["game_state"] and decision.discarded == (6,)


def test_forged_in_order_event_is_detected_when_the_real_one_arrives() -> None:
    core = idle()
    assert [e.seq for e in core.on_broadcast(wire(6, "node_change", nodeId="forged")).deliver] == [6]
    decision = core.on_broadcast(wire(6))  # the database's own seq 6
    assert decision.conflicts == (6,) and core.conflicts == 1 and not decision.deliver


def test_flood_of_claims_is_bounded_and_cannot_move_last_seq() -> None:
    core = idle()
    for seq in range(100, 100 + 3 * MAX_CLAIMS):
        core.on_broadcast(wire(seq))
    assert core.claims == MAX_CLAIMS and core.last_seq == 5
    decision = page(core, [])
    assert decision.idle and not decision.fetch and core.last_seq == 5 and core.claims == 0


def test_exactly_once_in_order_over_any_mix_of_inputs() -> None:
    """Live copies, late duplicates, lost broadcasts and log pages in a fixed awkward order."""
    core = DeliveryCore(SID)
    core.reset(0)
    core.on_joined(0)
    out: list[int] = []

    def take(decision: Decision) -> None:
        out.extend(e.seq for e in decision.deliver)

    take(core.on_broadcast(wire(1)))
    take(core.on_broadcast(wire(3)))  # 2 lost
    take(core.on_broadcast(wire(1)))  # duplicate
    take(core.on_heartbeat(4, 0))
    take(page(core, [ev(2), ev(3)], 2))  # full page
    take(core.on_broadcast(wire(4)))
    take(page(core, [ev(4)]))
    take(core.on_broadcast(wire(2)))  # very late duplicate
    assert out == [1, 2, 3, 4] and not core.behind
