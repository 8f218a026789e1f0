"""One error story (issue 12): everything the SDK raises is a SeerError, with the URL in
transport errors; timeouts are TimeoutError(TransportError); defaults come from the env."""

from __future__ import annotations

import asyncio
import builtins
import socket

import httpx
import pytest
from aiohttp import web

from seer_client import ConfigError, SeerClient, SeerError, TimeoutError, TransportError
from seer_client.errors import AuthError
from supabase import AsyncClient, AsyncClientOptions

from . import samples as s
from .conftest import ClientFactory
from .fakes import FakeBackend


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_create_reads_supabase_url_and_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUPABASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SUPABASE_ANON_KEY", "anon-key")
    client = await SeerClient.create(timeout=2.5)
    try:
        assert client.url == "http://127.0.0.1:9" and client.timeout == 2.5
    finally:
        await client.close()


async def test_missing_or_bad_url_and_key_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPABASE_URL", raising=False)
    monkeypatch.delenv("SUPABASE_ANON_KEY", raising=False)
    with pytest.raises(ConfigError, match="SUPABASE_URL"):
        await SeerClient.create()
    with pytest.raises(ConfigError, match="SUPABASE_ANON_KEY"):
        await SeerClient.create("http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="Invalid URL") as info:
        await SeerClient.create("not a url", "anon-key")
    assert isinstance(info.value, SeerError) and info.value.__cause__ is not None
    with pytest.raises(ConfigError, match="timeout"):
        await SeerClient.create("http://127.0.0.1:9", "k", timeout=0)


async def test_unreachable_url_is_transport_error_naming_the_url() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    client = await SeerClient.create(url, "anon-key", max_retries=0)
    try:
        with pytest.raises(TransportError, match=url):
            await client.sign_in("nobody@example.com", "pw-123456")
    finally:
        await client.close()


async def test_wrong_base_url_is_transport_error_not_auth_error() -> None:
    async def not_found(request: web.Request) -> web.Response:
        return web.Response(status=404, text="<html>Not Found</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", not_found)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/wrong"
    client = await SeerClient.create(url, "anon-key")
    try:
        with pytest.raises(TransportError, match="check the URL") as info:
            await client.sign_in("nobody@example.com", "pw-123456")
        assert not isinstance(info.value, AuthError) and url in str(info.value)
    finally:
        await client.close()
        await runner.cleanup()


async def test_rpc_timeout_is_timeout_error_and_with_options_changes_it_for_one_call_site(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    never = asyncio.Event()
    original = backend.handle

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/rpc/get_session"):
            await never.wait()  # the server never answers
        return original(request)

    backend.handle = handle  # type: ignore[assignment,method-assign]
    client = await make_client("ti@example.com")
    quick = client.with_options(timeout=0.2, max_retries=0)
    assert quick.timeout == 0.2 and client.timeout == 10.0 and quick.supabase is client.supabase
    with pytest.raises(TimeoutError) as info:
        await quick.get_session(s.SESSION_ID)
    assert isinstance(info.value, TransportError) and isinstance(info.value, builtins.TimeoutError)
    assert "0.2 s" in str(info.value)


def test_sync_client_is_created_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from seer_client.sync import SeerClient as SyncSeerClient

    monkeypatch.setenv("SUPABASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SUPABASE_ANON_KEY", "anon-key")
    with SyncSeerClient.create(timeout=3) as client:
        assert client.url == "http://127.0.0.1:9" and client.timeout == 3
    with pytest.raises(ConfigError):
        SyncSeerClient.create("not a url", "k")


def test_supabase_options_pass_through() -> None:
    # An existing supabase client keeps its own options; SeerClient adds only its timeout.
    http = httpx.AsyncClient()
    supabase = AsyncClient("http://127.0.0.1:9", "anon-key", AsyncClientOptions(httpx_client=http))
    client = SeerClient(supabase, timeout=4)
    assert client.timeout == 4.0
