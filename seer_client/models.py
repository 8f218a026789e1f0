"""Pydantic v2 models for the JSON the RPCs return (docs/contract.md).

Attributes are snake_case; the wire uses camelCase (aliases). ``populate_by_name`` lets you
build models with either spelling. Unknown keys are ignored, so a newer server does not
break an older SDK.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, cast, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StrictBool,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import CoreSchema, core_schema

from .errors import InvalidJoinCode, ValidationError

__all__ = [
    "JOIN_CODE_ALPHABET",
    "AdventureSummary",
    "Character",
    "Choice",
    "CreateSessionResult",
    "DiceRoll",
    "Die",
    "EndResult",
    "Feedback",
    "GameState",
    "GameStatePatch",
    "HeartbeatResult",
    "InventoryItem",
    "JoinPreview",
    "JoinResult",
    "KickResult",
    "LeaveReason",
    "LeaveResult",
    "MyCharacter",
    "Node",
    "Outcome",
    "PlayerStatus",
    "Role",
    "SeerFeedback",
    "Session",
    "SessionPlayer",
    "SessionPreview",
    "SessionSettings",
    "SessionStats",
    "SessionStatus",
    "SessionSummary",
    "StartResult",
    "Unknown",
    "normalize_join_code",
    "validate_uuid",
]

SessionStatus = Literal["waiting", "active", "paused", "completed", "cancelled"]
PlayerStatus = Literal["connected", "disconnected", "inactive", "left", "kicked"]
Role = Literal["seer", "player"]
Outcome = Literal["completed", "cancelled"]
# "disconnected": the sweeper freed an abandoned lobby seat (5 minutes without heartbeats)
LeaveReason = Literal["left", "kicked", "disconnected"]


class Unknown(str):
    """A value this SDK version does not know (e.g. a status a newer server added).

    It keeps the raw text (``Unknown("archived") == "archived"``), so comparisons and
    rendering work; type checkers see it as its own case (``isinstance(x, Unknown)``), so a
    ``match``/``if`` over the known literals is exhaustive once ``Unknown`` is handled.
    """

    __slots__ = ()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(), serialization=core_schema.to_string_ser_schema()
        )

    def __repr__(self) -> str:
        return f"Unknown({str.__repr__(self)})"


def _known_or_unknown(literal: Any) -> BeforeValidator:
    allowed = frozenset(get_args(literal))

    def check(value: Any) -> Any:
        if isinstance(value, str) and not isinstance(value, Unknown) and value not in allowed:
            return Unknown(value)
        return value

    return BeforeValidator(check)


_LEFT_TO_RIGHT = Field(union_mode="left_to_right")
#: Field types: the known literal values, or :class:`Unknown` for anything else.
SessionStatusValue = Annotated[SessionStatus | Unknown, _LEFT_TO_RIGHT, _known_or_unknown(SessionStatus)]
PlayerStatusValue = Annotated[PlayerStatus | Unknown, _LEFT_TO_RIGHT, _known_or_unknown(PlayerStatus)]
RoleValue = Annotated[Role | Unknown, _LEFT_TO_RIGHT, _known_or_unknown(Role)]
OutcomeValue = Annotated[Outcome | Unknown, _LEFT_TO_RIGHT, _known_or_unknown(Outcome)]
LeaveReasonValue = Annotated[LeaveReason | Unknown, _LEFT_TO_RIGHT, _known_or_unknown(LeaveReason)]
LIVE_STATUSES: frozenset[str] = frozenset({"waiting", "active", "paused"})

JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_JOIN_CODE = re.compile(rf"^[{JOIN_CODE_ALPHABET}]{{6}}$")


def normalize_join_code(code: str) -> str:
    """Upper-case ``code`` and check the PRD format; raise :class:`InvalidJoinCode` otherwise."""
    if not isinstance(code, str):
        raise InvalidJoinCode(details="code")
    normalized = code.strip().upper()
    if not _JOIN_CODE.match(normalized):
        raise InvalidJoinCode(details="code")
    return normalized


def validate_uuid(value: str | uuid.UUID, field: str) -> str:
    """Return the canonical text of a uuid or raise :class:`ValidationError` naming ``field``."""
    if isinstance(value, uuid.UUID):
        return str(value)
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        raise ValidationError(details=field) from None


class Model(BaseModel):
    """Base of the wire models: snake_case attributes, camelCase JSON (``to_wire()``)."""

    model_config: ClassVar[ConfigDict] = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore"
    )

    def to_wire(self) -> dict[str, Any]:
        """The camelCase JSON dict, as the server speaks it."""
        return self.model_dump(by_alias=True, mode="json")


class Character(Model):
    """A character: name, class, level and experience."""

    id: str
    owner_id: str | None = None
    name: str
    character_class: str | None = Field(default=None, alias="class")
    level: int = 1
    experience: int = 0


class MyCharacter(Character):
    """One of the caller's characters, with the session it is in (if any)."""

    active_session_id: str | None = None
    # items brought home from completed sessions (inventory entries assigned to this character)
    items: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]])


