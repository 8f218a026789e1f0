"""SessionConnection: a reliable realtime link to one session (supervisor, heartbeat,
catch-up, dispatch).

The pieces it is built from:

* :mod:`seer_client._realtime_link` (:class:`RealtimeLink`): the only code that touches
  realtime-py; one socket + channel per connection attempt.
* :mod:`seer_client._lobby` (:class:`LobbyState`): seats, status, node and presence, pure.
* :mod:`seer_client._sequencer` (:class:`EventSequencer`): exactly-once, in-order release.

The stream (docs/security.md, design (a)):

* The database broadcasts each whole event on the session's private keyed topic
  ``session:<id>:<key>`` (:attr:`SessionConnection.topic`, read through the
  ``session_topic`` RPC; only participants may join it and only the database may broadcast
  there). A live event is delivered only when it is the next one (``seq`` = last delivered
  + 1, this session, a valid event); anything ahead starts a catch-up through
  ``session_events_since`` and the log wins: a buffered live event that disagrees with the
  log is discarded with a WARNING and counted (:attr:`discarded_broadcasts`).
* Every removal (kick, lobby leave, freed seat) rotates the key and sends one content-free
  ``{sessionId, seq, type: 'rekey'}`` poke on the old topic: the connection re-reads the
  topic, joins the new one (presence tracked again) and catches up by seq. A removed
  player's re-read is refused (SESSION_006): the connection stops with that error.
* Lost broadcasts (Realtime drops database broadcasts above rate limits and while its
  replication connection restarts) are noticed by a later event's seq, by every heartbeat
  (it returns the session's ``lastSeq``) and after every (re)connect.

What the ``realtime`` client under supabase-py does not do, this class does itself:

* One ``AsyncRealtimeClient`` per connection attempt with ``auto_reconnect=False`` and its
  own supervisor: the PRD's backoff ``min(1000 * 2^n, 30000)`` ms for attempt n (2, 4, 8,
  16, 30 s, up to 10 % jitter below), at most ``max_reconnect_attempts`` (5) attempts, then
  ``on_max_reconnect_failed``, status ``disconnected`` and :attr:`error` raised from
  :meth:`events`, :meth:`wait_for` and :meth:`wait_for_seq`.
* A rejected join (``Unauthorized``/``InvalidJWTToken``/``PrivateOnly``) stops the library's
  endless rejoin timer, refreshes the token once and retries with a new channel object; a
  second refusal is final (:class:`AuthError`), never a loop.
* A channel the server closed (``system`` error + ``phx_close``) or errored is replaced by a
  new socket and channel (``subscribe()`` works once per channel object).
* Presence is tracked again after every ``SUBSCRIBED`` with a stable key (the user id).
* Library callbacks only hand data to the SDK and never raise; user callbacks run in the
  SDK's dispatcher and their exceptions are logged and reported to ``on_error``.
* ``close()`` untracks, leaves the channel, stops the heartbeat and awaits every task.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import inspect
import logging
import random
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

from ._lobby import LobbyState, PresenceEntry
from ._realtime_link import JoinRefused, RealtimeLink, is_rate_limited
from ._sequencer import EventSequencer
from ._state import SessionState
from .errors import (
    AuthError,
    NotInSession,
    RealtimeError,
    SeerError,
    SessionError,
    SessionNotFound,
    TransportError,
)
from .errors import TimeoutError as SeerTimeoutError
from .events import (
    BaseEvent,
    DiceRolledEvent,
    GameStateEvent,
    NodeChangeEvent,
    PlayerConnectionEvent,
    PlayerInactiveEvent,
    PlayerJoinedEvent,
    PlayerLeftEvent,
    ReadmitRequestedEvent,
    SeerConnectionEvent,
    SessionEndedEvent,
    SessionEvent,
    SessionSettingsEvent,
    SessionStatusEvent,
    UnknownEvent,
    parse_event,
)
from .models import GameState, HeartbeatResult, Session, SessionPlayer

if TYPE_CHECKING:
    from ._client import SeerClient
    from ._view import SessionView

__all__ = ["ConnectionStatus", "PresenceEntry", "SessionConnection"]

logger: logging.Logger = logging.getLogger("seer_client.connection")

#: any callable; coroutine functions are awaited (their return value is ignored)
Callback = Callable[..., object]
T = TypeVar("T")


async def _within(awaitable: Awaitable[T], timeout: float, what: str) -> T:  # noqa: ASYNC109
    """``asyncio.wait_for`` that times out with the SDK's :class:`~seer_client.TimeoutError`
    (a ``TransportError`` and a builtin ``TimeoutError``), as RPC timeouts do."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except builtins.TimeoutError as exc:
        raise SeerTimeoutError(f"timed out after {timeout:g} s {what}") from exc


