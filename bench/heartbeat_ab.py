# ruff: noqa: E501 - SQL text reads better unwrapped
"""6. Heartbeat A/B: the heartbeat as it is now against the one before the redesign, same
cluster, same data, interleaved runs.

The old design lives only here, created in the bench cluster: `bench_old.session_players`, a
copy of the seat table with the old index set (`last_activity_at` indexed for the sweeper,
fillfactor 100) and `bench_old.heartbeat`, the old function verbatim but for its table (it
locks the session row, then updates the indexed column of the wide seat row: never a HOT
update). The new heartbeat updates only the seat's narrow row in `seer_private.seat_liveness`
(and never `public.session_players`): its figures count the writes to both tables. The seat
tables start from the same rows, rewritten (VACUUM FULL) so each has its own page layout.

Printed: throughput (pgbench, PostgREST transaction shape, old and new alternating, beside the
same shape calling no function: the ceiling any heartbeat can reach), the HOT ratio of the
heartbeat's updates and WAL bytes per heartbeat on each path, and index growth under one
compressed hour of heartbeats (every seat 120 times: every 30 s).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import asyncpg

from seer_devstack.postgres import PostgresCluster

from .common import DbCpu, Row, Sizes, env_int, full_run
from .sqlpath import PROLOGUE, SHAPE_ONLY, pgbench

OLD_SQL = """
create schema if not exists bench_old;
grant usage on schema bench_old to authenticated;
drop table if exists bench_old.session_players;
create table bench_old.session_players (like public.session_players including defaults including constraints);
alter table bench_old.session_players add primary key (id);
create unique index on bench_old.session_players (session_id, user_id) where left_at is null;
create unique index on bench_old.session_players (character_id) where left_at is null and not session_ended;
create index on bench_old.session_players (session_id, joined_at);
create index on bench_old.session_players (user_id);
-- the old sweeper index: every heartbeat changed its key
create index old_connected_due_idx on bench_old.session_players (last_activity_at)
  where status = 'connected' and session_running;
create index on bench_old.session_players (disconnected_at)
  where status = 'disconnected' and session_running;

