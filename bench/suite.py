"""The benchmark suite behind `make bench`: one throw-away cluster, one table.

Sections (every figure next to a baseline measured in the same run on the same machine):
1. SQL path (pgbench): RPCs vs TPC-B-like / select-only.
2. Gateway path: the same RPCs over HTTP through the devstack vs the SQL path.
3. Realtime fan-out: sessions x 6 private-channel sockets, commit-to-delivery latency.
3b. Session stream: content in the broadcast (baseline) vs (a) keyed topic vs (b) pokes + a log
    read (stream.py).
3c. Recovery after a Realtime outage: time until every connection is live again vs the
    no-outage delivery latency of the same run; rejoins against the presence limit (recovery.py).
4. Scale: 1M sessions / 100k live players: sweeper, code lookup, list_my_sessions.
5. Memory: gateway RSS idle vs with every fan-out socket open.
6. Heartbeat A/B: today's heartbeat vs the pre-redesign one (a copy made in this cluster only).
7. Cost model: a realistic mix stepped up to the 50 ms p99 limit, durability off and on.
8. Retention: the event-log compaction's per-run cost at 100k and 1M ended sessions.
9. Paths A/B: the event-writing and session RPCs against copies of the code before issue 24.

Sections run in the order 1, 2, 3, 5, 3b, 6, 9, 7, 8, 4 (4 adds a million rows).
Each prints its rows as soon as it ends; a failing section is reported FAILED and the others
still run. Sizes come from BENCH_* environment variables (see bench/common.py); the defaults
finish in under 8 minutes, BENCH_FULL=1 (`make bench-full`) runs the long sizes.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from . import delivery, population, sqlpath
from .common import GatewayProcess, Row, Sizes, bench_cluster, raise_fd_limit


def with_db(dsn: str, db: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{db}"))


def render(rows: list[Row]) -> str:
    head = ("section", "measurement", "value", "baseline (same run)", "ratio", "target", "")
    cells = [head] + [(r.section, r.what, r.value, r.baseline, r.ratio, r.target, r.verdict) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    out = []
    for n, c in enumerate(cells):
        out.append("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


async def prepare(cluster_dsn: str, admin_dsn: str, sizes: Sizes) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute("alter system set pg_stat_statements.track = 'all'")
        await admin.execute("select pg_reload_conf()")
        if not await admin.fetchval("select 1 from pg_database where datname = 'bench_tpcb'"):
            await admin.execute("create database bench_tpcb owner postgres")
    finally:
        await admin.close()
    # The per-player rate limits (issue 20: 30 actions and 60 rolls a minute, 20 joins per 10
    # minutes) are a person's pace; pgbench drives each bench player far faster. In this
    # throw-away cluster only, they are raised out of reach: the check itself (lock, count,
    # insert) still runs on every call and stays in every figure.
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(
            "update seer_private.rate_limits set max_hits = 1000000"
            " where bucket in ('submit_action', 'roll_dice', 'join_session')"
        )
    finally:
        await conn.close()
    # pgbench's joins and their writes alone (section 1), plus the gateway path's (at most a
    # few thousand in its time budget)
    join_sessions = math.ceil((2 * sizes.joins + 6000) / 6) + 2 * sizes.clients
    await population.populate(cluster_dsn, max(sizes.sessions, sizes.fanout_sessions), join_sessions)


SECTION_ORDER = [
    "sql",
    "gateway",
    "fanout",
    "memory",
    "stream",
    "recovery",
    "heartbeat",
    "paths",
    "cost",
    "retention",
    "scale",
]
GATEWAY_SECTIONS = {"gateway", "fanout", "memory", "stream", "recovery"}


def print_rows(title: str, rows: list[Row]) -> None:
    """A section's rows as soon as it finishes: a later failure cannot lose them."""
    if rows:
        print(f"\n--- {title}: results ---")
        print(render(rows), flush=True)


async def run_section(
    name: str,
    title: str,
    body: Callable[[list[Row], list[str]], Awaitable[object]],
    rows: list[Row],
    log: list[str],
    failed: list[str],
) -> None:
    """Runs one section; its rows and log lines print when it ends. A failure is reported as a
    FAILED row (with the error) and the other sections still run and print."""
    print(f"{title} ...", flush=True)
    mine: list[Row] = []
    mylog: list[str] = []
    t0 = time.perf_counter()
    try:
        await body(mine, mylog)
    except Exception as exc:  # reported as a failed section; the others go on
        failed.append(name)
        mine.append(
            Row(
                title,
                "SECTION FAILED",
                f"{type(exc).__name__}: {str(exc).splitlines()[0][:150] if str(exc) else ''}",
                verdict="FAILED",
            )
        )
        mylog.append(f"\n  {title} failed:\n" + "".join(traceback.format_exception(exc))[-3000:])
    if mylog:
        print("\n".join(mylog), flush=True)
    print_rows(f"{title} ({time.perf_counter() - t0:.0f} s)", mine)
    rows.extend(mine)
    log.extend(mylog)


