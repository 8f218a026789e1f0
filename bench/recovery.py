"""3c. Recovery after a Realtime outage (issue 19), against the no-outage baseline of the same run.

N sessions x 6 players, each player a websocket with its own JWT joined to its session's keyed
topic, each driven by the SDK's own delivery policy (``seer_client._delivery.DeliveryCore``,
the pure core SessionConnection runs): a live event is delivered when it is the next seq; one
that shows a gap makes the player read ``session_events_since`` (the SQL PostgREST runs, on a
pool of 20 backends, as in 3b phase C); a heartbeat every BENCH_RECOVERY_HEARTBEAT seconds (the
shipped 30 s, random phase per player) reads the session's last seq, as the heartbeat RPC
returns it. Events come from the real ``update_game_state`` at BENCH_RECOVERY_RATE per second,
round robin over the sessions.

* Baseline phase: no loss. Figure: commit-to-delivery per (event, player).
* Outage phase: every database broadcast is lost for BENCH_RECOVERY_OUTAGE seconds (the
  devstack's NOTIFY trigger answers nothing meanwhile: what commits is never sent, as while
  Realtime's replication connection is down; the rows stay). Figure, per player whose session
  had an event during the outage: the time from the end of the outage until it has delivered
  everything committed up to then (it is live again: the next event is the next seq).
  Recovery comes from the session's next event (its seq shows the hole) or the next heartbeat.
* Rejoins: an outage of database broadcasts leaves every channel joined, so no player
  rejoins or re-tracks; the row reports the rejoin and presence rate against the presence
  limit (local CLI 1,000/s, Free plan 20/s) to show there is no herd to throttle.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import aiohttp
import asyncpg

from seer_client._delivery import DeliveryCore
from seer_client.events import parse_event

from .common import GatewayProcess, Row, Sizes, broadcasts, env_float, env_int, pct, produce_game_states
from .fanout import tok

# The outage: the devstack's broadcast trigger (bootstrap/20_devstack_realtime.sql) sends
# nothing while this body is in place.
OUTAGE_BODY = """
create or replace function realtime.devstack_notify_broadcast()
returns trigger language plpgsql security definer set search_path = '' as $$
begin
  return null;  -- bench: Realtime's replication connection is down
