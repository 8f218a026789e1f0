"""How the broadcast rows leave the database while a pgbench section runs: the way real
Realtime reads them, not the devstack's NOTIFY trigger.

Real Realtime (supabase/realtime, lib/realtime/tenants/replication_connection.ex) creates the
publication `supabase_realtime_messages_publication FOR TABLE realtime.messages`, a TEMPORARY
logical slot with pgoutput, and streams it (`START_REPLICATION ... (proto_version '2',
publication_names '...', binary 'true')`). The database's share of that is a walsender decoding
the WAL, a postmaster child whose CPU DbCpu counts; nothing runs inside the writing transaction.

The devstack's gateway cannot stream logical replication, so it learns of a row from a NOTIFY
trigger on realtime.messages (seer_devstack/bootstrap/20_devstack_realtime.sql). A notifying
transaction holds one cluster-wide lock from its pre-commit until it has committed, WAL flush
included: with durability on, every event commit waited for the one before it (docs/
performance.md, "Broadcasts read as Realtime reads them"). A fixture's cost that the product
does not have is not a cost per live player, and the walsender's decoding, which the product
does have, was not counted. So the sections that drive the database with pgbench (no gateway
listens then) run with the trigger disabled and `pg_recvlogical` streaming the slot the way
Realtime does, to /dev/null. The gateway sections keep the trigger: their clients need the broadcasts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from .common import pg_bin

PUBLICATION = "supabase_realtime_messages_publication"
SLOT = "seer_bench_realtime_slot"
TRIGGER = "devstack_notify_broadcast"


@asynccontextmanager
async def realtime_replication(admin_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """Inside: no NOTIFY per broadcast row, a walsender streaming realtime.messages to a
    pgoutput consumer. Yields the admin connection (for lag checks). Restores the trigger and
    drops the slot on the way out, whatever happened inside."""
    conn = await asyncpg.connect(admin_dsn)
    proc: asyncio.subprocess.Process | None = None
    try:
        if not await conn.fetchval("select 1 from pg_publication where pubname = $1", PUBLICATION):
            await conn.execute(f"create publication {PUBLICATION} for table realtime.messages")
        if not await conn.fetchval("select 1 from pg_replication_slots where slot_name = $1", SLOT):
            await conn.execute("select pg_create_logical_replication_slot($1, 'pgoutput')", SLOT)
        proc = await asyncio.create_subprocess_exec(
            pg_bin("pg_recvlogical"),
            "--dbname",
            admin_dsn,
            "--slot",
            SLOT,
            "--start",
            "--no-loop",
            "--option",
            "proto_version=2",
            "--option",
            f"publication_names={PUBLICATION}",
            "--option",
            "binary=true",
            "--file",
            "/dev/null",
            "--fsync-interval",
            "1",
            "--status-interval",
            "1",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(100):
            if await conn.fetchval("select active from pg_replication_slots where slot_name = $1", SLOT):
                break
            if proc.returncode is not None:
                err = (await proc.stderr.read()).decode() if proc.stderr else ""
                raise RuntimeError(f"pg_recvlogical exited: {err.strip()}")
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError("pg_recvlogical did not start streaming in 5 s")
        await conn.execute(f"alter table realtime.messages disable trigger {TRIGGER}")
        yield conn
    finally:
        try:
            await conn.execute(f"alter table realtime.messages enable trigger {TRIGGER}")
        finally:
            if proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            for _ in range(50):
                if not await conn.fetchval(
                    "select active from pg_replication_slots where slot_name = $1", SLOT
                ):
                    break
                await asyncio.sleep(0.1)
            await conn.execute(
                "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1",
                SLOT,
            )
            await conn.close()


async def lag_bytes(conn: asyncpg.Connection) -> int | None:
    """How far the consumer is behind the WAL's end (None without the slot)."""
    return await conn.fetchval(
        "select (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint from pg_replication_slots"
        " where slot_name = $1",
        SLOT,
    )
