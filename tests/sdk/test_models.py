from __future__ import annotations

import pytest

from seer_client import (
    GameState,
    GameStateEvent,
    GameStatePatch,
    JoinPreview,
    NodeChangeEvent,
    PlayerConnectionEvent,
    PlayerInactiveEvent,
    PlayerJoinedEvent,
    PlayerLeftEvent,
    Session,
    SessionCreatedEvent,
    SessionEndedEvent,
    SessionStatusEvent,
    UnknownEvent,
    ValidationError,
    parse_event,
)
from seer_client.models import EndResult, MyCharacter, StartResult

from . import samples as s


def test_session_parses_contract_json_to_snake_case() -> None:
    p = s.player(name="Bran", status="disconnected")
    session = Session.model_validate(s.session(status="active", players=[p], last_seq=7))
    assert session.seer_name == "The Seer"
    assert session.recommended_min_players == 3
    assert session.last_seq == 7
    assert session.settings.enable_ai_seer is True
    assert session.settings.allow_late_join is False
    assert session.players[0].character is not None
    assert session.players[0].character.character_class == "ranger"
    assert session.players[0].character_name == "Bran"
    assert session.players[0].status == "disconnected"
    assert session.game_state.variables == {"gold": 5, "door_open": False, "npc": "Mira"}
    assert session.game_state.inventory[0].model_extra == {"weight": 1}
    assert session.created_at is not None and session.created_at.tzinfo is not None
    # round trip back to the wire spelling
    wire = session.to_wire()
    assert wire["seerName"] == "The Seer" and wire["settings"]["enableAISeer"] is True
    assert wire["players"][0]["character"]["class"] == "ranger"


def test_populate_by_name_accepts_snake_case() -> None:
    state = GameState(current_node_id=s.NODE_ID, visited_node_ids=[s.NODE_ID], version=3)
    assert state.to_wire()["currentNodeId"] == s.NODE_ID


def test_result_wrappers() -> None:
    start = StartResult.model_validate(
        {"session": s.session(status="active"), "warnings": ["Party size 1 is below the recommended 3-5"]}
    )
    assert start.session.status == "active" and start.warnings
    end = EndResult.model_validate(
        {
            "session": s.session(status="completed"),
            "stats": {
                "durationMinutes": 12,
                "nodesVisited": 4,
                "diceRolled": 3,
                "combatsCompleted": 1,
                "experienceEarned": 150,
            },
        }
    )
    assert end.stats.experience_earned == 150
    preview = JoinPreview.model_validate(
        {
            "session": {
                "id": s.SESSION_ID,
                "code": "H7NK4B",
                "status": "waiting",
                "seerName": "The Seer",
                "adventureId": s.ADVENTURE_ID,
                "adventureName": "x",
                "adventureDescription": None,
                "playerCount": 2,
                "maxPlayers": 6,
                "minPlayers": 1,
                "settings": {},
            },
            "canJoin": False,
            "reason": "Session is full",
        }
    )
    assert preview.can_join is False and preview.session.player_count == 2
    mine = MyCharacter.model_validate({**s.character(s.SEER_ID), "activeSessionId": None})
    assert mine.active_session_id is None


@pytest.mark.parametrize(
    ("data", "cls"),
    [
        (s.event(1, "session_created", status="waiting"), SessionCreatedEvent),
        (s.event(2, "player_joined", player=s.player()), PlayerJoinedEvent),
        (
            s.event(
                3,
                "player_left",
                playerId=s.SEER_ID,
                userId=s.SEER_ID,
                characterId=s.SEER_ID,
                reason="kicked",
                kickReason="afk",
            ),
            PlayerLeftEvent,
        ),
        (
            s.event(
                4,
                "player_connection",
                playerId=s.SEER_ID,
                userId=s.SEER_ID,
                isConnected=False,
                status="disconnected",
            ),
            PlayerConnectionEvent,
        ),
        (
            s.event(
                5,
                "player_inactive",
                playerId=s.SEER_ID,
                userId=s.SEER_ID,
                characterId=s.SEER_ID,
                characterName="Aria",
                disconnectedAt=s.TS,
            ),
            PlayerInactiveEvent,
        ),
        (s.event(6, "session_status", oldStatus="waiting", newStatus="active"), SessionStatusEvent),
        (s.event(7, "game_state"), GameStateEvent),
        (
            s.event(8, "node_change", nodeId=s.NODE_ID, nodeType="combat", nodeTitle="The Gate"),
            NodeChangeEvent,
        ),
        (
            s.event(
                9,
                "session_ended",
                outcome="completed",
                notes=None,
                stats={
                    "durationMinutes": 1,
                    "nodesVisited": 2,
                    "diceRolled": 0,
                    "combatsCompleted": 0,
                    "experienceEarned": 10,
                },
            ),
            SessionEndedEvent,
        ),
    ],
)
def test_event_union_dispatches_on_type(data: dict, cls: type) -> None:
    event = parse_event(data)
    assert type(event) is cls
    assert event.seq == data["seq"]
    assert event.session_id == s.SESSION_ID


def test_player_left_reason_and_kick_reason() -> None:
    event = parse_event(s.event(3, "player_left", playerId="p", reason="kicked", kickReason="afk"))
    assert isinstance(event, PlayerLeftEvent)
    assert event.reason == "kicked" and event.kick_reason == "afk"


