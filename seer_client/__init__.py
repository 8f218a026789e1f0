"""seer-client: session management for Seer on Supabase.

Quick start::

    from seer_client import SeerClient

    client = await SeerClient.create(url, anon_key)
    await client.sign_in(email, password)
    created = await client.create_session(adventure_id)
    async with client.connect(created.session.id) as conn:
        async for event in conn.events():
            print(event.seq, event.type)

``SeerClient.create()`` reads ``SUPABASE_URL`` and ``SUPABASE_ANON_KEY`` when not given.
Blocking scripts and notebooks: ``from seer_client.sync import SeerClient`` (the same
methods, typed, without ``await``; also importable as ``SyncSeerClient``).
"""

import logging

from .client import SeerClient
from .connection import ConnectionStatus, PresenceEntry, SessionConnection
from .errors import (
    AdventureNotFound,
    AlreadyInSession,
    AnonymousNotAllowed,
    ApiError,
    AuthError,
    CharacterInSession,
    ConfigError,
    InvalidJoinCode,
    InvalidStatusTransition,
    MinPlayersNotMet,
    NotInSession,
    NotSeer,
    PayloadTooLarge,
    RealtimeError,
    SeerCannotLeave,
    SeerError,
    SessionError,
    SessionErrorCode,
    SessionFull,
    SessionNotFound,
    SessionNotWaiting,
    SessionRateLimited,
    SessionStarted,
    StateVersionConflict,
    TimeoutError,
    TooManyAttempts,
    TooManyLiveSessions,
    TransportError,
    ValidationError,
)
from .events import (
    EventSequencer,
    GameStateEvent,
    NodeChangeEvent,
    PlayerConnectionEvent,
    PlayerInactiveEvent,
    PlayerJoinedEvent,
    PlayerLeftEvent,
    SessionCreatedEvent,
    SessionEndedEvent,
    SessionEvent,
    SessionStatusEvent,
    UnknownEvent,
    parse_event,
)
from .models import (
    Character,
    CreateSessionResult,
    EndResult,
    Feedback,
    GameState,
    GameStatePatch,
    HeartbeatResult,
    InventoryItem,
    JoinPreview,
    JoinResult,
    KickResult,
    LeaveResult,
    MyCharacter,
    Session,
    SessionPlayer,
    SessionPreview,
    SessionSettings,
    SessionStats,
    SessionSummary,
    StartResult,
    Unknown,
)
from .view import LiveDisplay, SessionView

__version__ = "0.1.0"

# Library logging: named `seer_client.*` loggers, silent unless the application configures logging.
logging.getLogger("seer_client").addHandler(logging.NullHandler())

__all__ = [
    "AdventureNotFound",
    "AlreadyInSession",
    "AnonymousNotAllowed",
    "ApiError",
    "AuthError",
    "Character",
    "CharacterInSession",
    "ConfigError",
    "ConnectionStatus",
    "CreateSessionResult",
    "EndResult",
    "EventSequencer",
    "Feedback",
    "GameState",
    "GameStateEvent",
    "GameStatePatch",
    "HeartbeatResult",
    "InvalidJoinCode",
    "InvalidStatusTransition",
    "InventoryItem",
    "JoinPreview",
    "JoinResult",
    "KickResult",
    "LeaveResult",
    "LiveDisplay",
    "MinPlayersNotMet",
    "MyCharacter",
    "NodeChangeEvent",
    "NotInSession",
    "NotSeer",
    "PayloadTooLarge",
    "PlayerConnectionEvent",
    "PlayerInactiveEvent",
    "PlayerJoinedEvent",
    "PlayerLeftEvent",
    "PresenceEntry",
    "RealtimeError",
    "SeerCannotLeave",
    "SeerClient",
    "SeerError",
    "Session",
    "SessionConnection",
    "SessionCreatedEvent",
    "SessionEndedEvent",
    "SessionError",
    "SessionErrorCode",
    "SessionEvent",
    "SessionFull",
    "SessionNotFound",
    "SessionNotWaiting",
    "SessionPlayer",
    "SessionPreview",
    "SessionRateLimited",
    "SessionSettings",
    "SessionStarted",
    "SessionStats",
    "SessionStatusEvent",
    "SessionSummary",
    "SessionView",
    "StartResult",
    "StateVersionConflict",
    "TimeoutError",
    "TooManyAttempts",
    "TooManyLiveSessions",
    "TransportError",
    "Unknown",
    "UnknownEvent",
    "ValidationError",
    "__version__",
    "parse_event",
]
