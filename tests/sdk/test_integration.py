"""The SDK against the devstack (real Postgres with our migrations + the Supabase-compatible gateway)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from yarl import URL

from seer_client import (
    AdventureNotFound,
    AlreadyInSession,
    AuthError,
    CharacterConnected,
    CharacterInSession,
    CombatStateConflict,
    ConnectionStatus,
    DiceRolledEvent,
    InvalidStatusTransition,
    MinPlayersNotMet,
    NodeChangeEvent,
    NotAdventureAuthor,
    NotInSession,
    NotSeer,
    PlayerActionEvent,
    PlayerConnectionEvent,
    PlayerInactiveEvent,
    SeerCannotLeave,
    SeerClient,
    SessionFull,
    SessionNotFound,
    StateVersionConflict,
    TransportError,
    ValidationError,
)
from seer_client.models import Character

pytestmark = pytest.mark.devstack

ADVENTURE_ID = "00000000-0000-4000-8000-00000000a001"
NODE = {n: f"00000000-0000-4000-8000-00000000b00{n}" for n in range(1, 6)}
PASSWORD = "integration-pw-42"
FAST = {"backoff_base": 0.1, "backoff_max": 0.5, "join_timeout": 5.0}


@dataclass
class Person:
    name: str
    client: SeerClient
    user_id: str
    character: Character
    email: str


Factory = Callable[[str], Awaitable[Person]]


async def new_person(url: str, anon_key: str, name: str, made: list[SeerClient]) -> Person:
    """A signed-up user with a character, on the stack at ``url`` (closed by the caller)."""
    client = await SeerClient.create(url, anon_key)
    made.append(client)
    email = f"{name.lower()}-{uuid.uuid4().hex[:10]}@example.com"
    uid = await client.sign_up(email, PASSWORD, display_name=name)
    character = await client.create_character(name=name, character_class="ranger")
    return Person(name, client, uid, character, email)


@pytest.fixture
async def person(devstack) -> AsyncIterator[Factory]:
    made: list[SeerClient] = []

    async def factory(name: str) -> Person:
        return await new_person(devstack.url, devstack.anon_key, name, made)

    yield factory
    for client in made:
        await client.close()


async def until(predicate, limit: float = 10.0) -> None:
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 - polling SDK state
            await asyncio.sleep(0.02)


async def test_every_method_through_a_whole_session(person: Factory, db: Any) -> None:
    seer, aria, bram = await person("Seer"), await person("Aria"), await person("Bram")
    created = await seer.client.create_session(ADVENTURE_ID, settings={"showDiceRolls": False}, max_players=2)
    session = created.session
    assert session.status == "waiting" and session.seer_id == seer.user_id
    assert session.settings.show_dice_rolls is False and session.max_players == 2
    assert created.join_url.endswith(f"/functions/v1/invite/{session.code}")

    preview = await aria.client.get_session_by_code(session.code.lower())
    assert preview.can_join and preview.session.id == session.id and preview.session.player_count == 0
    joined = await aria.client.join_by_code(session.code, character_id=aria.character.id)
    assert joined.player.character_id == aria.character.id and joined.player.character is not None
    with pytest.raises(AlreadyInSession):
        await aria.client.join_session(session.id, character_id=aria.character.id)
    bram_seat = await bram.client.join_session(session.id, character_id=bram.character.id)
    assert len(bram_seat.session.players) == 2

    with pytest.raises(NotSeer) as not_seer:
        await aria.client.start_session(session.id)
    assert not_seer.value.status == 403
    await bram.client.leave_session(session.id)  # waiting: the seat is released
    assert [p.user_id for p in (await seer.client.get_session(session.id)).players] == [aria.user_id]
    await bram.client.join_session(session.id, character_id=bram.character.id)  # may come back

    started = await seer.client.start_session(session.id)
    assert started.session.status == "active" and started.session.current_node_id == NODE[1]
    assert any("recommended" in w for w in started.warnings)  # party of 2, recommended 3-5

    state = await seer.client.update_game_state(
        session.id, current_node_id=NODE[2], add_flags=["shore"], set_variables={"tide": 2}
    )
    assert state.current_node_id == NODE[2] and "shore" in state.flags and state.variables["tide"] == 2
    with pytest.raises(StateVersionConflict) as conflict:
        await seer.client.update_game_state(
            session.id, add_flags=["late"], expected_version=state.version - 1
        )
    assert conflict.value.status == 409 and conflict.value.current_version == state.version
    assert (await aria.client.get_game_state(session.id)).version == state.version
    with pytest.raises(NotSeer):
        await aria.client.update_game_state(session.id, add_flags=["cheat"])

    await aria.client.roll_dice(session.id, "3d6")  # counted by the server, not patched
    state = await seer.client.get_game_state(session.id)
    paused = await seer.client.pause_session(session.id)
    assert paused.status == "paused"
    with pytest.raises(InvalidStatusTransition):
        await seer.client.pause_session(session.id)
    resumed = await seer.client.resume_session(session.id)
    assert resumed.status == "active" and resumed.game_state.version == state.version

    beat = await aria.client.heartbeat(session.id)
    assert beat.player_id == joined.player.id and beat.status == "connected"
    # the session's state rides along: the last seq lets a client see a missed broadcast
    tail = await aria.client.session_events_since(session.id)
    assert beat.session_status == "active" and beat.last_seq == tail[-1].seq
    with pytest.raises(SeerCannotLeave):
        await seer.client.leave_session(session.id)

    bram_player = next(p for p in resumed.players if p.user_id == bram.user_id)
    await seer.client.kick_player(session.id, player_id=bram_player.id, reason="rude")
    with pytest.raises(NotInSession):
        await bram.client.join_session(session.id, character_id=bram.character.id)

    # experience is earned by real play (200 XP per unpaused minute, docs/server.md): as if
    # the party had played for half an hour
    await db.execute(
        "update public.sessions set started_at = started_at - interval '30 minutes' where id = $1",
        uuid.UUID(str(session.id)),
    )
    ended = await seer.client.end_session(session.id, outcome="completed", notes="gg")
    assert ended.session.status == "completed" and ended.session.outcome == "completed"
    assert ended.stats.nodes_visited >= 2 and ended.stats.dice_rolled == 3
    assert ended.stats.experience_earned > 0
    feedback = await aria.client.submit_feedback(session.id, rating=5, comment="fun")
    assert feedback.rating == 5
    chars = await aria.client.list_my_characters()
    assert chars[0].experience == ended.stats.experience_earned and chars[0].active_session_id is None

    events = await seer.client.all_events_since(session.id, page_size=4)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    types = [e.type for e in events]
    assert types[0] == "session_created" and types[-1] == "session_ended"
    assert {"player_joined", "player_left", "session_status", "game_state", "node_change"} <= set(types)
    kicked = [e for e in events if e.type == "player_left" and e.reason == "kicked"]
    assert kicked and kicked[0].kick_reason == "rude"

    mine = await seer.client.list_my_sessions(status=["completed"])
    assert [s.id for s in mine] == [session.id] and mine[0].role == "seer"
    assert (await aria.client.list_my_sessions())[0].role == "player"

    await aria.client.sign_out()
    with pytest.raises(AuthError):
        await aria.client.user_id()
    with pytest.raises(AuthError):
        await aria.client.sign_in(aria.email, "wrong password")
    assert await aria.client.sign_in(aria.email, PASSWORD) == aria.user_id
    assert (await aria.client.get_session(session.id)).status == "completed"  # history stays readable


async def test_server_errors_map_to_classes(person: Factory, devstack) -> None:
    seer, aria, bram = await person("Seer"), await person("Aria"), await person("Bram")
    with pytest.raises(AdventureNotFound) as missing:
        await seer.client.create_session(str(uuid.uuid4()))
    assert missing.value.status == 404
    one = (await seer.client.create_session(ADVENTURE_ID, max_players=1)).session
    with pytest.raises(MinPlayersNotMet):
        await seer.client.start_session(one.id)
    with pytest.raises(SessionNotFound):
        await aria.client.get_session(one.id)
    await aria.client.join_session(one.id, character_id=aria.character.id)
    with pytest.raises(SessionFull) as full:
        await bram.client.join_session(one.id, character_id=bram.character.id)
    assert full.value.status == 422
    other = (await seer.client.create_session(ADVENTURE_ID)).session
    with pytest.raises(CharacterInSession):
        await aria.client.join_session(other.id, character_id=aria.character.id)
    with pytest.raises(ValidationError) as not_mine:
        await bram.client.join_session(other.id, character_id=aria.character.id)
    assert not_mine.value.details == "characterId"
    with pytest.raises(SessionNotFound):
        await aria.client.get_session_by_code("ZZZZZZ")
    anon = await SeerClient.create(devstack.url, devstack.anon_key)
    try:
        with pytest.raises(AuthError):
            await anon.get_session(one.id)
    finally:
        await anon.close()


async def test_socket_killed_server_side_mid_session_loses_nothing(person: Factory, devstack) -> None:
    seer, aria, bram = await person("Seer"), await person("Aria"), await person("Bram")
    session = (await seer.client.create_session(ADVENTURE_ID, settings={"allowLateJoin": True})).session
    for p in (aria, bram):
        await p.client.join_session(session.id, character_id=p.character.id)
    await seer.client.start_session(session.id)
    async with (
        seer.client.connect(session.id, since_seq=0, **FAST) as seer_conn,
        aria.client.connect(session.id, since_seq=0, **FAST) as aria_conn,
        bram.client.connect(session.id, since_seq=0, **FAST) as bram_conn,
    ):
        await until(lambda: sum(p.state == "online" for p in seer_conn.presence()) == 3)
        stop = asyncio.Event()

        async def produce() -> int:
            n = 0
            while not stop.is_set():
                await seer.client.update_game_state(session.id, set_variables={"n": n})
                n += 1
            return n

        producer = asyncio.create_task(produce())
        await asyncio.sleep(0.2)
        assert await devstack.realtime.drop_sockets(aria.user_id) == 1
        await until(
            lambda: any(p.user_id == aria.user_id and p.state == "reconnecting" for p in bram_conn.presence())
        )
        await until(lambda: aria_conn.reconnects == 1 and aria_conn.status is ConnectionStatus.CONNECTED)
        await asyncio.sleep(0.2)
        assert await devstack.realtime.drop_all_sockets() == 3
        await until(
            lambda: all(c.reconnects >= 1 for c in (seer_conn, bram_conn)) and aria_conn.reconnects == 2
        )
        await asyncio.sleep(0.2)
        stop.set()
        produced = await producer
        assert produced > 10
        expected = [e.seq for e in await seer.client.all_events_since(session.id)]
        for conn in (seer_conn, aria_conn, bram_conn):
            await conn.wait_for_seq(expected[-1])
            assert conn.delivered_seqs == expected
        assert aria_conn.recovered > 0
        await until(lambda: sum(p.state == "online" for p in seer_conn.presence()) == 3)


async def test_realtime_unreachable_gives_up_after_max_attempts(person: Factory, devstack) -> None:
    seer = await person("Seer")
    session = (await seer.client.create_session(ADVENTURE_ID)).session
    failed = asyncio.Event()
    conn = seer.client.connect(
        session.id, max_reconnect_attempts=3, on_max_reconnect_failed=failed.set, **FAST
    )
    async with conn:
        # Realtime is now unreachable (REST still works): every reconnect attempt fails.
        seer.client.supabase.realtime_url = URL("ws://127.0.0.1:9/realtime/v1")
        await devstack.realtime.drop_sockets(seer.user_id)
        t0 = time.monotonic()
        async with asyncio.timeout(15):
            await failed.wait()
        assert time.monotonic() - t0 < 10
        assert conn.status is ConnectionStatus.DISCONNECTED and isinstance(conn.error, TransportError)


async def test_raising_callback_does_not_stop_delivery(person: Factory) -> None:
    seer, aria = await person("Seer"), await person("Aria")
    session = (await seer.client.create_session(ADVENTURE_ID)).session
    seen: list[int] = []

    def explode(event) -> None:
        seen.append(event.seq)
        raise RuntimeError("user bug")

    async with seer.client.connect(session.id, since_seq=0, on_event=explode, **FAST) as conn:
        await aria.client.join_session(session.id, character_id=aria.character.id)
        await seer.client.start_session(session.id)
        for n in range(3):
            await seer.client.update_game_state(session.id, set_variables={"n": n})
        await seer.client.end_session(session.id, outcome="cancelled")
        last = (await seer.client.get_session(session.id)).last_seq
        await conn.wait_for_seq(last)
        assert seen == list(range(1, last + 1)) and conn.callback_errors == last
        assert conn.status is ConnectionStatus.CONNECTED


async def test_unauthorized_channel_join_does_not_loop(person: Factory, devstack, monkeypatch) -> None:
    seer, stranger = await person("Seer"), await person("Zed")
    session = (await seer.client.create_session(ADVENTURE_ID)).session
    # Let the stranger past the RPC preflight so the realtime join itself is refused by RLS.
    # (even with the current key in hand: the policy also wants a participant)
    snapshot = await seer.client.get_session(session.id)
    beat = await seer.client.heartbeat(session.id)
    channel = await seer.client._session_channel(session.id)  # (topic, generation)

    async def fake_get_session(_sid):
        return snapshot

    async def fake_heartbeat(_sid, **_kw):
        return beat

    async def fake_session_channel(_sid):
        return channel

    monkeypatch.setattr(stranger.client, "get_session", fake_get_session)
    monkeypatch.setattr(stranger.client, "heartbeat", fake_heartbeat)
    monkeypatch.setattr(stranger.client, "_session_channel", fake_session_channel)
    before = devstack.realtime.socket_count()
    t0 = time.monotonic()
    with pytest.raises(AuthError) as refused:
        async with stranger.client.connect(session.id, **FAST):
            pass
    assert "Unauthorized" in str(refused.value)
    assert time.monotonic() - t0 < 8
    await asyncio.sleep(1.5)  # the library alone would rejoin after 1 s and forever
    assert devstack.realtime.socket_count() == before


async def test_heartbeat_keeps_seat_and_silence_lets_sweeper_disconnect(person: Factory, db) -> None:
    seer, aria, bram = await person("Seer"), await person("Aria"), await person("Bram")
    session = (await seer.client.create_session(ADVENTURE_ID)).session
    for p in (aria, bram):
        await p.client.join_session(session.id, character_id=p.character.id)
    await seer.client.start_session(session.id)
    async with (
        seer.client.connect(session.id, **FAST) as seer_conn,
        aria.client.connect(session.id, heartbeat_interval=0.2, **FAST),
        bram.client.connect(session.id, heartbeat_interval=3600, **FAST),
    ):
        await asyncio.sleep(4.0)
        # Travel: "now" is 57 s ahead, so a seat silent for more than ~3 s is overdue: Bram
        # (no heartbeat since connect, 4 s ago) but not Aria (one every 0.2 s).
        await db.execute("select seer_private.sweep(now() + interval '57 seconds')")
        event = await seer_conn.wait_for(lambda e: isinstance(e, PlayerConnectionEvent), timeout=10)
        assert event.user_id == bram.user_id and event.is_connected is False
        players = {p.user_id: p.status for p in (await seer.client.get_session(session.id)).players}
        assert players == {aria.user_id: "connected", bram.user_id: "disconnected"}
        # 5 minutes later Bram is inactive and the Seer is prompted (kick or wait)
        await db.execute("select seer_private.sweep(now() + interval '6 minutes')")
        inactive = await seer_conn.wait_for(lambda e: isinstance(e, PlayerInactiveEvent), timeout=10)
        assert inactive.user_id == bram.user_id
        states = {p.user_id: p.state for p in seer_conn.presence() if p.role == "player"}
        # His socket (and so his presence) is still up, only heartbeats stopped: presence never
        # overrules the server's seat state, so he shows as inactive, not online.
        assert bram.user_id in seer_conn.lobby.tracked
        assert states[bram.user_id] == "inactive"
        assert seer_conn.seats[inactive.player_id].controlled_by_seer is True
        # past the 5-minute window his heartbeat no longer restores the seat: the Seer decides
        waiting = await bram.client.heartbeat(session.id)
        assert waiting.restored is False and waiting.status == "inactive"
        # "wait": the Seer readmits him, and his next heartbeat restores the seat
        readmitted = await seer.client.readmit_player(session.id, player_id=inactive.player_id)
        assert readmitted.status == "disconnected"
        restored = await bram.client.heartbeat(session.id)
        assert restored.restored is True and restored.status == "connected"
        # (the 6-minute jump also caught Aria between two heartbeats; hers restore her too)
        back = await seer_conn.wait_for(
            lambda e: (
                e.seq > inactive.seq
                and isinstance(e, PlayerConnectionEvent)
                and e.is_connected
                and e.user_id == bram.user_id
            ),
            timeout=10,
        )
        assert back.status == "connected"
        await until(lambda: seer_conn.seats[inactive.player_id].status == "connected")


async def test_demo_passes_on_the_devstack(devstack) -> None:
    from seer_client._tools.demo import Demo

    demo = Demo(devstack.url, devstack.anon_key, stack=devstack, quiet=True)
    try:
        assert await asyncio.wait_for(demo.run(), 60)
    finally:
        await demo.close()


async def test_kicked_player_connection_ends_with_not_in_session(person: Factory) -> None:
    seer, aria = await person("Seer"), await person("Aria")
    session = (await seer.client.create_session(ADVENTURE_ID)).session
    seat = await aria.client.join_session(session.id, character_id=aria.character.id)
    async with aria.client.connect(session.id, **FAST) as conn:
        await seer.client.kick_player(session.id, player_id=seat.player.id, reason="spam")
        await until(lambda: conn.closed)
        # Removed players read nothing more, not even their own kick (the rekey poke on the
        # old topic is all that reached the socket); session_topic names the reason.
        assert all(e.type != "player_left" for e in conn.history)
        assert isinstance(conn.error, NotInSession) and conn.status is ConnectionStatus.DISCONNECTED
    with pytest.raises(SessionNotFound):  # a former participant no longer sees the session
        async with aria.client.connect(session.id, **FAST):
            pass


async def test_leave_is_final_for_the_connection(person: Factory) -> None:
    """Issue 13: the leaver's still-open connection used to undo the leave with its next
    heartbeat (inactive -> connected within 3 s). Now that heartbeat is SESSION_006 and the
    connection stops; the seat stays with the Seer."""
    seer, aria = await person("Seer"), await person("Aria")
    session = (await seer.client.create_session(ADVENTURE_ID)).session
    await aria.client.join_session(session.id, character_id=aria.character.id)
    await seer.client.start_session(session.id)
    async with aria.client.connect(session.id, heartbeat_interval=0.2, **FAST) as conn:
        await aria.client.leave_session(session.id)
        await until(lambda: conn.closed)
        assert isinstance(conn.error, NotInSession)
    players = (await seer.client.get_session(session.id)).players
    assert [(p.status, p.controlled_by_seer) for p in players] == [("inactive", True)]
    # coming back explicitly within 5 minutes works
    back = await aria.client.join_session(session.id, character_id=aria.character.id)
    assert back.player.status == "connected"


async def test_chaos_random_socket_drops_under_load(person: Factory, devstack) -> None:
    """Five participants, a steady stream of events, and sockets cut at random for 3 s."""
    import random

    rng = random.Random(20261125)
    seer = await person("Seer")
    players = [await person(f"P{i}") for i in range(4)]
    session = (await seer.client.create_session(ADVENTURE_ID)).session
    for p in players:
        await p.client.join_session(session.id, character_id=p.character.id)
    await seer.client.start_session(session.id)
    everyone = [seer, *players]
    conns = [await p.client.connect(session.id, since_seq=0, **FAST).__aenter__() for p in everyone]
    try:
        stop = asyncio.Event()

        async def produce() -> None:
            n = 0
            while not stop.is_set():
                await seer.client.update_game_state(session.id, set_variables={"n": n})
                n += 1

        producer = asyncio.create_task(produce())
        drops = 0
        victims: set[str] = set()
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            await asyncio.sleep(rng.uniform(0.1, 0.4))
            victim = rng.choice(everyone)
            dropped = await devstack.realtime.drop_sockets(victim.user_id)
            drops += dropped
            if dropped:
                victims.add(victim.user_id)
        stop.set()
        await producer
        assert drops >= 5
        expected = [e.seq for e in await seer.client.all_events_since(session.id)]
        for p, conn in zip(everyone, conns, strict=True):
            await conn.wait_for_seq(expected[-1], timeout=30)
            assert conn.delivered_seqs == expected, p.name
            await until(
                lambda c=conn: c.status is ConnectionStatus.CONNECTED, 15
            )  # a late drop may be healing
            assert conn.error is None
        for p, conn in zip(everyone, conns, strict=True):
            assert (conn.reconnects >= 1) == (p.user_id in victims), p.name
    finally:
        for conn in conns:
            await conn.close()


LIBRARY_DOC = {
    "title": "The Gloom Mill",
    "description": "A haunted watermill grinds bones at midnight.",
    "nodes": [
        {"key": "gate", "type": "story", "title": "The Gate", "body": "Rusted hinges.", "xpReward": 10},
        {
            "key": "wheel",
            "type": "combat",
            "title": "The Wheel",
            "body": "It turns by itself.",
            "xpReward": 40,
        },
        {"key": "end", "type": "ending", "title": "Dawn", "body": "The mill stops.", "xpReward": 50},
    ],
    "links": [
        {"from": "gate", "to": "wheel", "label": "Enter"},
        {"from": "wheel", "to": "end", "label": "Stop it"},
    ],
}


async def test_the_game_through_the_sdk(person: Factory, tmp_path) -> None:
    """Library, graph without spoilers, dice (hidden per role), combat, actions, rewards."""
    seer, aria, bram = await person("Seer"), await person("Aria"), await person("Bram")
    path = tmp_path / "mill.json"
    path.write_text(json.dumps(LIBRARY_DOC))
    imported = await seer.client.import_adventure(path)
    assert imported.node_count == 3 and not imported.is_published and imported.is_mine
    assert [a.id for a in await seer.client.list_adventures(scope="mine")] == [imported.id]
    assert imported.id not in [a.id for a in await aria.client.list_adventures(query="gloom")]
    with pytest.raises(ValidationError) as bad:
        await seer.client.import_adventure({**LIBRARY_DOC, "links": []})
    assert bad.value.details == "no ending is reachable from the start node"
    await seer.client.publish_adventure(imported.id)
    with pytest.raises(NotAdventureAuthor):
        await aria.client.publish_adventure(imported.id, published=False)
    found = await aria.client.list_adventures(scope="community", query="GLOOM")
    assert [a.title for a in found] == ["The Gloom Mill"] and found[0].author_name == "Seer"

    session = (
        await seer.client.create_session(imported.id, settings={"autoResolveSimpleCombat": True})
    ).session
    for p in (aria, bram):
        await p.client.join_session(session.id, character_id=p.character.id)
    started = (await seer.client.start_session(session.id)).session
    node = started.current_node
    assert node is not None and node.title == "The Gate" and node.body == "Rusted hinges."
    assert [c.label for c in node.choices] == ["Enter"]

    action = await aria.client.submit_action(session.id, choice="Enter")
    assert isinstance(action, PlayerActionEvent) and action.character_name == "Aria"
    with pytest.raises(CharacterConnected):
        await seer.client.submit_action(session.id, "Bram waves", character_id=bram.character.id)
    with pytest.raises(ValidationError):  # not a node of this adventure (links: pgTAP 22)
        await seer.client.update_game_state(session.id, current_node_id=str(uuid.uuid4()))
    await seer.client.update_game_state(session.id, current_node_id=node.choices[0].node_id)
    now = (await bram.client.get_session(session.id)).current_node
    assert now is not None and now.title == "The Wheel" and [c.label for c in now.choices] == ["Stop it"]

    hidden = await seer.client.roll_dice(session.id, "2d6+1", reason="ambush", hidden=True)
    assert hidden.total is not None and hidden.dice is not None and len(hidden.dice) == 2
    seen = {r.roll_id: r for r in await aria.client.list_dice_rolls(session.id)}
    assert seen[hidden.roll_id].total is None and seen[hidden.roll_id].dice is None
    assert {r.roll_id: r for r in await seer.client.list_dice_rolls(session.id)}[
        hidden.roll_id
    ].total == hidden.total
    own = await aria.client.roll_dice(session.id, "4d6kh3")
    assert (
        own.total == sum(d.value for d in own.dice or [] if d.kept) and own.character_id == aria.character.id
    )

    fight = await seer.client.start_combat(
        session.id,
        [{"characterId": aria.character.id}, {"characterId": bram.character.id}, {"name": "Wheel"}],
    )
    assert fight.combat_state is not None and len(fight.combat_state["order"]) == 3
    with pytest.raises(CombatStateConflict):
        await seer.client.start_combat(session.id, [{"name": "Rat"}])
    assert (await seer.client.next_turn(session.id)).combat_state["turn"] == 1  # type: ignore[index]
    assert (await seer.client.end_combat(session.id, "victory")).combat_state is None
    assert (await seer.client.start_combat(session.id, [{"name": "Rat"}], simple=True)).combat_state is None

    await seer.client.update_game_state(
        session.id, add_inventory=[{"id": "cog", "name": "Brass Cog", "assignedTo": aria.character.id}]
    )
    ended = await seer.client.end_session(session.id, outcome="completed")
    # dice: hidden 2d6, 4d6kh3, three initiatives, the rat's initiative and its auto-resolve 1d20
    assert ended.stats.combats_completed == 2 and ended.stats.dice_rolled == 2 + 4 + 3 + 1 + 1
    assert (await aria.client.get_session(session.id)).stats == ended.stats
    mine = {c.id: c for c in await aria.client.list_my_characters()}
    assert [i["id"] for i in mine[aria.character.id].items] == ["cog"]
    await aria.client.submit_feedback(session.id, rating=5, comment="spooky")
    assert [f.comment for f in await seer.client.list_feedback(session.id)] == ["spooky"]

    events = await bram.client.all_events_since(session.id)
    kinds = {e.type for e in events}
    assert {
        "dice_rolled",
        "combat_started",
        "combat_turn",
        "combat_ended",
        "player_action",
        "node_change",
    } <= kinds
    rolled = [e for e in events if isinstance(e, DiceRolledEvent) and e.roll_id == hidden.roll_id]
    assert rolled and rolled[0].hidden and rolled[0].total is None
    moved = [e for e in events if isinstance(e, NodeChangeEvent) and e.node_title == "The Wheel"]
    assert moved and moved[0].node_body == "It turns by itself." and not moved[0].override
