"""One timeout and retry story (issue 21), against a local socket that accepts and never answers.

Before: auth calls failed at supabase-auth's own 5.0 s whatever ``timeout`` said, as a
``TransportError`` with an empty reason; ``retries=3`` meant three attempts and the final error
said "did not answer within 10 s" after 30.5 s. Now ``timeout`` bounds each attempt of every
call, ``max_retries`` counts retries, and the final error names the attempts and elapsed time.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from seer_client import AsyncSeerClient, SeerClient, TimeoutError, TransportError

from .fakes import FakeBackend


@dataclass
class HungServer:
    """Accepts connections and reads requests; answers auth (when asked), never anything else."""

    answer_auth: bool = False
    requests: list[str] = field(default_factory=lambda: list[str]())
    url: str = ""
    _server: asyncio.Server | None = None
    _fake: FakeBackend = field(default_factory=FakeBackend)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    def seen(self, prefix: str) -> int:
        return sum(1 for r in self.requests if r.startswith(prefix))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                if length:
                    await reader.readexactly(length)
                path = target.split("?", 1)[0]
                self.requests.append(f"{method} {path}")
                if self.answer_auth and path == "/auth/v1/token":
                    uid = str(uuid.uuid4())
                    body = json.dumps(self._fake._auth_session(uid, "hung@example.com")).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        + f"Content-Length: {len(body)}\r\n\r\n".encode()
                        + body
                    )
                    await writer.drain()
                    continue
                await asyncio.Event().wait()  # accepted, read, never answered
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def hung() -> AsyncIterator[HungServer]:
    server = HungServer()
    await server.start()
    yield server
    await server.stop()


@pytest.mark.parametrize("call", ["sign_in", "sign_up"])
async def test_auth_calls_honour_timeout(hung: HungServer, call: str) -> None:
    async with AsyncSeerClient(hung.url, "anon-key", timeout=1.5) as client:
        started = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            await getattr(client, call)("a@example.com", "pw-123456")
        elapsed = time.monotonic() - started
    assert 1.4 <= elapsed < 3.0, elapsed  # the client's limit, not supabase-auth's 5 s
    assert isinstance(info.value, TransportError) and isinstance(info.value, builtins.TimeoutError)
    assert str(info.value).startswith(f"{call}: {hung.url} did not answer within 1.5 s (1 attempt in ")
    assert len(hung.requests) == 1  # auth is never retried


async def test_a_longer_timeout_than_supabase_auths_own_is_honoured(hung: HungServer) -> None:
    async with AsyncSeerClient(hung.url, "anon-key", timeout=6) as client:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="within 6 s"):
            await client.sign_in("a@example.com", "pw-123456")
    assert time.monotonic() - started >= 5.9


async def test_reads_retry_max_retries_times_and_the_error_says_so(hung: HungServer) -> None:
    hung.answer_auth = True
    async with AsyncSeerClient(hung.url, "anon-key", timeout=0.5, max_retries=2) as client:
        await client.sign_in("hung@example.com", "pw-123456")
        started = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            await client.list_my_sessions()
        elapsed = time.monotonic() - started
    assert hung.seen("POST /rest/v1/rpc/list_my_sessions") == 3  # 1 attempt + 2 retries
    message = str(info.value)
    assert message.startswith(f"list_my_sessions: {hung.url} did not answer within 0.5 s (3 attempts in ")
    assert info.value.attempts == 3 and info.value.elapsed is not None
    assert 1.5 <= info.value.elapsed <= elapsed


async def test_max_retries_zero_is_one_attempt_and_with_options_changes_one_call_site(
    hung: HungServer,
) -> None:
    hung.answer_auth = True
    async with AsyncSeerClient(hung.url, "anon-key", timeout=5) as client:
        await client.sign_in("hung@example.com", "pw-123456")
        quick = client.with_options(timeout=0.3, max_retries=0)
        assert (quick.timeout, quick.max_retries) == (0.3, 0) and (client.timeout, client.max_retries) == (
            5,
            2,
        )
        with pytest.raises(TimeoutError, match=r"within 0.3 s \(1 attempt in 0.\d s\)"):
            await quick.get_session(str(uuid.uuid4()))
    assert hung.seen("POST /rest/v1/rpc/get_session") == 1


async def test_mutations_make_one_attempt_and_say_why(hung: HungServer) -> None:
    hung.answer_auth = True
    async with AsyncSeerClient(hung.url, "anon-key", timeout=0.3, max_retries=2) as client:
        await client.sign_in("hung@example.com", "pw-123456")
        with pytest.raises(TimeoutError, match="leave_session changes data and is never retried"):
            await client.leave_session(str(uuid.uuid4()))
    assert hung.seen("POST /rest/v1/rpc/leave_session") == 1


async def test_retries_is_a_deprecated_alias_counting_attempts() -> None:
    with pytest.warns(DeprecationWarning, match="max_retries"):
        client = SeerClient("http://127.0.0.1:9", "anon-key", retries=3)
    assert client.max_retries == 2
    await client.close()