class AdventureSummary(Model):
    """One row of ``list_adventures``: what the library shows (never a node)."""

    id: str
    title: str
    description: str = ""
    min_players: int = 1
    max_players: int = 6
    recommended_min_players: int | None = None
    recommended_max_players: int | None = None
    estimated_duration_minutes: int | None = None
    node_count: int = 0
    author_name: str | None = None
    is_published: bool = True
    is_mine: bool = False


class Choice(Model):
    """An outgoing link of a node: what players may choose, and where the Seer then moves."""

    label: str
    node_id: str


class Node(Model):
    """A node the session has reached (``Session.current_node``, ``node_change``)."""

    id: str
    title: str
    type: str
    body: str = ""
    choices: list[Choice] = Field(default_factory=list[Choice])


class Die(Model):
    term: int
    sides: int
    value: int
    kept: bool = True


class DiceRoll(Model):
    """A server-side roll. ``dice`` and ``total`` are ``None`` for a player when the roll is hidden."""

    roll_id: str
    roller_id: str | None = None
    character_id: str | None = None
    expression: str
    reason: str | None = None
    hidden: bool = False
    dice: list[Die] | None = None
    total: int | None = None


class SeerFeedback(Model):
    """One row of ``list_feedback`` (the Seer's view of what players left)."""

    player_id: str | None = None
    user_id: str
    display_name: str | None = None
    character_name: str | None = None
    rating: int
    comment: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class SessionSettings(Model):
    """A session's settings (``allowLateJoin``, ``showDiceRolls``, ...)."""

    allow_late_join: bool = False
    show_dice_rolls: bool = True
    auto_resolve_simple_combat: bool = False
    enable_ai_seer: bool = Field(default=True, alias="enableAISeer")
    voice_chat_enabled: bool = False


class SessionPlayer(Model):
    """A seat in a session: who, which character, and its connection status."""

    id: str
    session_id: str
    user_id: str
    character_id: str
    character: Character | None = None
    display_name: str | None = None
    joined_at: datetime | None = None
    last_activity_at: datetime | None = None
    left_at: datetime | None = None
    status: PlayerStatusValue = "connected"
    is_connected: bool = True
    controlled_by_seer: bool = False
    left_reason: str | None = None
    kick_reason: str | None = None
    #: an inactive seat whose player is back and asks the Seer to let them in (issue 22)
    readmit_requested_at: datetime | None = None

    @property
    def character_name(self) -> str | None:
        return self.character.name if self.character else None


class InventoryItem(Model):
    """An item in the party inventory (extra fields are kept)."""

    model_config: ClassVar[ConfigDict] = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow"
    )
    id: str
    name: str
    quantity: int | None = None


class GameState(Model):
    """A session's game state: node, inventory, variables, flags, combat, turn history, version.

    ``turn_history`` is empty in the reply of ``update_game_state(..., turn_history=False)``."""

    inventory: list[InventoryItem] = Field(default_factory=list[InventoryItem])
    variables: dict[str, str | int | float | bool] = Field(default_factory=dict)
    flags: list[str] = Field(default_factory=list)
    turn_history: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]])
    combat_state: dict[str, Any] | None = None
    version: int = 0
    current_node_id: str | None = None
    visited_node_ids: list[str] = Field(default_factory=list)

    @field_validator("turn_history", mode="before")
    @classmethod
    def _not_read(cls, value: Any) -> Any:
        # null: update_game_state(..., turn_history=False) did not read it
        return [] if value is None else value


