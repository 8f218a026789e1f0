"""LobbyState without sockets: snapshot, events in order, presence filtered by seat state."""

from __future__ import annotations

from seer_client._lobby import LobbyState
from seer_client._view import SessionView
from seer_client.events import parse_event
from seer_client.models import Session

from . import samples as s


def lobby_with(*players: dict[str, object], status: str = "active") -> LobbyState:
    lobby = LobbyState(s.SESSION_ID)
    lobby.apply_snapshot(Session.model_validate(s.session(status=status, players=list(players))))
    return lobby


def states(lobby: LobbyState) -> dict[str, str]:
    return {e.user_id: e.state for e in lobby.presence()}


def test_snapshot_then_events_update_seats_status_and_node() -> None:
    aria = s.player(name="Aria")
    lobby = lobby_with(aria)
    assert lobby.session_status == "active" and set(lobby.seats) == {aria["id"]}
    bram = s.player(name="Bram")
    lobby.apply_event(parse_event(s.event(2, "player_joined", player=bram)))
    lobby.apply_event(parse_event(s.event(3, "node_change", nodeId="n2", nodeTitle="The Gate")))
    lobby.apply_event(parse_event(s.event(4, "session_status", oldStatus="active", newStatus="paused")))
    lobby.apply_event(
        parse_event(s.event(5, "player_left", playerId=aria["id"], userId=aria["userId"], reason="kicked"))
    )
    assert set(lobby.seats) == {bram["id"]}
    node = (lobby.current_node_id, lobby.current_node_title)
    assert node == ("n2", "The Gate") and lobby.session_status == "paused"
    lobby.apply_event(parse_event(s.event(6, "player_inactive", playerId=bram["id"], userId=bram["userId"])))
    assert lobby.seats[bram["id"]].status == "inactive" and lobby.seats[bram["id"]].controlled_by_seer


def test_presence_counts_only_participants_that_agree_with_seat_state() -> None:
    aria, gone = s.player(name="Aria"), s.player(name="Gone", status="disconnected")
    idle = s.player(name="Idle", status="inactive")
    lobby = lobby_with(aria, gone, idle)
    stranger = "00000000-0000-4000-8000-00000000dead"
    # Keys tracked on the channel: the Seer, Aria, a disconnected and an inactive seat, a stranger.
    lobby.set_presence({s.SEER_ID, aria["userId"], gone["userId"], idle["userId"], stranger})
    got = states(lobby)
    assert got[s.SEER_ID] == "online" and got[aria["userId"]] == "online"
    assert got[gone["userId"]] == "reconnecting"  # the server says disconnected: not online
    assert got[idle["userId"]] == "inactive"
    assert stranger not in got and stranger in lobby.ignored_presence_keys
    assert lobby.online() == {s.SEER_ID, aria["userId"]}


def test_kicked_players_presence_no_longer_counts() -> None:
    aria = s.player(name="Aria")
    lobby = lobby_with(aria)
    lobby.set_presence({aria["userId"]})
    lobby.apply_event(
        parse_event(s.event(2, "player_left", playerId=aria["id"], userId=aria["userId"], reason="kicked"))
    )
    assert aria["userId"] not in lobby.online()
    assert aria["userId"] not in states(lobby)


def test_view_renders_a_lobby_without_a_connection() -> None:
    aria = s.player(name="Aria")
    lobby = lobby_with(aria)
    lobby.set_presence({aria["userId"]})
    text = str(SessionView.from_lobby(lobby))
    assert "The Sunken Lantern" in text and "Aria" in text and "online" in text


def test_a_late_client_shows_the_current_node_title_from_the_snapshot() -> None:
    # get_session carries the current node, so a client connecting mid-game needs no node_change
    data = s.session(status="active")
    data["currentNodeId"] = "n3"
    data["currentNode"] = {"id": "n3", "title": "The Eel Warden", "type": "combat", "body": "", "choices": []}
    lobby = LobbyState(s.SESSION_ID)
    lobby.apply_snapshot(Session.model_validate(data))
    assert (lobby.current_node_id, lobby.current_node_title) == ("n3", "The Eel Warden")
    assert SessionView.from_session(Session.model_validate(data)).current_node == "The Eel Warden"


def test_lobby_seat_freed_by_the_sweeper_is_a_known_reason_and_leaves_the_lobby() -> None:
    aria = s.player(name="Aria", status="disconnected")
    lobby = lobby_with(aria, status="waiting")
    event = parse_event(
        s.event(2, "player_left", playerId=aria["id"], userId=aria["userId"], reason="disconnected")
    )
    assert event.type == "player_left" and event.reason == "disconnected"  # not Unknown
    lobby.apply_event(event)
    assert aria["id"] not in lobby.seats


def test_a_second_leave_of_a_running_game_frees_the_seat() -> None:
    aria = s.player(name="Aria")
    lobby = lobby_with(aria, status="active")
    left = {"playerId": aria["id"], "userId": aria["userId"], "reason": "left"}
    lobby.apply_event(parse_event(s.event(2, "player_left", **left)))
    seat = lobby.seats[aria["id"]]
    assert seat.status == "inactive" and seat.controlled_by_seer  # first leave: the Seer plays on
    lobby.apply_event(parse_event(s.event(3, "player_left", **left)))
    assert aria["id"] not in lobby.seats  # second leave: seat and character freed
