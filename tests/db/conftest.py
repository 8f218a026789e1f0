"""Helpers for the database concurrency tests: users, acting as a user, PGRST errors."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

ADVENTURE_ID = "00000000-0000-4000-8000-00000000a001"


@dataclass(frozen=True)
class RpcError(Exception):
    """A SESSION_xxx error as PostgREST would answer it (code from the JSON body, HTTP status)."""

    code: str
    status: int
    details: str | None


async def call_as(conn: asyncpg.Connection, uid: str, sql: str, *args: Any) -> Any:
    """Run one RPC in its own transaction as the signed-in user ``uid`` (as PostgREST does)."""
    try:
        async with conn.transaction():
            await conn.execute("set local role authenticated")
            await conn.execute(
                "select set_config('request.jwt.claims', $1, true)",
                json.dumps({"sub": uid, "role": "authenticated"}),
            )
            value = await conn.fetchval(sql, *args)
    except asyncpg.PostgresError as exc:
        if exc.sqlstate == "PGRST":
            body = json.loads(exc.args[0])
            status = json.loads(exc.detail or "{}").get("status", 0)
            raise RpcError(body["code"], int(status), body.get("details")) from None
        raise
    return json.loads(value) if isinstance(value, str) else value


async def create_user(conn: asyncpg.Connection, name: str) -> str:
    uid = str(uuid.uuid4())
    await conn.execute(
        """insert into auth.users (id, aud, role, email, raw_user_meta_data, created_at, updated_at)
           values ($1, 'authenticated', 'authenticated', $2, $3::jsonb, now(), now())""",
        uid,
        f"{name}-{uid[:8]}@seer.test",
        json.dumps({"display_name": name}),
    )
    return uid


async def create_character(conn: asyncpg.Connection, uid: str, name: str = "Hero") -> str:
    char = await call_as(conn, uid, "select public.create_character($1, 'fighter')", name)
    return str(char["id"])


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(database_url, min_size=1, max_size=80)
    try:
        yield p
    finally:
        await p.close()
