"""Blocking facade over the async SDK, for scripts and notebooks.

``seer_client.sync.SeerClient`` (also importable as ``SyncSeerClient``) has every method of
:class:`seer_client.SeerClient` with the same arguments and return types, blocking instead of
returning coroutines; ``client.connect(...)`` gives a :class:`SyncSessionConnection` with
``with`` support, blocking ``wait_for`` and a plain iterator for ``events()``. Both classes
are generated from the async ones (``python -m seer_client._sync_gen``) and fully typed.

Every call runs on a private event loop in a background thread, so this works inside
Jupyter (whose own loop is already running) and in plain scripts alike. Callbacks you
register run on that thread: plain methods (``view``, ``presence``, properties) work there;
blocking ones (RPCs, ``wait_for``) raise instead of waiting for themselves.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, cast

from ._sync_api import SyncSeerClient, SyncSessionConnection
from ._sync_runtime import _RUNNER, SyncIterator, run

__all__ = [
    "SeerClient",
    "SessionConnection",
    "SyncIterator",
    "SyncProxy",
    "SyncSeerClient",
    "SyncSessionConnection",
    "run",
]

#: The blocking client under its usual name: ``from seer_client.sync import SeerClient``.
SeerClient = SyncSeerClient
#: The blocking connection under its usual name.
SessionConnection = SyncSessionConnection


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
        return SyncIterator(cast(AsyncIterator[Any], value))
    if _needs_proxy(value):
        return SyncProxy(value)
    return value


class SyncProxy:
    """Untyped blocking view of any async object: every method call runs on the background loop.

    The typed classes above cover the SDK; this generic proxy is for other async objects.
    """

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
                aenter: Callable[[], Awaitable[Any]] = _attr(target, "__aenter__")
                return await aenter()

            result = _RUNNER.run(enter)
            return self if result is target else _wrap(result)
        return self

    def __exit__(self, *exc: Any) -> None:
        target = self._target
        if hasattr(target, "__aexit__"):

            async def leave() -> Any:
                aexit: Callable[..., Awaitable[Any]] = _attr(target, "__aexit__")
                return await aexit(*exc)

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


def _attr(obj: Any, name: str) -> Any:
    return getattr(obj, name)
