# ruff: noqa: E501 - SQL text reads better unwrapped
"""7. Cost model: what a live player costs the database, measured under a realistic mix.

N live sessions x 6 players, every RPC in the PostgREST transaction shape (pgbench, rate
limited with -R so latency counts the queueing, not only the service time):

* each player heartbeats every 30 s (the PRD interval), and so does the Seer's connection
  (issue 22: the server holds the Seer's liveness too); the table makes an event every 6 s:
  half of them the Seer's update_game_state, a third a roll (roll_dice), a sixth a player's
  action (submit_action); a player leaves and rejoins once per session every 10 minutes, and
  a session ends after 30 minutes and is replaced (end_session, create_session, 6 x
  join_session, start_session, each its own transaction);
* the sweeper runs every minute;
* the clients read nothing per event: the SDK folds the broadcast events into its state
  (issue 22 removed the get_game_state re-read each participant made per game_state event),
  so the mix holds exactly the RPCs the SDK sends.

Every session starts a step with a long game's history: 100 typical roll turns.

The same ramps run on today's code paths and on the copies of the code before issue 24
(bench/old_paths.sql, schema bench_pre24: the event writer, update_game_state, roll_dice,
submit_action, join_session and the heartbeat), so the per-player-hour figures and the players
held are compared in one run; leave_session, end_session, create_session and start_session
are today's on both sides (their events use today's writer: 14 of ~1,470 transactions per
session-hour). A third side, "collector", is what the SDK's live session sends: the heartbeats
as the heartbeat Edge Function sends them (docs/heartbeat.md): one heartbeat_batch transaction
for the beats of BATCH_SESSIONS sessions, 30 instead of 840 transactions per session-hour, a
beat answered null going on as that user's own heartbeat; and the Seer's changes as
SessionConnection.update_game_state sends them, without the turn history in the reply (the
connection folds the turns from the events). It runs a ramp too and joins the paired rounds
(ABCCBA), and both today's sides are compared with the pre-24 paths.

Time is compressed K times (BENCH_COST_COMPRESS, default 10): every rate is K times the real
one, so N sessions here load the database like N x K real sessions; per-player-hour costs
divide by the simulated hours (wall time x K). N steps up (doubling) until the p99 of the
single-RPC transactions (heartbeat or collector batch, Seer action) passes 50 ms or the rate is not kept; the
largest N held is printed (bench-full runs one more step between it and the first N not held,
so the figure moves by half a doubling), with the costs measured at it: database CPU seconds (all server
processes) and WAL bytes per live player-hour and per event, heap/index bytes per session and
per event, dead tuples and HOT ratio per table. Run with durability off (the bench cluster's
default) and on (fsync, synchronous_commit, full_page_writes). Every slot of sessions is
driven by one pgbench client only (client_id partitions the slots), so a session being
replaced never races its own heartbeats.

Where the CPU goes (bench-full, after the ramps of a durability setting, at the N they are compared at):
the same step with every RPC call replaced by a read of the slot's row (the floor: the same
transactions, begin, claims, commit, at the same rates, which no SQL change can go below),
and with only the heartbeats real (on each path: the heartbeats' own work above the floor);
the collector's mix with every event RPC reduced to its event's writes alone (bench/writes.py:
the rows, no checks, no reply; a side of the paired rounds), the least any implementation of
these events costs here;
and each step's CPU by process (backends, autovacuum, WAL writer and checkpointer), sampled
from /proc. After today's ramp, at its largest N held: today's paths with every connection
heartbeating every 30 s and every 60 s, ABBA (what that product change would buy; steps
alternate because two steps of the same mix differ by up to ~20% on these shared cores).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from seer_devstack.postgres import PostgresCluster

from . import history, population, writes
from .common import DbCpu, Row, Sizes, cpu_by_role, env_int, full_run, pct
from .sqlpath import PROLOGUE, pgbench_run

OLD_PATHS = Path(__file__).with_name("old_paths.sql")

ADVENTURE = "00000000-0000-4000-8000-00000000a001"
TABLES = ("public.sessions", "public.session_players", "seer_private.seat_liveness", "public.session_events")
# what a live session keeps besides its event log
SESSION_TABLES = ("public.sessions", "public.session_players", "seer_private.seat_liveness")

CMAP = """
drop table if exists bench.cmap;
create table bench.cmap (i int primary key, sid uuid not null, seer_claims text not null,
                         player_claims text[] not null, cids uuid[] not null);
insert into bench.cmap
select row_number() over (order by m.i), m.sid, m.seer_claims, m.player_claims,
       array(select bench.cid(m.i, k) from generate_series(1, 6) k)
