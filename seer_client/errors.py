"""Exceptions raised by the SDK, catchable by kind.

* :class:`SessionError` and one subclass per ``SESSION_xxx`` code (``except SessionFull:``).
* :class:`ConfigError`: a bad URL or key when building the client (wraps supabase's error).
* :class:`AuthError`: not signed in ("sign in first"), expired/invalid JWT, wrong password,
  realtime refusal.
* :class:`TransportError`: the network failed, the URL is not a Supabase API, or the server
  answered 5xx (after retries); the message names the URL.
* :class:`TimeoutError`: a :class:`TransportError` (and a builtin ``TimeoutError``) for an RPC
  without an answer in time or a ``wait_for`` that ran out.
* :class:`ApiError`: any other error answer (e.g. an unknown function, PostgREST 4xx).

All of them derive from :class:`SeerError` and carry ``status``, ``code``, ``message`` and
``details`` (any of which may be ``None`` when the failure had no HTTP answer). ``str(error)``
shows ``(HTTP n)`` only for an error the server answered (``error.answered``): an error raised
before any request (client-side validation, "sign in first") keeps the status its code has in
docs/contract.md in ``status`` but does not claim an HTTP answer.

The catalogue of session errors has one source here, :class:`SessionErrorCode` with
:data:`ERROR_TABLE` (status and message), one class per code (``error_code``);
tests/db/test_catalogues.py compares it with ``seer_private.error_codes``, docs/contract.md and
docs/sdk.md; :data:`SESSION_ERROR_CLASSES` is found from the classes, not listed again.
"""

from __future__ import annotations

import builtins
import json
import re
from enum import StrEnum
from typing import Any, ClassVar, cast

__all__ = [
    "AdventureNotFound",
    "AlreadyInSession",
    "AnonymousNotAllowed",
    "ApiError",
    "AuthError",
    "CharacterConnected",
    "CharacterInSession",
    "CombatStateConflict",
    "ConfigError",
    "InvalidJoinCode",
    "InvalidStatusTransition",
    "MinPlayersNotMet",
    "NotAdventureAuthor",
    "NotInSession",
    "NotSeer",
    "PayloadTooLarge",
    "RealtimeError",
    "SeerCannotLeave",
    "SeerError",
    "SessionError",
    "SessionErrorCode",
    "SessionEventLimit",
    "SessionFull",
    "SessionNotFound",
    "SessionNotWaiting",
    "SessionRateLimited",
    "SessionStarted",
    "StateVersionConflict",
    "TimeoutError",
    "TooManyActions",
    "TooManyAttempts",
    "TooManyLiveSessions",
    "TransportError",
    "ValidationError",
    "error_from_api_error",
    "error_from_response",
]


class SessionErrorCode(StrEnum):
    """The PRD's error codes plus SESSION_000 (validation) and SESSION_014 (version conflict)."""

    VALIDATION_ERROR = "SESSION_000"
    SESSION_NOT_FOUND = "SESSION_001"
    INVALID_JOIN_CODE = "SESSION_002"
    SESSION_FULL = "SESSION_003"
    SESSION_STARTED = "SESSION_004"
    SESSION_NOT_WAITING = "SESSION_005"
    NOT_IN_SESSION = "SESSION_006"
    NOT_SEER = "SESSION_007"
    ALREADY_IN_SESSION = "SESSION_008"
    CHARACTER_IN_SESSION = "SESSION_009"
    INVALID_STATUS_TRANSITION = "SESSION_010"
    MIN_PLAYERS_NOT_MET = "SESSION_011"
    SEER_CANNOT_LEAVE = "SESSION_012"
    ADVENTURE_NOT_FOUND = "SESSION_013"
    STATE_VERSION_CONFLICT = "SESSION_014"
    TOO_MANY_ATTEMPTS = "SESSION_015"
    TOO_MANY_LIVE_SESSIONS = "SESSION_016"
    SESSION_RATE_LIMITED = "SESSION_017"
    ANONYMOUS_NOT_ALLOWED = "SESSION_018"
    PAYLOAD_TOO_LARGE = "SESSION_019"
    NOT_ADVENTURE_AUTHOR = "SESSION_025"
    CHARACTER_CONNECTED = "SESSION_026"
    COMBAT_STATE_CONFLICT = "SESSION_027"
    TOO_MANY_ACTIONS = "SESSION_028"
    SESSION_EVENT_LIMIT = "SESSION_029"


