# ruff: noqa: E501 - SQL text reads better unwrapped
"""8. Retention: the per-run cost of the event-log compaction (seer_private.compact_event_logs,
migration 20261201140000) as the history of ended sessions grows.

History: H ended sessions, compacted long ago (their two summary events each). Due: D
sessions that ended 31 days before T with E events each (the play-by-play to delete). One
run compacts one batch of D; it is timed five times (median), each on a fresh due set, at H = small
and again after the history has grown tenfold (`make bench`: 5k and 50k; `make bench-full`:
100k and 1M). The target is a flat per-run cost: the run reads only due rows (a partial index of
the not-yet-compacted ended sessions) and deletes through the event log's primary key.
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from .common import Row, Sizes, env_int, full_run, pct

HISTORY = """
with s as (
  insert into public.sessions (code, seer_id, seer_name, adventure_id, adventure_name, status, outcome,
    created_at, started_at, ended_at, completed_at, events_compacted_at, last_seq)
  select 'AAAAAA', $1, 'Seer', $2, 'The Sunken Lantern', 'completed', 'completed',
         $3::timestamptz - make_interval(days => 60 + n % 300, hours => 2), $3::timestamptz - make_interval(days => 60 + n % 300, hours => 2),
         $3::timestamptz - make_interval(days => 60 + n % 300), $3::timestamptz - make_interval(days => 60 + n % 300),
         $3::timestamptz - make_interval(days => 30 + n % 300), 3
  from generate_series($4::int, $5::int) n
  returning id, ended_at)
insert into public.session_events (session_id, seq, type, payload, created_at)
select s.id, k, case when k = 1 then 'session_status' else 'session_ended' end,
       jsonb_build_object('seq', k, 'type', case when k = 1 then 'session_status' else 'session_ended' end,
                          'sessionId', s.id, 'stats', jsonb_build_object('durationMinutes', 60)), s.ended_at
from s cross join (values (1), (3)) v(k)
"""

DUE = """
with s as (
  insert into public.sessions (code, seer_id, seer_name, adventure_id, adventure_name, status, outcome,
    created_at, started_at, ended_at, completed_at, last_seq)
  select 'BBBBBB', $1, 'Seer', $2, 'The Sunken Lantern', 'completed', 'completed',
         $3::timestamptz - interval '31 days 2 hours', $3::timestamptz - interval '31 days 2 hours',
         $3::timestamptz - interval '31 days' - make_interval(mins => n), $3::timestamptz - interval '31 days',
         $5::int
  from generate_series(1, $4::int) n
  returning id, ended_at)
insert into public.session_events (session_id, seq, type, payload, created_at)
select s.id, k,
       case when k = 1 or k = $5::int - 1 then 'session_status' when k = $5::int then 'session_ended' else 'game_state' end,
       jsonb_build_object('seq', k, 'type', 'game_state', 'sessionId', s.id,
                          'changes', jsonb_build_object('setVariables', jsonb_build_object('hp', k)), 'version', k),
       s.ended_at
