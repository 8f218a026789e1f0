"""bench/writes.py's writes alone are a lower bound only if they write what the RPC writes for
its event and nothing more: per table, the rows bench.event_writes inserts and updates must equal
the RPC's on the event's own tables (the session row, the event, the broadcast, the roll) and
never exceed them elsewhere. Counted with pg_stat_xact_user_tables inside one transaction that is
rolled back; the RPCs run as their callers, on a session made by the bench population."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from bench import costmodel, population, sqlpath, writes

# the event's own rows: what the writes alone must write exactly as the RPC does
EVENT_TABLES = {"public.sessions", "public.session_events", "realtime.messages", "public.dice_rolls"}
COUNTS = """
select case when schemaname = 'realtime' and relname like 'messages%' then 'realtime.messages'
            else schemaname || '.' || relname end as t,
       sum(n_tup_ins)::int as ins, sum(n_tup_upd)::int as upd
from pg_stat_xact_user_tables group by 1
"""
CALLS = {
    "update_game_state": 'select public.update_game_state($1, \'{"setVariables": {"hp": 3}}\'::jsonb)',
    "roll_dice": "select public.roll_dice($1, '2d6+3', 'test')",
    "submit_action": "select public.submit_action($1, 'I search the room')",
}


async def _delta(conn: asyncpg.Connection, sql: str, *args: object) -> dict[str, tuple[int, int]]:
    before = {r["t"]: (r["ins"], r["upd"]) for r in await conn.fetch(COUNTS)}
    await conn.execute(sql, *args)
    after = {r["t"]: (r["ins"], r["upd"]) for r in await conn.fetch(COUNTS)}
    out = {}
    for t, (i, u) in after.items():
        i0, u0 = before.get(t, (0, 0))
        if (i - i0, u - u0) != (0, 0):
            out[t] = (i - i0, u - u0)
    return out


@asynccontextmanager
async def _bench_schema(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection in one transaction with the bench population's schema, rolled back after."""
    conn = await asyncpg.connect(database_url)
    try:
        tr = conn.transaction()
        await tr.start()
        try:
            await conn.execute(population.SCHEMA)
            yield conn
        finally:
            await tr.rollback()
    finally:
        await conn.close()


async def test_the_writes_alone_write_the_rpcs_event_rows_and_no_more(database_url: str) -> None:
    async with _bench_schema(database_url) as conn:
        await conn.execute("select bench.active_sessions(1, 1)")
        sid = await conn.fetchval("select sid from bench.map where i = 1")
        for rpc, sql in CALLS.items():
            who = "bench.claims(1, 1)" if rpc == "submit_action" else "bench.claims(1, 0)"
            await conn.execute(f"select bench.as_user({who})")
            real = await _delta(conn, sql, sid)
            await conn.execute(writes.FUNCTION + writes.TEMPLATES)
            alone = await _delta(
                conn,
                "select bench.event_writes($1, $2, 3)"
                if rpc == "update_game_state"
                else "select bench.event_writes($1, $2)",
                sid,
                writes.EVENT_TYPE[rpc],
            )
            assert real.get("public.session_events") == (1, 0), (rpc, real)
            for t in EVENT_TABLES:
                assert alone.get(t) == real.get(t), (rpc, t, alone, real)
            for t, (ins, upd) in alone.items():
                r_ins, r_upd = real.get(t, (0, 0))
                assert ins <= r_ins and upd <= r_upd, (rpc, t, alone, real)
        # the event copied is the newest real one of its type, with its turn
        assert (
            await conn.fetchval("select count(*) from bench.event_templates where turn_json is not null") == 2
        )


async def test_the_join_writes_alone_write_what_a_join_writes(database_url: str) -> None:
    """A new seat in a lobby: the RPC's join (joiner 1) and bench.join_writes (joiner 2, the
    same lobby) insert and update the same rows in every table."""
    async with _bench_schema(database_url) as conn:
        await conn.execute("select bench.waiting_sessions(1, 1)")
        await conn.execute("select bench.number_joins()")
        joiner = {r["n"]: r for r in await conn.fetch("select n, sid, claims, cid from bench.joins")}
        await conn.execute("select bench.as_user($1)", joiner[1]["claims"])
        real = await _delta(conn, "select public.join_session($1, $2)", joiner[1]["sid"], joiner[1]["cid"])
        await conn.execute(writes.FUNCTION + writes.TEMPLATES)
        await conn.execute("select bench.as_user($1)", joiner[2]["claims"])
        alone = await _delta(conn, "select bench.join_writes($1, $2)", joiner[2]["sid"], joiner[2]["cid"])
        assert real.get("public.session_players") == (1, 0), real
        assert real.get("seer_private.seat_liveness") == (1, 0), real
        assert alone == real
        # section 1's join script becomes the writes alone by its one call
        script = sqlpath.SCRIPTS["join_session"].replace(writes.JOIN_CALL, writes.JOIN_WRITES)
        assert writes.JOIN_WRITES in script and "public.join_session" not in script


def test_every_event_rpc_of_the_scripts_is_replaced_and_nothing_else() -> None:
    mix, _ = costmodel.side_mix("collector")
    alone = costmodel.writes_scripts()
    assert set(alone) == set(mix)
    replaced = 0
    for name, text in mix.items():
        calls = [rpc for rpc in writes.CALLS if f"public.{rpc}(" in text]
        replaced += len(calls)
        assert alone[name].count("bench.event_writes(") == len(calls), name
        assert not any(f"public.{rpc}(" in alone[name] for rpc in writes.CALLS), name
        # every other line as it was: the same transactions, claims and bookkeeping
        kept = [line for line in text.splitlines() if not any(f"public.{rpc}(" in line for rpc in calls)]
        assert [line for line in alone[name].splitlines() if "event_writes" not in line] == kept, name
    assert replaced == 3
    for rpc in writes.CALLS:
        text = writes.writes_only(sqlpath.SCRIPTS[rpc])
        assert f"public.{rpc}(" in sqlpath.SCRIPTS[rpc] and f"public.{rpc}(" not in text
        assert text.count("bench.event_writes(") == 1 and text.count("begin;") == text.count("commit;") == 1
