"""3b. The session stream, three designs in the same run on the same sockets (phases in the
order A, D, B, C).

N sessions x 6 players, each player a websocket with its own JWT joined to two channels: the
unkeyed ``session:<id>`` (phases A-C; the bench temporarily lets that topic through the
realtime policy while the sockets join) and the session's keyed topic ``session:<id>:<key>``
(phase D, the migration's design). Events come from the real RPC (update_game_state as the
Seer, through SQL so the commit instant is known), paced at BENCH_STREAM_RATE per second.

* Phase A (baseline): ``seer_private.write_event_at`` temporarily broadcasts the whole event
  on ``session:<id>`` through ``realtime.send`` (the stream before any removal design; the
  rest of the writer is the migration's). Latency = the socket reads the
  frame - just before COMMIT (the content is in the frame).
* Phase B (design (b)): a content-free poke ``{sessionId, seq, type}`` on ``session:<id>``;
  each socket, on a poke beyond what it has, reads ``session_events_since`` through the
  gateway's PostgREST with its own token (one read in flight per socket; pokes that arrive
  meanwhile are covered by the next read), as that SDK did. Latency = the read's answer
  holds the event - just before COMMIT.
* Phase C: as B, but each read is the SQL PostgREST would run (role and JWT claims set in a
  transaction, then the function) over a pool of 20 backends: (b)'s database cost without
  the devstack's Python HTTP layer.
* Phase D (design (a), the migration's ``write_event_at``): the whole event on the keyed
  topic (the topic found by a primary-key lookup inside the send). Latency as in A.

DB cost: pg_stat_statements calls (every statement, nested ones included: track = all) and
transactions per produced event, per phase.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

import aiohttp
import asyncpg

from .common import (
    GatewayProcess,
    Row,
    Sizes,
    broadcasts,
    env_float,
    env_int,
    pct,
    produce_game_states,
    sized,
)
from .fanout import tok

# Phases A-C: the migration's writer with another broadcast in place of its keyed one. The seq
# allocation, the event row and everything else stay as the migration has them (the writer's
# signature and its callers change with the code; only the broadcast is the design under test).
# Phase A: the whole event on the unkeyed topic, as realtime.send (the stream before any
# removal design); phases B and C: design (b)'s content-free poke on the unkeyed topic.
KEYED_BROADCAST = re.compile(
    r"insert into realtime\.messages \(id, payload, event, topic, private, extension\).*?"
    r"where c\.session_id = p_session_id;",
    re.S,
)
LEGACY_BROADCAST = "perform realtime.send(v_event, p_type, 'session:' || p_session_id::text, true);"
POKE_BROADCAST = (
    "perform realtime.send(jsonb_build_object('sessionId', p_session_id, 'seq', v_event -> 'seq',"
    " 'type', p_type), p_type, 'session:' || p_session_id::text, true);"
)
CURRENT_WRITER = """
select pg_get_functiondef(p.oid) from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where n.nspname = 'seer_private' and p.proname = 'write_event_at'
"""


def with_broadcast(writer: str, broadcast: str) -> str:
    """The migration's write_event_at with its keyed broadcast statement replaced."""
    out, n = KEYED_BROADCAST.subn(broadcast, writer)
    if n != 1:
        raise RuntimeError("write_event_at's broadcast statement not found: update bench/stream.py")
    return out


# While the sockets join: the realtime policy also lets participants onto the unkeyed topic
# (policies are evaluated at join only, so the joins outlive the restore).
JOIN_BOTH_TOPICS = """
create or replace function seer_private.can_use_session_topic(p_topic text)
returns boolean language plpgsql stable security definer set search_path = '' as $$
begin
  if p_topic ~ '^session:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    return seer_private.is_session_participant(substr(p_topic, 9)::uuid);
  end if;
  return coalesce(p_topic ~ '^session:[0-9a-f-]{36}:[0-9a-f]{32}$', false)
    and exists (select 1 from seer_private.session_channels c
                where c.session_id = substr(p_topic, 9, 36)::uuid and c.topic = p_topic)
    and seer_private.is_session_participant(substr(p_topic, 9, 36)::uuid);
end
$$
"""


