# ruff: noqa: E501 - SQL text reads better unwrapped
"""4. Scale: many sessions (mostly archived) and many live players, generated with SQL
(generate_series) in bounded time; then the sweeper, the code lookup and list_my_sessions,
timed at two table sizes with the same live set and the same number of due rows, plus the
plans (EXPLAIN ANALYZE) of the queries behind them.

Everything is relative to a fixed instant T (the sweeper takes p_now), so the minutes the
generation takes do not make fresh seats due.
"""

from __future__ import annotations

import json
import time
from typing import Any

import asyncpg

from .common import Row, Sizes

GEN = """
create schema if not exists scale;
create or replace function scale.uid(i int) returns uuid language sql immutable as $$
  select (lpad(to_hex(i), 8, '0') || '-5ca1-4000-8000-000000000000')::uuid $$;
create or replace function scale.code(i bigint) returns text language sql immutable as $$
  select string_agg(substr('ABCDEFGHJKMNPQRSTUVWXYZ23456789', ((i / (31 ^ p)::bigint) % 31)::int + 1, 1), '' order by p)
  from generate_series(0, 5) p $$;
create table if not exists scale.live (n int primary key, sid uuid not null, status text not null);
"""

USERS = """
insert into auth.users (id, aud, role, email, raw_user_meta_data, raw_app_meta_data, created_at, updated_at)
select scale.uid(u), 'authenticated', 'authenticated', format('s%s@scale.invalid', u),
       jsonb_build_object('display_name', 'Scale ' || u), '{}', $1::timestamptz, $1::timestamptz
from generate_series(1, $2) u on conflict do nothing
"""

CHARACTERS = """
insert into public.characters (owner_id, name, class)
select scale.uid(1 + (c % $1)), 'Char ' || c, 'ranger' from generate_series(1, $2) c
"""

# live sessions n = 1..L: 20% waiting, 70% active, 10% paused; 5 connected seats each
# (the lobbies' seats sent their last heartbeat 10 minutes before T: idle or abandoned
# lobbies, which only the 24 h timeout ends - the sweeper must not pay for them).
# Codes are drawn outside the live set: the sessions the earlier sections made through
# create_session hold random live codes, and a generated code equal to one of them broke
# sessions_live_code_key (tests/bench_suite). Candidates already live are skipped, so the
# L codes come from the first L + (live sessions) candidates at most.
LIVE = """
with cand as (
  select row_number() over (order by k)::int as n, c.code
  from generate_series(1, $4 + (select count(*) from public.sessions x where x.status in ('waiting', 'active', 'paused'))::int) k
  cross join lateral (select scale.code(1000000000 + k) as code) c
  where not exists (select 1 from public.sessions x where x.code = c.code and x.status in ('waiting', 'active', 'paused'))
), s as (
  insert into public.sessions (id, code, seer_id, seer_name, adventure_id, adventure_name, status,
    created_at, started_at, paused_at, last_seq)
  select gen_random_uuid(), cand.code, scale.uid((1 + (n % $2))::int), 'Seer', $3, 'The Sunken Lantern',
         case when n % 10 < 2 then 'waiting' when n % 10 < 9 then 'active' else 'paused' end,
         $1::timestamptz - interval '1 hour', case when n % 10 >= 2 then $1::timestamptz - interval '50 minutes' end,
         case when n % 10 = 9 then $1::timestamptz - interval '10 minutes' end, 0
  from cand where n <= $4
  returning id, status, code)
insert into scale.live select (row_number() over ())::int, id, status from s
"""

SEATS = """
insert into public.session_players (session_id, user_id, character_id, joined_at, last_activity_at, status,
  session_running)
select l.sid, c.owner_id, c.id, $1::timestamptz - interval '55 minutes',
       case when l.status = 'waiting' then $1::timestamptz - interval '10 minutes' else $1::timestamptz end,
       'connected', l.status in ('active', 'paused')
from scale.live l
cross join generate_series(0, 4) k
join lateral (select ch.id, ch.owner_id from public.characters ch
              where ch.name = 'Char ' || ((l.n - 1) * 5 + k + 1)) c on true
"""