from bench.map m join public.sessions s on s.id = m.sid and s.status = 'active'
order by m.i limit {n};
grant select on bench.cmap to authenticated, service_role;
grant usage on schema bench to service_role;
"""

# a client's slots: per of them after the step's offset (off: 0, or N for the second half of
# the paired A/B)
SLOT = "\\set s :off + :client_id * :per + random(1, :per)\n"
PLAYER = PROLOGUE.format(claims="player_claims[(:k)::int]") + " from bench.cmap where i = :s;\n"
SEER = PROLOGUE.format(claims="seer_claims") + " from bench.cmap where i = :s;\n"

TEMPLATES: dict[str, str] = {
    "heartbeat": SLOT
    + "\\set k random(1, 6)\nbegin;\n"
    + PLAYER
    + "select {schema}.heartbeat(sid) from bench.cmap where i = :s;\ncommit;\n",
    # the Seer's connection heartbeats like a seat (issue 22: the server holds the Seer's liveness)
    "seer_heartbeat": SLOT
    + "begin;\n"
    + SEER
    + "select {schema}.heartbeat(sid) from bench.cmap where i = :s;\ncommit;\n",
    "seer_action": SLOT
    + "\\set hp random(1, 1000)\nbegin;\n"
    + SEER
    + "select {schema}.update_game_state(sid, jsonb_build_object('setVariables', jsonb_build_object('hp', (:hp)::int))) from bench.cmap where i = :s;\ncommit;\n",
    "roll": SLOT
    + "begin;\n"
    + SEER
    + "select {schema}.roll_dice(sid, '2d6+3', 'cost') from bench.cmap where i = :s;\ncommit;\n",
    "player_action": SLOT
    + "\\set k random(1, 6)\nbegin;\n"
    + PLAYER
    + "select {schema}.submit_action(sid, 'I search the room') from bench.cmap where i = :s;\ncommit;\n",
    "leave_rejoin": SLOT
    + "\\set k random(1, 6)\nbegin;\n"
    + PLAYER
    + "select public.leave_session(sid) from bench.cmap where i = :s;\ncommit;\nbegin;\n"
    + PLAYER
    + "select {schema}.join_session(sid, cids[(:k)::int]) from bench.cmap where i = :s;\ncommit;\n",
    "replace_session": SLOT
    + "begin;\n"
    + SEER
    + "select public.end_session(sid, 'completed') from bench.cmap where i = :s;\ncommit;\nbegin;\n"
    + SEER
    + f"select public.create_session('{ADVENTURE}'::uuid) ->> 'id' as nsid\n\\gset\ncommit;\n"
    + "".join(
        f"begin;\n{PROLOGUE.format(claims=f'player_claims[{k}]')} from bench.cmap where i = :s;\n"
        f"select {{schema}}.join_session((:nsid)::uuid, cids[{k}]) from bench.cmap where i = :s;\ncommit;\n"
        for k in range(1, 7)
    )
    + "begin;\n"
    + SEER
    + "select public.start_session((:nsid)::uuid);\ncommit;\n"
    + "update bench.cmap set sid = (:nsid)::uuid where i = :s;\n",
}
# real rates per session per hour: 6 players x 120 heartbeats and the Seer's 120, an event every 6 s (300 state
# patches, 200 rolls, 100 player actions), a leave + rejoin every 10 minutes, a replacement
# every 30 minutes (pgbench weights are these counts)
PER_SESSION_HOUR = {
    "heartbeat": 720,
    "seer_heartbeat": 120,
    "seer_action": 300,
    "roll": 200,
    "player_action": 100,
    "leave_rejoin": 6,
    "replace_session": 2,
}
RPC_SCRIPTS = ("heartbeat", "seer_heartbeat", "heartbeat_batch", "seer_action", "roll", "player_action")
# today's code paths, the same with the heartbeats sent as the heartbeat collector sends them
# (docs/heartbeat.md: many users' beats in one heartbeat_batch transaction), and the copies
# from before issue 24 (bench/old_paths.sql)
PATHS = {"today": "public", "collector": "public", "pre-24": "bench_pre24"}
# a collector batch holds the beats of this many sessions (7 connections each): 28 beats, what
# one collector instance gathers in a 250 ms window at ~110 beats/s, i.e. ~13,000 live players
# (the beats of a window at 10,000+ players fill larger batches; smaller is the cautious side)
BATCH_SESSIONS = 4
# one transaction as the collector (service_role) for the beats of BATCH_SESSIONS of the
# client's slots, from a random one on (wrapping): every connection of a slot is in a batch
# 120 times per hour, as often as it heartbeats alone. A beat the batch answers null (a
# disconnected seat, a Seer the sweeper marked away) goes on as that user's own heartbeat, its
# own transaction, as the collector sends it (the first of a batch's: they are rare)
COLLECTOR = (
    "\\set b :off + :client_id * :per + 1\n\\set g random(0, :per - 1)\n"
    + "".join(f"\\set i{j} :b + (:g + {j}) % :per\n" for j in range(BATCH_SESSIONS))
    + "begin;\nselect set_config('role', 'service_role', true),"
    " set_config('request.jwt.claims', '{\"role\": \"service_role\"}', true);\n"
    "with beats as (select c.sid, u.claims, row_number() over () as i from bench.cmap c"
    " cross join lateral unnest(c.seer_claims || c.player_claims) u(claims)"
    f" where c.i in ({', '.join(f':i{j}' for j in range(BATCH_SESSIONS))})),"
    " answer as (select public.heartbeat_batch(jsonb_agg(jsonb_build_object('sessionId', sid, 'userId',"
    " claims::json ->> 'sub') order by i)) as a from beats)"
    " select count(*) filter (where x.v::text = 'null') as nmiss,"
    " coalesce(json_agg(json_build_object('sid', b.sid, 'claims', b.claims)) filter (where x.v::text = 'null'), '[]')"
    " as missing from answer cross join json_array_elements(answer.a) with ordinality x(v, i) join beats b on b.i = x.i\n"
    "\\gset\ncommit;\n"
    "\\if :nmiss > 0\nbegin;\n"
    + PROLOGUE.format(claims="(:missing)::json -> 0 ->> 'claims'")
    + ";\nselect public.heartbeat(((:missing)::json -> 0 ->> 'sid')::uuid);\ncommit;\n\\endif\n"
)
# The Seer's change as the SDK's live session sends it (SessionConnection.update_game_state):
# the connection folds the turns from the events, so the request skips the turn history (the
# collector's side is the SDK's live session: its heartbeats batched, its Seer's changes lean)
LIVE_SEER_ACTION = (
    TEMPLATES["seer_action"]
    .replace("{schema}", "public")
    .replace("(:hp)::int))) from", "(:hp)::int)), p_turn_history => false) from")
)
assert "p_turn_history => false" in LIVE_SEER_ACTION
COLLECTOR_PER_SESSION_HOUR = {
    name: w for name, w in PER_SESSION_HOUR.items() if name not in ("heartbeat", "seer_heartbeat")
} | {
    "heartbeat_batch": (PER_SESSION_HOUR["heartbeat"] + PER_SESSION_HOUR["seer_heartbeat"])
    // (7 * BATCH_SESSIONS)
}


def scripts(schema: str) -> dict[str, str]:
    return {name: t.replace("{schema}", schema) for name, t in TEMPLATES.items()}


SIDE_LABEL = {
    "today": "",
    "collector": ", the SDK's live session (heartbeats batched by the collector, lean Seer changes)",
    "pre-24": ", pre-24 paths",
}


def side_mix(side: str) -> tuple[dict[str, str], dict[str, int]]:
    """A side's scripts and their weights (transactions per session-hour); the side "writes" is
    the collector's mix with its events as their writes alone (bench-full's paired rounds)."""
    if side == "writes":
        return writes_scripts(), COLLECTOR_PER_SESSION_HOUR
    mix = scripts(PATHS[side])
    if side != "collector":
        return mix, PER_SESSION_HOUR
    mix = {name: t for name, t in mix.items() if name in COLLECTOR_PER_SESSION_HOUR}
    return mix | {"heartbeat_batch": COLLECTOR, "seer_action": LIVE_SEER_ACTION}, COLLECTOR_PER_SESSION_HOUR


def floor_scripts(schema: str, real: tuple[str, ...] = ()) -> dict[str, str]:
    """The mix with every RPC call but those of the scripts in ``real`` replaced by a read of
    the slot's row: the same transactions (begin, the claims, commit) at the same rates, so
    the CPU it costs is the floor no function can go below (a replacement keeps its session:
    the new id is the old one)."""
    out = {}
    for name, text in scripts(schema).items():
        if name not in real:
            lines = []
            for line in text.split("\n"):
                if line.startswith("select public.create_session("):
                    line = "select sid as nsid from bench.cmap where i = :s"
                elif re.match(r"select (public|bench_pre24)\.\w+\(", line):
                    line = "select sid from bench.cmap where i = :s;"
                lines.append(line)
            text = "\n".join(lines)
        out[name] = text
    return out


def writes_scripts() -> dict[str, str]:
    """The collector's mix with every event RPC replaced by its writes alone (bench/writes.py)."""
    mix, _ = side_mix("collector")
    return {name: writes.writes_only(text) for name, text in mix.items()}


