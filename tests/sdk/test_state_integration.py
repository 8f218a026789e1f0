"""conn.state on the devstack (issue 22): the folded state equals get_game_state after a long
mixed run, with no re-read; the Seer sees a hidden roll's value, a player never does; the
Seer's liveness and the inactive player's return are seen by the other connections; settings
change in the lobby with their bounds and one event."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from seer_client import (
    InvalidStatusTransition,
    NotSeer,
    ReadmitRequestedEvent,
    RealtimeError,
    SeerConnectionEvent,
    SessionSettingsEvent,
    SessionStatusEvent,
    ValidationError,
)
from seer_client._connection import SessionConnection

from .test_integration import ADVENTURE_ID, FAST, NODE, Factory, Person, person, until  # noqa: F401

pytestmark = pytest.mark.devstack


@pytest.fixture
def people(person: Factory) -> Factory:  # noqa: F811 - test_integration's fixture
    return person


async def _table(make: Factory, **settings: bool) -> tuple[Person, Person, Person, str]:
    seer, aria, bram = await make("Seer"), await make("Aria"), await make("Bram")
    session = (await seer.client.create_session(ADVENTURE_ID, settings=settings)).session
    for p in (aria, bram):
        await p.client.join_session(session.id, character_id=p.character.id)
    await seer.client.start_session(session.id)
    return seer, aria, bram, session.id


async def _caught_up(conns: list[SessionConnection], seer: Person, sid: str) -> None:
    final = (await seer.client.get_session(sid)).last_seq
    await until(lambda: all(c.last_seq >= final for c in conns), limit=15)


async def _sweep(devstack: Any, seconds: int) -> dict[str, Any]:
    """The sweeper as if ``seconds`` had passed (service role, as pg_cron runs it)."""
    import asyncpg

    conn = await asyncpg.connect(devstack.db_url)
    try:
        import json

        return dict(
            json.loads(
                await conn.fetchval(f"select seer_private.sweep(now() + interval '{seconds} seconds')::text")
            )
        )
    finally:
        await conn.close()


async def test_folded_state_equals_get_game_state_after_a_mixed_run(people: Factory) -> None:
    seer, aria, bram, sid = await _table(people, autoResolveSimpleCombat=True)
    changes: dict[str, list[int]] = {"seer": [], "aria": []}
    async with (
        seer.client.connect(
            sid, on_game_state_change=lambda g: changes["seer"].append(g.version), **FAST
        ) as sc,
        aria.client.connect(
            sid, on_game_state_change=lambda g: changes["aria"].append(g.version), **FAST
        ) as ac,
    ):
        c = seer.client
        await c.update_game_state(
            sid, current_node_id=NODE[2], add_flags=["shore", "tide"], turn={"text": "in"}
        )
        await c.update_game_state(sid, add_inventory=[{"id": "rope", "name": " Rope ", "quantity": 2}])
        await c.update_game_state(
            sid,
            add_inventory=[
                {"id": "lamp", "name": "Lamp", "assignedTo": None},
                {"id": "rope", "name": "Rope+"},
            ],
            set_variables={"gold": 3, "door": True},
            remove_flags=["tide"],
        )
        hidden = await c.roll_dice(sid, "3d6", reason="ambush", hidden=True)
        await aria.client.roll_dice(sid, "1d20+2", reason="swim")
        await aria.client.submit_action(sid, "I look around")
        fight = await c.start_combat(
            sid,
            [
                {"characterId": aria.character.id},
                {"characterId": bram.character.id},
                {"name": "Eel", "bonus": 2},
            ],
        )
        assert fight.combat_state is not None
        for _ in range(4):
            await c.next_turn(sid)
        await c.end_combat(sid, "victory")
        await c.start_combat(sid, [{"name": "Rat"}], simple=True)  # auto-resolved: rolls and ends
        await c.update_game_state(sid, current_node_id=NODE[4], node_override=True, remove_inventory=["lamp"])
        for i in range(90):  # past the 100 turns the state keeps: the fold trims as the server does
            # the Seer's connection folds the turns, so the replies need not carry them
            lean = await c.update_game_state(sid, set_variables={"i": i}, turn={"n": i}, turn_history=False)
        await _caught_up([sc, ac], seer, sid)

        truth = (await c.get_game_state(sid)).model_dump()
        assert len(truth["turn_history"]) == 100  # trimmed by the server
        assert lean.model_dump() == truth | {"turn_history": []}  # the same state, the turns not read
        for conn in (sc, ac):
            assert conn.state.game.model_dump() == truth, conn.role
            assert conn.state_reads == 0 and not conn.state.needs_reread
            assert conn.state.current_node is not None and conn.state.current_node.id == NODE[4]
        assert changes["seer"] == changes["aria"] and changes["seer"][-1] == truth["version"]

        # the hidden roll: the Seer's state has its value (one list_dice_rolls), Aria's never
        seer_roll = next(d.roll for d in sc.state.dice if d.roll.roll_id == hidden.roll_id)
        aria_roll = next(d.roll for d in ac.state.dice if d.roll.roll_id == hidden.roll_id)
        assert seer_roll.total == hidden.total and seer_roll.dice is not None
        assert aria_roll.total is None and aria_roll.dice is None
        assert sc.hidden_roll_reads == 1 and ac.hidden_roll_reads == 0


async def test_the_seers_disconnect_and_return_seen_by_a_player(people: Factory, devstack: Any) -> None:
    seer, aria, _bram, sid = await _table(people)
    async with aria.client.connect(sid, **FAST) as ac:
        async with seer.client.connect(sid, **FAST) as sc:
            await until(lambda: any(p.role == "seer" and p.state == "online" for p in ac.presence()))
            assert sc.state.seer_connected
        # the Seer's app is gone: 60 s later the sweeper marks the Seer away, for everyone
        swept = await _sweep(devstack, 61)
        assert swept["seerDisconnected"] >= 1  # (the sweep covers every session)
        away = await ac.wait_for(lambda e: isinstance(e, SeerConnectionEvent))
        assert isinstance(away, SeerConnectionEvent) and not away.is_connected
        assert not ac.state.seer_connected
        assert [p.state for p in ac.presence() if p.role == "seer"] == ["reconnecting"]
        assert (await aria.client.get_session(sid)).seer_connected is False
        # back: the Seer's heartbeat says so to everyone
        async with seer.client.connect(sid, **FAST):
            back = await ac.wait_for(lambda e: isinstance(e, SeerConnectionEvent) and e.is_connected)
            assert back.actor == seer.user_id and ac.state.seer_connected
        # away again, for 5 minutes: the game pauses itself
        await _sweep(devstack, 61)
        swept = await _sweep(devstack, 61 + 301)
        assert swept["seerAwayPaused"] >= 1
        paused = await ac.wait_for(lambda e: isinstance(e, SessionStatusEvent) and e.new_status == "paused")
        assert paused.actor is None and ac.state.status == "paused"


async def test_presence_under_the_seers_id_does_not_make_an_absent_seer_online(
    people: Factory, devstack: Any
) -> None:
    """Issue 20 item 6: a player tracks presence under the Seer's user id while the Seer is gone."""
    import json

    import aiohttp

    seer, aria, bram, sid = await _table(people)
    async with seer.client.connect(sid, **FAST):
        pass  # the Seer was here (heartbeat), then left
    await _sweep(devstack, 61)  # ... and the server noticed
    async with aria.client.connect(sid, **FAST) as ac, aiohttp.ClientSession() as http:
        # Bram joins the topic he legitimately holds, with presence key = the Seer's user id
        token = await bram.client.access_token()
        ws_base = devstack.url.replace("http", "ws", 1)
        ws = await http.ws_connect(f"{ws_base}/realtime/v1/websocket?apikey={devstack.anon_key}&vsn=1.0.0")
        topic = f"realtime:{await bram.client.session_topic(sid)}"
        cfg = {"config": {"presence": {"key": seer.user_id, "enabled": True}, "private": True}}
        await ws.send_str(
            json.dumps(
                {"topic": topic, "event": "phx_join", "payload": {**cfg, "access_token": token}, "ref": "1"}
            )
        )
        meta = {
            "user_id": seer.user_id,
            "role": "seer",
            "online_at": "2026-12-01T00:00:00Z",
            "status": "online",
        }
        payload = {"type": "presence", "event": "track", "payload": meta}
        await ws.send_str(json.dumps({"topic": topic, "event": "presence", "payload": payload, "ref": "2"}))
        await until(lambda: seer.user_id in ac.lobby.tracked, limit=5)
        await asyncio.sleep(1.0)
        # the server holds the Seer away: the tracked key proves nothing
        assert [p.state for p in ac.presence() if p.role == "seer"] == ["reconnecting"]
        await ws.close()


