"""LobbyState: what a connection knows about its session (seats, status, node, presence).

Pure state: no asyncio, no sockets. :class:`~seer_client._connection.SessionConnection`
feeds it the ``get_session`` snapshot, every delivered event (in seq order) and the
presence keys the realtime channel reports; the views (:mod:`seer_client._view`) render it.

Presence is a hint, never an authority: a presence key counts as "online" only when it is
the user id of a participant the server's seat state still holds (the Seer, or a seat that
has not left or been kicked). Anything else a client tracks (another user's id, a random
key) is ignored (see docs/sdk.md, "What presence can and cannot prove").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .events import (
    BaseEvent,
    GameStateEvent,
    NodeChangeEvent,
    PlayerConnectionEvent,
    PlayerInactiveEvent,
    PlayerJoinedEvent,
    PlayerLeftEvent,
    ReadmitRequestedEvent,
    SeerConnectionEvent,
    SessionEndedEvent,
    SessionStatusEvent,
)
from .models import Session, SessionPlayer

__all__ = ["LobbyState", "PresenceEntry"]

_GONE = ("left", "kicked")
#: seat states in which presence never shows the player online
_NOT_ONLINE = (*_GONE, "disconnected", "inactive")


@dataclass(frozen=True)
class PresenceEntry:
    """One participant as this client sees them right now."""

    user_id: str
    role: str  # "seer" | "player"
    state: str  # "online" | "reconnecting" | "inactive" | "offline"
    player_id: str | None = None
    character_id: str | None = None
    character_name: str | None = None
    display_name: str | None = None
    seat_status: str | None = None


@dataclass
class LobbyState:
    """Seats, session status, current node and who is online, for one session."""

    session_id: str
    seer_id: str | None = None
    seer_name: str | None = None
    session_status: str | None = None
    current_node_id: str | None = None
    current_node_title: str | None = None
    adventure_name: str | None = None
    code: str | None = None
    #: the Seer's connection as the server sees it (heartbeats; seer_connection events)
    seer_connected: bool = True
    seats: dict[str, SessionPlayer] = field(default_factory=dict[str, SessionPlayer])
    #: presence keys currently tracked on the channel (unfiltered, as the wire reports them)
    tracked: set[str] = field(default_factory=set[str])
    #: participant user ids seen online at least once on this connection
    seen_online: set[str] = field(default_factory=set[str])
    #: presence keys ignored because they are no participant's user id
    ignored_presence_keys: set[str] = field(default_factory=set[str])

    # ------------------------------------------------------------------ inputs
    def apply_snapshot(self, session: Session) -> None:
        """Replace everything with a ``get_session`` snapshot."""
        self.seer_id = session.seer_id
        self.seer_name = session.seer_name
        self.session_status = str(session.status)
        self.current_node_id = session.current_node_id
        # get_session carries the current node itself, so a late client shows its title
        self.current_node_title = session.current_node.title if session.current_node else None
        self.adventure_name = session.adventure_name
        self.code = session.code
        self.seer_connected = session.seer_connected
        self.seats = {p.id: p for p in session.players if p.left_at is None}

    def seat_of(self, user_id: str | None) -> SessionPlayer | None:
        """The live seat held by ``user_id``, if any."""
        for seat in self.seats.values():
            if seat.user_id == user_id and seat.status not in _GONE:
                return seat
        return None

    def apply_event(self, event: BaseEvent) -> None:
        """Fold one delivered event (in seq order) into the state."""
        if isinstance(event, PlayerJoinedEvent):
            self.seats[event.player.id] = event.player
        elif isinstance(event, PlayerLeftEvent):
            self._player_left(event)
        elif isinstance(event, PlayerConnectionEvent):
            seat = self.seats.get(event.player_id)
            if seat is not None:
                status = event.status or ("connected" if event.is_connected else "disconnected")
                # readmitted, restored or disconnected: any readmit request is answered
                self.seats[event.player_id] = seat.model_copy(
                    update={
                        "status": status,
                        "is_connected": event.is_connected,
                        "controlled_by_seer": False,
                        "readmit_requested_at": None,
                    }
                )
        elif isinstance(event, ReadmitRequestedEvent):
            seat = self.seats.get(event.player_id)
            if seat is not None:
                self.seats[event.player_id] = seat.model_copy(
                    update={"readmit_requested_at": event.timestamp}
                )
        elif isinstance(event, PlayerInactiveEvent):
            seat = self.seats.get(event.player_id)
            if seat is not None:
                self.seats[event.player_id] = seat.model_copy(
                    update={"status": "inactive", "is_connected": False, "controlled_by_seer": True}
                )
        elif isinstance(event, SessionStatusEvent):
            self.session_status = event.new_status
        elif isinstance(event, NodeChangeEvent):
            self.current_node_id = event.node_id
            self.current_node_title = event.node_title
        elif isinstance(event, GameStateEvent):
            node = event.changes.get("currentNodeId")
            if isinstance(node, str) and node != self.current_node_id:
                self.current_node_id = node
                self.current_node_title = None  # the node_change event that follows names it
        elif isinstance(event, SessionEndedEvent):
            self.session_status = event.outcome
        elif isinstance(event, SeerConnectionEvent):
            self.seer_connected = event.is_connected

    def _player_left(self, event: PlayerLeftEvent) -> None:
        seat = self.seats.get(event.player_id)
        if seat is None:
            return
        # kicked, a lobby seat (left or freed by the sweeper), or a second leave of a running
        # game (it frees the seat and the character): the seat is gone (docs/contract.md)
        left_before = seat.status == "inactive" and seat.left_reason == "left"
        if event.reason == "kicked" or self.session_status == "waiting" or left_before:
            self.seats.pop(event.player_id, None)
            return
        # a first leave of a running game: the seat stays, the Seer plays the character
        self.seats[event.player_id] = seat.model_copy(
            update={
                "status": "inactive",
                "is_connected": False,
                "controlled_by_seer": True,
                "left_reason": "left",
                "readmit_requested_at": None,
            }
        )

    def set_presence(self, keys: Iterable[str]) -> None:
        """The channel's current presence keys (a ``presence_state``/``presence_diff`` sync)."""
        self.tracked = set(keys)
        self.ignored_presence_keys |= self.tracked - self.participant_ids()
        self.seen_online |= self.online()

    def clear_presence(self) -> None:
        """The channel is gone: nobody is known to be online until the next sync."""
        self.tracked = set()

    # ------------------------------------------------------------------ outputs
    def participant_ids(self) -> set[str]:
        """User ids the server's seat state counts as participants (Seer + live seats)."""
        ids = {seat.user_id for seat in self.seats.values() if seat.status not in _GONE}
        if self.seer_id:
            ids.add(self.seer_id)
        return ids

    def online(self) -> set[str]:
        """Tracked presence keys that count: the Seer's user id while the server holds the Seer
        connected, and the user ids of seats the server does not hold as disconnected or
        inactive. Every other key is ignored (a key tracked under someone else's id proves
        nothing once the server says they are gone)."""
        ids = {seat.user_id for seat in self.seats.values() if seat.status not in _NOT_ONLINE}
        if self.seer_id and self.seer_connected:
            ids.add(self.seer_id)
        return self.tracked & ids

    def presence(self) -> list[PresenceEntry]:
        """Who is here: the Seer and every live seat, each online/reconnecting/inactive/offline.

        A seat the server reports ``inactive`` or ``disconnected`` is never shown online,
        whatever presence says; presence keys that are no participant's user id are ignored.
        """
        online = self.online()
        entries: list[PresenceEntry] = []
        if self.seer_id:
            entries.append(
                PresenceEntry(
                    user_id=self.seer_id,
                    role="seer",
                    # away as the server sees it (no heartbeat for 60 s): like a player's
                    # disconnected seat, whatever presence says
                    state="online"
                    if self.seer_id in online
                    else ("reconnecting" if not self.seer_connected else "offline"),
                )
            )
        for seat in self.seats.values():
            if seat.status in _GONE:
                continue
            if seat.status == "inactive":
                state = "inactive"
            elif seat.user_id in online:
                state = "online"
            elif seat.status == "disconnected" or seat.user_id in self.seen_online:
                # Socket gone but the seat is held: inside the 5-minute rejoin window.
                state = "reconnecting"
            else:
                state = "offline"
            entries.append(
                PresenceEntry(
                    user_id=seat.user_id,
                    role="player",
                    state=state,
                    player_id=seat.id,
                    character_id=seat.character_id,
                    character_name=seat.character_name,
                    display_name=seat.display_name,
                    seat_status=seat.status,
                )
            )
        return entries
