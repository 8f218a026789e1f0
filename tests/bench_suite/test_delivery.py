"""The pgbench sections' broadcast delivery (bench/delivery.py): inside, a broadcast row makes
no NOTIFY and a walsender (which the CPU split files as such) streams it to the pgoutput
consumer; outside, the devstack's trigger is back and the slot is gone."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench import delivery
from bench.common import _role

CHANNEL = "seer_devstack_realtime"


def _admin(database_url: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(netloc=parts.netloc.replace("postgres:", "supabase_admin:", 1)))


async def _notified_after_send(listener: asyncpg.Connection, sender: asyncpg.Connection) -> bool:
    got: asyncio.Queue[str] = asyncio.Queue()
    cb = lambda *args: got.put_nowait(args[-1])  # noqa: E731
    await listener.add_listener(CHANNEL, cb)
    try:
        await sender.execute(
            "select realtime.send('{\"n\": 1}'::jsonb, 'probe', 'bench-delivery-test', false)"
        )
        try:
            payload = await asyncio.wait_for(got.get(), 1.0)
        except TimeoutError:
            return False
        return "bench-delivery-test" in payload
    finally:
        await listener.remove_listener(CHANNEL, cb)


async def test_broadcasts_go_to_the_walsender_inside_and_notify_again_outside(database_url: str) -> None:
    admin = _admin(database_url)
    listener = await asyncpg.connect(database_url)
    try:
        async with delivery.realtime_replication(admin) as conn:
            states = await conn.fetch(
                "select tgenabled::text from pg_trigger where tgname = $1 and tgrelid in"
                " (select 'realtime.messages'::regclass union select inhrelid from pg_inherits"
                "  where inhparent = 'realtime.messages'::regclass)",
                delivery.TRIGGER,
            )
            assert states and {r["tgenabled"] for r in states} == {"D"}
            pid = await conn.fetchval(
                "select active_pid from pg_replication_slots where slot_name = $1", delivery.SLOT
            )
            # the cost model files the decoding's CPU under its own role
            assert pid and _role(pid) == "walsender"
            assert not await _notified_after_send(listener, conn)
            sent_at = await conn.fetchval("select pg_current_wal_lsn()")
            # the consumer confirms what it received (feedback every second)
            for _ in range(100):
                confirmed = await conn.fetchval(
                    "select confirmed_flush_lsn >= $2::pg_lsn from pg_replication_slots where slot_name = $1",
                    delivery.SLOT,
                    sent_at,
                )
                if confirmed:
                    break
                await asyncio.sleep(0.1)
            assert confirmed, "the consumer did not confirm the broadcast's WAL in 10 s"
            assert (await delivery.lag_bytes(conn) or 0) >= 0
        check = await asyncpg.connect(admin)
        try:
            assert not await check.fetchval(
                "select count(*) from pg_replication_slots where slot_name = $1", delivery.SLOT
            )
            enabled = await check.fetch(
                "select tgenabled::text from pg_trigger where tgname = $1", delivery.TRIGGER
            )
            assert {r["tgenabled"] for r in enabled} == {"O"}
            assert await _notified_after_send(listener, check)
        finally:
            await check.close()
    finally:
        await listener.close()