async def main_async(sections: set[str]) -> int:
    sizes = Sizes()
    raise_fd_limit()
    rows: list[Row] = []
    log: list[str] = []
    failed: list[str] = []
    t_start = time.perf_counter()
    with bench_cluster() as cluster:
        print(
            f"cluster up; preparing {max(sizes.sessions, sizes.fanout_sessions)} active sessions"
            " x 6 players ..."
        )
        t0 = time.perf_counter()
        await prepare(cluster.dsn, cluster.admin_dsn, sizes)
        print(f"  prepared in {time.perf_counter() - t0:.1f} s")
        tps: dict[str, float] = {}

        def replicated(
            body: Callable[[list[Row], list[str]], Awaitable[None]],
        ) -> Callable[[list[Row], list[str]], Awaitable[None]]:
            """A pgbench section with the broadcast rows read as real Realtime reads them
            (bench/delivery.py), not through the devstack's NOTIFY trigger."""

            async def run(mine: list[Row], mylog: list[str]) -> None:
                async with delivery.realtime_replication(cluster.admin_dsn) as conn:
                    await body(mine, mylog)
                    lag = await delivery.lag_bytes(conn) or 0
                mylog.append(
                    "\n  broadcasts: realtime.messages streamed by a walsender to pg_recvlogical (pgoutput,"
                    f" as Realtime does; no NOTIFY trigger), {lag / 1024:.0f} KiB behind at the end"
                )

            return run

        async def sql(mine: list[Row], mylog: list[str]) -> None:
            sqlpath.init_tpcb(with_db(cluster.dsn, "bench_tpcb"))
            tps.update(
                await sqlpath.run(
                    cluster.dsn,
                    with_db(cluster.dsn, "bench_tpcb"),
                    with_db(cluster.admin_dsn, "postgres"),
                    sizes,
                    mine,
                    mylog,
                )
            )

        if "sql" in sections:
            await run_section("sql", "1 SQL (pgbench)", replicated(sql), rows, log, failed)
        if sections & GATEWAY_SECTIONS:
            from . import fanout, gatewaypath

            try:
                with GatewayProcess(cluster.dsn) as gw:
                    if "gateway" in sections:

                        async def gateway(mine: list[Row], mylog: list[str]) -> None:
                            await gatewaypath.run(gw, cluster.dsn, sizes, tps, mine, mylog)

                        await run_section("gateway", "2 gateway path", gateway, rows, log, failed)
                    if sections & {"fanout", "memory"}:

                        async def fan(mine: list[Row], mylog: list[str]) -> None:
                            await fanout.run(gw, cluster.dsn, sizes, mine, mylog)

                        await run_section("fanout", "3/5 fan-out + memory", fan, rows, log, failed)
                    if "stream" in sections:
                        from . import stream

                        async def stm(mine: list[Row], mylog: list[str]) -> None:
                            await stream.run(gw, cluster.dsn, sizes, mine, mylog)

                        await run_section(
                            "stream",
                            "3b session stream: baseline, (a) keyed topic, (b) pokes",
                            stm,
                            rows,
                            log,
                            failed,
                        )
                    if "recovery" in sections:
                        from . import recovery

                        async def rec(mine: list[Row], mylog: list[str]) -> None:
                            await recovery.run(gw, cluster.dsn, cluster.admin_dsn, sizes, mine, mylog)

                        await run_section(
                            "recovery", "3c recovery after a Realtime outage", rec, rows, log, failed
                        )
            except SystemExit as exc:  # the gateway process did not start
                failed.append("gateway")
                rows.append(Row("2 gateway path", "SECTION FAILED", str(exc), verdict="FAILED"))
                print_rows("gateway sections", rows[-1:])
        if "heartbeat" in sections:
            from . import heartbeat_ab

            async def hb(mine: list[Row], mylog: list[str]) -> None:
                await heartbeat_ab.run(cluster, sizes, mine, mylog)

            await run_section("heartbeat", "6 heartbeat A/B", replicated(hb), rows, log, failed)
        if "paths" in sections:
            from . import paths_ab

            async def pab(mine: list[Row], mylog: list[str]) -> None:
                await paths_ab.run(cluster, sizes, mine, mylog)

            await run_section("paths", "9 paths A/B (issue 24)", replicated(pab), rows, log, failed)
        if "cost" in sections:
            from . import costmodel

            async def cost(mine: list[Row], mylog: list[str]) -> None:
                await costmodel.run(cluster, sizes, mine, mylog)

            await run_section("cost", "7 cost model", replicated(cost), rows, log, failed)
        if "retention" in sections:
            from . import retention

            async def ret(mine: list[Row], mylog: list[str]) -> None:
                await retention.run(cluster.dsn, cluster.admin_dsn, sizes, mine, mylog)

            await run_section("retention", "8 retention", ret, rows, log, failed)
        if "scale" in sections:
            from . import scale

            async def sc(mine: list[Row], mylog: list[str]) -> None:
                await scale.run(cluster.dsn, sizes, mine, mylog)

            await run_section("scale", "4 scale", sc, rows, log, failed)
    print(
        f"\nseer-client benchmarks ({os.cpu_count()} CPUs, loopback, throw-away cluster (fsync off"
        f" unless a row says durability on); {time.perf_counter() - t_start:.0f} s)\n"
    )
    print(render(rows))
    if failed:
        print(f"\nFAILED sections: {', '.join(failed)} (the others' rows are above)")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    sections = set(argv) & set(SECTION_ORDER) or set(SECTION_ORDER)
    return asyncio.run(main_async(sections))