class Session(Model):
    """A session with its seats, settings and game state (``get_session``)."""

    id: str
    code: str
    seer_id: str
    seer_name: str | None = None
    adventure_id: str
    adventure_name: str | None = None
    adventure_description: str | None = None
    status: SessionStatusValue
    players: list[SessionPlayer] = Field(default_factory=list[SessionPlayer])
    max_players: int = 6
    min_players: int = 1
    recommended_min_players: int | None = None
    recommended_max_players: int | None = None
    current_node_id: str | None = None
    current_node: Node | None = None
    visited_node_ids: list[str] = Field(default_factory=list)
    game_state: GameState = Field(default_factory=GameState)
    # the final stats, once the session has ended
    stats: SessionStats | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    paused_at: datetime | None = None
    completed_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str | None = None
    notes: str | None = None
    estimated_duration_minutes: int | None = None
    settings: SessionSettings = Field(default_factory=SessionSettings)
    last_seq: int = 0
    #: the Seer's connection as the server sees it (False after 60 s without a heartbeat)
    seer_connected: bool = True
    #: the current private realtime topic ``session:<id>:<key>`` (participants only; the key
    #: rotates on every removal, so use :meth:`SeerClient.session_topic` for a fresh one)
    topic: str | None = Field(default=None, repr=False)

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    def player(self, player_id: str) -> SessionPlayer | None:
        """The seat with id ``player_id`` (``None`` when there is none)."""
        return next((p for p in self.players if p.id == player_id), None)

    def _repr_html_(self) -> str:
        return cast(str, SESSION_RENDERERS["html"](self))

    def __rich__(self) -> Any:
        return SESSION_RENDERERS["rich"](self)


#: How a :class:`Session` shows itself in Jupyter (``html``) and rich (``rich``). Rendering lives in
#: the view layer: :mod:`seer_client._view` fills this when the package is imported, so the models
#: import nothing of the view (no import circle).
SESSION_RENDERERS: dict[str, Callable[[Session], Any]] = {}


class SessionPreview(Model):
    """What a join code reveals before joining (``get_session_by_code``)."""

    id: str
    code: str
    status: SessionStatusValue
    seer_name: str | None = None
    adventure_id: str | None = None
    adventure_name: str | None = None
    adventure_description: str | None = None
    player_count: int = 0
    max_players: int = 6
    min_players: int = 1
    settings: SessionSettings = Field(default_factory=SessionSettings)


class JoinPreview(Model):
    """A join-code lookup: the session preview and whether the caller can join."""

    session: SessionPreview
    can_join: bool
    reason: str | None = None


class CreateSessionResult(Model):
    """A new session and its invite link."""

    session: Session
    join_url: str


class JoinResult(Model):
    """The seat taken and the session after joining."""

    player: SessionPlayer
    session: Session
    #: ``"requested"`` when the seat is inactive (back after the 5-minute window): not
    #: restored, the Seer has been asked to let the player in (``readmit_player``)
    readmit: str | None = None


class LeaveResult(Model):
    """The outcome of leaving a session."""

    left: bool = True


class KickResult(Model):
    """The outcome of kicking a seat."""

    kicked: bool = True


class StartResult(Model):
    """The started session and any party-size warnings."""

    session: Session
    warnings: list[str] = Field(default_factory=list)


class SessionStats(Model):
    """Stats of an ended session (duration, nodes visited, XP earned, ...)."""

    duration_minutes: int = 0
    nodes_visited: int = 0
    dice_rolled: int = 0
    combats_completed: int = 0
    experience_earned: int = 0


class EndResult(Model):
    """The ended session and its stats."""

    session: Session
    stats: SessionStats


