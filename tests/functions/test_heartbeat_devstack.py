"""The `heartbeat` Edge Function (the collector) end to end: devstack (Postgres + gateway + Deno)
and the SDK. A party's concurrent heartbeats are one database transaction; the slow path
(restoring a disconnected seat) and every refusal are the heartbeat RPC's own answers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import psycopg
import pytest
import pytest_asyncio

from seer_client import NotInSession, SessionNotFound
from seer_client._client import SeerClient
from seer_devstack.stack import DevStack

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADVENTURE = "00000000-0000-4000-8000-00000000a001"  # supabase/seed.sql: The Sunken Lantern


@dataclass
class Party:
    stack: DevStack
    db_url: str
    sid: str
    seer: SeerClient
    players: list[SeerClient]

    async def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        async with await psycopg.AsyncConnection.connect(self.db_url, autocommit=True) as conn:
            cur = await conn.execute(sql, args)
            return await cur.fetchall()


async def _user(stack: DevStack, name: str) -> SeerClient:
    client = await SeerClient.create(stack.url, stack.anon_key)
    await client.sign_up(f"hb-{uuid.uuid4().hex}@seer.test", "correct horse 42", display_name=name)
    return client


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def party(database_url: str, deno: str) -> AsyncIterator[Party]:
    async with DevStack(database_url=database_url) as stack:
        seer = await _user(stack, "Seer")
        sid = str((await seer.create_session(ADVENTURE)).session.id)
        players = []
        for i in range(5):
            p = await _user(stack, f"P{i}")
            hero = await p.create_character(name=f"Hero {i}", character_class="Ranger")
            await p.join_session(sid, character_id=hero.id)
            players.append(p)
        await seer.start_session(sid)
        try:
            yield Party(stack, database_url, sid, seer, players)
        finally:
            for c in (seer, *players):
                await c.close()


async def test_a_partys_concurrent_heartbeats_are_one_transaction(party: Party) -> None:
    clients = [party.seer, *party.players]
    direct = await party.players[0].heartbeat(party.sid, batched=False)
    await party.players[0].heartbeat(party.sid)  # the function's worker is up (a cold start is ~1 s)
    beats = await asyncio.gather(*(c.heartbeat(party.sid) for c in clients))
    # the answers are the RPC's
    assert [b.status for b in beats] == ["seer"] + ["connected"] * 5
    assert beats[1].model_dump(exclude={"server_time"}) == direct.model_dump(exclude={"server_time"})
    assert all(not b.restored for b in beats)
    # batched: now() is the transaction's start, the same for every row one transaction wrote
    # (six beats sent at once arrive within one 100 ms window here; a slow moment may split them)
    times = await party.rows(
        "select last_heartbeat_at from seer_private.seat_liveness where session_id = %s"
        " union all select last_heartbeat_at from seer_private.seer_liveness where session_id = %s",
        party.sid,
        party.sid,
    )
    assert len(times) == 6 and len({t for (t,) in times}) < 6, times
    assert len({b.server_time for b in beats}) == len({t for (t,) in times})


async def test_a_disconnected_seat_is_restored_through_the_collector(party: Party) -> None:
    player = party.players[1]
    uid = await player.user_id()
    await party.rows(
        "update seer_private.seat_liveness set last_heartbeat_at = now() - interval '2 minutes'"
        " where session_id = %s and user_id = %s returning 1",
        party.sid,
        uid,
    )
    await party.rows("select seer_private.sweep(now())::text")
    seat = await party.rows(
        "select status from public.session_players where session_id = %s and user_id = %s", party.sid, uid
    )
    assert seat == [("disconnected",)]
    beat = await player.heartbeat(party.sid)
    assert beat.restored and beat.status == "connected"
    events = await party.rows(
        "select type from public.session_events where session_id = %s order by seq desc limit 1", party.sid
    )
    assert events == [("player_connection",)]


async def test_refusals_are_the_rpcs(party: Party) -> None:
    stranger = await _user(party.stack, "Stranger")
    try:
        with pytest.raises(SessionNotFound):
            await stranger.heartbeat(party.sid)
        assert stranger._project.heartbeat_collector, "a SESSION_001 404 is not 'no function'"
    finally:
        await stranger.close()
    kicked = party.players[4]
    seat = await party.seer.get_session(party.sid)
    me = await kicked.user_id()
    pid = next(p.id for p in seat.players if str(p.user_id) == me)
    await party.seer.kick_player(party.sid, player_id=pid)
    with pytest.raises(NotInSession):
        await kicked.heartbeat(party.sid)


async def test_what_the_function_refuses_itself(party: Party) -> None:
    url = f"{party.stack.url}/functions/v1/heartbeat"
    token = await party.players[0].access_token()
    auth = {"apikey": party.stack.anon_key, "Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        # no user token: the gateway (verify_jwt) refuses before the function runs
        async with http.post(url, json={"sessionId": party.sid}) as r:
            assert r.status == 401
        for body in ({"sessionId": "nope"}, {}, [party.sid], "x" * 2048):
            async with http.post(url, json=body, headers=auth) as r:
                assert r.status == 400, body
                assert (await r.json())["code"] == "SESSION_000"
        async with http.get(url, headers=auth) as r:
            assert r.status == 405
        # the anon key is a valid JWT but no user's: the database answers it (PostgREST's 401)
        anon = {"apikey": party.stack.anon_key, "Authorization": f"Bearer {party.stack.anon_key}"}
        async with http.post(url, json={"sessionId": party.sid}, headers=anon) as r:
            assert r.status == 401
            assert (await r.json())["code"] == "42501"
