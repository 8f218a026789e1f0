"""The blocking facade: one generic proxy over the async implementation."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from seer_client import SeerClient as AsyncSeerClient
from seer_client import SessionNotFound, ValidationError
from seer_client.sync import SeerClient, SyncProxy, SyncSessionConnection, run
from supabase import AsyncClient, AsyncClientOptions

from . import samples as s
from .fakes import FakeBackend, FakeRealtime


class Thing:
    def __init__(self) -> None:
        self.entered = False
        self.threads: list[str] = []

    async def add(self, a: int, b: int = 1) -> int:
        """Add two numbers."""
        self.threads.append(threading.current_thread().name)
        await asyncio.sleep(0)
        return a + b

    def plain(self) -> str:
        return threading.current_thread().name

    async def fail(self) -> None:
        raise SessionNotFound()

    async def child(self) -> Thing:
        return Thing()

    async def numbers(self, n: int) -> AsyncIterator[int]:
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    async def __aenter__(self) -> Thing:
        self.entered = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.entered = False


def test_proxy_runs_coroutines_on_the_background_loop() -> None:
    thing = SyncProxy(Thing())
    assert thing.add(2, b=3) == 5
    assert thing._target.threads == ["seer-client-loop"]
    assert thing.plain() == "seer-client-loop"
    # signature and docstring survive for help() and IDEs
    assert inspect.signature(thing.add).parameters.keys() == {"a", "b"}
    assert thing.add.__doc__ == "Add two numbers."


def test_proxy_raises_the_same_exceptions() -> None:
    with pytest.raises(SessionNotFound):
        SyncProxy(Thing()).fail()


def test_proxy_wraps_async_objects_iterators_and_context_managers() -> None:
    thing = SyncProxy(Thing())
    child = thing.child()
    assert isinstance(child, SyncProxy)
    with child as entered:
        assert entered._target.entered is True
    assert child._target.entered is False
    numbers = thing.numbers(3)
    assert isinstance(numbers, Iterator)
    assert list(numbers) == [0, 1, 2]


def test_attribute_writes_reach_the_target() -> None:
    thing = SyncProxy(Thing())
    thing.entered = "yes"
    assert thing._target.entered == "yes"


async def test_works_inside_a_running_event_loop() -> None:
    # Jupyter runs cells inside a loop: the facade must not need (or disturb) it.
    asyncio.get_running_loop()
    thing = SyncProxy(Thing())
    assert thing.add(40, 2) == 42
    assert list(thing.numbers(2)) == [0, 1]


def test_calling_the_facade_from_its_own_loop_is_refused_not_deadlocked() -> None:
    thing = SyncProxy(Thing())

    async def inner() -> None:
        thing.add(1)

    with pytest.raises(RuntimeError, match="own event loop"):
        run(inner())


def _sync_client(backend: FakeBackend, url: str = "http://127.0.0.1:9") -> SeerClient:
    http = httpx.AsyncClient(transport=backend.transport())
    supabase = AsyncClient(url, "anon-key", AsyncClientOptions(httpx_client=http, auto_refresh_token=False))
    return SeerClient(supabase)


def test_sync_seer_client_end_to_end_rpc() -> None:
    backend = FakeBackend()
    client = _sync_client(backend)
    assert isinstance(client.aio, AsyncSeerClient)
    uid = backend.add_user("sy@example.com")
    backend.make_seer(uid)
    assert client.sign_in("sy@example.com", "pw-123456") == uid
    session = client.get_session(s.SESSION_ID)
    assert session.id == s.SESSION_ID
    with pytest.raises(ValidationError):
        client.end_session(s.SESSION_ID, outcome="nope")


async def test_sync_seer_client_inside_running_loop() -> None:
    backend = FakeBackend()
    client = _sync_client(backend)
    uid = backend.add_user("lo@example.com")
    client.sign_in("lo@example.com", "pw-123456")
    with pytest.raises(SessionNotFound):
        client.get_session(s.SESSION_ID)
    backend.make_seer(uid)
    assert client.heartbeat(s.SESSION_ID).session_id == s.SESSION_ID


def test_sync_connection_with_callbacks_and_iterator() -> None:
    backend = FakeBackend()
    rt = FakeRealtime(backend)
    run(rt.start())
    try:
        client = _sync_client(backend, rt.url)
        uid = backend.add_user("it@example.com")
        backend.seat(uid, "Ida")
        client.sign_in("it@example.com", "pw-123456")
        seen: list[int] = []

        async def emit(n: int) -> None:
            for _ in range(n):
                backend.emit()

        with client.connect(s.SESSION_ID, backoff_base=0.05, join_timeout=3.0) as conn:
            assert isinstance(conn, SyncSessionConnection)
            conn.on_event = lambda e: seen.append(e.seq)
            assert str(conn.status) == "connected"
            run(emit(3))
            conn.wait_for_seq(3)
            events = conn.events()
            assert [next(events).seq for _ in range(3)] == [1, 2, 3]
            events.close()
            assert [p.state for p in conn.presence() if p.role == "player"] == ["online"]
            assert "Ida" in conn._repr_html_()
            # the blocking twin holds the folded state too (issue 22)
            assert conn.state.version == 3 and conn.state.game.variables["gold"] == 3
            assert conn.state_reads == 0
        assert seen == [1, 2, 3]
        assert str(conn.status) == "disconnected"
        client.close()
    finally:
        run(rt.stop())