def test_unknown_event_type_is_kept_not_rejected() -> None:
    event = parse_event(s.event(10, "weather_changed", roll=17, who="Aria"))
    assert isinstance(event, UnknownEvent)
    assert event.type == "unknown" and event.event_type == "weather_changed"
    assert event.model_extra == {"roll": 17, "who": "Aria"}
    assert event.to_wire()["type"] == "weather_changed" and "eventType" not in event.to_wire()


def test_unknown_status_values_map_to_unknown_not_str() -> None:
    from seer_client import Unknown

    event = parse_event(s.event(11, "session_status", oldStatus="active", newStatus="archived"))
    assert isinstance(event, SessionStatusEvent)
    assert event.old_status == "active" and not isinstance(event.old_status, Unknown)
    assert isinstance(event.new_status, Unknown) and event.new_status == "archived"
    assert event.to_wire()["newStatus"] == "archived"


def test_parse_event_from_json_text() -> None:
    import json

    event = parse_event(json.dumps(s.event(11, "session_status", oldStatus="active", newStatus="paused")))
    assert isinstance(event, SessionStatusEvent) and event.new_status == "paused"


def test_known_type_missing_fields_is_an_error() -> None:
    import pydantic

    with pytest.raises(pydantic.ValidationError):
        parse_event(s.event(12, "node_change"))


class TestGameStatePatch:
    def test_builds_camel_case_wire_patch(self) -> None:
        patch = GameStatePatch.build(
            current_node_id=s.NODE_ID,
            add_inventory=[{"id": "rope", "name": "Rope"}],
            set_variables={"gold": 3, "lit": True},
            add_flags=["entered"],
            node_override=True,
        )
        assert patch.to_wire() == {
            "currentNodeId": s.NODE_ID,
            "addInventory": [{"id": "rope", "name": "Rope"}],
            "setVariables": {"gold": 3, "lit": True},
            "addFlags": ["entered"],
            "nodeOverride": True,
        }

    def test_accepts_camel_case_dict(self) -> None:
        patch = GameStatePatch.build({"removeFlags": ["x"], "turn": {"actor": "Aria", "action": "search"}})
        assert patch.to_wire() == {"removeFlags": ["x"], "turn": {"actor": "Aria", "action": "search"}}

    def test_dice_and_combat_are_not_patch_keys(self) -> None:
        # diceRolled and combatsCompleted are counted by roll_dice / end_combat on the server
        for key in ("diceRolls", "combatState"):
            with pytest.raises(ValidationError) as info:
                GameStatePatch.build({key: 1})
            assert info.value.details == key

    @pytest.mark.parametrize(
        ("fields", "detail"),
        [
            ({"currentNodeId": "not-a-uuid"}, "currentNodeId"),
            ({"bogus": 1}, "bogus"),
            ({"setVariables": {"a": [1]}}, "setVariables"),
            ({"setVariables": {"a": None}}, "setVariables"),
            ({"addInventory": [{"id": "x"}]}, "addInventory"),
            ({"addFlags": "notalist"}, "addFlags"),
            ({"nodeOverride": "yes"}, "nodeOverride"),
            ({}, "patch"),
        ],
    )
    def test_invalid_patch_is_session_000(self, fields: dict, detail: str) -> None:
        with pytest.raises(ValidationError) as info:
            GameStatePatch.build(fields)
        assert info.value.code == "SESSION_000"
        assert info.value.status == 400
        assert info.value.details == detail


def test_game_events_parse_to_their_models() -> None:
    from seer_client import DiceRolledEvent, NodeChangeEvent, PlayerActionEvent

    hidden = parse_event(
        s.event(
            20,
            "dice_rolled",
            rollId="r1",
            rollerId=s.SEER_ID,
            characterId=None,
            expression="3d6",
            reason="ambush",
            hidden=True,
            dice=None,
            total=None,
        )
    )
    assert (
        isinstance(hidden, DiceRolledEvent) and hidden.hidden and hidden.total is None and hidden.dice is None
    )
    shown = parse_event(
        s.event(
            21,
            "dice_rolled",
            rollId="r2",
            expression="2d6",
            hidden=False,
            total=7,
            dice=[
                {"term": 1, "sides": 6, "value": 3, "kept": True},
                {"term": 1, "sides": 6, "value": 4, "kept": True},
            ],
        )
    )
    assert isinstance(shown, DiceRolledEvent) and [d.value for d in shown.dice or []] == [3, 4]
    node = parse_event(
        s.event(
            22,
            "node_change",
            nodeId="n2",
            nodeType="choice",
            nodeTitle="Two Ways Down",
            nodeBody="Dive?",
            choices=[{"label": "Window", "nodeId": "n4"}],
            override=True,
        )
    )
    assert isinstance(node, NodeChangeEvent) and node.choices[0].label == "Window" and node.override
    action = parse_event(
        s.event(
            23,
            "player_action",
            playerId="p1",
            characterId="c1",
            characterName="Aria",
            text=None,
            choice={"label": "Window", "nodeId": "n4"},
            bySeer=False,
        )
    )
    assert (
        isinstance(action, PlayerActionEvent) and action.choice is not None and action.choice.node_id == "n4"
    )
