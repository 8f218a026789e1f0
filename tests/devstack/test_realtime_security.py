"""Session-topic security on real Realtime semantics (the devstack evaluates the same RLS
policies Realtime does: read at join, write per channel on first use, HTTP per request).

* Nobody but the database broadcasts on ``session:<id>``: a participant's websocket
  broadcast is dropped and the HTTP broadcast API refuses it.
* A kicked or left player's socket is not evicted (Realtime only re-checks policies at join
  and on an access_token push), but it receives no session content: the database only
  broadcasts content-free pokes and the content (session_events_since) is refused to them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from .conftest import ADVENTURE_ID, Clients, Target, User, wait_for

pytestmark = pytest.mark.devstack

POKE_KEYS = {"sessionId", "seq", "type", "id"}  # id: added by realtime.send


class RawSocket:
    """A hostile client: a bare vsn 1.0.0 websocket that records every frame it is sent."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, topic: str) -> None:
        self.ws = ws
        self.topic = topic
        self.frames: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.task = asyncio.create_task(self._read())
        self._ref = 10

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.raw.append(msg.data)
                self.frames.append(json.loads(msg.data))

    @property
    def broadcasts(self) -> list[dict[str, Any]]:
        return [f["payload"] for f in self.frames if f.get("event") == "broadcast"]

    def replies(self, ref: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("event") == "phx_reply" and f.get("ref") == ref]

    async def push(self, event: str, payload: dict[str, Any]) -> str:
        self._ref += 1
        ref = str(self._ref)
        await self.ws.send_str(
            json.dumps({"topic": self.topic, "event": event, "payload": payload, "ref": ref, "join_ref": "1"})
        )
        return ref

    async def close(self) -> None:
        await self.ws.close()
        self.task.cancel()


async def raw_join(
    http: aiohttp.ClientSession, target: Target, user: User, sub_topic: str, presence_key: str = ""
) -> RawSocket:
    url = f"{target.url.replace('http', 'ws', 1)}/realtime/v1/websocket?apikey={target.anon_key}&vsn=1.0.0"
    ws = await http.ws_connect(url)
    sock = RawSocket(ws, f"realtime:{sub_topic}")
    join = {
        "config": {
            "broadcast": {"self": True, "ack": True},
            "presence": {"key": presence_key},
            "private": True,
        },
        "access_token": user.access_token,
    }
    await ws.send_str(
        json.dumps({"topic": sock.topic, "event": "phx_join", "payload": join, "ref": "1", "join_ref": "1"})
    )
    await wait_for(lambda: bool(sock.replies("1")), what="join reply")
    assert sock.replies("1")[0]["payload"]["status"] == "ok", sock.replies("1")
    return sock


async def rpc(user: User, fn: str, args: dict[str, Any]) -> Any:
    return (await user.client.rpc(fn, args).execute()).data


async def seat(user: User, sid: str) -> str:
    char = await rpc(user, "create_character", {"p_name": "Hero", "p_class": "ranger"})
    joined = await rpc(user, "join_session", {"p_session_id": sid, "p_character_id": char["id"]})
    return str(joined["player"]["id"] if "player" in joined else joined["playerId"])


async def last_seq(user: User, sid: str) -> int:
    return int((await rpc(user, "get_session", {"p_session_id": sid}))["lastSeq"])


