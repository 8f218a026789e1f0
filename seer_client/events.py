"""Session events: a discriminated union on ``type``.

Every event the server writes has a per-session, gap-free ``seq``. The
:class:`~seer_client._sequencer.EventSequencer` (re-exported here) turns events that arrive
out of order or twice into exactly-once, in-order delivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, cast

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, TypeAdapter, model_validator
from pydantic.alias_generators import to_camel

from ._sequencer import EventSequencer
from .models import (
    Choice,
    Die,
    LeaveReasonValue,
    OutcomeValue,
    PlayerStatusValue,
    SessionPlayer,
    SessionSettings,
    SessionStats,
    SessionStatusValue,
)

__all__ = [
    "KNOWN_EVENT_TYPES",
    "BaseEvent",
    "CombatEndedEvent",
    "CombatStartedEvent",
    "CombatTurnEvent",
    "DiceRolledEvent",
    "EventSequencer",
    "GameStateEvent",
    "NodeChangeEvent",
    "PlayerActionEvent",
    "PlayerConnectionEvent",
    "PlayerInactiveEvent",
    "PlayerJoinedEvent",
    "PlayerLeftEvent",
    "ReadmitRequestedEvent",
    "SeerConnectionEvent",
    "SessionCreatedEvent",
    "SessionEndedEvent",
    "SessionEvent",
    "SessionSettingsEvent",
    "SessionStatusEvent",
    "UnknownEvent",
    "parse_event",
]


class BaseEvent(BaseModel, frozen=True):
    """Fields every event has. Events are immutable (each subclass narrows ``type``)."""

    model_config: ClassVar[ConfigDict] = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow"
    )

    seq: int
    type: str
    session_id: str
    timestamp: datetime | None = None
    actor: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The event as the server sends it (camelCase JSON)."""
        return self.model_dump(by_alias=True, mode="json")


class SessionCreatedEvent(BaseEvent, frozen=True):
    """The Seer created the session (seq 1)."""

    type: Literal["session_created"] = "session_created"
    status: SessionStatusValue | None = None


class PlayerJoinedEvent(BaseEvent, frozen=True):
    """A player took a seat (``player`` is the seat, with its character)."""

    type: Literal["player_joined"] = "player_joined"
    player: SessionPlayer


class PlayerLeftEvent(BaseEvent, frozen=True):
    """A seat was vacated: the player left, was kicked, or the sweeper removed them."""

    type: Literal["player_left"] = "player_left"
    player_id: str
    user_id: str | None = None
    character_id: str | None = None
    # 'left' | 'kicked' | 'disconnected' (only for a lobby seat the sweeper freed). A dropped
    # connection in a running game is player_connection + player_inactive, never a player_left
    # (docs/sdk.md); other strings a newer server sends are Unknown.
    reason: LeaveReasonValue
    kick_reason: str | None = None


class PlayerConnectionEvent(BaseEvent, frozen=True):
    """A seat's connection state changed (heartbeat resumed, or it went quiet)."""

    type: Literal["player_connection"] = "player_connection"
    player_id: str
    user_id: str | None = None
    is_connected: bool
    status: PlayerStatusValue | None = None


class PlayerInactiveEvent(BaseEvent, frozen=True):
    """A disconnected seat passed the rejoin window and is now inactive."""

    type: Literal["player_inactive"] = "player_inactive"
    player_id: str
    user_id: str | None = None
    character_id: str | None = None
    character_name: str | None = None
    disconnected_at: datetime | None = None


class SessionStatusEvent(BaseEvent, frozen=True):
    """The session moved between waiting/active/paused (see docs/contract.md)."""

    type: Literal["session_status"] = "session_status"
    old_status: SessionStatusValue | None = None
    new_status: SessionStatusValue


class GameStateEvent(BaseEvent, frozen=True):
    """The game state changed; ``changes`` holds the applied patch (``addInventory`` with the
    items as stored), ``version`` the state version it produced and ``turns`` the
    ``turnHistory`` entries it appended (a ``note``, a ``move``)."""

    type: Literal["game_state"] = "game_state"
    changes: dict[str, Any]
    version: int | None = None
    turns: list[dict[str, Any]] = []


