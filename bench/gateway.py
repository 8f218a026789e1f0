"""Gateway benchmark (not a test): ``python -m bench`` or ``python -m bench.gateway``.

1. An RPC through the gateway (HTTP, PostgREST emulation) next to the same SQL run directly
   through asyncpg (transaction + role/claims settings + the function call): requests/s,
   p50 and p99. The ratio is what counts.
2. Broadcast-from-database latency: ``realtime.send`` committed in Postgres until the frame
   is read by each of N subscribed websockets, for N = 6, 60 and 600 (p50/p99).

The stack runs in its own process (``python -m seer_devstack start --detach``) on a
throw-away cluster; everything is on 127.0.0.1 and bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from seer_devstack.gateway import _keep_session
from seer_devstack.postgres import free_port


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(q / 100 * (len(values) - 1))))
    return values[k]


async def _load(n_requests: int, concurrency: int, once: Any, deadline_s: float) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(n_requests))
    stop_at = time.perf_counter() + deadline_s

    async def worker() -> None:
        for _ in counter:
            if time.perf_counter() > stop_at:
                return
            t0 = time.perf_counter()
            await once()
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, latencies


async def bench_rpc(status: dict[str, str], n_requests: int, concurrency: int) -> dict[str, Any]:
    url, anon = status["API URL"], status["anon key"]
    async with aiohttp.ClientSession() as http:
        email = f"bench-{int(time.time() * 1000)}@example.com"
        async with http.post(
            f"{url}/auth/v1/signup",
            json={"email": email, "password": "bench-password"},
            headers={"apikey": anon},
        ) as r:
            session = await r.json()
        token = session["access_token"]
        claims = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[1] + "==").decode())
        headers = {"apikey": anon, "Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for name in ("Ada", "Brin", "Cole"):
            async with http.post(
                f"{url}/rest/v1/rpc/create_character",
                headers=headers,
                json={"p_name": name, "p_class": "bard"},
            ) as r:
                assert r.status == 200, await r.text()

        async def via_gateway() -> None:
            async with http.post(f"{url}/rest/v1/rpc/list_my_characters", headers=headers, data=b"{}") as r:
                await r.read()
                assert r.status == 200

        await _load(50, 4, via_gateway, 10)  # warm-up
        gw_rps, gw_lat = await _load(n_requests, concurrency, via_gateway, 30)

    # Same pool settings as the gateway (no per-release RESET round trip).
    pool = await asyncpg.create_pool(
        status["DB URL"], min_size=concurrency, max_size=concurrency, reset=_keep_session
    )
    claims_json = json.dumps(claims)

    async def direct() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "select set_config('role', 'authenticated', true),"
                " set_config('request.jwt.claims', $1, true)",
                claims_json,
            )
            await conn.fetchval("select to_json(public.list_my_characters())::text")

    await _load(50, 4, direct, 10)
    db_rps, db_lat = await _load(n_requests, concurrency, direct, 30)
    await pool.close()
    return {"gateway": (gw_rps, gw_lat), "asyncpg": (db_rps, db_lat)}


async def bench_broadcast(status: dict[str, str], n_sockets: int, n_messages: int) -> list[float]:
    url = status["API URL"].replace("http", "ws", 1)
    ws_url = f"{url}/realtime/v1/websocket?apikey={status['anon key']}&vsn=1.0.0"
    topic = f"bench:{n_sockets}:{time.time_ns()}"
    latencies: list[float] = []
    received = 0
    done = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        sockets = []
        for i in range(n_sockets):
            ws = await http.ws_connect(ws_url, max_msg_size=0)
            await ws.send_str(
                json.dumps(
                    {
                        "topic": f"realtime:{topic}",
                        "event": "phx_join",
                        "ref": "1",
                        "join_ref": "1",
                        "payload": {"config": {"private": False}},
                    }
                )
            )
            reply = json.loads((await ws.receive()).data)
            assert reply["payload"]["status"] == "ok", reply
            sockets.append(ws)
            if i % 100 == 99:
                await asyncio.sleep(0)

        async def reader(ws: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal received
            async for msg in ws:
                now = time.time()
                data = json.loads(msg.data)
                if data.get("event") == "broadcast":
                    latencies.append(now - data["payload"]["payload"]["t"])
                    received += 1
                    if received >= n_sockets * n_messages:
                        done.set()

        readers = [asyncio.create_task(reader(ws)) for ws in sockets]
        conn = await asyncpg.connect(status["DB URL"])
        try:
            for _ in range(n_messages):
                await conn.execute(
                    "select realtime.send(jsonb_build_object('t', $1::float8), 'tick', $2, false)",
                    time.time(),
                    topic,
                )
                await asyncio.sleep(0.02)
            try:
                await asyncio.wait_for(done.wait(), 30)
            except TimeoutError:
                print(f"  warning: only {received}/{n_sockets * n_messages} frames arrived within 30 s")
        finally:
            await conn.close()
            for ws in sockets:
                await ws.close()
            for t in readers:
                t.cancel()
    return latencies


def start_stack(state_dir: Path) -> dict[str, str]:
    env = {**os.environ, "SEER_DEVSTACK_STATE_DIR": str(state_dir)}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "seer_devstack",
            "start",
            "--detach",
            "--port",
            str(free_port()),
            "--db-port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    if res.returncode != 0:
        raise SystemExit(f"could not start the devstack:\n{res.stderr or res.stdout}")
    status: dict[str, str] = json.loads(next(state_dir.glob("*/state.json")).read_text())["status"]
    return status


def stop_stack(state_dir: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "seer_devstack", "stop"],
        env={**os.environ, "SEER_DEVSTACK_STATE_DIR": str(state_dir)},
        capture_output=True,
        timeout=60,
    )


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="seer-bench-") as tmp:
        state_dir = Path(tmp)
        print("starting the devstack (throw-away cluster)...")
        status = start_stack(state_dir)
        try:
            print(f"\nRPC list_my_characters: {args.requests} requests, concurrency {args.concurrency}")
            res = await bench_rpc(status, args.requests, args.concurrency)
            print(f"  {'path':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
            for name, (rps, lat) in res.items():
                label = "gateway (HTTP)" if name == "gateway" else "asyncpg (same SQL)"
                print(f"  {label:<22}{rps:>10.0f}{pct(lat, 50) * 1000:>10.2f}{pct(lat, 99) * 1000:>10.2f}")
            ratio = res["asyncpg"][0] / res["gateway"][0]
            print(f"  throughput ratio asyncpg/gateway: {ratio:.2f}x")

            print(f"\nbroadcast from the database (realtime.send -> websocket), {args.messages} messages")
            print(f"  {'sockets':<10}{'frames':>8}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
            for n in args.sockets:
                lat = await bench_broadcast(status, n, args.messages)
                print(
                    f"  {n:<10}{len(lat):>8}{pct(lat, 50) * 1000:>10.2f}{pct(lat, 99) * 1000:>10.2f}"
                    f"{max(lat, default=float('nan')) * 1000:>10.2f}"
                )
            print("\n(loopback; Postgres, the gateway and this client share the machine's cores)")
        finally:
            stop_stack(state_dir)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--sockets", type=int, nargs="+", default=[6, 60, 600])
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
