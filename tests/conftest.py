"""Shared fixtures: one Postgres cluster (bootstrap + migrations + seed) per test session.

``make test`` starts the cluster once (``python -m seer_client.devstack.postgres exec``) and
exports DATABASE_URL; plain ``pytest`` starts its own throw-away cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from seer_client.devstack.postgres import PostgresCluster


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    if os.environ.get("SEER_TEST_DB_EXTERNAL") and os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    with PostgresCluster() as cluster:
        os.environ.update(cluster.env())
        yield cluster.dsn