#: at most this many live events ahead of the log are remembered (a flood cannot grow memory)
_MAX_HINTS = 1024
#: after a fetch found nothing new, the next broadcast-triggered fetch waits this long (a
#: flood of forged broadcasts costs at most a few reads per second)
_IDLE_FETCH_PAUSE = 0.25
#: what the supervisor's watch returns when the database rotated the channel key
_REKEY = "rekey: the session's channel key was rotated"


class ConnectionStatus(StrEnum):
    """The link's state, as reported to ``on_status_change``."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"


class _Closed:
    pass


_CLOSED = _Closed()


class _LobbyField(Generic[T]):
    """A SessionConnection attribute that lives in its LobbyState (kept for compatibility)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.__doc__ = f"``self.lobby.{name}``"

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _LobbyField[T]: ...
    @overload
    def __get__(self, obj: SessionConnection, owner: type[Any]) -> T: ...
    def __get__(self, obj: SessionConnection | None, owner: type[Any]) -> _LobbyField[T] | T:
        if obj is None:
            return self
        value: T = getattr(obj.lobby, self.name)
        return value

    def __set__(self, obj: SessionConnection, value: T) -> None:
        setattr(obj.lobby, self.name, value)


def _poke_of(data: object, session_id: str) -> tuple[int, str] | None:
    """``(seq, type)`` of a well-formed broadcast (event or rekey poke) for ``session_id``."""
    if not isinstance(data, dict):
        return None
    fields = cast(dict[str, Any], data)
    seq, kind = fields.get("seq"), fields.get("type")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or seq > 2**53:
        return None
    if not isinstance(kind, str) or not 0 < len(kind) <= 64:
        return None
    if fields.get("sessionId") != session_id:
        return None
    return seq, kind


def _event_of(data: dict[str, Any]) -> BaseEvent | None:
    """The typed event of a broadcast (unknown types kept), or None when it is no event."""
    data = {k: v for k, v in data.items() if k != "id"}  # realtime.send's message id
    try:
        return parse_event(data)
    except Exception:
        try:
            return UnknownEvent.model_validate(data)
        except Exception:
            return None


