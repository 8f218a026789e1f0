# pyright: standard
"""``/realtime/v1/websocket``: Supabase Realtime's Phoenix channel protocol.

Both serializers the official clients use are spoken: vsn 1.0.0 (JSON objects, as
realtime-py sends them) and vsn 2.0.0 (JSON arrays plus the binary user-broadcast frames of
``RealtimeWeb.Socket.V2Serializer``, as current supabase-js sends them). Private channels
are authorized like Realtime Authorization (lib/realtime/tenants/authorization.ex): probe
rows in ``realtime.messages`` are checked with the joining user's role and claims inside a
transaction that is rolled back. Broadcasts written by ``realtime.send`` arrive through a
devstack-only NOTIFY trigger (bootstrap/20_devstack_realtime.sql), in commit order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import struct
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiohttp import WSMsgType, web

from .config import GatewayConfig, JwtError, decode_token
from .http_common import AUTHENTICATOR_ROLES

log: logging.Logger = logging.getLogger("seer_devstack.realtime")

NOTIFY_CHANNEL = "seer_devstack_realtime"
USER_BROADCAST_PUSH = 3
USER_BROADCAST = 4


def _as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


#: Realtime's payload limit: the tenant's max_payload_size_in_kb (default 3000, the CLI's
#: seeded tenant) * 1000 + 500 bytes of padding (Tenants.validate_payload_size, measured as
#: the Erlang term's external size; here as the JSON text, within a few bytes of it).
MAX_PAYLOAD_BYTES = 3000 * 1000 + 500


def _batch_errors(messages: Any) -> Any:
    """The errors BatchBroadcast's changeset gives a ``messages`` value, or None when it is
    valid: a list of objects with a string topic and event, an object payload (within the
    payload limit) and an optional boolean private; per message ``{}`` when it is fine."""
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return ["is invalid"]
    out: list[dict[str, list[str]]] = []
    for m in messages:
        err: dict[str, list[str]] = {}
        for key in ("topic", "event"):
            if m.get(key) is None or m.get(key) == "":
                err[key] = ["can't be blank"]
            elif not isinstance(m[key], str):
                err[key] = ["is invalid"]
        if m.get("payload") is None:
            err["payload"] = ["can't be blank"]
        elif not isinstance(m["payload"], dict):
            err["payload"] = ["is invalid"]
        elif len(_dumps(m["payload"]).encode()) > MAX_PAYLOAD_BYTES:
            err["payload"] = ["Payload size exceeds tenant limit"]
        if "private" in m and m["private"] is not None and not isinstance(m["private"], bool):
            err["private"] = ["is invalid"]
        out.append(err)
    return out if any(out) else None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class RateCounter:
    """``Realtime.RateCounter`` as the tenant limits use it (lib/realtime/rate_counter and
    lib/realtime/tenants.ex): everything counted during a tick (5 s) goes into a bucket that
    keeps the last 12 ticks; ``avg`` = their sum / their number / the tick, updated at each
    tick. The limit triggers at a tick when ``avg >= limit`` and releases at the first tick
    with ``avg < limit``. (So a burst acts at the next tick and holds for up to a minute.)"""

    def __init__(self, limit: int, tick: float, buckets: int = 12) -> None:
        self.limit = limit
        self.tick = tick
        self.buckets = buckets
        self.count = 0
        self.bucket: list[int] = []
        self.avg = 0.0
        self.triggered = False
        self.total = 0

    def add(self, n: int = 1) -> None:
        self.count += n
        self.total += n

    def on_tick(self) -> None:
        self.bucket = [self.count, *self.bucket][: self.buckets]
        self.count = 0
        self.avg = sum(self.bucket) / len(self.bucket) / self.tick
        if self.triggered:
            self.triggered = self.avg >= self.limit
        else:
            self.triggered = self.avg >= self.limit


@dataclass
class Policies:
    broadcast_read: bool | None = None
    presence_read: bool | None = None
    broadcast_write: bool | None = None
    presence_write: bool | None = None


@dataclass(eq=False)
class Channel:
    conn: Connection
    topic: str  # "realtime:<sub_topic>"
    sub_topic: str
    join_ref: str | None
    private: bool
    self_broadcast: bool
    ack: bool
    presence_enabled: bool
    presence_key: str
    token: str
    claims: dict[str, Any]
    policies: Policies | None = None
    presence_meta: dict[str, Any] | None = None
    presence_payload: dict[str, Any] | None = None
    presence_calls: list[float] = field(default_factory=list)
    replayed_ids: set[str] = field(default_factory=set)
    exp_task: asyncio.Task[None] | None = None

    @property
    def room(self) -> tuple[str, bool]:
        return (self.sub_topic, self.private)

    @property
    def user_id(self) -> str | None:
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) else None

    def can_read_broadcast(self) -> bool:
        return not self.private or bool(self.policies and self.policies.broadcast_read)

    def can_read_presence(self) -> bool:
        return not self.private or bool(self.policies and self.policies.presence_read)


class Connection:
    """One websocket. Frames go out through a queue so fan-out never waits on a slow peer."""

    def __init__(
        self,
        hub: RealtimeHub,
        ws: web.WebSocketResponse,
        vsn: int,
        api_claims: dict[str, Any],
        api_key: str,
        headers: dict[str, str],
    ) -> None:
        self.hub = hub
        self.ws = ws
        self.vsn = vsn
        self.api_claims = api_claims
        self.api_key = api_key
        self.headers = headers
        self.channels: dict[str, Channel] = {}
        self.last_seen: float = time.monotonic()
        self.queue: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self.writer: asyncio.Task[None] | None = None
        self.closed = False
        self.stalled = False

    # -- output -----------------------------------------------------------------------------
    def send_raw(self, frame: str | bytes) -> None:
        if not self.closed and not self.stalled:
            self.queue.put_nowait(frame)

    def push(
        self, topic: str, event: str, payload: Any, ref: str | None = None, join_ref: str | None = None
    ) -> None:
        if self.vsn == 2:
            self.send_raw(_dumps([join_ref, ref, topic, event, payload]))
        else:
            self.send_raw(_dumps({"topic": topic, "event": event, "payload": payload, "ref": ref}))

    def reply(
        self, topic: str, ref: str | None, join_ref: str | None, status: str, response: dict[str, Any]
    ) -> None:
        self.push(topic, "phx_reply", {"status": status, "response": response}, ref, join_ref)

    async def write_loop(self) -> None:
        try:
            while True:
                frame = await self.queue.get()
                if frame is None:
                    break
                if isinstance(frame, bytes):
                    await self.ws.send_bytes(frame)
                else:
                    await self.ws.send_str(frame)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            pass


class RealtimeHub:
    def __init__(self, config: GatewayConfig, pool: asyncpg.Pool) -> None:
        self.config = config
        self.pool = pool
        self.connections: set[Connection] = set()
        self.rooms: dict[tuple[str, bool], set[Channel]] = {}
        self.presence: dict[tuple[str, bool], dict[Channel, dict[str, Any]]] = {}
        self._refs = itertools.count(1)
        self._listen_conn: asyncpg.Connection | None = None
        self._notify_queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.delivered: int = 0
        #: database broadcasts dropped by the ``drop_db_broadcasts`` fault switch
        self.dropped_db_broadcasts: int = 0
        self.drop_db_broadcasts: float = config.drop_db_broadcasts
        self._drop_rng = random.Random()
        #: Outage mode: until this time.monotonic() every database broadcast is lost, for every
        #: subscriber (as while Realtime's replication connection is down: its slot is
        #: temporary, so what commits meanwhile is never sent).
        self.outage_until: float = 0.0
        #: database broadcasts lost to an outage
        self.outage_db_broadcasts: int = 0
        self._outage_task: asyncio.Task[None] | None = None
        # The tenant limits, counted as Realtime counts them (module RateCounter).
        tick = config.realtime_rate_tick
        self.events = RateCounter(config.realtime_max_events_per_second, tick)
        self.presence_events = RateCounter(config.realtime_max_presence_events_per_second, tick)
        self.joins = RateCounter(config.realtime_max_joins_per_second, tick)
        #: database broadcasts dropped while the messages/s limit held (check_rate_limit)
        self.rate_limited_db_broadcasts: int = 0
        #: channels closed with "Too many messages per second"
        self.message_limit_closes: int = 0
        #: channels closed with "Too many presence messages per second"
        self.presence_limit_closes: int = 0
        #: joins refused with "ClientJoinRateLimitReached: Too many joins per second"
        self.join_limit_refusals: int = 0
        #: Test hook: while False, websocket upgrades are refused with 503 (reconnects fail).
        self.accepting = True
        self._stopping = False

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        await self._listen()
        assert self._listen_conn is not None
        if not await self._listen_conn.fetchval(
            "select exists (select 1 from pg_trigger where tgname = 'devstack_notify_broadcast')"
        ):
            log.warning(
                "realtime: realtime.messages has no devstack_notify_broadcast trigger, so realtime.send() "
                "will not reach subscribers; apply seer_devstack/bootstrap/20_devstack_realtime.sql"
            )
        self._tasks.append(asyncio.create_task(self._dispatch_loop()))
        self._tasks.append(asyncio.create_task(self._idle_loop()))
        self._tasks.append(asyncio.create_task(self._tick_loop()))
        if self.config.realtime_outage:
            self._outage_task = asyncio.create_task(self._outage_loop(*self.config.realtime_outage))

    async def _listen(self) -> None:
        self._listen_conn = conn = await asyncpg.connect(self.config.db_url)
        await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        conn.add_termination_listener(self._on_listen_lost)

    def _on_listen_lost(self, _conn: Any) -> None:
        if self._stopping:
            return
        log.warning("realtime: lost the LISTEN connection; reconnecting")
        self._tasks.append(asyncio.create_task(self._relisten()))

    async def _relisten(self) -> None:
        # Sends committed while disconnected are not replayed (Realtime has the same gap
        # without replay); clients catch up from their own event log.
        while not self._stopping:
            try:
                await self._listen()
                log.warning("realtime: LISTEN connection restored")
                return
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(1)

    async def stop(self) -> None:
        self._stopping = True
        await self.drop_all_sockets(code=1001, message="server shutting down")
        self._notify_queue.put_nowait(None)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self._listen_conn is not None:
            with contextlib.suppress(Exception):
                await self._listen_conn.close()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._notify_queue.put_nowait(payload)

    async def _dispatch_loop(self) -> None:
        # One consumer: notifications are fanned out strictly in the order Postgres
        # delivered them, which is commit order.
        while True:
            raw = await self._notify_queue.get()
            if raw is None:
                return
            try:
                msg = json.loads(raw)
                if msg.get("ref"):
                    async with self.pool.acquire() as conn:
                        row = await conn.fetchrow(
                            "select id, topic, event, private, payload::text as payload"
                            " from realtime.messages where id = $1",
                            uuid.UUID(msg["id"]),
                        )
                    if row is None:
                        continue
                    msg = {
                        "id": str(row["id"]),
                        "topic": row["topic"],
                        "event": row["event"],
                        "private": bool(row["private"]),
                        "payload": json.loads(row["payload"] or "null"),
                    }
                self.broadcast_from_db(msg)
            except Exception:  # a bad row must not stop delivery of the next ones
                log.exception("realtime: could not deliver database broadcast")

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.realtime_rate_tick)
            for counter in (self.events, self.presence_events, self.joins):
                counter.on_tick()

    async def _outage_loop(self, seconds: float, every: float | None) -> None:
        """``--realtime-outage SECONDS[/EVERY]``: one outage at start, or one every EVERY s."""
        while True:
            self.realtime_outage(seconds)
            if every is None:
                return
            await asyncio.sleep(every)

    def realtime_outage(self, seconds: float) -> None:
        """Lose every database broadcast for the next ``seconds`` (for every subscriber)."""
        if seconds < 0:
            raise ValueError("an outage lasts 0 s or more")
        self.outage_until = max(self.outage_until, time.monotonic() + seconds)
        log.warning("realtime: outage: every database broadcast is lost for %g s", seconds)

    @property
    def in_outage(self) -> bool:
        return time.monotonic() < self.outage_until

    def limit_counts(self) -> dict[str, Any]:
        """What `status` shows about the tenant limits and the faults."""
        return {
            "messages/s": f"{self.events.avg:.0f} of {self.events.limit}",
            "presence/s": f"{self.presence_events.avg:.0f} of {self.presence_events.limit}",
            "joins/s": f"{self.joins.avg:.0f} of {self.joins.limit}",
            "closed (messages/s)": self.message_limit_closes,
            "closed (presence/s)": self.presence_limit_closes,
            "joins refused": self.join_limit_refusals,
            "DB broadcasts dropped (limit)": self.rate_limited_db_broadcasts,
            "DB broadcasts lost (outage)": self.outage_db_broadcasts,
        }

    def _count_delivery(self, peer: Channel) -> None:
        """A message reached ``peer``'s channel (MessageDispatcher's :update_rate_counter):
        it counts against messages/s, and a channel that receives one while the limit holds
        is shut down."""
        self.events.add(1)
        if self.events.triggered:
            self.message_limit_closes += 1
            self._shutdown(peer, "Too many messages per second")

    def _limit_presence_event(self, ch: Channel) -> bool:
        """PresenceHandler.limit_presence_event: False (and the channel closed) when the
        tenant's presence rate is over its limit; else the event is counted."""
        if self.presence_events.avg > self.presence_events.limit:
            self.presence_limit_closes += 1
            self._shutdown(ch, "Too many presence messages per second")
            return False
        self.presence_events.add(1)
        return True

    async def _idle_loop(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.config.idle_timeout / 4))
            cutoff = time.monotonic() - self.config.idle_timeout
            for conn in [c for c in self.connections if c.last_seen < cutoff]:
                await self._close_conn(conn, code=1000, message="idle timeout")

    # -- test hooks ---------------------------------------------------------------------------
    async def drop_all_sockets(self, *, code: int = 1011, message: str = "devstack: dropped") -> int:
        """Close every websocket from the server side (as a network drop would). Returns the count."""
        conns = list(self.connections)
        for conn in conns:
            await self._close_conn(conn, code=code, message=message)
        return len(conns)

    async def drop_sockets(
        self, user_id: str, *, code: int = 1011, message: str = "devstack: dropped"
    ) -> int:
        """Close the websockets that have a channel joined with ``user_id``'s token."""
        conns = [c for c in self.connections if any(ch.user_id == user_id for ch in c.channels.values())]
        for conn in conns:
            await self._close_conn(conn, code=code, message=message)
        return len(conns)

    def socket_count(self) -> int:
        return len(self.connections)

    def stall_sockets(self, user_id: str | None = None) -> int:
        """Make sockets half-open: inbound frames (heartbeats, pings) are ignored and nothing is
        sent any more, until the idle timeout or the client gives up. Returns the count."""
        conns = [
            c
            for c in self.connections
            if user_id is None or any(ch.user_id == user_id for ch in c.channels.values())
        ]
        for conn in conns:
            conn.stalled = True
        return len(conns)

    # -- websocket endpoint -----------------------------------------------------------------
    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        if not self.accepting:
            return web.json_response({"message": "devstack: refusing connections"}, status=503)
        key = request.query.get("apikey") or request.headers.get("apikey") or ""
        if not key and request.headers.get("Authorization", "").lower().startswith("bearer "):
            key = request.headers["Authorization"][7:]
        try:
            api_claims = decode_token(key, self.config.jwt_secret)
        except JwtError:
            return web.json_response({"message": "Invalid API key"}, status=403)
        vsn = 2 if request.query.get("vsn", "1.0.0").startswith("2") else 1
        # autoping off: a client's websocket pings count as activity for the idle timeout, as in
        # Phoenix (Cowboy's idle_timeout sees every frame).
        ws = web.WebSocketResponse(max_msg_size=8 * 1024 * 1024, autoping=False)
        await ws.prepare(request)
        conn = Connection(self, ws, vsn, api_claims, key, {k.lower(): v for k, v in request.headers.items()})
        conn.writer = asyncio.create_task(conn.write_loop())
        self.connections.add(conn)
        try:
            async for msg in ws:
                if conn.stalled:
                    continue
                conn.last_seen = time.monotonic()
                try:
                    if msg.type == WSMsgType.TEXT:
                        await self._on_text(conn, msg.data)
                    elif msg.type == WSMsgType.BINARY:
                        await self._on_binary(conn, msg.data)
                except (ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError):
                    log.info("realtime: ignored a malformed frame")
                    continue
                if msg.type == WSMsgType.PING:
                    await ws.pong(msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            await self._close_conn(conn, code=1000, message="")
        return ws

    async def _close_conn(self, conn: Connection, *, code: int, message: str) -> None:
        if conn.closed:
            return
        conn.closed = True
        self.connections.discard(conn)
        for ch in list(conn.channels.values()):
            self._remove_channel(ch)
        conn.channels.clear()
        conn.queue.put_nowait(None)
        if conn.writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.writer, 2)
        with contextlib.suppress(Exception):
            await conn.ws.close(code=code, message=message.encode())

    # -- inbound ------------------------------------------------------------------------------
    async def _on_text(self, conn: Connection, data: str) -> None:
        try:
            raw = json.loads(data)
        except ValueError:
            return
        if conn.vsn == 2:
            if not isinstance(raw, list) or len(raw) < 5:
                return
            join_ref, ref, topic, event, payload = raw[:5]
        else:
            if not isinstance(raw, dict):
                return
            topic, event, payload = raw.get("topic"), raw.get("event"), raw.get("payload")
            ref, join_ref = raw.get("ref"), raw.get("join_ref")
        if not isinstance(topic, str) or not isinstance(event, str):
            return
        await self._dispatch(conn, topic, event, payload, ref, join_ref)

    async def _on_binary(self, conn: Connection, data: bytes) -> None:
        if conn.vsn != 2 or len(data) < 7 or data[0] != USER_BROADCAST_PUSH:
            return
        jr, rf, tp, ev, md, enc = struct.unpack_from("6B", data, 1)
        pos = 7
        join_ref = data[pos : pos + jr].decode()
        pos += jr
        ref = data[pos : pos + rf].decode()
        pos += rf
        topic = data[pos : pos + tp].decode()
        pos += tp
        user_event = data[pos : pos + ev].decode()
        pos += ev
        pos += md  # client metadata is not used by the server either
        user_payload = data[pos:]
        ch = conn.channels.get(topic)
        if ch is None:
            conn.reply(topic, ref, join_ref, "error", {"reason": "unmatched topic"})
            return
        await self._client_broadcast(
            ch, ref, {"user_event": user_event, "json": enc == 1, "payload": user_payload}
        )

    async def _dispatch(
        self, conn: Connection, topic: str, event: str, payload: Any, ref: Any, join_ref: Any
    ) -> None:
        ref = None if ref is None else str(ref)
        join_ref = None if join_ref is None else str(join_ref)
        if not isinstance(payload, dict):
            payload = {}
        if topic == "phoenix":
            if event == "heartbeat":
                conn.reply("phoenix", ref, None, "ok", {})
            return
        if event == "phx_join":
            await self._join(conn, topic, payload, ref, join_ref)
            return
        ch = conn.channels.get(topic)
        if ch is None:
            if event != "phx_leave":
                conn.reply(topic, ref, join_ref, "error", {"reason": "unmatched topic"})
            else:
                conn.reply(topic, ref, join_ref, "ok", {})
            return
        if event == "phx_leave":
            self._remove_channel(ch)
            conn.channels.pop(topic, None)
            conn.reply(topic, ref, ch.join_ref, "ok", {})
            conn.push(topic, "phx_close", {}, ch.join_ref, ch.join_ref)
        elif event == "heartbeat":
            conn.reply(topic, ref, ch.join_ref, "ok", {})
        elif event == "broadcast":
            await self._client_broadcast(ch, ref, payload)
        elif event == "presence":
            await self._presence(ch, ref, payload)
        elif event == "access_token":
            await self._access_token(ch, payload.get("access_token"))

    # -- join -----------------------------------------------------------------------------------
    def _verify(self, token: str) -> dict[str, Any] | str:
        """Claims, or the Realtime error reason for a token a channel cannot use."""
        try:
            claims = decode_token(token, self.config.jwt_secret)
        except JwtError as exc:
            if exc.kind == "expired":
                return f"InvalidJWTToken: Token has expired {exc.expired_for} seconds ago"
            if exc.kind == "signature":
                return "JwtSignatureError: Failed to validate JWT signature"
            return "MalformedJWT: The token provided is not a valid JWT"
        if "role" not in claims or "exp" not in claims:
            return "InvalidJWTToken: Fields `role` and `exp` are required in JWT"
        return claims

    async def _join(
        self, conn: Connection, topic: str, payload: dict[str, Any], ref: str | None, join_ref: str | None
    ) -> None:
        if not topic.startswith("realtime:"):
            conn.reply(topic, ref, join_ref, "error", {"reason": "unmatched topic"})
            return
        if self.joins.triggered:
            # RealtimeChannel.limit_joins: refused, and the socket is disconnected too.
            self.join_limit_refusals += 1
            conn.reply(
                topic,
                ref,
                join_ref,
                "error",
                {"reason": "ClientJoinRateLimitReached: Too many joins per second"},
            )
            self._tasks.append(asyncio.create_task(self._close_conn(conn, code=1000, message="disconnect")))
            return
        self.joins.add(1)
        sub_topic = topic[len("realtime:") :]
        config = _as_dict(payload.get("config"))
        broadcast = _as_dict(config.get("broadcast"))
        presence = _as_dict(config.get("presence"))
        private = bool(config.get("private", False))
        token = payload.get("access_token") or payload.get("user_token")
        if not isinstance(token, str) or token.startswith("sb_"):
            token = conn.api_key

        old = conn.channels.pop(topic, None)
        if old is not None:  # Phoenix closes a duplicate join of the same topic
            self._remove_channel(old)
            conn.push(topic, "phx_close", {}, old.join_ref, old.join_ref)

        async def refuse(reason: str) -> None:
            if self.config.join_error_backoff:
                await asyncio.sleep(self.config.join_error_backoff)
            conn.reply(topic, ref, join_ref, "error", {"reason": reason})

        verified = self._verify(token)
        if isinstance(verified, str):
            await refuse(verified)
            return
        claims = verified
        pg_changes = config.get("postgres_changes") or []
        if isinstance(pg_changes, list) and [b for b in pg_changes if b]:
            await refuse(
                "PostgresChangesNotSupported: devstack does not support postgres_changes; "
                "use broadcast (realtime.send) instead"
            )
            return
        key = presence.get("key")
        ch = Channel(
            conn=conn,
            topic=topic,
            sub_topic=sub_topic,
            join_ref=join_ref,
            private=private,
            self_broadcast=bool(broadcast.get("self", False)),
            ack=bool(broadcast.get("ack", False)),
            presence_enabled=bool(presence.get("enabled", False)),
            presence_key=key if isinstance(key, str) and key else str(uuid.uuid1()),
            token=token,
            claims=claims,
        )
        if private:
            try:
                ch.policies = await self._read_policies(ch, presence=ch.presence_enabled)
            except asyncpg.PostgresError as exc:
                log.warning("realtime: RLS policy error on %s: %s", sub_topic, exc)
                ch.policies = Policies(False, False)
            if not (ch.policies.broadcast_read or ch.policies.presence_read):
                await refuse(
                    f"Unauthorized: You do not have permissions to read from this Channel topic: {sub_topic}"
                )
                return
        replay = broadcast.get("replay")
        replayed: list[asyncpg.Record] = []
        if replay is not None:
            # Realtime: private channels only, DB-originated messages, the newest `limit`
            # (at most 25) since `since` (ms epoch), delivered oldest first (messages.ex).
            if not private:
                await refuse("UnableToReplayMessages: Replay is not allowed for public channels")
                return
            if not (ch.policies and ch.policies.broadcast_read):
                await refuse(
                    f"Unauthorized: You do not have permissions to read from this Channel topic: {sub_topic}"
                )
                return
            since = replay.get("since") if isinstance(replay, dict) else None
            limit = replay.get("limit", 25) if isinstance(replay, dict) else None
            if not isinstance(since, int) or not isinstance(limit, int) or isinstance(since, bool):
                await refuse("UnableToReplayMessages: Replay params are not valid")
                return
            async with self.pool.acquire() as db:
                replayed = await db.fetch(
                    "select id, event, payload::text as payload from realtime.messages"
                    " where topic = $1 and private and extension = 'broadcast'"
                    " and inserted_at >= (to_timestamp($2 / 1000.0) at time zone current_setting('TimeZone'))"
                    " order by inserted_at desc limit $3",
                    sub_topic,
                    since,
                    max(min(limit, 25), 1),
                )
            replayed.reverse()
            ch.replayed_ids = {str(r["id"]) for r in replayed}
        if conn.closed:
            return
        conn.channels[topic] = ch
        self.rooms.setdefault(ch.room, set()).add(ch)
        conn.reply(topic, ref, join_ref, "ok", {"postgres_changes": []})
        for r in replayed:  # pushed as JSON (also to vsn 2 sockets), after the join reply
            payload = json.loads(r["payload"] or "{}")
            conn.push(
                topic,
                "broadcast",
                {
                    "payload": payload,
                    "event": r["event"],
                    "type": "broadcast",
                    "meta": {"replayed": True, "id": str(r["id"])},
                },
                None,
                join_ref,
            )
        if ch.presence_enabled and ch.can_read_presence() and self._limit_presence_event(ch):
            conn.push(topic, "presence_state", self._presence_state(ch.room), None, join_ref)
        if conn.channels.get(topic) is ch:
            self._arm_expiry(ch)

    def _arm_expiry(self, ch: Channel) -> None:
        if ch.exp_task is not None:
            ch.exp_task.cancel()
        exp = ch.claims.get("exp")
        if not isinstance(exp, int | float):
            return

        async def expire() -> None:
            await asyncio.sleep(max(0.0, exp - time.time()) + 0.05)
            late = int(time.time() - exp)
            self._shutdown(ch, f"Token has expired {late} seconds ago")

        ch.exp_task = asyncio.create_task(expire())

    async def _authz_tx(self, ch: Channel, body: Any) -> Any:
        async with self.pool.acquire() as conn:
            tr = conn.transaction()
            await tr.start()
            try:
                return await body(conn)
            finally:
                await tr.rollback()

    async def _set_conn_config(self, conn: asyncpg.Connection, ch: Channel) -> None:
        await self._set_auth_config(conn, ch.claims, ch.sub_topic, ch.conn.headers)

    @staticmethod
    async def _set_auth_config(
        conn: asyncpg.Connection, claims: dict[str, Any], topic: str, headers: dict[str, str]
    ) -> None:
        """Authorization.set_conn_config: what RLS policies on realtime.messages can see."""
        await conn.execute(
            "select set_config('role', $1, true), set_config('realtime.topic', $2, true),"
            " set_config('request.jwt.claims', $3, true), set_config('request.jwt.claim.sub', $4, true),"
            " set_config('request.jwt.claim.role', $1, true), set_config('request.headers', $5, true)",
            str(claims.get("role")),
            topic,
            _dumps(claims),
            str(claims.get("sub") or ""),
            _dumps(headers),
        )

    async def _read_policies(self, ch: Channel, *, presence: bool) -> Policies:
        exts = ["broadcast", "presence"] if presence else ["broadcast"]

        async def body(conn: asyncpg.Connection) -> Policies:
            ids = {ext: uuid.uuid4() for ext in exts}
            for ext, mid in ids.items():
                await conn.execute(
                    "insert into realtime.messages (id, topic, extension, private) values ($1, $2, $3, true)",
                    mid,
                    ch.sub_topic,
                    ext,
                )
            await self._set_conn_config(conn, ch)
            seen = {
                r["id"]
                for r in await conn.fetch(
                    "select id from realtime.messages where id = any($1::uuid[])", list(ids.values())
                )
            }
            p = ch.policies or Policies()
            p.broadcast_read = ids["broadcast"] in seen
            if presence:
                p.presence_read = ids["presence"] in seen
            return p

        result: Policies = await self._authz_tx(ch, body)
        return result

    async def _write_policies(self, ch: Channel, ext: str) -> bool:
        return await self._write_allowed(ch.claims, ch.sub_topic, ch.conn.headers, ext)

    async def _write_allowed(
        self, claims: dict[str, Any], topic: str, headers: dict[str, str], ext: str
    ) -> bool:
        """May these claims INSERT a probe row for `topic` (rolled back)? = may send/track."""

        async def body(conn: asyncpg.Connection) -> bool:
            await self._set_auth_config(conn, claims, topic, headers)
            try:
                async with conn.transaction():  # savepoint, as Repo.insert(mode: :savepoint)
                    await conn.execute(
                        "insert into realtime.messages (topic, extension, private) values ($1, $2, true)",
                        topic,
                        ext,
                    )
                return True
            except asyncpg.InsufficientPrivilegeError:
                return False

        try:
            async with self.pool.acquire() as conn:
                tr = conn.transaction()
                await tr.start()
                try:
                    allowed: bool = await body(conn)
                finally:
                    await tr.rollback()
        except asyncpg.PostgresError as exc:
            log.warning("realtime: RLS policy error on %s: %s", topic, exc)
            return False
        return allowed

    # -- REST broadcast API (realtime-py http_send, supabase-js httpSend) ------------------------
    def _http_claims(self, request: web.Request) -> dict[str, Any] | None:
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else (request.headers.get("apikey") or "")
        try:
            claims = decode_token(token, self.config.jwt_secret)
        except JwtError:
            return None
        # the policies run under the token's role: only the three API roles (as PostgREST)
        if claims.get("role", "anon") not in AUTHENTICATOR_ROLES:
            return None
        return claims

    async def handle_broadcast_single(self, request: web.Request) -> web.Response:
        """POST /api/broadcast/{topic}/events/{event}[?private=true] (BroadcastSingleController)."""
        claims = self._http_claims(request)
        if claims is None:
            return web.json_response({"message": "Unauthorized"}, status=401)
        topic, event = request.match_info["topic"], request.match_info["event"]
        private = request.query.get("private", "false").lower() in ("true", "1")
        ctype = request.content_type
        raw = await request.read()
        if ctype == "application/octet-stream":
            user_payload, is_json = raw, False
        elif ctype == "application/json":
            try:
                json.loads(raw)
            except (ValueError, RecursionError):
                # RecursionError: deeper than Python's parser goes (Realtime's parses it);
                # refused as a client error, never a 500 (issue 20)
                return web.json_response({"message": "Invalid JSON"}, status=400)
            user_payload, is_json = raw, True
        else:
            return web.json_response({"message": "Unsupported Media Type"}, status=415)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if private and not await self._write_allowed(claims, topic, headers, "broadcast"):
            return web.json_response({"message": "Unauthorized"}, status=403)
        self._fanout_user((topic, private), event, user_payload, is_json, None)
        return web.Response(status=202)

    async def handle_broadcast_batch(self, request: web.Request) -> web.Response:
        """POST /api/broadcast with {"messages": [{topic, event, payload, private}]} (BroadcastController).
        Messages to private topics the caller may not write to are skipped."""
        claims = self._http_claims(request)
        if claims is None:
            return web.json_response({"message": "Unauthorized"}, status=401)
        try:
            body = json.loads(await request.read())
        except RecursionError:
            # Realtime's Jason parses any depth; Python's parser stops near 1,000 levels. The
            # messages of such a body cannot be valid broadcasts anyway: refused as the
            # changeset refuses invalid messages (422, never a 500 - issue 20).
            return web.json_response({"errors": {"messages": ["is invalid"]}}, status=422)
        except ValueError:
            # Plug.Parsers' JSON error
            return web.json_response({"errors": {"detail": "Bad Request"}}, status=400)
        messages = body.get("messages") if isinstance(body, dict) else None
        if messages is None:
            return web.json_response({"errors": {"messages": ["can't be blank"]}}, status=422)
        errors = _batch_errors(messages)
        if errors is not None:
            return web.json_response({"errors": {"messages": errors}}, status=422)
        headers = {k.lower(): v for k, v in request.headers.items()}
        allowed: dict[str, bool] = {}
        for m in messages:
            topic, private = m["topic"], bool(m.get("private", False))
            if private:
                if topic not in allowed:
                    allowed[topic] = await self._write_allowed(claims, topic, headers, "broadcast")
                if not allowed[topic]:
                    continue
            payload = m.get("payload", {})
            self._fanout_user(
                (topic, private), str(m.get("event") or ""), _dumps(payload).encode(), True, None
            )
        return web.Response(status=202)

    # -- broadcast --------------------------------------------------------------------------
    async def _client_broadcast(self, ch: Channel, ref: str | None, payload: dict[str, Any]) -> None:
        if ch.private:
            assert ch.policies is not None
            if ch.policies.broadcast_write is None:
                ch.policies.broadcast_write = await self._write_policies(ch, "broadcast")
            if not ch.policies.broadcast_write:
                return  # dropped silently, no reply even with ack (broadcast_handler.ex)
        if "user_event" in payload:  # binary user_broadcast_push from a vsn 2 client
            self._fanout_user(
                ch.room,
                payload["user_event"],
                payload["payload"],
                payload["json"],
                None,
                exclude=None if ch.self_broadcast else ch,
            )
        else:
            for peer in list(self.rooms.get(ch.room, ())):
                if (peer is ch and not ch.self_broadcast) or not peer.can_read_broadcast():
                    continue
                peer.conn.push(peer.topic, "broadcast", payload)
                self._count_delivery(peer)
        if ch.ack:
            ch.conn.reply(ch.topic, ref, ch.join_ref, "ok", {})

    def _fanout_user(
        self,
        room: tuple[str, bool],
        event: str,
        user_payload: bytes,
        is_json: bool,
        meta: dict[str, Any] | None,
        exclude: Channel | None = None,
        msg_id: str | None = None,
    ) -> None:
        """A UserBroadcast: binary frame for vsn 2 sockets, JSON object for vsn 1 (json payloads only)."""
        meta_bytes = _dumps(meta).encode() if meta else b""
        v1_payload: Any = None
        for peer in list(self.rooms.get(room, ())):
            if peer is exclude or not peer.can_read_broadcast():
                continue
            if msg_id is not None and msg_id in peer.replayed_ids:
                continue  # already delivered by this join's replay
            if peer.conn.vsn == 2:
                topic_b, event_b = peer.topic.encode(), event.encode()
                header = bytes(
                    [USER_BROADCAST, len(topic_b), len(event_b), len(meta_bytes), 1 if is_json else 0]
                )
                peer.conn.send_raw(header + topic_b + event_b + meta_bytes + user_payload)
            elif is_json:
                if v1_payload is None:
                    v1_payload = {"event": event, "payload": json.loads(user_payload), "type": "broadcast"}
                    if meta:
                        v1_payload["meta"] = meta
                peer.conn.push(peer.topic, "broadcast", v1_payload)
            self.delivered += 1
            self._count_delivery(peer)

    def broadcast_from_db(self, msg: dict[str, Any]) -> None:
        if self.in_outage:
            # Outage mode: the replication connection is down; nothing committed meanwhile
            # is ever sent (the row stays in realtime.messages).
            self.outage_db_broadcasts += 1
            return
        if self.drop_db_broadcasts > 0 and self._drop_rng.random() < self.drop_db_broadcasts:
            # Fault switch: lost like a broadcast real Realtime drops (rate limit, replication
            # restart). The row stays in realtime.messages, as it does there.
            self.dropped_db_broadcasts += 1
            return
        if self.events.triggered:
            # ReplicationConnection.check_rate_limit: dropped while messages/s is over.
            self.rate_limited_db_broadcasts += 1
            return
        self.events.add(1)
        payload = msg.get("payload")
        if not isinstance(payload, dict):
            payload = {} if payload is None else {"value": payload}
        room = (str(msg["topic"]), bool(msg.get("private")))
        self._fanout_user(
            room,
            str(msg.get("event") or ""),
            _dumps(payload).encode(),
            True,
            {"id": msg["id"]},
            msg_id=str(msg["id"]),
        )

    # -- presence ---------------------------------------------------------------------------
    def _presence_state(self, room: tuple[str, bool]) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for peer, meta in self.presence.get(room, {}).items():
            state.setdefault(peer.presence_key, {"metas": []})["metas"].append(meta)
        return state

    def _presence_diff(self, room: tuple[str, bool], joins: dict[str, Any], leaves: dict[str, Any]) -> None:
        diff = {"joins": joins, "leaves": leaves}
        for peer in list(self.rooms.get(room, ())):
            if peer.can_read_presence():
                peer.conn.push(peer.topic, "presence_diff", diff)
                self.presence_events.add(1)  # MessageDispatcher: one per recipient

    def _new_phx_ref(self) -> str:
        return f"F{next(self._refs):011d}"

    async def _presence(self, ch: Channel, ref: str | None, payload: dict[str, Any]) -> None:
        event = str(payload.get("event", "")).lower()
        now = time.monotonic()
        window = self.config.presence_window
        ch.presence_calls = [t for t in ch.presence_calls if now - t < window]
        if len(ch.presence_calls) >= self.config.presence_max_calls:
            self._shutdown(ch, "Client presence rate limit exceeded")
            return
        ch.presence_calls.append(now)
        if not self._limit_presence_event(ch):
            return
        if event == "track":
            data = payload.get("payload", {})
            if not isinstance(data, dict):
                ch.conn.reply(
                    ch.topic, ref, ch.join_ref, "error", {"reason": "Presence track payload must be a map"}
                )
                return
            if ch.private:
                assert ch.policies is not None
                if ch.policies.presence_read is None:
                    fresh = await self._read_policies(ch, presence=True)
                    ch.policies.presence_read = fresh.presence_read
                if ch.policies.presence_write is None:
                    ch.policies.presence_write = await self._write_policies(ch, "presence")
                if not ch.policies.presence_write:
                    ch.conn.reply(ch.topic, ref, ch.join_ref, "error", {})
                    return
            if len(_dumps(data).encode()) > MAX_PAYLOAD_BYTES:
                # PresenceHandler.track: validate_payload_size -> shutdown_response (issue 20:
                # a 4 MiB meta was accepted and fanned out to everyone)
                self._shutdown(ch, "Track message size exceeded")
                return
            ch.presence_enabled = True
            if ch.presence_payload == data and ch.presence_meta is not None:
                ch.conn.reply(ch.topic, ref, ch.join_ref, "ok", {})
                return
            room_state = self.presence.setdefault(ch.room, {})
            meta = {**data, "phx_ref": self._new_phx_ref()}
            leaves: dict[str, Any] = {}
            if ch.presence_meta is not None:
                meta["phx_ref_prev"] = ch.presence_meta["phx_ref"]
                leaves = {ch.presence_key: {"metas": [ch.presence_meta]}}
            ch.presence_meta, ch.presence_payload = meta, data
            room_state[ch] = meta
            ch.conn.reply(ch.topic, ref, ch.join_ref, "ok", {})
            self._presence_diff(ch.room, {ch.presence_key: {"metas": [meta]}}, leaves)
        elif event == "untrack":
            ch.conn.reply(ch.topic, ref, ch.join_ref, "ok", {})
            self._untrack(ch)
        else:
            ch.conn.reply(ch.topic, ref, ch.join_ref, "error", {})

    def _untrack(self, ch: Channel) -> None:
        if ch.presence_meta is None:
            return
        meta = ch.presence_meta
        ch.presence_meta, ch.presence_payload = None, None
        room_state = self.presence.get(ch.room, {})
        room_state.pop(ch, None)
        if not room_state:
            self.presence.pop(ch.room, None)
        self._presence_diff(ch.room, {}, {ch.presence_key: {"metas": [meta]}})

    # -- token refresh and shutdown ---------------------------------------------------------
    async def _access_token(self, ch: Channel, token: Any) -> None:
        if not isinstance(token, str) or token.startswith("sb_") or token == ch.token:
            return
        verified = self._verify(token)
        if isinstance(verified, str):
            self._shutdown(ch, verified.split(": ", 1)[-1])
            return
        previous = ch.policies
        ch.token, ch.claims = token, verified
        if ch.private:
            ch.policies = None
            try:
                policies = await self._read_policies(ch, presence=ch.presence_enabled)
            except asyncpg.PostgresError:
                policies = Policies(False, False)
            ch.policies = policies
            revoked = previous is not None and (
                (previous.broadcast_read and not policies.broadcast_read)
                or (previous.presence_read and policies.presence_read is False)
            )
            if revoked:
                self._shutdown(
                    ch, f"You no longer have permission to read from this Channel topic: {ch.sub_topic}"
                )
                return
            if not (policies.broadcast_read or policies.presence_read):
                self._shutdown(
                    ch, f"You do not have permissions to read from this Channel topic: {ch.sub_topic}"
                )
                return
        self._arm_expiry(ch)

    def _shutdown(self, ch: Channel, message: str) -> None:
        """A fatal channel error: ``system`` error, then ``phx_close`` (Phoenix {:stop, :normal})."""
        if ch.conn.channels.get(ch.topic) is not ch:
            return
        ch.conn.push(
            ch.topic,
            "system",
            {"extension": "system", "status": "error", "message": message, "channel": ch.sub_topic},
            None,
            ch.join_ref,
        )
        ch.conn.channels.pop(ch.topic, None)
        self._remove_channel(ch)
        ch.conn.push(ch.topic, "phx_close", {}, ch.join_ref, ch.join_ref)

    def _remove_channel(self, ch: Channel) -> None:
        if ch.exp_task is not None and ch.exp_task is not asyncio.current_task():
            ch.exp_task.cancel()
        members = self.rooms.get(ch.room)
        if members is not None:
            members.discard(ch)
            if not members:
                self.rooms.pop(ch.room, None)
        self._untrack(ch)
