"""The Seer's dashboard and the player's view (issue 22): contents per role, in text, rich and
HTML; a hidden roll's value is on the Seer's dashboard and never in a player's view."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from seer_client._lobby import LobbyState
from seer_client._state import SessionState
from seer_client._view import SessionView
from seer_client.events import parse_event
from seer_client.models import DiceRoll, Die, Session

from . import samples as s

PIA = "00000000-0000-4000-8000-0000000000b1"
BRAM = "00000000-0000-4000-8000-0000000000b2"
NODE_A = "00000000-0000-4000-8000-00000000b001"
SECRET = 987  # the hidden roll's total: on the Seer's dashboard only


def _state(role: str, *, reveal: bool) -> SessionState:
    pia, bram = s.player(PIA, "Pia"), s.player(BRAM, "Bram")
    data = s.session(status="active", players=[pia, bram], last_seq=3)
    state = SessionState(
        s.SESSION_ID, LobbyState(s.SESSION_ID), role=role, user_id=s.SEER_ID if role == "seer" else PIA
    )
    state.apply_snapshot(Session.model_validate(data))
    state.lobby.set_presence({s.SEER_ID, PIA})  # the Seer and Pia online

    def ev(type_: str, **fields: Any) -> None:
        state.apply(parse_event(s.event(state.seq + 1, type_, **fields)))

    ev(
        "node_change",
        nodeId=NODE_A,
        nodeType="story",
        nodeTitle="The Flooded Gate",
        nodeBody="Water up to the knees.",
        choices=[{"label": "Swim", "nodeId": NODE_A}, {"label": "Climb", "nodeId": NODE_A}],
    )
    ev(
        "player_action",
        playerId=pia["id"],
        characterName="Pia",
        text="I test the current",
        version=1,
        entry={"type": "action"},
    )
    ev(
        "dice_rolled",
        rollId="open",
        rollerId=PIA,
        characterId=pia["characterId"],
        expression="1d20",
        reason="swim",
        hidden=False,
        dice=[{"term": 1, "sides": 20, "value": 14}],
        total=14,
        version=2,
        entry={"type": "roll"},
    )
    ev(
        "dice_rolled",
        rollId="secret",
        rollerId=s.SEER_ID,
        expression="3d6",
        reason="ambush",
        hidden=True,
        version=3,
        entry={"type": "roll"},
    )
    order = [
        {"kind": "character", "name": "Pia", "initiative": 18},
        {"kind": "foe", "name": "Eel Warden", "initiative": 11},
    ]
    ev(
        "combat_started",
        combatState={"id": "c1", "round": 1, "turn": 0, "order": order, "current": order[0]},
        version=4,
        entry={"type": "combat"},
    )
    ev("combat_turn", combatId="c1", round=1, turn=1, current=order[1], version=5, entry={"type": "combat"})
    ev(
        "game_state",
        changes={"addInventory": [{"id": "rope", "name": "Rope", "assignedTo": pia["characterId"]}]},
        version=6,
        turns=[],
    )
    ev("player_connection", playerId=bram["id"], isConnected=False, status="disconnected")
    ev("player_inactive", playerId=bram["id"], characterName="Bram")
    if reveal:  # what the Seer's connection does for a hidden roll (list_dice_rolls)
        dice = [
            Die(term=1, sides=6, value=321),
            Die(term=1, sides=6, value=333),
            Die(term=1, sides=6, value=333),
        ]
        state.reveal_roll(
            DiceRoll(
                roll_id="secret",
                rollerId=s.SEER_ID,
                expression="3d6",
                reason="ambush",
                hidden=True,
                dice=dice,
                total=SECRET,
            )
        )
    return state


def _renderings(view: SessionView) -> list[str]:
    console = Console(width=160, record=True, color_system=None)
    console.print(view)
    return [str(view), view._repr_html_(), console.export_text()]


def test_the_seers_dashboard() -> None:
    view = SessionView.from_state(_state("seer", reveal=True))
    assert view.role == "seer"
    for out in _renderings(view):
        assert "Water up to the knees." in out and "Swim" in out and "Climb" in out  # node text, choices
        assert "I test the current" in out  # pending action
        assert f"hidden: {SECRET}" in out and "1d20 (swim) = 14" in out  # dice log, hidden value too
        assert "▶ Eel Warden (initiative 11)" in out and "round 1" in out  # initiative, whose turn
        assert "Rope → Pia" in out  # inventory
        assert "Bram is inactive" in out and "kick_player" in out  # the kick-or-wait prompt
        assert "Party of 2 is below the recommended 3-5 players" in out  # party warning
        assert "AI Seer on, voice chat off" in out and "late join off" in out  # every setting


def test_the_players_view_shows_their_game_not_the_seers_secrets() -> None:
    # even from a state that holds the value (it never does on a player's connection)
    for reveal in (False, True):
        view = SessionView.from_state(_state("player", reveal=reveal))
        assert view.role == "player"
        for out in _renderings(view):
            assert "Water up to the knees." in out and "Swim" in out  # node text and choices
            assert "Pia, ranger, level 1" in out and "carries Rope" in out  # their character
            assert "1d20 (swim) = 14" in out and "3d6 (ambush) = hidden" in out  # the dice they may see
            assert "▶ Eel Warden" in out  # turn order
            assert str(SECRET) not in out and "321" not in out and "333" not in out
            assert "kick_player" not in out and "Prompts" not in out


def test_a_player_is_told_when_the_seer_is_away_and_the_game_paused() -> None:
    state = _state("player", reveal=False)
    state.apply(parse_event(s.event(state.seq + 1, "seer_connection", seerId=s.SEER_ID, isConnected=False)))
    pause = s.event(state.seq + 1, "session_status", oldStatus="active", newStatus="paused", actor=None)
    state.apply(parse_event(pause))
    notices = SessionView.from_state(state).section("Notices")
    assert notices is not None and notices.lines == ["The Seer is away: the game is paused"]


def test_the_seer_back_after_the_server_paused_the_game_is_told_so() -> None:
    state = _state("seer", reveal=False)
    state.apply(parse_event(s.event(state.seq + 1, "seer_connection", seerId=s.SEER_ID, isConnected=False)))
    pause = s.event(state.seq + 1, "session_status", oldStatus="active", newStatus="paused", actor=None)
    state.apply(parse_event(pause))
    state.apply(parse_event(s.event(state.seq + 1, "seer_connection", seerId=s.SEER_ID, isConnected=True)))
    warnings = SessionView.from_state(state).section("Warnings")
    assert warnings is not None and "paused while you were away: resume_session when ready" in warnings.lines
    state.apply(parse_event(s.event(state.seq + 1, "session_status", oldStatus="paused", newStatus="active")))
    warnings = SessionView.from_state(state).section("Warnings")
    assert warnings is not None and not any("away" in line and "paused" in line for line in warnings.lines)


def test_the_seer_is_prompted_when_an_inactive_player_asks_to_come_back() -> None:
    state = _state("seer", reveal=False)
    bram = next(p for p in state.seats.values() if p.user_id == BRAM)
    state.apply(
        parse_event(s.event(state.seq + 1, "readmit_requested", playerId=bram.id, characterName="Bram"))
    )
    prompts = SessionView.from_state(state).section("Prompts")
    assert prompts is not None
    assert prompts.lines == ["Bram is back and asks to rejoin: readmit_player or kick_player"]
    # a hidden roll whose value was not loaded says so on the dashboard
    dice = SessionView.from_state(state).section("Dice")
    assert dice is not None and "Seer: 3d6 (ambush) = hidden (value not loaded)" in dice.lines


@pytest.mark.parametrize("role", ["seer", "player"])
def test_hostile_text_in_sections_is_shown_as_typed(role: str) -> None:
    state = _state(role, reveal=False)
    state.apply(
        parse_event(
            s.event(
                state.seq + 1,
                "node_change",
                nodeId=NODE_A,
                nodeTitle="[red]\x1b[31mX",
                nodeBody="<b>bold</b>\x07",
                choices=[],
            )
        )
    )
    view = SessionView.from_state(state)
    text, html, rich = _renderings(view)
    assert "\x1b" not in text + html + rich and "\x07" not in text + html + rich
    assert "&lt;b&gt;bold" in html and "[red]" in rich


def test_the_pictures_in_docs_are_these_views() -> None:
    """docs/img/seer-dashboard.svg and docs/img/player-view.svg are the rich renderings of the two
    views above (SEER_UPDATE_DOCS_SCREENSHOT=1 rewrites them)."""
    import os
    from pathlib import Path

    img = Path(__file__).resolve().parents[2] / "docs" / "img"
    for name, role in (("seer-dashboard", "seer"), ("player-view", "player")):
        sink = open(os.devnull, "w")  # closed below
        console = Console(width=100, record=True, color_system="truecolor", file=sink)
        console.print(SessionView.from_state(_state(role, reveal=role == "seer")))
        sink.close()
        svg = console.export_svg(title=f"seer-client: the {name.replace('-', ' ')}")
        path = img / f"{name}.svg"
        if os.environ.get("SEER_UPDATE_DOCS_SCREENSHOT"):
            path.write_text(svg)
        assert path.read_text() == svg, f"{path} is stale: SEER_UPDATE_DOCS_SCREENSHOT=1 pytest {__file__}"
