"""1. The SQL path with pgbench: our RPCs as `authenticated` users against pgbench's own
TPC-B-like (write) and select-only (read) scripts, same cluster, same run, same settings.

Each RPC transaction is what PostgREST sends: begin; set role + request.jwt.claims (one
set_config statement); the function call; commit. The claims come from bench.map (a primary
key lookup folded into the statements), the session and user are random per transaction.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from . import writes
from .common import Row, Sizes, full_run, pg_bin

PROLOGUE = (
    "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', {claims}, true)"
)

SCRIPTS: dict[str, str] = {
    "update_game_state": f"""\\set s random(1, :nsessions)
\\set hp random(1, 1000)
begin;
{PROLOGUE.format(claims="seer_claims")} from bench.map where i = :s;
select public.update_game_state(
    sid, jsonb_build_object('setVariables', jsonb_build_object('hp', (:hp)::int, 'round', 1)))
  from bench.map where i = :s;
commit;
""",
    # the game RPCs (issue 11): a Seer's roll, a player's action, a library search
    "roll_dice": f"""\\set s random(1, :nsessions)
begin;
{PROLOGUE.format(claims="seer_claims")} from bench.map where i = :s;
select public.roll_dice(sid, '2d6+3', 'bench') from bench.map where i = :s;
commit;
""",
    "submit_action": f"""\\set s random(1, :nsessions)
\\set k random(1, 6)
begin;
{PROLOGUE.format(claims="player_claims[(:k)::int]")} from bench.map where i = :s;
select public.submit_action(sid, 'I search the room') from bench.map where i = :s;
commit;
""",
    "list_adventures": f"""\\set s random(1, :nsessions)
\\set k random(1, 6)
begin;
{PROLOGUE.format(claims="player_claims[(:k)::int]")} from bench.map where i = :s;
select public.list_adventures('all', 'lantern') from bench.map where i = :s;
commit;
""",
    "heartbeat": f"""\\set s random(1, :nsessions)
\\set k random(1, 6)
begin;
{PROLOGUE.format(claims="player_claims[(:k)::int]")} from bench.map where i = :s;
select public.heartbeat(sid) from bench.map where i = :s;
commit;
""",
    "join_session": f"""begin;
select nextval('bench.join_seq') as n \\gset
{PROLOGUE.format(claims="claims")} from bench.joins where n = :n;
select public.join_session(sid, cid) from bench.joins where n = :n;
commit;
""",
    "get_session": f"""\\set s random(1, :nsessions)
\\set k random(1, 6)
begin;
{PROLOGUE.format(claims="player_claims[(:k)::int]")} from bench.map where i = :s;
select public.get_session(sid) from bench.map where i = :s;
commit;
""",
    "session_events_since": f"""\\set s random(1, :nsessions)
