"""The SDK trusts the log, not the wire: forged broadcasts, lost tails, the PRD backoff.

The fake Realtime server lets anything through (as a misconfigured policy would), so these
show the SDK's own defence; tests/devstack/test_realtime_security.py shows the server's.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from seer_client import ConnectionStatus, TransportError
from seer_client._connection import SessionConnection

from . import samples as s
from .conftest import ClientFactory
from .fakes import FakeBackend
from .test_connection import FAST, seer_and_player, until


async def test_forged_event_ahead_of_the_log_is_never_delivered(
    backend: FakeBackend, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    seer, player = await seer_and_player(backend, make_client)
    uid = backend.users["pia@example.com"]["id"]
    seat = backend.players[uid]
    async with seer.connect(s.SESSION_ID, **FAST) as victim, player.connect(s.SESSION_ID, **FAST) as pia:
        backend.emit()
        await victim.wait_for_seq(1)
        with caplog.at_level(logging.WARNING, logger="seer_client"):
            # ahead of the next seq: only a hint, and the log does not back it
            backend.forge(s.event(3, "session_ended", outcome="completed"))
            # and a forged kick of Pia, which used to make her own SDK close itself
            backend.forge(s.event(4, "player_left", playerId=seat["id"], userId=uid, reason="kicked"))
            await until(lambda: victim.discarded_broadcasts >= 1 and pia.discarded_broadcasts >= 1)
        assert "discarded the live event" in caplog.text
        real = [backend.emit(), backend.emit(), backend.emit()]  # the real seqs 2..4
        await victim.wait_for_seq(4)
        await pia.wait_for_seq(4)
        for conn in (victim, pia):
            assert [e.type for e in conn.history] == ["game_state"] * 4
            assert conn.history[-1].to_wire()["changes"] == real[-1]["changes"]
            assert conn.session_status == "active" and not conn.closed
        assert pia.status is ConnectionStatus.CONNECTED and pia.error is None
        assert pia.discarded_pokes == pia.discarded_broadcasts  # the former name still reads


async def test_buffered_live_event_that_disagrees_with_the_log_is_discarded(
    backend: FakeBackend, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    _, player = await seer_and_player(backend, make_client)
    async with player.connect(s.SESSION_ID, **FAST) as conn:
        backend.emit()
        await conn.wait_for_seq(1)
        backend.emit(live=False)  # seq 2: its broadcast was lost
        real = backend.emit(live=False)  # seq 3, in the log
        with caplog.at_level(logging.WARNING, logger="seer_client.connection"):
            # a live seq 3 that disagrees with the log, ahead of the hole at 2: buffered, and
            # the catch-up it starts finds the log's seq 3 different: the log wins
            backend.forge(s.event(3, "session_ended", outcome="completed"))
            await conn.wait_for_seq(3)
        assert conn.discarded_broadcasts == 1
        assert any("discarded the live event for seq 3" in r.getMessage() for r in caplog.records)
        assert [e.type for e in conn.history] == ["game_state"] * 3
        assert conn.history[-1].to_wire()["changes"] == real["changes"]
        assert conn.session_status == "active"


async def test_forged_far_future_flood_cannot_move_last_seq(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    _, player = await seer_and_player(backend, make_client)
    async with player.connect(s.SESSION_ID, **FAST) as conn:
        for _ in range(8):
            backend.emit()
        await conn.wait_for_seq(8)
        reads_before = len(backend.rpc_calls("session_events_since"))
        for n in range(20_000):  # all ahead of the next seq (9): hints the log does not back
            backend.forge(s.event(10 + n))
        await until(lambda: conn.discarded_broadcasts >= 1, limit=20)
        await asyncio.sleep(0.5)
        assert conn.last_seq == 8 and conn.sequencer.last_seq == 8
        # the flood costs a few log reads per second (one in flight, a pause after each read
        # that found nothing), not one per forged message
        assert len(backend.rpc_calls("session_events_since")) - reads_before < 500
        for _ in range(3):
            backend.emit()
        await conn.wait_for_seq(11, timeout=20)  # the socket may still be reading the flood
        assert conn.delivered_seqs == list(range(1, 12))


async def test_broadcast_for_another_session_or_malformed_is_ignored(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    _, player = await seer_and_player(backend, make_client)
    async with player.connect(s.SESSION_ID, **FAST) as conn:
        backend.forge({"seq": 1, "type": "game_state", "sessionId": "00000000-0000-4000-8000-000000000bad"})
        backend.forge({"seq": "1", "type": "game_state", "sessionId": s.SESSION_ID})
        backend.forge({"seq": True, "type": "x", "sessionId": s.SESSION_ID})
        backend.forge({"type": "hello"})
        await until(lambda: conn.ignored_broadcasts == 4)
        assert len(backend.rpc_calls("session_events_since")) == 1  # only the connect catch-up


async def test_lost_last_event_is_recovered_within_one_heartbeat(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    _, player = await seer_and_player(backend, make_client)
    async with player.connect(s.SESSION_ID, **{**FAST, "heartbeat_interval": 0.2}) as conn:
        backend.emit()
        await conn.wait_for_seq(1)
        backend.drop_live = {2}
        backend.emit("session_ended", outcome="completed")  # the tail: no later poke shows the hole
        await conn.wait_for_seq(2, timeout=2)  # one heartbeat (0.2 s) + a catch-up
        assert conn.delivered_seqs == [1, 2] and conn.recovered == 1
        assert conn.last_heartbeat is not None and conn.last_heartbeat.last_seq == 2


def test_prd_backoff_schedule() -> None:
    conn = SessionConnection.__new__(SessionConnection)
    conn.backoff_base, conn.backoff_max, conn.backoff_jitter = 1.0, 30.0, 0.0
    assert [conn.backoff_delay(n) for n in range(1, 6)] == [2.0, 4.0, 8.0, 16.0, 30.0]
    conn.backoff_jitter = 0.1
    for n in range(1, 6):
        assert 0.9 * min(30.0, 2.0**n) <= conn.backoff_delay(n) <= min(30.0, 2.0**n)


async def test_prd_reconnect_budget_then_on_max_reconnect_failed(
    backend: FakeBackend, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    _, player = await seer_and_player(backend, make_client)
    failed: list[bool] = []
    conn = player.connect(s.SESSION_ID, on_max_reconnect_failed=lambda: failed.append(True), join_timeout=3.0)
    assert (conn.max_reconnect_attempts, conn.heartbeat_interval) == (5, 30.0)  # the PRD defaults
    slept: list[float] = []

    async def no_wait(delay: float) -> None:  # record the schedule instead of waiting 60 s
        slept.append(delay)
        await asyncio.sleep(0)

    conn._sleep = no_wait  # type: ignore[method-assign]
    conn.backoff_jitter = 0.0
    async with conn:
        heartbeats = len(backend.rpc_calls("heartbeat"))
        with caplog.at_level(logging.INFO, logger="seer_client"):
            await backend.realtime.stop()
            await until(lambda: bool(failed), limit=20)
        assert slept == [2.0, 4.0, 8.0, 16.0, 30.0]
        assert len(backend.rpc_calls("heartbeat")) - heartbeats == 5  # 5 attempts, no more
        assert isinstance(conn.error, TransportError) and failed == [True]
        give_up = [r for r in caplog.records if "giving up" in r.getMessage()]
        assert give_up and give_up[0].levelno == logging.WARNING
        assert give_up[0].name == "seer_client.connection"
        assert sum("retrying in" in r.getMessage() for r in caplog.records) == 5
        with pytest.raises(TransportError):
            await conn.wait_for_seq(1, timeout=1)


async def test_reconnect_is_logged_with_its_duration_and_catch_up(
    backend: FakeBackend, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    _, player = await seer_and_player(backend, make_client)
    uid = backend.users["pia@example.com"]["id"]
    async with player.connect(s.SESSION_ID, **FAST) as conn:
        with caplog.at_level(logging.INFO, logger="seer_client"):
            for _ in range(4):  # unannounced: only the reconnect's catch-up can find them
                backend.emit(live=False)
            backend.realtime.kill(uid)
            await until(lambda: conn.reconnects == 1)
        msgs = [r.getMessage() for r in caplog.records if r.name == "seer_client.connection"]
        assert any("reconnected after" in m and "caught up 4 events" in m for m in msgs), msgs
        assert any("reconnect attempt 1/" in m for m in msgs)


async def test_game_state_change_receives_the_resulting_state(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    _, player = await seer_and_player(backend, make_client)
    states = []

    async with player.connect(s.SESSION_ID, on_game_state_change=states.append, **FAST) as conn:
        backend.emit()
        backend.emit()
        await conn.wait_for_seq(2)
        await until(lambda: states and states[-1].version == 2)
        assert [st.version for st in states] == [1, 2]  # each version once, in order
        # folded from the events (issue 22): the snapshot's state plus both patches, no read
        assert states[-1].variables == {"gold": 2, "door_open": False, "npc": "Mira"}
        assert backend.rpc_calls("get_game_state") == []


async def test_forged_in_order_consequential_event_is_never_delivered(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    """Issue 19, finding 8: a `session_ended` (or kick) at exactly the next seq used to be
    delivered without any check, and the real event with that seq dropped. Consequential
    types are now delivered only from the log (one read each)."""
    _, player = await seer_and_player(backend, make_client)
    uid = backend.users["pia@example.com"]["id"]
    seat = backend.players[uid]
    async with player.connect(s.SESSION_ID, **FAST) as pia:
        backend.emit()
        await pia.wait_for_seq(1)
        reads = len(backend.rpc_calls("session_events_since"))
        backend.forge(s.event(2, "session_ended", outcome="completed"))
        backend.forge(s.event(2, "player_left", playerId=seat["id"], userId=uid, reason="kicked"))
        await until(lambda: pia.discarded_broadcasts >= 1)
        backend.emit()  # the real seq 2
        await pia.wait_for_seq(2)
        assert [e.type for e in pia.history] == ["game_state", "game_state"]
        assert pia.status is ConnectionStatus.CONNECTED and pia.error is None
        assert pia.session_status == "active"
        # a real consequential event costs one read and is delivered once
        backend.emit("session_status", oldStatus="active", newStatus="paused")
        await pia.wait_for_seq(3)
        assert pia.history[-1].type == "session_status" and pia.core.confirmed >= 1
        assert len(backend.rpc_calls("session_events_since")) - reads <= 4


async def test_forged_in_order_event_is_reported_when_the_real_one_arrives(
    backend: FakeBackend, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A forged ordinary event at the next seq wins the race (it is delivered: no read per
    event), but the database's own broadcast for that seq then shows the conflict: WARNING,
    `conflicts`, and on_error."""
    from seer_client import RealtimeError

    _, player = await seer_and_player(backend, make_client)
    errors: list[BaseException] = []
    async with player.connect(s.SESSION_ID, on_error=errors.append, **FAST) as pia:
        backend.emit()
        await pia.wait_for_seq(1)
        with caplog.at_level(logging.WARNING, logger="seer_client"):
            backend.forge(s.event(2, "node_change", nodeId="forged"))
            await pia.wait_for_seq(2)
            backend.emit()  # the real seq 2 (a game_state)
            await until(lambda: pia.conflicts == 1)
        assert any(isinstance(e, RealtimeError) and "seq 2" in str(e) for e in errors)
        assert "differs from the delivered event" in caplog.text
