"""The session stream on the devstack: lost database broadcasts and presence spoofing."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from seer_devstack.stack import DevStack

from .test_integration import ADVENTURE_ID, FAST, Factory, Person, new_person, person, until  # noqa: F401

pytestmark = pytest.mark.devstack


@pytest.fixture
def people(person: Factory) -> Factory:  # noqa: F811 - test_integration's fixture
    return person


async def _table(make: Factory) -> tuple[Person, Person, Person, str]:
    seer, aria, bram = await make("Seer"), await make("Aria"), await make("Bram")
    session = (await seer.client.create_session(ADVENTURE_ID)).session
    for p in (aria, bram):
        await p.client.join_session(session.id, character_id=p.character.id)
    await seer.client.start_session(session.id)
    return seer, aria, bram, session.id


async def _exactly_once_in_order(make: Factory, rate_control, events: int) -> list:
    seer, aria, bram, sid = await _table(make)
    got: dict[str, list[int]] = {p.name: [] for p in (seer, aria, bram)}
    opts = {**FAST, "heartbeat_interval": 0.3}
    conns = [
        await p.client.connect(sid, on_event=lambda e, n=p.name: got[n].append(e.seq), **opts).__aenter__()
        for p in (seer, aria, bram)
    ]
    try:
        start = {c.user_id: c.last_seq for c in conns}
        rate_control()
        for i in range(events):
            await seer.client.update_game_state(sid, {"setVariables": {"i": i}})
        final = (await seer.client.get_session(sid)).last_seq
        await until(lambda: all(c.last_seq >= final for c in conns), limit=15)
        await asyncio.sleep(0.4)  # a further heartbeat must not deliver anything twice
        for c, name in zip(conns, got, strict=True):
            expected = list(range(start[c.user_id] + 1, final + 1))
            assert got[name] == expected, (name, got[name], expected)
        return conns
    finally:
        for c in conns:
            await c.close()


async def test_db_broadcast_drops_at_30_percent_exactly_once_in_order(people: Factory, devstack) -> None:
    before = devstack.realtime.dropped_db_broadcasts
    try:
        conns = await _exactly_once_in_order(
            people, lambda: devstack.realtime.set_drop_db_broadcasts(0.3), 30
        )
    finally:
        devstack.realtime.set_drop_db_broadcasts(0.0)
    assert devstack.realtime.dropped_db_broadcasts > before
    assert all(c.recovered > 0 for c in conns)  # some events came only through heartbeat/gap reads


async def test_db_broadcast_drops_at_100_percent_exactly_once_in_order(
    database_url: str,
) -> None:
    # A stack of its own, built with the switch (DevStack(drop_db_broadcasts=1.0)).
    async with DevStack(database_url=database_url, bcrypt_rounds=4, drop_db_broadcasts=1.0) as lossy:
        assert "DB broadcasts dropped" in lossy.status()

        async def make(name: str) -> Person:
            return await new_person(lossy.url, lossy.anon_key, name, made)

        made: list = []
        try:
            conns = await _exactly_once_in_order(make, lambda: None, 8)
        finally:
            for client in made:
                await client.close()
        assert lossy.realtime.dropped_db_broadcasts >= 8
        assert lossy.status()["DB broadcasts dropped"].startswith(str(lossy.realtime.dropped_db_broadcasts))
        # No broadcast ever arrived: every event was found by a heartbeat (lastSeq) and read from the log.
        assert all(c.recovered >= 8 and c.discarded_broadcasts == 0 and c.live_delivered == 0 for c in conns)


async def test_presence_cannot_impersonate_an_absent_player(people: Factory, devstack) -> None:
    seer, aria, bram, sid = await _table(people)
    await bram.client.leave_session(sid)  # mid-game: his seat stays, inactive, played by the Seer
    async with seer.client.connect(sid, **FAST) as seer_conn:
        # Aria tracks presence under Bram's user id (and under a made-up one) on a raw socket.
        token = await aria.client.access_token()
        ws_base = devstack.url.replace("http", "ws", 1)
        url = f"{ws_base}/realtime/v1/websocket?apikey={devstack.anon_key}&vsn=1.0.0"
        sockets = []
        async with aiohttp.ClientSession() as http:
            for key in (bram.user_id, "00000000-0000-4000-8000-0000000fa4e0"):
                ws = await http.ws_connect(url)
                sockets.append(ws)
                topic = f"realtime:{await aria.client.session_topic(sid)}"
                cfg = {
                    "config": {"presence": {"key": key, "enabled": True}, "private": True},
                    "access_token": token,
                }
                await ws.send_str(
                    json.dumps({"topic": topic, "event": "phx_join", "payload": cfg, "ref": "1"})
                )
                meta = {"user_id": key, "online_at": "2026-12-01T00:00:00Z", "status": "online"}
                await ws.send_str(
                    json.dumps(
                        {
                            "topic": topic,
                            "event": "presence",
                            "payload": {"type": "presence", "event": "track", "payload": meta},
                            "ref": "2",
                        }
                    )
                )
            await until(lambda: bram.user_id in seer_conn.lobby.tracked and len(seer_conn.lobby.tracked) >= 3)
            states = {p.user_id: p.state for p in seer_conn.presence()}
            assert states[bram.user_id] == "inactive"  # not "online": the server says he left
            assert "00000000-0000-4000-8000-0000000fa4e0" not in states
            assert "00000000-0000-4000-8000-0000000fa4e0" in seer_conn.lobby.ignored_presence_keys


async def test_lost_rekey_poke_converges_within_one_heartbeat(people: Factory, devstack) -> None:
    """Issue 19, finding 1: every database broadcast dropped only during kick_player (the rekey
    poke on the old topic included). The player used to stay on the old topic and get each
    later event only at its next heartbeat; now that heartbeat reports a newer channel
    generation and the player moves to the current topic: live again within one interval."""
    seer, aria, bram, sid = await _table(people)
    got: list[int] = []
    interval = 5.0
    async with aria.client.connect(
        sid, heartbeat_interval=interval, on_event=lambda e: got.append(e.seq), **FAST
    ) as conn:
        old_topic, start, connects = conn.topic, conn.last_seq, conn.connects
        seat = next(p for p in (await seer.client.get_session(sid)).players if p.user_id == bram.user_id)
        dropped = devstack.realtime.dropped_db_broadcasts
        devstack.realtime.set_drop_db_broadcasts(1.0)
        try:
            await seer.client.kick_player(sid, player_id=seat.id)
            # the poke on the old topic and the kick event on the new one (delivery is async)
            await until(lambda: devstack.realtime.dropped_db_broadcasts >= dropped + 2, limit=5)
        finally:
            devstack.realtime.set_drop_db_broadcasts(0.0)
        kicked_at = asyncio.get_running_loop().time()
        for i in range(3):  # the three updates, one second apart
            await seer.client.update_game_state(sid, {"setVariables": {"i": i}})
            await asyncio.sleep(1.0)
        # one heartbeat interval (plus the rekey spread of up to 1 s) after the kick
        await until(
            lambda: conn.rekeys == 1 and conn.connects == connects + 1,  # joined the new topic
            limit=interval + 1.5,
        )
        moved_after = asyncio.get_running_loop().time() - kicked_at
        assert conn.stale_topic_rejoins == 1 and conn.topic != old_topic
        # live again: the next events arrive as broadcasts on the new topic
        live = conn.live_delivered
        for i in range(3):
            await seer.client.update_game_state(sid, {"setVariables": {"j": i}})
        final = (await seer.client.get_session(sid)).last_seq
        await until(lambda: conn.last_seq >= final, limit=3)
        assert conn.live_delivered - live == 3
        assert got == list(range(start + 1, final + 1))  # exactly once, in order
    print(
        f"lost rekey poke: on the current topic {moved_after:.1f} s after the kick (heartbeat {interval} s)"
    )


async def test_ten_second_outage_at_the_default_heartbeat_heals_at_once(people: Factory, devstack) -> None:
    """Issue 19, finding 2: Realtime loses every database broadcast while its replication
    connection is down (seconds to minutes). A 10 s outage at the shipped 30 s heartbeat:
    every event exactly once, in order, and live again at the first event after the outage
    (well within one heartbeat interval)."""
    seer, aria, bram, sid = await _table(people)
    got: dict[str, list[int]] = {p.name: [] for p in (seer, aria, bram)}
    conns = [
        await p.client.connect(sid, on_event=lambda e, n=p.name: got[n].append(e.seq), **FAST).__aenter__()
        for p in (seer, aria, bram)
    ]
    try:
        assert all(c.heartbeat_interval == 30.0 for c in conns)  # the default
        start = {c.user_id: c.last_seq for c in conns}
        lost = devstack.realtime.counts["DB broadcasts lost (outage)"]
        loop = asyncio.get_running_loop()
        devstack.realtime_outage(10)
        began = loop.time()
        i = 0
        while loop.time() - began < 10.0:  # one event a second throughout the outage
            await seer.client.update_game_state(sid, {"setVariables": {"i": i}})
            i += 1
            await asyncio.sleep(1.0)
        await asyncio.sleep(max(0.0, began + 10.05 - loop.time()))
        assert devstack.realtime.counts["DB broadcasts lost (outage)"] - lost == i  # every one
        assert all(c.last_seq == start[c.user_id] for c in conns)  # nothing arrived meanwhile
        ended = loop.time()
        await seer.client.update_game_state(sid, {"setVariables": {"after": 0}})  # play resumes
        first = (await seer.client.get_session(sid)).last_seq
        await until(lambda: all(c.last_seq >= first for c in conns), limit=5)
        healed = loop.time() - ended  # its seq showed the hole: the log filled it at once
        assert healed < 30.0
        live = [c.live_delivered for c in conns]
        for j in range(1, 3):  # and the next events arrive live again
            await seer.client.update_game_state(sid, {"setVariables": {"after": j}})
            seq = (await seer.client.get_session(sid)).last_seq
            await until(lambda s=seq: all(c.last_seq >= s for c in conns), limit=5)
        final = (await seer.client.get_session(sid)).last_seq
        for c, name in zip(conns, got, strict=True):
            assert got[name] == list(range(start[c.user_id] + 1, final + 1)), name  # exactly once, in order
            assert c.recovered >= i  # the outage's events came from the log
        assert all(c.live_delivered - before == 2 for c, before in zip(conns, live, strict=True))
        print(f"10 s outage: all three connections caught up {healed:.2f} s after it ended (heartbeat 30 s)")
    finally:
        for c in conns:
            await c.close()


async def test_over_the_tenant_limits_nothing_is_lost_and_rejoins_are_spread(database_url: str) -> None:
    """Issue 19, finding 3, on a stack of its own with small limits and a short tick.

    Presence/s: three participants joining and tracking at once go over 3 presence messages
    per second; Realtime closes their channels ("Too many presence messages per second") and
    the SDK rejoins after full-jitter pauses (spread, not in step), without using up its
    reconnect budget. Messages/s: 40 events x (1 + 3 deliveries) in 2 s go over 8/s; Realtime
    drops database broadcasts while the limit holds (a burst loss for every subscriber).
    Every event is still delivered exactly once, in order."""
    async with DevStack(
        database_url=database_url,
        bcrypt_rounds=4,
        realtime_max_events_per_second=8,
        realtime_max_presence_events_per_second=3,
        realtime_rate_tick=0.5,
    ) as small:
        made: list = []

        async def make(name: str) -> Person:
            return await new_person(small.url, small.anon_key, name, made)

        try:
            seer, aria, bram, cato = [await make(n) for n in ("Seer", "Aria", "Bram", "Cato")]
            sid = (await seer.client.create_session(ADVENTURE_ID)).session.id
            for p in (aria, bram, cato):
                await p.client.join_session(sid, character_id=p.character.id)
            await seer.client.start_session(sid)
            got: dict[str, list[int]] = {p.name: [] for p in (seer, aria, bram)}
            connected_at: dict[str, list[float]] = {p.name: [] for p in (seer, aria, bram)}
            loop = asyncio.get_running_loop()

            def status(name: str, value: str) -> None:
                if value == "connected":
                    connected_at[name].append(loop.time())

            opts = {
                **FAST,
                "heartbeat_interval": 1.0,
                "rate_limit_backoff": 2.0,
                "rate_limit_backoff_max": 4.0,
                "max_reconnect_attempts": 1,
            }

            async def connect(p: Person):
                return await p.client.connect(
                    sid,
                    on_event=lambda e, n=p.name: got[n].append(e.seq),
                    on_status_change=lambda v, n=p.name: status(n, v),
                    **opts,
                ).__aenter__()

            conns = list(await asyncio.gather(*(connect(p) for p in (seer, aria, bram))))
            try:
                start = {c.user_id: c.last_seq for c in conns}
                # presence/s: the joins' syncs and tracks fill the window; a removal then makes
                # everyone re-join and re-track at once (the rekey): closed as Realtime closes
                # them, rejoined after full-jitter pauses, never given up
                await asyncio.sleep(0.6)  # one tick: the rate is known
                seat = next(
                    p for p in (await seer.client.get_session(sid)).players if p.user_id == cato.user_id
                )
                await seer.client.kick_player(sid, player_id=seat.id)
                await until(lambda: sum(c.rate_limit_closes for c in conns) >= 1, limit=15)
                assert small.realtime.counts["closed (presence/s)"] >= 1
                await until(
                    lambda: all(c.status == "connected" and c.channel_generation == 1 for c in conns),
                    limit=40,
                )
                await asyncio.sleep(1.0)
                await until(lambda: all(c.status == "connected" for c in conns), limit=40)
                presence_closes = [c.rate_limit_closes for c in conns]
                assert all(c.error is None for c in conns)
                rejoins = sorted(t for times in connected_at.values() for t in times[1:])
                if len(rejoins) > 1:
                    assert rejoins[-1] - rejoins[0] > 0.05, rejoins  # not in step
                # messages/s: database broadcasts dropped while the limit holds
                for i in range(40):
                    await seer.client.update_game_state(sid, {"setVariables": {"i": i}})
                    await asyncio.sleep(0.05)
                counts = small.realtime.counts
                assert counts["DB broadcasts dropped (limit)"] >= 1
                final = (await seer.client.get_session(sid)).last_seq
                await until(lambda: all(c.last_seq >= final for c in conns), limit=40)
                for c, name in zip(conns, got, strict=True):
                    assert got[name] == list(range(start[c.user_id] + 1, final + 1)), name
                    assert c.error is None  # never gave up (the budget of 1 would have run out)
                hits = small.status()["Realtime limit hits"]
                assert "closed (presence/s)" in hits and "DB broadcasts dropped (limit)" in hits
                print(
                    "limits:", hits, "| SDK rate-limit closes:", presence_closes, [c.recovered for c in conns]
                )
            finally:
                for c in conns:
                    await c.close()
        finally:
            for client in made:
                await client.close()
