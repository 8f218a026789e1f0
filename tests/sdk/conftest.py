"""Fixtures for SDK unit tests: fake GoTrue/PostgREST (httpx MockTransport) + fake Realtime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from seer_client import SeerClient
from supabase import AsyncClient, AsyncClientOptions

from .fakes import FakeBackend, FakeRealtime

ClientFactory = Callable[..., Awaitable[SeerClient]]


@pytest.fixture
async def backend() -> AsyncIterator[FakeBackend]:
    fake = FakeBackend()
    rt = FakeRealtime(fake)
    await rt.start()
    yield fake
    await rt.stop()


@pytest.fixture
async def make_client(backend: FakeBackend) -> AsyncIterator[ClientFactory]:
    made: list[tuple[SeerClient, httpx.AsyncClient]] = []
    assert backend.realtime is not None
    url = backend.realtime.url

    async def factory(email: str | None = None, *, max_retries: int = 2, sign_in: bool = True) -> SeerClient:
        http = httpx.AsyncClient(transport=backend.transport())
        supabase = AsyncClient(
            url, "anon-key", AsyncClientOptions(httpx_client=http, auto_refresh_token=False)
        )
        client = SeerClient(supabase, max_retries=max_retries)
        made.append((client, http))
        if email and sign_in:
            if email not in backend.users:
                backend.add_user(email)
            await client.sign_in(email, backend.users[email]["password"])
        return client

    yield factory
    for client, http in made:
        await client.close()
        await http.aclose()


# ---------------------------------------------------------------- devstack (integration)
@pytest.fixture(scope="session")
async def devstack(database_url: str) -> AsyncIterator[object]:
    """The local stack (gateway) on the session's test database, shared by SDK integration tests."""
    from seer_devstack.stack import DevStack

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
async def db(devstack: object) -> AsyncIterator[object]:
    import asyncpg

    pool = await asyncpg.create_pool(devstack.db_url, min_size=1, max_size=3)  # type: ignore[attr-defined]
    yield pool
    await pool.close()
