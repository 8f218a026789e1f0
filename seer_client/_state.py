"""SessionState: one live, typed session state folded from the events (issue 22, the PRD's
``useSession``).

Pure: no asyncio, no sockets, no RPCs. :class:`~seer_client._connection.SessionConnection`
seeds it with the ``get_session`` snapshot and feeds it every delivered event in seq order
(:meth:`SessionState.apply`); the views (:mod:`seer_client._view`) render it.

What it holds: the session (status, settings, seats and presence through its
:class:`~seer_client._lobby.LobbyState`), the Seer's connection as the server sees it, the game
state with its version (:class:`~seer_client.models.GameState`, as ``get_game_state`` returns
it), the current node with its text and choices, the dice log, combat (initiative order, whose
turn), the pending player actions and the turn history, and the inactive players who are back
and asking to be let in.

The events carry what the fold needs (docs/contract.md "Events"): every event that changes the
game state carries the ``version`` it produced and the ``turnHistory`` entries the server made
(``turns`` on ``game_state``, ``entry`` on the game events), and ``game_state`` carries the
patch as applied (items as stored). So in the steady state the fold makes no RPC at all. When
it cannot reach a version exactly - an event whose version is not the next one (an older
server, a log compacted by retention), or a turn history so large the server may have trimmed
it by size - it sets :attr:`SessionState.needs_reread`; the connection then reads
``get_game_state`` once and :meth:`SessionState.reset_game` (counted in
``SessionConnection.state_reads``).
"""

from __future__ import annotations

import contextlib
import json
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from ._lobby import LobbyState
from .events import (
    BaseEvent,
    CombatEndedEvent,
    CombatStartedEvent,
    CombatTurnEvent,
    DiceRolledEvent,
    GameStateEvent,
    NodeChangeEvent,
    PlayerActionEvent,
    PlayerConnectionEvent,
    PlayerInactiveEvent,
    PlayerLeftEvent,
    ReadmitRequestedEvent,
    SeerConnectionEvent,
    SessionEndedEvent,
    SessionSettingsEvent,
    SessionStatusEvent,
)
from .models import DiceRoll, GameState, Node, Session, SessionPlayer, SessionSettings, SessionStats

if TYPE_CHECKING:
    from ._lobby import PresenceEntry

__all__ = ["TURN_HISTORY_BYTES", "TURN_HISTORY_LIMIT", "SessionState", "apply_patch"]

#: the server keeps the newest 100 turns and at most 128 KiB of them (bounded_turn_history)
TURN_HISTORY_LIMIT = 100
TURN_HISTORY_BYTES = 131_072
#: above this share of the byte bound the fold cannot be sure how the server trimmed
_BYTES_MARGIN = 0.9
#: the dice log keeps the newest rolls
DICE_LOG_SIZE = 200


def _jsonb_key(key: str) -> tuple[int, bytes]:
    """Postgres orders jsonb object keys by length, then bytes: the order it applied a patch."""
    raw = key.encode()
    return (len(raw), raw)


def _jsonb_text_size(value: object) -> int:
    """About the length of Postgres's jsonb text of ``value`` (its separators are ``, ``/``: ``)."""
    return len(json.dumps(value, separators=(", ", ": "), ensure_ascii=False).encode())


def apply_patch(state: dict[str, Any], changes: dict[str, Any]) -> None:
    """Apply an applied ``update_game_state`` patch (the event's ``changes``) to a wire-shaped
    game state, as the server did: keys in jsonb order; items replace an item with their id."""
    for key in sorted(changes, key=_jsonb_key):
        value = changes[key]
        if key == "currentNodeId" and isinstance(value, str):
            state["currentNodeId"] = value
            visited = cast(list[str], state.setdefault("visitedNodeIds", []))
            if value not in visited:
                visited.append(value)
        elif key == "addInventory" and isinstance(value, list):
            inventory = cast(list[dict[str, Any]], state.setdefault("inventory", []))
            for item in cast(list[dict[str, Any]], value):
                inventory[:] = [i for i in inventory if i.get("id") != item.get("id")]
                inventory.append(dict(item))
        elif key == "removeInventory" and isinstance(value, list):
            gone = set(cast(list[str], value))
            state["inventory"] = [i for i in state.get("inventory", []) if i.get("id") not in gone]
        elif key == "setVariables" and isinstance(value, dict):
            state.setdefault("variables", {}).update(cast(dict[str, Any], value))
        elif key == "addFlags" and isinstance(value, list):
            flags = cast(list[str], state.setdefault("flags", []))
            for flag in cast(list[str], value):
                if flag not in flags:
                    flags.append(flag)
        elif key == "removeFlags" and isinstance(value, list):
            gone = set(cast(list[str], value))
            state["flags"] = [f for f in state.get("flags", []) if f not in gone]
        # `turn` and `nodeOverride`: their effects come as the event's turns / node_change


