"""Concurrency guarantees of the session RPCs, against a real Postgres:

* 64 simultaneous joins to a 6-seat session seat exactly 6 (the rest get SESSION_003),
* event seqs stay gap-free and duplicate-free under many concurrent writers, and every event
  is broadcast whole by one realtime.messages row on the session's keyed topic,
* optimistic concurrency on the game state loses no update.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import asyncpg

from .conftest import ADVENTURE_ID, RpcError, call_as, create_character, create_user


async def _end(pool: asyncpg.Pool, seer: str, session_id: str) -> None:
    """Leave nothing live behind for other suites sharing the cluster (e.g. the sweeper's)."""
    async with pool.acquire() as conn:
        try:
            await call_as(conn, seer, "select public.end_session($1, 'cancelled')", session_id)
        except RpcError:
            pass


async def test_concurrent_join_race_seats_exactly_max_players(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        seer = await create_user(conn, "seer")
        session = await call_as(conn, seer, "select public.create_session($1, '{}', 6)", ADVENTURE_ID)
        sid = session["id"]
        players = []
        for i in range(64):
            uid = await create_user(conn, f"p{i}")
            players.append((uid, await create_character(conn, uid, f"Hero {i}")))

    conns = [await pool.acquire() for _ in players]
    try:
        start = asyncio.Event()

        async def join(conn: asyncpg.Connection, uid: str, char: str) -> str:
            await start.wait()
            try:
                await call_as(conn, uid, "select public.join_session($1, $2)", sid, char)
            except RpcError as err:
                return f"{err.code}:{err.status}"
            return "seated"

        tasks = [asyncio.create_task(join(c, u, ch)) for c, (u, ch) in zip(conns, players, strict=True)]
        await asyncio.sleep(0.05)
        start.set()
        outcomes = Counter(await asyncio.gather(*tasks))
    finally:
        for c in conns:
            await pool.release(c)

    assert outcomes == Counter({"seated": 6, "SESSION_003:422": 58})
    async with pool.acquire() as conn:
        seats = await conn.fetchval("select count(*) from public.session_players where session_id = $1", sid)
        live = await conn.fetchval(
            "select count(*) from public.session_players where session_id = $1 and left_at is null", sid
        )
        joined_events = await conn.fetchval(
            "select count(*) from public.session_events where session_id = $1 and type = 'player_joined'", sid
        )
        last_seq = await conn.fetchval("select last_seq from public.sessions where id = $1", sid)
    assert (seats, live, joined_events, last_seq) == (6, 6, 6, 7)
    await _end(pool, seer, sid)


async def test_seq_is_gap_free_under_concurrent_writers(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        seer = await create_user(conn, "seer")
        session = await call_as(
            conn, seer, """select public.create_session($1, '{"allowLateJoin": true}', 6)""", ADVENTURE_ID
        )
        sid = session["id"]
        seated: list[tuple[str, str]] = []
        for i in range(3):
            uid = await create_user(conn, f"s{i}")
            char = await create_character(conn, uid)
            await call_as(conn, uid, "select public.join_session($1, $2)", sid, char)
            seated.append((uid, char))
        late: list[tuple[str, str]] = []
        for i in range(8):
            uid = await create_user(conn, f"l{i}")
            late.append((uid, await create_character(conn, uid)))
        await call_as(conn, seer, "select public.start_session($1)", sid)

    outcomes: Counter[str] = Counter()

    async def attempt(uid: str, sql: str, *args: object) -> None:
        async with pool.acquire() as conn:
            try:
                await call_as(conn, uid, sql, *args)
                outcomes["ok"] += 1
            except RpcError as err:
                outcomes[err.code] += 1

    async def seer_writer() -> None:
        for i in range(30):
            await attempt(
                seer,
                "select public.update_game_state($1, $2::jsonb)",
                sid,
                json.dumps({"addFlags": [f"f{i}"], "setVariables": {"i": i}}),
            )

    async def player(uid: str, char: str) -> None:
        for _ in range(8):
            await attempt(uid, "select public.leave_session($1)", sid)  # -> inactive, event
            # a leave is final for the connection: 006, nothing written
            await attempt(uid, "select public.heartbeat($1)", sid)
            await attempt(uid, "select public.join_session($1, $2)", sid, char)  # -> restored, event
            await asyncio.sleep(random.random() / 100)

    async def late_joiner(uid: str, char: str) -> None:
        await attempt(uid, "select public.join_session($1, $2)", sid, char)  # 3 fit, 5 get 003

    async def sweeper() -> None:
        for _ in range(5):
            async with pool.acquire() as conn:
                await conn.fetchval("select seer_private.sweep(now() + interval '61 seconds')")
            await asyncio.sleep(0.01)

    await asyncio.gather(
        seer_writer(),
        *(player(u, c) for u, c in seated),
        *(late_joiner(u, c) for u, c in late),
        sweeper(),
    )
    assert outcomes["SESSION_003"] == 5, outcomes
    assert outcomes["SESSION_006"] == 3 * 8, outcomes
    assert set(outcomes) <= {"ok", "SESSION_003", "SESSION_006", "SESSION_008"}, outcomes

    async with pool.acquire() as conn:
        seqs = [
            r["seq"]
            for r in await conn.fetch(
                "select seq from public.session_events where session_id = $1 order by seq", sid
            )
        ]
        last_seq = await conn.fetchval("select last_seq from public.sessions where id = $1", sid)
        broadcast = await conn.fetch(
            """select (m.payload ->> 'seq')::bigint as seq, m.event, m.payload - 'id' as payload
               from realtime.messages m where m.topic like 'session:' || $1::text || ':%'""",
            sid,
        )
        events = {
            r["seq"]: (r["type"], r["payload"])
            for r in await conn.fetch(
                "select seq, type, payload from public.session_events where session_id = $1", sid
            )
        }
        version = await conn.fetchval("select state_version from public.sessions where id = $1", sid)
    assert len(seqs) > 60
    assert seqs == list(range(1, last_seq + 1)), "seq must be 1..N without gaps or duplicates"
    assert sorted(r["seq"] for r in broadcast) == seqs, "one broadcast per event"
    for r in broadcast:  # the whole logged event, on the keyed topic (docs/security.md)
        kind, payload = events[r["seq"]]
        assert r["event"] == kind
        assert json.loads(r["payload"]) == json.loads(payload)
    assert version == 30
    await _end(pool, seer, sid)


async def test_optimistic_concurrency_loses_no_update(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        seer = await create_user(conn, "seer")
        uid = await create_user(conn, "pia")
        char = await create_character(conn, uid)
        sid = (await call_as(conn, seer, "select public.create_session($1)", ADVENTURE_ID))["id"]
        await call_as(conn, uid, "select public.join_session($1, $2)", sid, char)
        await call_as(conn, seer, "select public.start_session($1)", sid)

    # Round 1: everybody sends the same expected version at once: exactly one wins.
    conns = [await pool.acquire() for _ in range(16)]
    try:

        async def stale(conn: asyncpg.Connection, i: int) -> str:
            try:
                await call_as(
                    conn,
                    seer,
                    "select public.update_game_state($1, $2::jsonb, 0)",
                    sid,
                    json.dumps({"setVariables": {"winner": i}}),
                )
            except RpcError as err:
                return err.code
            return "ok"

        results = Counter(await asyncio.gather(*(stale(c, i) for i, c in enumerate(conns))))
    finally:
        for c in conns:
            await pool.release(c)
    assert results == Counter({"ok": 1, "SESSION_014": 15})

    # Round 2: read-modify-write with retry on conflict: every increment survives.
    writers, increments = 8, 6

    async def writer(w: int) -> int:
        conflicts = 0
        async with pool.acquire() as conn:
            for i in range(increments):
                while True:
                    state = await call_as(conn, seer, "select public.get_game_state($1)", sid)
                    counter = int(state["variables"].get("counter", 0))
                    try:
                        await call_as(
                            conn,
                            seer,
                            "select public.update_game_state($1, $2::jsonb, $3)",
                            sid,
                            json.dumps({"setVariables": {"counter": counter + 1}, "addFlags": [f"w{w}-{i}"]}),
                            state["version"],
                        )
                        break
                    except RpcError as err:
                        assert err.code == "SESSION_014" and err.status == 409
                        assert err.details == f"currentVersion={int(err.details.split('=')[1])}"
                        conflicts += 1
        return conflicts

    conflicts = sum(await asyncio.gather(*(writer(w) for w in range(writers))))
    async with pool.acquire() as conn:
        state = await call_as(conn, seer, "select public.get_game_state($1)", sid)
        game_state_events = await conn.fetchval(
            "select count(*) from public.session_events where session_id = $1 and type = 'game_state'", sid
        )
    total = writers * increments
    assert state["variables"]["counter"] == total, f"lost updates ({conflicts} conflicts retried)"
    assert len(state["flags"]) == total
    assert state["version"] == total + 1
    assert game_state_events == total + 1, "a rejected (stale) patch must not write an event"
    await _end(pool, seer, sid)