async def test_an_inactive_player_is_told_to_ask_and_the_seer_is_prompted(
    people: Factory, devstack: Any
) -> None:
    seer, _aria, bram, sid = await _table(people)
    async with seer.client.connect(
        sid, heartbeat_interval=0.3, **{k: v for k, v in FAST.items() if k != "heartbeat_interval"}
    ) as sc:
        await _sweep(devstack, 61)  # Bram never connected: disconnected ...
        await _sweep(devstack, 61 + 301)  # ... and inactive after 5 minutes
        bram_seat = next(p for p in sc.state.seats.values() if p.user_id == bram.user_id)
        await until(lambda: sc.state.seats[bram_seat.id].status == "inactive")
        assert bram_seat.id in [p.id for p in sc.state.inactive_seats()]  # (Aria never came either)
        # Bram comes back: the answer says the Seer must let him in; the Seer is asked once
        beat = await bram.client.heartbeat(sid)
        assert beat.status == "inactive" and beat.readmit == "requested" and not beat.restored
        joined = await bram.client.join_session(sid, character_id=bram.character.id)
        assert joined.readmit == "requested" and joined.player.status == "inactive"
        asked = await sc.wait_for(lambda e: isinstance(e, ReadmitRequestedEvent))
        assert isinstance(asked, ReadmitRequestedEvent) and asked.player_id == bram_seat.id
        assert asked.character_name == "Bram" and list(sc.state.readmit_requests) == [bram_seat.id]
        events = await seer.client.all_events_since(sid)
        assert sum(isinstance(e, ReadmitRequestedEvent) for e in events) == 1  # once, not per call
        # the Seer answers "wait": readmitted, then Bram's next heartbeat restores the seat
        await seer.client.readmit_player(sid, player_id=bram_seat.id)
        await until(lambda: not sc.state.readmit_requests)
        beat = await bram.client.heartbeat(sid)
        assert beat.status == "connected" and beat.restored and beat.readmit is None


