"""The fold (seer_client._state.SessionState), event by event, for every event type (issue 22)."""

from __future__ import annotations

from typing import Any

import pytest

from seer_client._lobby import LobbyState
from seer_client._state import TURN_HISTORY_LIMIT, SessionState, apply_patch
from seer_client.events import KNOWN_EVENT_TYPES, parse_event
from seer_client.models import DiceRoll, GameState, Session

from . import samples as s

PIA = "00000000-0000-4000-8000-0000000000b1"
NODE_A = "00000000-0000-4000-8000-00000000b001"
NODE_B = "00000000-0000-4000-8000-00000000b002"
AT = "2026-12-01T10:00:00+00:00"


def turn(kind: str, **fields: Any) -> dict[str, Any]:
    return {**fields, "type": kind, "actorId": s.SEER_ID, "at": AT}


def fresh(status: str = "active", version: int = 0) -> SessionState:
    data = s.session(status=status, players=[s.player(PIA, "Pia")], last_seq=3)
    data["gameState"] = {**s.game_state(version=version), "currentNodeId": NODE_A, "visitedNodeIds": [NODE_A]}
    state = SessionState(s.SESSION_ID, LobbyState(s.SESSION_ID))
    state.apply_snapshot(Session.model_validate(data))
    return state


def ev(state: SessionState, type_: str, **fields: Any) -> None:
    state.apply(parse_event(s.event(state.seq + 1, type_, **fields)))


def pia_seat(state: SessionState) -> str:
    return next(iter(state.seats))


# ---------------------------------------------------------------- the session and seats
def test_snapshot_seeds_everything() -> None:
    state = fresh(version=4)
    assert state.seq == state.base_seq == 3 and state.version == 4 and state.status == "active"
    assert state.game.variables == {"gold": 5, "door_open": False, "npc": "Mira"}
    assert state.seer_connected and not state.needs_reread and len(state.seats) == 1


def test_a_view_opened_mid_game_has_the_dice_and_pending_actions_of_the_turn_history() -> None:
    data = s.session(status="active", players=[s.player(PIA, "Pia")], last_seq=9)
    seat = data["players"][0]["id"]
    roll = {"rollId": "r1", "rollerId": PIA, "expression": "1d20", "hidden": False, "total": 12}
    data["gameState"] = {
        **s.game_state(version=4),
        "turnHistory": [
            turn("action", playerId=seat, characterName="Pia", text="before the move"),
            turn("move", nodeId=NODE_B, nodeTitle="B", override=False),
            turn("roll", **roll),
            turn("action", playerId=seat, characterName="Pia", text="after the move"),
        ],
    }
    state = SessionState(s.SESSION_ID, LobbyState(s.SESSION_ID))
    state.apply_snapshot(Session.model_validate(data))
    assert [(d.roll.roll_id, d.roll.total) for d in state.dice] == [("r1", 12)]
    assert [a.text for a in state.pending_actions] == ["after the move"]
    # a replay of the log up to the snapshot (since_seq) changes none of it
    state.apply(parse_event(s.event(5, "dice_rolled", **roll, version=3, entry=turn("roll", **roll))))
    state.apply(parse_event(s.event(6, "node_change", nodeId=NODE_B, nodeTitle="B")))
    assert len(state.dice) == 1 and [a.text for a in state.pending_actions] == ["after the move"]


def test_session_created_changes_nothing() -> None:
    state = fresh(status="waiting")
    ev(state, "session_created", status="waiting")
    assert state.seq == 4 and state.status == "waiting" and state.version == 0


def test_player_joined_left_connection_inactive() -> None:
    state = fresh(status="waiting")
    bram = s.player("00000000-0000-4000-8000-0000000000b2", "Bram")
    ev(state, "player_joined", player=bram)
    assert bram["id"] in state.seats
    ev(state, "player_left", playerId=bram["id"], reason="left")
    assert bram["id"] not in state.seats  # a lobby seat is released
    seat = pia_seat(state)
    ev(state, "session_status", oldStatus="waiting", newStatus="active")
    assert state.status == "active"
    ev(state, "player_connection", playerId=seat, isConnected=False, status="disconnected")
    assert state.seats[seat].status == "disconnected"
    ev(state, "player_inactive", playerId=seat, characterName="Pia")
    assert [p.id for p in state.inactive_seats()] == [seat]
    assert "1 of 1 players away" in state.party_warnings()


def test_readmit_requested_until_answered() -> None:
    state = fresh()
    seat = pia_seat(state)
    ev(state, "player_inactive", playerId=seat)
    ev(state, "readmit_requested", playerId=seat, userId=PIA, characterName="Pia")
    assert list(state.readmit_requests) == [seat]
    assert state.seats[seat].readmit_requested_at is not None
    # readmit_player: back to disconnected (player_connection) answers the request
    ev(state, "player_connection", playerId=seat, isConnected=False, status="disconnected")
    assert state.readmit_requests == {} and state.seats[seat].readmit_requested_at is None


