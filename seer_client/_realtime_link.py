"""RealtimeLink: the only module that touches realtime-py.

One :class:`RealtimeLink` is one connection attempt: one ``AsyncRealtimeClient`` (socket)
with ``auto_reconnect=False`` and one private channel on it. The SDK's supervisor
(:class:`~seer_client._connection.SessionConnection`) decides about retries; this adapter
only opens, reports trouble, and tears down completely.

realtime-py has no public API for some things a supervised link needs. Every private (or
undocumented) attribute used is listed in :data:`PRIVATE_SOCKET_ATTRS` and
:data:`PRIVATE_CHANNEL_ATTRS`, each with the reason, and
``tests/sdk/test_realtime_link.py`` fails loudly if a realtime-py release renames one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from ._delivery import is_rate_limited

if TYPE_CHECKING:
    from realtime import AsyncRealtimeChannel, AsyncRealtimeClient
    from realtime.types import BroadcastPayload

__all__ = [
    "PRIVATE_CHANNEL_ATTRS",
    "PRIVATE_SOCKET_ATTRS",
    "JoinRefused",
    "RealtimeLink",
    "install_log_redaction",
    "is_rate_limited",
    "redact",
]

logger: logging.Logger = logging.getLogger("seer_client.realtime_link")

# Join refusals that a token refresh may cure (Realtime's join errors: Unauthorized,
# InvalidJWTToken, PrivateOnly).
_AUTH_REASONS = ("Unauthorized", "InvalidJWTToken", "PrivateOnly")

#: realtime-py socket (AsyncRealtimeClient) internals this module relies on, and why.
PRIVATE_SOCKET_ATTRS: dict[str, str] = {
    "_listen_task": "the receive loop; when it ends the socket is dead even if is_connected lags",
    "_heartbeat_task": "cancelled and awaited on teardown so no task outlives the link",
    "_remove_channel": "drops a channel from the socket without sending another phx_leave",
    "send_buffer": "frames queued while disconnected; cleared so a dead link sends nothing later",
}
#: realtime-py channel (AsyncRealtimeChannel) internals this module relies on, and why.
PRIVATE_CHANNEL_ATTRS: dict[str, str] = {
    "rejoin_timer": "the library's endless rejoin loop (1, 2, 5, 10 s...): reset, the SDK decides",
    "join_push": "destroyed on teardown so its timeout cannot fire a rejoin later",
    "messages_waiting_for_ack": "pending pushes destroyed on teardown (their timers hold the loop)",
    "_push_buffer": "pushes buffered before the join completed; destroyed on teardown",
    "_background_tasks": "callback tasks the channel spawned; cancelled and awaited on teardown",
}


class JoinRefused(Exception):
    """The server answered the channel join with an error (or the join timed out)."""

    def __init__(self, reason: str, status: str) -> None:
        reason = redact(reason)  # Realtime's refusal names the topic, key included
        super().__init__(reason)
        self.reason = reason
        self.status = status

    @property
    def is_auth(self) -> bool:
        """True for refusals a fresh token may cure."""
        return self.reason.startswith(_AUTH_REASONS) or "Unauthorized" in self.reason


#: the secret part of a session topic: ``session:<uuid>:<32 hex key>``
_TOPIC_KEY = re.compile(r"(session:[0-9a-fA-F-]{36}:)[0-9a-fA-F]{8,}")
#: realtime-py's loggers that print topics (``channel realtime:session:<id>:<key> leave``)
_REALTIME_LOGGERS = (
    "realtime",
    "realtime._async.client",
    "realtime._async.channel",
    "realtime._async.push",
    "realtime._async.presence",
    "realtime._async.timer",
)
#: the SDK's own loggers (they never format a topic, but a server's error text may hold one)
_SDK_LOGGERS = ("seer_client.connection", "seer_client.realtime_link")


def redact(text: str) -> str:
    """``text`` with every session channel key replaced: ``session:<id>:…``."""
    return _TOPIC_KEY.sub(r"\1…", text)


class _RedactTopicKeys(logging.Filter):
    """Rewrites a record whose message holds a session channel key (any level)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_REDACTION = _RedactTopicKeys()


def install_log_redaction() -> None:
    """Attach the key-redacting filter to realtime-py's loggers and the SDK's (idempotent).

    A logger's filters see only the records logged on that very logger (not its children's),
    so each module logger realtime-py uses is named here."""
    for name in (*_REALTIME_LOGGERS, *_SDK_LOGGERS):
        target = logging.getLogger(name)
        if _REDACTION not in target.filters:
            target.addFilter(_REDACTION)