# 100 typical roll turns per cost-model session, in the form each side keeps them: the slots
# lo..hi (the ramps: 1..max N; the paired A/B: each side its own half)
CMAP_SESSIONS = (
    "select c.sid, s.seer_id as seer from bench.cmap c join public.sessions s on s.id = c.sid"
    " where c.i between {lo} and {hi}"
)


def fill(side: str, lo: int, hi: int) -> str:
    sessions = CMAP_SESSIONS.format(lo=lo, hi=hi)
    return history.fill_pre24(sessions) if side == "pre-24" else history.fill_today(sessions)


# back to today's form (the pre-24 code keeps turnHistory in game_state)
UNFILL = history.unfill_pre24()


# commits (every RPC is one) and the size of realtime.messages (its daily partitions)
EXTRA = """
select (select xact_commit from pg_stat_database where datname = current_database()) as commits,
       (select coalesce(sum(pg_total_relation_size(relid)), 0)::bigint from pg_partition_tree('realtime.messages')) as realtime
"""
PROJECTED = (10_000, 100_000, 1_000_000)


async def _table_stats(conn: asyncpg.Connection) -> dict[str, dict[str, int]]:
    out = {}
    for t in TABLES:
        r = await conn.fetchrow(
            "select n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, n_dead_tup, n_live_tup,"
            " pg_relation_size(relid) as heap, pg_indexes_size(relid) as idx"
            " from pg_stat_user_tables where relid = $1::regclass",
            t,
        )
        out[t] = dict(r)
    return out


