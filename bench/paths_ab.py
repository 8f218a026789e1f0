# ruff: noqa: E501 - SQL text reads better unwrapped
"""9. Paths A/B (issue 24): today's event-writing and session RPCs against copies of the code
paths before issue 24, same cluster, same run, alternating pgbench rounds.

The old paths are bench/old_paths.sql: pg_get_functiondef of each function as it was (the
event writer calling realtime.send; update_game_state, roll_dice and submit_action rewriting
the whole game state with its turnHistory on every call; session_json calling a
non-inlinable player_fields per seat), verbatim but for the schema (bench_pre24), created in
the throw-away bench cluster only, as the heartbeat A/B does.

The two sides use disjoint halves of the bench sessions (old: odd i, new: even i), because
their data differs by design: the old code keeps turnHistory in sessions.game_state, the new
one derives it from the turn entries in the event log. Before the runs every session gets the
same 100 typical roll turns in its side's form (a long game's steady state: the histories are
full, which is where the old code is slowest), so both sides start from the same history.

Printed per RPC: throughput (new vs old), database CPU per call (all server processes, read
after a pause so exited backends are counted) and WAL bytes per call, from the same rounds.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import asyncpg

from seer_devstack.postgres import PostgresCluster

from . import history
from .common import DbCpu, Row, Sizes, full_run
from .sqlpath import LAST_20, PROLOGUE, SHAPE_ONLY, pgbench

OLD_PATHS = Path(__file__).with_name("old_paths.sql")

PICK = "\\set s 2 * random(0, :nhalf - 1) + :off\n"
SEER = PROLOGUE.format(claims="seer_claims") + " from bench.map where i = :s;\n"
PLAYER = (
    "\\set k random(1, 6)\n"
    + PROLOGUE.format(claims="player_claims[(:k)::int]")
    + " from bench.map where i = :s;\n"
)

# rpc: (claims prologue, call with {schema} for the side)
CALLS: dict[str, tuple[str, str]] = {
    "update_game_state": (
        "\\set hp random(1, 1000)\n" + "begin;\n" + SEER,
        "select {schema}.update_game_state(sid, jsonb_build_object('setVariables', jsonb_build_object('hp', (:hp)::int, 'round', 1))) from bench.map where i = :s;\n",
    ),
    # today's call as a client that folds the events sends it (the SDK's turn_history=False: no
    # turnHistory in the reply), against the old call's full reply
    "update_game_state (turn_history false)": (
        "\\set hp random(1, 1000)\n" + "begin;\n" + SEER,
        "select {schema}.update_game_state(sid, jsonb_build_object('setVariables', jsonb_build_object('hp', (:hp)::int, 'round', 1)){no_history}) from bench.map where i = :s;\n",
    ),
    "roll_dice": (
        "begin;\n" + SEER,
        "select {schema}.roll_dice(sid, '2d6+3', 'bench') from bench.map where i = :s;\n",
    ),
    "submit_action": (
        "begin;\n" + PLAYER,
        "select {schema}.submit_action(sid, 'I search the room') from bench.map where i = :s;\n",
    ),
    "get_session": ("begin;\n" + PLAYER, "select {schema}.get_session(sid) from bench.map where i = :s;\n"),
    # the last 20 events (after_seq is set right before: reads change no seq)
    "session_events_since": (
        "begin;\n" + PLAYER,
        "select {schema}.session_events_since(sid, after_seq, 20) from bench.map where i = :s;\n",
    ),
}
SIDES = {"old": "bench_pre24", "new": "public"}

# 100 typical roll turns per session, in each side's form (the same entries): the old side on
# the odd slots up to $1, the new side on the even ones
HALF = "select b.sid, s.seer_id as seer from bench.map b join public.sessions s on s.id = b.sid where b.i % 2 = {odd} and b.i <= $1"
FILL_OLD = history.fill_pre24(HALF.format(odd=1))
FILL_NEW = history.fill_today(HALF.format(odd=0))
# the old side's sessions go back to the new form for the sections that follow
UNFILL_OLD = history.unfill_pre24("select b.sid from bench.map b where b.i % 2 = 1")


async def _wal(conn: asyncpg.Connection) -> int:
    await asyncio.sleep(1)  # let exiting pgbench backends be reaped (their CPU is counted then)
    return int(await conn.fetchval("select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"))


async def run(cluster: PostgresCluster, sizes: Sizes, rows: list[Row], log: list[str]) -> None:
    assert cluster.data_dir is not None
    cpu = DbCpu(cluster.data_dir)
    rounds = 3 if full_run() else 1
    secs = max(3, sizes.pgbench_seconds - 1)
    nhalf = max(1, sizes.sessions // 2)
    conn = await asyncpg.connect(cluster.admin_dsn, command_timeout=900)
    totals: dict[tuple[str, str], dict[str, float]] = {}
    try:
        await conn.execute("set search_path = public")
        await conn.execute(OLD_PATHS.read_text())
        await conn.execute(FILL_OLD, nhalf * 2)
        await conn.execute(FILL_NEW, nhalf * 2)
        await conn.execute("vacuum analyze public.sessions")
        await conn.execute("vacuum analyze public.session_events")
        await conn.execute("checkpoint")
        with tempfile.TemporaryDirectory(prefix="seer-paths-") as tmp:
            ceiling = Path(tmp) / "ceiling.sql"
            ceiling.write_text(SHAPE_ONLY)
            common = ["-c", str(sizes.clients), "-j", "2", "-T", str(secs)]
            for rpc, (prologue, call) in CALLS.items():
                if rpc == "session_events_since":
                    await conn.execute(LAST_20)
                paths = {}
                for side, schema in SIDES.items():
                    stem = "".join(ch if ch.isalnum() else "_" for ch in rpc)
                    paths[side] = Path(tmp) / f"{stem}_{side}.sql"
                    # {no_history}: today's optional argument, which the old function lacks
                    extra = ", null, false" if side == "new" else ""
                    paths[side].write_text(
                        PICK + prologue + call.format(schema=schema, no_history=extra) + "commit;\n"
                    )
                for r in range(rounds):
                    order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
                    for side in order:
                        off = 1 if side == "old" else 2
                        wal0 = await _wal(conn)
                        cpu0 = cpu.seconds()
                        res = pgbench(
                            cluster.dsn,
                            [*common, "-D", f"nhalf={nhalf}", "-D", f"off={off}", "-f", str(paths[side])],
                        )
                        wal1 = await _wal(conn)
                        t = totals.setdefault(
                            (rpc, side), {"tx": 0, "secs": 0, "cpu": 0, "wal": 0, "failed": 0}
                        )
                        t["cpu"] += cpu.seconds() - cpu0
                        t["wal"] += wal1 - wal0
                        t["tx"] += res.transactions
                        t["secs"] += res.transactions / res.tps if res.tps else 0
                        t["failed"] += res.failed
            # the same transactions calling no function, for scale
            res = pgbench(cluster.dsn, [*common, "-D", f"nsessions={sizes.sessions}", "-f", str(ceiling)])
            shape_tps = res.tps
    finally:
        await conn.execute(UNFILL_OLD)
        await conn.close()

    sec = "9 paths A/B"
    for rpc in CALLS:
        o, n = totals[(rpc, "old")], totals[(rpc, "new")]
        if o["failed"] or n["failed"]:
            raise RuntimeError(f"{rpc}: {o['failed']} old / {n['failed']} new failed transactions")
        tps_o = o["tx"] / o["secs"] if o["secs"] else 0.0
        tps_n = n["tx"] / n["secs"] if n["secs"] else 0.0
        cpu_o = o["cpu"] / o["tx"] * 1e6 if o["tx"] else 0.0
        cpu_n = n["cpu"] / n["tx"] * 1e6 if n["tx"] else 0.0
        wal_o = o["wal"] / o["tx"] if o["tx"] else 0.0
        wal_n = n["wal"] / n["tx"] if n["tx"] else 0.0
        rows.append(
            Row(
                sec,
                f"{rpc}: throughput ({rounds} x {secs} s a side, alternating; 100-turn histories)",
                f"{tps_n:.0f} tps",
                f"{tps_o:.0f} tps old",
                f"{tps_n / tps_o:.2f}x" if tps_o else "",
            )
        )
        rows.append(
            Row(
                sec,
                f"{rpc}: database CPU / WAL per call",
                f"{cpu_n:.0f} us / {wal_n:.0f} B",
                f"{cpu_o:.0f} us / {wal_o:.0f} B old",
                (f"CPU {cpu_n / cpu_o:.2f}x, WAL {wal_n / wal_o:.2f}x" if cpu_o and wal_o else ""),
            )
        )
    rows.append(Row(sec, "ceiling: the same transactions calling no function", f"{shape_tps:.0f} tps"))
    log.append(
        f"\n  paths A/B: {nhalf} sessions a side (old: odd i, new: even i), {sizes.clients} clients,"
        f" {rounds} round(s) of {secs} s per side and RPC; old = bench/old_paths.sql"
    )
