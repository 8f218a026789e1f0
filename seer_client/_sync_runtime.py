"""The machinery under :mod:`seer_client.sync`: one event loop in a daemon thread.

Every blocking call runs its coroutine on that loop and waits for the result, so the facade
works in plain scripts and inside Jupyter (whose own loop is already running) alike.
Callbacks registered on a connection run on the loop's thread: plain (non-async) methods
called there run directly; blocking ones raise instead of waiting for themselves.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, Generic, TypeVar

__all__ = ["BlockingObject", "SyncIterator", "on_loop_thread", "run"]

T = TypeVar("T")
TargetT = TypeVar("TargetT")


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

    def on_thread(self) -> bool:
        """True when called from the loop's own thread (e.g. inside a callback)."""
        return self._thread is threading.current_thread()

    def run(self, factory: Callable[[], Awaitable[T]]) -> T:
        """Run ``factory()`` (a coroutine function of no args) on the loop and wait for it."""
        loop = self.loop()
        if self.on_thread():
            raise RuntimeError(
                "the blocking seer_client.sync API was called from its own event loop thread "
                "(inside a callback?); use the async API there"
            )

        async def runner() -> T:
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

    return _RUNNER.run(factory)


def on_loop_thread() -> bool:
    """True inside the facade's loop thread (where callbacks run)."""
    return _RUNNER.on_thread()


class SyncIterator(Iterator[T]):
    """A blocking iterator over an async iterator, stepped on the facade's loop."""

    def __init__(self, aiter: AsyncIterator[T]) -> None:
        self._aiter = aiter

    def __iter__(self) -> SyncIterator[T]:
        return self

    def __next__(self) -> T:
        async def step() -> tuple[bool, T | None]:
            try:
                return True, await self._aiter.__anext__()
            except StopAsyncIteration:
                return False, None

        ok, value = _RUNNER.run(step)
        if not ok:
            raise StopIteration
        return value  # type: ignore[return-value]

    def close(self) -> None:
        """Close the async iterator underneath (runs its ``finally`` blocks)."""
        aclose = getattr(self._aiter, "aclose", None)
        if aclose is not None:

            async def closer() -> None:
                await aclose()

            _RUNNER.run(closer)

    def __enter__(self) -> SyncIterator[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BlockingObject(Generic[TargetT]):
    """Base of the generated blocking classes: holds the async object, runs calls on the loop."""

    __slots__ = ("_target",)

    def __init__(self, target: TargetT) -> None:
        self._target = target

    def _await(self, factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return _RUNNER.run(factory)

    def _call(self, fn: Callable[[], T]) -> T:
        # Plain methods read the connection's state: on the loop thread (in a callback) call
        # them directly; from any other thread, run them on the loop so they see one state.
        if _RUNNER.on_thread():
            return fn()

        async def invoke() -> T:
            return fn()

        return _RUNNER.run(invoke)

    def __repr__(self) -> str:
        return f"<sync {self._target!r}>"
