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

from .client import SeerClient
from .connection import ConnectionStatus, PresenceEntry, SessionConnection
from .errors import (
    AdventureNotFound,
    AlreadyInSession,
    ApiError,
    AuthError,
    CharacterInSession,
    ConfigError,
    InvalidJoinCode,
    InvalidStatusTransition,
    MinPlayersNotMet,
    NotInSession,
    NotSeer,
    RealtimeError,
    SeerCannotLeave,
    SeerError,
    SessionError,
    SessionErrorCode,
    SessionFull,
    SessionNotFound,
    SessionNotWaiting,
    SessionStarted,
    StateVersionConflict,
    TimeoutError,
    TooManyAttempts,
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

__all__ = [
    "AdventureNotFound",
    "AlreadyInSession",
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
    "TransportError",
    "Unknown",
    "UnknownEvent",
    "ValidationError",
    "__version__",
    "parse_event",
]