class Player:
    def __init__(self, sid: str, token: str, claims: str, topic: str) -> None:
        self.sid = sid
        self.topic = topic  # the keyed topic (phase D)
        self.token = token
        self.claims = claims
        self.last = 0  # highest seq read from the log
        self.wanted = 0
        self.fetching = False
        self.ws: aiohttp.ClientWebSocketResponse | None = None


async def run(gw: GatewayProcess, db_url: str, sizes: Sizes, rows: list[Row], log: list[str]) -> None:
    n_wanted = env_int("BENCH_STREAM_SESSIONS", sizes.fanout_sessions)
    rate = env_float("BENCH_STREAM_RATE", 100.0)
    events = env_int("BENCH_STREAM_EVENTS", sized(200, 1000))
    db = await asyncpg.connect(db_url)
    try:
        sessions = await db.fetch(
            "select m.i, m.sid::text as sid, m.seer_claims, m.player_claims, s.last_seq, c.topic"
            " from bench.map m join public.sessions s on s.id = m.sid"
            " join seer_private.session_channels c on c.session_id = m.sid where m.i <= $1 order by m.i",
            n_wanted,
        )
        writers = await db.fetch(CURRENT_WRITER)
        if len(writers) != 1:
            raise RuntimeError("expected one seer_private.write_event_at")
        current = writers[0][0]
        current_policy = await db.fetchval(
            "select pg_get_functiondef('seer_private.can_use_session_topic(text)'::regprocedure)"
        )
    finally:
        await db.close()
    ws_url = f"{gw.url.replace('http', 'ws', 1)}/realtime/v1/websocket?apikey={gw.anon_key}&vsn=1.0.0"
    rpc_url = f"{gw.url}/rest/v1/rpc/session_events_since"
    # websockets hold their connection for good: an unlimited pool for them, a bounded
    # keep-alive pool for the log reads (as many clients' HTTP/1.1 pools would be)
    wsc = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
    players: list[Player] = []
    frame_at: dict[tuple[str, int], list[float]] = {}  # phase A: frame with content
    frame_d: dict[tuple[str, int], list[float]] = {}  # phase D: frame with content, keyed topic
    content_at: dict[tuple[str, int], list[float]] = {}  # phase B: log read with content
    reads = 0
    mode = "A"

    async def read_http(p: Player) -> list[dict[str, object]]:
        headers = {"apikey": gw.anon_key, "Authorization": f"Bearer {p.token}"}
        body = {"p_session_id": p.sid, "p_after_seq": p.last, "p_limit": 500}
        async with http.post(rpc_url, json=body, headers=headers) as resp:
            page: list[dict[str, object]] = await resp.json()
        return page

    async def read_sql(p: Player) -> list[dict[str, object]]:
        # what PostgREST runs for the RPC: role + claims in a transaction, then the function
        async with read_pool.acquire() as c, c.transaction():
            await c.execute(
                "select set_config('role', 'authenticated', true),"
                " set_config('request.jwt.claims', $1, true)",
                p.claims,
            )
            text = await c.fetchval("select public.session_events_since($1, $2, 500)::text", p.sid, p.last)
        page: list[dict[str, object]] = json.loads(text)
        return page

    async def fetch(p: Player) -> None:
        nonlocal reads
        p.fetching = True
        try:
            while p.wanted > p.last:
                page = await (read_http(p) if mode == "B" else read_sql(p))
                reads += 1
                now = time.time()
                for ev in page:
                    content_at.setdefault((p.sid, int(ev["seq"])), []).append(now)
                    p.last = max(p.last, int(ev["seq"]))
                if not page:
                    break
        finally:
            p.fetching = False

    async def reader(p: Player) -> None:
        assert p.ws is not None
        async for now, ev in broadcasts(p.ws):
            key = (str(ev.get("sessionId")), int(ev.get("seq", 0)))
            if mode in ("A", "D"):
                (frame_at if mode == "A" else frame_d).setdefault(key, []).append(now)
                p.last = max(p.last, key[1])
            elif key[1] > p.wanted:
                p.wanted = key[1]
                if not p.fetching:
                    asyncio.get_running_loop().create_task(fetch(p))

    async def open_socket(p: Player) -> None:
        ws = await wsc.ws_connect(ws_url, max_msg_size=0, heartbeat=None)
        join = {"config": {"broadcast": {"self": False}, "private": True}, "access_token": p.token}
        for ref, topic in (("1", f"realtime:session:{p.sid}"), ("2", f"realtime:{p.topic}")):
            await ws.send_str(json.dumps({"topic": topic, "event": "phx_join", "payload": join, "ref": ref}))
            while True:
                reply = json.loads((await ws.receive(timeout=30)).data)
                if reply.get("event") == "phx_reply" and reply.get("ref") == ref:
                    break
            if reply["payload"]["status"] != "ok":
                raise SystemExit(f"bench: join refused: {reply}")
        p.ws = ws

    for s in sessions:
        for claims in s["player_claims"]:
            p = Player(s["sid"], tok(gw.jwt_secret, claims), claims, s["topic"])
            p.last = p.wanted = int(s["last_seq"])
            players.append(p)
    sem = asyncio.Semaphore(64)

    async def guarded(p: Player) -> None:
        async with sem:
            await open_socket(p)

    pool = await asyncpg.create_pool(db_url, min_size=5, max_size=5)
    async with pool.acquire() as c:
        await c.execute(JOIN_BOTH_TOPICS)
    try:
        await asyncio.gather(*(guarded(p) for p in players))
    finally:
        async with pool.acquire() as c:
            await c.execute(current_policy)  # back to the migration's policy (keyed topics only)
    tasks = [asyncio.create_task(reader(p)) for p in players]
    # phase C's reads (as many backends as the devstack gateway's pool, 20)
    read_pool = await asyncpg.create_pool(db_url, min_size=20, max_size=20)

    async def counters() -> tuple[float, float]:
        async with pool.acquire() as c:
            calls = await c.fetchval("select coalesce(sum(calls), 0) from pg_stat_statements")
            xacts = await c.fetchval(
                "select xact_commit + xact_rollback from pg_stat_database where datname = current_database()"
            )
        return float(calls), float(xacts)

    async def phase() -> tuple[dict[tuple[str, int], float], float, float, float]:
        start = time.perf_counter()
        calls0, xacts0 = await counters()
        commits = await produce_game_states(pool, list(sessions), events, rate)
        produced = time.perf_counter() - start
        target = frame_at if mode == "A" else frame_d if mode == "D" else content_at
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            if all(len(target.get(k, ())) >= 6 for k in commits):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        calls1, xacts1 = await counters()
        # the producer's own bookkeeping select and the counter queries are the same in A and B
        return commits, (calls1 - calls0) / events, (xacts1 - xacts0) / events, produced

    try:
        async with pool.acquire() as c:
            await c.execute(with_broadcast(current, LEGACY_BROADCAST))
        mode = "A"
        commits_a, calls_a, xacts_a, prod_a = await phase()
        async with pool.acquire() as c:
            await c.execute(current)  # design (a): the migration's write_event_at
        mode = "D"
        commits_d, calls_d, xacts_d, prod_d = await phase()
        async with pool.acquire() as c:
            await c.execute(with_broadcast(current, POKE_BROADCAST))  # design (b)
        for p in players:  # the log reads start from what the frames delivered
            p.wanted = p.last
        mode = "B"
        reads_before = reads
        commits_b, calls_b, xacts_b, prod_b = await phase()
        reads_b = reads - reads_before
        mode = "C"
        for p in players:  # phase C continues from where B's reads left off
            p.wanted = p.last
        content_b = dict(content_at)
        content_at.clear()
        commits_c, calls_c, xacts_c, _ = await phase()
    finally:
        async with pool.acquire() as c:
            await c.execute(current)
        await pool.close()
        await read_pool.close()
        for p in players:
            if p.ws is not None:
                await p.ws.close()
        for t in tasks:
            t.cancel()
        await http.close()
        await wsc.close()

    def lat(commits: dict[tuple[str, int], float], got: dict[tuple[str, int], list[float]]) -> list[float]:
        return [(t - commits[k]) * 1000 for k in commits for t in got.get(k, ())[:6]]

    ms_a, ms_b, ms_c = lat(commits_a, frame_at), lat(commits_b, content_b), lat(commits_c, content_at)
    ms_d = lat(commits_d, frame_d)
    n_sock = len(players)
    what = f"{len(sessions)} sessions x 6 = {n_sock} sockets, {events} events @ {rate:.0f}/s"
    rows.append(
        Row(
            "3b session stream",
            f"commit-to-content, (a) keyed topic, content in broadcast ({what})",
            f"p50 {pct(ms_d, 50):.1f} / p99 {pct(ms_d, 99):.1f} ms, {len(ms_d)} / {len(commits_d) * 6}",
            f"baseline p50 {pct(ms_a, 50):.1f} / p99 {pct(ms_a, 99):.1f} ms",
            f"{pct(ms_d, 99) / max(pct(ms_a, 99), 0.001):.2f}x p99",
        )
    )
    rows.append(
        Row(
            "3b session stream",
            "DB statements; transactions per event, (a) keyed topic",
            f"{calls_d:.1f}; {xacts_d:.1f}, 0 reads",
            f"baseline {calls_a:.1f}; {xacts_a:.1f}",
            f"{calls_d / max(calls_a, 0.001):.2f}x",
        )
    )
    rows.append(
        Row(
            "3b session stream",
            f"commit-to-content, (b) pokes + log read ({what})",
            f"p50 {pct(ms_b, 50):.1f} / p99 {pct(ms_b, 99):.1f} ms",
            f"content in broadcast p50 {pct(ms_a, 50):.1f} / p99 {pct(ms_a, 99):.1f} ms",
            f"{pct(ms_b, 99) / max(pct(ms_a, 99), 0.001):.2f}x p99",
        )
    )
    rows.append(
        Row(
            "3b session stream",
            "commit-to-content, pokes + log read over SQL (no devstack HTTP layer)",
            f"p50 {pct(ms_c, 50):.1f} / p99 {pct(ms_c, 99):.1f} ms, {len(ms_c)} / {len(commits_c) * 6}",
            f"content in broadcast p50 {pct(ms_a, 50):.1f} / p99 {pct(ms_a, 99):.1f} ms",
            f"{pct(ms_c, 99) / max(pct(ms_a, 99), 0.001):.2f}x p99",
        )
    )
    rows.append(
        Row(
            "3b session stream",
            "delivered / expected (pokes+read vs broadcast)",
            f"{len(ms_b)} / {len(commits_b) * 6}",
            f"{len(ms_a)} / {len(commits_a) * 6}",
        )
    )
    rows.append(
        Row(
            "3b session stream",
            "DB statements per event (pg_stat_statements, nested)",
            f"{calls_b:.1f}",
            f"{calls_a:.1f} content in broadcast",
            f"{calls_b / max(calls_a, 0.001):.2f}x",
        )
    )
    rows.append(
        Row(
            "3b session stream",
            "DB transactions per event; log reads per event",
            f"{xacts_b:.1f}; {reads_b / events:.2f} reads (C: {calls_c:.1f} stmts, {xacts_c:.1f} xacts)",
            f"{xacts_a:.1f}; 0 reads",
            f"{xacts_b / max(xacts_a, 0.001):.2f}x",
        )
    )
    log.append(
        f"\n  stream A/B/C/D: {events} events each, produced in {prod_a:.1f} s (A) / {prod_b:.1f} s (B)"
        f" / {prod_d:.1f} s (D);"
        f" {reads_b} session_events_since reads in B for {len(commits_b) * 6} deliveries"
    )
