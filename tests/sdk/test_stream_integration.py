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
        old_topic, start = conn.topic, conn.last_seq
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
            lambda: conn.rekeys == 1 and conn.channel_generation == 1,
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