from s cross join generate_series(1, $5::int) k
"""


async def _cron(conn: asyncpg.Connection, active: bool) -> None:
    if await conn.fetchval("select count(*) from pg_extension where extname = 'pg_cron'"):
        await conn.execute(
            "select cron.alter_job(jobid, active => $1) from cron.job where jobname = 'seer-compact-event-logs'",
            active,
        )


async def _measure(
    conn: asyncpg.Connection,
    admin: asyncpg.Connection,
    t: Any,
    seer: Any,
    adventure: Any,
    due: int,
    events: int,
) -> dict[str, Any]:
    runs, idles, deleted = [], [], 0
    for _ in range(5):
        await conn.execute(DUE, seer, adventure, t, due, events)
        await conn.execute("vacuum analyze public.sessions, public.session_events")
        # the generation's dirty pages written out now, not by a checkpoint during the run
        await admin.execute("checkpoint")
        t0 = time.perf_counter()
        result = await conn.fetchval("select seer_private.compact_event_logs($1, $2)", t, due)
        runs.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        idle = await conn.fetchval("select seer_private.compact_event_logs($1, $2)::text", t, due)
        idles.append((time.perf_counter() - t0) * 1000)
        if '"sessions": 0' not in idle:
            raise RuntimeError(f"a second run found more due: {idle}")
        deleted = result
    return {"run_ms": pct(runs, 50), "idle_ms": pct(idles, 50), "result": deleted}


async def run(db_url: str, admin_dsn: str, sizes: Sizes, rows: list[Row], log: list[str]) -> None:
    quick = not full_run()
    small = env_int("BENCH_RETENTION_SMALL", 5_000 if quick else 100_000)
    big = env_int("BENCH_RETENTION_BIG", 50_000 if quick else 1_000_000)
    due = env_int("BENCH_RETENTION_DUE", 200 if quick else 1000)
    events = env_int("BENCH_RETENTION_EVENTS", 20 if quick else 40)
    conn = await asyncpg.connect(db_url, command_timeout=1800)
    admin = await asyncpg.connect(admin_dsn)
    try:
        await _cron(conn, False)
        t = await conn.fetchval("select date_trunc('second', now())")
        seer = await conn.fetchval("select id from auth.users order by id limit 1")
        adventure = await conn.fetchval("select id from public.adventures order by title limit 1")
        # what earlier sections left due at T (none: their sessions ended minutes ago)
        await conn.fetchval("select seer_private.compact_event_logs($1, 10000)", t)
        have = await conn.fetchval("select count(*) from public.sessions where ended_at is not null")
        results = {}
        for label, target in (("small", small), ("big", big)):
            t0 = time.perf_counter()
            step = 250_000
            for lo in range(have + 1, target + 1, step):
                await conn.execute(HISTORY, seer, adventure, t, lo, min(target, lo + step - 1))
            have = max(have, target)
            await conn.execute("vacuum analyze public.sessions, public.session_events")
            gen = time.perf_counter() - t0
            ended = await conn.fetchval("select count(*) from public.sessions where ended_at is not null")
            ev = await conn.fetchval("select count(*) from public.session_events")
            results[label] = await _measure(conn, admin, t, seer, adventure, due, events)
            results[label] |= {"ended": ended, "events": ev}
            log.append(
                f"\n  retention at {ended} ended sessions ({ev} events, generated in {gen:.0f} s): last run {results[label]['result']}"
            )
    finally:
        await _cron(conn, True)
        await conn.close()
        await admin.close()
    sec = "8 retention"
    s, b = results["small"], results["big"]
    rows.append(
        Row(
            sec,
            f"compaction run, {due} due sessions x {events} events ({s['ended']} ended)",
            f"{s['run_ms']:.0f} ms",
        )
    )
    rows.append(
        Row(
            sec,
            f"compaction run, {due} due sessions x {events} events ({b['ended']} ended)",
            f"{b['run_ms']:.0f} ms",
            f"{s['run_ms']:.0f} ms @ {s['ended']} ended",
            f"{b['run_ms'] / s['run_ms']:.2f}x",
            "~1x (flat)",
            "ok" if b["run_ms"] / s["run_ms"] < 1.5 else "GROWS",
        )
    )
    rows.append(
        Row(
            sec,
            f"compaction run, nothing due ({b['ended']} ended)",
            f"{b['idle_ms']:.2f} ms",
            f"{s['idle_ms']:.2f} ms @ {s['ended']} ended",
            f"{b['idle_ms'] / s['idle_ms']:.2f}x",
            "~1x (flat)",
        )
    )
    rows.append(
        Row(
            sec, "per compacted session", f"{b['run_ms'] / due:.2f} ms", f"{s['run_ms'] / due:.2f} ms @ small"
        )
    )