class NodeChangeEvent(BaseEvent, frozen=True):
    """The party moved to another adventure node."""

    type: Literal["node_change"] = "node_change"
    node_id: str
    node_type: str | None = None
    node_title: str | None = None
    node_body: str | None = None
    choices: list[Choice] = []
    # the Seer moved off the adventure's links on purpose
    override: bool = False


class DiceRolledEvent(BaseEvent, frozen=True):
    """A server-side roll; ``dice`` and ``total`` are ``None`` when the roll is hidden."""

    type: Literal["dice_rolled"] = "dice_rolled"
    roll_id: str
    roller_id: str | None = None
    character_id: str | None = None
    expression: str
    reason: str | None = None
    hidden: bool = False
    dice: list[Die] | None = None
    total: int | None = None
    #: the state version the roll produced and its ``turnHistory`` entry
    version: int | None = None
    entry: dict[str, Any] | None = None


class CombatStartedEvent(BaseEvent, frozen=True):
    """Combat began; ``combat_state`` is the new combat."""

    type: Literal["combat_started"] = "combat_started"
    combat_state: dict[str, Any]
    version: int | None = None
    entry: dict[str, Any] | None = None


class CombatTurnEvent(BaseEvent, frozen=True):
    """The next combatant is up (round and turn)."""

    type: Literal["combat_turn"] = "combat_turn"
    combat_id: str
    round: int
    turn: int
    current: dict[str, Any] | None = None
    version: int | None = None
    entry: dict[str, Any] | None = None


class CombatEndedEvent(BaseEvent, frozen=True):
    """Combat ended (``outcome``, rounds, whether it was auto-resolved)."""

    type: Literal["combat_ended"] = "combat_ended"
    combat_id: str
    outcome: str
    rounds: int | None = None
    auto_resolved: bool = False
    version: int | None = None
    entry: dict[str, Any] | None = None


class PlayerActionEvent(BaseEvent, frozen=True):
    """A player (or the Seer for them) took an action or a choice."""

    type: Literal["player_action"] = "player_action"
    player_id: str
    character_id: str | None = None
    character_name: str | None = None
    text: str | None = None
    choice: Choice | None = None
    # the Seer acted for a disconnected or inactive character
    by_seer: bool = False
    version: int | None = None
    entry: dict[str, Any] | None = None


class SeerConnectionEvent(BaseEvent, frozen=True):
    """The Seer's connection changed as the server sees it: silent for 60 s (the sweeper) or
    back (a heartbeat). An active game whose Seer stays away 5 minutes pauses itself."""

    type: Literal["seer_connection"] = "seer_connection"
    seer_id: str | None = None
    is_connected: bool
    disconnected_at: datetime | None = None


class ReadmitRequestedEvent(BaseEvent, frozen=True):
    """An inactive seat's player is back and asks to be let in: the Seer answers with
    ``readmit_player`` (or ``kick_player``)."""

    type: Literal["readmit_requested"] = "readmit_requested"
    player_id: str
    user_id: str | None = None
    character_id: str | None = None
    character_name: str | None = None


class SessionSettingsEvent(BaseEvent, frozen=True):
    """The Seer changed the settings (``update_session_settings``): the whole new settings."""

    type: Literal["session_settings"] = "session_settings"
    settings: SessionSettings
    max_players: int


class SessionEndedEvent(BaseEvent, frozen=True):
    """The Seer ended the session (``completed`` or ``cancelled``), with stats."""

    type: Literal["session_ended"] = "session_ended"
    outcome: OutcomeValue
    stats: SessionStats | None = None
    notes: str | None = None