async def test_participants_cannot_broadcast_on_the_session_topic(clients: Clients, target: Target) -> None:
    seer, aria, bram = await clients.user("seer"), await clients.user("aria"), await clients.user("bram")
    sid = (await rpc(seer, "create_session", {"p_adventure_id": ADVENTURE_ID}))["id"]
    await seat(aria, sid)
    await seat(bram, sid)
    topic = f"session:{sid}"
    async with aiohttp.ClientSession() as http:
        victim = await raw_join(http, target, bram, topic)
        forger = await raw_join(http, target, aria, topic)
        seer_sock = await raw_join(http, target, seer, topic)
        nxt = await last_seq(seer, sid) + 1
        forged = {"seq": nxt, "type": "session_ended", "sessionId": sid, "outcome": "completed"}
        # websocket broadcast, with ack requested: Realtime drops it without a reply
        ref = await forger.push(
            "broadcast", {"type": "broadcast", "event": "session_ended", "payload": forged}
        )
        seer_ref = await seer_sock.push("broadcast", {"type": "broadcast", "event": "x", "payload": forged})
        # the HTTP broadcast API (POST /realtime/v1/api/broadcast), private
        headers = {"apikey": target.anon_key, "Authorization": f"Bearer {aria.access_token}"}
        body = {"messages": [{"topic": topic, "event": "session_ended", "payload": forged, "private": True}]}
        async with http.post(f"{target.url}/realtime/v1/api/broadcast", json=body, headers=headers) as resp:
            assert resp.status == 202  # Realtime accepts the batch and skips unauthorized topics
        single = f"{target.url}/realtime/v1/api/broadcast/{topic}/events/session_ended?private=true"
        async with http.post(single, json=forged, headers=headers) as resp:
            assert resp.status == 403
        await asyncio.sleep(0.5)
        for sock in (victim, forger, seer_sock):
            assert sock.broadcasts == [], sock.broadcasts
        assert not forger.replies(ref) and not seer_sock.replies(seer_ref)
        # presence stays writable for participants
        track = await forger.push(
            "presence", {"type": "presence", "event": "track", "payload": {"user_id": aria.id}}
        )
        await wait_for(lambda: bool(forger.replies(track)), what="track reply")
        assert forger.replies(track)[0]["payload"]["status"] == "ok"
        for sock in (victim, forger, seer_sock):
            await sock.close()


async def _removed_socket_hears_no_content(
    target: Target, seer: User, gone: User, sid: str, remove: Any, then: Any, secret: str
) -> None:
    topic = f"session:{sid}"
    async with aiohttp.ClientSession() as http:
        gone_sock = await raw_join(http, target, gone, topic)
        seer_sock = await raw_join(http, target, seer, topic)
        await remove()
        await then()
        final = await last_seq(seer, sid)
        await wait_for(
            lambda: any(b["payload"]["seq"] == final for b in seer_sock.broadcasts), what="last poke"
        )
        await asyncio.sleep(0.2)
        # Real Realtime keeps the open socket (no eviction on a policy change) ...
        assert not gone_sock.ws.closed
        # ... but what reaches it is pokes: no event content, no secret.
        assert gone_sock.broadcasts, "the removed socket still gets the topic's broadcasts"
        for b in gone_sock.broadcasts:
            assert set(b["payload"]) <= POKE_KEYS, b
        assert not any(secret in frame for frame in gone_sock.raw)
        # and the log, where the content is, is closed to them
        with pytest.raises(Exception) as refused:
            await rpc(gone, "session_events_since", {"p_session_id": sid, "p_after_seq": 0})
        assert "SESSION_001" in str(refused.value)
        for sock in (gone_sock, seer_sock):
            await sock.close()


async def test_kicked_players_open_socket_receives_no_session_content(
    clients: Clients, target: Target
) -> None:
    seer, aria, kurt = await clients.user("seer"), await clients.user("aria"), await clients.user("kurt")
    sid = (await rpc(seer, "create_session", {"p_adventure_id": ADVENTURE_ID}))["id"]
    await seat(aria, sid)
    kurt_seat = await seat(kurt, sid)
    await rpc(seer, "start_session", {"p_session_id": sid})
    secret = "vault-code-81723"

    async def kick() -> None:
        await rpc(
            seer, "kick_player", {"p_session_id": sid, "p_player_id": kurt_seat, "p_reason": "spoilers"}
        )

    async def play_on() -> None:
        patch = {"setVariables": {"vault": secret}, "addFlags": ["vault_opened"]}
        await rpc(seer, "update_game_state", {"p_session_id": sid, "p_patch": patch})

    await _removed_socket_hears_no_content(target, seer, kurt, sid, kick, play_on, secret)


async def test_left_players_open_socket_receives_no_session_content(clients: Clients, target: Target) -> None:
    seer, lia = await clients.user("seer"), await clients.user("lia")
    newcomer = await clients.user("newcomer-secretive")
    sid = (await rpc(seer, "create_session", {"p_adventure_id": ADVENTURE_ID}))["id"]
    await seat(lia, sid)

    async def leave() -> None:
        await rpc(lia, "leave_session", {"p_session_id": sid})

    async def someone_joins() -> None:  # a player_joined event carries the newcomer's details
        await seat(newcomer, sid)

    await _removed_socket_hears_no_content(target, seer, lia, sid, leave, someone_joins, newcomer.id)
