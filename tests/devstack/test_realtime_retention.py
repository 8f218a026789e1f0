"""realtime.messages retention in the devstack, as the real Realtime server applies it:
daily partitions from yesterday to today + 3, and the janitor drops the partitions of days
before now - 72 h (bootstrap/20_devstack_realtime.sql). Travelled time through p_now; every
test runs in a transaction that is rolled back, so the shared cluster keeps its partitions."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import pytest


def part(day: dt.date) -> str:
    return "messages_" + day.strftime("%Y_%m_%d")


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(database_url)
    tr = c.transaction()
    await tr.start()
    try:
        yield c
    finally:
        await tr.rollback()
        await c.close()


async def partitions(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid"
        " where i.inhparent = 'realtime.messages'::regclass order by 1"
    )
    return [r[0] for r in rows]


async def test_partitions_exist_from_yesterday_to_three_days_ahead(conn: asyncpg.Connection) -> None:
    today = await conn.fetchval("select (now() at time zone 'utc')::date")
    have = await partitions(conn)
    for d in range(-1, 4):
        assert part(today + dt.timedelta(days=d)) in have
    assert (
        await conn.fetchval("select relkind::text from pg_class where oid = 'realtime.messages'::regclass")
        == "p"
    )


async def test_janitor_drops_days_older_than_72_hours_and_keeps_the_rest(conn: asyncpg.Connection) -> None:
    today = await conn.fetchval("select (now() at time zone 'utc')::date")
    await conn.execute("select realtime.send('{\"n\": 1}', 'e', 'seer-retention-test', false)")
    kept = await conn.fetchval("select count(*) from realtime.messages where topic = 'seer-retention-test'")
    assert kept == 1
    # four days later: today's partition is older than 72 h, the last three days are not
    later = await conn.fetchval("select now() + interval '4 days'")
    result = await conn.fetchval("select realtime.devstack_janitor($1)::text", later)
    have = await partitions(conn)
    limit = (later - dt.timedelta(hours=72)).astimezone(dt.UTC).date()
    assert part(today) not in have, result
    assert all(name >= part(limit) for name in have)
    for d in range(-1, 4):
        assert part(later.astimezone(dt.UTC).date() + dt.timedelta(days=d)) in have
    assert (
        await conn.fetchval("select count(*) from realtime.messages where topic = 'seer-retention-test'") == 0
    )


async def test_janitor_now_keeps_todays_messages(conn: asyncpg.Connection) -> None:
    await conn.execute("select realtime.send('{\"n\": 2}', 'e', 'seer-retention-test', false)")
    assert await conn.fetchval("select realtime.devstack_janitor()::text") == '{"created": [], "dropped": []}'
    assert (
        await conn.fetchval("select count(*) from realtime.messages where topic = 'seer-retention-test'") == 1
    )


async def test_a_day_without_partition_loses_the_broadcast_as_realtime_send_does(
    conn: asyncpg.Connection,
) -> None:
    today = await conn.fetchval("select (now() at time zone 'utc')::date")
    await conn.execute(f"drop table realtime.{part(today)}")
    # realtime.send only warns (ErrorSendingBroadcastMessage), as upstream's does
    await conn.execute("select realtime.send('{\"n\": 3}', 'e', 'seer-retention-test', false)")
    assert (
        await conn.fetchval("select count(*) from realtime.messages where topic = 'seer-retention-test'") == 0
    )