async def test_settings_change_in_the_lobby_with_bounds_and_one_event(people: Factory) -> None:
    seer, aria, bram = await people("Seer"), await people("Aria"), await people("Bram")
    sid = (await seer.client.create_session(ADVENTURE_ID)).session.id
    await aria.client.join_session(sid, character_id=aria.character.id)
    async with aria.client.connect(sid, **FAST) as ac:
        changed = await seer.client.update_session_settings(
            sid, {"allowLateJoin": True, "show_dice_rolls": False}, max_players=3
        )
        assert changed.settings.allow_late_join and not changed.settings.show_dice_rolls
        assert changed.max_players == 3
        event = await ac.wait_for(lambda e: isinstance(e, SessionSettingsEvent))
        assert isinstance(event, SessionSettingsEvent) and event.max_players == 3
        assert ac.state.max_players == 3 and ac.state.settings.allow_late_join
        # nothing changed: no event
        seq = (await seer.client.get_session(sid)).last_seq
        await seer.client.update_session_settings(sid, {"allowLateJoin": True})
        assert (await seer.client.get_session(sid)).last_seq == seq
        # bounds, like creation: nothing changes on a refusal
        with pytest.raises(ValidationError):
            await seer.client.update_session_settings(sid, {"nope": True})
        with pytest.raises(ValidationError):
            await seer.client._rpc(  # past the SDK's own check: the server's
                "update_session_settings", {"p_session_id": sid, "p_settings": {"allowLateJoin": "yes"}}
            )
        with pytest.raises(ValidationError):
            await seer.client._rpc(
                "update_session_settings", {"p_session_id": sid, "p_settings": {}, "p_max_players": 7}
            )
        await bram.client.join_session(sid, character_id=bram.character.id)
        with pytest.raises(ValidationError) as below:
            await seer.client.update_session_settings(sid, max_players=1)  # two seats taken
        assert "seats taken" in str(below.value.details)
        with pytest.raises(NotSeer):
            await aria.client.update_session_settings(sid, {"allowLateJoin": False})
        await seer.client.start_session(sid)
        # running: everything but enableAISeer
        await seer.client.update_session_settings(sid, {"showDiceRolls": True})
        with pytest.raises(InvalidStatusTransition):
            await seer.client.update_session_settings(sid, {"enableAISeer": False})
        assert (await seer.client.get_session(sid)).settings.enable_ai_seer is True


