"""Shared pieces of the benchmark suite: sizes, percentiles, the cluster and gateway processes."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seer_devstack.postgres import PostgresCluster, find_bindir, free_port


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def full_run() -> bool:
    """BENCH_FULL=1 (`make bench-full`): the long sizes (1M-2M rows, 30 s cost-model steps,
    three A/B rounds). Without it (`make bench`) every section runs at a size that still shows
    what it measures, and the whole suite finishes in under 8 minutes on 2 shared cores."""
    return os.environ.get("BENCH_FULL") == "1"


def sized(quick: int, full: int) -> int:
    return full if full_run() else quick


@dataclass
class Sizes:
    """Every size is an env var; the defaults are `make bench`'s (under 8 minutes on 2 shared
    cores), BENCH_FULL=1 picks the long ones (`make bench-full`)."""

    sessions: int = field(
        default_factory=lambda: env_int("BENCH_SESSIONS", sized(500, 1000))
    )  # active, 6 players each
    clients: int = field(default_factory=lambda: env_int("BENCH_CLIENTS", 8))
    pgbench_seconds: int = field(default_factory=lambda: env_int("BENCH_PGBENCH_SECONDS", sized(4, 8)))
    joins: int = field(default_factory=lambda: env_int("BENCH_JOINS", sized(1600, 4800)))
    gateway_seconds: float = field(default_factory=lambda: env_float("BENCH_GATEWAY_SECONDS", sized(3, 5)))
    gateway_concurrency: int = field(default_factory=lambda: env_int("BENCH_GATEWAY_CONCURRENCY", 16))
    fanout_sessions: int = field(default_factory=lambda: env_int("BENCH_FANOUT_SESSIONS", sized(200, 1000)))
    fanout_events: int = field(default_factory=lambda: env_int("BENCH_FANOUT_EVENTS", sized(1000, 3000)))
    fanout_rate: float = field(default_factory=lambda: env_float("BENCH_FANOUT_RATE", 300))
    # a second, harder phase to show where fan-out latency breaks down (0 = skip)
    fanout_stress_rate: float = field(
        default_factory=lambda: env_float("BENCH_FANOUT_STRESS_RATE", sized(600, 1200))
    )
    # list_my_sessions must stay flat from 1M to 2M sessions (issue 24): the full run's sizes
    scale_sessions: int = field(
        default_factory=lambda: env_int("BENCH_SCALE_SESSIONS", sized(100_000, 2_000_000))
    )
    scale_small: int = field(default_factory=lambda: env_int("BENCH_SCALE_SMALL", sized(20_000, 1_000_000)))
    scale_players: int = field(default_factory=lambda: env_int("BENCH_SCALE_PLAYERS", sized(20_000, 100_000)))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * (len(s) - 1))))
    return s[k]


@dataclass
class Row:
    """One line of the final table: a figure next to its same-run baseline."""

    section: str
    what: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""


def raise_fd_limit(want: int = 65536) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = min(want, hard) if hard != resource.RLIM_INFINITY else want
    if new > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pg_bin(name: str) -> str:
    return str(find_bindir() / name)


@contextmanager
def bench_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    cluster.start()
    try:
        cluster.setup()
        yield cluster
    finally:
        cluster.stop()


class GatewayProcess:
    """The devstack gateway in a process of its own (as `supabase start` runs Kong/PostgREST/
    Realtime apart from the clients), attached to the bench cluster; its RSS is measurable."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> GatewayProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench._gateway_proc", self.db_url, str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("the gateway process did not start")
        self.info = json.loads(line)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            if self.proc.stdin:
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def url(self) -> str:
        return str(self.info["url"])

    @property
    def anon_key(self) -> str:
        return str(self.info["anon_key"])

    @property
    def jwt_secret(self) -> str:
        return str(self.info["jwt_secret"])

    def rss_mib(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")


async def timed(coro: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    result = await coro
    return result, time.perf_counter() - t0


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


class DbCpu:
    """CPU seconds used by the database server: the postmaster, its live children (backends,
    checkpointer, walwriter, autovacuum ...) and, through cutime/cstime, the children that have
    exited and been reaped (a pgbench run's backends). Ratios of it are far steadier than
    throughput on a machine whose cores are shared with other work."""

    def __init__(self, data_dir: Path) -> None:
        self.pid = int((Path(data_dir) / "postmaster.pid").read_text().split()[0])
        self.tick = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _fields(pid: int | str) -> list[str] | None:
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        return raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "; fields from state on

    def seconds(self) -> float:
        pm = self._fields(self.pid)
        if pm is None:
            raise RuntimeError("the postmaster is gone")
        # fields (0-based after comm): 1 ppid, 11 utime, 12 stime, 13 cutime, 14 cstime
        total = sum(int(pm[i]) for i in (11, 12, 13, 14))
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            f = self._fields(entry.name)
            if f is not None and int(f[1]) == self.pid:
                total += int(f[11]) + int(f[12])
        return total / self.tick


def _role(pid: int | str) -> str:
    """What a server process is, from the title Postgres gives it (``postgres: <what> ...``)."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    if "autovacuum" in title:
        return "autovacuum"
    # Realtime's logical decoding of the WAL (bench/delivery.py): one process per slot
    if "walsender" in title:
        return "walsender"
    if any(w in title for w in ("walwriter", "checkpointer", "background writer")):
        return "wal, checkpoints"
    if any(w in title for w in ("logical replication", "stats", "pg_cron", "TimescaleDB", "launcher")):
        return "other background"
    return "backends"


@contextmanager
def cpu_by_role(cpu: DbCpu, every: float = 0.1) -> Iterator[dict[str, float]]:
    """CPU seconds of the server's children over the block, by role: the sessions' backends,
    autovacuum, the walsender (Realtime's decoding), the WAL writer and checkpointer, other
    background workers. Polls /proc every
    ``every`` s and keeps each child's last reading, so one that exits (an autovacuum worker,
    a backend at the end of a run) counts up to its last poll: the split is approximate (up to
    one poll per short-lived process); DbCpu.seconds is the exact total."""
    seen: dict[str, tuple[str, int]] = {}
    first: dict[str, int] = {}
    stop = threading.Event()

    def poll() -> None:
        while True:
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                f = cpu._fields(entry.name)
                if f is None or int(f[1]) != cpu.pid:
                    continue
                ticks = int(f[11]) + int(f[12])
                if entry.name not in seen:
                    role = _role(entry.name)
                    # a child alive when the block starts counts from there
                    first[entry.name] = ticks if not started.is_set() else 0
                else:
                    role = seen[entry.name][0]
                seen[entry.name] = (role, ticks)
            started.set()
            if stop.wait(every):
                return

    started = threading.Event()
    out: dict[str, float] = {}
    t = threading.Thread(target=poll, daemon=True)
    t.start()
    started.wait()
    try:
        yield out
    finally:
        stop.set()
        t.join()
        for pid, (role, ticks) in seen.items():
            out[role] = out.get(role, 0.0) + (ticks - first.get(pid, 0)) / cpu.tick


async def produce_game_states(
    pool: Any, sessions: list[Any], events: int, rate: float
) -> dict[tuple[str, int], float]:
    """``events`` update_game_state calls as each session's Seer (round robin over
    ``sessions``, rows with ``sid`` and ``seer_claims``), paced at ``rate``/s by 4 producers.
    Returns (session id, seq of the game_state event) -> wall time just before COMMIT."""
    commits: dict[tuple[str, int], float] = {}
    interval = 1.0 / rate
    order = [sessions[e % len(sessions)] for e in range(events)]
    next_event = iter(range(events))
    start = time.perf_counter()

    async def producer() -> None:
        async with pool.acquire() as c:
            for e in next_event:
                delay = start + e * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                s = order[e]
                tx = c.transaction()
                await tx.start()
                await c.execute(
                    "select set_config('role', 'authenticated', true),"
                    " set_config('request.jwt.claims', $1, true)",
                    s["seer_claims"],
                )
                await c.execute(
                    "select public.update_game_state($1,"
                    " jsonb_build_object('setVariables', jsonb_build_object('e', $2::int)))",
                    s["sid"],
                    e,
                )
                seq = await c.fetchval("select last_seq from public.sessions where id = $1", s["sid"])
                commits[(str(s["sid"]), int(seq))] = time.time()
                await tx.commit()

    await asyncio.gather(*(producer() for _ in range(4)))
    return commits


async def broadcasts(ws: Any) -> Any:
    """Yield (arrival wall time, inner payload) for every broadcast frame a vsn 1.0.0
    websocket (aiohttp) receives."""
    import aiohttp

    async for msg in ws:
        if msg.type != aiohttp.WSMsgType.TEXT:
            continue
        now = time.time()
        data = json.loads(msg.data)
        if data.get("event") == "broadcast":
            yield now, data["payload"].get("payload") or {}
