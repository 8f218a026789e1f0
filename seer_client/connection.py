"""SessionConnection: a reliable realtime link to one session (supervisor, heartbeat,
catch-up, dispatch).

The pieces it is built from:

* :mod:`seer_client.realtime_link` (:class:`RealtimeLink`): the only code that touches
  realtime-py; one socket + channel per connection attempt.
* :mod:`seer_client.lobby` (:class:`LobbyState`): seats, status, node and presence, pure.
* :mod:`seer_client.sequencer` (:class:`EventSequencer`): exactly-once, in-order release.

What the ``realtime`` client under supabase-py does not do, this class does itself:

* It owns one ``AsyncRealtimeClient`` per connection attempt with ``auto_reconnect=False``
  and runs its own supervisor: jittered exponential backoff capped at ``backoff_max``, at
  most ``max_reconnect_attempts`` attempts, then ``on_max_reconnect_failed`` and status
  ``disconnected`` (the library would give up silently after about 15 s).
* A rejected join (``Unauthorized``/``InvalidJWTToken``/``PrivateOnly``) stops the library's
  endless rejoin timer, refreshes the token once and retries with a new channel object; a
  second refusal is final (:class:`AuthError`), never a loop.
* A channel the server closed (``system`` error + ``phx_close``) or errored is replaced by a
  new socket and channel (``subscribe()`` works once per channel object).
* Presence is tracked again after every ``SUBSCRIBED`` with a stable key (the user id).
* Library callbacks only hand data to the SDK and never raise; user callbacks run in the
  SDK's dispatcher and their exceptions are logged and reported to ``on_error``.
* Events carry ``seq``; an :class:`EventSequencer` plus ``session_events_since`` catch-up
  after every (re)connect and on any detected gap give exactly-once, in-order delivery.
* ``close()`` untracks, leaves the channel, stops the heartbeat and awaits every task.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .errors import (
    AuthError,
    NotInSession,
    RealtimeError,
    SeerError,
    SessionError,
    SessionNotFound,
    TransportError,
)
from .events import (
    BaseEvent,
    GameStateEvent,
    NodeChangeEvent,
    PlayerConnectionEvent,
    PlayerInactiveEvent,
    PlayerJoinedEvent,
    PlayerLeftEvent,
    SessionEndedEvent,
    SessionStatusEvent,
    UnknownEvent,
    parse_event,
)
from .lobby import LobbyState, PresenceEntry
from .models import Session
from .realtime_link import JoinRefused, RealtimeLink, is_rate_limited
from .sequencer import EventSequencer

if TYPE_CHECKING:
    from .client import SeerClient
    from .view import SessionView

__all__ = ["ConnectionStatus", "PresenceEntry", "SessionConnection"]

logger = logging.getLogger("seer_client.connection")

Callback = Callable[..., Any]


class ConnectionStatus(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"


class _Closed:
    pass


_CLOSED = _Closed()


def _lobby_field(name: str) -> Any:
    """A SessionConnection attribute that lives in its LobbyState (kept for compatibility)."""

    def get(self: SessionConnection) -> Any:
        return getattr(self.lobby, name)

    def set_(self: SessionConnection, value: Any) -> None:
        setattr(self.lobby, name, value)

    return property(get, set_, doc=f"``self.lobby.{name}``")


class SessionConnection:
    """Realtime link to a session. Use ``async with client.connect(session_id) as conn:``.

    Event callbacks receive the typed event (``PlayerJoinedEvent`` etc.) and may be plain
    functions or coroutines. They run one at a time, in ``seq`` order, exactly once each.
    ``on_status_change`` receives a :class:`ConnectionStatus`; ``on_error`` an exception;
    ``on_presence_change`` the list returned by :meth:`presence`.
    """

    def __init__(
        self,
        client: SeerClient,
        session_id: str,
        *,
        character_id: str | None = None,
        heartbeat_interval: float = 30.0,
        max_reconnect_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        join_timeout: float = 10.0,
        since_seq: int | None = None,
        catch_up_page_size: int = 500,
        history_size: int = 10_000,
        realtime_heartbeat_interval: int = 15,
        rate_limit_backoff: float = 30.0,
        on_player_joined: Callback | None = None,
        on_player_left: Callback | None = None,
        on_player_connection: Callback | None = None,
        on_player_inactive: Callback | None = None,
        on_session_status: Callback | None = None,
        on_session_ended: Callback | None = None,
        on_game_state: Callback | None = None,
        on_node_change: Callback | None = None,
        on_event: Callback | None = None,
        on_status_change: Callback | None = None,
        on_presence_change: Callback | None = None,
        on_max_reconnect_failed: Callback | None = None,
        on_error: Callback | None = None,
    ) -> None:
        self.client = client
        self.session_id = session_id
        self.character_id = character_id
        self.heartbeat_interval = heartbeat_interval
        self.max_reconnect_attempts = max_reconnect_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.join_timeout = join_timeout
        self.since_seq = since_seq
        self.catch_up_page_size = catch_up_page_size
        self.realtime_heartbeat_interval = realtime_heartbeat_interval
        self.rate_limit_backoff = rate_limit_backoff

        self.on_player_joined = on_player_joined
        self.on_player_left = on_player_left
        self.on_player_connection = on_player_connection
        self.on_player_inactive = on_player_inactive
        self.on_session_status = on_session_status
        self.on_session_ended = on_session_ended
        self.on_game_state = on_game_state
        self.on_node_change = on_node_change
        self.on_event = on_event
        self.on_status_change = on_status_change
        self.on_presence_change = on_presence_change
        self.on_max_reconnect_failed = on_max_reconnect_failed
        self.on_error = on_error

        self.status = ConnectionStatus.DISCONNECTED
        self.error: BaseException | None = None
        self.user_id: str | None = None
        self.player_id: str | None = None
        self.character_name: str | None = None
        self.role: str = "player"
        self.reconnects = 0  # successful reconnects after the first connect
        self.connects = 0
        self.callback_errors = 0
        self.recovered = 0  # events first received through a catch-up fetch, not live

        self.sequencer = EventSequencer(0)
        self.start_seq = 0  # events after this seq are delivered
        self._delivered_seq = 0
        self.history: deque[BaseEvent] = deque(maxlen=history_size)
        self.lobby = LobbyState(session_id)

        self._link: RealtimeLink | None = None
        self._first_connected: asyncio.Future[None] | None = None
        self._out: asyncio.Queue[BaseEvent | _Closed] = asyncio.Queue()
        self._subscribers: set[asyncio.Queue[BaseEvent | _Closed]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._gap_task: asyncio.Task[None] | None = None
        self._catch_up_lock = asyncio.Lock()
        self._auth_subscription: Any = None
        self._closing = False
        self._closed = False
        self._closer: asyncio.Task[None] | None = None
        self._close_done: asyncio.Future[None] | None = None
        self._ended = False  # iterators were told the stream ended

    seer_id = _lobby_field("seer_id")
    seer_name = _lobby_field("seer_name")
    session_status = _lobby_field("session_status")
    current_node_id = _lobby_field("current_node_id")
    current_node_title = _lobby_field("current_node_title")
    adventure_name = _lobby_field("adventure_name")
    code = _lobby_field("code")
    seats = _lobby_field("seats")

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> SessionConnection:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect; returns once subscribed and caught up (raises if that never happens)."""
        if self._supervisor is not None:
            raise RuntimeError("SessionConnection.open() called twice")
        loop = asyncio.get_running_loop()
        self.client._connections.add(self)
        self._dispatcher = loop.create_task(self._dispatch_loop(), name="seer-dispatch")
        try:
            self.user_id = await self.client.user_id()
            session = await self.client.get_session(self.session_id)
            self._apply_snapshot(session)
            start = session.last_seq if self.since_seq is None else self.since_seq
            self.start_seq = start
            self._delivered_seq = start
            self.sequencer = EventSequencer(start)
            self._auth_subscription = self.client.supabase.auth.on_auth_state_change(self._on_auth_change)
            self._first_connected = loop.create_future()
            self._set_status(ConnectionStatus.CONNECTING)
            self._supervisor = loop.create_task(self._supervise(), name="seer-supervisor")
            self._heartbeat_task = loop.create_task(self._heartbeat_loop(), name="seer-heartbeat")
            await asyncio.shield(self._first_connected)
            # Return only once what the catch-up fetched has reached the callbacks.
            await self._out.join()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Untrack presence, leave the channel, stop the heartbeat, cancel and await all tasks."""
        if self._closed:
            return
        if self._close_done is not None:  # a close is already running: wait for it
            await asyncio.shield(self._close_done)
            return
        self._close_done = asyncio.get_running_loop().create_future()
        try:
            await self._close()
        finally:
            self._close_done.set_result(None)

    async def _close(self) -> None:
        self._closing = True
        for task in (self._heartbeat_task, self._gap_task, self._supervisor):
            if task is not None and task is not asyncio.current_task() and not task.done():
                task.cancel()
        for task in (self._heartbeat_task, self._gap_task, self._supervisor):
            if task is not None and task is not asyncio.current_task():
                with contextlib.suppress(BaseException):
                    await task
        await self._teardown(graceful=True)
        if self._auth_subscription is not None:
            with contextlib.suppress(Exception):
                self._auth_subscription.unsubscribe()
            self._auth_subscription = None
        self._set_status(ConnectionStatus.DISCONNECTED)
        if self._first_connected is not None and not self._first_connected.done():
            self._first_connected.set_exception(RealtimeError("connection closed before it was established"))
            self._first_connected.exception()  # mark retrieved
        self._end_stream()
        if self._dispatcher is not None:
            with contextlib.suppress(BaseException):
                await self._dispatcher
        me = asyncio.current_task()
        for task in list(self._tasks):
            if task is not me:
                task.cancel()
        for task in list(self._tasks):
            if task is not me:
                with contextlib.suppress(BaseException):
                    await task
        self._tasks.clear()
        self.client._connections.discard(self)
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def last_seq(self) -> int:
        """The seq of the last event delivered to callbacks and iterators."""
        return self._delivered_seq

    @property
    def delivered_seqs(self) -> list[int]:
        return [e.seq for e in self.history]

    # ------------------------------------------------------------------ public views
    def presence(self) -> list[PresenceEntry]:
        """Who is here: the Seer and every live seat, each online/reconnecting/inactive/offline."""
        return self.lobby.presence()

    @property
    def topic(self) -> str | None:
        """The realtime topic this connection is joined to (None while not joined)."""
        link = self._link
        return link.topic if link is not None else None

    def view(self) -> SessionView:
        """A renderable snapshot (Jupyter ``_repr_html_``, rich, or ``str``)."""
        from .view import SessionView

        return SessionView.from_connection(self)

    def _repr_html_(self) -> str:
        return self.view()._repr_html_()

    async def events(self, *, replay: bool = True) -> AsyncIterator[BaseEvent]:
        """Iterate over delivered events in seq order; ends when the connection closes.

        With ``replay`` (default) the iterator first yields the events already delivered
        since connect (from :attr:`history`), so nothing is missed between ``connect`` and
        the start of the loop.
        """
        queue: asyncio.Queue[BaseEvent | _Closed] = asyncio.Queue()
        if replay:
            for event in self.history:
                queue.put_nowait(event)
        if self._ended:
            queue.put_nowait(_CLOSED)
        else:
            self._subscribers.add(queue)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, _Closed):
                    return
                yield item
        finally:
            self._subscribers.discard(queue)

    async def wait_for(
        self,
        predicate: Callable[[BaseEvent], bool],
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - also used through the blocking facade
        replay: bool = True,
    ) -> BaseEvent:
        """Wait for the first delivered event matching ``predicate``."""

        async def _scan() -> BaseEvent:
            async for event in self.events(replay=replay):
                if predicate(event):
                    return event
            raise RealtimeError("connection closed while waiting for an event")

        return await asyncio.wait_for(_scan(), timeout)

    async def wait_for_seq(self, seq: int, *, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until every event up to ``seq`` has been delivered."""
        if self.last_seq >= seq:
            return
        await self.wait_for(lambda e: e.seq >= seq, timeout=timeout)

    async def sync(self, *, timeout: float = 10.0) -> int:  # noqa: ASYNC109
        """Fetch anything missed now (as after a reconnect); returns the last delivered seq."""
        await asyncio.wait_for(self._catch_up(), timeout)
        return self.last_seq

    # ------------------------------------------------------------------ supervisor
    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * (2 ** max(0, attempt - 1)))
        return delay * random.uniform(0.5, 1.0)

    async def _supervise(self) -> None:
        attempt = 0
        refreshed_for_auth = False
        last_error: BaseException | None = None
        try:
            while not self._closing:
                try:
                    await self._establish(refresh_token=refreshed_for_auth)
                except JoinRefused as exc:
                    await self._teardown(graceful=False)
                    if exc.is_auth:
                        if not refreshed_for_auth:
                            # First refusal: the token may be stale (after standby or expiry).
                            refreshed_for_auth = True
                            last_error = exc
                            continue
                        self._fail(AuthError(f"realtime join refused: {exc.reason}", status=403))
                        return
                    last_error = RealtimeError(f"realtime join failed: {exc.reason or exc.status}")
                except SessionError as exc:
                    # Not (or no longer) a participant: reconnecting cannot help.
                    await self._teardown(graceful=False)
                    self._fail(exc)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    await self._teardown(graceful=False)
                    logger.info("connect attempt failed: %r", exc)
                    last_error = exc
                else:
                    if self.connects > 0:
                        self.reconnects += 1
                    self.connects += 1
                    attempt = 0
                    refreshed_for_auth = False
                    self._set_status(ConnectionStatus.CONNECTED)
                    if self._first_connected is not None and not self._first_connected.done():
                        self._first_connected.set_result(None)
                    reason = await self._watch()
                    logger.info("connection lost: %s", reason)
                    await self._teardown(graceful=False)
                    if self._closing:
                        return
                    last_error = TransportError(f"realtime connection lost: {reason}")
                    self._set_status(ConnectionStatus.RECONNECTING)
                attempt += 1
                if attempt > self.max_reconnect_attempts:
                    self._give_up(last_error)
                    return
                self._set_status(
                    ConnectionStatus.RECONNECTING if self.connects else ConnectionStatus.CONNECTING
                )
                delay = self._backoff(attempt)
                if is_rate_limited(str(last_error)):
                    # The server closed us for a rate limit (e.g. 5 presence calls per 30 s):
                    # rejoining sooner would only be closed again.
                    delay = max(delay, self.rate_limit_backoff)
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            pass

    async def _establish(self, *, refresh_token: bool) -> None:
        token = await self.client.access_token(refresh=refresh_token)
        # The heartbeat RPC restores a disconnected/inactive seat and rejects strangers
        # (SessionError) before we touch the socket.
        beat = await self.client.heartbeat(self.session_id)
        if beat.player_id:
            self.player_id = beat.player_id
        supabase = self.client.supabase
        link = RealtimeLink(
            url=str(supabase.realtime_url),
            api_key=supabase.supabase_key,
            access_token=token,
            topic=f"session:{self.session_id}",
            presence_key=self.user_id or "",
            on_broadcast=self._on_broadcast,
            on_presence=self._on_presence_sync,
            join_timeout=self.join_timeout,
            heartbeat_interval=self.realtime_heartbeat_interval,
        )
        self._link = link
        await link.open()
        # Presence is not restored by the library after a rejoin: track on every SUBSCRIBED.
        await self._track(link)
        # Catch up on what happened while we were away before live events are delivered
        # (the sequencer holds back live events newer than the hole).
        await self._catch_up()

    async def _track(self, link: RealtimeLink) -> None:
        payload = {
            "user_id": self.user_id,
            "player_id": self.player_id,
            "character_id": self.character_id,
            "character_name": self.character_name,
            "role": self.role,
            "status": "online",
        }
        if not await link.track(payload):
            logger.warning("presence track was not acknowledged")

    def _signal_trouble(self, reason: str) -> None:
        if self._link is not None:
            self._link.signal_trouble(reason)

    async def _watch(self) -> str:
        link = self._link
        if link is None:
            return "not open"
        return await link.watch()

    async def _teardown(self, *, graceful: bool) -> None:
        link = self._link
        self._link = None
        if link is not None:
            await link.close(graceful=graceful)
        self.lobby.clear_presence()

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        self._set_status(ConnectionStatus.DISCONNECTED)
        self._fire(self.on_error, exc)
        if self._first_connected is not None and not self._first_connected.done():
            self._first_connected.set_exception(exc)
        self._end_stream()

    def _terminate(self, exc: SessionError) -> None:
        """We are no longer a participant: report once, then close (from a separate task)."""
        if self._closing or self._closer is not None:
            return
        self.error = exc
        self._fire(self.on_error, exc)
        self._closer = asyncio.get_running_loop().create_task(self.close(), name="seer-close")

    def _give_up(self, last_error: BaseException | None) -> None:
        exc = TransportError(
            f"could not (re)connect after {self.max_reconnect_attempts} attempts: {last_error}"
        )
        exc.__cause__ = last_error
        self.error = exc
        self._set_status(ConnectionStatus.DISCONNECTED)
        self._fire(self.on_max_reconnect_failed)
        if self._first_connected is not None and not self._first_connected.done():
            self._first_connected.set_exception(exc)
        self._end_stream()

    def _set_status(self, status: ConnectionStatus) -> None:
        if status == self.status:
            return
        self.status = status
        self._fire(self.on_status_change, status)

    # ------------------------------------------------------------------ heartbeat, token
    async def _heartbeat_loop(self) -> None:
        try:
            while not self._closing:
                await asyncio.sleep(self.heartbeat_interval)
                if self.status != ConnectionStatus.CONNECTED:
                    continue
                try:
                    await self.client.heartbeat(self.session_id)
                except (NotInSession, SessionNotFound) as exc:
                    # Kicked, or the session is gone for us: reconnecting cannot help.
                    self._terminate(exc)
                    return
                except SessionError as exc:
                    self._fire(self.on_error, exc)
                except SeerError as exc:
                    self._fire(self.on_error, exc)
                    self._signal_trouble(f"heartbeat failed: {exc}")
        except asyncio.CancelledError:
            pass

    def _on_auth_change(self, event: Any, session: Any) -> None:
        link = self._link
        token = getattr(session, "access_token", None)
        if link is None or not token or self._closing:
            return
        self._spawn(link.set_auth(token))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        async def runner() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("background task failed: %r", exc)

        task = asyncio.get_running_loop().create_task(runner())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ inbound
    def _on_broadcast(self, payload: dict[str, Any]) -> None:
        try:
            data = payload.get("payload")
            if not isinstance(data, dict) or "seq" not in data:
                return
            event = self._parse(data)
            if event is None or event.session_id != self.session_id:
                return
            self._feed([event])
            if self.sequencer.has_gap:
                self._schedule_gap_fill()
        except Exception:
            logger.exception("could not handle broadcast")

    def _parse(self, data: dict[str, Any]) -> BaseEvent | None:
        try:
            return parse_event(data)
        except Exception:
            try:
                # Keep the seq even when a known type fails validation: never leave a hole.
                return UnknownEvent.model_validate(data)
            except Exception:
                logger.exception("unparseable event %r", data)
                return None

    def _feed(self, events: list[BaseEvent]) -> None:
        for event in sorted(events, key=lambda e: e.seq):
            for ready in self.sequencer.push(event):
                self._out.put_nowait(ready)

    def _schedule_gap_fill(self) -> None:
        if self._gap_task is not None and not self._gap_task.done():
            return
        if self._closing:
            return
        self._gap_task = asyncio.get_running_loop().create_task(self._gap_fill())

    async def _gap_fill(self) -> None:
        try:
            await asyncio.sleep(0.05)  # a reordered live event may still be in flight
            if self.sequencer.has_gap:
                await self._catch_up()
        except asyncio.CancelledError:
            pass
        except SeerError as exc:
            self._fire(self.on_error, exc)

    async def _catch_up(self) -> None:
        async with self._catch_up_lock:
            while True:
                before = self.sequencer.last_seq
                page = await self.client.session_events_since(
                    self.session_id, after_seq=before, limit=self.catch_up_page_size
                )
                self.recovered += sum(
                    1 for e in page if e.seq > before and not self.sequencer.is_buffered(e.seq)
                )
                self._feed(page)
                if len(page) < self.catch_up_page_size:
                    return

    def _on_presence_sync(self, keys: set[str]) -> None:
        self.lobby.set_presence(keys)
        if self.on_presence_change is not None:
            self._fire(self.on_presence_change, self.presence())

    # ------------------------------------------------------------------ dispatch
    def _apply_snapshot(self, session: Session) -> None:
        self.lobby.apply_snapshot(session)
        if self.user_id == session.seer_id:
            self.role = "seer"
        seat = self.lobby.seat_of(self.user_id)
        if seat is not None:
            self.player_id = seat.id
            self.character_id = self.character_id or seat.character_id
            self.character_name = seat.character_name

    def _callback_for(self, event: BaseEvent) -> Callback | None:
        return {
            PlayerJoinedEvent: self.on_player_joined,
            PlayerLeftEvent: self.on_player_left,
            PlayerConnectionEvent: self.on_player_connection,
            PlayerInactiveEvent: self.on_player_inactive,
            SessionStatusEvent: self.on_session_status,
            SessionEndedEvent: self.on_session_ended,
            GameStateEvent: self.on_game_state,
            NodeChangeEvent: self.on_node_change,
        }.get(type(event))

    async def _dispatch_loop(self) -> None:
        while True:
            item = await self._out.get()
            if isinstance(item, _Closed):
                for queue in list(self._subscribers):
                    queue.put_nowait(_CLOSED)
                self._out.task_done()
                return
            try:
                await self._deliver(item)
            finally:
                self._out.task_done()

    async def _deliver(self, item: BaseEvent) -> None:
        try:
            self.lobby.apply_event(item)
        except Exception:
            logger.exception("could not apply event %s", item.seq)
        await self._invoke(self._callback_for(item), item)
        await self._invoke(self.on_event, item)
        # history, delivered seq and iterator fan-out change together (no await in between),
        # so a new events() iterator sees each event exactly once.
        self.history.append(item)
        self._delivered_seq = item.seq
        for queue in list(self._subscribers):
            queue.put_nowait(item)
        if (
            isinstance(item, PlayerLeftEvent)
            and item.reason == "kicked"
            and (item.player_id == self.player_id or item.user_id == self.user_id)
        ):
            # The kick is our last event: deliver it, then stop (no rejoin is possible).
            self._terminate(NotInSession(details="kicked"))

    async def _invoke(self, callback: Callback | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            result = callback(*args)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.callback_errors += 1
            logger.exception("callback %r raised; delivery continues", callback)
            if callback is not self.on_error:
                await self._invoke(self.on_error, exc)

    def _fire(self, callback: Callback | None, *args: Any) -> None:
        """Call a status-type callback from anywhere without letting it raise."""
        if callback is None:
            return
        try:
            result = callback(*args)
            if inspect.isawaitable(result):
                self._spawn(result)
        except Exception as exc:
            self.callback_errors += 1
            logger.exception("callback %r raised", callback)
            if callback is not self.on_error:
                self._fire(self.on_error, exc)

    def _end_stream(self) -> None:
        if not self._ended:
            self._ended = True
            self._out.put_nowait(_CLOSED)
