"""Session events: a discriminated union on ``type``.

Every event the server writes has a per-session, gap-free ``seq``. The
:class:`~seer_client.sequencer.EventSequencer` (re-exported here) turns events that arrive
out of order or twice into exactly-once, in-order delivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, TypeAdapter
from pydantic.alias_generators import to_camel

from .models import Choice, Die, SessionPlayer, SessionStats
from .sequencer import EventSequencer

__all__ = [
    "KNOWN_EVENT_TYPES",
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
    "SessionCreatedEvent",
    "SessionEndedEvent",
    "SessionEvent",
    "SessionStatusEvent",
    "UnknownEvent",
    "parse_event",
]


class BaseEvent(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    seq: int
    type: str
    session_id: str
    timestamp: datetime | None = None
    actor: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


class SessionCreatedEvent(BaseEvent):
    type: Literal["session_created"] = "session_created"
    status: str | None = None


class PlayerJoinedEvent(BaseEvent):
    type: Literal["player_joined"] = "player_joined"
    player: SessionPlayer


class PlayerLeftEvent(BaseEvent):
    type: Literal["player_left"] = "player_left"
    player_id: str
    user_id: str | None = None
    character_id: str | None = None
    # 'left' | 'kicked'. A dropped connection is player_connection + player_inactive, never a
    # player_left (docs/sdk.md); other strings are kept as sent by a newer server.
    reason: Literal["left", "kicked"] | str
    kick_reason: str | None = None


class PlayerConnectionEvent(BaseEvent):
    type: Literal["player_connection"] = "player_connection"
    player_id: str
    user_id: str | None = None
    is_connected: bool
    status: str | None = None


class PlayerInactiveEvent(BaseEvent):
    type: Literal["player_inactive"] = "player_inactive"
    player_id: str
    user_id: str | None = None
    character_id: str | None = None
    character_name: str | None = None
    disconnected_at: datetime | None = None


class SessionStatusEvent(BaseEvent):
    type: Literal["session_status"] = "session_status"
    old_status: str | None = None
    new_status: str


class GameStateEvent(BaseEvent):
    type: Literal["game_state"] = "game_state"
    changes: dict[str, Any]
    version: int | None = None


class NodeChangeEvent(BaseEvent):
    type: Literal["node_change"] = "node_change"
    node_id: str
    node_type: str | None = None
    node_title: str | None = None
    node_body: str | None = None
    choices: list[Choice] = []
    # the Seer moved off the adventure's links on purpose
    override: bool = False


class DiceRolledEvent(BaseEvent):
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


class CombatStartedEvent(BaseEvent):
    type: Literal["combat_started"] = "combat_started"
    combat_state: dict[str, Any]


class CombatTurnEvent(BaseEvent):
    type: Literal["combat_turn"] = "combat_turn"
    combat_id: str
    round: int
    turn: int
    current: dict[str, Any] | None = None


class CombatEndedEvent(BaseEvent):
    type: Literal["combat_ended"] = "combat_ended"
    combat_id: str
    outcome: str
    rounds: int | None = None
    auto_resolved: bool = False


class PlayerActionEvent(BaseEvent):
    type: Literal["player_action"] = "player_action"
    player_id: str
    character_id: str | None = None
    character_name: str | None = None
    text: str | None = None
    choice: Choice | None = None
    # the Seer acted for a disconnected or inactive character
    by_seer: bool = False


class SessionEndedEvent(BaseEvent):
    type: Literal["session_ended"] = "session_ended"
    outcome: str
    stats: SessionStats | None = None
    notes: str | None = None


class UnknownEvent(BaseEvent):
    """An event type this SDK version does not know; all fields are kept (``model_extra``)."""


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
}
KNOWN_EVENT_TYPES: frozenset[str] = frozenset(_EVENT_CLASSES)


def _event_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in _EVENT_CLASSES else "unknown"


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
    | Annotated[UnknownEvent, Tag("unknown")],
    Discriminator(_event_tag),
]

_ADAPTER: TypeAdapter[Any] = TypeAdapter(SessionEvent)
_LIST_ADAPTER: TypeAdapter[list[Any]] = TypeAdapter(list[SessionEvent])


def parse_event(data: dict[str, Any] | str | bytes) -> BaseEvent:
    """Parse one event JSON (dict or text) into its typed model."""
    if isinstance(data, str | bytes):
        return _ADAPTER.validate_json(data)  # type: ignore[no-any-return]
    return _ADAPTER.validate_python(data)  # type: ignore[no-any-return]


def parse_events(data: list[dict[str, Any]]) -> list[BaseEvent]:
    return _LIST_ADAPTER.validate_python(data)
