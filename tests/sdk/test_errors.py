from __future__ import annotations

import pytest
from postgrest.exceptions import APIError

from seer_client import errors as e
from seer_client.errors import SessionErrorCode, error_from_api_error, error_from_response

CONTRACT_TABLE = [
    ("SESSION_000", "VALIDATION_ERROR", 400, "Invalid input", e.ValidationError),
    ("SESSION_001", "SESSION_NOT_FOUND", 404, "Session not found", e.SessionNotFound),
    ("SESSION_002", "INVALID_JOIN_CODE", 400, "Invalid session code format", e.InvalidJoinCode),
    ("SESSION_003", "SESSION_FULL", 422, "Session is full", e.SessionFull),
    ("SESSION_004", "SESSION_STARTED", 422, "Session has already started", e.SessionStarted),
    ("SESSION_005", "SESSION_NOT_WAITING", 422, "Session is not in waiting state", e.SessionNotWaiting),
    ("SESSION_006", "NOT_IN_SESSION", 403, "You are not in this session", e.NotInSession),
    ("SESSION_007", "NOT_SEER", 403, "Only the Seer can perform this action", e.NotSeer),
    ("SESSION_008", "ALREADY_IN_SESSION", 409, "You are already in this session", e.AlreadyInSession),
    (
        "SESSION_009",
        "CHARACTER_IN_SESSION",
        409,
        "This character is already in another session",
        e.CharacterInSession,
    ),
    (
        "SESSION_010",
        "INVALID_STATUS_TRANSITION",
        422,
        "Invalid session status transition",
        e.InvalidStatusTransition,
    ),
    ("SESSION_011", "MIN_PLAYERS_NOT_MET", 422, "Minimum player count not met", e.MinPlayersNotMet),
    (
        "SESSION_012",
        "SEER_CANNOT_LEAVE",
        422,
        "Seer cannot leave session. End it instead.",
        e.SeerCannotLeave,
    ),
    ("SESSION_013", "ADVENTURE_NOT_FOUND", 404, "Adventure not found", e.AdventureNotFound),
    (
        "SESSION_014",
        "STATE_VERSION_CONFLICT",
        409,
        "Game state has changed; reload and retry",
        e.StateVersionConflict,
    ),
    ("SESSION_015", "TOO_MANY_ATTEMPTS", 429, "Too many failed attempts; try again later", e.TooManyAttempts),
    (
        "SESSION_016",
        "TOO_MANY_LIVE_SESSIONS",
        422,
        "Too many live sessions; end one first",
        e.TooManyLiveSessions,
    ),
    (
        "SESSION_017",
        "SESSION_RATE_LIMITED",
        429,
        "Too many sessions created; try again later",
        e.SessionRateLimited,
    ),
    (
        "SESSION_018",
        "ANONYMOUS_NOT_ALLOWED",
        403,
        "Sign in with an account to do this",
        e.AnonymousNotAllowed,
    ),
    ("SESSION_019", "PAYLOAD_TOO_LARGE", 413, "Game state or event is too large", e.PayloadTooLarge),
    (
        "SESSION_025",
        "NOT_ADVENTURE_AUTHOR",
        403,
        "Only the author can change this adventure",
        e.NotAdventureAuthor,
    ),
    (
        "SESSION_026",
        "CHARACTER_CONNECTED",
        409,
        "This character's player is connected and acts for themselves",
        e.CharacterConnected,
    ),
    (
        "SESSION_027",
        "COMBAT_STATE_CONFLICT",
        409,
        "A combat is already running, or none is",
        e.CombatStateConflict,
    ),
    ("SESSION_028", "TOO_MANY_ACTIONS", 429, "Too many actions; wait a moment and retry", e.TooManyActions),
    (
        "SESSION_029",
        "SESSION_EVENT_LIMIT",
        422,
        "This session has reached its event limit; end it and start a new one",
        e.SessionEventLimit,
    ),
]