class UnknownEvent(BaseEvent, frozen=True):
    """An event this SDK version cannot type: all fields are kept (``model_extra``).

    ``type`` is the literal ``"unknown"`` (so ``if e.type == "player_joined":`` narrows
    the :data:`SessionEvent` union); the server's own type name is ``event_type``.
    """

    type: Literal["unknown"] = "unknown"
    event_type: str = "unknown"

    @model_validator(mode="before")
    @classmethod
    def _keep_server_type(cls, data: Any) -> Any:
        if isinstance(data, dict):
            fields = dict(cast(dict[str, Any], data))
            raw = fields.get("type")
            if raw != "unknown" or "eventType" not in fields:
                fields["eventType"] = raw if isinstance(raw, str) else "unknown"
            fields["type"] = "unknown"
            return fields
        return data

    def to_wire(self) -> dict[str, Any]:
        """The event as the server sent it (its own ``type``)."""
        wire = super().to_wire()
        wire["type"] = wire.pop("eventType", self.event_type)
        return wire


_EVENT_CLASSES: dict[str, type[BaseEvent]] = {
    "session_created": SessionCreatedEvent,
    "player_joined": PlayerJoinedEvent,
    "player_left": PlayerLeftEvent,
    "player_connection": PlayerConnectionEvent,
    "player_inactive": PlayerInactiveEvent,
    "session_status": SessionStatusEvent,
    "game_state": GameStateEvent,
    "node_change": NodeChangeEvent,
    "session_ended": SessionEndedEvent,
    "dice_rolled": DiceRolledEvent,
    "combat_started": CombatStartedEvent,
    "combat_turn": CombatTurnEvent,
    "combat_ended": CombatEndedEvent,
    "player_action": PlayerActionEvent,
    "seer_connection": SeerConnectionEvent,
    "readmit_requested": ReadmitRequestedEvent,
    "session_settings": SessionSettingsEvent,
}
KNOWN_EVENT_TYPES: frozenset[str] = frozenset(_EVENT_CLASSES)


def _event_tag(value: Any) -> str:
    kind: Any = (
        cast(dict[str, Any], value).get("type") if isinstance(value, dict) else getattr(value, "type", None)
    )
    return kind if isinstance(kind, str) and kind in _EVENT_CLASSES else "unknown"


SessionEvent = Annotated[
    Annotated[SessionCreatedEvent, Tag("session_created")]
    | Annotated[PlayerJoinedEvent, Tag("player_joined")]
    | Annotated[PlayerLeftEvent, Tag("player_left")]
    | Annotated[PlayerConnectionEvent, Tag("player_connection")]
    | Annotated[PlayerInactiveEvent, Tag("player_inactive")]
    | Annotated[SessionStatusEvent, Tag("session_status")]
    | Annotated[GameStateEvent, Tag("game_state")]
    | Annotated[NodeChangeEvent, Tag("node_change")]
    | Annotated[SessionEndedEvent, Tag("session_ended")]
    | Annotated[DiceRolledEvent, Tag("dice_rolled")]
    | Annotated[CombatStartedEvent, Tag("combat_started")]
    | Annotated[CombatTurnEvent, Tag("combat_turn")]
    | Annotated[CombatEndedEvent, Tag("combat_ended")]
    | Annotated[PlayerActionEvent, Tag("player_action")]
    | Annotated[SeerConnectionEvent, Tag("seer_connection")]
    | Annotated[ReadmitRequestedEvent, Tag("readmit_requested")]
    | Annotated[SessionSettingsEvent, Tag("session_settings")]
    | Annotated[UnknownEvent, Tag("unknown")],
    Discriminator(_event_tag),
]

_ADAPTER: TypeAdapter[SessionEvent] = TypeAdapter(SessionEvent)
_LIST_ADAPTER: TypeAdapter[list[SessionEvent]] = TypeAdapter(list[SessionEvent])


def parse_event(data: dict[str, Any] | str | bytes) -> SessionEvent:
    """Parse one event JSON (dict or text) into its typed model (:data:`SessionEvent`).

    Narrow it by ``type`` (``if e.type == "player_joined": e.player``) or ``isinstance``;
    an event type this SDK does not know is an :class:`UnknownEvent`.
    """
    if isinstance(data, str | bytes):
        return _ADAPTER.validate_json(data)
    return _ADAPTER.validate_python(data)


def parse_events(data: list[dict[str, Any]]) -> list[SessionEvent]:
    """Parse a list of event JSON objects (``session_events_since``'s answer)."""
    return _LIST_ADAPTER.validate_python(data)
