"""3. Realtime fan-out and 5. gateway memory.

N sessions x 6 players, each player with its own websocket joined to the private channel
``session:<id>`` with its own JWT (authorized by the realtime.messages RLS policy, as on
Supabase). Events are produced by the real RPC (update_game_state as the Seer, through SQL so
the commit instant is known): commit-to-delivery latency = time a socket reads the frame -
time just before COMMIT was sent. Expected deliveries = events x 6; duplicates are counted.
Gateway RSS is read from /proc before any socket and with every socket open.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import aiohttp
import asyncpg
import jwt

from .common import GatewayProcess, Row, Sizes, broadcasts, pct, produce_game_states


def tok(secret: str, claims_json: str) -> str:
    claims = json.loads(claims_json)
    claims["exp"] = int(time.time()) + 3600
    return jwt.encode(claims, secret, algorithm="HS256")


async def run(gw: GatewayProcess, db_url: str, sizes: Sizes, rows: list[Row], log: list[str]) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        sessions = await conn.fetch(
            "select i, sid, seer_claims, player_claims from bench.map where i <= $1 order by i",
            sizes.fanout_sessions,
        )
    finally:
        await conn.close()
    n_sessions = len(sessions)
    ws_url = f"{gw.url.replace('http', 'ws', 1)}/realtime/v1/websocket?apikey={gw.anon_key}&vsn=1.0.0"
    await asyncio.sleep(1.0)
    rss_idle = gw.rss_mib()

    received: dict[tuple[str, int], list[float]] = {}
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    readers: list[asyncio.Task[None]] = []
    failed_joins = 0
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    http = aiohttp.ClientSession(connector=connector)

    async def reader(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for now, ev in broadcasts(ws):
            if ev.get("type") == "game_state":  # a poke {sessionId, seq, type} (bench/stream.py)
                received.setdefault((ev["sessionId"], int(ev["seq"])), []).append(now)

    async def open_socket(sid: str, claims: str) -> None:
        nonlocal failed_joins
        try:
            ws = await http.ws_connect(ws_url, max_msg_size=0, heartbeat=None)
        except (aiohttp.ClientError, OSError):
            failed_joins += 1
            return
        topic = f"realtime:session:{sid}"
        join = {
            "config": {"broadcast": {"self": False}, "presence": {"key": ""}, "private": True},
            "access_token": tok(gw.jwt_secret, claims),
        }
        await ws.send_str(
            json.dumps({"topic": topic, "event": "phx_join", "payload": join, "ref": "1", "join_ref": "1"})
        )
        while True:
            msg = await ws.receive(timeout=30)
            if msg.type != aiohttp.WSMsgType.TEXT:
                failed_joins += 1
                return
            reply = json.loads(msg.data)
            if reply.get("event") == "phx_reply" and reply.get("ref") == "1":
                break
        if reply["payload"]["status"] != "ok":
            failed_joins += 1
            await ws.close()
            return
        sockets.append(ws)
        readers.append(asyncio.create_task(reader(ws)))

    t0 = time.perf_counter()
    sem = asyncio.Semaphore(64)

    async def guarded(sid: str, claims: str) -> None:
        async with sem:
            await open_socket(sid, claims)

    try:
        await asyncio.wait_for(
            asyncio.gather(*(guarded(str(s["sid"]), c) for s in sessions for c in s["player_claims"])),
            timeout=max(60.0, n_sessions * 0.12),
        )
    except TimeoutError:
        log.append("  warning: not every socket joined within the time limit")
    join_seconds = time.perf_counter() - t0
    await asyncio.sleep(1.0)
    rss_full = gw.rss_mib()
    n_sockets = len(sockets)

    pool = await asyncpg.create_pool(db_url, min_size=4, max_size=4)

    async def phase(rate: float, events: int) -> tuple[list[float], int, int, float]:
        """update_game_state as each session's Seer, round robin, paced at `rate`; returns
        latencies (ms), duplicates, expected deliveries and the production time."""
        start = time.perf_counter()
        commits = await produce_game_states(pool, list(sessions), events, rate)
        produce_seconds = time.perf_counter() - start
        expected = len(commits) * 6  # every session has six sockets
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            if sum(len(received.get(k, ())) for k in commits) >= expected:
                break
            await asyncio.sleep(0.2)
        lat = [(t - commits[k]) * 1000 for k in commits for t in received.get(k, ())]
        dupes = sum(max(0, len(received.get(k, ())) - 6) for k in commits)
        return lat, dupes, expected, produce_seconds

    results = [(sizes.fanout_rate, sizes.fanout_events, *await phase(sizes.fanout_rate, sizes.fanout_events))]
    if sizes.fanout_stress_rate > 0:
        n = int(sizes.fanout_stress_rate * 5)
        results.append((sizes.fanout_stress_rate, n, *await phase(sizes.fanout_stress_rate, n)))
    await pool.close()
    for ws in sockets:
        await ws.close()
    for t in readers:
        t.cancel()
    await http.close()

    for k, (rate, events, ms, dupes, expected_n, produce_seconds) in enumerate(results):
        delivered = len(ms)
        p99 = pct(ms, 99)
        label = "" if k == 0 else " (stress: how far it goes)"
        rows.append(
            Row(
                "3 realtime fan-out",
                f"{n_sessions} sessions x 6 = {n_sockets} sockets, {events} events @ {rate:.0f}/s{label}",
                f"p50 {pct(ms, 50):.1f} / p95 {pct(ms, 95):.1f} / p99 {p99:.1f} ms",
                "Supabase published p99 159 ms",
                f"{p99 / 159:.2f}x",
                "p99 < 50 ms" if k == 0 else "",
                ("ok" if p99 < 50 else "ABOVE") if k == 0 else "",
            )
        )
        rows.append(
            Row(
                "3 realtime fan-out",
                f"delivered / expected (duplicates) @ {rate:.0f}/s",
                f"{delivered} / {expected_n} ({dupes} dup)",
                "",
                f"{delivered / expected_n:.2%}" if expected_n else "",
                "zero loss" if k == 0 else "",
                "ok" if delivered == expected_n and not dupes and failed_joins == 0 else "LOSS",
            )
        )
        log.append(
            f"\n  fan-out @ {rate:.0f}/s: {events} events produced in {produce_seconds:.1f} s by 4 producers"
            f" ({events / produce_seconds:.0f}/s achieved)"
        )
    rows.append(
        Row(
            "5 memory",
            f"gateway RSS with {n_sockets} open sockets",
            f"{rss_full:.0f} MiB",
            f"{rss_idle:.0f} MiB idle",
            f"+{(rss_full - rss_idle) * 1024 / max(1, n_sockets):.0f} KiB/socket",
        )
    )
    log.append(
        f"\n  fan-out: {n_sockets} sockets joined in {join_seconds:.1f} s ({failed_joins} failed joins);"
        f" the load generator, the gateway and Postgres share {os.cpu_count()} cores"
    )