class HeartbeatResult(Model):
    """A heartbeat's answer: the seat's status, the session's status and its last seq."""

    session_id: str
    player_id: str | None = None
    status: str | None = None
    restored: bool = False
    server_time: datetime | None = None
    # the session's state when the heartbeat ran: a client whose last delivered seq is below
    # last_seq missed a broadcast and can replay it with session_events_since
    session_status: SessionStatusValue | None = None
    last_seq: int | None = None
    #: ``"requested"``: the seat is inactive and the Seer has been asked to let the player in
    readmit: str | None = None
    # how often the session's channel key was rotated: a connection whose topic is of an
    # older generation missed the rekey poke and moves to the current topic
    channel_generation: int | None = None


class Feedback(Model):
    """Feedback a participant left for a session."""

    session_id: str
    rating: int
    comment: str | None = None
    created_at: datetime | None = None


class SessionSummary(Model):
    """One of the caller's sessions (``list_my_sessions``)."""

    id: str
    code: str
    status: SessionStatusValue
    role: RoleValue
    adventure_name: str | None = None
    seer_name: str | None = None
    player_count: int = 0
    max_players: int = 6
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


_PATCH_FIELDS = (
    "currentNodeId",
    "addInventory",
    "removeInventory",
    "setVariables",
    "addFlags",
    "removeFlags",
    "nodeOverride",
    "turn",
)


class GameStatePatch(Model):
    """The ``p_patch`` of ``update_game_state``; validated here with the server's rules.

    ``current_node_id`` must be a choice of the current node unless ``node_override=True``
    (logged in ``node_change``). Dice and combat have their own RPCs (``roll_dice``,
    ``start_combat``...): they are not patch keys.
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", validate_assignment=True
    )

    current_node_id: str | None = None
    add_inventory: list[InventoryItem] | None = None
    remove_inventory: list[str] | None = None
    set_variables: dict[str, str | int | float | bool] | None = None
    add_flags: list[str] | None = None
    remove_flags: list[str] | None = None
    node_override: StrictBool | None = None
    turn: dict[str, Any] | None = None

    @field_validator("current_node_id")
    @classmethod
    def _node_uuid(cls, value: str | None) -> str | None:
        return None if value is None else validate_uuid(value, "currentNodeId")

    @field_validator("set_variables", mode="before")
    @classmethod
    def _scalar_variables(cls, value: Any) -> Any:
        # bool is an int subclass; reject containers and None explicitly.
        if isinstance(value, dict):
            checked: dict[Any, Any] = value  # pyright: ignore[reportUnknownVariableType]
            for key, item in checked.items():
                if not isinstance(key, str) or not isinstance(item, str | int | float | bool):
                    raise ValueError("setVariables values must be string, number or boolean")
        return cast(Any, value)

    @model_validator(mode="after")
    def _not_empty(self) -> GameStatePatch:
        if not self.model_fields_set:
            raise ValueError("empty patch")
        return self

    def to_wire(self) -> dict[str, Any]:
        """The patch as ``update_game_state`` takes it (camelCase, only the fields given)."""
        data = self.model_dump(by_alias=True, mode="json", exclude_unset=True)
        # Keys explicitly set to None mean "not given".
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def build(cls, patch: GameStatePatch | dict[str, Any] | None = None, **fields: Any) -> GameStatePatch:
        """Build and validate a patch from a model, a camelCase/snake_case dict and/or kwargs.

        Any problem raises :class:`seer_client.errors.ValidationError` (SESSION_000) whose
        ``details`` name the offending field, like the server does.
        """
        from pydantic import ValidationError as PydanticValidationError

        data: dict[str, Any] = {}
        if isinstance(patch, GameStatePatch):
            data.update(patch.model_dump(exclude_unset=True))
        elif isinstance(patch, dict):
            data.update(patch)
        elif patch is not None:
            raise ValidationError(details="patch")
        data.update(fields)
        try:
            return cls.model_validate(data)
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            loc = first.get("loc") or ("patch",)
            field = str(loc[0]) if loc else "patch"
            field = to_camel(field) if "_" in field else field
            if first.get("type") == "value_error" and not loc:
                field = "patch"
            raise ValidationError(details=field) from None
