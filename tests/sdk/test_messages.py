"""Messages that say what happened (issue 21): no HTTP status on errors raised before a request,
one "(HTTP 404)" where there were two, CLI errors that name CLI flags, and ``--help`` that lists
every option and variable."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from seer_client import AuthError, TransportError, ValidationError

from . import samples as s
from .conftest import ClientFactory
from .fakes import FakeBackend


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE_", "SEER_"))}
    return subprocess.run(
        [sys.executable, "-m", "seer_client", *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=60,
    )


async def test_errors_raised_before_a_request_claim_no_http_status(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    client = await make_client("mo@example.com", sign_in=False)
    with pytest.raises(ValidationError) as invalid:
        await client.get_session("not-a-uuid")
    assert "HTTP" not in str(invalid.value) and not backend.calls
    with pytest.raises(AuthError) as signed_out:
        await client.get_session(s.SESSION_ID)
    assert str(signed_out.value) == "sign in first: get_session needs a signed-in user"


async def test_a_wrong_url_says_its_status_once(backend: FakeBackend, make_client: ClientFactory) -> None:
    original = backend.handle

    def handle(request: httpx.Request) -> httpx.Response:
        if "/rest/v1/" in request.url.path:
            return httpx.Response(404, text="<html>Not Found</html>", headers={"content-type": "text/html"})
        return original(request)

    backend.handle = handle  # type: ignore[method-assign]
    client = await make_client("no@example.com")
    with pytest.raises(TransportError) as info:
        await client.get_session(s.SESSION_ID)
    text = str(info.value)
    assert text.count("HTTP 404") == 1 and "check the URL" in text and info.value.status == 404


def test_cli_errors_name_cli_flags() -> None:
    res = cli("watch", "H7NK4B")
    assert res.returncode == 2
    assert res.stderr.strip() == (
        "error: watch needs --url (or SUPABASE_URL), --key (or SUPABASE_ANON_KEY), "
        "--email (or SEER_EMAIL), --password (or SEER_PASSWORD)"
    )
    assert "url=" not in res.stderr


def test_help_lists_every_option_and_variable() -> None:
    demo = cli("demo", "--help").stdout
    for word in ("--url", "--key", "--quiet", "--timeout", "SUPABASE_ANON_KEY"):
        assert word in demo, word
    watch = cli("watch", "--help").stdout
    for word in ("--url", "--key", "--email", "--password", "SUPABASE_URL", "SEER_EMAIL", "SEER_PASSWORD"):
        assert word in watch, word
    assert "SEER_PASSWORD" in cli("--help").stdout


def test_every_public_method_has_a_docstring_that_fits_its_class() -> None:
    import inspect

    from seer_client import AsyncSeerClient, SessionConnection, SyncSeerClient
    from seer_client.sync import SyncSessionConnection

    for cls in (AsyncSeerClient, SyncSeerClient, SessionConnection, SyncSessionConnection):
        for name, member in inspect.getmembers(cls):
            raw = inspect.getattr_static(cls, name)
            if name.startswith("_") or isinstance(raw, property) or not callable(member):
                continue
            doc = inspect.getdoc(member) or ""
            assert doc and not doc.startswith("Blocking ``"), f"{cls.__name__}.{name} has no docstring"
            if cls in (SyncSeerClient, SyncSessionConnection):
                assert "async with" not in doc and "await " not in doc, f"{cls.__name__}.{name}: {doc}"