create or replace function bench_old.heartbeat(p_session_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
  v_seat bench_old.session_players%rowtype;
  v_restored boolean := false;
begin
  v_s := seer_private.lock_session(p_session_id);
  if v_s.seer_id = v_uid then
    return jsonb_build_object('sessionId', v_s.id, 'playerId', null, 'status', 'seer',
                              'restored', false, 'serverTime', now());
  end if;
  select * into v_seat from bench_old.session_players sp
  where sp.session_id = v_s.id and sp.user_id = v_uid and sp.left_at is null
  for update;
  if not found then
    if seer_private.role_in(v_s.id, v_s.seer_id, v_uid) = 'former' then
      perform seer_private.raise_error('SESSION_006');
    end if;
    perform seer_private.raise_error('SESSION_001');
  end if;
  if v_s.status in ('active', 'paused') and v_seat.status in ('disconnected', 'inactive') then
    raise exception 'bench_old.heartbeat: the A/B keeps every seat connected';
  elsif v_s.status not in ('completed', 'cancelled') then
    update bench_old.session_players set last_activity_at = now() where id = v_seat.id;
  end if;
  select * into v_seat from bench_old.session_players sp where sp.id = v_seat.id;
  return jsonb_build_object('sessionId', v_s.id, 'playerId', v_seat.id, 'status', v_seat.status,
                            'restored', v_restored, 'serverTime', now());
end
$$;
grant execute on function bench_old.heartbeat(uuid) to authenticated;
"""

SCRIPT = f"""\\set s random(1, :nsessions)
\\set k random(1, 6)
begin;
{PROLOGUE.format(claims="player_claims[(:k)::int]")} from bench.map where i = :s;
select {{fn}}(sid) from bench.map where i = :s;
commit;
"""

# side: (function, the tables its heartbeats may write)
SIDES = {
    "old": ("bench_old.heartbeat", ("bench_old.session_players",)),
    "new": ("public.heartbeat", ("seer_private.seat_liveness", "public.session_players")),
}

# every seat of the bench sessions connected, heartbeat now (the cron sweeper is paused meanwhile)
RESET = """
update public.session_players set status = 'connected', disconnected_at = null, inactive_at = null, last_activity_at = now()
where session_id in (select sid from bench.map) and left_at is null and status <> 'connected'
"""


async def _stats(conn: asyncpg.Connection, tables: tuple[str, ...]) -> dict[str, int]:
    """Updates, HOT updates, index and heap bytes summed over the tables, the updates of
    public.session_players alone (seat_upd), and the WAL position."""
    await asyncio.sleep(1)  # pgbench's backends flush their statistics as they exit
    r = await conn.fetchrow(
        "select coalesce(sum(n_tup_upd) filter (where relid = any($1::regclass[])), 0)::bigint as n_tup_upd,"
        " coalesce(sum(n_tup_hot_upd) filter (where relid = any($1::regclass[])), 0)::bigint as n_tup_hot_upd,"
        " coalesce(sum(pg_indexes_size(relid)) filter (where relid = any($1::regclass[])), 0)::bigint as idx,"
        " coalesce(sum(pg_relation_size(relid)) filter (where relid = any($1::regclass[])), 0)::bigint as heap,"
        " coalesce(sum(n_tup_upd) filter (where relid = 'public.session_players'::regclass), 0)::bigint as seat_upd,"
        " pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint as wal"
        " from pg_stat_all_tables where relid = any($1::regclass[]) or relid = 'public.session_players'::regclass",
        list(tables),
    )
    return dict(r)


async def _cron_active(conn: asyncpg.Connection, active: bool) -> None:
    if await conn.fetchval("select count(*) from pg_extension where extname = 'pg_cron'"):
        await conn.execute(
            "select cron.alter_job(jobid, active => $1) from cron.job where jobname = 'seer-sweep-sessions'",
            active,
        )


def _pct(a: float, b: float) -> str:
    return f"{a / b:.0%}" if b else "n/a"


async def run(cluster: PostgresCluster, sizes: Sizes, rows: list[Row], log: list[str]) -> None:
    db_url, admin_dsn = cluster.dsn, cluster.admin_dsn
    assert cluster.data_dir is not None
    cpu = DbCpu(cluster.data_dir)
    quick = not full_run()
    secs = max(2, sizes.pgbench_seconds // (2 if quick else 1))
    rounds = 1 if quick else 3
    soak_sessions = min(sizes.sessions, env_int("BENCH_HB_SOAK_SESSIONS", 25 if quick else 200))
    c = sizes.clients
    conn = await asyncpg.connect(admin_dsn, command_timeout=900)
    try:
        await _cron_active(conn, False)
        await conn.execute(RESET)
        await conn.execute(OLD_SQL)
        await conn.execute("insert into bench_old.session_players select * from public.session_players")
        for table in ("public.session_players", "seer_private.seat_liveness", "bench_old.session_players"):
            await conn.execute(f"vacuum full analyze {table}")
        await conn.execute("checkpoint")
        # the ceiling: the same transactions calling no function (what every RPC costs here)
        throughput_sides = [*SIDES, "ceiling"]
        totals: dict[str, dict[str, float]] = {
            k: {"tx": 0, "secs": 0, "upd": 0, "hot": 0, "wal": 0, "cpu": 0, "seat_upd": 0}
            for k in throughput_sides
        }
        with tempfile.TemporaryDirectory(prefix="seer-hb-") as tmp:
            paths = {}
            for side, (fn, _) in SIDES.items():
                paths[side] = Path(tmp) / f"{side}.sql"
                paths[side].write_text(SCRIPT.format(fn=fn))
            paths["ceiling"] = Path(tmp) / "ceiling.sql"
            paths["ceiling"].write_text(SHAPE_ONLY)
            common = ["-c", str(c), "-j", "2"]
            for _ in range(rounds):
                for side in throughput_sides:
                    table = SIDES[side][1] if side in SIDES else ()
                    before = await _stats(conn, table)
                    cpu0 = cpu.seconds()
                    res = pgbench(
                        db_url,
                        [
                            *common,
                            "-T",
                            str(secs),
                            "-D",
                            f"nsessions={sizes.sessions}",
                            "-f",
                            str(paths[side]),
                        ],
                    )
                    # after _stats' pause: the exited backends' CPU is only counted once reaped
                    after = await _stats(conn, table)
                    t = totals[side]
                    t["cpu"] += cpu.seconds() - cpu0
                    t["seat_upd"] += after["seat_upd"] - before["seat_upd"]
                    t["tx"] += res.transactions
                    t["secs"] += res.transactions / res.tps if res.tps else 0
                    t["upd"] += after["n_tup_upd"] - before["n_tup_upd"]
                    t["hot"] += after["n_tup_hot_upd"] - before["n_tup_hot_upd"]
                    t["wal"] += after["wal"] - before["wal"]
                    if res.failed:
                        raise RuntimeError(f"{side} heartbeat: {res.failed} failed transactions")

            # one compressed hour: each seat of soak_sessions sessions heartbeats 120 times
            soak: dict[str, dict[str, Any]] = {}
            per_client = max(1, soak_sessions * 6 * 120 // c)
            for side, (_, table) in SIDES.items():
                for t in table:
                    await conn.execute(f"vacuum analyze {t}")
                before = await _stats(conn, table)
                idx_before = await _index_sizes(conn, table)
                res = pgbench(
                    db_url,
                    [
                        *common,
                        "-t",
                        str(per_client),
                        "-D",
                        f"nsessions={soak_sessions}",
                        "-f",
                        str(paths[side]),
                    ],
                    timeout=1800,
                )
                after = await _stats(conn, table)
                idx_after = await _index_sizes(conn, table)
                soak[side] = {
                    "tx": res.transactions,
                    "tps": res.tps,
                    "idx": after["idx"] - before["idx"],
                    "heap": after["heap"] - before["heap"],
                    "hot": _pct(
                        after["n_tup_hot_upd"] - before["n_tup_hot_upd"],
                        after["n_tup_upd"] - before["n_tup_upd"],
                    ),
                    "per_index": {k: idx_after[k] - idx_before.get(k, 0) for k in idx_after},
                }
    finally:
        await conn.execute(RESET)
        await _cron_active(conn, True)
        await conn.close()

    tps = {k: v["tx"] / v["secs"] if v["secs"] else 0.0 for k, v in totals.items()}
    ratio = tps["new"] / tps["old"] if tps["old"] else 0.0
    sec = "6 heartbeat A/B"
    rows.append(
        Row(
            sec,
            f"heartbeat throughput, {c} clients ({rounds} x {secs} s each, alternating)",
            f"{tps['new']:.0f} tps",
            f"{tps['old']:.0f} tps old",
            f"{ratio:.2f}x",
            ">= 1.5x",
            "ok" if ratio >= 1.5 else "BELOW",
        )
    )
    rows.append(
        Row(
            sec,
            "ceiling: the same transactions calling no function",
            f"{tps['ceiling']:.0f} tps",
            "",
            f"new {tps['new'] / tps['ceiling']:.0%}, old {tps['old'] / tps['ceiling']:.0%} of it"
            if tps["ceiling"]
            else "",
        )
    )
    # the old side's seat table is its copy, bench_old.session_players
    seat_new = totals["new"]["seat_upd"] / totals["new"]["tx"] if totals["new"]["tx"] else 0.0
    seat_old = totals["old"]["upd"] / totals["old"]["tx"] if totals["old"]["tx"] else 0.0
    rows.append(
        Row(sec, "seat-table row versions written per heartbeat", f"{seat_new:.2f}", f"{seat_old:.2f} old")
    )
    hot_new = totals["new"]["hot"] / totals["new"]["upd"] if totals["new"]["upd"] else 0.0
    hot_old = totals["old"]["hot"] / totals["old"]["upd"] if totals["old"]["upd"] else 0.0
    rows.append(
        Row(
            sec,
            "HOT updates of the heartbeat's row (new: seat_liveness, old: the seat)",
            f"{hot_new:.1%}",
            f"{hot_old:.1%} old",
            "",
            ">= 90%",
            "ok" if hot_new >= 0.9 else "BELOW",
        )
    )
    per = {k: v["cpu"] / v["tx"] * 1e6 if v["tx"] else 0.0 for k, v in totals.items()}
    rows.append(
        Row(
            sec,
            "database CPU per heartbeat (all server processes)",
            f"{per['new']:.0f} us",
            f"{per['old']:.0f} us old",
            f"old/new {per['old'] / per['new']:.2f}x" if per["new"] else "",
            ">= 1.5x",
            "ok" if per["new"] and per["old"] / per["new"] >= 1.5 else "BELOW",
        )
    )
    wal = {k: v["wal"] / v["tx"] if v["tx"] else 0.0 for k, v in totals.items()}
    rows.append(
        Row(
            sec,
            "WAL per heartbeat",
            f"{wal['new']:.0f} B",
            f"{wal['old']:.0f} B old",
            f"{wal['new'] / wal['old']:.2f}x" if wal["old"] else "",
        )
    )
    grow_new, grow_old = soak["new"]["idx"], soak["old"]["idx"]
    growth_ratio = grow_old / grow_new if grow_new > 0 else float("inf")
    rows.append(
        Row(
            sec,
            f"seat index growth, 1 compressed hour ({soak_sessions * 6} seats x 120 heartbeats)",
            f"{grow_new / 1024:.0f} KiB",
            f"{grow_old / 1024:.0f} KiB old",
            "old/new " + ("inf (new: 0)" if growth_ratio == float("inf") else f"{growth_ratio:.1f}x"),
            ">= 5x smaller",
            "ok" if growth_ratio >= 5 else "BELOW",
        )
    )
    rows.append(
        Row(
            sec,
            "soak: HOT ratio / heap growth",
            f"{soak['new']['hot']} / {soak['new']['heap'] / 1024:.0f} KiB",
            f"{soak['old']['hot']} / {soak['old']['heap'] / 1024:.0f} KiB old",
        )
    )
    log.append("\n  heartbeat soak, growth per index (bytes): ")
    for side in SIDES:
        log.append(
            f"    {side}: " + ", ".join(f"{k} +{v}" for k, v in sorted(soak[side]["per_index"].items()))
        )


async def _index_sizes(conn: asyncpg.Connection, tables: tuple[str, ...]) -> dict[str, int]:
    return {
        r[0]: r[1]
        for r in await conn.fetch(
            "select c.relname, pg_relation_size(c.oid) from pg_index i join pg_class c on c.oid = i.indexrelid"
            " where i.indrelid = any($1::regclass[])",
            list(tables),
        )
    }