# archived sessions: completed/cancelled over the past year, one history seat each. Their
# seers and seat holders are users $7 + 1 .. $2: the large size's extra sessions go to users
# past the MEASURED ones, so list_my_sessions reads the same own history at both sizes and
# only the table around it grows (issue 24: flat from 1M to 2M).
ARCHIVED = """
with s as (
  insert into public.sessions (code, seer_id, seer_name, adventure_id, adventure_name, status,
    created_at, started_at, ended_at, completed_at, outcome, last_seq, events_compacted_at)
  select scale.code(n), scale.uid((1 + $7 + (n % ($2 - $7)))::int), 'Seer', $3, 'The Sunken Lantern',
         case when n % 4 = 0 then 'cancelled' else 'completed' end,
         $1::timestamptz - make_interval(days => (2 + (n % 360))::int), $1::timestamptz - make_interval(days => (2 + (n % 360))::int),
         $1::timestamptz - make_interval(days => (1 + (n % 360))::int),
         case when n % 4 <> 0 then $1::timestamptz - make_interval(days => (1 + (n % 360))::int) end,
         case when n % 4 = 0 then 'cancelled' else 'completed' end, 0,
         -- history, compacted already (event log retention): not the compaction's work
         $1::timestamptz - make_interval(days => (1 + (n % 360))::int)
  from generate_series($4::bigint, $5::bigint) n
  returning id, seer_id, created_at)
insert into public.session_players (session_id, user_id, character_id, joined_at, last_activity_at, status,
  session_ended)
select s.id, scale.uid((1 + $7 + ((hashtext(s.id::text) & 2147483647) % ($2 - $7)))::int), $6, s.created_at, s.created_at,
       'connected', true
from s
"""


def _explain_lines(plan: list[asyncpg.Record]) -> list[str]:
    return ["      " + r[0] for r in plan]