# (status, message) exactly as docs/contract.md and the PRD list them.
ERROR_TABLE: dict[SessionErrorCode, tuple[int, str]] = {
    SessionErrorCode.VALIDATION_ERROR: (400, "Invalid input"),
    SessionErrorCode.SESSION_NOT_FOUND: (404, "Session not found"),
    SessionErrorCode.INVALID_JOIN_CODE: (400, "Invalid session code format"),
    SessionErrorCode.SESSION_FULL: (422, "Session is full"),
    SessionErrorCode.SESSION_STARTED: (422, "Session has already started"),
    SessionErrorCode.SESSION_NOT_WAITING: (422, "Session is not in waiting state"),
    SessionErrorCode.NOT_IN_SESSION: (403, "You are not in this session"),
    SessionErrorCode.NOT_SEER: (403, "Only the Seer can perform this action"),
    SessionErrorCode.ALREADY_IN_SESSION: (409, "You are already in this session"),
    SessionErrorCode.CHARACTER_IN_SESSION: (409, "This character is already in another session"),
    SessionErrorCode.INVALID_STATUS_TRANSITION: (422, "Invalid session status transition"),
    SessionErrorCode.MIN_PLAYERS_NOT_MET: (422, "Minimum player count not met"),
    SessionErrorCode.SEER_CANNOT_LEAVE: (422, "Seer cannot leave session. End it instead."),
    SessionErrorCode.ADVENTURE_NOT_FOUND: (404, "Adventure not found"),
    SessionErrorCode.STATE_VERSION_CONFLICT: (409, "Game state has changed; reload and retry"),
    SessionErrorCode.TOO_MANY_ATTEMPTS: (429, "Too many failed attempts; try again later"),
    SessionErrorCode.TOO_MANY_LIVE_SESSIONS: (422, "Too many live sessions; end one first"),
    SessionErrorCode.SESSION_RATE_LIMITED: (429, "Too many sessions created; try again later"),
    SessionErrorCode.ANONYMOUS_NOT_ALLOWED: (403, "Sign in with an account to do this"),
    SessionErrorCode.PAYLOAD_TOO_LARGE: (413, "Game state or event is too large"),
    SessionErrorCode.NOT_ADVENTURE_AUTHOR: (403, "Only the author can change this adventure"),
    SessionErrorCode.CHARACTER_CONNECTED: (
        409,
        "This character's player is connected and acts for themselves",
    ),
    SessionErrorCode.COMBAT_STATE_CONFLICT: (409, "A combat is already running, or none is"),
    SessionErrorCode.TOO_MANY_ACTIONS: (429, "Too many actions; wait a moment and retry"),
    SessionErrorCode.SESSION_EVENT_LIMIT: (
        422,
        "This session has reached its event limit; end it and start a new one",
    ),
}