end
$$
"""


class Player:
    def __init__(self, sid: str, token: str, claims: str, topic: str, last_seq: int) -> None:
        self.sid = sid
        self.token = token
        self.claims = claims
        self.topic = topic
        self.core = DeliveryCore(sid)
        self.core.reset(last_seq)
        self.delivered_at: dict[int, float] = {}
        self.fetching = False
        self.reads = 0
        self.ws: aiohttp.ClientWebSocketResponse | None = None


async def run(
    gw: GatewayProcess, db_url: str, admin_url: str, sizes: Sizes, rows: list[Row], log: list[str]
) -> None:
    n_wanted = env_int("BENCH_RECOVERY_SESSIONS", sizes.fanout_sessions)
    rate = env_float("BENCH_RECOVERY_RATE", 100.0)
    outage = env_float("BENCH_RECOVERY_OUTAGE", 10.0)
    heartbeat = env_float("BENCH_RECOVERY_HEARTBEAT", 30.0)
    presence_limit = env_int("BENCH_RECOVERY_PRESENCE_LIMIT", 1000)
    db = await asyncpg.connect(db_url)
    try:
        sessions = await db.fetch(
            "select m.i, m.sid::text as sid, m.seer_claims, m.player_claims, s.last_seq, c.topic"
            " from bench.map m join public.sessions s on s.id = m.sid"
            " join seer_private.session_channels c on c.session_id = m.sid where m.i <= $1 order by m.i",
            n_wanted,
        )
    finally:
        await db.close()
    admin = await asyncpg.connect(admin_url)  # the realtime schema is the platform's
    notify_body = await admin.fetchval(
        "select pg_get_functiondef('realtime.devstack_notify_broadcast()'::regprocedure)"
    )
    ws_url = f"{gw.url.replace('http', 'ws', 1)}/realtime/v1/websocket?apikey={gw.anon_key}&vsn=1.0.0"
    wsc = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    players = [
        Player(s["sid"], tok(gw.jwt_secret, claims), claims, s["topic"], int(s["last_seq"]))
        for s in sessions
        for claims in s["player_claims"]
    ]
    pool = await asyncpg.create_pool(db_url, min_size=5, max_size=5)
    read_pool = await asyncpg.create_pool(db_url, min_size=20, max_size=20)
    joins = 0

    async def read_log(p: Player, after: int) -> list[Any]:
        async with read_pool.acquire() as c, c.transaction():
            await c.execute(
                "select set_config('role', 'authenticated', true),"
                " set_config('request.jwt.claims', $1, true)",
                p.claims,
            )
            text = await c.fetchval("select public.session_events_since($1, $2, 500)::text", p.sid, after)
        return [parse_event(e) for e in json.loads(text)]

    def deliver(p: Player, events: Any) -> None:
        now = time.time()
        for e in events:
            p.delivered_at.setdefault(e.seq, now)

    async def fetch(p: Player) -> None:
        p.fetching = True
        try:
            while True:
                after = p.core.begin_fetch()
                page = await read_log(p, after)
                p.reads += 1
                decision = p.core.on_log_page(after, page, 500)
                deliver(p, decision.deliver)
                if not decision.fetch:
                    return
        finally:
            p.fetching = False

    def act(p: Player, decision: Any) -> None:
        deliver(p, decision.deliver)
        if decision.fetch and not p.fetching:
            asyncio.get_running_loop().create_task(fetch(p))

    async def reader(p: Player) -> None:
        assert p.ws is not None
        async for _now, ev in broadcasts(p.ws):
            act(p, p.core.on_broadcast({"payload": ev}))

    async def heartbeats(p: Player) -> None:
        await asyncio.sleep(random.uniform(0, heartbeat))
        while True:
            async with read_pool.acquire() as c:
                last = await c.fetchval("select last_seq from public.sessions where id = $1", p.sid)
            act(p, p.core.on_heartbeat(int(last), None))
            await asyncio.sleep(heartbeat)

    async def open_socket(p: Player) -> None:
        nonlocal joins
        ws = await wsc.ws_connect(ws_url, max_msg_size=0, heartbeat=None)
        join = {"config": {"broadcast": {"self": False}, "private": True}, "access_token": p.token}
        topic = f"realtime:{p.topic}"
        await ws.send_str(json.dumps({"topic": topic, "event": "phx_join", "payload": join, "ref": "1"}))
        while True:
            reply = json.loads((await ws.receive(timeout=30)).data)
            if reply.get("event") == "phx_reply" and reply.get("ref") == "1":
                break
        if reply["payload"]["status"] != "ok":
            raise SystemExit(f"bench: join refused: {reply}")
        joins += 1
        p.ws = ws

    sem = asyncio.Semaphore(64)

    async def guarded(p: Player) -> None:
        async with sem:
            await open_socket(p)

    tasks: list[asyncio.Task[Any]] = []
    try:
        await asyncio.gather(*(guarded(p) for p in players))
        joins_at_start = joins
        tasks += [asyncio.create_task(reader(p)) for p in players]
        tasks += [asyncio.create_task(heartbeats(p)) for p in players]
        by_session: dict[str, list[Player]] = {}
        for p in players:
            by_session.setdefault(p.sid, []).append(p)
        window = max(outage, 5.0)

        # baseline: no loss
        commits_a = await produce_game_states(pool, list(sessions), int(rate * window), rate)
        await asyncio.sleep(2.0)
        base_ms = [
            (p.delivered_at[seq] - at) * 1000
            for (sid, seq), at in commits_a.items()
            for p in by_session[sid]
            if seq in p.delivered_at
        ]
        base_expected = len(commits_a) * 6

        # the outage: every broadcast committed during it is lost, for everyone
        reads0 = sum(p.reads for p in players)
        await admin.execute(OUTAGE_BODY)
        try:
            commits_b = await produce_game_states(pool, list(sessions), int(rate * outage), rate)
        finally:
            await admin.execute(notify_body)
        ended = time.time()
        lost_to: dict[str, int] = {}
        for (sid, seq), _at in commits_b.items():
            lost_to[sid] = max(lost_to.get(sid, 0), seq)
        affected = [p for p in players if p.sid in lost_to]
        # play goes on at the same rate; recovery comes from the next event or heartbeat
        producing = asyncio.create_task(
            produce_game_states(pool, list(sessions), int(rate * (heartbeat + 5)), rate)
        )
        deadline = time.monotonic() + heartbeat + 10
        while time.monotonic() < deadline:
            if all(p.core.last_seq >= lost_to[p.sid] for p in affected):
                break
            await asyncio.sleep(0.2)
        producing.cancel()
        recovered = [p for p in affected if p.core.last_seq >= lost_to[p.sid]]
        rec_s = [max(0.0, p.delivered_at.get(lost_to[p.sid], ended) - ended) for p in recovered]
        reads_b = sum(p.reads for p in players) - reads0
        rejoins = joins - joins_at_start
    finally:
        for t in tasks:
            t.cancel()
        for p in players:
            if p.ws is not None:
                await p.ws.close()
        await wsc.close()
        await pool.close()
        await read_pool.close()
        await admin.close()

    what = f"{len(sessions)} sessions x 6 = {len(players)} sockets, {rate:.0f} events/s"
    what += f", heartbeat {heartbeat:g} s"
    rows.append(
        Row(
            "3c recovery",
            f"after a {outage:g} s outage: end of outage to live again, per connection ({what})",
            f"p50 {pct(rec_s, 50):.2f} / p99 {pct(rec_s, 99):.2f} / max {max(rec_s, default=0):.2f} s,"
            f" {len(recovered)} / {len(affected)} recovered",
            f"no outage: commit-to-delivery p50 {pct(base_ms, 50):.1f} / p99 {pct(base_ms, 99):.1f} ms,"
            f" {len(base_ms)} / {base_expected}",
            f"{pct(rec_s, 99) / heartbeat:.2f} heartbeat intervals p99",
        )
    )
    rows.append(
        Row(
            "3c recovery",
            "rejoins (and presence tracks) caused by the outage; log reads to heal",
            f"{rejoins} rejoins = {rejoins / max(outage, 1):.1f}/s;"
            f" {reads_b} reads for {len(commits_b)} lost events",
            f"presence limit {presence_limit}/s (local CLI; Free plan 20/s)",
            f"{rejoins / max(outage, 1) / presence_limit:.3f} of the limit",
        )
    )
    log.append(
        f"\n  recovery: {len(commits_b)} events lost to a {outage:g} s outage across {len(lost_to)} sessions;"
        f" {len(recovered)} of {len(affected)} affected connections live again"
    )