class SessionConnection:
    """Realtime link to a session. Use ``async with client.connect(session_id) as conn:``.

    Event callbacks receive the typed event (``on_player_joined`` a
    :class:`PlayerJoinedEvent`, and so on) and may be plain functions or coroutines. They run
    one at a time, in ``seq`` order, exactly once each. ``on_game_state_change`` receives the
    resulting :class:`GameState` (with its ``version``) after each ``game_state`` event;
    ``on_status_change`` a :class:`ConnectionStatus`; ``on_error`` an exception;
    ``on_presence_change`` the list returned by :meth:`presence`; ``on_max_reconnect_failed``
    no argument.
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
        backoff_jitter: float = 0.1,
        join_timeout: float = 10.0,
        since_seq: int | None = None,
        catch_up_page_size: int = 500,
        history_size: int = 10_000,
        realtime_heartbeat_interval: int = 15,
        rate_limit_backoff: float = 30.0,
        on_player_joined: Callable[[PlayerJoinedEvent], object] | None = None,
        on_player_left: Callable[[PlayerLeftEvent], object] | None = None,
        on_player_connection: Callable[[PlayerConnectionEvent], object] | None = None,
        on_player_inactive: Callable[[PlayerInactiveEvent], object] | None = None,
        on_session_status: Callable[[SessionStatusEvent], object] | None = None,
        on_session_ended: Callable[[SessionEndedEvent], object] | None = None,
        on_game_state: Callable[[GameStateEvent], object] | None = None,
        on_game_state_change: Callable[[GameState], object] | None = None,
        on_node_change: Callable[[NodeChangeEvent], object] | None = None,
        on_seer_connection: Callable[[SeerConnectionEvent], object] | None = None,
        on_readmit_requested: Callable[[ReadmitRequestedEvent], object] | None = None,
        on_session_settings: Callable[[SessionSettingsEvent], object] | None = None,
        on_event: Callable[[BaseEvent], object] | None = None,
        on_status_change: Callable[[ConnectionStatus], object] | None = None,
        on_presence_change: Callable[[list[PresenceEntry]], object] | None = None,
        on_max_reconnect_failed: Callable[[], object] | None = None,
        on_error: Callable[[BaseException], object] | None = None,
    ) -> None:
        self.client = client
        self.session_id = session_id
        self.character_id = character_id
        self.heartbeat_interval = heartbeat_interval
        self.max_reconnect_attempts = max_reconnect_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.backoff_jitter = backoff_jitter
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
        self.on_game_state_change = on_game_state_change
        self.on_node_change = on_node_change
        self.on_seer_connection = on_seer_connection
        self.on_readmit_requested = on_readmit_requested
        self.on_session_settings = on_session_settings
        self.on_event = on_event
        self.on_status_change = on_status_change
        self.on_presence_change = on_presence_change
        self.on_max_reconnect_failed = on_max_reconnect_failed
        self.on_error = on_error

        self.status: ConnectionStatus = ConnectionStatus.DISCONNECTED
        self.error: BaseException | None = None
        self.user_id: str | None = None
        self.player_id: str | None = None
        self.character_name: str | None = None
        self.role: str = "player"
        self.reconnects: int = 0  # successful reconnects after the first connect
        self.connects: int = 0
        self.callback_errors: int = 0
        #: events no broadcast announced, found by a heartbeat, a gap or a reconnect catch-up
        self.recovered: int = 0
        #: live events that disagreed with the log or pointed past it: discarded (log wins)
        self.discarded_broadcasts: int = 0
        #: broadcasts on the topic that are no well-formed event for this session: ignored
        self.ignored_broadcasts: int = 0
        #: live events that showed a hole (seq beyond the next expected one)
        self.gaps_detected: int = 0
        #: live events delivered straight from the broadcast (the next seq, valid)
        self.live_delivered: int = 0
        #: channel key rotations followed (rekey pokes: rejoined on the new topic)
        self.rekeys: int = 0
        #: the last heartbeat's view of the session (lastSeq, status)
        self.last_heartbeat: HeartbeatResult | None = None

        self.sequencer: EventSequencer = EventSequencer(0)
        self.start_seq: int = 0  # events after this seq are delivered
        self._delivered_seq = 0
        self.history: deque[BaseEvent] = deque(maxlen=history_size)
        self.lobby: LobbyState = LobbyState(session_id)
        #: the live session state folded from the events (issue 22): seats, game state and
        #: version, current node, dice, combat, pending actions, turn history
        self.state: SessionState = SessionState(session_id, self.lobby)
        #: get_game_state reads made because the fold could not reach a version exactly
        self.state_reads: int = 0
        #: list_dice_rolls reads the Seer's connection made to show a hidden roll's value
        self.hidden_roll_reads: int = 0

        self._link: RealtimeLink | None = None
        # live events ahead of the log (seq -> event), checked against it when read
        self._hints: OrderedDict[int, BaseEvent | None] = OrderedDict()
        self._topic: str | None = None
        self._wanted_seq = 0  # highest seq a poke or heartbeat says exists
        self._game_state_version = -1
        self._first_connected: asyncio.Future[None] | None = None
        self._out: asyncio.Queue[BaseEvent | _Closed] = asyncio.Queue()
        self._subscribers: set[asyncio.Queue[BaseEvent | _Closed]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._fetch_task: asyncio.Task[None] | None = None
        self._catch_up_lock = asyncio.Lock()
        self._auth_subscription: Any = None
        self._closing = False
        self._closed = False
        self._closer: asyncio.Task[None] | None = None
        self._close_done: asyncio.Future[None] | None = None
        self._ended = False  # iterators were told the stream ended

    seer_id: _LobbyField[str | None] = _LobbyField("seer_id")
    seer_name: _LobbyField[str | None] = _LobbyField("seer_name")
    session_status: _LobbyField[str | None] = _LobbyField("session_status")
    current_node_id: _LobbyField[str | None] = _LobbyField("current_node_id")
    current_node_title: _LobbyField[str | None] = _LobbyField("current_node_title")
    adventure_name: _LobbyField[str | None] = _LobbyField("adventure_name")
    code: _LobbyField[str | None] = _LobbyField("code")
    seats: _LobbyField[dict[str, SessionPlayer]] = _LobbyField("seats")

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
            self._game_state_version = session.game_state.version if session.game_state else -1
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
        own = (self._heartbeat_task, self._fetch_task, self._supervisor)
        for task in own:
            if task is not None and task is not asyncio.current_task() and not task.done():
                task.cancel()
        for task in own:
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
        """True once :meth:`close` has finished."""
        return self._closed

    @property
    def last_seq(self) -> int:
        """The seq of the last event delivered to callbacks and iterators."""
        return self._delivered_seq

    @property
    def delivered_seqs(self) -> list[int]:
        """The seqs in :attr:`history` (the delivered events still remembered), in order."""
        return [e.seq for e in self.history]

    @property
    def topic(self) -> str | None:
        """The keyed realtime topic ``session:<id>:<key>`` this connection uses.

        The one joined (or last joined; None before the first join). It changes whenever a
        removal rotates the key."""
        return self._topic

    @property
    def discarded_pokes(self) -> int:
        """Former name of :attr:`discarded_broadcasts`."""
        return self.discarded_broadcasts

    # ------------------------------------------------------------------ public views
    def presence(self) -> list[PresenceEntry]:
        """Who is here: the Seer and every live seat, each online/reconnecting/inactive/offline.

        Only presence keys that are a participant's user id and agree with the server's seat
        state count (see :class:`~seer_client._lobby.LobbyState`).
        """
        return self.lobby.presence()

    def view(self) -> SessionView:
        """A renderable snapshot (Jupyter ``_repr_html_``, rich, or ``str``)."""
        from ._view import SessionView

        return SessionView.from_connection(self)

    def _repr_html_(self) -> str:
        return self.view()._repr_html_()

    async def events(self, *, replay: bool = True) -> AsyncIterator[SessionEvent]:
        """Iterate over delivered events in seq order.

        With ``replay`` (default) the iterator first yields the events already delivered
        since connect (from :attr:`history`), so nothing is missed between ``connect`` and
        the start of the loop. The iterator ends when the connection is closed; when the
        connection died (reconnects ran out, join refused, removed from the session) it
        raises the connection's :attr:`error` instead.
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
                    if self.error is not None:
                        raise self.error
                    return
                yield cast("SessionEvent", item)
        finally:
            self._subscribers.discard(queue)

    async def wait_for(
        self,
        predicate: Callable[[SessionEvent], bool],
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - also used through the blocking facade
        replay: bool = True,
    ) -> SessionEvent:
        """Wait for the first delivered event matching ``predicate``.

        Raises :class:`TimeoutError` after ``timeout`` seconds, the connection's
        :attr:`error` if it died, or :class:`RealtimeError` if it was closed meanwhile.
        """

        async def _scan() -> SessionEvent:
            async for event in self.events(replay=replay):
                if predicate(event):
                    return event
            raise RealtimeError("connection closed while waiting for an event")

        return await _within(_scan(), timeout, "waiting for a session event")

    async def wait_for_seq(self, seq: int, *, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until every event up to ``seq`` has been delivered (raises like :meth:`wait_for`)."""
        if self.last_seq >= seq:
            return
        await self.wait_for(lambda e: e.seq >= seq, timeout=timeout)

    async def sync(self, *, timeout: float = 10.0) -> int:  # noqa: ASYNC109
        """Fetch anything missed now (as after a reconnect); returns the last delivered seq."""
        await _within(self._catch_up(), timeout, "catching up with the session log")
        return self.last_seq

    # ------------------------------------------------------------------ supervisor
    def backoff_delay(self, attempt: int) -> float:
        """Seconds to wait before reconnect attempt ``attempt`` (1-based), jitter included.

        The PRD's schedule: ``min(1000 * 2^n, 30000)`` ms for n = attempt (2, 4, 8, 16, 30 s
        with the defaults), made up to ``backoff_jitter`` (10 %) shorter at random so clients
        cut off together do not come back together.
        """
        delay: float = min(self.backoff_max, self.backoff_base * 2.0 ** max(1, attempt))
        return delay * (1.0 - random.uniform(0.0, self.backoff_jitter))

    async def _sleep(self, delay: float) -> None:
        await asyncio.sleep(delay)

    async def _supervise(self) -> None:
        attempt = 0
        refreshed_for_auth = False
        rekeyed = False
        last_error: BaseException | None = None
        lost_at: float | None = None
        try:
            while not self._closing:
                try:
                    if attempt:
                        logger.info(
                            "session %s: reconnect attempt %d/%d",
                            self.session_id,
                            attempt,
                            self.max_reconnect_attempts,
                        )
                    fetched = await self._establish(refresh_token=refreshed_for_auth, rekey=rekeyed)
                except JoinRefused as exc:
                    await self._teardown(graceful=False)
                    if exc.is_auth:
                        if not refreshed_for_auth:
                            # First refusal: the token may be stale (after standby or expiry).
                            logger.info(
                                "session %s: join refused (%s); refreshing the token", self.session_id, exc
                            )
                            refreshed_for_auth = True
                            last_error = exc
                            continue
                        self._fail(AuthError(f"realtime join refused: {exc.reason}", status=403))
                        return
                    last_error = RealtimeError(f"realtime join failed: {exc.reason or exc.status}")
                except SessionError as exc:
                    # Not (or no longer) a participant: reconnecting cannot help.
                    await self._teardown(graceful=False)
                    if self.connects:
                        self._terminate(exc)  # removed while connected (e.g. after a rekey)
                    else:
                        self._fail(exc)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    await self._teardown(graceful=False)
                    logger.info("session %s: connect attempt failed: %r", self.session_id, exc)
                    last_error = exc
                else:
                    if rekeyed:
                        logger.info(
                            "session %s: moved to the rotated topic, caught up %d events",
                            self.session_id,
                            fetched,
                        )
                    elif self.connects > 0:
                        self.reconnects += 1
                        away = time.monotonic() - lost_at if lost_at is not None else 0.0
                        logger.info(
                            "session %s: reconnected after %.1f s, caught up %d events",
                            self.session_id,
                            away,
                            fetched,
                        )
                    self.connects += 1
                    attempt = 0
                    refreshed_for_auth = False
                    rekeyed = False
                    self._set_status(ConnectionStatus.CONNECTED)
                    if self._first_connected is not None and not self._first_connected.done():
                        self._first_connected.set_result(None)
                    reason = await self._watch()
                    if reason == _REKEY and not self._closing:
                        # Not a failure: join the new topic at once (no backoff, not a reconnect).
                        await self._teardown(graceful=False)
                        self.rekeys += 1
                        rekeyed = True
                        logger.info("session %s: channel key rotated; joining the new topic", self.session_id)
                        continue
                    logger.info("session %s: connection lost: %s", self.session_id, reason)
                    lost_at = time.monotonic()
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
                delay = self.backoff_delay(attempt)
                if is_rate_limited(str(last_error)):
                    # The server closed us for a rate limit (e.g. 5 presence calls per 30 s):
                    # rejoining sooner would only be closed again.
                    delay = max(delay, self.rate_limit_backoff)
                logger.info(
                    "session %s: retrying in %.1f s (attempt %d/%d; %s)",
                    self.session_id,
                    delay,
                    attempt,
                    self.max_reconnect_attempts,
                    last_error,
                )
                await self._sleep(delay)
        except asyncio.CancelledError:
            pass

    async def _establish(self, *, refresh_token: bool, rekey: bool = False) -> int:
        """One connection attempt; returns how many events the catch-up fetched."""
        token = await self.client.access_token(refresh=refresh_token)
        if not rekey:
            # The heartbeat RPC restores a disconnected/inactive seat and rejects strangers
            # (SessionError) before we touch the socket. (After a rekey the seat is live:
            # session_topic alone tells a removed player apart, SESSION_006.)
            beat = await self.client.heartbeat(self.session_id)
            self._note_heartbeat(beat, fetch=False)  # the catch-up below reads the log anyway
        # The current keyed topic (participants only; the key rotates on every removal).
        topic = await self.client.session_topic(self.session_id)
        self._topic = topic
        supabase = self.client.supabase
        link = RealtimeLink(
            url=str(supabase.realtime_url),
            api_key=supabase.supabase_key,
            access_token=token,
            topic=topic,
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
        # Catch up on what happened while we were away (live events that arrive meanwhile
        # are taken only when they are the next seq; the log is read in order either way).
        return await self._catch_up()

    async def _track(self, link: RealtimeLink) -> None:
        # user_id and online_at are the PRD's presence payload; the rest helps other clients
        # label the entry (presence proves nothing: see docs/sdk.md).
        payload = {
            "user_id": self.user_id,
            "online_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "player_id": self.player_id,
            "character_id": self.character_id,
            "character_name": self.character_name,
            "role": self.role,
            "status": "online",
        }
        if not await link.track(payload):
            logger.warning("session %s: presence track was not acknowledged", self.session_id)

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
        logger.warning("session %s: connection failed for good: %s", self.session_id, exc)
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
        logger.warning("session %s: no longer a participant (%s); closing", self.session_id, exc)
        self.error = exc
        self._fire(self.on_error, exc)
        self._closer = asyncio.get_running_loop().create_task(self.close(), name="seer-close")

    def _give_up(self, last_error: BaseException | None) -> None:
        exc = TransportError(
            f"could not (re)connect after {self.max_reconnect_attempts} attempts: {last_error}"
        )
        exc.__cause__ = last_error
        logger.warning(
            "session %s: giving up after %d reconnect attempts: %s",
            self.session_id,
            self.max_reconnect_attempts,
            last_error,
        )
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
                    beat = await self.client.heartbeat(self.session_id)
                except (NotInSession, SessionNotFound) as exc:
                    # Kicked, or the session is gone for us: reconnecting cannot help.
                    self._terminate(exc)
                    return
                except SessionError as exc:
                    self._fire(self.on_error, exc)
                except SeerError as exc:
                    self._fire(self.on_error, exc)
                    self._signal_trouble(f"heartbeat failed: {exc}")
                else:
                    self._note_heartbeat(beat)
        except asyncio.CancelledError:
            pass

    def _note_heartbeat(self, beat: HeartbeatResult, *, fetch: bool = True) -> None:
        self.last_heartbeat = beat
        if beat.player_id:
            self.player_id = beat.player_id
        if fetch and beat.last_seq is not None and beat.last_seq > self.sequencer.last_seq:
            # The log is ahead of us: a broadcast was lost (the tail loss no later poke shows).
            self._want(beat.last_seq)

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
        """A broadcast on the session topic: the next event, a hint that the log has grown,
        or the rekey poke (move to the new topic)."""
        data = payload.get("payload")
        poke = _poke_of(data, self.session_id)
        if poke is None:
            self.ignored_broadcasts += 1
            logger.debug("session %s: ignored a broadcast that is no event: %r", self.session_id, payload)
            return
        seq, kind = poke
        fields = cast(dict[str, Any], data)  # _poke_of checked it is a dict
        if kind == "rekey" and set(fields) <= {"sessionId", "seq", "type", "id"}:
            # The key was rotated (someone was removed): re-read the topic, rejoin and catch
            # up (its seq is the last event sent on this topic; the catch-up covers it).
            self._signal_trouble(_REKEY)
            return
        if seq <= self.sequencer.last_seq:
            return  # already delivered
        event = _event_of(fields)
        if event is not None and seq == self.sequencer.last_seq + 1:
            self._hints.pop(seq, None)
            self._wanted_seq = max(self._wanted_seq, seq)
            self.live_delivered += 1
            for ready in self.sequencer.push(event):
                self._out.put_nowait(ready)
            return
        # ahead of what we have (or not an event we could read): the log decides
        self._hints[seq] = event
        while len(self._hints) > _MAX_HINTS:
            self._hints.popitem(last=False)
        if seq > self.sequencer.last_seq + 1 and seq > self._wanted_seq + 1:
            self.gaps_detected += 1
        self._want(seq)

    def _want(self, seq: int) -> None:
        """Something up to ``seq`` exists (says a broadcast or a heartbeat): read the log."""
        self._wanted_seq = max(self._wanted_seq, seq)
        if self._closing or (self._fetch_task is not None and not self._fetch_task.done()):
            return
        self._fetch_task = asyncio.get_running_loop().create_task(self._fetch_loop(), name="seer-fetch")

    async def _fetch_loop(self) -> None:
        """Read the log until it has caught up with what pokes/heartbeats announced."""
        idle = False
        try:
            while self._wanted_seq > self.sequencer.last_seq and not self._closing:
                if idle:
                    await asyncio.sleep(_IDLE_FETCH_PAUSE)
                wanted = self._wanted_seq
                got = await self._catch_up()
                if got == 0 and self.sequencer.last_seq < wanted:
                    # The log does not have what was announced: the broadcast was forged or
                    # misdirected. The log wins; forget the claim.
                    self._reject_hints_above(self.sequencer.last_seq, wanted)
                    idle = True
                else:
                    idle = False
        except asyncio.CancelledError:
            pass
        except (NotInSession, SessionNotFound) as exc:
            # Removed from the session: the log is closed to us now (even our own kick event).
            self._terminate(await self._removal_reason(exc))
        except SeerError as exc:
            self._fire(self.on_error, exc)

    async def _removal_reason(self, exc: SessionError) -> SessionError:
        """session_events_since says SESSION_001 to anyone outside; heartbeat tells a former
        participant apart (SESSION_006, NotInSession), which is the more useful error."""
        try:
            await self.client.heartbeat(self.session_id)
        except SessionError as precise:
            return precise
        except SeerError:
            pass
        return exc

    def _reject_hints_above(self, last: int, wanted: int) -> None:
        bogus = [seq for seq in self._hints if seq > last]
        for seq in bogus:
            del self._hints[seq]
        if self._wanted_seq <= wanted:
            self._wanted_seq = last
        self.discarded_broadcasts += max(1, len(bogus))
        logger.warning(
            "session %s: discarded broadcast(s) up to seq %d: the log ends at %d (forged or misdirected)",
            self.session_id,
            wanted,
            last,
        )

    async def _catch_up(self) -> int:
        """Read every event after the sequencer's last seq from the log; returns how many."""
        fetched = 0
        async with self._catch_up_lock:
            while True:
                before = self.sequencer.last_seq
                page = await self.client.session_events_since(
                    self.session_id, after_seq=before, limit=self.catch_up_page_size
                )
                # (live events may have been delivered while the read was in flight)
                now = self.sequencer.last_seq
                fresh = [e for e in page if e.seq > now and e.session_id == self.session_id]
                for event in fresh:
                    self._check_hint(event)
                fetched += len(fresh)
                for ready in self.sequencer.push_many(fresh):
                    self._out.put_nowait(ready)
                if len(page) < self.catch_up_page_size:
                    return fetched

    def _check_hint(self, event: BaseEvent) -> None:
        if event.seq not in self._hints:
            self.recovered += 1  # no broadcast announced it: lost or before (re)connect
            return
        live = self._hints.pop(event.seq)
        if live is None or live.model_dump() != event.model_dump():
            self.discarded_broadcasts += 1
            logger.warning(
                "session %s: discarded the live event for seq %d (%r); the log has %r",
                self.session_id,
                event.seq,
                live.type if live is not None else "unreadable",
                event.type,
            )

    def _on_presence_sync(self, keys: set[str]) -> None:
        self.lobby.set_presence(keys)
        if self.on_presence_change is not None:
            self._fire(self.on_presence_change, self.presence())

    # ------------------------------------------------------------------ dispatch
    def _apply_snapshot(self, session: Session) -> None:
        self.state.apply_snapshot(session)
        if self.user_id == session.seer_id:
            self.role = "seer"
        self.state.role = self.role
        self.state.user_id = self.user_id
        seat = self.lobby.seat_of(self.user_id)
        if seat is not None:
            self.player_id = seat.id
            self.character_id = self.character_id or seat.character_id
            self.character_name = seat.character_name

    def _callback_for(self, event: BaseEvent) -> Callback | None:
        callbacks: dict[type[BaseEvent], Callback | None] = {
            PlayerJoinedEvent: self.on_player_joined,
            PlayerLeftEvent: self.on_player_left,
            PlayerConnectionEvent: self.on_player_connection,
            PlayerInactiveEvent: self.on_player_inactive,
            SessionStatusEvent: self.on_session_status,
            SessionEndedEvent: self.on_session_ended,
            GameStateEvent: self.on_game_state,
            NodeChangeEvent: self.on_node_change,
            SeerConnectionEvent: self.on_seer_connection,
            ReadmitRequestedEvent: self.on_readmit_requested,
            SessionSettingsEvent: self.on_session_settings,
        }
        return callbacks.get(type(event))

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
            self.state.apply(item)
        except Exception:
            logger.exception("could not apply event %s", item.seq)
            self.state.needs_reread = True
        await self._settle_state(item)
        await self._invoke(self._callback_for(item), item)
        if isinstance(item, GameStateEvent) and self.on_game_state_change is not None:
            await self._game_state_changed(item)
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

    async def _settle_state(self, event: BaseEvent) -> None:
        """What the fold cannot do alone: one ``get_game_state`` when it could not reach a
        version exactly (counted in :attr:`state_reads`), and for the Seer the value of a
        hidden roll, which the shared stream never carries (:attr:`hidden_roll_reads`)."""
        if self.state.needs_reread:
            logger.info(
                "session %s: re-reading the game state (%s)", self.session_id, self.state.reread_reason
            )
            self.state_reads += 1
            try:
                self.state.reset_game(await self.client.get_game_state(self.session_id))
            except SeerError as exc:
                self._fire(self.on_error, exc)
        if (
            self.role == "seer"
            and isinstance(event, DiceRolledEvent)
            and event.hidden
            and event.total is None
            and event.seq > self.state.base_seq
        ):
            self.hidden_roll_reads += 1
            try:
                rolls = await self.client.list_dice_rolls(self.session_id, limit=20)
            except SeerError as exc:
                self._fire(self.on_error, exc)
                return
            for roll in rolls:
                if roll.roll_id == event.roll_id:
                    self.state.reveal_roll(roll)

    async def _game_state_changed(self, event: GameStateEvent) -> None:
        """Hand ``on_game_state_change`` the state this event resulted in: the folded
        :attr:`state` (no RPC in the steady state, issue 22). Each version is reported at most
        once, in order (after a re-read the state may already include later versions)."""
        if event.version is not None and event.version <= self._game_state_version:
            return
        state = self.state.game
        if state.version <= self._game_state_version:
            return
        self._game_state_version = state.version
        await self._invoke(self.on_game_state_change, state)

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
