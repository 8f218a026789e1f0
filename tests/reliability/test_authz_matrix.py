"""The authorization matrix as data: actor x action -> expected outcome, through the devstack.

Actors: anon (anon key only), stranger (signed in, never seated), player (live seat), kicked
(seat released by the Seer), left (left the lobby before the start), seer, service_role.
Actions: every RPC, a read of every API table (rows that concern the world's session), and a
private Realtime channel join on the session's current keyed topic ``session:<id>:<key>``.

Outcomes are rendered as ``ok`` / ``ok:<rows>`` / ``<http status> <code>`` / ``refused``. Each
mutating action runs against a fresh world (one session, built through the API) per actor, so
one actor's success cannot change what the next one sees. The whole matrix is printed; any
cell that differs fails the test, listing every mismatch.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import websockets

from .conftest import ADVENTURE_ID, Api, Reply, User

ACTORS = ["anon", "stranger", "player", "kicked", "left", "seer", "service_role"]
ANON = "401 42501"  # execute/select not granted to anon: PostgREST's 401
NO_SUB = "401 PGRST301"  # service_role has no user id: the RPCs need a signed-in user
NF = "404 SESSION_001"  # outsiders are never told the session exists
NOT_SEER = "403 SESSION_007"
FORMER = "403 SESSION_006"


@dataclass
class World:
    sid: str
    code: str
    users: dict[str, User]
    seats: dict[str, str] = field(default_factory=dict)  # actor -> session_players.id
    last_seq: int = 0


async def build_world(api: Api, status: str, *, feedback: bool = False) -> World:
    users = {name: await api.user(name) for name in ("stranger", "player", "kicked", "left", "seer")}
    s = await api.ok(users["seer"].token, "create_session", {"p_adventure_id": ADVENTURE_ID})
    w = World(s["id"], s["code"], users)
    for name in ("player", "kicked", "left"):
        j = await api.ok(
            users[name].token,
            "join_session",
            {"p_session_id": w.sid, "p_character_id": users[name].character_id},
        )
        w.seats[name] = j["player"]["id"]
    await api.ok(
        users["seer"].token, "kick_player", {"p_session_id": w.sid, "p_player_id": w.seats["kicked"]}
    )
    await api.ok(users["left"].token, "leave_session", {"p_session_id": w.sid})
    if status in ("active", "paused", "completed"):
        await api.ok(users["seer"].token, "start_session", {"p_session_id": w.sid})
    if status == "paused":
        await api.ok(users["seer"].token, "pause_session", {"p_session_id": w.sid})
    if status == "completed":
        await api.ok(users["seer"].token, "end_session", {"p_session_id": w.sid, "p_outcome": "completed"})
        if feedback:
            await api.ok(users["player"].token, "submit_feedback", {"p_session_id": w.sid, "p_rating": 5})
    w.last_seq = (await api.ok(users["seer"].token, "get_session", {"p_session_id": w.sid}))["lastSeq"]
    return w


def token_of(api: Api, w: World | None, actor: str) -> str | None:
    if actor == "anon":
        return None  # apikey header only, as supabase clients send before sign-in
    if actor == "service_role":
        return api.stack.service_role_key
    assert w is not None
    return w.users[actor].token


def render(r: Reply, *, rows: bool = False) -> str:
    if 200 <= r.status < 300:
        return f"ok:{len(r.body)}" if rows else "ok"
    return f"{r.status} {r.code}"


Call = Callable[[Api, World, str], Awaitable[str]]


def rpc(fn: str, args: Callable[[World, str], dict[str, Any]]) -> Call:
    async def call(api: Api, w: World, actor: str) -> str:
        return render(await api.rpc(token_of(api, w, actor), fn, args(w, actor)))

    return call


def table(name: str, filt: Callable[[World], str]) -> Call:
    async def call(api: Api, w: World, actor: str) -> str:
        path = f"/rest/v1/{name}?select=*&{filt(w)}"
        return render(await api.request("GET", path, token_of(api, w, actor)), rows=True)

    return call


async def channel_join(api: Api, w: World, actor: str) -> str:
    token = token_of(api, w, actor) or api.stack.anon_key
    base = api.stack.url.replace("http", "ws", 1)
    url = f"{base}/realtime/v1/websocket?apikey={api.stack.anon_key}&vsn=1.0.0"
    # the current key, as a participant would have it: kicked/left players and strangers are
    # refused even holding it
    current = await api.db.fetchval(
        "select topic from seer_private.session_channels where session_id = $1", w.sid
    )
    topic = f"realtime:{current}"
    async with websockets.connect(url) as ws:
        join = {
            "config": {"broadcast": {"self": False}, "presence": {"key": ""}, "private": True},
            "access_token": token,
        }
        await ws.send(
            json.dumps({"topic": topic, "event": "phx_join", "payload": join, "ref": "1", "join_ref": "1"})
        )
        async with asyncio.timeout(5):
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("event") == "phx_reply" and msg.get("ref") == "1":
                    return "ok" if msg["payload"]["status"] == "ok" else "refused"


@dataclass
class Action:
    name: str
    status: str | None  # the world's session status; None: no world needed
    call: Call
    expected: dict[str, str]
    mutating: bool = False
    feedback: bool = False


def row(
    anon: str, stranger: str, player: str, kicked: str, left: str, seer: str, service: str
) -> dict[str, str]:
    return dict(zip(ACTORS, [anon, stranger, player, kicked, left, seer, service], strict=True))


def sid(w: World, _: str) -> dict[str, Any]:
    return {"p_session_id": w.sid}


USER_OK = row(ANON, "ok", "ok", "ok", "ok", "ok", NO_SUB)
SEER_ONLY = row(ANON, NF, NOT_SEER, NF, NF, "ok", NO_SUB)
PARTICIPANTS = row(ANON, NF, "ok", NF, NF, "ok", NO_SUB)

ACTIONS: list[Action] = [
    Action(
        "create_session", None, rpc("create_session", lambda w, a: {"p_adventure_id": ADVENTURE_ID}), USER_OK
    ),
    Action("get_session", "waiting", rpc("get_session", sid), PARTICIPANTS),
    Action(
        "get_session_by_code", "waiting", rpc("get_session_by_code", lambda w, a: {"p_code": w.code}), USER_OK
    ),
    Action(
        "join_session",
        "waiting",
        rpc(
            "join_session",
            lambda w, a: {
                "p_session_id": w.sid,
                "p_character_id": w.users[a].character_id if a in w.users else None,
            },
        ),
        row(ANON, "ok", "409 SESSION_008", FORMER, "ok", "409 SESSION_008", NO_SUB),
        mutating=True,
    ),
    Action(
        "leave_session",
        "waiting",
        rpc("leave_session", sid),
        row(ANON, NF, "ok", FORMER, FORMER, "422 SESSION_012", NO_SUB),
        mutating=True,
    ),
    Action(
        "kick_player",
        "waiting",
        rpc("kick_player", lambda w, a: {"p_session_id": w.sid, "p_player_id": w.seats["player"]}),
        SEER_ONLY,
        mutating=True,
    ),
    Action("start_session", "waiting", rpc("start_session", sid), SEER_ONLY, mutating=True),
    Action("pause_session", "active", rpc("pause_session", sid), SEER_ONLY, mutating=True),
    Action("resume_session", "paused", rpc("resume_session", sid), SEER_ONLY, mutating=True),
    Action(
        "end_session",
        "active",
        rpc("end_session", lambda w, a: {"p_session_id": w.sid, "p_outcome": "completed"}),
        SEER_ONLY,
        mutating=True,
    ),
    Action("get_game_state", "active", rpc("get_game_state", sid), PARTICIPANTS),
    Action(
        "update_game_state",
        "active",
        rpc("update_game_state", lambda w, a: {"p_session_id": w.sid, "p_patch": {"addFlags": ["x"]}}),
        SEER_ONLY,
        mutating=True,
    ),
    Action(
        "heartbeat",
        "active",
        rpc("heartbeat", sid),
        row(ANON, NF, "ok", FORMER, FORMER, "ok", NO_SUB),
        mutating=True,
    ),
    Action(
        "session_events_since",
        "active",
        rpc("session_events_since", lambda w, a: {"p_session_id": w.sid, "p_after_seq": 0}),
        PARTICIPANTS,
    ),
    Action(
        "session_topic",
        "active",
        rpc("session_topic", sid),
        row(ANON, NF, "ok", FORMER, FORMER, "ok", NO_SUB),
    ),
    Action(
        "submit_feedback",
        "completed",
        rpc("submit_feedback", lambda w, a: {"p_session_id": w.sid, "p_rating": 4}),
        row(ANON, NF, "ok", FORMER, FORMER, FORMER, NO_SUB),
        mutating=True,
    ),
    Action("list_my_sessions", None, rpc("list_my_sessions", lambda w, a: {}), USER_OK),
    Action(
        "create_character",
        None,
        rpc("create_character", lambda w, a: {"p_name": "Matrix", "p_class": "monk"}),
        USER_OK,
    ),
    Action("list_my_characters", None, rpc("list_my_characters", lambda w, a: {}), USER_OK),
    Action(
        "sweep_sessions",
        None,
        rpc("sweep_sessions", lambda w, a: {}),
        row(ANON, "403 42501", "403 42501", "403 42501", "403 42501", "403 42501", "ok"),
    ),
    Action(
        # the heartbeat collector's batch (issue 24): the user ids are the caller's word
        "heartbeat_batch",
        None,
        rpc("heartbeat_batch", lambda w, a: {"p_beats": [{"sessionId": w.sid, "userId": w.sid}]}),
        row(ANON, "403 42501", "403 42501", "403 42501", "403 42501", "403 42501", "ok"),
    ),
    Action(
        "invite_preview",
        "waiting",
        rpc("invite_preview", lambda w, a: {"p_code": w.code}),
        row(ANON, "403 42501", "403 42501", "403 42501", "403 42501", "403 42501", "ok"),
    ),
    # table reads (rows of the world's session; RLS decides)
    Action(
        "read sessions",
        "waiting",
        table("sessions", lambda w: f"id=eq.{w.sid}"),
        row(ANON, "ok:0", "ok:1", "ok:0", "ok:0", "ok:1", "ok:1"),
    ),
    Action(
        "read session_players",
        "waiting",
        table("session_players", lambda w: f"session_id=eq.{w.sid}"),
        row(ANON, "ok:0", "ok:3", "ok:0", "ok:0", "ok:3", "ok:3"),
    ),
    Action(
        "read session_events",
        "waiting",
        table("session_events", lambda w: f"session_id=eq.{w.sid}"),
        # session_created, 3 joins, kick, leave
        row(ANON, "ok:0", "ok:6", "ok:0", "ok:0", "ok:6", "ok:6"),
    ),
    Action(
        "read session_feedback",
        "completed",
        table("session_feedback", lambda w: f"session_id=eq.{w.sid}"),
        row(ANON, "ok:0", "ok:1", "ok:0", "ok:0", "ok:1", "ok:1"),
        feedback=True,
    ),
    Action(
        "read characters (player's)",
        "waiting",
        table("characters", lambda w: f"id=eq.{w.users['player'].character_id}"),
        row(ANON, "ok:0", "ok:1", "ok:0", "ok:0", "ok:1", "ok:1"),
    ),
    Action(
        "read profiles (player's)",
        "waiting",
        table("profiles", lambda w: f"id=eq.{w.users['player'].id}"),
        row(ANON, "ok:0", "ok:1", "ok:0", "ok:0", "ok:1", "ok:1"),
    ),
    Action(
        "read adventures",
        "waiting",
        table("adventures", lambda w: f"id=eq.{ADVENTURE_ID}"),
        row(ANON, "ok:1", "ok:1", "ok:1", "ok:1", "ok:1", "ok:1"),
    ),
    # no spoilers: only the visited start node, and only for the session's participants
    Action(
        "read adventure_nodes",
        "active",
        table("adventure_nodes", lambda w: f"adventure_id=eq.{ADVENTURE_ID}"),
        row(ANON, "ok:0", "ok:1", "ok:0", "ok:0", "ok:1", "ok:5"),
    ),
    Action(
        "read adventure_links",
        "active",
        table("adventure_links", lambda w: f"adventure_id=eq.{ADVENTURE_ID}"),
        row(ANON, "ok:0", "ok:1", "ok:0", "ok:0", "ok:1", "ok:5"),
    ),
    Action("list_adventures", None, rpc("list_adventures", lambda w, a: {}), USER_OK),
    Action(
        "roll_dice",
        "active",
        rpc("roll_dice", lambda w, a: {"p_session_id": w.sid, "p_expression": "1d20"}),
        PARTICIPANTS,
        mutating=True,
    ),
    Action(
        "submit_action",
        "active",
        rpc("submit_action", lambda w, a: {"p_session_id": w.sid, "p_text": "I look around"}),
        row(ANON, NF, "ok", NF, NF, "400 SESSION_000", NO_SUB),
        mutating=True,
    ),
    Action(
        "start_combat",
        "active",
        rpc("start_combat", lambda w, a: {"p_session_id": w.sid, "p_combatants": [{"name": "Eel"}]}),
        SEER_ONLY,
        mutating=True,
    ),
    Action("list_dice_rolls", "active", rpc("list_dice_rolls", sid), PARTICIPANTS),
    Action("list_feedback", "completed", rpc("list_feedback", sid), SEER_ONLY),
    Action(
        "join channel session:<id>:<key>",
        "active",
        channel_join,
        row("refused", "refused", "ok", "refused", "refused", "ok", "ok"),
    ),
]


async def test_authorization_matrix(api: Api) -> None:
    shared: dict[tuple[str, bool], World] = {}

    async def world_for(action: Action, actor: str) -> World:
        status = action.status or "waiting"
        if action.mutating:
            return await build_world(api, status, feedback=action.feedback)
        key = (status, action.feedback)
        if key not in shared:
            shared[key] = await build_world(api, status, feedback=action.feedback)
        return shared[key]

    async def cell(action: Action, actor: str) -> str:
        w = await world_for(action, actor)
        return await action.call(api, w, actor)

    got: dict[str, dict[str, str]] = {}
    for action in ACTIONS:
        if action.mutating:
            outcomes = await asyncio.gather(*(cell(action, a) for a in ACTORS))
        else:
            await world_for(action, ACTORS[0])
            outcomes = [await cell(action, a) for a in ACTORS]
        got[action.name] = dict(zip(ACTORS, outcomes, strict=True))

    width = max(len(a.name) for a in ACTIONS)
    cols = [max(len(actor), *(len(got[a.name][actor]) for a in ACTIONS)) for actor in ACTORS]
    lines = [" " * width + " | " + " | ".join(actor.ljust(c) for actor, c in zip(ACTORS, cols, strict=True))]
    mismatches = []
    for action in ACTIONS:
        cells = []
        for actor, c in zip(ACTORS, cols, strict=True):
            value, want = got[action.name][actor], action.expected[actor]
            mark = "" if value == want else "!"
            if mark:
                mismatches.append(f"{action.name} as {actor}: expected {want!r}, got {value!r}")
            cells.append((value + mark).ljust(c))
        lines.append(action.name.ljust(width) + " | " + " | ".join(cells))
    print("\nAuthorization matrix (actor x action; '!' marks a mismatch)\n" + "\n".join(lines))
    assert not mismatches, "\n".join(mismatches)
    assert len(ACTIONS) * len(ACTORS) >= 200


async def test_create_session_answers_201_created(api: Api) -> None:
    # the PRD's POST /sessions is 201; the function sets PostgREST's response.status
    seer = await api.user("seer", character=False)
    created = await api.rpc(seer.token, "create_session", {"p_adventure_id": ADVENTURE_ID})
    assert created.status == 201 and created.body["status"] == "waiting"
    refused = await api.rpc(seer.token, "create_session", {"p_adventure_id": str(uuid.uuid4())})
    assert (refused.status, refused.code) == (404, "SESSION_013")  # errors keep their own status
    assert (await api.rpc(seer.token, "get_session", {"p_session_id": created.body["id"]})).status == 200
