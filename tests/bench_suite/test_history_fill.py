"""bench/history.py's fills: today's form must be what the event writer stores (turn_json and
turn_bytes from the writer's own functions), or the A/Bs that read turnHistory would time a
history other than the product's; the pre-24 form is turnHistory in game_state, and unfill
takes it away. Run in a transaction that is rolled back."""

from __future__ import annotations

import json

import asyncpg

from bench import history

ADVENTURE_ID = "00000000-0000-4000-8000-00000000a001"
ONE = "select $1::uuid as sid, $2::uuid as seer"


async def test_fills_store_each_sides_form(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        tr = conn.transaction()
        await tr.start()
        try:
            seer = await conn.fetchval(
                "insert into auth.users (id, aud, role, email) values (gen_random_uuid(), 'authenticated',"
                " 'authenticated', 'fill@seer.test') returning id"
            )
            sid = await conn.fetchval(
                "insert into public.sessions (code, seer_id, seer_name, adventure_id, adventure_name)"
                " values ('FXWW22', $1, 'Seer', $2, 'The Sunken Lantern') returning id",
                seer,
                ADVENTURE_ID,
            )
            await conn.execute(history.fill_today(ONE), sid, seer)
            turns = json.loads(await conn.fetchval("select seer_private.turn_history($1)::text", sid))
            entries = [
                json.loads(r[0])
                for r in await conn.fetch(
                    "select (payload -> 'entry')::text from public.session_events"
                    " where session_id = $1 order by seq",
                    sid,
                )
            ]
            assert len(turns) == 100 and turns == entries
            assert [t["reason"] for t in turns[:2]] == ["history 1", "history 2"]
            assert await conn.fetchval("select last_seq from public.sessions where id = $1", sid) == 100
            # what the writer would have stored for the same payloads
            assert await conn.fetchval(
                "select bool_and(turn_bytes = octet_length(t::text)"
                " and turn_json::text = seer_private.turn_json(t)::text)"
                " from public.session_events, seer_private.turns_of_event(type, payload) t"
                " where session_id = $1",
                sid,
            )

            await conn.execute(history.fill_pre24(ONE), sid, seer)
            n = await conn.fetchval(
                "select jsonb_array_length(game_state -> 'turnHistory') from public.sessions where id = $1",
                sid,
            )
            assert n == 100
            await conn.execute(history.unfill_pre24())
            assert not await conn.fetchval(
                "select game_state ? 'turnHistory' from public.sessions where id = $1", sid
            )
        finally:
            await tr.rollback()
    finally:
        await conn.close()