def _reason_of(error: Exception | None) -> str:
    if error is None:
        return ""
    text = str(error)
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict):
        fields = cast(dict[str, Any], data)
        return str(fields.get("reason") or fields.get("message") or text)
    return text


class RealtimeLink:
    """One socket + one private channel on ``topic``, presence keyed by ``presence_key``.

    ``on_broadcast`` receives each broadcast payload (``{"event", "payload", ...}``);
    ``on_presence`` receives the set of presence keys after every presence sync. Both are
    called from realtime-py's listen task and must not raise (errors are logged here).
    """

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        access_token: str | None,
        topic: str,
        presence_key: str,
        on_broadcast: Callable[[dict[str, Any]], None],
        on_presence: Callable[[set[str]], None],
        join_timeout: float,
        heartbeat_interval: int,
    ) -> None:
        self.url = url
        self.api_key = api_key
        self.access_token = access_token
        self.topic = topic
        self.presence_key = presence_key
        self._on_broadcast = on_broadcast
        self._on_presence = on_presence
        self.join_timeout = join_timeout
        self.heartbeat_interval = heartbeat_interval
        self._socket: AsyncRealtimeClient | None = None
        self._channel: AsyncRealtimeChannel | None = None
        self._join_outcome: asyncio.Future[None] | None = None
        self._trouble: asyncio.Future[str] | None = None

    # ------------------------------------------------------------------ open
    async def open(self) -> None:
        """Connect the socket and join the channel; raises :class:`JoinRefused` on refusal."""
        from realtime import AsyncRealtimeClient

        socket = AsyncRealtimeClient(
            self.url,
            token=self.api_key,
            auto_reconnect=False,
            max_retries=1,
            hb_interval=self.heartbeat_interval,
            timeout=int(self.join_timeout),
        )
        if self.access_token:
            socket.access_token = self.access_token
        self._socket = socket
        await asyncio.wait_for(socket.connect(), self.join_timeout)
        channel = socket.channel(
            self.topic,
            {
                "config": {
                    "broadcast": {"ack": False, "self": False},
                    "presence": {"key": self.presence_key, "enabled": True},
                    "private": True,
                }
            },
        )
        channel.on_broadcast("*", self._broadcast_callback)
        channel.on_presence_sync(self._presence_callback)
        self._channel = channel
        loop = asyncio.get_running_loop()
        self._join_outcome = loop.create_future()
        self._trouble = loop.create_future()
        await asyncio.wait_for(channel.subscribe(self._subscribe_callback(channel)), self.join_timeout + 1)
        await asyncio.wait_for(asyncio.shield(self._join_outcome), self.join_timeout + 1)

    def _broadcast_callback(self, payload: BroadcastPayload) -> None:
        try:
            self._on_broadcast(dict(payload))
        except Exception:  # never let anything escape into the library's listen task
            logger.exception("could not handle broadcast")

    def _presence_callback(self) -> None:
        try:
            channel = self._channel
            if channel is None:
                return
            self._on_presence({key for key, metas in channel.presence.state.items() if metas})
        except Exception:
            logger.exception("presence sync failed")

    def _subscribe_callback(self, channel: AsyncRealtimeChannel) -> Callable[[Any, Exception | None], None]:
        def callback(state: Any, error: Exception | None) -> None:
            try:
                if channel is not self._channel:
                    return
                name = getattr(state, "value", str(state))
                if name == "SUBSCRIBED":
                    if self._join_outcome is not None and not self._join_outcome.done():
                        self._join_outcome.set_result(None)
                    return
                # Stop the library's own rejoin loop (1, 2, 5, 10 s... forever); we decide.
                channel.rejoin_timer.reset()
                reason = _reason_of(error) or name
                if self._join_outcome is not None and not self._join_outcome.done():
                    self._join_outcome.set_exception(JoinRefused(reason, name))
                    self._join_outcome.exception()
                else:
                    self.signal_trouble(f"{name}: {reason}")
            except Exception:  # never let anything escape into the library's listen task
                logger.exception("subscribe callback failed")

        return callback

    @property
    def channel(self) -> AsyncRealtimeChannel | None:
        """The realtime-py channel object (None before open / after close)."""
        return self._channel

    # ------------------------------------------------------------------ presence, auth
    async def track(self, payload: dict[str, Any]) -> bool:
        """Track presence and wait for the server's reply; True when acknowledged."""
        from realtime.types import RealtimeAcknowledgementStatus

        channel = self._channel
        if channel is None:
            return False
        # channel.track() is fire-and-forget; push ourselves so we can wait for the reply.
        acked: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def settle(ok: bool) -> Callable[..., None]:
            def done(*_: Any) -> None:
                if not acked.done():
                    acked.set_result(ok)

            return done

        push = await channel.push("presence", {"event": "track", "payload": payload})
        push.receive(RealtimeAcknowledgementStatus.Ok, settle(True))
        push.receive(RealtimeAcknowledgementStatus.Error, settle(False))
        push.receive(RealtimeAcknowledgementStatus.Timeout, settle(False))
        waiters: list[asyncio.Future[Any]] = [acked]
        if self._trouble is not None:
            waiters.append(self._trouble)  # the channel closed meanwhile: no reply will come
        await asyncio.wait(waiters, timeout=self.join_timeout, return_when=asyncio.FIRST_COMPLETED)
        if not acked.done():
            acked.cancel()
            return False
        return acked.result()

    async def set_auth(self, token: str) -> None:
        """Push a refreshed access token to the open channel (Realtime re-checks policies)."""
        if self._socket is not None:
            await self._socket.set_auth(token)

    # ------------------------------------------------------------------ watch, close
    def signal_trouble(self, reason: str) -> None:
        """Make :meth:`watch` return ``reason`` (the link is to be replaced)."""
        if self._trouble is not None and not self._trouble.done():
            self._trouble.set_result(reason)

    async def watch(self) -> str:
        """Wait until the link breaks; returns why."""
        socket, channel, trouble = self._socket, self._channel, self._trouble
        if socket is None or channel is None or trouble is None:
            return "not open"
        while True:
            waiters: list[asyncio.Future[Any]] = [trouble]
            listen: asyncio.Task[Any] | None = _private(socket, "_listen_task")
            if listen is not None:
                waiters.append(listen)
            await asyncio.wait(waiters, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            if trouble.done():
                return trouble.result()
            if listen is not None and listen.done():
                return "listen task ended"
            if not socket.is_connected:
                return "socket closed"
            if not channel.is_joined:
                return f"channel {channel.state}"

    async def close(self, *, graceful: bool) -> None:
        """Tear everything down (untrack and leave first when ``graceful``); idempotent."""
        channel, socket = self._channel, self._socket
        self._channel = None
        self._socket = None
        if self._trouble is not None and not self._trouble.done():
            self._trouble.cancel()
        if channel is not None:
            await self._close_channel(channel, socket, graceful=graceful)
        if socket is not None:
            running: tuple[asyncio.Task[Any] | None, ...] = (
                _private(socket, "_listen_task"),
                _private(socket, "_heartbeat_task"),
            )
            tasks = [t for t in running if t is not None]
            with contextlib.suppress(Exception):
                await socket.close()
            for task in tasks:
                if task is not asyncio.current_task():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
            buffer: list[Any] = _private(socket, "send_buffer")
            buffer.clear()

    @staticmethod
    async def _close_channel(
        channel: AsyncRealtimeChannel, socket: AsyncRealtimeClient | None, *, graceful: bool
    ) -> None:
        channel.rejoin_timer.reset()
        if graceful and socket is not None and socket.is_connected and channel.is_joined:
            with contextlib.suppress(Exception):
                await channel.untrack()
            with contextlib.suppress(Exception):
                await channel.unsubscribe()
                for _ in range(20):  # wait (briefly) for the leave reply
                    if channel.is_closed:
                        break
                    await asyncio.sleep(0.05)
        channel.rejoin_timer.reset()
        channel.join_push.destroy()
        for push in list(channel.messages_waiting_for_ack.values()):
            push.destroy()
        channel.messages_waiting_for_ack.clear()
        for push in channel._push_buffer:
            push.destroy()
        channel._push_buffer.clear()
        pending = list(channel._background_tasks)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(BaseException):
                await task
        if socket is not None:
            socket._remove_channel(channel)


def _private(obj: Any, name: str) -> Any:
    """One of realtime-py's undocumented attributes (listed in PRIVATE_SOCKET_ATTRS); untyped there."""
    return getattr(obj, name)
