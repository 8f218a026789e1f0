"""SessionConnection: the driver of the stream's delivery core (supervisor, heartbeat, log
reads, dispatch).

The pieces it is built from:

* :mod:`seer_client._delivery` (:class:`DeliveryCore`): the delivery policy, pure. Every
  input (a broadcast, a heartbeat's answer, a log page, a join, a channel close) goes to it
  and its :class:`Decision` says what to do: deliver, read the log, rejoin, ignore,
  discard. This module only carries decisions out.
* :mod:`seer_client._realtime_link` (:class:`RealtimeLink`): the only code that touches
  realtime-py; one socket + channel per connection attempt.
* :mod:`seer_client._lobby` (:class:`LobbyState`): seats, status, node and presence, pure.

The stream (docs/security.md "The session stream", docs/sdk.md "Failure modes"): the
database broadcasts each whole event on the session's private keyed topic
``session:<id>:<key>``; the key rotates on every removal and a content-free rekey poke
tells the remaining clients to move; the log (``session_events_since``) is the truth.
Realtime may lose any database broadcast (rate limits, replication restarts: alone or in
bursts), the poke included, and closes channels above the tenant's rate limits. The
connection converges anyway: a later event's seq, every heartbeat (``lastSeq`` and the
channel generation) and every (re)join lead it back to the log and the current topic.

What the ``realtime`` client under supabase-py does not do, this class does itself: one
``AsyncRealtimeClient`` per attempt with ``auto_reconnect=False`` and its own supervisor
(the PRD's backoff 2, 4, 8, 16, 30 s up to 10 % shorter, ``max_reconnect_attempts`` then
``on_max_reconnect_failed``; rate-limit closes back off with full jitter and never use up
the budget); a refused join refreshes the token once; presence is tracked after every
``SUBSCRIBED``; user callbacks run in the SDK's dispatcher; ``close()`` awaits every task.
There is one terminal path (:meth:`SessionConnection._end`).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import inspect
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar, Unpack, cast, overload

from ._delivery import Decision, DeliveryCore, RejoinReason
from ._lobby import LobbyState, PresenceEntry
from ._realtime_link import JoinRefused, RealtimeLink, install_log_redaction, redact
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
)
from .models import GameState, GameStatePatch, HeartbeatResult, Session, SessionPlayer

if TYPE_CHECKING:
    from ._client import SeerClient
    from ._view import SessionView

__all__ = ["ConnectionOptions", "ConnectionStatus", "Handlers", "PresenceEntry", "SessionConnection"]

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


#: update_game_state: how long the change's own event gets to arrive on the stream (it
#: normally comes with the reply) before one read of the log fetches it
_CHANGE_ON_STREAM = 2.0
#: after a read found nothing new for what was claimed, the next claim-driven read waits this
#: long (a flood of forged broadcasts costs at most a few reads per second)
_IDLE_FETCH_PAUSE = 0.25
#: while Realtime keeps closing us for rate limits, one WARNING per this many seconds
_THROTTLE_WARN_EVERY = 60.0
#: Realtime's rate counters average 12 ticks of 5 s: a rate-limit close within this long of
#: the rejoin counts as the same episode
_RATE_WINDOW = 60.0


class ConnectionStatus(StrEnum):
    """The link's state, as reported to ``on_status_change``."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"


class Handlers(TypedDict, total=False):
    """The callbacks of :meth:`SeerClient.connect` / :class:`SessionConnection` (each may be a
    plain function or a coroutine function; its return value is ignored)."""

    on_player_joined: Callable[[PlayerJoinedEvent], object] | None
    on_player_left: Callable[[PlayerLeftEvent], object] | None
    on_player_connection: Callable[[PlayerConnectionEvent], object] | None
    on_player_inactive: Callable[[PlayerInactiveEvent], object] | None
    on_session_status: Callable[[SessionStatusEvent], object] | None
    on_session_ended: Callable[[SessionEndedEvent], object] | None
    #: the ``game_state`` event: the patch and the new version
    on_game_state: Callable[[GameStateEvent], object] | None
    #: the state that resulted (read only when this is set)
    on_game_state_change: Callable[[GameState], object] | None
    on_node_change: Callable[[NodeChangeEvent], object] | None
    on_seer_connection: Callable[[SeerConnectionEvent], object] | None
    on_readmit_requested: Callable[[ReadmitRequestedEvent], object] | None
    on_session_settings: Callable[[SessionSettingsEvent], object] | None
    #: every event, in seq order
    on_event: Callable[[SessionEvent], object] | None
    on_status_change: Callable[[ConnectionStatus], object] | None
    on_presence_change: Callable[[list[PresenceEntry]], object] | None
    on_max_reconnect_failed: Callable[[], object] | None
    on_error: Callable[[BaseException], object] | None