async def _sweep_with_due(conn: asyncpg.Connection, t: Any, slice_no: int, due: int) -> tuple[float, str]:
    """Make `due` seats stale, due/5 disconnected seats old, due/5 waiting and paused sessions
    overdue (a different slice each time), then time one sweep at T."""
    off = slice_no * due * 2
    await conn.execute(
        "update public.session_players sp set last_activity_at = $1::timestamptz - interval '2 minutes'"
        " from (select sid from scale.live where status = 'active' order by n offset $2 limit $3) l"
        " where sp.session_id = l.sid and sp.status = 'connected' and not sp.session_ended"
        " and sp.id = (select min(id::text)::uuid from public.session_players x where x.session_id = l.sid)",
        t,
        off,
        due,
    )
    await conn.execute(
        "update public.sessions s set created_at = $1::timestamptz - interval '25 hours'"
        " from (select sid from scale.live where status = 'waiting' order by n offset $2 limit $3) l"
        " where s.id = l.sid and s.status = 'waiting'",
        t,
        slice_no * due,
        max(1, due // 5),
    )
    await conn.execute(
        "update public.sessions s set paused_at = $1::timestamptz - interval '8 days'"
        " from (select sid from scale.live where status = 'paused' order by n offset $2 limit $3) l"
        " where s.id = l.sid and s.status = 'paused'",
        t,
        slice_no * due,
        max(1, due // 5),
    )
    await conn.execute("vacuum analyze public.sessions, public.session_players")
    t0 = time.perf_counter()
    result = await conn.fetchval("select seer_private.sweep($1)::text", t)
    return (time.perf_counter() - t0) * 1000, str(result)


# list_my_sessions is timed for users 1..MEASURED; the large size's extra sessions belong to others
MEASURED = 200


async def _measure(conn: asyncpg.Connection, t: Any, label: str, slice_no: int, due: int) -> dict[str, Any]:
    # whatever the other sections left due (their sessions' heartbeats are minutes old at T)
    await conn.fetchval("select seer_private.sweep($1)::text", t)
    await conn.execute("vacuum analyze public.sessions, public.session_players")
    t0 = time.perf_counter()
    idle = await conn.fetchval("select seer_private.sweep($1)::text", t)
    idle_ms = (time.perf_counter() - t0) * 1000
    due_ms, due_result = await _sweep_with_due(conn, t, slice_no, due)
    # code lookups: 500 random live codes, as a signed-in stranger (SQL path)
    codes = [
        r[0]
        for r in await conn.fetch(
            "select code from public.sessions s join scale.live l on l.sid = s.id where s.status in ('waiting','active','paused') order by random() limit 500"
        )
    ]
    await conn.execute(
        "select set_config('request.jwt.claims', $1, false)",
        '{"sub":"' + str(await conn.fetchval("select scale.uid(1)")) + '","role":"authenticated"}',
    )
    t0 = time.perf_counter()
    for c in codes:
        await conn.fetchval("select public.get_session_by_code($1)::text", c)
    lookup_ms = (time.perf_counter() - t0) * 1000 / max(1, len(codes))
    # list_my_sessions for the MEASURED users (their own history is the same at both sizes)
    users = [r[0] for r in await conn.fetch("select scale.uid(u) from generate_series(1, $1) u", MEASURED)]
    own = await conn.fetchval(
        "select count(*) from public.sessions s where s.seer_id = any($1::uuid[])", users
    ) + await conn.fetchval(
        "select count(*) from public.session_players sp where sp.user_id = any($1::uuid[]) and sp.left_at is null",
        users,
    )
    t0 = time.perf_counter()
    for u in users:
        await conn.execute(
            "select set_config('request.jwt.claims', $1, false)",
            '{"sub":"' + str(u) + '","role":"authenticated"}',
        )
        await conn.fetchval("select jsonb_array_length(public.list_my_sessions())")
    list_ms = (time.perf_counter() - t0) * 1000 / len(users)
    # the same users' candidate query: buffers touched are the machine-independent measure
    # (time on a shared machine moves with the neighbours' load; a query that reads only the
    # user's own rows touches the same number of pages at any table size)
    buffers = 0
    for u in users:
        plan = json.loads(await conn.fetchval("explain (analyze, buffers, format json) " + LIST_QUERY, u))
        top = plan[0]["Plan"]
        buffers += top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
    await conn.execute("select set_config('request.jwt.claims', '', false)")
    return {
        "label": label,
        "idle_ms": idle_ms,
        "idle": idle,
        "due_ms": due_ms,
        "due": due_result,
        "lookup_ms": lookup_ms,
        "list_ms": list_ms,
        "own": own / len(users),
        "list_buffers": buffers / len(users),
    }


async def run(db_url: str, sizes: Sizes, rows: list[Row], log: list[str]) -> None:
    conn = await asyncpg.connect(db_url, command_timeout=900)
    try:
        await conn.execute(GEN)
        t = await conn.fetchval("select date_trunc('second', now())")
        adventure = await conn.fetchval("select id from public.adventures order by title limit 1")
        players = sizes.scale_players
        live = max(1, players // 5)
        n_users = max(1000, sizes.scale_sessions // 20)
        # the sizes are the table's totals: the sessions earlier sections left (retention adds
        # up to 1M ended ones) count towards them, so a full run measures at 1M and 2M
        before = await conn.fetchval("select count(*) from public.sessions")
        t_gen = time.perf_counter()
        await conn.execute(USERS, t, n_users)
        await conn.execute(CHARACTERS, n_users, players + 1)
        history_char = await conn.fetchval(
            "select id from public.characters where name = 'Char ' || $1", str(players + 1)
        )
        await conn.execute("create index if not exists scale_char_name on public.characters (name)")
        await conn.execute(LIVE, t, n_users, adventure, live)
        await conn.execute(SEATS, t)
        await conn.execute("drop index scale_char_name")
        small_archived = max(0, sizes.scale_small - live - before)
        await conn.execute(ARCHIVED, t, n_users, adventure, 1, small_archived, history_char, 0)
        await conn.execute("vacuum analyze")
        gen_small = time.perf_counter() - t_gen
        total_small = await conn.fetchval("select count(*) from public.sessions")
        due = 100
        small = await _measure(conn, t, f"{total_small} sessions", 0, due)

        t_gen = time.perf_counter()
        big_archived = max(small_archived, sizes.scale_sessions - live - before)
        batch = 250_000
        for lo in range(small_archived + 1, big_archived + 1, batch):
            await conn.execute(
                ARCHIVED, t, n_users, adventure, lo, min(big_archived, lo + batch - 1), history_char, MEASURED
            )
        await conn.execute("vacuum analyze")
        gen_big = time.perf_counter() - t_gen
        total_big = await conn.fetchval("select count(*) from public.sessions")
        live_seats = await conn.fetchval(
            "select count(*) from public.session_players where left_at is null and not session_ended"
        )
        big = await _measure(conn, t, f"{total_big} sessions", 1, due)

        def add(m: dict[str, Any], base: dict[str, Any] | None) -> None:
            def cells(key: str, fmt: str, target: str) -> tuple[str, str, str, str]:
                value = fmt.format(m[key])
                if base is None:
                    return value, "", "", ""
                return (
                    value,
                    fmt.format(base[key]) + f" @ {base['label']}",
                    f"{m[key] / base[key]:.2f}x",
                    target,
                )

            rows.append(
                Row("4 scale", f"sweeper, nothing due ({m['label']})", *cells("idle_ms", "{:.2f} ms", "~1x"))
            )
            rows.append(
                Row(
                    "4 scale",
                    f"sweeper, {due} stale seats + {due // 5}+{due // 5} overdue sessions ({m['label']})",
                    *cells("due_ms", "{:.1f} ms", "~1x (same due rows)"),
                )
            )
            rows.append(
                Row(
                    "4 scale",
                    f"get_session_by_code ({m['label']})",
                    *cells("lookup_ms", "{:.3f} ms/call", "~1x"),
                )
            )
            rows.append(
                Row(
                    "4 scale",
                    f"list_my_sessions, same {m['own']:.0f} own sessions a user ({m['label']})",
                    *cells("list_ms", "{:.3f} ms/call", "~1x"),
                )
            )
            rows.append(
                Row(
                    "4 scale",
                    f"list_my_sessions, buffers per call, same users ({m['label']})",
                    *cells("list_buffers", "{:.1f}", "1.00x"),
                )
            )

        add(small, None)
        add(big, small)
        log.append(
            f"\n  scale: {live} live sessions, {live_seats} live seats, {n_users} users; generated"
            f" {total_small} sessions in {gen_small:.0f} s, grown to {total_big} in {gen_big:.0f} s"
            f"\n  sweep results: small {small['due']}; big {big['due']}"
        )

        # plans at the big size
        log.append("\n  plans at the large size (EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)):")
        code = await conn.fetchval(
            "select s.code from public.sessions s join scale.live l on l.sid = s.id where s.status = 'active' limit 1"
        )
        queries = {
            "code lookup (get_session_by_code)": (
                "select * from public.sessions s where s.code = $1 and s.status in ('waiting', 'active', 'paused')",
                [code],
            ),
            # the candidate query of seer_private.sweep (20261125200600), running seats' part
            "sweeper: seats that became due": (
                "select l.session_id from seer_private.seat_liveness l"
                " where l.last_heartbeat_at < $1::timestamptz - interval '60 seconds'"
                " union select sp.session_id from public.session_players sp"
                " where sp.status = 'disconnected' and sp.session_running and sp.disconnected_at < $1::timestamptz - interval '5 minutes'",
                [t],
            ),
            "sweeper: waiting sessions older than 24 h": (
                "select id from public.sessions s where s.status = 'waiting' and s.created_at < $1::timestamptz - interval '24 hours'",
                [t],
            ),
            "sweeper: paused more than 7 days": (
                "select id from public.sessions s where s.status = 'paused' and s.paused_at < $1::timestamptz - interval '7 days'",
                [t],
            ),
        }
        for title, (sql, args) in queries.items():
            plan = await conn.fetch(f"explain (analyze, buffers, costs off) {sql}", *args)
            log.append(f"    -- {title}")
            log.extend(_explain_lines(plan))
        # list_my_sessions' query runs inside the function: show it through auto_explain-free means,
        # i.e. the same statement with the user's id bound
        uid = await conn.fetchval("select scale.uid(7)")
        plan = await conn.fetch("explain (analyze, buffers, costs off) " + LIST_QUERY, uid)
        log.append("    -- list_my_sessions (its candidate query, for a user with history)")
        log.extend(_explain_lines(plan))
    finally:
        await conn.close()


# the candidate query inside list_my_sessions (migration ..._session_lobby): its first page
LIST_QUERY = """
select s0.id from public.sessions s0
where s0.id in (
    (select s1.id from public.sessions s1 where s1.seer_id = $1
       and (s1.created_at, s1.id) < ('infinity'::timestamptz, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
     order by s1.created_at desc, s1.id desc limit 50)
    union
    (select s2.id from public.session_players sp join public.sessions s2 on s2.id = sp.session_id
     where sp.user_id = $1 and sp.left_at is null
       and (s2.created_at, s2.id) < ('infinity'::timestamptz, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
     order by s2.created_at desc, s2.id desc limit 50))
order by s0.created_at desc, s0.id desc
limit 50
"""
