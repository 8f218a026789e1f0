"""SessionConnection against the fake Realtime server: each failure mode of realtime.md.

These reproduce: socket killed mid-session while events are produced (no loss, no
duplicates, presence re-tracked), a lost live broadcast (gap fill), a raising callback
(delivery continues), an unauthorized join (no endless rejoin), a server-closed channel
(new channel object), the reconnect budget running out, heartbeats, and clean close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from seer_client import (
    AuthError,
    ConnectionStatus,
    NotInSession,
    PlayerJoinedEvent,
    SessionNotFound,
    TransportError,
)
from seer_client._connection import SessionConnection

from . import samples as s
from .conftest import ClientFactory
from .fakes import FakeBackend

FAST = {"backoff_base": 0.05, "backoff_max": 0.2, "join_timeout": 3.0, "heartbeat_interval": 30.0}


async def until(predicate, limit: float = 5.0) -> None:
    """Poll a condition on state the SDK mutates (no event exists for most of them)."""
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def seer_and_player(backend: FakeBackend, make_client: ClientFactory):
    seer = await make_client("seer@example.com")
    backend.make_seer(backend.users["seer@example.com"]["id"])
    player = await make_client("pia@example.com")
    backend.seat(backend.users["pia@example.com"]["id"], "Pia")
    return seer, player


async def test_connect_tracks_presence_and_delivers_in_order(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    _, player = await seer_and_player(backend, make_client)
    statuses: list[str] = []
    seen: list[int] = []
    async with player.connect(
        s.SESSION_ID, on_status_change=statuses.append, on_event=lambda e: seen.append(e.seq), **FAST
    ) as conn:
        assert conn.status is ConnectionStatus.CONNECTED
        assert statuses == ["connecting", "connected"]
        uid = backend.users["pia@example.com"]["id"]
        assert backend.realtime.tracks[-1][0] == uid  # presence key = user id
        tracked = backend.realtime.tracks[-1][1]
        assert tracked["user_id"] == uid and tracked["status"] == "online"
        assert tracked["player_id"] == backend.players[uid]["id"]
        assert tracked["character_name"] == "Pia"
        for _ in range(5):
            backend.emit()
        await conn.wait_for_seq(5)
        assert seen == [1, 2, 3, 4, 5]
        assert conn.delivered_seqs == [1, 2, 3, 4, 5]
    assert conn.status is ConnectionStatus.DISCONNECTED
    assert statuses[-1] == "disconnected"


async def test_stranger_cannot_connect(backend: FakeBackend, make_client: ClientFactory) -> None:
    await seer_and_player(backend, make_client)
    stranger = await make_client("zed@example.com")
    with pytest.raises(SessionNotFound):
        async with stranger.connect(s.SESSION_ID, **FAST):
            pass


async def test_socket_killed_mid_session_loses_and_duplicates_nothing(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    seer, player = await seer_and_player(backend, make_client)
    got: list[int] = []
    status: list[str] = []
    seer_conn = await seer.connect(s.SESSION_ID, **FAST).__aenter__()
    try:
        async with player.connect(
            s.SESSION_ID, on_event=lambda e: got.append(e.seq), on_status_change=status.append, **FAST
        ) as conn:
            uid = backend.users["pia@example.com"]["id"]
            await until(lambda: uid in seer_conn.lobby.online())
            stop = asyncio.Event()

            async def producer() -> None:
                while not stop.is_set():
                    backend.emit()
                    await asyncio.sleep(0.005)

            task = asyncio.create_task(producer())
            await asyncio.sleep(0.1)
            assert backend.realtime.kill(uid) == 1
            # the seer sees the player as reconnecting while its socket is down
            await until(lambda: any(p.state == "reconnecting" for p in seer_conn.presence()))
            await until(lambda: conn.reconnects >= 1)
            await asyncio.sleep(0.1)
            assert backend.realtime.kill(uid) == 1  # and once more
            await until(lambda: conn.reconnects >= 2)
            await asyncio.sleep(0.1)
            stop.set()
            await task
            last = len(backend.events)
            await conn.wait_for_seq(last)
            assert got == list(range(1, last + 1))
            assert conn.recovered > 0  # some events really were missed live and fetched
            # presence was tracked again after every SUBSCRIBED (3 subscribes)
            assert sum(1 for key, _ in backend.realtime.tracks if key == uid) == 3
            assert "reconnecting" in status
            await until(lambda: any(p.state == "online" and p.role == "player" for p in seer_conn.presence()))
            await seer_conn.wait_for_seq(last)
            assert seer_conn.delivered_seqs == list(range(1, last + 1))
    finally:
        await seer_conn.close()


async def test_lost_live_broadcast_is_fetched(backend: FakeBackend, make_client: ClientFactory) -> None:
    _, player = await seer_and_player(backend, make_client)
    async with player.connect(s.SESSION_ID, **FAST) as conn:
        backend.drop_live = {2, 3}
        for _ in range(4):
            backend.emit()
        await conn.wait_for_seq(4)
        assert conn.delivered_seqs == [1, 2, 3, 4]
        assert conn.gaps_detected == 1
        assert conn.recovered == 2


async def test_catch_up_after_connect_covers_events_before_subscribe(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    _, player = await seer_and_player(backend, make_client)
    for _ in range(3):
        backend.emit(live=False)
    async with player.connect(s.SESSION_ID, since_seq=0, catch_up_page_size=2, **FAST) as conn:
        assert conn.delivered_seqs == [1, 2, 3]  # paged: 2 + 1
        backend.emit()
        await conn.wait_for_seq(4)
        events = [e.seq async for e in _take(conn.events(), 4)]
        assert events == [1, 2, 3, 4]


async def _take(aiter, n: int):
    count = 0
    async for item in aiter:
        yield item
        count += 1
        if count == n:
            return


async def test_raising_callback_does_not_stop_delivery(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    _, player = await seer_and_player(backend, make_client)
    errors: list[BaseException] = []
    seen: list[int] = []

    def bad(event) -> None:
        seen.append(event.seq)
        raise RuntimeError("boom")

    async def also_async(event) -> None:
        await asyncio.sleep(0)
        if event.seq == 2:
            raise ValueError("async boom")

    async with player.connect(
        s.SESSION_ID, on_game_state=bad, on_event=also_async, on_error=errors.append, **FAST
    ) as conn:
        for _ in range(3):
            backend.emit()
        await conn.wait_for_seq(3)
        assert seen == [1, 2, 3]
        assert conn.callback_errors == 4
        assert [type(e) for e in errors].count(RuntimeError) == 3 and len(errors) == 4
        # the connection is still healthy: more events flow
        backend.emit()
        await conn.wait_for_seq(4)
        assert seen == [1, 2, 3, 4]


async def test_unauthorized_join_does_not_loop(backend: FakeBackend, make_client: ClientFactory) -> None:
    _, player = await seer_and_player(backend, make_client)
    backend.realtime.refuse_reason = lambda topic, uid: (
        f"Unauthorized: You do not have permissions to read from this Channel topic: {topic}"
    )
    errors: list[BaseException] = []
    with pytest.raises(AuthError) as info:
        async with player.connect(s.SESSION_ID, on_error=errors.append, **FAST):
            pass
    assert "Unauthorized" in str(info.value)
    assert len(backend.realtime.joins) == 2  # first try + one after a token refresh
    tokens = {uid for _, uid, _ in backend.realtime.joins}
    assert len(tokens) == 1
    await asyncio.sleep(1.5)  # the library would have rejoined after 1 s
    assert len(backend.realtime.joins) == 2
    assert errors and isinstance(errors[0], AuthError)


async def test_first_refusal_cured_by_token_refresh(backend: FakeBackend, make_client: ClientFactory) -> None:
    _, player = await seer_and_player(backend, make_client)
    refusals = ["InvalidJWTToken: Token has expired 5 seconds ago"]
    backend.realtime.refuse_reason = lambda topic, uid: refusals.pop() if refusals else None
    async with player.connect(s.SESSION_ID, **FAST) as conn:
        assert conn.status is ConnectionStatus.CONNECTED
        assert [ok for *_, ok in backend.realtime.joins] == [False, True]


async def test_channel_closed_by_server_is_replaced(backend: FakeBackend, make_client: ClientFactory) -> None:
    _, player = await seer_and_player(backend, make_client)
    async with player.connect(s.SESSION_ID, **FAST) as conn:
        backend.emit()
        await conn.wait_for_seq(1)
        first_channel = conn._link.channel
        backend.realtime.close_channel(backend.topic)
        backend.emit(live=False)  # happens while we are out
        await until(lambda: conn.reconnects == 1 and conn.status is ConnectionStatus.CONNECTED)
        assert conn._link.channel is not first_channel
        backend.emit()
        await conn.wait_for_seq(3)
        assert conn.delivered_seqs == [1, 2, 3]


async def test_gives_up_after_max_attempts(backend: FakeBackend, make_client: ClientFactory) -> None:
    _, player = await seer_and_player(backend, make_client)
    failed = asyncio.Event()
    statuses: list[str] = []
    conn = player.connect(
        s.SESSION_ID,
        max_reconnect_attempts=3,
        on_max_reconnect_failed=failed.set,
        on_status_change=statuses.append,
        **FAST,
    )
    async with conn:
        collected: list[int] = []

        async def consume() -> None:
            async for event in conn.events():
                collected.append(event.seq)

        consumer = asyncio.create_task(consume())
        backend.emit()
        await conn.wait_for_seq(1)
        await backend.realtime.stop()  # the server is gone for good
        async with asyncio.timeout(10):
            await failed.wait()
        assert conn.status is ConnectionStatus.DISCONNECTED
        assert isinstance(conn.error, TransportError)
        assert statuses[-2:] == ["reconnecting", "disconnected"]
        async with asyncio.timeout(2):
            with pytest.raises(TransportError):
                await consumer  # the iterator raises the connection's error instead of hanging
        assert collected == [1]
        with pytest.raises(TransportError):
            await conn.wait_for_seq(2, timeout=1)
        with pytest.raises(TransportError):
            await conn.wait_for(lambda e: True, replay=False, timeout=1)
        attempts = len(backend.rpc_calls("heartbeat"))
        await asyncio.sleep(0.5)
        assert len(backend.rpc_calls("heartbeat")) == attempts  # no more attempts


async def test_initial_connect_failure_raises_after_budget(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    _, player = await seer_and_player(backend, make_client)
    await backend.realtime.stop()
    with pytest.raises(TransportError):
        async with player.connect(s.SESSION_ID, max_reconnect_attempts=2, **FAST):
            pass


async def test_heartbeat_runs_and_failure_reconnects(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    _, player = await seer_and_player(backend, make_client)
    uid = backend.users["pia@example.com"]["id"]
    opts = {**FAST, "heartbeat_interval": 0.05}
    async with player.connect(s.SESSION_ID, **opts) as conn:
        start = backend.heartbeats[uid]
        await until(lambda: backend.heartbeats[uid] >= start + 3)
        backend.fail["heartbeat"] = [503, 503, 503]  # one heartbeat fails after its retries
        await until(lambda: conn.reconnects >= 1 and conn.status is ConnectionStatus.CONNECTED)


async def test_clean_close_leaves_nothing_running(backend: FakeBackend, make_client: ClientFactory) -> None:
    _, player = await seer_and_player(backend, make_client)
    before = set(asyncio.all_tasks())
    uid = backend.users["pia@example.com"]["id"]
    async with player.connect(s.SESSION_ID, **{**FAST, "heartbeat_interval": 0.05}) as conn:
        backend.emit()
        await conn.wait_for_seq(1)
        iterator = conn.events()
        assert (await anext(iterator)).seq == 1
    assert backend.realtime.untracks == [uid]
    assert backend.realtime.leaves == [uid]
    await asyncio.sleep(0.05)
    leftover = {t for t in asyncio.all_tasks() - before if not t.done()}
    # only the fake server's own per-socket handler tasks may remain while its sockets close
    leftover = {t for t in leftover if "websockets" not in repr(t.get_coro())}
    assert leftover == set(), leftover
    with contextlib.suppress(StopAsyncIteration):
        await anext(iterator)
    await iterator.aclose()


async def test_presence_view_and_player_events(backend: FakeBackend, make_client: ClientFactory) -> None:
    seer, player = await seer_and_player(backend, make_client)
    joined: list[PlayerJoinedEvent] = []
    async with seer.connect(s.SESSION_ID, on_player_joined=joined.append, **FAST) as seer_conn:
        async with player.connect(s.SESSION_ID, **FAST):
            await until(lambda: len([p for p in seer_conn.presence() if p.state == "online"]) == 2)
        late = s.player(name="Quin")
        backend.emit("player_joined", player=late)
        await seer_conn.wait_for_seq(1)
        assert joined and joined[0].player.character_name == "Quin"
        states = {p.character_name: p.state for p in seer_conn.presence() if p.role == "player"}
        # Pia left cleanly (untracked) but holds a seat -> reconnecting; Quin never came online
        assert states == {"Pia": "reconnecting", "Quin": "offline"}
        backend.emit(
            "player_left",
            playerId=late["id"],
            userId=late["userId"],
            characterId=late["characterId"],
            reason="kicked",
            kickReason="afk",
        )
        await seer_conn.wait_for_seq(2)
        assert "Quin" not in {p.character_name for p in seer_conn.presence()}
        html = seer_conn._repr_html_()
        assert "Pia" in html and "reconnecting" in html
        assert "Pia" in str(seer_conn.view())


def test_connection_is_constructible_without_loop() -> None:
    # the blocking facade may construct objects outside the loop thread
    SessionConnection.__init__  # noqa: B018


async def _pia(backend: FakeBackend, make_client: ClientFactory):
    """Pia's client, user id and seat (with a Seer in the session)."""
    _, player = await seer_and_player(backend, make_client)
    uid = backend.users["pia@example.com"]["id"]
    return player, uid, backend.players[uid]