@pytest.mark.parametrize(("code", "name", "status", "message", "cls"), CONTRACT_TABLE)
def test_every_code_maps_to_its_class(code: str, name: str, status: int, message: str, cls: type) -> None:
    assert SessionErrorCode[name].value == code
    body = {"code": code, "message": message, "details": "field", "hint": None}
    err = error_from_response(status, body)
    assert type(err) is cls
    assert isinstance(err, e.SessionError) and isinstance(err, e.SeerError)
    assert err.code is SessionErrorCode(code)
    assert err.status == status and err.message == message and err.details == "field"
    # postgrest's APIError has no status: the table supplies it
    err2 = error_from_api_error(APIError(body))
    assert type(err2) is cls and err2.status == status
    # default construction uses the contract's status and message
    plain = cls()
    assert (plain.status, plain.message) == (status, message)


def test_except_by_kind() -> None:
    with pytest.raises(e.SessionFull):
        raise error_from_response(422, {"code": "SESSION_003", "message": "Session is full"})


def test_version_conflict_exposes_current_version() -> None:
    err = error_from_response(409, {"code": "SESSION_014", "message": "x", "details": "currentVersion=12"})
    assert isinstance(err, e.StateVersionConflict) and err.current_version == 12


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (401, {"code": "PGRST301", "message": "JWT expired", "details": None, "hint": None}, e.AuthError),
        (401, {"code": "42501", "message": "permission denied for function get_session"}, e.AuthError),
        (403, {"code": "42501", "message": "permission denied"}, e.AuthError),
        (503, {"code": "PGRST001", "message": "Could not connect"}, e.TransportError),
        (500, None, e.TransportError),
        (404, {"code": "PGRST202", "message": "Could not find the function"}, e.ApiError),
        (400, {"code": "22P02", "message": "invalid input syntax for type uuid"}, e.ApiError),
    ],
)
def test_non_session_errors(status: int, body: dict | None, cls: type) -> None:
    err = error_from_response(status, body, text="upstream")
    assert type(err) is cls
    assert err.status == status
    assert not isinstance(err, e.SessionError)


def test_api_error_without_status_uses_code_fallbacks() -> None:
    # postgrest puts the HTTP status into "code" when the body is not PostgREST JSON
    err = error_from_api_error(
        APIError({"message": "Service Unavailable", "code": "503", "details": "<html>"})
    )
    assert isinstance(err, e.TransportError) and err.status == 503
    jwt = error_from_api_error(APIError({"message": "JWT expired", "code": "PGRST303"}))
    assert isinstance(jwt, e.AuthError)


def test_str_and_repr_are_informative() -> None:
    err = e.NotSeer(details="start")
    assert "SESSION_007" in str(err) and "start" in str(err) and err.status == 403
    assert "NotSeer" in repr(err)


def test_only_answered_errors_claim_an_http_status() -> None:
    # Issue 21: errors raised before any request said "(HTTP 400)"/"(HTTP 401)".
    local = e.ValidationError(details="sessionId")
    assert str(local) == "[SESSION_000] Invalid input details='sessionId'" and local.status == 400
    assert "HTTP" not in str(e.AuthError("not signed in", status=401))
    answered = e.error_from_response(
        403, {"code": "SESSION_007", "message": "Only the Seer can perform this action"}
    )
    assert str(answered) == "[SESSION_007] Only the Seer can perform this action (HTTP 403)"
    assert answered.answered and not local.answered


def test_too_many_actions_carries_the_retry_hint() -> None:
    body = {
        "code": "SESSION_028",
        "message": "Too many actions; wait a moment and retry",
        "details": "at most 30 actions per 00:01:00",
        "hint": "retry in 12 s",
    }
    err = error_from_response(429, body)
    assert isinstance(err, e.TooManyActions) and err.retry_after == 12
    assert e.TooManyActions().retry_after is None
