"""bench/scale.py's generated live sessions must not collide with live sessions the run made
earlier through create_session (random codes): `make bench` once died in its scale section on
`sessions_live_code_key`. Runs the generator's SQL for a handful of sessions in a transaction
that is rolled back, after seeding a live session holding the code the generator would
produce first."""

from __future__ import annotations

import asyncpg

from bench import scale

ADVENTURE_ID = "00000000-0000-4000-8000-00000000a001"


async def test_generated_live_codes_skip_codes_already_live(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        tr = conn.transaction()
        await tr.start()
        try:
            await conn.execute(scale.GEN)
            t = await conn.fetchval("select date_trunc('second', now())")
            await conn.execute(scale.USERS, t, 10)
            await conn.execute(scale.CHARACTERS, 10, 30)
            first = await conn.fetchval("select scale.code(1000000000 + 1)")
            # a live session made earlier in the run already holds that code
            await conn.execute(
                "insert into public.sessions (code, seer_id, seer_name, adventure_id, adventure_name)"
                " values ($1, scale.uid(1), 'Seer', $2, 'The Sunken Lantern')",
                first,
                ADVENTURE_ID,
            )
            await conn.execute(scale.LIVE, t, 10, ADVENTURE_ID, 5)
            made = await conn.fetchval("select count(*) from scale.live")
            codes = await conn.fetch("select s.code from public.sessions s join scale.live l on l.sid = s.id")
            assert made == 5
            assert first not in {r[0] for r in codes}
        finally:
            await tr.rollback()
    finally:
        await conn.close()