async def test_kicked_player_connection_stops_after_the_kick_event(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    player, uid, seat = await _pia(backend, make_client)
    errors: list[BaseException] = []
    statuses: list[str] = []
    async with player.connect(
        s.SESSION_ID, on_error=errors.append, on_status_change=statuses.append, **FAST
    ) as conn:
        # The log still answered when the kick event was read (e.g. fetched in one page
        # with earlier events): it is delivered, then the connection stops.
        backend.emit("player_left", playerId=seat["id"], userId=uid, reason="kicked", kickReason="afk")
        await until(lambda: conn.closed)
        assert conn.delivered_seqs == [1]
        assert isinstance(conn.error, NotInSession) and conn.error.details == "kicked"
        assert [type(e) for e in errors] == [NotInSession]
        assert statuses[-1] == "disconnected"
        seen: list[int] = []
        with pytest.raises(NotInSession):  # the stream has ended with the connection's error
            async for e in conn.events():
                seen.append(e.seq)
        assert seen == [1]
    assert backend.realtime.leaves == [uid]


async def test_removed_player_reads_nothing_after_removal(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    player, uid, seat = await _pia(backend, make_client)
    async with player.connect(s.SESSION_ID, **FAST) as conn:
        old_topic = conn.topic
        assert old_topic == backend.topic
        # the server-side kick: the key rotates (a rekey poke on her topic), the log and the
        # new topic are closed to her, and the kick event goes to the new topic
        backend.rekey(remove=uid)
        backend.emit("player_left", playerId=seat["id"], userId=uid, reason="kicked", kickReason="afk")
        backend.emit("game_state", changes={"setVariables": {"secret": "the vault code"}}, version=2)
        await until(lambda: conn.closed)
        assert conn.delivered_seqs == []  # the rekey poke reached her socket, no content did
        assert isinstance(conn.error, NotInSession) and conn.error.details == "kicked"
        assert all(t == old_topic for t, u, ok in backend.realtime.joins if u == uid and ok)


async def test_rekey_moves_to_the_new_topic_and_catches_up(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    _, player = await seer_and_player(backend, make_client)
    uid = backend.users["pia@example.com"]["id"]
    async with player.connect(s.SESSION_ID, **FAST) as conn:
        backend.emit()
        await conn.wait_for_seq(1)
        first = conn.topic
        assert first == backend.topic and first.startswith(f"session:{s.SESSION_ID}:")
        tracks = len(backend.realtime.tracks)
        backend.rekey(remove=None)  # someone else was removed
        backend.emit(live=False)  # written before we joined the new topic: caught up by seq
        await until(lambda: conn.rekeys == 1 and conn.topic == backend.topic and conn.last_seq == 2)
        assert conn.topic != first and conn.status is ConnectionStatus.CONNECTED
        assert conn.reconnects == 0  # a rekey is no reconnect
        await until(lambda: len(backend.realtime.tracks) > tracks)  # presence tracked again
        assert uid in backend.realtime.online(conn.topic)
        backend.emit()  # live on the new topic
        await conn.wait_for_seq(3)
        assert conn.delivered_seqs == [1, 2, 3] and conn.live_delivered >= 2


async def test_heartbeat_not_in_session_stops_the_connection(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    _, player = await seer_and_player(backend, make_client)
    uid = backend.users["pia@example.com"]["id"]
    async with player.connect(s.SESSION_ID, **{**FAST, "heartbeat_interval": 0.05}) as conn:
        backend.handlers["heartbeat"] = lambda u, body: FakeBackend.err(
            "SESSION_006", 403, "not in session", "kicked"
        )
        await until(lambda: conn.closed)
        assert isinstance(conn.error, NotInSession)
        heartbeats = len(backend.rpc_calls("heartbeat"))
        await asyncio.sleep(0.2)
        assert len(backend.rpc_calls("heartbeat")) == heartbeats
    assert uid in backend.realtime.leaves


async def test_refreshed_token_is_pushed_to_the_open_channel(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    _, player = await seer_and_player(backend, make_client)
    async with player.connect(s.SESSION_ID, **FAST) as conn:
        response = await player.supabase.auth.refresh_session()
        assert response.session is not None
        new_token = response.session.access_token
        await until(lambda: new_token in backend.realtime.token_pushes)
        backend.emit()
        await conn.wait_for_seq(1)
        assert conn.reconnects == 0
        # a later reconnect joins with the new token, not the stale one from connect time
        backend.realtime.kill()
        await until(lambda: conn.reconnects == 1)
        assert backend.realtime.joins[-1] == (backend.topic, backend.tokens[new_token], True)


async def test_iterator_started_during_a_slow_callback_sees_each_event_once(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    _, player = await seer_and_player(backend, make_client)
    gate = asyncio.Event()

    async def slow(event) -> None:
        if event.seq == 2:
            await gate.wait()

    async with player.connect(s.SESSION_ID, on_event=slow, **FAST) as conn:
        for _ in range(3):
            backend.emit()
        await until(lambda: conn.last_seq == 1)
        got: list[int] = []

        async def consume() -> None:
            async for event in conn.events():
                got.append(event.seq)
                if event.seq == 3:
                    return

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        assert conn.last_seq == 1 and conn.delivered_seqs == [1]  # 2 is still in its callback
        gate.set()
        await asyncio.wait_for(consumer, 5)
        assert got == [1, 2, 3]


async def test_rate_limit_close_rejoins_after_a_full_jitter_pause_and_warns(
    backend: FakeBackend, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    _, player = await seer_and_player(backend, make_client)
    async with player.connect(s.SESSION_ID, rate_limit_backoff=1.0, max_reconnect_attempts=1, **FAST) as conn:
        slept: list[float] = []
        sleep = conn._sleep

        async def record(delay: float) -> None:
            slept.append(delay)
            await sleep(delay)

        conn._sleep = record  # type: ignore[method-assign]
        with caplog.at_level(logging.WARNING, logger="seer_client"):
            for closes in (1, 2, 3):  # more closes than the reconnect budget: never gives up
                backend.realtime.close_channel(backend.topic, "Too many messages per second")
                await until(lambda n=closes: conn.reconnects == n and conn.status == "connected")
        assert conn.rate_limit_closes == 3 and conn.error is None
        # each pause is drawn from [0, cap] (full jitter); the cap doubles per close of the same
        # episode (Realtime's rates are minute averages), a quick rejoin in between or not
        assert len(slept) == 3 and all(
            0.0 <= d <= cap for d, cap in zip(slept, (1.0, 2.0, 4.0), strict=True)
        ), slept
        warnings = [r for r in caplog.records if "rate-limited" in r.getMessage()]
        assert len(warnings) == 1  # one WARNING per minute while throttled, not one per close
        assert "Too many messages per second" in warnings[0].getMessage()


def test_rate_limit_delay_is_full_jitter_with_a_doubling_cap() -> None:
    conn = SessionConnection.__new__(SessionConnection)
    conn.rate_limit_backoff, conn.rate_limit_backoff_max = 30.0, 120.0
    for closes, cap in ((1, 30.0), (2, 60.0), (3, 120.0), (9, 120.0)):
        draws = [conn.rate_limit_delay(closes) for _ in range(2000)]
        assert all(0.0 <= d <= cap for d in draws)
        # spread over the whole window (not a +-10 % band around the cap)
        assert min(draws) < 0.05 * cap and max(draws) > 0.95 * cap
        assert 0.4 * cap < sum(draws) / len(draws) < 0.6 * cap


async def test_wait_timeouts_are_the_sdks_timeout_error(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    """wait_for/wait_for_seq/sync time out with seer_client.TimeoutError (a TransportError and a
    builtin TimeoutError), the same error RPC timeouts raise, so one `except SeerError` covers it."""
    import builtins

    from seer_client import SeerError
    from seer_client import TimeoutError as SeerTimeout

    _, player = await seer_and_player(backend, make_client)
    async with player.connect(s.SESSION_ID, **FAST) as conn:
        for wait in (
            conn.wait_for(lambda e: False, timeout=0.05),
            conn.wait_for_seq(conn.last_seq + 10, timeout=0.05),
        ):
            with pytest.raises(SeerTimeout) as info:
                await wait
            assert isinstance(info.value, TransportError | SeerError | builtins.TimeoutError)
            assert "0.05" in str(info.value)


async def test_channel_key_is_in_no_info_log(
    backend: FakeBackend, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 19, finding 5: realtime-py logs `channel realtime:session:<id>:<key> leave` at INFO
    (and join errors name the topic). Every record at INFO or above, from the SDK or the realtime
    client it drives, shows `session:<id>:…` instead of the key."""
    from seer_client._realtime_link import redact

    _, player = await seer_and_player(backend, make_client)
    keys = [backend.channel_key]
    with caplog.at_level(logging.INFO):
        async with player.connect(s.SESSION_ID, **FAST, rekey_spread=0.0) as conn:
            backend.rekey()  # the old topic gets the poke; the connection moves
            keys.append(backend.channel_key)
            await until(lambda: conn.rekeys == 1 and conn.connects == 2)
            backend.realtime.close_channel(backend.topic, f"You do not have permissions: {backend.topic}")
            await until(lambda: conn.reconnects == 1)
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert any("realtime._async" in r.name for r in caplog.records)  # realtime-py did log
    assert any(f"session:{s.SESSION_ID}:…" in m for m in messages)  # ... the redacted topic
    leaks = [m for m in messages for key in keys if key in m]
    assert not leaks, leaks
    assert redact(f"x session:{s.SESSION_ID}:{keys[0]} y") == f"x session:{s.SESSION_ID}:… y"


async def test_lost_rekey_poke_is_found_by_the_next_heartbeat(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    """The poke is lost: the next heartbeat reports a newer channel generation, and the
    connection joins the current topic and catches up (no reconnect counted)."""
    _, player = await seer_and_player(backend, make_client)
    opts = {**FAST, "heartbeat_interval": 0.3, "rekey_spread": 0.0}
    async with player.connect(s.SESSION_ID, **opts) as conn:
        old = conn.topic
        backend.rekey(poke=False)
        backend.emit()  # goes to the new topic only
        await until(lambda: conn.stale_topic_rejoins == 1 and conn.connects == 2, limit=3)
        assert conn.topic == backend.topic != old and conn.channel_generation == 1
        await conn.wait_for_seq(1)
        backend.emit()
        await conn.wait_for_seq(2)
        assert conn.live_delivered >= 1 and conn.reconnects == 0 and conn.rekeys == 1


async def test_reconnect_skips_the_wait(backend: FakeBackend, make_client: ClientFactory) -> None:
    _, player = await seer_and_player(backend, make_client)
    slow = {**FAST, "backoff_base": 30.0, "backoff_max": 30.0, "backoff_jitter": 0.0}
    uid = backend.users["pia@example.com"]["id"]
    async with player.connect(s.SESSION_ID, **slow) as conn:
        backend.realtime.kill(uid)
        await until(lambda: conn.status is ConnectionStatus.RECONNECTING)
        await asyncio.sleep(0.2)  # now waiting 60 s for attempt 1
        assert conn.reconnects == 0
        conn.reconnect()  # try now
        await until(lambda: conn.reconnects == 1 and conn.status is ConnectionStatus.CONNECTED, limit=3)
        first = conn._link.channel if conn._link is not None else None
        conn.reconnect()  # while connected: a fresh link at once
        await until(lambda: conn.reconnects == 2 and conn.status is ConnectionStatus.CONNECTED, limit=3)
        assert conn._link is not None and conn._link.channel is not first


async def _server_down_then_up(backend: FakeBackend, conn: SessionConnection, uid: str) -> None:
    """The socket dies and the next attempt fails on an RPC (the server is down); the attempt
    after it is 30 s away."""
    conn.backoff_delay = lambda attempt: 0.05 if attempt == 1 else 30.0  # type: ignore[method-assign]
    backend.fail["session_topic"] = [503] * 3  # the attempt's topic read, retries included
    backend.realtime.kill(uid)
    await until(lambda: conn.status is ConnectionStatus.RECONNECTING and not backend.fail["session_topic"])


async def test_successful_heartbeat_while_reconnecting_tries_at_once(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    """Issue 19, finding 4: the server came back while the connection waits out its backoff:
    the heartbeat RPC that keeps running succeeds, and the next attempt starts at once."""
    _, player = await seer_and_player(backend, make_client)
    uid = backend.users["pia@example.com"]["id"]
    async with player.connect(s.SESSION_ID, **{**FAST, "heartbeat_interval": 0.3}) as conn:
        await _server_down_then_up(backend, conn, uid)
        await until(lambda: conn.reconnects == 1 and conn.status is ConnectionStatus.CONNECTED, limit=3)


async def test_successful_rpc_while_reconnecting_tries_at_once(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    _, player = await seer_and_player(backend, make_client)
    uid = backend.users["pia@example.com"]["id"]
    async with player.connect(s.SESSION_ID, **FAST) as conn:
        await _server_down_then_up(backend, conn, uid)
        await asyncio.sleep(0.2)
        assert conn.reconnects == 0  # waiting 30 s for attempt 2
        await player.get_session(s.SESSION_ID)  # any RPC that succeeds
        await until(lambda: conn.reconnects == 1 and conn.status is ConnectionStatus.CONNECTED, limit=3)


async def test_successful_rpc_after_a_realtime_failure_does_not_spend_the_budget(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    """Realtime down, REST up: RPCs succeed but prove nothing about Realtime; the backoff holds."""
    _, player = await seer_and_player(backend, make_client)
    uid = backend.users["pia@example.com"]["id"]
    async with player.connect(s.SESSION_ID, **FAST) as conn:
        conn.backoff_delay = lambda attempt: 30.0  # type: ignore[method-assign]
        backend.realtime.kill(uid)
        await until(lambda: conn.status is ConnectionStatus.RECONNECTING)
        for _ in range(5):
            await player.get_session(s.SESSION_ID)
        await asyncio.sleep(0.2)
        assert conn.reconnects == 0 and conn.status is ConnectionStatus.RECONNECTING