async def test_the_seers_live_change_is_asked_without_turns_and_returns_them(
    people: Factory, devstack: Any
) -> None:
    """conn.update_game_state: the request skips the turn history (p_turn_history false), the
    answer is the connection's folded state at (at least) the change's version, with every turn;
    with every database broadcast dropped the change comes from one read of the log."""
    seer, aria, _bram, sid = await _table(people)
    sent: list[dict[str, Any]] = []
    rpc = seer.client._rpc

    async def spy(name: str, args: dict[str, Any], **kw: Any) -> Any:
        if name == "update_game_state":
            sent.append(dict(args))
        return await rpc(name, args, **kw)

    seer.client._rpc = spy  # type: ignore[method-assign]
    async with seer.client.connect(sid, **FAST) as sc:
        await aria.client.roll_dice(sid, "1d20", reason="swim")
        await aria.client.submit_action(sid, "I climb")
        state = await sc.update_game_state(turn={"text": "the tide turns"}, add_flags=["tide"])
        truth = await seer.client.get_game_state(sid)
        assert state.model_dump() == truth.model_dump()
        assert [t.get("text") for t in state.turn_history][-1] == "the tide turns"
        assert len(state.turn_history) == 3 and "tide" in state.flags
        assert sent and all(a.get("p_turn_history") is False for a in sent)

        # with every broadcast dropped, only the log read can deliver the change
        delivered = sc.sequencer.delivered
        dropped = devstack.realtime.dropped_db_broadcasts
        devstack.realtime.set_drop_db_broadcasts(1.0)
        try:
            state = await sc.update_game_state({"setVariables": {"gold": 7}}, expected_version=truth.version)
        finally:
            devstack.realtime.set_drop_db_broadcasts(0.0)
        assert devstack.realtime.dropped_db_broadcasts > dropped  # the change's broadcast was lost
        truth = await seer.client.get_game_state(sid)
        assert state.model_dump() == truth.model_dump() and state.variables["gold"] == 7
        assert sc.sequencer.delivered > delivered


async def test_a_player_cannot_make_the_seers_live_change(people: Factory) -> None:
    seer, aria, _bram, sid = await _table(people)
    before = await seer.client.get_game_state(sid)
    async with aria.client.connect(sid, **FAST) as ac:
        with pytest.raises(NotSeer):
            await ac.update_game_state(add_flags=["mine"])
    after = await seer.client.get_game_state(sid)
    assert after.model_dump() == before.model_dump()


async def test_the_live_change_needs_an_open_connection_and_sends_nothing_otherwise(
    people: Factory,
) -> None:
    seer, _aria, _bram, sid = await _table(people)
    before = await seer.client.get_game_state(sid)
    never_opened = SessionConnection(seer.client, sid)
    with pytest.raises(RealtimeError, match="not open"):
        await never_opened.update_game_state(add_flags=["early"])
    async with seer.client.connect(sid, **FAST) as sc:
        pass
    with pytest.raises(RealtimeError, match="not open"):
        await sc.update_game_state(add_flags=["late"])
    after = await seer.client.get_game_state(sid)
    assert after.model_dump() == before.model_dump()