def test_seer_connection_drives_the_seers_presence() -> None:
    state = fresh()
    state.lobby.set_presence({s.SEER_ID})
    assert [p.state for p in state.presence() if p.role == "seer"] == ["online"]
    ev(state, "seer_connection", seerId=s.SEER_ID, isConnected=False, disconnectedAt=AT)
    # a presence key under the Seer's id proves nothing once the server says the Seer is away
    assert not state.seer_connected
    assert [p.state for p in state.presence() if p.role == "seer"] == ["reconnecting"]
    ev(state, "session_status", oldStatus="active", newStatus="paused", actor=None)  # the sweeper's
    assert state.paused_while_seer_away
    ev(state, "seer_connection", seerId=s.SEER_ID, isConnected=True)
    assert [p.state for p in state.presence() if p.role == "seer"] == ["online"]
    ev(state, "session_status", oldStatus="paused", newStatus="active")
    assert not state.paused_while_seer_away and state.status == "active"


def test_session_settings_and_ended() -> None:
    state = fresh(status="waiting")
    ev(state, "session_settings", settings={"allowLateJoin": True, "showDiceRolls": False}, maxPlayers=4)
    assert state.settings.allow_late_join and not state.settings.show_dice_rolls and state.max_players == 4
    ev(state, "session_ended", outcome="completed", stats={"durationMinutes": 3, "experienceEarned": 50})
    assert state.status == "completed" and state.stats is not None and state.stats.experience_earned == 50


# ---------------------------------------------------------------- the game state
def test_game_state_applies_the_patch_and_the_server_turns() -> None:
    state = fresh()
    changes = {
        "turn": {"text": "the tide turns"},
        "addFlags": ["shore", "met_mira"],
        "setVariables": {"tide": 2},
        "addInventory": [{"id": "rope", "name": "Rope", "quantity": 1}, {"id": "torch", "name": "Torch"}],
        "removeFlags": ["met_mira"],
        "currentNodeId": NODE_B,
    }
    turns = [turn("note", text="the tide turns"), turn("move", nodeId=NODE_B, nodeTitle="B", override=False)]
    ev(state, "game_state", changes=changes, version=1, turns=turns)
    game = state.game
    assert game.version == 1 and game.flags == ["shore"] and game.variables["tide"] == 2
    assert [i.id for i in game.inventory] == ["rope", "torch"] and game.inventory[1].quantity is None
    assert game.current_node_id == NODE_B and game.visited_node_ids == [NODE_A, NODE_B]
    assert game.turn_history == turns and not state.needs_reread
    ev(state, "game_state", changes={"removeInventory": ["rope"], "setVariables": {"tide": 3}}, version=2)
    assert [i.id for i in state.game.inventory] == ["torch"] and state.game.variables["tide"] == 3


def test_patch_keys_apply_in_jsonb_order() -> None:
    # Postgres iterates a jsonb object by key length: addInventory before removeInventory
    game: dict[str, Any] = {"inventory": []}
    apply_patch(game, {"removeInventory": ["x"], "addInventory": [{"id": "x", "name": "X"}]})
    assert game["inventory"] == []


def test_a_version_the_fold_cannot_reach_asks_for_one_reread() -> None:
    state = fresh(version=1)
    ev(state, "game_state", changes={"setVariables": {"a": 1}}, version=3)  # 2 is missing
    assert state.needs_reread and state.version == 1 and "version 3 after 1" in (state.reread_reason or "")
    state.reset_game(GameState(version=3, variables={"a": 1}))
    assert not state.needs_reread and state.version == 3
    ev(state, "game_state", changes={"setVariables": {"a": 1}}, version=3)  # already in the read
    assert not state.needs_reread and state.version == 3


def test_events_in_the_snapshot_are_not_applied_twice() -> None:
    state = fresh(version=2)
    state.apply(parse_event(s.event(2, "game_state", changes={"addFlags": ["x"]}, version=2)))
    assert state.game.flags == ["met_mira"] and not state.needs_reread


def test_node_change_sets_the_node_and_answers_pending_actions() -> None:
    state = fresh()
    seat = pia_seat(state)
    entry = turn("action", playerId=seat, text="I swim")
    ev(state, "player_action", playerId=seat, characterName="Pia", text="I swim", version=1, entry=entry)
    assert [a.text for a in state.pending_actions] == ["I swim"] and state.turn_history == [entry]
    ev(
        state,
        "node_change",
        nodeId=NODE_B,
        nodeType="story",
        nodeTitle="The Reef",
        nodeBody="Coral everywhere.",
        choices=[{"label": "Dive", "nodeId": NODE_A}],
    )
    assert state.current_node is not None and state.current_node.body == "Coral everywhere."
    assert [c.label for c in state.current_node.choices] == ["Dive"]
    assert state.pending_actions == [] and state.game.current_node_id == NODE_B


