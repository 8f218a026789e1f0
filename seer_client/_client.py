"""The async :class:`SeerClient`: one typed method per RPC of docs/contract.md."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import os
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Unpack, cast

import httpx
from pydantic import BaseModel, TypeAdapter

from ._transport import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    CallOptions,
    Transport,
    check_max_retries,
    check_timeout,
)
from .errors import AuthError, ConfigError, SeerError, TransportError, ValidationError
from .events import SessionEvent, parse_events
from .models import (
    AdventureSummary,
    Character,
    CreateSessionResult,
    DiceRoll,
    EndResult,
    Feedback,
    GameState,
    GameStatePatch,
    HeartbeatResult,
    JoinPreview,
    JoinResult,
    KickResult,
    LeaveResult,
    MyCharacter,
    SeerFeedback,
    Session,
    SessionPlayer,
    SessionSettings,
    SessionSummary,
    StartResult,
    normalize_join_code,
    validate_uuid,
)

if TYPE_CHECKING:
    from supabase import AsyncClient

    from ._connection import ConnectionOptions, SessionConnection

__all__ = ["AsyncSeerClient", "SeerClient"]

log: logging.Logger = logging.getLogger("seer_client.client")


@dataclass
class _ProjectFacts:
    """What the client learned about its project, shared with its ``with_options`` views."""

    #: heartbeats go to the heartbeat Edge Function (False once the gateway said 404: not deployed)
    heartbeat_collector: bool = True


M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
R = TypeVar("R")

_OUTCOMES = ("completed", "cancelled")
_ADVENTURE_SCOPES = ("mine", "community", "all")
_COMBAT_OUTCOMES = ("victory", "defeat", "fled", "truce")
_MAX_BIGINT = 2**63 - 1
_STATUSES = ("waiting", "active", "paused", "completed", "cancelled")
#: Settings keys, snake_case name -> wire (camelCase) name, from the one model that defines them.
_SETTINGS_ALIASES: dict[str, str] = {
    name: field.alias or name for name, field in SessionSettings.model_fields.items()
}
_SETTINGS_KEYS = frozenset(_SETTINGS_ALIASES.values())


class AsyncSeerClient:
    """Async client for Seer sessions on Supabase (``seer_client.SeerClient`` is this class).

    ``AsyncSeerClient()`` reads ``SUPABASE_URL`` and ``SUPABASE_ANON_KEY``;
    ``AsyncSeerClient(url, key)``, ``AsyncSeerClient(supabase=existing_async_client)`` and
    ``await AsyncSeerClient.create(url, key)`` work too. Use it as ``async with AsyncSeerClient()
    as client:`` to close its sockets at the end. Every RPC is a keyword-argument method returning
    a pydantic model; errors are :mod:`seer_client.errors` exceptions.

    ``timeout`` (seconds) bounds each attempt of every RPC and auth call and raises
    :class:`~seer_client.errors.TimeoutError` naming the URL and the limit; reads are retried
    up to ``max_retries`` times on transport errors (no answer, 5xx), calls that change data
    never. ``client.with_options(timeout=..., max_retries=...)`` changes them for one call site.
    """

    def __init__(
        self,
        url: str | AsyncClient | None = None,
        key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        join_url_base: str | None = None,
        supabase: AsyncClient | None = None,
        options: Any = None,
        retries: int | None = None,
        owns_supabase: bool | None = None,
    ) -> None:
        from supabase import AsyncClient as SupabaseAsyncClient
        from supabase import Client as SyncSupabaseClient

        if isinstance(url, SyncSupabaseClient) or isinstance(supabase, SyncSupabaseClient):
            raise ConfigError(
                "SeerClient needs supabase's AsyncClient (await supabase.acreate_client(url, key)); "
                "for blocking code use seer_client.SyncSeerClient(url, key)"
            )
        if isinstance(url, SupabaseAsyncClient):
            # SeerClient(supabase): the long-standing form; the client stays the caller's.
            supabase, url = url, None
        if retries is not None:
            warnings.warn(
                "SeerClient(retries=N) is deprecated: N counted attempts; use max_retries=N-1 "
                "(the number of retries, as in the openai and anthropic SDKs)",
                DeprecationWarning,
                stacklevel=2,
            )
            max_retries = max(0, retries - 1)
        self._options = CallOptions(check_timeout(timeout), check_max_retries(max_retries))
        http: httpx.AsyncClient | None = None
        if supabase is None:
            supabase, http = _build_supabase(url, key, self._options, options)
            owns = True if owns_supabase is None else owns_supabase
        else:
            owns = bool(owns_supabase)
            http = getattr(getattr(supabase, "options", None), "httpx_client", None)
        self.supabase: AsyncClient = supabase
        self.url: str = str(supabase.supabase_url).rstrip("/")
        base = join_url_base or self.url
        self.join_url_base: str = base.rstrip("/")
        self._owns_supabase = owns
        # The transport's HTTP client: the one the supabase client sends with (ours when we
        # built it), else a private one we close.
        self._transport = Transport(
            self.url,
            str(supabase.supabase_key),
            http if http is not None else httpx.AsyncClient(timeout=None),
            owns_http=owns if http is not None else True,
        )
        self._owns_transport = True
        self._is_view = False
        self._connections: set[SessionConnection] = set()
        self._project = _ProjectFacts()

    @classmethod
    async def create(
        cls,
        url: str | None = None,
        key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - the client's setting, not this call's
        max_retries: int = DEFAULT_MAX_RETRIES,
        join_url_base: str | None = None,
        options: Any = None,
        retries: int | None = None,
    ) -> AsyncSeerClient:
        """Build the client (the same as ``AsyncSeerClient(url, key, ...)``; kept for existing code).

        ``url`` and ``key`` default to ``SUPABASE_URL`` and ``SUPABASE_ANON_KEY``; ``options`` is a
        ``supabase.AsyncClientOptions``. A missing or malformed URL or key raises :class:`ConfigError`.
        """
        if retries is not None:
            warnings.warn(
                "SeerClient.create(retries=N) is deprecated: N counted attempts; use max_retries=N-1",
                DeprecationWarning,
                stacklevel=2,
            )
            max_retries = max(0, retries - 1)
        return cls(
            url, key, timeout=timeout, max_retries=max_retries, join_url_base=join_url_base, options=options
        )

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.url} timeout={self.timeout:g} max_retries={self.max_retries}"
            f"{' (with_options view)' if self._is_view else ''}>"
        )

    @property
    def timeout(self) -> float:
        """Seconds each attempt of an RPC or auth call may take."""
        return self._options.timeout

    @property
    def max_retries(self) -> int:
        """How many times a read is retried after a transport error (attempts = this + 1)."""
        return self._options.max_retries

    @property
    def retries(self) -> int:
        """Deprecated: the number of attempts (``max_retries + 1``)."""
        return self._options.max_retries + 1

    def with_options(
        self, *, timeout: float | None = None, max_retries: int | None = None
    ) -> AsyncSeerClient:
        """A view of this client with another ``timeout``/``max_retries``, for one call site.

        It shares the signed-in session, the sockets and the connections; closing it closes nothing.
        """
        clone = copy.copy(self)
        clone._owns_supabase = False
        clone._owns_transport = False
        clone._is_view = True
        clone._options = CallOptions(
            check_timeout(timeout) if timeout is not None else self._options.timeout,
            check_max_retries(max_retries) if max_retries is not None else self._options.max_retries,
        )
        return clone

    # ----------------------------------------------------------------- auth pass-through
    async def sign_up(self, email: str, password: str, *, display_name: str | None = None) -> str:
        """Create an account (and sign in when the project auto-confirms). Returns the user id."""
        data = {"display_name": display_name} if display_name else {}
        response = await self._auth_call(
            "sign_up",
            lambda: self.supabase.auth.sign_up(
                {"email": email, "password": password, "options": {"data": data}}
            ),
        )
        if response.user is None:
            raise AuthError("sign-up returned no user")
        return str(response.user.id)

    async def sign_in(self, email: str, password: str) -> str:
        """Sign in with email and password. Returns the user id."""
        response = await self._auth_call(
            "sign_in",
            lambda: self.supabase.auth.sign_in_with_password({"email": email, "password": password}),
        )
        if response.user is None:
            raise AuthError("sign-in returned no user")
        return str(response.user.id)

    async def sign_out(self) -> None:
        """Sign out; RPCs then raise :class:`AuthError` ("sign in first") until the next sign-in."""
        await self._auth_call("sign_out", lambda: self.supabase.auth.sign_out())

    async def user_id(self) -> str:
        """The signed-in user's id (raises :class:`AuthError` when signed out)."""
        session = await self._auth_call("user_id", lambda: self.supabase.auth.get_session())
        if session is None:
            raise AuthError("not signed in", status=401)
        return str(session.user.id)

    async def access_token(self, *, refresh: bool = False) -> str | None:
        """The current access token (refreshed first when ``refresh`` or when expired)."""
        if refresh:
            try:
                response = await self._auth_call(
                    "refresh_session", lambda: self.supabase.auth.refresh_session()
                )
                return response.session.access_token if response.session else None
            except AuthError:
                return None
        session = await self._auth_call("access_token", lambda: self.supabase.auth.get_session())
        return session.access_token if session else None

    async def _auth_call(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        return await self._transport.auth(what, call, options=self._options)

    # ----------------------------------------------------------------- RPC plumbing
    async def _token(self, fn: str) -> str:
        session = await self._auth_call(fn, lambda: self.supabase.auth.get_session())
        if session is None:
            raise AuthError(f"sign in first: {fn} needs a signed-in user", status=401)
        return str(session.access_token)

    async def _rpc(self, fn: str, params: dict[str, Any], *, idempotent: bool = False) -> Any:
        """Call an RPC. Only idempotent calls are retried, and only on transport/5xx errors."""
        token = await self._token(fn)
        result = await self._transport.rpc(
            fn, params, token=token, options=self._options, idempotent=idempotent
        )
        return self._reached(result)

    async def _function(self, name: str, body: dict[str, Any]) -> Any:
        """POST to an Edge Function as the signed-in user, once (its caller has the fallback)."""
        token = await self._token(name)
        result = await self._transport.function(
            name, body, token=token, options=self._options, idempotent=False
        )
        return self._reached(result)

    def _reached(self, result: Any) -> Any:
        """The server answered: reconnecting connections may try now."""
        for conn in self._connections:
            conn._server_reachable()
        return result

    @staticmethod
    def _parse(model: type[M], data: Any) -> M:
        return model.model_validate(data)

    # ----------------------------------------------------------------- sessions
    def join_url(self, code: str) -> str:
        """The invite link for a join code (the ``invite`` Edge Function)."""
        return f"{self.join_url_base}/functions/v1/invite/{code}"

    async def create_session(
        self,
        adventure_id: str | uuid.UUID,
        *,
        settings: SessionSettings | dict[str, Any] | None = None,
        max_players: int = 6,
    ) -> CreateSessionResult:
        """Create a session (the caller becomes its Seer); returns it with its join URL."""
        adventure = validate_uuid(adventure_id, "adventureId")
        _check_int(max_players, "maxPlayers", 1, 6)
        settings_json = _settings_wire(settings)
        data = await self._rpc(
            "create_session",
            {"p_adventure_id": adventure, "p_settings": settings_json, "p_max_players": max_players},
        )
        session = Session.model_validate(data)
        return CreateSessionResult(session=session, join_url=self.join_url(session.code))

    async def get_session(self, session_id: str | uuid.UUID) -> Session:
        """The session with its seats (participants only)."""
        sid = validate_uuid(session_id, "sessionId")
        return Session.model_validate(await self._rpc("get_session", {"p_session_id": sid}, idempotent=True))

    async def get_session_by_code(self, code: str) -> JoinPreview:
        """Preview a session by its join code (any signed-in user; rate limited)."""
        normalized = normalize_join_code(code)
        data = await self._rpc("get_session_by_code", {"p_code": normalized}, idempotent=True)
        return JoinPreview.model_validate(data)

    async def join_session(self, session_id: str | uuid.UUID, *, character_id: str | uuid.UUID) -> JoinResult:
        """Take a seat with ``character_id`` (a character of the caller's)."""
        sid = validate_uuid(session_id, "sessionId")
        cid = validate_uuid(character_id, "characterId")
        data = await self._rpc("join_session", {"p_session_id": sid, "p_character_id": cid})
        return JoinResult.model_validate(data)

    async def join_by_code(self, code: str, *, character_id: str | uuid.UUID) -> JoinResult:
        """Look the code up, then join (the PRD's join flow in one call)."""
        preview = await self.get_session_by_code(code)
        return await self.join_session(preview.session.id, character_id=character_id)

    async def leave_session(self, session_id: str | uuid.UUID) -> LeaveResult:
        """Leave the session (a player; the Seer ends it instead)."""
        sid = validate_uuid(session_id, "sessionId")
        return LeaveResult.model_validate(await self._rpc("leave_session", {"p_session_id": sid}))

    async def kick_player(
        self, session_id: str | uuid.UUID, *, player_id: str | uuid.UUID, reason: str | None = None
    ) -> KickResult:
        """Kick a seat (``player_id`` is the ``SessionPlayer.id``). Seer only."""
        sid = validate_uuid(session_id, "sessionId")
        pid = validate_uuid(player_id, "playerId")
        data = await self._rpc("kick_player", {"p_session_id": sid, "p_player_id": pid, "p_reason": reason})
        return KickResult.model_validate(data)

    async def readmit_player(
        self, session_id: str | uuid.UUID, *, player_id: str | uuid.UUID
    ) -> SessionPlayer:
        """The Seer's "wait" answer to a ``player_inactive`` prompt: the timed-out seat goes back
        to ``disconnected``, so the player's next heartbeat restores it. Seer only."""
        sid = validate_uuid(session_id, "sessionId")
        pid = validate_uuid(player_id, "playerId")
        data = await self._rpc("readmit_player", {"p_session_id": sid, "p_player_id": pid})
        return SessionPlayer.model_validate(data)

    async def update_session_settings(
        self,
        session_id: str | uuid.UUID,
        settings: SessionSettings | dict[str, Any] | None = None,
        *,
        max_players: int | None = None,
    ) -> Session:
        """Change the session's settings (Seer only): in the lobby any of them and
        ``max_players``; in a running game all but ``enableAISeer`` (SESSION_010). Only the
        keys given change; everyone gets one ``session_settings`` event."""
        sid = validate_uuid(session_id, "sessionId")
        if max_players is not None:
            _check_int(max_players, "maxPlayers", 1, 6)
        data = await self._rpc(
            "update_session_settings",
            {"p_session_id": sid, "p_settings": _settings_wire(settings), "p_max_players": max_players},
        )
        return Session.model_validate(data)

    async def start_session(self, session_id: str | uuid.UUID) -> StartResult:
        """Start a waiting session (Seer only); ``warning`` notes a small party."""
        sid = validate_uuid(session_id, "sessionId")
        return StartResult.model_validate(await self._rpc("start_session", {"p_session_id": sid}))

    async def pause_session(self, session_id: str | uuid.UUID) -> Session:
        """Pause an active session (Seer only)."""
        sid = validate_uuid(session_id, "sessionId")
        return Session.model_validate(await self._rpc("pause_session", {"p_session_id": sid}))

    async def resume_session(self, session_id: str | uuid.UUID) -> Session:
        """Resume a paused session (Seer only)."""
        sid = validate_uuid(session_id, "sessionId")
        return Session.model_validate(await self._rpc("resume_session", {"p_session_id": sid}))

    async def end_session(
        self, session_id: str | uuid.UUID, *, outcome: str, notes: str | None = None
    ) -> EndResult:
        """End the session as ``completed`` or ``cancelled`` (Seer only); returns stats and XP."""
        sid = validate_uuid(session_id, "sessionId")
        if outcome not in _OUTCOMES:
            raise ValidationError(details="outcome")
        data = await self._rpc("end_session", {"p_session_id": sid, "p_outcome": outcome, "p_notes": notes})
        return EndResult.model_validate(data)

    async def get_game_state(self, session_id: str | uuid.UUID) -> GameState:
        """The session's game state (participants only)."""
        sid = validate_uuid(session_id, "sessionId")
        return GameState.model_validate(
            await self._rpc("get_game_state", {"p_session_id": sid}, idempotent=True)
        )

    async def update_game_state(
        self,
        session_id: str | uuid.UUID,
        patch: GameStatePatch | dict[str, Any] | None = None,
        *,
        expected_version: int | None = None,
        turn_history: bool = True,
        **fields: Any,
    ) -> GameState:
        """Apply a patch (model, dict, or keyword fields such as ``current_node_id=...``).

        With ``expected_version`` a concurrent change raises :class:`StateVersionConflict`.
        ``turn_history=False`` asks for the new state without its turn history (the reply's
        ``turn_history`` is then empty): a client that keeps a :class:`SessionConnection` open
        already has it in ``conn.state``, and the server skips reading and sending the newest
        100 turns (~31 KB in a long game; about a quarter of the call's database CPU,
        docs/performance.md).
        """
        sid = validate_uuid(session_id, "sessionId")
        built = GameStatePatch.build(patch, **fields)
        if expected_version is not None:
            _check_int(expected_version, "expectedVersion", 0, _MAX_BIGINT)
        if not isinstance(turn_history, bool):
            raise ValidationError(details="turnHistory")
        args: dict[str, Any] = {
            "p_session_id": sid,
            "p_patch": built.to_wire(),
            "p_expected_version": expected_version,
        }
        if not turn_history:
            # only when asked: the default request is the PRD's, which any server answers
            args["p_turn_history"] = False
        data = await self._rpc("update_game_state", args)
        return GameState.model_validate(data)

    async def heartbeat(self, session_id: str | uuid.UUID, *, batched: bool = True) -> HeartbeatResult:
        """Mark the caller's seat connected (the connection calls this periodically).

        Sent to the ``heartbeat`` Edge Function, the collector that writes many users' beats in
        one database transaction (docs/heartbeat.md); the answer and the errors are the
        ``heartbeat`` RPC's. Where the function is not deployed (HTTP 404 from the gateway) the
        client calls the RPC, from then on; when the function answers a 5xx, that beat goes to
        the RPC (which is retried as usual). ``batched=False`` calls the RPC directly, without
        the collector's wait for a batch (a connection does on connect and reconnect).
        """
        sid = validate_uuid(session_id, "sessionId")
        if batched and self._project.heartbeat_collector:
            try:
                data = await self._function("heartbeat", {"sessionId": sid})
            except SeerError as exc:
                status = exc.status or 0
                # the database's answer passed on (SESSION_001 is a 404 too, 42501 a 401/403),
                # or no answer at all: the RPC would say the same
                gateway = status == 404 or status >= 500
                if not exc.answered or (exc.code or "").startswith("SESSION_") or not gateway:
                    raise
                if status == 404:
                    self._project.heartbeat_collector = False
                    log.info("heartbeat: no heartbeat function at %s; using the RPC", self.url)
                else:
                    log.warning("heartbeat: the heartbeat function answered %s; this beat uses the RPC", exc)
            else:
                return HeartbeatResult.model_validate(data)
        return HeartbeatResult.model_validate(
            await self._rpc("heartbeat", {"p_session_id": sid}, idempotent=True)
        )

    async def session_topic(self, session_id: str | uuid.UUID) -> str:
        """The session's current private realtime topic ``session:<id>:<key>``.

        Participants only (the key is a secret, rotated on every removal: docs/security.md);
        a removed player gets :class:`NotInSession` (SESSION_006), anyone else
        :class:`SessionNotFound` (SESSION_001).
        """
        return (await self._session_channel(session_id))[0]

    async def _session_channel(self, session_id: str | uuid.UUID) -> tuple[str, int]:
        """``(topic, generation)``: the current topic and how often its key was rotated."""
        sid = validate_uuid(session_id, "sessionId")
        data = await self._rpc("session_topic", {"p_session_id": sid}, idempotent=True)
        fields = cast(dict[str, Any], data) if isinstance(data, dict) else {}
        topic, generation = fields.get("topic"), fields.get("generation", 0)
        if (
            not isinstance(topic, str)
            or not topic.startswith(f"session:{sid}:")
            or not isinstance(generation, int)
            or isinstance(generation, bool)
        ):
            # (never echo the reply: it holds the secret key)
            raise TransportError("session_topic: unexpected reply")
        return topic, generation

    async def session_events_since(
        self, session_id: str | uuid.UUID, *, after_seq: int = 0, limit: int = 500
    ) -> list[SessionEvent]:
        """One page of events with ``seq > after_seq``, oldest first (server caps at 1000)."""
        sid = validate_uuid(session_id, "sessionId")
        _check_int(after_seq, "afterSeq", 0, _MAX_BIGINT)
        _check_int(limit, "limit", 1, 1000)
        data = await self._rpc(
            "session_events_since",
            {"p_session_id": sid, "p_after_seq": after_seq, "p_limit": limit},
            idempotent=True,
        )
        return parse_events(data or [])

    async def all_events_since(
        self, session_id: str | uuid.UUID, *, after_seq: int = 0, page_size: int = 500
    ) -> list[SessionEvent]:
        """Every event after ``after_seq``, paging through ``session_events_since``."""
        events: list[SessionEvent] = []
        cursor = after_seq
        while True:
            page = await self.session_events_since(session_id, after_seq=cursor, limit=page_size)
            events.extend(page)
            if len(page) < page_size:
                return events
            cursor = page[-1].seq

    async def submit_feedback(
        self, session_id: str | uuid.UUID, *, rating: int, comment: str | None = None
    ) -> Feedback:
        """Rate a finished session 1-5 with an optional comment (participants only)."""
        sid = validate_uuid(session_id, "sessionId")
        _check_int(rating, "rating", 1, 5)
        data = await self._rpc(
            "submit_feedback", {"p_session_id": sid, "p_rating": rating, "p_comment": comment}
        )
        return Feedback.model_validate(data)

    async def list_my_sessions(
        self,
        *,
        status: Sequence[str] | None = None,
        limit: int = 50,
        before: SessionSummary | str | uuid.UUID | None = None,
    ) -> list[SessionSummary]:
        """One page of the caller's sessions (as Seer or player), newest first.

        ``limit`` is 1-200; ``before`` (the last session of the previous page, or its id) asks
        for the page after it (keyset paging: pages stay right while sessions are created).
        ``status`` filters by session status. :meth:`iter_my_sessions` walks every page.
        """
        statuses: list[str] | None = None
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            if any(s not in _STATUSES for s in statuses):
                raise ValidationError(details="status")
        _check_int(limit, "limit", 1, 200)
        cursor = None
        if before is not None:
            cursor = validate_uuid(before.id if isinstance(before, SessionSummary) else before, "before")
        data = await self._rpc(
            "list_my_sessions",
            {"p_status": statuses, "p_limit": limit, "p_before": cursor},
            idempotent=True,
        )
        return TypeAdapter(list[SessionSummary]).validate_python(data or [])

    async def iter_my_sessions(
        self, *, status: Sequence[str] | None = None, page_size: int = 50
    ) -> AsyncIterator[SessionSummary]:
        """Every session of the caller, newest first, fetched ``page_size`` at a time.

        An async iterator over :meth:`list_my_sessions` pages (a plain iterator on the blocking
        client): ``async for summary in client.iter_my_sessions(status=["completed"]): ...``.
        """
        async for summary in _keyset_pages(
            lambda before: self.list_my_sessions(status=status, limit=page_size, before=before), page_size
        ):
            yield summary

    async def create_character(self, *, name: str, character_class: str) -> Character:
        """Create a character owned by the signed-in user."""
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(details="name")
        if not isinstance(character_class, str) or not character_class.strip():
            raise ValidationError(details="class")
        data = await self._rpc("create_character", {"p_name": name, "p_class": character_class})
        return Character.model_validate(data)

    async def list_my_characters(self) -> list[MyCharacter]:
        """The caller's characters, with the session each is in (if any)."""
        data = await self._rpc("list_my_characters", {}, idempotent=True)
        return TypeAdapter(list[MyCharacter]).validate_python(data or [])

    # ----------------------------------------------------------------- the game
    async def list_adventures(
        self,
        *,
        scope: str = "all",
        query: str | None = None,
        limit: int = 50,
        after: AdventureSummary | str | uuid.UUID | None = None,
    ) -> list[AdventureSummary]:
        """One page of the adventure library, by title: ``mine``, ``community`` (published) or
        ``all``; ``query`` matches title and description, case-insensitive.

        ``limit`` is 1-200; ``after`` (the last adventure of the previous page, or its id) asks for
        the next page (keyset paging). :meth:`iter_adventures` walks every page.
        """
        if scope not in _ADVENTURE_SCOPES:
            raise ValidationError(details="scope")
        _check_int(limit, "limit", 1, 200)
        cursor = None
        if after is not None:
            cursor = validate_uuid(after.id if isinstance(after, AdventureSummary) else after, "after")
        data = await self._rpc(
            "list_adventures",
            {"p_scope": scope, "p_query": query, "p_limit": limit, "p_after": cursor},
            idempotent=True,
        )
        return TypeAdapter(list[AdventureSummary]).validate_python(data or [])

    async def iter_adventures(
        self, *, scope: str = "all", query: str | None = None, page_size: int = 50
    ) -> AsyncIterator[AdventureSummary]:
        """Every adventure of the library matching ``scope`` and ``query``, by title, fetched
        ``page_size`` at a time.

        An async iterator over :meth:`list_adventures` pages (a plain iterator on the blocking
        client).
        """
        async for adventure in _keyset_pages(
            lambda after: self.list_adventures(scope=scope, query=query, limit=page_size, after=after),
            page_size,
        ):
            yield adventure

    async def import_adventure(self, document: Mapping[str, Any] | str | Path) -> AdventureSummary:
        """Import an adventure (unpublished, yours) from a JSON document or a JSON file path.

        The server validates it whole (one start node, links between its own nodes, an ending
        reachable from the start) and raises :class:`ValidationError` naming the problem.
        """
        if isinstance(document, str | Path):
            try:
                text = await asyncio.to_thread(Path(document).read_text, encoding="utf-8")
                doc = json.loads(text)
            except (OSError, ValueError) as exc:
                raise ValidationError(details=f"document: {exc}") from None
        else:
            doc = dict(document)
        data = await self._rpc("import_adventure", {"p_document": doc})
        return AdventureSummary.model_validate(data)

    async def publish_adventure(
        self, adventure_id: str | uuid.UUID, *, published: bool = True
    ) -> AdventureSummary:
        """Publish one of your adventures to the community library (``published=False`` withdraws
        it); others can then start sessions of it. Author only (:class:`NotAdventureAuthor`)."""
        aid = validate_uuid(adventure_id, "adventureId")
        data = await self._rpc("publish_adventure", {"p_adventure_id": aid, "p_published": bool(published)})
        return AdventureSummary.model_validate(data)

    async def roll_dice(
        self,
        session_id: str | uuid.UUID,
        expression: str,
        *,
        reason: str | None = None,
        character_id: str | uuid.UUID | None = None,
        hidden: bool = False,
    ) -> DiceRoll:
        """Roll on the server (``2d6+3``, ``4d6kh3``, ``1d20-1``). Players roll for their own
        character; the Seer for anyone, and may roll hidden."""
        sid = validate_uuid(session_id, "sessionId")
        cid = None if character_id is None else validate_uuid(character_id, "characterId")
        if not isinstance(expression, str) or not expression.strip():
            raise ValidationError(details="expression")
        data = await self._rpc(
            "roll_dice",
            {
                "p_session_id": sid,
                "p_expression": expression,
                "p_reason": reason,
                "p_character_id": cid,
                "p_hidden": bool(hidden),
            },
        )
        return DiceRoll.model_validate(data)

    async def list_dice_rolls(
        self,
        session_id: str | uuid.UUID,
        *,
        limit: int = 200,
        before: DiceRoll | str | uuid.UUID | None = None,
    ) -> list[DiceRoll]:
        """One page of the session's rolls as the caller may see them (the Seer: every die).

        The newest ``limit`` (1-1000) rolls, oldest first; ``before`` (a roll of this session, e.g.
        the first of the previous page, or its id) gives the ``limit`` rolls before it (keyset
        paging back through a long game). :meth:`iter_dice_rolls` walks every page.
        """
        sid = validate_uuid(session_id, "sessionId")
        _check_int(limit, "limit", 1, 1000)
        cursor = None
        if before is not None:
            cursor = validate_uuid(before.roll_id if isinstance(before, DiceRoll) else before, "before")
        data = await self._rpc(
            "list_dice_rolls",
            {"p_session_id": sid, "p_limit": limit, "p_before": cursor},
            idempotent=True,
        )
        return TypeAdapter(list[DiceRoll]).validate_python(data or [])

    async def iter_dice_rolls(
        self, session_id: str | uuid.UUID, *, page_size: int = 200
    ) -> AsyncIterator[DiceRoll]:
        """Every roll of the session, newest first, fetched ``page_size`` at a time.

        An async iterator over :meth:`list_dice_rolls` pages (a plain iterator on the blocking
        client): ``async for roll in client.iter_dice_rolls(session_id): ...``.
        """
        # list_dice_rolls pages run oldest first: walk each backwards, the next page before its first
        async for roll in _keyset_pages(
            lambda before: self.list_dice_rolls(session_id, limit=page_size, before=before),
            page_size,
            newest_first=False,
        ):
            yield roll

    async def start_combat(
        self, session_id: str | uuid.UUID, combatants: Sequence[Mapping[str, Any]], *, simple: bool = False
    ) -> GameState:
        """Start a combat: ``[{"characterId": ...}, {"name": "Eel Warden", "bonus": 2}]``;
        initiative is rolled on the server. ``simple`` with the session's
        ``autoResolveSimpleCombat`` resolves it by dice at once."""
        sid = validate_uuid(session_id, "sessionId")
        data = await self._rpc(
            "start_combat",
            {"p_session_id": sid, "p_combatants": [dict(c) for c in combatants], "p_simple": bool(simple)},
        )
        return GameState.model_validate(data)

    async def next_turn(self, session_id: str | uuid.UUID) -> GameState:
        """Pass the running combat's turn to the next combatant (Seer only); returns the game state.
        Without a running combat: :class:`CombatStateConflict`."""
        sid = validate_uuid(session_id, "sessionId")
        return GameState.model_validate(await self._rpc("next_turn", {"p_session_id": sid}))

    async def end_combat(self, session_id: str | uuid.UUID, outcome: str = "victory") -> GameState:
        """End the running combat as ``victory``, ``defeat``, ``fled`` or ``truce`` (Seer only);
        returns the game state. Without a running combat: :class:`CombatStateConflict`."""
        sid = validate_uuid(session_id, "sessionId")
        if outcome not in _COMBAT_OUTCOMES:
            raise ValidationError(details="outcome")
        return GameState.model_validate(
            await self._rpc("end_combat", {"p_session_id": sid, "p_outcome": outcome})
        )

    async def submit_action(
        self,
        session_id: str | uuid.UUID,
        text: str | None = None,
        *,
        choice: str | None = None,
        character_id: str | uuid.UUID | None = None,
    ) -> SessionEvent:
        """Propose an action or pick one of the current node's choices (by label). The Seer
        may act for a disconnected or inactive character (``character_id``). Returns the
        ``player_action`` event."""
        sid = validate_uuid(session_id, "sessionId")
        cid = None if character_id is None else validate_uuid(character_id, "characterId")
        if not (text and text.strip()) and not (choice and choice.strip()):
            raise ValidationError(details="text or choice is required")
        data = await self._rpc(
            "submit_action",
            {"p_session_id": sid, "p_text": text, "p_choice": choice, "p_character_id": cid},
        )
        return parse_events([data])[0]

    async def list_feedback(self, session_id: str | uuid.UUID) -> list[SeerFeedback]:
        """The feedback players left on the Seer's session."""
        sid = validate_uuid(session_id, "sessionId")
        data = await self._rpc("list_feedback", {"p_session_id": sid}, idempotent=True)
        return TypeAdapter(list[SeerFeedback]).validate_python(data or [])

    # ----------------------------------------------------------------- realtime
    def connect(
        self,
        session_id: str | uuid.UUID,
        *,
        character_id: str | uuid.UUID | None = None,
        **options: Unpack[ConnectionOptions],
    ) -> SessionConnection:
        """A :class:`SessionConnection` to the session; use ``async with client.connect(sid) as conn:``.

        ``async with`` opens it (subscribed and caught up) and closes it at the end; or call
        ``await conn.open()`` and ``await conn.close()``. The keywords are
        :class:`~seer_client.ConnectionOptions` (settings and handlers, typed); docs/sdk.md.
        """
        from ._connection import SessionConnection

        sid = validate_uuid(session_id, "sessionId")
        cid = validate_uuid(character_id, "characterId") if character_id is not None else None
        return SessionConnection(self, sid, character_id=cid, **options)

    async def close(self) -> None:
        """Close open connections (and the supabase client's sockets when we created it).

        On a :meth:`with_options` view this does nothing: the client it came from owns them.
        """
        if self._is_view:
            return
        for conn in list(self._connections):
            await conn.close()
        if self._owns_supabase:
            # Stop supabase-auth's auto-refresh timer task and the (unused) realtime socket.
            timer = getattr(self.supabase.auth, "_refresh_token_timer", None)
            if timer is not None:
                with contextlib.suppress(Exception):
                    timer.cancel()
            with contextlib.suppress(Exception):
                await self.supabase.realtime.close()
        if self._owns_transport:
            with contextlib.suppress(Exception):
                await self._transport.aclose()

    async def __aenter__(self) -> AsyncSeerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


#: The async client under its usual name.
SeerClient = AsyncSeerClient


def _build_supabase(
    url: str | None, key: str | None, call: CallOptions, options: Any
) -> tuple[AsyncClient, httpx.AsyncClient]:
    """The supabase client for ``url``/``key``, sending through one httpx client of ours.

    That client has no timeout of its own (supabase-auth's default is 5 s): each attempt is
    bounded by the SDK's ``timeout`` in :class:`~seer_client._transport.Transport`.
    """
    from supabase._async.client import SupabaseException

    from supabase import AsyncClient, AsyncClientOptions

    url = url if url is not None else os.environ.get("SUPABASE_URL")
    key = key if key is not None else os.environ.get("SUPABASE_ANON_KEY")
    if not url:
        raise ConfigError("no Supabase URL: pass url= or set SUPABASE_URL")
    if not key:
        raise ConfigError("no Supabase key: pass key= or set SUPABASE_ANON_KEY")
    if options is None:
        options = AsyncClientOptions()
    http: httpx.AsyncClient | None = getattr(options, "httpx_client", None)
    if http is None:
        http = httpx.AsyncClient(timeout=None, follow_redirects=True)
        options.httpx_client = http
    try:
        supabase = AsyncClient(url, key, options)
    except SupabaseException as exc:
        raise ConfigError(f"{exc} ({url!r})") from exc
    return supabase, http


async def _keyset_pages(
    fetch: Callable[[R | None], Awaitable[list[R]]], page_size: int, *, newest_first: bool = True
) -> AsyncIterator[R]:
    """Every row of a keyset-paged list: ``fetch(cursor)`` returns one page (``None`` for the
    first), the next page's cursor is the page's last row in walking order, and a short page is
    the last. ``newest_first=False`` walks lists whose pages come oldest first backwards."""
    cursor: R | None = None
    while True:
        page = await fetch(cursor)
        for row in page if newest_first else reversed(page):
            yield row
        if len(page) < page_size:
            return
        cursor = page[-1] if newest_first else page[0]


def _check_int(value: object, name: str, low: int, high: int) -> int:
    """A whole number in [low, high] (not a bool), else :class:`ValidationError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(details=name)
    return value


def _settings_wire(settings: SessionSettings | dict[str, Any] | None) -> dict[str, Any]:
    """Settings as create_session / update_session_settings take them (camelCase booleans;
    snake_case keys accepted); an unknown key or a non-boolean is SESSION_000 here already."""
    settings_json: dict[str, Any] = {}
    if isinstance(settings, SessionSettings):
        settings_json = settings.model_dump(by_alias=True, exclude_unset=True)
    elif isinstance(settings, dict):
        for key, value in settings.items():
            camel = key if key in _SETTINGS_KEYS else _SETTINGS_ALIASES.get(key, key)
            if camel not in _SETTINGS_KEYS or not isinstance(value, bool):
                raise ValidationError(details=f"settings.{key}")
            settings_json[camel] = value
    elif settings is not None:
        raise ValidationError(details="settings")
    return settings_json
