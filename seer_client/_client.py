"""The async :class:`SeerClient`: one typed method per RPC of docs/contract.md."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import copy
import json
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Unpack, cast

import httpx
from pydantic import BaseModel, TypeAdapter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from .errors import (
    AuthError,
    ConfigError,
    SeerError,
    TimeoutError,
    TransportError,
    ValidationError,
    error_from_api_error,
    error_from_response,
)
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

__all__ = ["SeerClient"]

log: logging.Logger = logging.getLogger("seer_client.client")

M = TypeVar("M", bound=BaseModel)

_OUTCOMES = ("completed", "cancelled")
_ADVENTURE_SCOPES = ("mine", "community", "all")
_COMBAT_OUTCOMES = ("victory", "defeat", "fled", "truce")
_STATUSES = ("waiting", "active", "paused", "completed", "cancelled")
_SETTINGS_KEYS = frozenset(
    {"allowLateJoin", "showDiceRolls", "autoResolveSimpleCombat", "enableAISeer", "voiceChatEnabled"}
)


def _is_error_body(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    body = cast(dict[str, Any], data)
    code = body.get("code")
    return (
        set(body) == {"code", "message", "details", "hint"}
        and isinstance(code, str)
        and code.startswith("SESSION_")
    )


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, TransportError) and (exc.status is None or exc.status >= 500)


class SeerClient:
    """Async client for Seer sessions on Supabase.

    Build it from an existing ``supabase.AsyncClient`` (``SeerClient(supabase)``) or with
    ``await SeerClient.create(url, key)``. Every RPC is a keyword-argument method returning a
    pydantic model; errors are :mod:`seer_client.errors` exceptions.
    """

    def __init__(
        self,
        supabase: AsyncClient,
        *,
        join_url_base: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        owns_supabase: bool = False,
    ) -> None:
        from supabase import Client as SyncSupabaseClient

        if isinstance(supabase, SyncSupabaseClient):
            raise ConfigError(
                "SeerClient needs supabase's AsyncClient (await supabase.acreate_client(url, key)); "
                "for blocking code use seer_client.sync.SeerClient.create(url, key)"
            )
        self.supabase = supabase
        self.url: str = str(supabase.supabase_url).rstrip("/")
        base = join_url_base or self.url
        self.join_url_base: str = base.rstrip("/")
        self.timeout: float = _check_timeout(timeout)
        self.retries: int = max(1, retries)
        self._owns_supabase = owns_supabase
        self._connections: set[SessionConnection] = set()
        self._postgrest_clients: list[Any] = []

    @classmethod
    async def create(
        cls,
        url: str | None = None,
        key: str | None = None,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - the client's setting, not this call's
        retries: int = 3,
        join_url_base: str | None = None,
        options: Any = None,
    ) -> SeerClient:
        """Build the client and its ``supabase.AsyncClient``.

        ``url`` and ``key`` default to ``SUPABASE_URL`` and ``SUPABASE_ANON_KEY``. ``timeout``
        (seconds) bounds every RPC and auth call; idempotent reads are tried ``retries`` times
        on transport errors. A missing or malformed URL or key raises :class:`ConfigError`.
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
            options = AsyncClientOptions(postgrest_client_timeout=_check_timeout(timeout))
        try:
            supabase = await AsyncClient.create(url, key, options)
        except SupabaseException as exc:
            raise ConfigError(f"{exc} ({url!r})") from exc
        return cls(
            supabase, join_url_base=join_url_base, timeout=timeout, retries=retries, owns_supabase=True
        )

    def with_options(self, *, timeout: float | None = None, retries: int | None = None) -> SeerClient:
        """A view of this client with another ``timeout``/``retries``, for one call site.

        It shares the signed-in session and connections; closing it closes nothing.
        """
        clone = copy.copy(self)
        clone._owns_supabase = False
        if timeout is not None:
            clone.timeout = _check_timeout(timeout)
        if retries is not None:
            clone.retries = max(1, retries)
        return clone

    # ----------------------------------------------------------------- auth pass-through
    async def sign_up(self, email: str, password: str, *, display_name: str | None = None) -> str:
        """Create an account (and sign in when the project auto-confirms). Returns the user id."""
        data = {"display_name": display_name} if display_name else {}
        response = await self._auth_call(
            self.supabase.auth.sign_up({"email": email, "password": password, "options": {"data": data}})
        )
        if response.user is None:
            raise AuthError("sign-up returned no user", status=None)
        return str(response.user.id)

    async def sign_in(self, email: str, password: str) -> str:
        """Sign in with email and password. Returns the user id."""
        response = await self._auth_call(
            self.supabase.auth.sign_in_with_password({"email": email, "password": password})
        )
        if response.user is None:
            raise AuthError("sign-in returned no user")
        return str(response.user.id)

    async def sign_out(self) -> None:
        """Sign out; RPCs then raise :class:`AuthError` ("sign in first") until the next sign-in."""
        await self._auth_call(self.supabase.auth.sign_out())

    async def user_id(self) -> str:
        """The signed-in user's id (raises :class:`AuthError` when signed out)."""
        session = await self._auth_call(self.supabase.auth.get_session())
        if session is None or session.user is None:
            raise AuthError("not signed in", status=401)
        return str(session.user.id)

    async def access_token(self, *, refresh: bool = False) -> str | None:
        """The current access token (refreshed first when ``refresh`` or when expired)."""
        if refresh:
            try:
                response = await self._auth_call(self.supabase.auth.refresh_session())
                return response.session.access_token if response.session else None
            except AuthError:
                return None
        session = await self._auth_call(self.supabase.auth.get_session())
        return session.access_token if session else None

    async def _auth_call(self, awaitable: Any) -> Any:
        from supabase_auth.errors import AuthError as GoTrueError
        from supabase_auth.errors import AuthRetryableError, AuthUnknownError

        try:
            return await asyncio.wait_for(awaitable, self.timeout)
        except builtins.TimeoutError as exc:
            raise TimeoutError(f"auth request to {self.url} got no answer within {self.timeout:g} s") from exc
        except GoTrueError as exc:
            status = getattr(exc, "status", None)
            http_error = _http_status_error(exc)
            if http_error is not None:
                status = http_error.response.status_code
            if status in (404, 405):
                # GoTrue answers every route it has; a 404 means this is not a Supabase API.
                raise TransportError(
                    f"no Supabase Auth API at {self.url}/auth/v1 (HTTP {status}); check the URL",
                    status=status,
                ) from exc
            # supabase-auth reports network failures as AuthRetryableError(status 0) and
            # gateway errors (5xx) the same way: those are transport problems, not auth.
            if isinstance(exc, AuthRetryableError) or (status is not None and status >= 500):
                raise TransportError(
                    f"{self.url}: {exc.message}", status=status or None, code=exc.code
                ) from exc
            if isinstance(exc, AuthUnknownError) and isinstance(exc.original_error, httpx.HTTPError):
                raise TransportError(f"{self.url}: {exc.message}") from exc
            raise AuthError(exc.message, status=status, code=exc.code) from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"auth request to {self.url} failed: {type(exc).__name__}: {exc}") from exc

    # ----------------------------------------------------------------- RPC plumbing
    async def _send_once(self, fn: str, params: dict[str, Any]) -> Any:
        from httpx import Headers
        from postgrest.exceptions import APIError

        postgrest = self.supabase.postgrest
        if postgrest not in self._postgrest_clients:
            # supabase-py builds a new PostgREST client after every auth event and drops the
            # old one unclosed; keep them so close() can release their connections.
            self._postgrest_clients.append(postgrest)
        builder = postgrest.rpc(fn, params)
        request = getattr(builder, "request", None)
        try:
            if request is not None and hasattr(request, "send"):
                # Send through postgrest's request config so we see the HTTP status, which
                # postgrest's APIError drops; auth headers and URL stay supabase's.
                response: httpx.Response = await request.send(Headers())
                if response.is_success:
                    if not response.content:
                        return None
                    data = response.json()
                    if _is_error_body(data):
                        # A function may answer its error body itself and set PostgREST's
                        # response.status (get_session_by_code does, to keep its rate-limit
                        # count); never hand such a body back as a result.
                        raise error_from_response(None, data)
                    return data
                try:
                    body: Any = response.json()
                except ValueError:
                    body = None
                if body is None and response.status_code in (404, 405):
                    # PostgREST answers JSON for every route; anything else is the wrong URL.
                    raise TransportError(
                        f"{fn}: no Supabase REST API at {self.url}/rest/v1 (HTTP {response.status_code});"
                        " check the URL",
                        status=response.status_code,
                    )
                raise error_from_response(response.status_code, body, text=response.text or None)
            result = await builder.execute()
            return result.data
        except SeerError:
            raise
        except APIError as exc:
            raise error_from_api_error(exc) from exc
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"{fn}: {self.url} did not answer within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"{fn}: {self.url} unreachable: {type(exc).__name__}: {exc}") from exc

    async def _send(self, fn: str, params: dict[str, Any]) -> Any:
        try:
            result = await asyncio.wait_for(self._send_once(fn, params), self.timeout)
        except builtins.TimeoutError as exc:
            if isinstance(exc, TimeoutError):
                raise
            raise TimeoutError(f"{fn}: {self.url} did not answer within {self.timeout:g} s") from exc
        for conn in self._connections:  # the server answers: reconnecting ones try now
            conn._server_reachable()
        return result

    async def _require_session(self, fn: str) -> None:
        session = await self._auth_call(self.supabase.auth.get_session())
        if session is None:
            raise AuthError(f"sign in first: {fn} needs a signed-in user", status=401)

    async def _rpc(self, fn: str, params: dict[str, Any], *, idempotent: bool = False) -> Any:
        """Call an RPC. Only idempotent calls are retried, and only on transport/5xx errors."""
        await self._require_session(fn)
        if not idempotent:
            return await self._send(fn, params)
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.retries),
            wait=wait_random_exponential(multiplier=0.2, max=2.0),
            retry=retry_if_exception(_retryable),
            before_sleep=lambda state: _log_retry(fn, state, self.retries),
            reraise=True,
        ):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    log.info(
                        "retrying %s (attempt %d of %d)", fn, attempt.retry_state.attempt_number, self.retries
                    )
                return await self._send(fn, params)
        raise AssertionError("unreachable")  # pragma: no cover

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
        if isinstance(max_players, bool) or not isinstance(max_players, int) or not 1 <= max_players <= 6:
            raise ValidationError(details="maxPlayers")
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
        if max_players is not None and (
            isinstance(max_players, bool) or not isinstance(max_players, int) or not 1 <= max_players <= 6
        ):
            raise ValidationError(details="maxPlayers")
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
        **fields: Any,
    ) -> GameState:
        """Apply a patch (model, dict, or keyword fields such as ``current_node_id=...``).

        With ``expected_version`` a concurrent change raises :class:`StateVersionConflict`.
        """
        sid = validate_uuid(session_id, "sessionId")
        built = GameStatePatch.build(patch, **fields)
        if expected_version is not None and (
            isinstance(expected_version, bool)
            or not isinstance(expected_version, int)
            or expected_version < 0
        ):
            raise ValidationError(details="expectedVersion")
        data = await self._rpc(
            "update_game_state",
            {"p_session_id": sid, "p_patch": built.to_wire(), "p_expected_version": expected_version},
        )
        return GameState.model_validate(data)

    async def heartbeat(self, session_id: str | uuid.UUID) -> HeartbeatResult:
        """Mark the caller's seat connected (the connection calls this periodically)."""
        sid = validate_uuid(session_id, "sessionId")
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
        if isinstance(after_seq, bool) or not isinstance(after_seq, int) or after_seq < 0:
            raise ValidationError(details="afterSeq")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ValidationError(details="limit")
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
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise ValidationError(details="rating")
        data = await self._rpc(
            "submit_feedback", {"p_session_id": sid, "p_rating": rating, "p_comment": comment}
        )
        return Feedback.model_validate(data)

    async def list_my_sessions(self, *, status: Sequence[str] | None = None) -> list[SessionSummary]:
        """The caller's sessions (as Seer or player), optionally filtered by status."""
        statuses: list[str] | None = None
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            if any(s not in _STATUSES for s in statuses):
                raise ValidationError(details="status")
        data = await self._rpc("list_my_sessions", {"p_status": statuses}, idempotent=True)
        return TypeAdapter(list[SessionSummary]).validate_python(data or [])

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
        self, *, scope: str = "all", query: str | None = None, limit: int = 50
    ) -> list[AdventureSummary]:
        """The adventure library: ``mine``, ``community`` (published) or ``all``; ``query``
        matches title and description, case-insensitive."""
        if scope not in _ADVENTURE_SCOPES:
            raise ValidationError(details="scope")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 200:
            raise ValidationError(details="limit")
        data = await self._rpc(
            "list_adventures", {"p_scope": scope, "p_query": query, "p_limit": limit}, idempotent=True
        )
        return TypeAdapter(list[AdventureSummary]).validate_python(data or [])

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

    async def list_dice_rolls(self, session_id: str | uuid.UUID, *, limit: int = 200) -> list[DiceRoll]:
        """The session's rolls as the caller may see them (the Seer: every die)."""
        sid = validate_uuid(session_id, "sessionId")
        data = await self._rpc("list_dice_rolls", {"p_session_id": sid, "p_limit": limit}, idempotent=True)
        return TypeAdapter(list[DiceRoll]).validate_python(data or [])

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
        sid = validate_uuid(session_id, "sessionId")
        return GameState.model_validate(await self._rpc("next_turn", {"p_session_id": sid}))

    async def end_combat(self, session_id: str | uuid.UUID, outcome: str = "victory") -> GameState:
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
        """A :class:`SessionConnection`; use ``async with client.connect(sid) as conn:``.

        The keywords are :class:`~seer_client.ConnectionOptions` (settings and handlers)."""
        from ._connection import SessionConnection

        sid = validate_uuid(session_id, "sessionId")
        cid = validate_uuid(character_id, "characterId") if character_id is not None else None
        return SessionConnection(self, sid, character_id=cid, **options)

    async def close(self) -> None:
        """Close open connections (and the supabase client's sockets when we created it)."""
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
            for postgrest in self._postgrest_clients:
                with contextlib.suppress(Exception):
                    await postgrest.aclose()
            self._postgrest_clients.clear()
            with contextlib.suppress(Exception):
                await self.supabase.auth.close()

    async def __aenter__(self) -> SeerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _http_status_error(exc: BaseException) -> httpx.HTTPStatusError | None:
    """The ``httpx.HTTPStatusError`` behind a supabase-auth error (it nests it differently per case)."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, httpx.HTTPStatusError):
            return current
        original = getattr(current, "original_error", None)
        stack += [
            original if isinstance(original, BaseException) else None,
            current.__cause__,
            current.__context__,
        ]
    return None


def _log_retry(fn: str, state: RetryCallState, attempts: int) -> None:
    delay = state.next_action.sleep if state.next_action else 0.0
    error = state.outcome.exception() if state.outcome else None
    log.info(
        "%s failed (%s); retrying in %.2f s (attempt %d of %d)",
        fn,
        error,
        delay,
        state.attempt_number + 1,
        attempts,
    )


def _check_timeout(timeout: float) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 3600:
        raise ConfigError(f"timeout must be a number of seconds in (0, 3600], got {timeout!r}")
    return float(timeout)


def _settings_wire(settings: SessionSettings | dict[str, Any] | None) -> dict[str, Any]:
    """Settings as create_session / update_session_settings take them (camelCase booleans;
    snake_case keys accepted); an unknown key or a non-boolean is SESSION_000 here already."""
    settings_json: dict[str, Any] = {}
    if isinstance(settings, SessionSettings):
        settings_json = settings.model_dump(by_alias=True, exclude_unset=True)
    elif isinstance(settings, dict):
        for key, value in settings.items():
            camel = key if key in _SETTINGS_KEYS else _snake_settings_key(key)
            if camel not in _SETTINGS_KEYS or not isinstance(value, bool):
                raise ValidationError(details=f"settings.{key}")
            settings_json[camel] = value
    elif settings is not None:
        raise ValidationError(details="settings")
    return settings_json


def _snake_settings_key(key: str) -> str:
    from pydantic.alias_generators import to_camel

    if key == "enable_ai_seer":
        return "enableAISeer"
    return to_camel(key)