def test_dice_rolled_logs_the_roll_and_a_hidden_one_can_be_revealed() -> None:
    state = fresh()
    roll = {
        "rollId": "r1",
        "expression": "1d20",
        "hidden": False,
        "dice": [{"term": 1, "sides": 20, "value": 7}],
    }
    ev(state, "dice_rolled", **roll, total=7, version=1, entry=turn("roll", rollId="r1", total=7))
    ev(
        state,
        "dice_rolled",
        rollId="r2",
        expression="3d6",
        hidden=True,
        version=2,
        entry=turn("roll", rollId="r2"),
    )
    assert [(d.roll.roll_id, d.roll.total) for d in state.dice] == [("r1", 7), ("r2", None)]
    assert state.version == 2 and len(state.turn_history) == 2
    assert state.reveal_roll(DiceRoll(roll_id="r2", expression="3d6", hidden=True, total=11))
    assert state.dice[-1].roll.total == 11 and state.dice[-1].revealed


def test_combat_started_turn_ended() -> None:
    state = fresh()
    order = [
        {"kind": "character", "name": "Pia", "initiative": 15},
        {"kind": "foe", "name": "Eel", "initiative": 9},
    ]
    combat = {"id": "c1", "round": 1, "turn": 0, "order": order, "current": order[0], "simple": False}
    ev(state, "combat_started", combatState=combat, version=1, entry=turn("combat", event="started"))
    assert state.combat == combat
    ev(
        state,
        "combat_turn",
        combatId="c1",
        round=1,
        turn=1,
        current=order[1],
        version=2,
        entry=turn("combat"),
    )
    assert (
        state.combat is not None
        and state.combat["current"]["name"] == "Eel"
        and state.combat["order"] == order
    )
    ev(
        state,
        "combat_ended",
        combatId="c1",
        outcome="victory",
        rounds=1,
        version=3,
        entry=turn("combat", event="ended"),
    )
    assert state.combat is None and state.version == 3 and len(state.turn_history) == 3


def test_a_game_event_without_its_entry_asks_for_a_reread() -> None:
    state = fresh()
    ev(state, "combat_started", combatState={"id": "c1", "round": 1, "turn": 0, "order": []}, version=1)
    assert state.needs_reread


def test_turn_history_keeps_the_newest_hundred() -> None:
    state = fresh()
    for v in range(1, TURN_HISTORY_LIMIT + 6):
        ev(state, "game_state", changes={"turn": {"n": v}}, version=v, turns=[turn("note", n=v)])
    history = state.turn_history
    assert len(history) == TURN_HISTORY_LIMIT and history[0]["n"] == 6 and not state.needs_reread


def test_a_turn_history_near_its_size_bound_asks_for_a_reread() -> None:
    state = fresh()
    big = "x" * 7000
    for v in range(1, 20):
        ev(state, "game_state", changes={"turn": {"t": big}}, version=v, turns=[turn("note", t=big)])
    assert state.needs_reread and state.reread_reason == "turn history near its size bound"


def test_unknown_events_are_kept_out_of_the_state() -> None:
    state = fresh()
    ev(state, "something_new", whatever=1)
    assert state.seq == 4 and state.version == 0 and not state.needs_reread


@pytest.mark.parametrize("kind", sorted(KNOWN_EVENT_TYPES))
def test_every_event_type_is_covered_here(kind: str) -> None:
    source = open(__file__).read()
    assert f'"{kind}"' in source


# ---------------------------------------------------------------- on the connection (fake server)
async def test_fifty_game_state_events_cost_no_rpc(backend: Any, make_client: Any) -> None:
    """The steady state (issue 22): on_game_state_change gets the folded state, so 50 game_state
    events cost 0 RPCs (before: one get_game_state each, 50 for one client, 300 for a party
    of six)."""
    from .test_connection import FAST, seer_and_player, until

    _, player = await seer_and_player(backend, make_client)
    versions: list[int] = []
    async with player.connect(
        s.SESSION_ID, on_game_state_change=lambda st: versions.append(st.version), **FAST
    ) as conn:
        before = len(backend.calls)
        for _ in range(50):
            backend.emit()
        await conn.wait_for_seq(50)
        await until(lambda: len(versions) == 50)
        rpcs = [c[0] for c in backend.calls[before:]]
        print(f"RPCs during 50 game_state events with on_game_state_change set: {len(rpcs)}")
        assert rpcs == [] and conn.state_reads == 0
        assert versions == list(range(1, 51)) and conn.state.game.variables["gold"] == 50


async def test_the_new_events_have_their_callbacks(backend: Any, make_client: Any) -> None:
    from seer_client import ReadmitRequestedEvent, SeerConnectionEvent, SessionSettingsEvent

    from .test_connection import FAST, seer_and_player

    _, player = await seer_and_player(backend, make_client)
    got: list[object] = []
    async with player.connect(
        s.SESSION_ID,
        on_seer_connection=got.append,
        on_readmit_requested=got.append,
        on_session_settings=got.append,
        **FAST,
    ) as conn:
        backend.emit("seer_connection", seerId=s.SEER_ID, isConnected=False)
        backend.emit("readmit_requested", playerId=pia_seat(conn.state), characterName="Pia")
        backend.emit("session_settings", settings={"allowLateJoin": True}, maxPlayers=5)
        await conn.wait_for_seq(3)
        assert [type(e) for e in got] == [SeerConnectionEvent, ReadmitRequestedEvent, SessionSettingsEvent]
        assert not conn.state.seer_connected and conn.state.max_players == 5 and conn.state.readmit_requests
