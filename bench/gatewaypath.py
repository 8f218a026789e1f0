"""2. The gateway path: the same five RPCs as section 1, over HTTP through the devstack's
PostgREST emulation (POST /rest/v1/rpc/<fn>, a user JWT per request), with an aiohttp load
generator: bounded by count and duration, loopback only. Compared with the SQL path's TPS."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import jwt

from .common import GatewayProcess, Row, Sizes, pct

MAX_REQUESTS = 20_000


def token(secret: str, claims_json: str) -> str:
    claims = json.loads(claims_json)
    claims["exp"] = int(time.time()) + 3600
    return jwt.encode(claims, secret, algorithm="HS256")


async def load(
    once: Callable[[], Awaitable[bool]], concurrency: int, seconds: float, max_requests: int = MAX_REQUESTS
) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    budget = itertools.count()
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < stop_at and next(budget) < max_requests:
            t0 = time.perf_counter()
            ok = await once()
            if ok is None:  # the workload ran out of prepared data
                return
            latencies.append(time.perf_counter() - t0)
            errors += 0 if ok else 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - start), latencies, errors


async def run(
    gw: GatewayProcess, db_url: str, sizes: Sizes, sql_tps: dict[str, float], rows: list[Row], log: list[str]
) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        sessions = [
            (
                str(r["sid"]),
                token(gw.jwt_secret, r["seer_claims"]),
                [token(gw.jwt_secret, c) for c in r["player_claims"]],
            )
            for r in await conn.fetch(
                "select sid, seer_claims, player_claims from bench.map where i <= $1", sizes.sessions
            )
        ]
        first = (
            int(
                await conn.fetchval(
                    "select coalesce((select last_value from bench.join_seq where is_called), 0)"
                )
            )
            + 1
        )
        joins = {
            int(r["n"]): (str(r["sid"]), token(gw.jwt_secret, r["claims"]), str(r["cid"]))
            for r in await conn.fetch("select n, sid, claims, cid from bench.joins where n >= $1", first)
        }
    finally:
        await conn.close()
    rng = random.Random(7)
    next_join = itertools.count(first)
    url = f"{gw.url}/rest/v1/rpc"
    conn_limit = aiohttp.TCPConnector(limit=sizes.gateway_concurrency)
    async with aiohttp.ClientSession(connector=conn_limit) as http:

        async def call(fn: str, tok: str, args: dict[str, Any]) -> bool:
            async with http.post(
                f"{url}/{fn}",
                headers={
                    "apikey": gw.anon_key,
                    "Authorization": f"Bearer {tok}",
                    "Content-Type": "application/json",
                },
                data=json.dumps(args),
            ) as resp:
                await resp.read()
                return resp.status == 200

        async def update_game_state() -> bool:
            sid, seer, _ = rng.choice(sessions)
            patch = {"setVariables": {"hp": rng.randint(1, 1000), "round": 1}}
            return await call("update_game_state", seer, {"p_session_id": sid, "p_patch": patch})

        async def heartbeat() -> bool:
            sid, _, players = rng.choice(sessions)
            return await call("heartbeat", rng.choice(players), {"p_session_id": sid})

        async def join_session() -> bool | None:  # type: ignore[return]
            n = next(next_join)
            if n not in joins:
                return None
            sid, tok, cid = joins[n]
            return await call("join_session", tok, {"p_session_id": sid, "p_character_id": cid})

        async def get_session() -> bool:
            sid, _, players = rng.choice(sessions)
            return await call("get_session", rng.choice(players), {"p_session_id": sid})

        async def session_events_since() -> bool:
            sid, _, players = rng.choice(sessions)
            args = {"p_session_id": sid, "p_after_seq": rng.randint(0, 8), "p_limit": 10}
            return await call("session_events_since", rng.choice(players), args)

        work: dict[str, Callable[[], Awaitable[Any]]] = {
            "update_game_state": update_game_state,
            "heartbeat": heartbeat,
            "join_session": join_session,
            "get_session": get_session,
            "session_events_since": session_events_since,
        }
        await load(get_session, 4, 1.0, 200)  # warm the gateway's pool and plan caches
        for name, once in work.items():
            rps, lat, errors = await load(once, sizes.gateway_concurrency, sizes.gateway_seconds)
            base = sql_tps.get(name)
            err = f", {errors} errors" if errors else ""
            rows.append(
                Row(
                    "2 gateway (HTTP)",
                    f"{name}",
                    f"{rps:.0f} req/s, p50 {pct(lat, 50) * 1000:.1f} ms,"
                    f" p99 {pct(lat, 99) * 1000:.1f} ms{err}",
                    f"{base:.0f} tps SQL path" if base else "",
                    f"{rps / base:.0%}" if base else "",
                    "",
                    "" if not errors else "ERRORS",
                )
            )
    log.append(
        f"\n  gateway path: concurrency {sizes.gateway_concurrency}, {sizes.gateway_seconds:.0f} s or"
        f" {MAX_REQUESTS} requests per RPC; the gateway is one Python process (aiohttp + asyncpg pool of 20)"
    )
