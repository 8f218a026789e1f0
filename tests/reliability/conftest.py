"""Fixtures for the reliability and security suite.

Everything goes through the devstack (the real migrations on the session's test database plus
the Supabase-compatible gateway), loopback only. Users are created directly in ``auth.users``
and get HS256 access tokens minted with the stack's JWT secret, exactly as GoTrue would sign
them; that keeps hundreds of users cheap. Characters are created with the public RPC.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import jwt
import pytest

from seer_devstack.stack import DevStack

ADVENTURE_ID = "00000000-0000-4000-8000-00000000a001"


@dataclass
class User:
    id: str
    token: str
    character_id: str | None = None


@dataclass
class Reply:
    status: int
    body: Any

    @property
    def code(self) -> str | None:
        if self.status < 400 or not isinstance(self.body, dict):
            return None
        return self.body.get("code")


def mint(secret: str, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def user_claims(uid: str, *, ttl: int = 3600, role: str = "authenticated") -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": uid,
        "role": role,
        "aud": "authenticated",
        "iat": now,
        "exp": now + ttl,
        "email": f"{uid[:8]}@example.com",
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
        "app_metadata": {"provider": "email"},
    }


class Api:
    """Raw HTTP against the devstack: what any PostgREST client (supabase-js/py) sends."""

    def __init__(self, stack: DevStack, http: aiohttp.ClientSession, db: asyncpg.Pool) -> None:
        self.stack = stack
        self.http = http
        self.db = db
        self.secret = stack.jwt_secret

    def headers(self, token: str | None) -> dict[str, str]:
        h = {"apikey": self.stack.anon_key, "Content-Type": "application/json"}
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        return h

    async def rpc(self, token: str | None, fn: str, args: dict[str, Any] | None = None) -> Reply:
        async with self.http.post(
            f"{self.stack.url}/rest/v1/rpc/{fn}", headers=self.headers(token), data=json.dumps(args or {})
        ) as resp:
            return Reply(resp.status, await _body(resp))

    async def request(
        self, method: str, path: str, token: str | None, *, data: bytes | str | None = None
    ) -> Reply:
        async with self.http.request(
            method, f"{self.stack.url}{path}", headers=self.headers(token), data=data
        ) as resp:
            return Reply(resp.status, await _body(resp))

    async def user(self, name: str = "user", *, character: bool = True) -> User:
        uid = str(uuid.uuid4())
        await self.db.execute(
            "insert into auth.users (id, aud, role, email, raw_user_meta_data, raw_app_meta_data,"
            " email_confirmed_at, created_at, updated_at)"
            " values ($1, 'authenticated', 'authenticated', $2, $3::jsonb, '{}'::jsonb, now(), now(), now())",
            uuid.UUID(uid),
            f"{name}-{uid[:8]}@example.com",
            json.dumps({"display_name": name.title()}),
        )
        u = User(uid, mint(self.secret, user_claims(uid)))
        if character:
            r = await self.rpc(u.token, "create_character", {"p_name": name.title(), "p_class": "ranger"})
            assert r.status == 200, r
            u.character_id = r.body["id"]
        return u

    async def character(self, u: User, name: str = "Alt") -> str:
        r = await self.rpc(u.token, "create_character", {"p_name": name, "p_class": "bard"})
        assert r.status == 200, r
        return str(r.body["id"])

    async def ok(self, token: str, fn: str, args: dict[str, Any] | None = None) -> Any:
        r = await self.rpc(token, fn, args)
        assert 200 <= r.status < 300, f"{fn}: {r}"
        return r.body

    async def session(self, seer: User, players: list[User], *, max_players: int = 6) -> str:
        s = await self.ok(
            seer.token, "create_session", {"p_adventure_id": ADVENTURE_ID, "p_max_players": max_players}
        )
        for p in players:
            await self.ok(
                p.token, "join_session", {"p_session_id": s["id"], "p_character_id": p.character_id}
            )
        return str(s["id"])

    async def assert_seq_gap_free(self, sid: str) -> int:
        row = await self.db.fetchrow(
            "select s.last_seq, count(e.seq) as n,"
            " coalesce(min(e.seq), 0) as lo, coalesce(max(e.seq), 0) as hi"
            " from public.sessions s left join public.session_events e on e.session_id = s.id"
            " where s.id = $1 group by s.last_seq",
            uuid.UUID(sid),
        )
        assert row is not None
        assert row["n"] == row["last_seq"] == row["hi"], dict(row)
        assert row["lo"] == (1 if row["n"] else 0), dict(row)
        return int(row["last_seq"])


async def _body(resp: aiohttp.ClientResponse) -> Any:
    text = await resp.text()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


@pytest.fixture(scope="session")
async def rstack(database_url: str) -> AsyncIterator[DevStack]:
    # A whole test session's traffic goes through this one shared stack, far above what one
    # project sends; at the local CLI's tenant limits (100 messages/s averaged over a minute)
    # later tests would inherit earlier tests' throttling. Raised on purpose; the limits are
    # tested on stacks of their own (tests/devstack/test_realtime_limits.py,
    # tests/sdk/test_stream_integration.py).
    async with DevStack(
        database_url=database_url,
        bcrypt_rounds=4,
        realtime_max_events_per_second=1_000_000,
        realtime_max_presence_events_per_second=1_000_000,
        realtime_max_joins_per_second=1_000_000,
    ) as stack:
        yield stack


@pytest.fixture(scope="session")
async def rdb(rstack: DevStack) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(rstack.db_url, min_size=1, max_size=6)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def api(rstack: DevStack, rdb: asyncpg.Pool) -> AsyncIterator[Api]:
    conn = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=conn) as http:
        yield Api(rstack, http, rdb)