class ConnectionOptions(Handlers, total=False):
    """Every keyword of :meth:`SeerClient.connect` / :class:`SessionConnection` but
    ``character_id``; mypy --strict and pyright reject a misspelt or mistyped one."""

    #: heartbeat RPC period (s), the PRD's 30 s
    heartbeat_interval: float
    #: reconnect attempts after a loss (then on_max_reconnect_failed); rate-limit closes
    #: never use them up
    max_reconnect_attempts: int
    #: attempt n waits min(backoff_base * 2^n, backoff_max) s, up to backoff_jitter shorter
    backoff_base: float
    backoff_max: float
    backoff_jitter: float
    #: per join (and presence track) of the channel (s)
    join_timeout: float
    #: None (default): only events after connect; 0: replay the whole log; n: after seq n
    since_seq: int | None
    #: events per session_events_since read (1..1000)
    catch_up_page_size: int
    #: delivered events kept in history (events() replays them)
    history_size: int
    #: websocket-level Phoenix heartbeat of the realtime client (s)
    realtime_heartbeat_interval: int
    #: after a rate-limit close the n-th consecutive rejoin waits a random time in
    #: [0, min(rate_limit_backoff * 2^(n-1), rate_limit_backoff_max)] (full jitter)
    rate_limit_backoff: float
    rate_limit_backoff_max: float
    #: after a key rotation the rejoin waits a random time in [0, rekey_spread] s, so a
    #: party (and a project) does not re-join and re-track in the same instant
    rekey_spread: float


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


class _CoreCount:
    """A read-only SessionConnection counter that lives in its DeliveryCore."""

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _CoreCount: ...
    @overload
    def __get__(self, obj: SessionConnection, owner: type[Any]) -> int: ...
    def __get__(self, obj: SessionConnection | None, owner: type[Any]) -> _CoreCount | int:
        if obj is None:
            return self
        value: int = getattr(obj.core, self.name)
        return value


