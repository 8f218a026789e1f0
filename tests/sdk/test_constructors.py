"""Twin constructors (issue 21): ``SeerClient()`` was a TypeError (missing ``supabase``) while
``seer_client.sync.SeerClient(url, key)`` worked, and the package exported neither twin."""

from __future__ import annotations

import pytest

import seer_client
import seer_client.sync
from seer_client import AsyncSeerClient, ConfigError, SeerClient, SyncSeerClient


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPABASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SUPABASE_ANON_KEY", "anon-key")


async def test_async_client_is_a_plain_constructor(env: None) -> None:
    client = AsyncSeerClient()
    assert client.url == "http://127.0.0.1:9" and (client.timeout, client.max_retries) == (10.0, 2)
    await client.close()
    async with AsyncSeerClient("http://127.0.0.1:8", "k", timeout=3, max_retries=0) as other:
        assert other.url == "http://127.0.0.1:8" and (other.timeout, other.max_retries) == (3.0, 0)
    assert repr(client) == "<AsyncSeerClient http://127.0.0.1:9 timeout=10 max_retries=2>"
    created = await SeerClient.create(timeout=2)  # the older form keeps working
    assert isinstance(created, AsyncSeerClient) and created.timeout == 2.0
    await created.close()


def test_sync_twin_has_the_same_constructor(env: None) -> None:
    with SyncSeerClient() as client:
        assert client.url == "http://127.0.0.1:9" and client.max_retries == 2
    with SyncSeerClient("http://127.0.0.1:8", "k", timeout=3, max_retries=1) as other:
        assert (other.timeout, other.max_retries) == (3.0, 1)


def test_the_twins_are_exported_and_the_old_names_are_aliases() -> None:
    assert {"AsyncSeerClient", "SyncSeerClient", "SeerClient"} <= set(seer_client.__all__)
    assert SeerClient is AsyncSeerClient and seer_client.sync.SeerClient is SyncSeerClient
    assert AsyncSeerClient.__name__ == "AsyncSeerClient" and SyncSeerClient.__name__ == "SyncSeerClient"


def test_bad_settings_fail_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPABASE_URL", raising=False)
    monkeypatch.delenv("SUPABASE_ANON_KEY", raising=False)
    with pytest.raises(ConfigError, match="SUPABASE_URL"):
        AsyncSeerClient()
    with pytest.raises(ConfigError, match="max_retries"):
        AsyncSeerClient("http://127.0.0.1:9", "k", max_retries=-1)
    with pytest.raises(ConfigError, match="timeout"):
        SyncSeerClient("http://127.0.0.1:9", "k", timeout=0)


async def test_closing_a_with_options_view_closes_nothing(env: None) -> None:
    async with AsyncSeerClient() as client:
        view = client.with_options(timeout=1)
        await view.close()
        assert not client._transport.http.is_closed
    assert client._transport.http.is_closed


def test_exporting_the_sync_twin_keeps_import_seer_client_light() -> None:
    import subprocess
    import sys

    code = "import sys, seer_client; print('supabase' in sys.modules, 'httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[0] == "False"  # supabase is imported when a client is built
