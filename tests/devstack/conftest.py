"""Fixtures for the devstack contract tests.

The tests drive the stack only through the official ``supabase`` package (plus a raw
websockets client for the vsn 2.0.0 serializer). By default they run against an in-process
``DevStack`` attached to the session's test database. With ``SUPABASE_URL``,
``SUPABASE_ANON_KEY`` and ``SUPABASE_SERVICE_ROLE_KEY`` set they run against that stack
instead (``DATABASE_URL`` then names its database, e.g. the CLI's port 54322); tests that need
a devstack-only hook are skipped there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from seer_devstack.stack import DevStack
from supabase import AsyncClient, acreate_client

ADVENTURE_ID = "00000000-0000-4000-8000-00000000a001"
PASSWORD = "correct-horse-42"


@dataclass
class Target:
    url: str
    anon_key: str
    service_role_key: str
    jwt_secret: str | None
    db_url: str
    stack: DevStack | None = None

    @property
    def is_devstack(self) -> bool:
        return self.stack is not None


def external_target() -> Target | None:
    url = os.environ.get("SUPABASE_URL")
    anon = os.environ.get("SUPABASE_ANON_KEY")
    service = os.environ.get("SUPABASE_SERVICE_ROLE_KEY")
    if not (url and anon and service):
        return None
    return Target(
        url=url,
        anon_key=anon,
        service_role_key=service,
        jwt_secret=os.environ.get("SUPABASE_JWT_SECRET"),
        db_url=os.environ.get("SUPABASE_DB_URL") or os.environ.get("DATABASE_URL", ""),
    )


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    ext = external_target()
    if ext is not None:
        return ext
    stack: DevStack = request.getfixturevalue("devstack")  # tests/conftest.py, one per session
    return Target(stack.url, stack.anon_key, stack.service_role_key, stack.jwt_secret, stack.db_url, stack)


@pytest.fixture
def devstack_only(target: Target) -> DevStack:
    if target.stack is None:
        pytest.skip("needs a devstack hook (running against SUPABASE_URL)")
    return target.stack


@pytest.fixture(scope="session")
async def db(target: Target) -> AsyncIterator[asyncpg.Pool]:
    if not target.db_url:
        pytest.skip("no database URL for the target stack")
    pool = await asyncpg.create_pool(target.db_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@dataclass
class User:
    client: AsyncClient
    id: str
    email: str
    access_token: str
    refresh_token: str


@dataclass
class Clients:
    target: Target
    created: list[AsyncClient] = field(default_factory=list)

    async def anon(self) -> AsyncClient:
        client = await acreate_client(self.target.url, self.target.anon_key)
        self.created.append(client)
        return client

    async def user(self, name: str = "player") -> User:
        client = await self.anon()
        email = f"{name}-{uuid.uuid4().hex[:10]}@example.com"
        res = await client.auth.sign_up(
            {"email": email, "password": PASSWORD, "options": {"data": {"display_name": name.title()}}}
        )
        assert res.user is not None and res.session is not None
        return User(client, res.user.id, email, res.session.access_token, res.session.refresh_token)

    async def close(self) -> None:
        for client in self.created:
            with contextlib.suppress(Exception):
                await client.realtime.remove_all_channels()
            with contextlib.suppress(Exception):
                await client.realtime.close()
            with contextlib.suppress(Exception):
                await client.auth._remove_session()


@pytest.fixture
async def clients(target: Target) -> AsyncIterator[Clients]:
    c = Clients(target)
    yield c
    await c.close()


async def wait_for(pred: Callable[[], Any], within: float = 5.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not pred():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