class SessionConnection:
    """Realtime link to a session. Use ``async with client.connect(session_id) as conn:``.

    Event callbacks receive the typed event (``on_player_joined`` a
    :class:`PlayerJoinedEvent`, and so on) and may be plain functions or coroutines. They run
    one at a time, in ``seq`` order, exactly once each. ``on_game_state_change`` receives the
    resulting :class:`GameState` (with its ``version``) after each ``game_state`` event;
    ``on_status_change`` a :class:`ConnectionStatus`; ``on_error`` an exception;
    ``on_presence_change`` the list returned by :meth:`presence`; ``on_max_reconnect_failed``
    no argument. The keywords are :class:`ConnectionOptions`.
    """

    # The public attributes (the blocking facade, seer_client.sync, is generated from these
    # declarations; tests/test_typing.py checks that it has every one of them).
    client: SeerClient
    session_id: str
    character_id: str | None
    heartbeat_interval: float
    max_reconnect_attempts: int
    backoff_base: float
    backoff_max: float
    backoff_jitter: float
    join_timeout: float
    since_seq: int | None
    catch_up_page_size: int
    realtime_heartbeat_interval: int
    rate_limit_backoff: float
    rate_limit_backoff_max: float
    rekey_spread: float
    #: the link's state
    status: ConnectionStatus
    #: why the connection ended for good (None while it lives or after a plain close)
    error: BaseException | None
    user_id: str | None
    player_id: str | None
    character_name: str | None
    #: "seer" or "player"
    role: str
    #: successful reconnects after the first connect
    reconnects: int
    connects: int
    callback_errors: int
    #: channel key rotations followed (rejoined on the new topic): by poke or by heartbeat
    rekeys: int
    #: of those, found by a heartbeat (the rekey poke was lost)
    stale_topic_rejoins: int
    #: channels Realtime closed for a rate limit (Too many messages/presence messages ...)
    rate_limit_closes: int
    #: the last heartbeat's view of the session (lastSeq, status, channel generation)
    last_heartbeat: HeartbeatResult | None
    #: events after this seq are delivered
    start_seq: int
    #: the delivered events still remembered, in order
    history: deque[BaseEvent]
    #: seats, status, node and presence
    lobby: LobbyState
    #: the delivery policy (last seq, claims, counters)
    core: DeliveryCore
    #: the live session state folded from the events (issue 22): seats, game state and
    #: version, current node, dice, combat, pending actions, turn history
    state: SessionState
    #: get_game_state reads made because the fold could not reach a version exactly
    state_reads: int
    #: list_dice_rolls reads the Seer's connection made to show a hidden roll's value
    hidden_roll_reads: int
    # The callbacks, settable (the same names and types as Handlers; tests/test_typing.py
    # checks the two lists agree).
    on_player_joined: Callable[[PlayerJoinedEvent], object] | None
    on_player_left: Callable[[PlayerLeftEvent], object] | None
    on_player_connection: Callable[[PlayerConnectionEvent], object] | None
    on_player_inactive: Callable[[PlayerInactiveEvent], object] | None
    on_session_status: Callable[[SessionStatusEvent], object] | None
    on_session_ended: Callable[[SessionEndedEvent], object] | None
    on_game_state: Callable[[GameStateEvent], object] | None
    on_game_state_change: Callable[[GameState], object] | None
    on_node_change: Callable[[NodeChangeEvent], object] | None
    on_seer_connection: Callable[[SeerConnectionEvent], object] | None
    on_readmit_requested: Callable[[ReadmitRequestedEvent], object] | None
    on_session_settings: Callable[[SessionSettingsEvent], object] | None
    on_event: Callable[[SessionEvent], object] | None
    on_status_change: Callable[[ConnectionStatus], object] | None
    on_presence_change: Callable[[list[PresenceEntry]], object] | None
    on_max_reconnect_failed: Callable[[], object] | None
    on_error: Callable[[BaseException], object] | None

    def __init__(
        self,
        client: SeerClient,
        session_id: str,
        *,
        character_id: str | None = None,
        **options: Unpack[ConnectionOptions],
    ) -> None:
        unknown = set(options) - set(ConnectionOptions.__annotations__)
        if unknown:  # (the type checkers say so too)
            raise TypeError(f"unknown connection option(s): {', '.join(sorted(unknown))}")
        self.client = client
        self.session_id = session_id
        self.character_id = character_id
        self.heartbeat_interval = options.get("heartbeat_interval", 30.0)
        self.max_reconnect_attempts = options.get("max_reconnect_attempts", 5)
        self.backoff_base = options.get("backoff_base", 1.0)
        self.backoff_max = options.get("backoff_max", 30.0)
        self.backoff_jitter = options.get("backoff_jitter", 0.1)
        self.join_timeout = options.get("join_timeout", 10.0)
        self.since_seq = options.get("since_seq")
        self.catch_up_page_size = options.get("catch_up_page_size", 500)
        self.realtime_heartbeat_interval = options.get("realtime_heartbeat_interval", 15)
        self.rate_limit_backoff = options.get("rate_limit_backoff", 30.0)
        self.rate_limit_backoff_max = options.get("rate_limit_backoff_max", 120.0)
        self.rekey_spread = options.get("rekey_spread", 1.0)

        self.on_player_joined = options.get("on_player_joined")
        self.on_player_left = options.get("on_player_left")
        self.on_player_connection = options.get("on_player_connection")
        self.on_player_inactive = options.get("on_player_inactive")
        self.on_session_status = options.get("on_session_status")
        self.on_session_ended = options.get("on_session_ended")
        self.on_game_state = options.get("on_game_state")
        self.on_game_state_change = options.get("on_game_state_change")
        self.on_node_change = options.get("on_node_change")
        self.on_seer_connection = options.get("on_seer_connection")
        self.on_readmit_requested = options.get("on_readmit_requested")
        self.on_session_settings = options.get("on_session_settings")
        self.on_event = options.get("on_event")
        self.on_status_change = options.get("on_status_change")
        self.on_presence_change = options.get("on_presence_change")
        self.on_max_reconnect_failed = options.get("on_max_reconnect_failed")
        self.on_error = options.get("on_error")

        self.status = ConnectionStatus.DISCONNECTED
        self.error = None
        self.user_id = None
        self.player_id = None
        self.character_name = None
        self.role = "player"
        self.reconnects = 0
        self.connects = 0
        self.callback_errors = 0
        self.rekeys = 0
        self.stale_topic_rejoins = 0
        self.rate_limit_closes = 0
        self.last_heartbeat = None
        self.start_seq = 0
        self.history = deque(maxlen=options.get("history_size", 10_000))
        self.lobby = LobbyState(session_id)
        self.core = DeliveryCore(session_id)

        self._delivered_seq = 0
        self.state = SessionState(session_id, self.lobby)
        self.state_reads = 0
        self.hidden_roll_reads = 0

        self._link: RealtimeLink | None = None
        self._topic: str | None = None
        self._rejoin: RejoinReason | None = None  # why the link is being replaced (core's word)
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
        self._wake = asyncio.Event()  # set: skip the current reconnect wait
        self._try_now = False  # reconnect() was called: skip the next wait
        self._waiting_out_rate_limit = False
        # the last attempt failed on an RPC (the server, not Realtime): a later successful RPC
        # says the server is back; after a Realtime failure it says nothing
        self._rpc_stage_failed = False
        self._stage = "rpc"
        self._throttle_warned_at: float | None = None
        self._auth_subscription: Any = None
        self._closing = False
        self._closed = False
        self._ended = False  # the one terminal path ran (or close() ended the stream)
        self._closer: asyncio.Task[None] | None = None
        self._close_done: asyncio.Future[None] | None = None

    seer_id: _LobbyField[str | None] = _LobbyField("seer_id")
    seer_name: _LobbyField[str | None] = _LobbyField("seer_name")
    session_status: _LobbyField[str | None] = _LobbyField("session_status")
    current_node_id: _LobbyField[str | None] = _LobbyField("current_node_id")
    current_node_title: _LobbyField[str | None] = _LobbyField("current_node_title")
    adventure_name: _LobbyField[str | None] = _LobbyField("adventure_name")
    code: _LobbyField[str | None] = _LobbyField("code")
    seats: _LobbyField[dict[str, SessionPlayer]] = _LobbyField("seats")

    #: events no broadcast announced, found by a heartbeat, a gap or a (re)join's catch-up
    recovered: _CoreCount = _CoreCount("recovered")
    #: live events the log contradicted or does not have: discarded (log wins)
    discarded_broadcasts: _CoreCount = _CoreCount("discarded_broadcasts")
    #: broadcasts on the topic that are no well-formed event for this session: ignored
    ignored_broadcasts: _CoreCount = _CoreCount("ignored_broadcasts")
    #: live events that showed a hole (seq beyond the next expected one)
    gaps_detected: _CoreCount = _CoreCount("gaps_detected")
    #: live events delivered straight from the broadcast (the next seq, valid)
    live_delivered: _CoreCount = _CoreCount("live_delivered")
    #: delivered events that a later live copy contradicted (reported to on_error)
    conflicts: _CoreCount = _CoreCount("conflicts")

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
        install_log_redaction()
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
            self.core.reset(start)
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
        self._wake.set()
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
        self._settle_first(RealtimeError("connection closed before it was established"))
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

    def reconnect(self) -> None:
        """Try now: skip the wait before the next reconnect attempt (a rate-limit pause
        included); when connected, replace the link at once (a fresh socket and channel)."""
        if self._closing or self._ended:
            return
        self._try_now = True
        self._wake.set()
        if self.status is ConnectionStatus.CONNECTED:
            self._replace_link(RejoinReason.CLOSED, "reconnect requested")

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
        removal rotates the key. It holds the channel's secret key: never log it."""
        return self._topic

    @property
    def channel_generation(self) -> int | None:
        """How often the session's key had been rotated when this topic was read."""
        return self.core.generation

    @property
    def sequencer(self) -> EventSequencer[BaseEvent]:
        """The core's exactly-once, in-order release (``duplicates``, ``delivered``...)."""
        return self.core.sequencer

    @property
    def discarded_pokes(self) -> int:
        """Former name of :attr:`discarded_broadcasts`."""
        return self.core.discarded_broadcasts

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

        return await _within(self._first(predicate, replay=replay), timeout, "waiting for a session event")

    async def _first(self, predicate: Callable[[SessionEvent], bool], *, replay: bool = True) -> SessionEvent:
        """The first delivered event matching ``predicate``, with no time limit."""
        async for event in self.events(replay=replay):
            if predicate(event):
                return event
        raise RealtimeError("connection closed while waiting for an event")

    async def wait_for_seq(self, seq: int, *, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until every event up to ``seq`` has been delivered (raises like :meth:`wait_for`)."""
        if self.last_seq >= seq:
            return
        await self.wait_for(lambda e: e.seq >= seq, timeout=timeout)

    async def update_game_state(
        self,
        patch: GameStatePatch | dict[str, Any] | None = None,
        *,
        expected_version: int | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - also used through the blocking facade
        **fields: Any,
    ) -> GameState:
        """The Seer changes this session's game state, as a live dashboard does.

        The same change as ``client.update_game_state(session_id, ...)`` (same patch, same
        ``expected_version`` rule, same event), asked without its turn history
        (``turn_history=False``): this connection folds the session's events, so it has the
        turns, and the server skips reading and sending the newest 100 of them (about a third
        of the call's database CPU in a long game, docs/performance.md). Returns
        :attr:`state`'s game state once it holds the change: its ``version`` is at least the
        change's (events after it may be in it too), with the full ``turn_history``. The
        change's event normally arrives on the stream with the reply; when it has not within
        2 s (a dropped broadcast, a reconnect), one read of the log fetches it. Raises what
        the RPC raises, and :class:`~seer_client.TimeoutError` when the change is not
        delivered within ``timeout`` seconds; a connection not open (or closed, or dead) raises
        before anything is sent (its :attr:`error` if it died, else :class:`RealtimeError`).
        """
        if self._supervisor is None or self._ended:
            raise self.error or RealtimeError(
                "the connection is not open: open it first, or call client.update_game_state"
            )
        reply = await self.client.update_game_state(
            self.session_id, patch, expected_version=expected_version, turn_history=False, **fields
        )
        await _within(self._hold_version(reply.version), timeout, "waiting for the game state change")
        return self.state.game

    async def _hold_version(self, version: int) -> None:
        """Until :attr:`state` holds ``version``: the stream first, then the log."""

        def holds(_event: object = None) -> bool:
            return self.state.version >= version

        if holds():
            return
        try:
            await self.wait_for(holds, timeout=_CHANGE_ON_STREAM)
            return
        except SeerTimeoutError:
            logger.info("session %s: version %d not on the stream, reading the log", self.session_id, version)
        await self._catch_up()
        if not holds():
            await self._first(holds)

    async def sync(self, *, timeout: float = 10.0) -> int:  # noqa: ASYNC109
        """Fetch anything missed now (as after a reconnect); returns the last delivered seq."""
        await _within(self._catch_up(), timeout, "catching up with the session log")
        return self.last_seq

    # ------------------------------------------------------------------ the core's decisions
    def _apply(self, decision: Decision, *, fetch: bool = True) -> None:
        """Carry out one decision of the delivery core."""
        for event in decision.deliver:
            self._out.put_nowait(event)
        for seq in decision.discarded:
            logger.warning(
                "session %s: discarded the live event for seq %d: the log disagrees or ends "
                "before it (forged or misdirected)",
                self.session_id,
                seq,
            )
        for seq in decision.conflicts:
            exc = RealtimeError(
                f"session {self.session_id}: a live broadcast for the delivered seq {seq} differs "
                "from the delivered event (one of them was not written by the database)"
            )
            logger.warning("%s", exc)
            self._fire(self.on_error, exc)
        if decision.rejoin is not None:
            self._replace_link(decision.rejoin, str(decision.rejoin))
        if fetch and decision.fetch:
            self._start_fetch()

    def _replace_link(self, reason: RejoinReason, text: str) -> None:
        """Make the supervisor leave this link (its watch returns) and join the current topic."""
        if self._link is None or self._closing:
            return
        if self._rejoin is None or reason in (RejoinReason.REKEY, RejoinReason.STALE_TOPIC):
            self._rejoin = reason
        self._link.signal_trouble(text)

    # ------------------------------------------------------------------ supervisor
    def backoff_delay(self, attempt: int) -> float:
        """Seconds to wait before reconnect attempt ``attempt`` (1-based), jitter included.

        The PRD's schedule: ``min(1000 * 2^n, 30000)`` ms for n = attempt (2, 4, 8, 16, 30 s
        with the defaults), made up to ``backoff_jitter`` (10 %) shorter at random so clients
        cut off together do not come back together.
        """
        delay: float = min(self.backoff_max, self.backoff_base * 2.0 ** max(1, attempt))
        return delay * (1.0 - random.uniform(0.0, self.backoff_jitter))

    def rate_limit_delay(self, closes: int) -> float:
        """Seconds to wait after the ``closes``-th consecutive rate-limit close: full jitter,
        a random time in ``[0, min(rate_limit_backoff * 2^(closes-1), rate_limit_backoff_max)]``,
        so a project's clients closed together spread their rejoins over the whole window."""
        cap = min(self.rate_limit_backoff_max, self.rate_limit_backoff * 2.0 ** max(0, closes - 1))
        return random.uniform(0.0, cap)

    async def _sleep(self, delay: float) -> None:
        """Wait ``delay`` s, or less when :meth:`reconnect` (or a successful heartbeat while
        reconnecting, outside a rate-limit pause) says to try now."""
        if self._try_now:
            self._try_now = False
            return
        self._wake.clear()
        with contextlib.suppress(builtins.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)
        self._try_now = False

    async def _supervise(self) -> None:
        attempt = 0  # consecutive failed attempts (the budget)
        throttled = 0  # consecutive rate-limit closes (no budget: never gives up on them)
        refreshed_for_auth = False
        moving = False  # the next attempt follows a key rotation (not a reconnect)
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
                    fetched = await self._establish(refresh_token=refreshed_for_auth, rekey=moving)
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
                        self._end(AuthError(f"realtime join refused: {exc.reason}", status=403))
                        return
                    last_error = RealtimeError(f"realtime join failed: {exc.reason or exc.status}")
                    self._rpc_stage_failed = False
                except SessionError as exc:
                    # Not (or no longer) a participant: reconnecting cannot help.
                    await self._teardown(graceful=False)
                    self._end(exc)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    await self._teardown(graceful=False)
                    logger.info("session %s: connect attempt failed: %s", self.session_id, redact(repr(exc)))
                    last_error = exc
                    self._rpc_stage_failed = self._stage == "rpc"
                else:
                    if moving:
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
                    if throttled:
                        logger.info(
                            "session %s: rejoined after %d rate-limit close(s)", self.session_id, throttled
                        )
                    self.connects += 1
                    attempt = 0
                    refreshed_for_auth = moving = False
                    self._set_status(ConnectionStatus.CONNECTED)
                    self._settle_first(None)
                    linked_at = time.monotonic()
                    reason = await self._watch()
                    await self._teardown(graceful=False)
                    if self._closing:
                        return
                    why, self._rejoin = self._rejoin, None
                    throttled_now = self.core.on_channel_close(reason).rejoin is RejoinReason.RATE_LIMITED
                    if not throttled_now or time.monotonic() - linked_at > _RATE_WINDOW:
                        # (Realtime's rates are minute averages: a close soon after a rejoin
                        # is the same throttling, and the pause window keeps growing)
                        throttled = 0
                    if why in (RejoinReason.REKEY, RejoinReason.STALE_TOPIC) and not throttled_now:
                        # Not a failure: join the current topic (no backoff, not a reconnect),
                        # after a short random pause so the party does not rejoin in step.
                        self.rekeys += 1
                        if why is RejoinReason.STALE_TOPIC:
                            self.stale_topic_rejoins += 1
                        moving = True
                        logger.info(
                            "session %s: channel key rotated (%s); joining the current topic",
                            self.session_id,
                            why,
                        )
                        await self._sleep(random.uniform(0.0, self.rekey_spread))
                        continue
                    logger.info("session %s: connection lost: %s", self.session_id, redact(reason))
                    lost_at = time.monotonic()
                    last_error = TransportError(f"realtime connection lost: {redact(reason)}")
                    self._rpc_stage_failed = False
                    self._set_status(ConnectionStatus.RECONNECTING)
                    if self._try_now:  # reconnect() while connected: a fresh link at once
                        self._try_now = False
                        continue
                # (a close, or a refused join, for a rate limit: full-jitter pause, no budget)
                rate_limited = self.core.on_channel_close(str(last_error)).rejoin is RejoinReason.RATE_LIMITED
                if rate_limited:
                    throttled += 1
                    self.rate_limit_closes += 1
                    delay = self.rate_limit_delay(throttled)
                    self._warn_throttled(throttled, last_error)
                else:
                    attempt += 1
                    if attempt > self.max_reconnect_attempts:
                        self._give_up(last_error)
                        return
                    delay = self.backoff_delay(attempt)
                self._set_status(
                    ConnectionStatus.RECONNECTING if self.connects else ConnectionStatus.CONNECTING
                )
                logger.info(
                    "session %s: retrying in %.1f s (attempt %d/%d; %s)",
                    self.session_id,
                    delay,
                    attempt,
                    self.max_reconnect_attempts,
                    redact(str(last_error)),
                )
                self._waiting_out_rate_limit = rate_limited
                try:
                    await self._sleep(delay)
                finally:
                    self._waiting_out_rate_limit = False
        except asyncio.CancelledError:
            pass

    def _warn_throttled(self, closes: int, error: BaseException | None) -> None:
        """While Realtime keeps rate-limiting us: a WARNING now and then at most once a minute."""
        now = time.monotonic()
        if self._throttle_warned_at is not None and now - self._throttle_warned_at < _THROTTLE_WARN_EVERY:
            return
        self._throttle_warned_at = now
        logger.warning(
            "session %s: Realtime rate-limited this connection (%s); %d consecutive close(s), "
            "rejoining with full-jitter backoff (never giving up on rate limits)",
            self.session_id,
            redact(str(error)),
            closes,
        )

    async def _establish(self, *, refresh_token: bool, rekey: bool = False) -> int:
        """One connection attempt; returns how many events the catch-up fetched."""
        self._stage = "rpc"
        token = await self.client.access_token(refresh=refresh_token)
        if not rekey:
            # The heartbeat RPC restores a disconnected/inactive seat and rejects strangers
            # (SessionError) before we touch the socket. (After a rekey the seat is live:
            # session_topic alone tells a removed player apart, SESSION_006.)
            # Directly, not through the collector: a connect does not wait for a batch.
            beat = await self.client.heartbeat(self.session_id, batched=False)
            self._note_heartbeat(beat)
        # The current keyed topic and its generation (participants only; rotates on removal).
        topic, generation = await self.client._session_channel(self.session_id)
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
        self._rejoin = None
        self._stage = "realtime"
        # From now on a heartbeat compares its generation with this topic's.
        self._apply(self.core.on_joined(generation), fetch=False)
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

    # ------------------------------------------------------------------ the terminal path
    def _end(self, exc: BaseException, *, gave_up: bool = False) -> None:
        """The one way a connection ends for good (join refused twice, not or no longer a
        participant, reconnects used up): ``exc`` becomes :attr:`error`, the status
        ``disconnected``, ``on_error`` (``on_max_reconnect_failed`` when it gave up) is told
        once, a pending ``open()`` and every iterator raise it, and the connection closes
        itself (from a separate task: we may be inside one of its tasks)."""
        if self._ended or self._closing:
            return
        logger.warning("session %s: connection ended: %s", self.session_id, redact(str(exc)))
        self.error = exc
        self._set_status(ConnectionStatus.DISCONNECTED)
        if gave_up:
            self._fire(self.on_max_reconnect_failed)
        else:
            self._fire(self.on_error, exc)
        self._settle_first(exc)
        self._end_stream()
        if self._closer is None:
            self._closer = asyncio.get_running_loop().create_task(self.close(), name="seer-close")

    def _give_up(self, last_error: BaseException | None) -> None:
        exc = TransportError(
            f"could not (re)connect after {self.max_reconnect_attempts} attempts: {redact(str(last_error))}"
        )
        exc.__cause__ = last_error
        logger.warning(
            "session %s: giving up after %d reconnect attempts: %s",
            self.session_id,
            self.max_reconnect_attempts,
            redact(str(last_error)),
        )
        self._end(exc, gave_up=True)

    def _removed(self, exc: SessionError) -> None:
        """We are no longer a participant (kicked, left, session gone)."""
        self._end(exc)

    def _settle_first(self, exc: BaseException | None) -> None:
        first = self._first_connected
        if first is None or first.done():
            return
        if exc is None:
            first.set_result(None)
        else:
            first.set_exception(exc)
            first.exception()  # retrieved (open() may be gone already)

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
                if self.status not in (ConnectionStatus.CONNECTED, ConnectionStatus.RECONNECTING):
                    continue
                try:
                    beat = await self.client.heartbeat(self.session_id)
                except (NotInSession, SessionNotFound) as exc:
                    # Kicked, or the session is gone for us: reconnecting cannot help.
                    self._removed(exc)
                    return
                except SessionError as exc:
                    self._fire(self.on_error, exc)
                except SeerError as exc:
                    if self.status is ConnectionStatus.CONNECTED:
                        self._fire(self.on_error, exc)
                        self._replace_link(RejoinReason.CLOSED, f"heartbeat failed: {exc}")
                    else:  # reconnecting: the supervisor reports its own attempts
                        logger.debug(
                            "session %s: heartbeat while reconnecting failed: %s", self.session_id, exc
                        )
                else:
                    if self.status is ConnectionStatus.RECONNECTING:
                        self._server_reachable()
                    else:
                        self._note_heartbeat(beat)
        except asyncio.CancelledError:
            pass

    def _server_reachable(self) -> None:
        """An RPC or heartbeat succeeded: while reconnecting after an attempt that failed on
        an RPC (the server was down), try now. Not inside a rate-limit pause (Realtime's limit
        holds whatever the database says), nor after a Realtime failure (the RPC proves
        nothing about Realtime, and waking would spend the attempt budget in a burst)."""
        if (
            self.status is ConnectionStatus.RECONNECTING
            and self._rpc_stage_failed
            and not self._waiting_out_rate_limit
        ):
            self._wake.set()

    def _note_heartbeat(self, beat: HeartbeatResult) -> None:
        self.last_heartbeat = beat
        if beat.player_id:
            self.player_id = beat.player_id
        if self._link is None:
            return  # (inside _establish: the catch-up after the join reads the log anyway)
        self._apply(self.core.on_heartbeat(beat.last_seq, beat.channel_generation))

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
                logger.warning("background task failed: %s", redact(repr(exc)))

        task = asyncio.get_running_loop().create_task(runner())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ inbound
    def _on_broadcast(self, payload: dict[str, Any]) -> None:
        """A broadcast on the session topic: the core decides."""
        decision = self.core.on_broadcast(payload)
        if decision.ignored and not decision.conflicts:
            logger.debug("session %s: ignored a broadcast", self.session_id)
        self._apply(decision)

    def _start_fetch(self) -> None:
        """Read the log (in the background) until the core has what was announced."""
        if self._closing or (self._fetch_task is not None and not self._fetch_task.done()):
            return
        self._fetch_task = asyncio.get_running_loop().create_task(self._fetch_loop(), name="seer-fetch")

    async def _fetch_loop(self) -> None:
        try:
            await self._catch_up(only_if_behind=True)
        except asyncio.CancelledError:
            pass
        except (NotInSession, SessionNotFound) as exc:
            # Removed from the session: the log is closed to us now (even our own kick event).
            self._removed(await self._removal_reason(exc))
        except SeerError as exc:
            self._fire(self.on_error, exc)

    async def _catch_up(self, *, only_if_behind: bool = False) -> int:
        """Read the log page by page until the core is satisfied; returns how many events it
        delivered. (One read at a time; broadcasts arriving meanwhile are covered by the next.)"""
        delivered = 0
        idle = False
        async with self._catch_up_lock:
            if only_if_behind and not self.core.behind:
                return 0
            while not self._closing:
                if idle:
                    await asyncio.sleep(_IDLE_FETCH_PAUSE)
                after = self.core.begin_fetch()
                page = await self.client.session_events_since(
                    self.session_id, after_seq=after, limit=self.catch_up_page_size
                )
                decision = self.core.on_log_page(after, page, self.catch_up_page_size)
                self._apply(decision, fetch=False)
                delivered += len(decision.deliver)
                if not decision.fetch:
                    break
                idle = decision.idle
        return delivered

    async def _removal_reason(self, exc: SessionError) -> SessionError:
        """session_events_since says SESSION_001 to anyone outside; heartbeat tells a former
        participant apart (SESSION_006, NotInSession), which is the more useful error."""
        try:
            await self.client.heartbeat(self.session_id, batched=False)
        except SessionError as precise:
            return precise
        except SeerError:
            pass
        return exc

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
            self._removed(NotInSession(details="kicked"))

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
