"""The devstack's /functions/v1 gateway, against fixture functions (no database needed):
proxying, the function environment, verify_jwt, boot errors, restarts, supabase-py invoke."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
import pytest
import pytest_asyncio
from aiohttp import web
from supabase_functions import AsyncFunctionsClient
from supabase_functions.errors import FunctionsHttpError
from yarl import URL

from seer_devstack import functions
from seer_devstack.config import GatewayConfig

from .conftest import FIXTURES

pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass
class Stack:
    url: str
    config: GatewayConfig
    gateway: functions.FunctionsGateway


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(deno: str) -> AsyncIterator[Stack]:
    app = web.Application()
    config = GatewayConfig(db_url="postgresql://fixture@127.0.0.1:1/none", port=0)
    gateway = functions.setup(
        app,
        config,
        functions_dir=FIXTURES / "functions",
        config_toml=FIXTURES / "config.toml",
        deno=deno,
        boot_timeout=30,
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    config.port = port
    try:
        yield Stack(f"http://127.0.0.1:{port}", config, gateway)
    finally:
        await runner.cleanup()
    assert all(not w.running for w in gateway.workers.values()), "cleanup stops every Deno process"


async def call(
    method: str, url: str, *, headers: dict[str, str] | None = None, data: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, URL(url, encoded=True), headers=headers or {}, data=data) as r,
    ):
        return r.status, dict(r.headers), await r.read()


async def test_proxies_method_path_query_headers_body_and_status(stack: Stack) -> None:
    status, headers, raw = await call(
        "PATCH",
        f"{stack.url}/functions/v1/echo/a/b%20c?x=1&y=%2F&y=2&status=207",
        headers={"X-Custom": "one", "Content-Type": "text/plain", "X-Forwarded-For": "198.51.100.1"},
        data=b"hello body",
    )
    assert status == 207
    assert headers["x-echo"] == "yes"
    echoed = json.loads(raw)
    assert echoed["method"] == "PATCH"
    assert echoed["path"] == "/echo/a/b%20c"
    assert echoed["search"] == "?x=1&y=%2F&y=2&status=207"
    assert echoed["body"] == "hello body"
    assert echoed["headers"]["x-custom"] == "one"
    assert echoed["headers"]["content-type"] == "text/plain"
    # The client's own X-Forwarded-For is kept and the peer the gateway saw is appended.
    assert echoed["headers"]["x-forwarded-for"] == "198.51.100.1, 127.0.0.1"
    assert echoed["headers"]["x-forwarded-host"] == stack.url.removeprefix("http://")
    assert echoed["url"].startswith(stack.url + "/echo/a/b")


async def test_function_gets_supabase_environment(stack: Stack) -> None:
    status, _, raw = await call("GET", f"{stack.url}/functions/v1/echo")
    assert status == 200
    env = json.loads(raw)["env"]
    assert env == {
        "SUPABASE_URL": stack.url,
        "SUPABASE_ANON_KEY": stack.config.anon_key,
        "SUPABASE_SERVICE_ROLE_KEY": stack.config.service_role_key,
        "SUPABASE_DB_URL": stack.config.db_url,
        "FIXTURE_FROM_DOTENV": "from .env",
    }


async def test_head_has_headers_and_no_body(stack: Stack) -> None:
    status, headers, raw = await call("HEAD", f"{stack.url}/functions/v1/echo/x")
    assert status == 200
    assert headers["x-echo"] == "yes"
    assert raw == b""


async def test_verify_jwt_true_needs_a_valid_bearer_token(stack: Stack) -> None:
    url = f"{stack.url}/functions/v1/secure"
    status, _, raw = await call("GET", url)
    assert (status, json.loads(raw)) == (401, {"msg": "Error: Missing authorization header"})
    status, _, raw = await call("GET", url, headers={"Authorization": "Basic abc"})
    assert status == 401
    forged = jwt.encode({"role": "service_role"}, "not-the-project-secret-but-long-enough-0123", "HS256")
    status, _, raw = await call("GET", url, headers={"Authorization": f"Bearer {forged}"})
    assert (status, json.loads(raw)) == (401, {"msg": "Invalid JWT"})
    expired = jwt.encode({"role": "authenticated", "exp": 1}, stack.config.jwt_secret, "HS256")
    status, _, _ = await call("GET", url, headers={"Authorization": f"Bearer {expired}"})
    assert status == 401
    status, _, raw = await call("GET", url, headers={"Authorization": f"Bearer {stack.config.anon_key}"})
    assert status == 200
    assert json.loads(raw)["path"] == "/secure"
    # CORS preflights pass without a token, as on Supabase.
    status, _, _ = await call("OPTIONS", url)
    assert status == 200


async def test_verify_jwt_false_opens_without_token(stack: Stack) -> None:
    status, _, _ = await call("GET", f"{stack.url}/functions/v1/echo")
    assert status == 200


async def test_function_that_fails_to_start_is_named_in_a_clear_error(stack: Stack) -> None:
    status, _, raw = await call("GET", f"{stack.url}/functions/v1/broken")
    assert status == 503
    body = json.loads(raw)
    assert body["code"] == "BOOT_ERROR"
    assert "Edge function 'broken' failed to start" in body["message"]
    assert "boom: BROKEN_SECRET is not set" in body["message"]


async def test_unknown_function_is_404(stack: Stack) -> None:
    for name in ("nope", "..", "_shared"):
        status, _, raw = await call("GET", f"{stack.url}/functions/v1/{name}")
        assert status == 404, name
    assert json.loads(raw)["code"] == "NOT_FOUND"


async def test_a_function_that_exits_is_restarted_on_the_next_request(stack: Stack) -> None:
    await call("GET", f"{stack.url}/functions/v1/echo")
    worker = stack.gateway.workers["echo"]
    starts = worker.starts
    status, _, raw = await call("GET", f"{stack.url}/functions/v1/echo?exit=1")
    assert status == 502
    assert "Edge function 'echo'" in json.loads(raw)["message"]
    status, _, _ = await call("GET", f"{stack.url}/functions/v1/echo")
    assert status == 200
    assert worker.starts == starts + 1


async def test_supabase_py_functions_invoke(stack: Stack) -> None:
    client = AsyncFunctionsClient(
        f"{stack.url}/functions/v1",
        {"apiKey": stack.config.anon_key, "Authorization": f"Bearer {stack.config.anon_key}"},
    )
    data: Any = await client.invoke("secure", {"body": {"hello": "world"}, "responseType": "json"})
    assert data["method"] == "POST"
    assert json.loads(data["body"]) == {"hello": "world"}
    assert data["headers"]["content-type"] == "application/json"
    unsigned = AsyncFunctionsClient(f"{stack.url}/functions/v1", {})
    with pytest.raises(FunctionsHttpError) as err:
        await unsigned.invoke("secure", {"responseType": "json"})
    assert err.value.status == 401


async def test_concurrent_cold_requests_start_one_process(stack: Stack) -> None:
    worker = stack.gateway.workers.get("echo")
    if worker is not None:
        await stack.gateway._stop(worker)
    before = worker.starts if worker is not None else 0
    results = await asyncio.gather(*(call("GET", f"{stack.url}/functions/v1/echo?i={i}") for i in range(12)))
    assert [status for status, _, _ in results] == [200] * 12
    assert sorted(json.loads(raw)["search"] for _, _, raw in results) == sorted(f"?i={i}" for i in range(12))
    assert stack.gateway.workers["echo"].starts == before + 1


async def one_off_request(path: str, *, deno: str | None, boot_timeout: float) -> tuple[int, dict[str, Any]]:
    """One request through a fresh gateway (its own settings), torn down afterwards."""
    app = web.Application()
    config = GatewayConfig(db_url="postgresql://fixture@127.0.0.1:1/none", port=0)
    gateway = functions.setup(
        app,
        config,
        functions_dir=FIXTURES / "functions",
        config_toml=FIXTURES / "config.toml",
        boot_timeout=boot_timeout,
    )
    gateway.deno = deno
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        status, _, raw = await call("GET", f"http://127.0.0.1:{runner.addresses[0][1]}{path}")
    finally:
        await runner.cleanup()
    return status, json.loads(raw)


async def test_function_that_never_listens_times_out_with_its_name(deno: str) -> None:
    status, body = await one_off_request("/functions/v1/silent", deno=deno, boot_timeout=1.5)
    assert status == 503
    assert body["code"] == "BOOT_ERROR"
    assert "Edge function 'silent' failed to start (not listening after 1.5 s)" in body["message"]
    assert "silent: waiting forever" in body["message"]


async def test_missing_deno_is_a_clear_boot_error() -> None:
    status, body = await one_off_request("/functions/v1/echo", deno=None, boot_timeout=5)
    assert status == 503
    assert body["code"] == "BOOT_ERROR"
    assert "Edge function 'echo' failed to start (deno not found)" in body["message"]
    assert "install-deno.sh" in body["message"]
