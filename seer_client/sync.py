"""Blocking facade over the async SDK, for scripts and notebooks.

``seer_client.sync.SeerClient`` has the same methods as :class:`seer_client.SeerClient`
but blocks instead of returning coroutines. There is one implementation: a generic proxy
runs every call of the async object on a private event loop in a background thread and
wraps what comes back (a :class:`~seer_client.connection.SessionConnection` becomes a
blocking proxy with ``with`` support; an async iterator becomes a plain iterator).

Because the loop lives in its own thread, this works inside Jupyter (whose own loop is
already running) and in plain scripts alike. Callbacks you register run on that background
thread; do not call the blocking facade from inside a callback (it would wait for itself).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, TypeVar

from .client import SeerClient as AsyncSeerClient

__all__ = ["SeerClient", "SyncProxy", "run"]

T = TypeVar("T")


class _LoopThread:
    """A daemon thread running one event loop forever."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def main() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=main, name="seer-client-loop", daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(self, factory: Any) -> Any:
        """Run ``factory()`` (a coroutine function of no args) on the loop and wait for it."""
        loop = self.loop()
        if self._thread is threading.current_thread():
            raise RuntimeError(
                "the blocking seer_client.sync API was called from its own event loop thread "
                "(inside a callback?); use the async API there"
            )

        async def runner() -> Any:
            return await factory()

        return asyncio.run_coroutine_threadsafe(runner(), loop).result()

    def stop(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None and thread.is_alive():

            async def drain() -> None:
                # Cancel what is still pending (e.g. supabase-auth's refresh timer) so the
                # interpreter does not warn about destroyed pending tasks at exit.
                current = asyncio.current_task()
                pending = [t for t in asyncio.all_tasks() if t is not current]
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                await loop.shutdown_asyncgens()

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(drain(), loop).result(timeout=5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            if not thread.is_alive():
                loop.close()


_RUNNER = _LoopThread()
atexit.register(_RUNNER.stop)


def run(awaitable: Awaitable[T]) -> T:
    """Run any awaitable on the facade's loop and return its result (blocking)."""

    async def factory() -> T:
        return await awaitable

    return _RUNNER.run(factory)  # type: ignore[no-any-return]


def _needs_proxy(value: Any) -> bool:
    if isinstance(value, type):
        return False
    # Async resources (the client, SessionConnection) get a blocking proxy; plain data
    # (pydantic models, enums, lists) is returned as is.
    return hasattr(value, "__aenter__")


def _wrap(value: Any) -> Any:
    if isinstance(value, SyncProxy):
        return value
    if inspect.isasyncgen(value) or isinstance(value, AsyncIterator):
        return SyncIterator(value)
    if _needs_proxy(value):
        return SyncProxy(value)
    return value


class SyncIterator(Iterator[Any]):
    """A blocking iterator over an async iterator, stepped on the facade's loop."""

    def __init__(self, aiter: AsyncIterator[Any]) -> None:
        self._aiter = aiter

    def __iter__(self) -> SyncIterator:
        return self

    def __next__(self) -> Any:
        async def step() -> tuple[bool, Any]:
            try:
                return True, await self._aiter.__anext__()
            except StopAsyncIteration:
                return False, None

        ok, value = _RUNNER.run(step)
        if not ok:
            raise StopIteration
        return _wrap(value)

    def close(self) -> None:
        aclose = getattr(self._aiter, "aclose", None)
        if aclose is not None:

            async def closer() -> None:
                await aclose()

            _RUNNER.run(closer)

    def __enter__(self) -> SyncIterator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncProxy:
    """Blocking view of an async object: every method call runs on the background loop."""

    __slots__ = ("_target",)

    def __init__(self, target: Any) -> None:
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr) or isinstance(attr, type):
            return _wrap(attr)

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            async def invoke() -> Any:
                result = attr(*args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
                return result

            return _wrap(_RUNNER.run(invoke))

        return call

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(type(self._target))) | set(vars(self._target)))

    def __repr__(self) -> str:
        return f"<sync {self._target!r}>"

    def __enter__(self) -> Any:
        target = self._target
        if hasattr(target, "__aenter__"):

            async def enter() -> Any:
                return await target.__aenter__()

            result = _RUNNER.run(enter)
            return self if result is target else _wrap(result)
        return self

    def __exit__(self, *exc: Any) -> None:
        target = self._target
        if hasattr(target, "__aexit__"):

            async def leave() -> Any:
                return await target.__aexit__(*exc)

            _RUNNER.run(leave)

    def __iter__(self) -> Iterator[Any]:
        target = self._target
        if hasattr(target, "__aiter__"):
            return SyncIterator(target.__aiter__())
        if hasattr(target, "events"):
            return self.events()  # type: ignore[no-any-return]
        raise TypeError(f"{type(target).__name__} is not iterable")

    def _repr_html_(self) -> str | None:
        render = getattr(self._target, "_repr_html_", None)
        if render is None:
            return None

        async def html() -> Any:
            return render()

        return _RUNNER.run(html)  # type: ignore[no-any-return]


class SeerClient(SyncProxy):
    """Blocking Seer client: ``SeerClient(url, key)`` or ``SeerClient(supabase_async_client)``.

    Same methods as :class:`seer_client.SeerClient`, e.g. ``client.sign_in(email, pw)``,
    ``client.create_session(adventure_id)``; ``with client.connect(sid) as conn:``.
    """

    __slots__ = ()

    def __init__(self, supabase_or_url: Any, key: str | None = None, **kwargs: Any) -> None:
        if isinstance(supabase_or_url, AsyncSeerClient):
            target = supabase_or_url
        elif isinstance(supabase_or_url, str):
            if key is None:
                raise TypeError("SeerClient(url, key): key is required")

            async def create() -> AsyncSeerClient:
                return await AsyncSeerClient.create(supabase_or_url, key, **kwargs)

            target = _RUNNER.run(create)
        else:
            target = AsyncSeerClient(supabase_or_url, **kwargs)
        super().__init__(target)

    @classmethod
    def create(cls, url: str, key: str, **kwargs: Any) -> SeerClient:
        return cls(url, key, **kwargs)

    @property
    def aio(self) -> AsyncSeerClient:
        """The async client underneath (use it from async code on the facade's loop)."""
        return self._target  # type: ignore[no-any-return]

    def __enter__(self) -> SeerClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