async def _wal(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"))


def _latencies(log_dir: Path, names: list[str]) -> dict[str, list[float]]:
    """pgbench -l lines: client tx_no latency_us script_no epoch us [lag]; latency counts from
    the scheduled start (rate-limited runs), so queueing shows."""
    out: dict[str, list[float]] = {n: [] for n in names}
    for f in log_dir.glob("cost*"):
        for line in f.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 6 and parts[2].isdigit():
                out[names[int(parts[3])]].append(int(parts[2]) / 1000)
    return out


async def _sweeper(db_url: str, every: float, stop: asyncio.Event, runs: list[float]) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        while not stop.is_set():
            t0 = time.perf_counter()
            await conn.fetchval("select seer_private.sweep()::text")
            runs.append((time.perf_counter() - t0) * 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
    finally:
        await conn.close()


async def _step(
    cluster: PostgresCluster,
    conn: asyncpg.Connection,
    cpu: DbCpu,
    n: int,
    clients: int,
    secs: int,
    k: int,
    tmp: Path,
    side: str,
    mix: dict[str, str] | None = None,
    weights: dict[str, int] | None = None,
    off: int = 0,
) -> dict[str, Any]:
    """One measured step: N sessions (slots off+1..off+N) at the mix's real rates x k (the
    side's mix and weights unless given)."""
    per = n // clients
    # every seat of the slots connected with a fresh heartbeat, and every Seer too, so a step
    # does not start with the sweeper disconnecting the seats and Seers idle since the last step
    # (the pause between steps and ramps is longer than the 60 s liveness window) and their
    # restores. A connected seat's heartbeat lives in seat_liveness: its trigger moves it with
    # last_activity_at, so every live seat is written, not only the disconnected ones (they
    # were until 2026-12-07, which let the first sweep of a step disconnect and the heartbeats
    # restore up to every seat, thousands of events, unevenly between the two paths' ramps).
    await conn.execute(
        "update public.session_players sp set status = 'connected', disconnected_at = null, inactive_at = null,"
        " last_activity_at = now() from bench.cmap c where sp.session_id = c.sid and c.i > $2 and c.i <= $1 + $2"
        " and sp.left_at is null",
        n,
        off,
    )
    await conn.execute(
        "update seer_private.seer_liveness l set last_heartbeat_at = now(), connected = true, disconnected_at = null"
        " from bench.cmap c where l.session_id = c.sid and c.i > $2 and c.i <= $1 + $2",
        n,
        off,
    )
    # and every other live seat and Seer in the database (the rest of the bench population,
    # the slots above N) with a fresh liveness time too: idle, not gone. Their times were
    # those of the population, so the first sweep more than 60 s after it disconnected them
    # all, ~2,700 events landing in whichever step crossed that mark (found 2026-12-07).
    await conn.execute("update seer_private.seat_liveness set last_heartbeat_at = now()")
    await conn.execute("update seer_private.seer_liveness set last_heartbeat_at = now() where connected")
    await asyncio.to_thread(tmp.mkdir, parents=True, exist_ok=True)
    side_scripts, side_weights = side_mix(side)
    mix = mix or side_scripts
    weights = weights or side_weights
    names = list(mix)
    args = ["-c", str(clients), "-j", "2", "-T", str(secs), "-D", f"per={per}", "-D", f"off={off}"]
    for name in names:
        path = tmp / f"{name}.sql"
        path.write_text(mix[name])
        args += ["-f", f"{path}@{weights[name]}"]
    rate = n * k * sum(weights.values()) / 3600
    log_dir = Path(tempfile.mkdtemp(prefix=f"log{side}{n}-", dir=tmp))
    args += ["-R", f"{rate:.1f}", "-l", "--log-prefix", str(log_dir / "cost")]
    with cpu_by_role(cpu) as roles:
        s0, w0, c0 = await _table_stats(conn), await _wal(conn), cpu.seconds()
        x0 = await conn.fetchrow(EXTRA)
        started = await conn.fetchval("select clock_timestamp()")
        stop = asyncio.Event()
        sweeps: list[float] = []
        sweeper = asyncio.create_task(_sweeper(cluster.dsn, 60 / k, stop, sweeps))
        t0 = time.perf_counter()
        try:
            res, errors = await asyncio.to_thread(pgbench_run, cluster.dsn, args, timeout=secs * 4 + 120)
        finally:
            stop.set()
            await sweeper
        wall = time.perf_counter() - t0
        await asyncio.sleep(1)
        s1, w1, c1 = await _table_stats(conn), await _wal(conn), cpu.seconds()
    x1 = await conn.fetchrow(EXTRA)
    lat = _latencies(log_dir, names)
    rpc = [v for name in RPC_SCRIPTS for v in lat.get(name, [])]
    events = s1["public.session_events"]["n_tup_ins"] - s0["public.session_events"]["n_tup_ins"]
    # the events the step wrote by type: both paths must see the same mix (a sweep that
    # disconnects seats, and the heartbeats that restore them, would add events to one side)
    by_type = {
        r["type"]: r["n"]
        for r in await conn.fetch(
            "select type, count(*)::int as n from public.session_events where created_at >= $1"
            " group by type order by n desc",
            started,
        )
    }
    player_hours = 6 * n * wall * k / 3600
    sessions = await conn.fetchval("select count(*) from public.sessions")
    ev0, ev1 = s0["public.session_events"], s1["public.session_events"]
    ev_growth = (ev1["heap"] + ev1["idx"] - ev0["heap"] - ev0["idx"]) / max(1, events)
    per_session = sum(s1[t]["heap"] + s1[t]["idx"] for t in SESSION_TABLES) / max(1, sessions)
    return {
        "n": n,
        "rate": rate,
        "tps": res.tps,
        "failed": res.failed,
        "p99": pct(rpc, 99),
        "p50": pct(rpc, 50),
        "p99_replace": pct(lat["replace_session"], 99),
        # each script's p99: which one passed 50 ms when a step is not held
        "p99_by_script": {name: pct(v, 99) for name, v in lat.items() if v},
        "held": pct(rpc, 99) <= 50 and kept_rate(res.tps, rate, secs) and not res.failed and not errors,
        "errors": errors,
        "cpu": c1 - c0,
        "roles": roles,
        "wal": w1 - w0,
        "events": events,
        "by_type": by_type,
        "player_hours": player_hours,
        "wall": wall,
        "sweep_ms": pct(sweeps, 50),
        "tables": {
            t: {key: s1[t][key] - s0[t][key] for key in s1[t]}
            | {"dead": s1[t]["n_dead_tup"], "heap_abs": s1[t]["heap"], "idx_abs": s1[t]["idx"]}
            for t in TABLES
        },
        "sessions": sessions,
        "commits": x1["commits"] - x0["commits"],
        "realtime": x1["realtime"] - x0["realtime"],
        # what stays: the events written (at their heap+index growth per event) and the sessions
        # created (at the average footprint of a session with its seats); a 30 s step's raw
        # growth is mostly dead row versions that vacuum reuses, not storage
        "storage": events * ev_growth
        + (s1["public.sessions"]["n_tup_ins"] - s0["public.sessions"]["n_tup_ins"]) * per_session,
        "events_total": await conn.fetchval("select count(*) from public.session_events"),
    }


async def _refill(conn: asyncpg.Connection, *fills: str) -> None:
    """The histories in the forms the fills write (each on its slots), every other session
    back to today's form. The fills' dead rows are vacuumed and their statistics flushed now,
    not inside the next measured step (an autovacuum in its middle; a make bench once counted
    a fill's 4,800 events as the first paired round's)."""
    await conn.execute(UNFILL)
    for sql in fills:
        await conn.execute(sql)
    await conn.execute("vacuum analyze public.sessions")
    await conn.execute("vacuum analyze public.session_events")
    await conn.execute("select pg_stat_force_next_flush()")


def _warm_secs(secs: int) -> int:
    """The length of the short unmeasured step run before measured ones: the first seconds
    after a fill and a checkpoint (full-page images of every page first touched, cold caches)
    landed on whichever ramp ran first and made its first step an outlier (p99 0.9-3 s, 4x the
    WAL) in the same run where later ramps were not."""
    return max(2, secs // 2)


async def _durability(conn: asyncpg.Connection, on: bool) -> None:
    v = "on" if on else "off"
    for name in ("fsync", "synchronous_commit", "full_page_writes"):
        await conn.execute(f"alter system set {name} = {v}")
    await conn.execute("select pg_reload_conf()")
    await asyncio.sleep(0.5)
    await conn.execute("checkpoint")


async def run(cluster: PostgresCluster, sizes: Sizes, rows: list[Row], log: list[str]) -> None:
    quick = not full_run()
    k = env_int("BENCH_COST_COMPRESS", 10)
    secs = env_int("BENCH_COST_SECONDS", 8 if quick else 30)
    clients = sizes.clients
    steps = [
        int(x)
        for x in (
            env_int("BENCH_COST_START", 48 if quick else 96) * 2**i
            for i in range(env_int("BENCH_COST_STEPS", 3 if quick else 5))
        )
    ]
    steps = [max(clients, s - s % clients) for s in steps]
    assert cluster.data_dir is not None
    cpu = DbCpu(cluster.data_dir)
    # slots 1..2 x max N: the ramps drive 1..N, the paired A/B gives each side its own N
    slots = 2 * max(steps)
    await population.populate(cluster.dsn, slots + 50, 0)
    conn = await asyncpg.connect(cluster.admin_dsn, command_timeout=900)
    sec = "7 cost model"
    try:
        # a step of N sessions drives slots off+1..off+N (client_id partitions them); the map
        # is made by the user pgbench connects as: its replace script updates it
        app = await asyncpg.connect(cluster.dsn)
        try:
            await app.execute(CMAP.format(n=slots))
        finally:
            await app.close()
        have = await conn.fetchval("select count(*) from bench.cmap")
        if have < slots:
            raise RuntimeError(f"only {have} active bench sessions for 2 x N = {slots}")
        await conn.execute("vacuum analyze")
        if await conn.fetchval("select count(*) from pg_extension where extname = 'pg_cron'"):
            await conn.execute(
                "select cron.alter_job(jobid, active => false) from cron.job where jobname = 'seer-sweep-sessions'"
            )
        # the server's own background CPU (checkpointer, autovacuum launcher, pg_cron...) over
        # the same wall time, the baseline subtracted from every step
        c0 = cpu.seconds()
        await asyncio.sleep(secs / 2)
        idle_rate = (cpu.seconds() - c0) / (secs / 2)
        await conn.execute("set search_path = public")
        await conn.execute(OLD_PATHS.read_text())
        await conn.execute("reset search_path")
        ramps = (
            [(side, durable) for durable in (False, True) for side in ("today", "collector", "pre-24")]
            if not quick
            # make bench: the comparison only (durability on); bench-full adds durability off
            else [("today", True), ("collector", True), ("pre-24", True)]
        )
        filled = ""
        by_ramp: dict[tuple[str, bool], list[dict[str, Any]]] = {}
        decomposed: dict[bool, tuple[int, dict[str, dict[str, Any]]]] = {}
        paired: dict[bool, dict[str, list[dict[str, Any]]]] = {}
        for side, durable in ramps:
            mode = ("durability on" if durable else "durability off") + SIDE_LABEL[side]
            form = "pre-24" if side == "pre-24" else "today"
            if filled != form:
                await _refill(conn, fill(form, 1, max(steps)))
                filled = form
            await _durability(conn, durable)
            results: list[dict[str, Any]] = []
            with tempfile.TemporaryDirectory(prefix="seer-cost-") as tmpdir:
                await _step(
                    cluster,
                    conn,
                    cpu,
                    steps[0],
                    clients,
                    _warm_secs(secs),
                    k,
                    Path(tmpdir) / "warm",
                    side,
                )
                todo = list(steps)
                # bench-full: one step between the largest N held and the first N not held, so
                # the players held move by half a doubling, not a doubling (BENCH_COST_BISECT=0: off)
                bisect = env_int("BENCH_COST_BISECT", 0 if quick else 1) > 0
                while todo:
                    n = todo.pop(0)
                    r = await _step(cluster, conn, cpu, n, clients, secs, k, Path(tmpdir), side)
                    results.append(r)
                    print(
                        f"    {mode}: N={n} (= {n * k} real sessions) target {r['rate']:.0f} tx/s, got {r['tps']:.0f};"
                        f" CPU {_per_hour(r, idle_rate)[0] * 1000:.1f} ms per live player-hour;"
                        f" RPC p50 {r['p50']:.1f} ms p99 {r['p99']:.1f} ms; replace p99 {r['p99_replace']:.0f} ms;"
                        f" events {r['events']}: {_by_type(r)}",
                        flush=True,
                    )
                    if not r["held"]:
                        print(
                            "      p99 by script: "
                            + ", ".join(f"{x} {v:.1f} ms" for x, v in r["p99_by_script"].items()),
                            flush=True,
                        )
                    for line in r["errors"][:5]:
                        print(f"      pgbench: {line}", flush=True)
                        log.append(f"  cost model {mode} N={n} pgbench: {line}")
                    rows.append(
                        Row(
                            sec,
                            f"{mode}: N = {n} x K {k} = {n * k * 6} players",
                            f"RPC p99 {r['p99']:.1f} ms, {r['tps']:.0f}/{r['rate']:.0f} tx/s",
                            f"p50 {r['p50']:.1f} ms",
                            "",
                            "p99 <= 50 ms",
                            "held" if r["held"] else "NOT held",
                        )
                    )
                    if not r["held"]:
                        # the first step already too much (durability on, a slow disk): step down
                        if not any(x["held"] for x in results) and n // 2 >= clients:
                            todo = [n // 2 - (n // 2) % clients]
                            continue
                        mid = between(max((x["n"] for x in results if x["held"]), default=0), n, clients)
                        if bisect and mid is not None:
                            bisect = False
                            todo = [mid]
                            continue
                        break
            by_ramp[(side, durable)] = results
            held = [r for r in results if r["held"]]
            best = held[-1] if held else results[0]
            _summary(rows, log, sec, mode, best, bool(held), k, idle_rate)
            if side == "today" and not quick:
                # the heartbeat rate on today's paths, ABBA at the largest N held (same fill, same
                # N, alternating: a step-to-step difference on this machine is +-20%); bench-full
                # only, so that make bench stays under 8 minutes with the paired rounds below
                ab: dict[str, list[dict[str, Any]]] = {"30 s": [], "60 s": []}
                with tempfile.TemporaryDirectory(prefix="seer-cost-") as tmpdir:
                    for every in ("30 s", "60 s", "60 s", "30 s"):
                        ab[every].append(
                            await _step(
                                cluster,
                                conn,
                                cpu,
                                best["n"],
                                clients,
                                secs,
                                k,
                                Path(tmpdir),
                                side,
                                None,
                                SLOW_HEARTBEATS if every == "60 s" else None,
                            )
                        )
                _heartbeat_rate(rows, sec, mode, ab, idle_rate)
            at = (
                _compare_n(*(by_ramp.get((x, durable), []) for x in ("today", "collector")), results)
                if side == "pre-24"
                else None
            )
            if at is not None:
                # The paths once more at that N, ABCCBA, each history form on its own half of
                # the slots (today's form 1..N for today and the collector, pre-24's N+1..2N):
                # two ramps minutes apart differ by up to ~20% a step on these cores, and the
                # first ramp of a run is inflated, so the CPU and WAL ratios come from these rounds.
                await _refill(conn, fill("today", 1, at), fill("pre-24", at + 1, 2 * at))
                filled = ""
                offsets = {"today": 0, "collector": 0, "pre-24": at}
                order = ["today", "collector", "pre-24"]
                if not quick:
                    # bench-full: the collector's mix with its events as their writes alone
                    # (bench/writes.py) joins the rounds, on today's half: the least these
                    # events cost, paired like the rest (one step of it read 0.50x where three
                    # paired rounds read 0.42x, 2026-12-07)
                    await conn.execute(writes.FUNCTION + writes.TEMPLATES)
                    offsets["writes"] = 0
                    order = ["today", "collector", "writes", "pre-24"]
                dmode = "durability on" if durable else "durability off"
                pair: dict[str, list[dict[str, Any]]] = {p: [] for p in offsets}
                with tempfile.TemporaryDirectory(prefix="seer-cost-") as tmpdir:
                    # each side gets the ramps' unmeasured warm-up, on its own half
                    for p in offsets:
                        await _step(
                            cluster,
                            conn,
                            cpu,
                            at,
                            clients,
                            _warm_secs(secs),
                            k,
                            Path(tmpdir) / f"warm-{p}",
                            p,
                            off=offsets[p],
                        )
                    for p in order + order[::-1]:
                        r = await _step(
                            cluster, conn, cpu, at, clients, secs, k, Path(tmpdir), p, off=offsets[p]
                        )
                        pair[p].append(r)
                        cpu_h, wal_h = _per_hour(r, idle_rate)
                        print(
                            f"    {dmode}: N={at} paired round, {p}: CPU {cpu_h * 1000:.1f} ms and WAL"
                            f" {wal_h / 1024:.1f} KiB per live player-hour, RPC p99 {r['p99']:.1f} ms,"
                            f" events {r['events']}: {_by_type(r)}",
                            flush=True,
                        )
                paired[durable] = pair
                if quick:
                    continue
                # the same N and durability once more with the calls replaced (floor_scripts),
                # each on the half of the slots its history form is on (bench-full only: make
                # bench stays under 8 minutes)
                parts: dict[str, dict[str, Any]] = {}
                with tempfile.TemporaryDirectory(prefix="seer-cost-") as tmpdir:
                    for part, mix, off in (
                        ("floor", floor_scripts("public"), 0),
                        ("hb_today", floor_scripts(PATHS["today"], HEARTBEATS), 0),
                        ("hb_pre", floor_scripts(PATHS["pre-24"], HEARTBEATS), at),
                    ):
                        parts[part] = await _step(
                            cluster,
                            conn,
                            cpu,
                            at,
                            clients,
                            secs,
                            k,
                            Path(tmpdir),
                            side,
                            mix,
                            None,
                            off,
                        )
                        print(
                            f"    {dmode}: N={at} {part}: CPU {_per_hour(parts[part], idle_rate)[0] * 1000:.1f} ms"
                            f" per live player-hour, RPC p99 {parts[part]['p99']:.1f} ms,"
                            f" events {parts[part]['events']}: {_by_type(parts[part])}",
                            flush=True,
                        )
                decomposed[durable] = (at, parts)
        for durable in (False, True):
            if ("pre-24", durable) in by_ramp:
                for side in ("today", "collector"):
                    rounds = paired.get(durable)
                    _compare(
                        rows,
                        sec,
                        durable,
                        side,
                        by_ramp[(side, durable)],
                        by_ramp[("pre-24", durable)],
                        k,
                        idle_rate,
                        {"today": rounds[side], "pre-24": rounds["pre-24"]} if rounds else None,
                    )
            if durable in decomposed:
                at, parts = decomposed[durable]
                _decompose(
                    rows,
                    sec,
                    durable,
                    _pooled(paired[durable]["today"]),
                    _pooled(paired[durable]["pre-24"]),
                    _pooled(paired[durable]["collector"]),
                    _pooled(paired[durable]["writes"]),
                    parts,
                    idle_rate,
                )
    finally:
        await conn.execute(UNFILL)
        await _durability(conn, False)
        if await conn.fetchval("select count(*) from pg_extension where extname = 'pg_cron'"):
            await conn.execute(
                "select cron.alter_job(jobid, active => true) from cron.job where jobname = 'seer-sweep-sessions'"
            )
        await conn.close()


def _per_hour(r: dict[str, Any], idle_rate: float) -> tuple[float, float]:
    """Database CPU seconds (less the server's idle CPU) and WAL bytes per live player-hour."""
    ph = r["player_hours"]
    return max(0.0, r["cpu"] - idle_rate * r["wall"]) / ph, r["wal"] / ph


def _pooled(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one side as one long step: the sums _per_hour reads, and the CPU by process."""
    out: dict[str, Any] = {x: sum(r[x] for r in steps) for x in ("player_hours", "cpu", "wall", "wal")}
    out["n"] = steps[0]["n"]
    out["roles"] = {
        role: sum(r["roles"].get(role, 0.0) for r in steps) for role in {x for r in steps for x in r["roles"]}
    }
    return out


def _by_type(r: dict[str, Any]) -> str:
    """A step's events by type, for its progress line."""
    return ", ".join(f"{t} {c}" for t, c in r["by_type"].items())


def kept_rate(tps: float, rate: float, secs: float) -> bool:
    """Whether a rate-limited step kept its rate. pgbench -R starts transactions on a Poisson
    schedule, so the count a step makes varies by sqrt(rate x secs) even on an idle server: at
    the collector mix's 85 tx/s for 8 s (680 expected, +-26) a 5% bar failed ~1 step in 10 on
    chance alone (seen 2026-12-08: 81 of 85 tx/s at p99 11 ms). The bar is 5% below the rate or
    three standard deviations, whichever is wider. A server that falls behind shows in the p99
    anyway: latencies count from the scheduled start."""
    expected = rate * secs
    return tps >= rate * (1 - max(0.05, 3 / math.sqrt(expected))) if expected > 0 else True


def between(held: int, failed: int, clients: int) -> int | None:
    """The step between the largest N held and the first N not held (a multiple of the
    clients, each driving its own slots), or None when there is none (nothing held yet, or no
    multiple strictly between them)."""
    if not held or failed <= held:
        return None
    mid = (held + failed) // 2
    mid -= mid % clients
    return mid if held < mid < failed else None


def _compare_n(*ramps: list[dict[str, Any]]) -> int | None:
    """The N the ramps are compared at: the largest all held, else the smallest all ran."""
    common = sorted(set.intersection(*({r["n"] for r in ramp} for ramp in ramps)))
    all_held = [n for n in common if all(r["held"] for ramp in ramps for r in ramp if r["n"] == n)]
    return (all_held[-1] if all_held else common[0]) if common else None


# the scripts whose calls stay real in the heartbeat-only mix
HEARTBEATS = ("heartbeat", "seer_heartbeat")
# the same mix with every connection heartbeating every 60 s instead of 30 s: what the
# product decision the CPU goal waits on would buy (docs/performance.md, section 9)
SLOW_HEARTBEATS = PER_SESSION_HOUR | {"heartbeat": 360, "seer_heartbeat": 60}


def _heartbeat_rate(
    rows: list[Row], sec: str, mode: str, ab: dict[str, list[dict[str, Any]]], idle_rate: float
) -> None:
    """CPU and WAL per live player-hour of today's paths with every connection heartbeating
    every 30 s (the PRD) and every 60 s: what that product change would buy."""
    per: dict[str, tuple[float, float]] = {}
    for every, steps in ab.items():
        cpu, wal = _per_hour(_pooled(steps), idle_rate)
        per[every] = (cpu * 1000, wal / 1024)
    (c30, w30), (c60, w60) = per["30 s"], per["60 s"]
    n = ab["30 s"][0]["n"]
    rows.append(
        Row(
            sec,
            f"{mode}: today's paths, heartbeat every 60 s vs 30 s: DB CPU per live player-hour (N = {n}, ABBA)",
            f"{c60:.1f} ms",
            f"{c30:.1f} ms every 30 s",
            f"{c60 / c30:.2f}x" if c30 else "",
        )
    )
    rows.append(
        Row(
            sec,
            f"{mode}: today's paths, heartbeat every 60 s vs 30 s: WAL per live player-hour",
            f"{w60:.1f} KiB",
            f"{w30:.1f} KiB every 30 s",
            f"{w60 / w30:.2f}x" if w30 else "",
        )
    )


def _decompose(
    rows: list[Row],
    sec: str,
    durable: bool,
    today: dict[str, Any],
    pre: dict[str, Any],
    collector: dict[str, Any],
    alone: dict[str, Any],
    parts: dict[str, dict[str, Any]],
    idle_rate: float,
) -> None:
    """Where a live player-hour's CPU goes, on both paths at the compared N: the floor (the
    mix's transactions calling no function), the heartbeats' own work above it (the mix with
    only the heartbeats real), and the events and the rest above that; and what halving
    would leave the events."""
    mode = "durability on" if durable else "durability off"
    n = today["n"]
    floor = _per_hour(parts["floor"], idle_rate)[0] * 1000
    tot_t, tot_o = (_per_hour(r, idle_rate)[0] * 1000 for r in (today, pre))
    hb_t, hb_o = (_per_hour(parts[x], idle_rate)[0] * 1000 for x in ("hb_today", "hb_pre"))
    rows.append(
        Row(
            sec,
            f"{mode}: CPU per live player-hour, the floor: the same transactions calling no function (N = {n})",
            f"{floor:.1f} ms",
            "",
            f"{floor / tot_t:.0%} of today's, {floor / tot_o:.0%} of pre-24's" if tot_t and tot_o else "",
        )
    )
    for what, t, o in (
        ("the heartbeats' own work above the floor", hb_t - floor, hb_o - floor),
        ("the events and the rest above the heartbeats", tot_t - hb_t, tot_o - hb_o),
    ):
        rows.append(
            Row(
                sec,
                f"{mode}: CPU per live player-hour, {what}",
                f"{t:.1f} ms",
                f"{o:.1f} ms pre-24",
                f"{t / o:.2f}x" if o > 0 else "",
            )
        )
    # the same totals by process (approximate: cpu_by_role), per live player-hour
    roles = sorted(set(today["roles"]) | set(pre["roles"]), key=lambda x: -today["roles"].get(x, 0.0))
    for role in roles:
        t, o = (r["roles"].get(role, 0.0) / r["player_hours"] * 1000 for r in (today, pre))
        if t or o:
            rows.append(
                Row(
                    sec,
                    f"{mode}: CPU per live player-hour in {role} (by process, approximate)",
                    f"{t:.1f} ms",
                    f"{o:.1f} ms pre-24",
                    f"{t / o:.2f}x" if o else "",
                )
            )
    # the collector's mix with its events as their writes alone: the least these events can
    # cost on this schema, against the collector's real events and half of pre-24's total
    writes, coll = (_per_hour(r, idle_rate)[0] * 1000 for r in (alone, collector))
    rows.append(
        Row(
            sec,
            f"{mode}: CPU per live player-hour, the collector's mix with every event RPC reduced to its writes"
            " (no checks, no reply; paired rounds)",
            f"{writes:.1f} ms",
            f"{coll:.1f} ms with the real RPCs",
            f"{writes / tot_o:.2f}x of pre-24's total (goal 0.5x)" if tot_o else "",
        )
    )
    # half the pre-24 total, less today's floor and heartbeats: what the events may cost
    budget = 0.5 * tot_o - hb_t
    rows.append(
        Row(
            sec,
            f"{mode}: CPU per live player-hour left for the events at 0.5x (half of pre-24 less today's heartbeats and floor)",
            f"{budget:.1f} ms",
            f"{tot_t - hb_t:.1f} ms today",
            f"{budget / (tot_o - hb_o):.2f}x of pre-24's" if tot_o > hb_o else "",
        )
    )


def _compare(
    rows: list[Row],
    sec: str,
    durable: bool,
    side: str,
    today: list[dict[str, Any]],
    pre: list[dict[str, Any]],
    k: int,
    idle_rate: float,
    paired: dict[str, list[dict[str, Any]]] | None = None,
) -> None:
    """One of today's sides against the pre-24 copies: cost per player-hour at the same load
    (the largest N the ramps held, else the smallest they ran; from the paired rounds at that N
    when they ran, else from the two ramps' steps), and the players each held at p99 <= 50 ms."""
    mode = "durability on" if durable else "durability off"
    paths = "today" if side == "today" else "the SDK's live session (collector, lean Seer changes)"
    # the paired rounds ran at the N all three ramps were compared at
    n = paired["today"][0]["n"] if paired else _compare_n(today, pre)
    if n is not None:
        if paired:
            t, o = _pooled(paired["today"]), _pooled(paired["pre-24"])
            how = f"N = {n}, paired rounds on disjoint halves"
        else:
            t = next(r for r in today if r["n"] == n)
            o = next(r for r in pre if r["n"] == n)
            how = f"N = {n}, one ramp step each"
        cpu_t, wal_t = _per_hour(t, idle_rate)
        cpu_o, wal_o = _per_hour(o, idle_rate)
        rows.append(
            Row(
                sec,
                f"{mode}: {paths} vs pre-24 paths, DB CPU per live player-hour ({how})",
                f"{cpu_t * 1000:.1f} ms",
                f"{cpu_o * 1000:.1f} ms pre-24",
                f"{cpu_t / cpu_o:.2f}x" if cpu_o else "",
                "<= 0.5x",
                ("ok" if cpu_t <= 0.5 * cpu_o else "ABOVE") if cpu_o else "",
            )
        )
        rows.append(
            Row(
                sec,
                f"{mode}: {paths} vs pre-24 paths, WAL per live player-hour ({how})",
                f"{wal_t / 1024:.1f} KiB",
                f"{wal_o / 1024:.1f} KiB pre-24",
                f"{wal_t / wal_o:.2f}x" if wal_o else "",
                "<= 0.5x",
                ("ok" if wal_t <= 0.5 * wal_o else "ABOVE") if wal_o else "",
            )
        )
    (held_t, capped), (held_o, capped_o) = _held(today), _held(pre)
    ratio, verdict = held_verdict(held_t, capped, held_o, capped_o)
    rows.append(
        Row(
            sec,
            f"{mode}: {paths} vs pre-24 paths, live players held at RPC p99 <= 50 ms",
            f"{held_t * k * 6} players" + (" (every step held)" if capped else ""),
            f"{held_o * k * 6} players pre-24" + (" (every step held)" if capped_o else ""),
            ratio,
            ">= 2x",
            verdict,
        )
    )


def _held(ramp: list[dict[str, Any]]) -> tuple[int, bool]:
    """A ramp's largest N held, and whether it held every step (then it may hold more)."""
    return max((r["n"] for r in ramp if r["held"]), default=0), all(r["held"] for r in ramp)


def held_verdict(held_t: int, capped_t: bool, held_o: int, capped_o: bool) -> tuple[str, str]:
    """The players-held ratio and its verdict against >= 2x. A side that held every step of its
    ramp may hold more: its figure is a lower bound, so the ratio is one too (today capped), an
    upper bound (pre-24 capped), or unknown (both), and only a bound on the right side of 2x
    decides."""
    if not held_o:
        return "", ""
    r = held_t / held_o
    if capped_t and capped_o:
        return f"{r:.1f}x?", "UNDECIDED (both held every step)"
    if capped_t:
        return f">= {r:.1f}x", "ok" if r >= 2 else "UNDECIDED (today held every step)"
    if capped_o:
        return f"<= {r:.1f}x", "BELOW" if r < 2 else "UNDECIDED (pre-24 held every step)"
    return f"{r:.1f}x", "ok" if r >= 2 else "BELOW"


def _summary(
    rows: list[Row],
    log: list[str],
    sec: str,
    mode: str,
    r: dict[str, Any],
    held: bool,
    k: int,
    idle_rate: float,
) -> None:
    n = r["n"]
    rows.append(
        Row(
            sec,
            f"{mode}: largest N held",
            f"{n if held else 0} sessions = {n * k * 6 if held else 0} real players"
            if held
            else "none (first step failed)",
            "",
            "",
            "",
            "",
        )
    )
    ph, ev = r["player_hours"], max(1, r["events"])
    work = max(0.0, r["cpu"] - idle_rate * r["wall"])
    rows.append(
        Row(
            sec,
            f"{mode}: DB CPU per live player-hour / per event",
            f"{work / ph * 1000:.1f} ms / {work / ev * 1e6:.0f} us",
            f"at N = {n}: {r['cpu']:.1f} s CPU in {r['wall']:.0f} s wall, less idle {idle_rate:.2f} CPU-s/s",
        )
    )
    rows.append(
        Row(
            sec,
            f"{mode}: WAL per live player-hour / per event",
            f"{r['wal'] / ph / 1024:.1f} KiB / {r['wal'] / ev:.0f} B",
            f"{r['wal'] / 2**20:.1f} MiB, {r['events']} events",
        )
    )
    t = r["tables"]
    seats_sessions = sum(t[x]["heap_abs"] + t[x]["idx_abs"] for x in SESSION_TABLES)
    ev_t = t["public.session_events"]
    ev_rows = max(1, r["events_total"])
    rows.append(
        Row(
            sec,
            f"{mode}: heap+index per session (sessions + seats, all rows)",
            f"{seats_sessions / max(1, r['sessions']) / 1024:.1f} KiB",
            f"{r['sessions']} sessions",
        )
    )
    rows.append(
        Row(
            sec,
            f"{mode}: heap+index per event (session_events)",
            f"{(ev_t['heap_abs'] + ev_t['idx_abs']) / ev_rows:.0f} B",
            f"{ev_rows} events; growth this step {(ev_t['heap'] + ev_t['idx']) / ev:.0f} B/event",
        )
    )
    for name, x in t.items():
        hot = x["n_tup_hot_upd"] / x["n_tup_upd"] if x["n_tup_upd"] else float("nan")
        rows.append(
            Row(
                sec,
                f"{mode}: {name.split('.')[1]}: dead tuples / HOT updates",
                f"{x['dead']} dead / {hot:.0%} HOT",
                f"{x['n_tup_upd']} updates, {x['n_tup_ins']} inserts",
            )
        )
    # per real player per real second: the step ran `wall` seconds for 6 N K real players
    per = 1 / (r["wall"] * 6 * n * k)
    for p in PROJECTED:
        rows.append(
            Row(
                sec,
                f"{mode}: projected at {p:,} live players",
                f"{r['commits'] * per * p:,.0f} commits/s, WAL {r['wal'] * per * p / 2**20:.2f} MiB/s,"
                f" {work * per * p:.1f} DB cores",
                f"storage +{r['storage'] * per * p * 86400 / 2**30:.1f} GiB/day before retention (+ realtime.messages"
                f" {r['realtime'] * per * p * 86400 / 2**30:.1f} GiB/day, kept 3 days)",
            )
        )
    log.append(
        f"\n  cost model {mode}: sweeper median {r['sweep_ms']:.1f} ms per run at N = {n}; replace_session p99 {r['p99_replace']:.0f} ms"
    )
