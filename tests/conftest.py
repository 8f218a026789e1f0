"""Shared fixtures: one Postgres cluster (bootstrap + migrations + seed) per test session.

``make test`` starts the cluster once (``python -m seer_devstack.postgres exec``) and
exports DATABASE_URL; plain ``pytest`` starts its own throw-away cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from seer_devstack.postgres import PostgresCluster


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    if os.environ.get("SEER_TEST_DB_EXTERNAL") and os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    with PostgresCluster() as cluster:
        os.environ.update(cluster.env())
        yield cluster.dsn


@pytest.fixture(scope="session")
async def devstack(database_url: str):  # -> AsyncIterator[seer_devstack.DevStack]
    """One in-process devstack (gateway on a free port) attached to the session's test database.

    ``devstack.url``/``.anon_key``/``.service_role_key`` for supabase clients;
    ``await devstack.realtime.drop_all_sockets()`` / ``drop_sockets(user_id)`` /
    ``stall_sockets()`` / ``refuse_connections()`` to test reconnects.
    """
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
