"""The tenant limits on the wire, as supabase/realtime v2.102.1 enforces them (issue 19):
messages/s closes the channels that receive a message ("Too many messages per second",
`system` error then `phx_close`), joins/s refuses joins (`ClientJoinRateLimitReached`) and
disconnects the socket, presence/s closes on a track ("Too many presence messages per
second"); an outage loses every database broadcast. A stack of its own with small limits and a
short RateCounter tick."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from seer_devstack.realtime import RateCounter
from seer_devstack.stack import DevStack

pytestmark = pytest.mark.devstack


def test_rate_counter_counts_as_realtime_does() -> None:
    """12 ticks averaged; triggers at avg >= limit at a tick, releases at the first tick below."""
    c = RateCounter(limit=10, tick=5.0)
    c.add(49)
    c.on_tick()
    assert c.avg == pytest.approx(9.8) and not c.triggered
    c.add(60)
    c.on_tick()
    assert c.avg == pytest.approx((49 + 60) / 2 / 5) and c.triggered  # 10.9
    for _ in range(2):
        c.on_tick()  # quiet ticks pull the average down
    assert c.avg == pytest.approx(109 / 4 / 5) and not c.triggered
    for _ in range(20):
        c.on_tick()
    assert len(c.bucket) == 12 and c.avg == 0


async def _join(ws: Any, topic: str, ref: str, **config: Any) -> dict[str, Any]:
    payload = {"config": {"broadcast": {"self": True}, "private": False, **config}}
    await ws.send(json.dumps({"topic": topic, "event": "phx_join", "payload": payload, "ref": ref}))
    async with asyncio.timeout(5):
        while True:
            msg = json.loads(await ws.recv())
            if msg["event"] == "phx_reply" and msg["ref"] == ref:
                return msg


async def _until_closed(ws: Any, topic: str) -> tuple[str, list[str]]:
    """The system error's message, and the events that followed it on ``topic``."""
    message, after = "", []
    async with asyncio.timeout(5):
        while True:
            msg = json.loads(await ws.recv())
            if msg["topic"] != topic:
                continue
            if msg["event"] == "system" and msg["payload"].get("status") == "error":
                message = msg["payload"]["message"]
            elif message:
                after.append(msg["event"])
                if msg["event"] == "phx_close":
                    return message, after


async def test_tenant_limits_close_and_refuse_as_realtime_does(database_url: str) -> None:
    async with DevStack(
        database_url=database_url,
        bcrypt_rounds=4,
        realtime_max_events_per_second=5,
        realtime_max_joins_per_second=4,
        realtime_max_presence_events_per_second=2,
        realtime_rate_tick=0.2,
    ) as stack:
        url = f"{stack.url.replace('http', 'ws', 1)}/realtime/v1/websocket?apikey={stack.anon_key}&vsn=1.0.0"
        async with websockets.connect(url) as ws:
            assert (await _join(ws, "realtime:room", "1"))["payload"]["status"] == "ok"
            for i in range(10):  # each costs 1 + 1 delivery (self): 20 in one 0.2 s tick
                msg = {"type": "broadcast", "event": "e", "payload": {"i": i}}
                await ws.send(json.dumps({"topic": "realtime:room", "event": "broadcast", "payload": msg}))
            await asyncio.sleep(0.3)  # a tick: the average is over the limit
            more = {"type": "broadcast", "event": "e", "payload": {"i": 99}}
            await ws.send(json.dumps({"topic": "realtime:room", "event": "broadcast", "payload": more}))
            message, after = await _until_closed(ws, "realtime:room")
            assert message == "Too many messages per second" and after[-1] == "phx_close"
        assert stack.realtime.counts["closed (messages/s)"] >= 1

        async with websockets.connect(url) as ws:
            refused = None
            for i in range(12):  # joins/s: 4
                reply = await _join(ws, f"realtime:j{i}", str(i))
                if reply["payload"]["status"] == "error":
                    refused = reply
                    break
                await asyncio.sleep(0.05)
            assert refused is not None, "no join was refused"
            reason = refused["payload"]["response"]["reason"]
            assert reason == "ClientJoinRateLimitReached: Too many joins per second"
            with pytest.raises(websockets.ConnectionClosed):  # and the socket is disconnected
                async with asyncio.timeout(5):
                    while True:
                        await ws.recv()
        assert stack.realtime.counts["joins refused"] >= 1

        await asyncio.sleep(3.0)  # the joins' average falls back under the limit
        async with websockets.connect(url) as ws:
            reply = await _join(ws, "realtime:lobby", "1", presence={"key": "k", "enabled": True})
            assert reply["payload"]["status"] == "ok"
            closed = None
            for i in range(6):  # presence/s: 2 (the sync counted 1, each track 1)
                track = {"type": "presence", "event": "track", "payload": {"n": i}}
                await ws.send(
                    json.dumps(
                        {"topic": "realtime:lobby", "event": "presence", "payload": track, "ref": f"t{i}"}
                    )
                )
                await asyncio.sleep(0.25)
                if stack.realtime.counts["closed (presence/s)"]:
                    closed = i
                    break
            assert closed is not None
        status = stack.status()
        assert "closed (presence/s) 1" in status["Realtime limit hits"]


async def test_outage_loses_every_database_broadcast_for_its_duration(database_url: str) -> None:
    async with DevStack(database_url=database_url, bcrypt_rounds=4) as stack:
        hub_counts = stack.realtime.counts
        assert hub_counts["DB broadcasts lost (outage)"] == 0
        url = f"{stack.url.replace('http', 'ws', 1)}/realtime/v1/websocket?apikey={stack.anon_key}&vsn=1.0.0"
        import asyncpg

        db = await asyncpg.connect(stack.db_url)
        try:
            async with websockets.connect(url) as ws:
                assert (await _join(ws, "realtime:news", "1"))["payload"]["status"] == "ok"
                stack.realtime_outage(0.5)
                for i in range(3):
                    await db.execute(
                        "select realtime.send(jsonb_build_object('i', $1::int), 'e', 'news', false)", i
                    )
                await asyncio.sleep(0.7)  # the outage is over
                await db.execute("select realtime.send('{\"i\": 9}'::jsonb, 'e', 'news', false)")
                async with asyncio.timeout(5):
                    while True:
                        msg = json.loads(await ws.recv())
                        if msg["event"] == "broadcast":
                            break
                assert msg["payload"]["payload"]["i"] == 9  # the three sent during it are gone
        finally:
            await db.close()
        assert stack.realtime.counts["DB broadcasts lost (outage)"] == 3


def test_cli_realtime_flags() -> None:
    """`start` takes the outage mode and the three tenant limits (defaults: the local CLI's)."""
    from seer_devstack.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["start"])
    assert (args.realtime_outage, args.realtime_max_events_per_second) == (None, 100)
    assert (args.realtime_max_presence_events_per_second, args.realtime_max_joins_per_second) == (1000, 100)
    args = parser.parse_args(
        [
            "start",
            "--realtime-outage",
            "10/60",
            "--realtime-max-events-per-second",
            "500",
            "--realtime-max-presence-events-per-second",
            "50",
            "--realtime-max-joins-per-second",
            "500",
        ]
    )
    assert args.realtime_outage == (10.0, 60.0)
    assert (args.realtime_max_events_per_second, args.realtime_max_presence_events_per_second) == (500, 50)
    assert parser.parse_args(["start", "--realtime-outage", "5"]).realtime_outage == (5.0, None)
    for bad in (
        ["--realtime-outage", "10/5"],
        ["--realtime-outage", "x"],
        ["--realtime-max-events-per-second", "0"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(["start", *bad])
