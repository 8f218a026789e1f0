"""Realtime on the wire with a raw websockets client: the vsn 2.0.0 serializer (JSON arrays and
binary user-broadcast frames, as supabase-js uses it), heartbeats, token expiry, idle sockets."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from typing import Any

import asyncpg
import jwt
import pytest
import websockets

from seer_devstack.stack import DevStack

from .conftest import ADVENTURE_ID, Clients, Target

pytestmark = pytest.mark.devstack


def ws_url(target: Target, vsn: str) -> str:
    return f"{target.url.replace('http', 'ws', 1)}/realtime/v1/websocket?apikey={target.anon_key}&vsn={vsn}"


def decode_user_broadcast(frame: bytes) -> dict[str, Any]:
    kind, topic_len, event_len, meta_len, encoding = struct.unpack_from("5B", frame)
    assert kind == 4
    pos = 5
    topic = frame[pos : pos + topic_len].decode()
    pos += topic_len
    event = frame[pos : pos + event_len].decode()
    pos += event_len
    meta = json.loads(frame[pos : pos + meta_len]) if meta_len else None
    pos += meta_len
    return {"topic": topic, "event": event, "meta": meta, "json": encoding == 1, "payload": frame[pos:]}


async def recv_until(ws: Any, pred: Any, within: float = 5.0) -> Any:
    async with asyncio.timeout(within):
        while True:
            frame = await ws.recv()
            msg = frame if isinstance(frame, bytes) else json.loads(frame)
            if pred(msg):
                return msg


async def test_vsn2_arrays_binary_broadcasts_and_v1_interop(
    clients: Clients, target: Target, db: asyncpg.Pool
) -> None:
    seer = await clients.user("seer")
    sid = (await seer.client.rpc("create_session", {"p_adventure_id": ADVENTURE_ID}).execute()).data["id"]
    sub_topic = (await seer.client.rpc("session_topic", {"p_session_id": sid}).execute()).data["topic"]
    topic = f"realtime:{sub_topic}"
    async with websockets.connect(ws_url(target, "2.0.0")) as ws:
        await ws.send(json.dumps([None, "1", "phoenix", "heartbeat", {}]))
        assert json.loads(await ws.recv()) == [
            None,
            "1",
            "phoenix",
            "phx_reply",
            {"status": "ok", "response": {}},
        ]

        join = {
            "config": {
                "broadcast": {"self": True, "ack": True},
                "presence": {"key": seer.id, "enabled": True},
                "private": True,
                "postgres_changes": [],
            },
            "access_token": seer.access_token,
        }
        await ws.send(json.dumps(["3", "3", topic, "phx_join", join]))
        reply = await recv_until(ws, lambda m: isinstance(m, list) and m[3] == "phx_reply")
        assert reply == ["3", "3", topic, "phx_reply", {"status": "ok", "response": {"postgres_changes": []}}]
        state = await recv_until(ws, lambda m: isinstance(m, list) and m[3] == "presence_state")
        assert state == ["3", None, topic, "presence_state", {}]

        # realtime.send arrives as a binary user broadcast frame with meta.id.
        async with db.acquire() as conn:
            await conn.execute("select realtime.send('{\"a\": 1}'::jsonb, 'ev', $1, true)", sub_topic)
        frame = await recv_until(ws, lambda m: isinstance(m, bytes))
        ub = decode_user_broadcast(frame)
        payload = json.loads(ub["payload"])
        assert ub["topic"] == topic and ub["event"] == "ev" and ub["json"]
        assert payload["a"] == 1 and ub["meta"] == {"id": payload["id"]}

        # Client broadcasts between serializers, on a public room: on the private session
        # topic only the database may broadcast (tests/devstack/test_realtime_security.py).
        session_topic, topic = topic, f"realtime:room-{sid}"
        room_join = {**join, "config": {**join["config"], "private": False}}  # type: ignore[dict-item]
        await ws.send(json.dumps(["4", "4", topic, "phx_join", room_join]))
        room_ok = await recv_until(ws, lambda m: isinstance(m, list) and m[3] == "phx_reply" and m[1] == "4")
        assert room_ok[4]["status"] == "ok" and session_topic != topic

        # A JSON broadcast from a vsn 1.0.0 peer reaches this vsn 2.0.0 socket as an array.
        player = await clients.user("player")
        char = (
            await player.client.rpc("create_character", {"p_name": "Io", "p_class": "mage"}).execute()
        ).data
        await player.client.rpc("join_session", {"p_session_id": sid, "p_character_id": char["id"]}).execute()
        async with websockets.connect(ws_url(target, "1.0.0")) as v1:
            await v1.send(
                json.dumps(
                    {
                        "topic": topic,
                        "event": "phx_join",
                        "payload": {**room_join, "access_token": player.access_token},
                        "ref": "1",
                        "join_ref": "1",
                    }
                )
            )
            ok = await recv_until(v1, lambda m: isinstance(m, dict) and m["event"] == "phx_reply")
            assert ok["payload"]["status"] == "ok" and ok["ref"] == "1"
            await v1.send(
                json.dumps(
                    {
                        "topic": topic,
                        "event": "broadcast",
                        "ref": "2",
                        "join_ref": "1",
                        "payload": {"type": "broadcast", "event": "hello", "payload": {"from": "v1"}},
                    }
                )
            )
            ack = await recv_until(v1, lambda m: isinstance(m, dict) and m["event"] == "phx_reply")
            assert ack["ref"] == "2" and ack["payload"] == {"status": "ok", "response": {}}
            got = await recv_until(ws, lambda m: isinstance(m, list) and m[3] == "broadcast")
            assert got == [
                None,
                None,
                topic,
                "broadcast",
                {"type": "broadcast", "event": "hello", "payload": {"from": "v1"}},
            ]

            # A binary user_broadcast_push from the vsn 2 socket reaches the vsn 1 peer as JSON.
            body = json.dumps({"from": "v2"}).encode()
            tb, eb = topic.encode(), b"hi"
            push = bytes([3, 1, 1, len(tb), len(eb), 0, 1]) + b"3" + b"4" + tb + eb + body
            await ws.send(push)
            msg = await recv_until(v1, lambda m: isinstance(m, dict) and m["event"] == "broadcast")
            assert msg["ref"] is None
            assert msg["payload"] == {"event": "hi", "payload": {"from": "v2"}, "type": "broadcast"}


async def test_expired_token_closes_the_channel(target: Target) -> None:
    if not target.jwt_secret:
        pytest.skip("needs the JWT secret to mint a short token")
    token = jwt.encode({"role": "anon", "exp": int(time.time()) + 2}, target.jwt_secret)
    async with websockets.connect(ws_url(target, "1.0.0")) as ws:
        topic = "realtime:public-room"
        await ws.send(
            json.dumps(
                {
                    "topic": topic,
                    "event": "phx_join",
                    "ref": "1",
                    "join_ref": "1",
                    "payload": {"config": {"private": False}, "access_token": token},
                }
            )
        )
        ok = await recv_until(ws, lambda m: m["event"] == "phx_reply")
        assert ok["payload"]["status"] == "ok"
        system = await recv_until(ws, lambda m: m["event"] == "system", within=6)
        assert system["ref"] is None
        assert system["payload"]["status"] == "error" and system["payload"]["extension"] == "system"
        assert system["payload"]["message"].startswith("Token has expired")
        close = await recv_until(ws, lambda m: m["event"] == "phx_close")
        assert close["payload"] == {} and close["topic"] == topic

        # A join with an expired token is refused with Realtime's reason.
        await ws.send(
            json.dumps(
                {
                    "topic": topic,
                    "event": "phx_join",
                    "ref": "5",
                    "join_ref": "5",
                    "payload": {"config": {}, "access_token": token},
                }
            )
        )
        err = await recv_until(ws, lambda m: m["event"] == "phx_reply")
        assert err["payload"]["status"] == "error"
        assert err["payload"]["response"]["reason"].startswith("InvalidJWTToken: Token has expired")


async def test_idle_sockets_are_closed(database_url: str, target: Target) -> None:
    if not target.is_devstack:
        pytest.skip("idle timeout is a server setting")
    async with DevStack(database_url=database_url, idle_timeout=1.0) as stack:
        url = f"{stack.url.replace('http', 'ws', 1)}/realtime/v1/websocket?apikey={stack.anon_key}&vsn=1.0.0"
        async with websockets.connect(url, ping_interval=None) as ws:
            start = time.monotonic()
            with pytest.raises(websockets.ConnectionClosed):
                async with asyncio.timeout(5):
                    await ws.recv()
            assert 0.9 < time.monotonic() - start < 4
        async with websockets.connect(url, ping_interval=None) as ws:  # heartbeats keep it open
            for i in range(4):
                await ws.send(
                    json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": str(i)})
                )
                reply = json.loads(await ws.recv())
                assert reply["event"] == "phx_reply" and reply["ref"] == str(i)
                await asyncio.sleep(0.5)


async def test_stall_and_refuse_hooks(database_url: str, target: Target) -> None:
    if not target.is_devstack:
        pytest.skip("devstack test hooks")
    async with DevStack(database_url=database_url, idle_timeout=1.5) as stack:
        url = f"{stack.url.replace('http', 'ws', 1)}/realtime/v1/websocket?apikey={stack.anon_key}&vsn=1.0.0"
        beat = json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "1"})
        async with websockets.connect(url, ping_interval=None) as ws:
            await ws.send(beat)
            assert json.loads(await ws.recv())["ref"] == "1"
            assert await stack.realtime.stall_sockets() == 1
            await ws.send(beat)  # a half-open socket: no reply, then the idle timeout closes it
            with pytest.raises(websockets.ConnectionClosed):
                async with asyncio.timeout(5):
                    await ws.recv()
        await stack.realtime.refuse_connections(True)
        with pytest.raises(websockets.InvalidStatus) as err:
            await websockets.connect(url)
        assert err.value.response.status_code == 503
        await stack.realtime.refuse_connections(False)
        async with websockets.connect(url) as ws:
            await ws.send(beat)
            assert json.loads(await ws.recv())["event"] == "phx_reply"