class SeerError(Exception):
    """Base class of every error the SDK raises."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
        hint: str | None = None,
        answered: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details
        self.hint = hint
        #: True when the server answered this error (``status`` is then the HTTP status).
        self.answered = answered

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.insert(0, f"[{self.code}]")
        if self.status and self.answered:
            parts.append(f"(HTTP {self.status})")
        if self.details not in (None, ""):
            parts.append(f"details={self.details!r}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, "
            f"message={self.message!r}, details={self.details!r})"
        )


class TransportError(SeerError):
    """The request did not get a usable answer: connection failure, timeout, or 5xx.

    After an RPC, ``attempts`` and ``elapsed`` (seconds) say how many attempts were made
    (``max_retries`` + 1 at most for reads; one for calls that change data) and how long they took;
    the message says it too.
    """

    attempts: int | None = None
    elapsed: float | None = None


class TimeoutError(TransportError, builtins.TimeoutError):
    """No answer in time: an RPC past its ``timeout``, or ``wait_for``/``wait_for_seq`` ran out.

    Also a builtin :class:`TimeoutError`, so ``except TimeoutError`` keeps working.
    """


class ConfigError(SeerError):
    """The client could not be built: missing or malformed URL or key (wraps supabase's error)."""


class AuthError(SeerError):
    """Authentication or authorization failed outside the session rules (401/403, bad JWT)."""


class RealtimeError(SeerError):
    """A realtime channel could not be joined or kept (not an authorization problem)."""


class ApiError(SeerError):
    """An error answer that is neither a session rule, auth, nor transport failure."""


class SessionError(SeerError):
    """A session rule was violated; ``code`` is a :class:`SessionErrorCode`."""

    error_code: ClassVar[SessionErrorCode | None] = None
    code: SessionErrorCode

    def __init__(
        self,
        message: str | None = None,
        *,
        code: SessionErrorCode | str | None = None,
        status: int | None = None,
        details: Any = None,
        hint: str | None = None,
        answered: bool = False,
    ) -> None:
        resolved = SessionErrorCode(code) if code is not None else self.error_code
        if resolved is None:
            raise TypeError("SessionError needs a code")
        default_status, default_message = ERROR_TABLE[resolved]
        super().__init__(
            message or default_message,
            status=status if status is not None else default_status,
            code=resolved,
            details=details,
            hint=hint,
            answered=answered,
        )
        self.code = resolved


class ValidationError(SessionError):
    """Invalid input (SESSION_000, HTTP 400)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.VALIDATION_ERROR


class SessionNotFound(SessionError):
    """Session not found (SESSION_001, HTTP 404)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.SESSION_NOT_FOUND


class InvalidJoinCode(SessionError):
    """Invalid session code format (SESSION_002, HTTP 400)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.INVALID_JOIN_CODE


class SessionFull(SessionError):
    """Session is full (SESSION_003, HTTP 422)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.SESSION_FULL


class SessionStarted(SessionError):
    """Session has already started (SESSION_004, HTTP 422)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.SESSION_STARTED


class SessionNotWaiting(SessionError):
    """Session is not in waiting state (SESSION_005, HTTP 422)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.SESSION_NOT_WAITING


class NotInSession(SessionError):
    """You are not in this session (SESSION_006, HTTP 403)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.NOT_IN_SESSION


class NotSeer(SessionError):
    """Only the Seer can perform this action (SESSION_007, HTTP 403)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.NOT_SEER


class AlreadyInSession(SessionError):
    """You are already in this session (SESSION_008, HTTP 409)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.ALREADY_IN_SESSION


class CharacterInSession(SessionError):
    """This character is already in another session (SESSION_009, HTTP 409)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.CHARACTER_IN_SESSION


class InvalidStatusTransition(SessionError):
    """Invalid session status transition (SESSION_010, HTTP 422)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.INVALID_STATUS_TRANSITION


class MinPlayersNotMet(SessionError):
    """Minimum player count not met (SESSION_011, HTTP 422)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.MIN_PLAYERS_NOT_MET


class SeerCannotLeave(SessionError):
    """Seer cannot leave session. End it instead. (SESSION_012, HTTP 422)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.SEER_CANNOT_LEAVE


class AdventureNotFound(SessionError):
    """Adventure not found (SESSION_013, HTTP 404)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.ADVENTURE_NOT_FOUND


class StateVersionConflict(SessionError):
    """Game state has changed; reload and retry (SESSION_014, HTTP 409)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.STATE_VERSION_CONFLICT

    @property
    def current_version(self) -> int | None:
        """The server's version, parsed from ``details`` (``currentVersion=N``)."""
        match = re.search(r"currentVersion=(\d+)", str(self.details or ""))
        return int(match.group(1)) if match else None


class TooManyAttempts(SessionError):
    """Too many unknown join codes looked up recently (rate limit; see docs/security.md)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.TOO_MANY_ATTEMPTS


class TooManyLiveSessions(SessionError):
    """The Seer already runs the maximum number of live sessions (docs/contract.md, Limits)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.TOO_MANY_LIVE_SESSIONS


class SessionRateLimited(SessionError):
    """Too many sessions created recently by this user (docs/contract.md, Limits)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.SESSION_RATE_LIMITED


class AnonymousNotAllowed(SessionError):
    """Anonymous users cannot create, join or look up sessions (docs/security.md)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.ANONYMOUS_NOT_ALLOWED


class PayloadTooLarge(SessionError):
    """The game state or an event would exceed its size ceiling (docs/contract.md, Limits)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.PAYLOAD_TOO_LARGE


class NotAdventureAuthor(SessionError):
    """Only the adventure's author may change it."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.NOT_ADVENTURE_AUTHOR


class CharacterConnected(SessionError):
    """The Seer tried to act for a character whose player is connected."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.CHARACTER_CONNECTED


class CombatStateConflict(SessionError):
    """start_combat while a combat runs, or next_turn/end_combat without one."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.COMBAT_STATE_CONFLICT


class TooManyActions(SessionError):
    """A player sent actions or rolls faster than the per-player rate limit (docs/security.md,
    Limits). ``retry_after`` is the server's hint: seconds until the next one is accepted."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.TOO_MANY_ACTIONS

    @property
    def retry_after(self) -> int | None:
        """Seconds to wait, parsed from the hint (``retry in N s``)."""
        match = re.search(r"retry in (\d+) s", str(self.hint or ""))
        return int(match.group(1)) if match else None


class SessionEventLimit(SessionError):
    """The session holds the maximum number of events; game writes are refused (end it)."""

    error_code: ClassVar[SessionErrorCode | None] = SessionErrorCode.SESSION_EVENT_LIMIT


def _catalogue() -> dict[SessionErrorCode, type[SessionError]]:
    """One class per code, found from the classes themselves (no second list to keep in step)."""
    found: dict[SessionErrorCode, type[SessionError]] = {}
    pending: list[type[SessionError]] = list(SessionError.__subclasses__())
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if cls.error_code is not None and cls.__module__ == __name__:
            if cls.error_code in found:
                raise TypeError(f"two classes for {cls.error_code}: {found[cls.error_code]} and {cls}")
            found[cls.error_code] = cls
    missing = set(SessionErrorCode) - set(found)
    if missing or set(ERROR_TABLE) != set(SessionErrorCode):
        raise TypeError(f"error catalogue out of step: no class for {sorted(missing)}")
    return dict(sorted(found.items()))


SESSION_ERROR_CLASSES: dict[SessionErrorCode, type[SessionError]] = _catalogue()

_SESSION_CODE = re.compile(r"^SESSION_\d{3}$")
# PostgREST's JWT/auth error codes (PGRST300-series) and Postgres "insufficient privilege".
_AUTH_CODES = re.compile(r"^(PGRST30\d|42501)$")


def session_error(
    code: SessionErrorCode | str, details: Any = None, message: str | None = None
) -> SessionError:
    """Build the subclass for ``code`` (used by client-side validation too)."""
    resolved = SessionErrorCode(code)
    return SESSION_ERROR_CLASSES[resolved](message, details=details)


def error_from_response(status: int | None, body: Any, *, text: str | None = None) -> SeerError:
    """Map an HTTP error answer (status + decoded JSON body, PostgREST shape) to an exception."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            text, body = body, None
    data: dict[str, Any] = cast(dict[str, Any], body) if isinstance(body, dict) else {}
    code = data.get("code")
    code = str(code) if code is not None else None
    message = data.get("message") or data.get("msg") or data.get("error_description") or data.get("error")
    details = data.get("details")
    hint = data.get("hint")
    if code and _SESSION_CODE.match(code):
        try:
            enum_code = SessionErrorCode(code)
        except ValueError:
            enum_code = None
        if enum_code is not None:
            cls = SESSION_ERROR_CLASSES[enum_code]
            return cls(
                message or None, status=status, details=details, hint=hint, answered=status is not None
            )
    answered = status is not None
    message = str(message) if message else (text or f"HTTP {status}")
    if status in (401, 403) or (code and _AUTH_CODES.match(code)):
        return AuthError(message, status=status, code=code, details=details, hint=hint, answered=answered)
    if status is not None and status >= 500:
        return TransportError(
            message, status=status, code=code, details=details, hint=hint, answered=answered
        )
    return ApiError(message, status=status, code=code, details=details, hint=hint, answered=answered)


def error_from_api_error(exc: Any, status: int | None = None) -> SeerError:
    """Map a ``postgrest.exceptions.APIError`` (which does not carry the HTTP status).

    postgrest 2.34 builds ``APIError`` from the JSON body only; when the body is not
    PostgREST JSON it puts the HTTP status in ``code`` (e.g. ``"503"``). SESSION codes carry
    their status in the error table, so ``status`` is only needed for the generic cases.
    """
    raw: dict[str, Any] = {}
    if hasattr(exc, "json"):
        try:
            raw = dict(exc.json())
        except Exception:
            raw = {}
    if not raw:
        raw = {
            "code": getattr(exc, "code", None),
            "message": getattr(exc, "message", None),
            "details": getattr(exc, "details", None),
            "hint": getattr(exc, "hint", None),
        }
    code = raw.get("code")
    if status is None and isinstance(code, str) and code.isdigit() and len(code) == 3:
        status = int(code)
    if status is None and isinstance(code, str) and _AUTH_CODES.match(code):
        status = 401
    return error_from_response(status, raw)
