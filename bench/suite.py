"""The benchmark suite behind `make bench`: one throw-away cluster, one table.

Sections (every figure next to a baseline measured in the same run on the same machine):
1. SQL path (pgbench): RPCs vs TPC-B-like / select-only.
2. Gateway path: the same RPCs over HTTP through the devstack vs the SQL path.
3. Realtime fan-out: sessions x 6 private-channel sockets, commit-to-delivery latency.
3b. Session stream A/B: content in the broadcast vs content-free pokes + a log read (stream.py).
4. Scale: 1M sessions / 100k live players: sweeper, code lookup, list_my_sessions.
5. Memory: gateway RSS idle vs with every fan-out socket open.

Sizes come from BENCH_* environment variables (see bench/common.py).
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from . import population, sqlpath
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
    # pgbench's joins plus the gateway path's (at most a few thousand in its time budget)
    join_sessions = math.ceil((sizes.joins + 6000) / 6) + sizes.clients
    await population.populate(cluster_dsn, max(sizes.sessions, sizes.fanout_sessions), join_sessions)


async def main_async(sections: set[str]) -> int:
    sizes = Sizes()
    raise_fd_limit()
    rows: list[Row] = []
    log: list[str] = []
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
        if "sql" in sections:
            print("1. SQL path (pgbench) ...")
            sqlpath.init_tpcb(with_db(cluster.dsn, "bench_tpcb"))
            tps = await sqlpath.run(
                cluster.dsn,
                with_db(cluster.dsn, "bench_tpcb"),
                with_db(cluster.admin_dsn, "postgres"),
                sizes,
                rows,
                log,
            )
        if sections & {"gateway", "fanout", "memory", "stream"}:
            from . import fanout, gatewaypath

            with GatewayProcess(cluster.dsn) as gw:
                if "gateway" in sections:
                    print("2. gateway path ...")
                    await gatewaypath.run(gw, cluster.dsn, sizes, tps, rows, log)
                if sections & {"fanout", "memory"}:
                    print("3/5. realtime fan-out and gateway memory ...")
                    await fanout.run(gw, cluster.dsn, sizes, rows, log)
                if "stream" in sections:
                    from . import stream

                    print("3b. session stream A/B (content in broadcast vs pokes + log read) ...")
                    await stream.run(gw, cluster.dsn, sizes, rows, log)
        if "scale" in sections:
            from . import scale

            print("4. scale ...")
            await scale.run(cluster.dsn, sizes, rows, log)
    print("\n" + "\n".join(log))
    print(
        f"\nseer-client benchmarks ({os.cpu_count()} CPUs, loopback, fsync off on a throw-away cluster;"
        f" {time.perf_counter() - t_start:.0f} s)\n"
    )
    print(render(rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    all_sections = {"sql", "gateway", "fanout", "memory", "stream", "scale"}
    sections = set(argv) & all_sections or all_sections
    return asyncio.run(main_async(sections))