@dataclass
class DiceLogEntry:
    """One roll in the dice log. ``roll`` is the event's view; for a hidden roll the Seer's
    connection fills in the dice and the total (``revealed``), a player's never has them."""

    seq: int
    roll: DiceRoll
    revealed: bool = False


@dataclass
class SessionState:
    """The live session: seats and presence, status, settings, the Seer's connection, game
    state with its version, current node, dice log, combat, pending actions, turn history."""

    session_id: str
    lobby: LobbyState
    #: whose connection this is: "seer" or "player" (the views follow it)
    role: str = "player"
    user_id: str | None = None
    #: the last event folded in
    seq: int = 0
    #: the snapshot's last seq: events up to it are already in the snapshot's game state
    base_seq: int = 0
    settings: SessionSettings = field(default_factory=SessionSettings)
    max_players: int = 6
    min_players: int = 1
    recommended_min_players: int | None = None
    recommended_max_players: int | None = None
    stats: SessionStats | None = None
    current_node: Node | None = None
    dice: deque[DiceLogEntry] = field(default_factory=lambda: deque[DiceLogEntry](maxlen=DICE_LOG_SIZE))
    #: player actions since the party last moved (a move answers them)
    pending_actions: list[PlayerActionEvent] = field(default_factory=list[PlayerActionEvent])
    #: inactive seats whose player is back and asks to be let in (player id -> request)
    readmit_requests: dict[str, ReadmitRequestedEvent] = field(
        default_factory=dict[str, ReadmitRequestedEvent]
    )
    #: the server paused the game because its Seer was away 5 minutes (until it is resumed)
    paused_while_seer_away: bool = False
    #: the fold could not reach the current game state exactly: read it once (get_game_state)
    needs_reread: bool = False
    #: why the last re-read was needed (for logs and tests)
    reread_reason: str | None = None
    _game: dict[str, Any] = field(default_factory=dict[str, Any])
    _game_model: GameState | None = None

    # ------------------------------------------------------------------ inputs
    def apply_snapshot(self, session: Session) -> None:
        """Replace everything with a ``get_session`` snapshot."""
        self.lobby.apply_snapshot(session)
        self.seq = self.base_seq = session.last_seq
        self.settings = session.settings
        self.max_players = session.max_players
        self.min_players = session.min_players
        self.recommended_min_players = session.recommended_min_players
        self.recommended_max_players = session.recommended_max_players
        self.stats = session.stats
        self.current_node = session.current_node
        self.readmit_requests = {}
        for seat in session.players:
            if seat.readmit_requested_at is not None and seat.status == "inactive":
                self.readmit_requests[seat.id] = ReadmitRequestedEvent(
                    seq=0,
                    session_id=session.id,
                    player_id=seat.id,
                    user_id=seat.user_id,
                    character_id=seat.character_id,
                    character_name=seat.character_name,
                    timestamp=seat.readmit_requested_at,
                )
        self.reset_game(session.game_state)
        self._seed_from_turns(session)

    def _seed_from_turns(self, session: Session) -> None:
        """A view opened mid-game: the dice log and the pending actions from the snapshot's
        turn history (no RPC; a roll's dice are not in its turn entry, only its total)."""
        self.dice.clear()
        self.pending_actions = []
        for entry in session.game_state.turn_history:
            kind = entry.get("type")
            if kind == "roll" and isinstance(entry.get("rollId"), str):
                with contextlib.suppress(ValueError):
                    self.dice.append(DiceLogEntry(seq=0, roll=DiceRoll.model_validate(entry)))
            elif kind == "move":
                self.pending_actions = []
            elif kind == "action" and isinstance(entry.get("playerId"), str):
                fields = {k: v for k, v in entry.items() if k not in ("type", "actorId", "at")}
                with contextlib.suppress(ValueError):
                    self.pending_actions.append(
                        PlayerActionEvent.model_validate(
                            {**fields, "seq": 0, "sessionId": session.id, "timestamp": entry.get("at")}
                        )
                    )

    def reset_game(self, game: GameState) -> None:
        """Take a game state read from the server (``get_game_state``) as the truth."""
        self._game = game.model_dump(by_alias=True, mode="json")
        self._game_model = None
        self.needs_reread = False

    def apply(self, event: BaseEvent) -> None:
        """Fold one delivered event (in seq order)."""
        self.lobby.apply_event(event)
        replayed = event.seq <= self.base_seq  # already in the snapshot's game state
        self.seq = max(self.seq, event.seq)
        if isinstance(event, GameStateEvent):
            if not replayed and self._next_version(event.version):
                apply_patch(self._game, event.changes)
                self._add_turns(event.turns)
                self._set_version(event.version)
        elif isinstance(event, NodeChangeEvent):
            self.current_node = Node(
                id=event.node_id,
                title=event.node_title or "",
                type=event.node_type or "",
                body=event.node_body or "",
                choices=list(event.choices),
            )
            if not replayed:  # (a replay's dice and actions are in the snapshot's turns)
                self._game["currentNodeId"] = event.node_id
                visited = cast(list[str], self._game.setdefault("visitedNodeIds", []))
                if event.node_id not in visited:
                    visited.append(event.node_id)
                self._game_model = None
                self.pending_actions.clear()  # moving on answers what the players proposed
        elif isinstance(event, DiceRolledEvent):
            if not replayed:
                self.dice.append(
                    DiceLogEntry(seq=event.seq, roll=DiceRoll.model_validate(event.model_dump()))
                )
            self._game_event(event, event.version, event.entry, replayed)
        elif isinstance(event, CombatStartedEvent):
            self._game_event(event, event.version, event.entry, replayed, combat=event.combat_state)
        elif isinstance(event, CombatTurnEvent):
            combat = dict(cast(dict[str, Any], self._game.get("combatState") or {}))
            combat.update(
                {"id": event.combat_id, "round": event.round, "turn": event.turn, "current": event.current}
            )
            self._game_event(event, event.version, event.entry, replayed, combat=combat)
        elif isinstance(event, CombatEndedEvent):
            self._game_event(event, event.version, event.entry, replayed, combat=None)
        elif isinstance(event, PlayerActionEvent):
            if not replayed:
                self.pending_actions.append(event)
            self._game_event(event, event.version, event.entry, replayed)
        elif isinstance(event, SeerConnectionEvent):
            pass  # the lobby holds the Seer's connection (presence follows it)
        elif isinstance(event, ReadmitRequestedEvent):
            self.readmit_requests[event.player_id] = event  # (the lobby marks the seat)
        elif isinstance(event, PlayerConnectionEvent | PlayerLeftEvent):
            # readmitted, restored or released: the request is answered
            self.readmit_requests.pop(event.player_id, None)
        elif isinstance(event, SessionSettingsEvent):
            self.settings = event.settings
            self.max_players = event.max_players
        elif isinstance(event, SessionEndedEvent):
            self.stats = event.stats
        elif isinstance(event, SessionStatusEvent):
            # a pause nobody asked for (actor null) is the sweeper's: the Seer was away
            self.paused_while_seer_away = event.new_status == "paused" and event.actor is None
        elif isinstance(event, PlayerInactiveEvent):
            pass  # the lobby holds seats

    def reveal_roll(self, roll: DiceRoll) -> bool:
        """Fill in a hidden roll's dice and total (the Seer's connection, from ``roll_dice``'s
        reply or ``list_dice_rolls``). Returns whether the roll was in the log."""
        for entry in self.dice:
            if entry.roll.roll_id == roll.roll_id:
                entry.roll = roll
                entry.revealed = True
                return True
        return False

    # ------------------------------------------------------------------ the game part
    def _next_version(self, version: int | None) -> bool:
        """Whether an event producing ``version`` is the next step; otherwise note why not."""
        current = int(self._game.get("version", 0))
        if version is not None and version <= current:
            return False  # already included (the state was read after it)
        if version != current + 1:
            self.needs_reread = True
            self.reread_reason = f"version {version} after {current}"
            return False
        return True

    def _game_event(
        self,
        event: BaseEvent,
        version: int | None,
        entry: dict[str, Any] | None,
        replayed: bool,
        **combat: dict[str, Any] | None,
    ) -> None:
        if replayed or not self._next_version(version):
            return
        if "combat" in combat:
            self._game["combatState"] = combat["combat"]
        if entry is None:
            self.needs_reread = True
            self.reread_reason = f"{event.type} without its turn entry"
        else:
            self._add_turns([entry])
        self._set_version(version)

    def _add_turns(self, turns: list[dict[str, Any]]) -> None:
        history = cast(list[dict[str, Any]], self._game.setdefault("turnHistory", []))
        history.extend(turns)
        if len(history) > TURN_HISTORY_LIMIT:
            del history[: len(history) - TURN_HISTORY_LIMIT]
        if turns and _jsonb_text_size(history) > TURN_HISTORY_BYTES * _BYTES_MARGIN:
            # near the server's size bound: which old turns it dropped is not certain here
            self.needs_reread = True
            self.reread_reason = "turn history near its size bound"

    def _set_version(self, version: int | None) -> None:
        if version is not None:
            self._game["version"] = version
        self._game_model = None

    # ------------------------------------------------------------------ outputs
    @property
    def game(self) -> GameState:
        """The game state, as ``get_game_state`` would return it now."""
        if self._game_model is None:
            self._game_model = GameState.model_validate(self._game)
        return self._game_model

    @property
    def version(self) -> int:
        return int(self._game.get("version", 0))

    @property
    def seer_connected(self) -> bool:
        """The Seer's connection as the server sees it."""
        return self.lobby.seer_connected

    @property
    def status(self) -> str | None:
        return self.lobby.session_status

    @property
    def seats(self) -> dict[str, SessionPlayer]:
        return self.lobby.seats

    @property
    def combat(self) -> dict[str, Any] | None:
        """The running combat (``order``, ``round``, ``turn``, ``current``) or None."""
        return self.game.combat_state

    @property
    def turn_history(self) -> list[dict[str, Any]]:
        return self.game.turn_history

    def presence(self) -> list[PresenceEntry]:
        """Who is here (the Seer's entry follows the server's view of the Seer's connection)."""
        return self.lobby.presence()

    def my_seat(self) -> SessionPlayer | None:
        return self.lobby.seat_of(self.user_id)

    def inactive_seats(self) -> list[SessionPlayer]:
        """Seats played by the Seer because their player is gone (the kick-or-wait prompt)."""
        return [s for s in self.lobby.seats.values() if s.status == "inactive"]

    def party_warnings(self) -> list[str]:
        """What the Seer should know about the party's size (start_session's warnings, live)."""
        live = [s for s in self.lobby.seats.values() if s.status not in ("left", "kicked")]
        count = len(live)
        warnings: list[str] = []
        low, high = self.recommended_min_players, self.recommended_max_players
        if count < self.min_players:
            warnings.append(f"{count} of at least {self.min_players} players")
        elif low is not None and high is not None and count < low:
            warnings.append(f"Party of {count} is below the recommended {low}-{high} players")
        elif low is not None and high is not None and count > high:
            warnings.append(f"Party of {count} is above the recommended {low}-{high} players")
        away = [s for s in live if s.status in ("disconnected", "inactive")]
        if away:
            warnings.append(f"{len(away)} of {count} players away")
        return warnings