\\set k random(1, 6)
begin;
{PROLOGUE.format(claims="player_claims[(:k)::int]")} from bench.map where i = :s;
select public.session_events_since(sid, after_seq, 20) from bench.map where i = :s;
commit;
""",
}
# The PostgREST transaction shape with no function at all: the ceiling for any RPC here.
SHAPE_ONLY = f"""\\set s random(1, :nsessions)
\\set k random(1, 6)
begin;
{PROLOGUE.format(claims="player_claims[(:k)::int]")} from bench.map where i = :s;
select sid from bench.map where i = :s;
commit;
"""
WRITES = ["update_game_state", "heartbeat", "join_session", "roll_dice", "submit_action"]
READS = ["get_session", "session_events_since", "list_adventures"]
# issue 24: writes against a same-run TPC-B-like run, reads against the same-run ceiling (the
# PostgREST transaction shape calling no function); None prints the ratio without a target
TARGETS: dict[str, float | None] = {
    "update_game_state": 0.75,
    "heartbeat": 0.5,
    "join_session": 0.5,
    "roll_dice": 0.5,
    "submit_action": 0.5,
    "get_session": 0.2,
    "session_events_since": 0.4,
    "list_adventures": None,
}
# session_events_since reads each session's last 20 events (as a client catching up does):
# the reads run after the writes, so last_seq is fixed by then
LAST_20 = """
alter table bench.map add column if not exists after_seq bigint;
update bench.map m set after_seq = greatest(0, s.last_seq - 20) from public.sessions s where s.id = m.sid;
"""


@dataclass
class PgbenchResult:
    tps: float
    latency_ms: float
    failed: int
    transactions: int


def _parse(out: str) -> PgbenchResult:
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    done = re.search(r"number of transactions actually processed: (\d+)", out)
    if not tps:
        raise RuntimeError("pgbench output not understood:\n" + out)
    return PgbenchResult(
        float(tps.group(1)),
        float(lat.group(1)) if lat else float("nan"),
        int(failed.group(1)) if failed else 0,
        int(done.group(1)) if done else 0,
    )


def pgbench_run(db_url: str, args: list[str], *, timeout: float = 300) -> tuple[PgbenchResult, list[str]]:
    """pgbench and its complaints: a client that hits an SQL error stops (exit status 2),
    which would otherwise only show as a lower rate."""
    res = subprocess.run(
        [pg_bin("pgbench"), "-n", "-M", "prepared", *args, db_url],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if res.returncode not in (0, 2) or "tps =" not in res.stdout:
        raise RuntimeError(f"pgbench {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}")
    errors = [line for line in res.stderr.splitlines() if "abort" in line or "ERROR" in line]
    return _parse(res.stdout), errors


def pgbench(db_url: str, args: list[str], *, timeout: float = 300) -> PgbenchResult:
    return pgbench_run(db_url, args, timeout=timeout)[0]


async def top_statements(admin_dsn: str, limit: int = 6) -> list[tuple[str, float, int, float]]:
    conn = await asyncpg.connect(admin_dsn)
    try:
        rows = await conn.fetch(
            "select regexp_replace(query, '\\s+', ' ', 'g') as q, total_exec_time, calls,"
            " total_exec_time / nullif(calls, 0) as mean"
            " from pg_stat_statements where query !~* '^(begin|commit|select set_config|select nextval)'"
            " order by total_exec_time desc limit $1",
            limit,
        )
        return [(r["q"][:110], r["total_exec_time"], r["calls"], r["mean"] or 0.0) for r in rows]
    finally:
        await conn.close()


async def reset_statements(admin_dsn: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute("select pg_stat_statements_reset()")
    finally:
        await conn.close()


async def run(
    db_url: str, tpcb_url: str, admin_dsn: str, sizes: Sizes, rows: list[Row], log: list[str]
) -> dict[str, float]:
    """Each RPC runs right after its own baseline (TPC-B-like for writes, the no-function ceiling for
    reads), so a
    neighbour's load on a shared machine hits both sides of a ratio alike."""
    c, secs = sizes.clients, sizes.pgbench_seconds
    common = ["-c", str(c), "-j", "2"]
    shape_args = [*common, "-T", str(secs), "-D", f"nsessions={sizes.sessions}"]
    # a join takes a joiner of its own (bench.join_seq): a count of transactions, not seconds
    join_args = [*common, "-t", str(max(1, sizes.joins // c))]
    results: dict[str, PgbenchResult] = {}
    bases: dict[str, PgbenchResult] = {}
    # each event RPC's writes alone (bench/writes.py), each after a TPC-B-like run of its own:
    # what the RPC's target leaves for everything else it does
    alone: dict[str, tuple[PgbenchResult, PgbenchResult]] = {}
    with tempfile.TemporaryDirectory(prefix="seer-pgbench-") as tmp:
        shape_path = Path(tmp) / "shape.sql"
        shape_path.write_text(SHAPE_ONLY)
        shape_base = pgbench(tpcb_url, [*common, "-T", str(secs), "-S"])
        shape = pgbench(
            db_url, [*common, "-T", str(secs), "-D", f"nsessions={sizes.sessions}", "-f", str(shape_path)]
        )
        for name in WRITES + READS:
            path = Path(tmp) / f"{name}.sql"
            path.write_text(SCRIPTS[name])
            if name in WRITES:
                bases[name] = pgbench(tpcb_url, [*common, "-T", str(secs)])
            else:
                if name == READS[0]:
                    conn = await asyncpg.connect(db_url)
                    try:
                        await conn.execute(LAST_20)
                    finally:
                        await conn.close()
                # the ceiling right before each read: the same transaction calling no function
                bases[name] = pgbench(db_url, [*shape_args, "-f", str(shape_path)])
            await reset_statements(admin_dsn)
            if name == "join_session":
                args = [*join_args, "-f", str(path)]
            else:
                args = [*common, "-T", str(secs), "-D", f"nsessions={sizes.sessions}", "-f", str(path)]
            results[name] = pgbench(db_url, args)
            log.append(f"\n  where the time goes in {name} (pg_stat_statements, track=all; ms):")
            for q, total, calls, mean in await top_statements(admin_dsn):
                log.append(f"    {total:9.0f} total {calls:8d} calls {mean:7.3f} mean  {q}")
        # after the reads: the writes alone add events and turns to every session, which the
        # reads would otherwise read (get_session's turn history grows with them)
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(writes.FUNCTION + writes.TEMPLATES)
        finally:
            await admin.close()
        # make bench: half the seconds (each pair still its own), so that it stays under 8 minutes
        t = str(secs if full_run() else max(2, secs // 2))
        for name in writes.CALLS:
            alone_path = Path(tmp) / f"{name}-writes.sql"
            alone_path.write_text(writes.writes_only(SCRIPTS[name]))
            base = pgbench(tpcb_url, [*common, "-T", t])
            args = [*common, "-T", t, "-D", f"nsessions={sizes.sessions}", "-f", str(alone_path)]
            alone[name] = (pgbench(db_url, args), base)
        # the join's writes alone: the joiners after the RPC's (the population holds both)
        alone_path = Path(tmp) / "join_session-writes.sql"
        alone_path.write_text(SCRIPTS["join_session"].replace(writes.JOIN_CALL, writes.JOIN_WRITES))
        base = pgbench(tpcb_url, [*common, "-T", t])
        alone["join_session"] = (pgbench(db_url, [*join_args, "-f", str(alone_path)]), base)
    tpcb = [bases[n].tps for n in WRITES]
    sel = [shape_base.tps]
    rows.append(
        Row("1 SQL (pgbench)", "TPC-B-like (baseline, writes)", f"{min(tpcb):.0f}..{max(tpcb):.0f} tps")
    )
    rows.append(
        Row("1 SQL (pgbench)", "select-only -S (baseline, reads)", f"{min(sel):.0f}..{max(sel):.0f} tps")
    )
    rows.append(
        Row(
            "1 SQL (pgbench)",
            "PostgREST tx shape, no function (ceiling)",
            f"{shape.tps:.0f} tps",
            f"{shape_base.tps:.0f} tps -S",
            f"{shape.tps / shape_base.tps:.0%}",
        )
    )
    tps: dict[str, float] = {}
    for name, r in results.items():
        write = name in WRITES
        base = bases[name]
        ratio = r.tps / base.tps
        target = TARGETS[name]
        fail = f", {r.failed} failed" if r.failed else ""
        rows.append(
            Row(
                "1 SQL (pgbench)",
                f"{name} ({'write' if write else 'read'})",
                f"{r.tps:.0f} tps, {r.latency_ms:.2f} ms{fail}",
                f"{base.tps:.0f} tps {'TPC-B' if write else 'ceiling'}",
                f"{ratio:.0%}",
                f">= {target:.0%}" if target is not None else "",
                ("ok" if ratio >= target and not r.failed else "BELOW") if target is not None else "",
            )
        )
        tps[name] = r.tps
        if name in alone:
            a, a_base = alone[name]
            rows.append(
                Row(
                    "1 SQL (pgbench)",
                    f"{name}: its {'seat and ' if name == 'join_session' else ''}event's writes alone,"
                    " no checks, no reply (bench/writes.py)",
                    f"{a.tps:.0f} tps",
                    f"{a_base.tps:.0f} tps TPC-B",
                    f"{a.tps / a_base.tps:.0%}",
                    # both against their own TPC-B-like run: the RPC's share of its writes' rate
                    f"the RPC: {ratio / (a.tps / a_base.tps):.0%} of it",
                )
            )
    tps["shape"] = shape.tps
    return tps


def init_tpcb(cluster_dsn_for: str, scale: int = 10) -> None:
    res = subprocess.run(
        [pg_bin("pgbench"), "-i", "-q", "-s", str(scale), cluster_dsn_for],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if res.returncode != 0:
        raise RuntimeError(f"pgbench -i failed:\n{res.stderr}")
