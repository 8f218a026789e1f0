"""In-process fakes for SDK tests that need no server stack.

* :class:`FakeBackend`: an httpx ``MockTransport`` answering GoTrue (``/auth/v1``) and
  PostgREST RPC (``/rest/v1/rpc/<fn>``) requests with contract-shaped JSON, with failure
  injection per RPC.
* :class:`FakeRealtime`: a Phoenix (vsn 1.0.0) websocket server on 127.0.0.1 speaking what
  the real Realtime server sends: join replies and
  refusals, ``presence_state``/``presence_diff``, DB broadcasts with ``meta.id``, ``system``
  error + ``phx_close``, and abrupt socket kills.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.server import ServerConnection, serve

from . import samples as s

USER_TS = "2026-11-25T20:00:00+00:00"


def rekey_poke(seq: int) -> dict[str, Any]:
    """What rotate_session_channel sends on the old topic: content-free."""
    return {"sessionId": s.SESSION_ID, "seq": seq, "type": "rekey"}


class FakeBackend:
    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}  # email -> {id, password}
        self.tokens: dict[str, str] = {}  # access token -> user id
        self.refresh_tokens: dict[str, str] = {}
        self._token_counter = itertools.count(1)
        self.calls: list[tuple[str, str | None, dict[str, Any]]] = []  # (fn, user id, body)
        # Edge Functions (/functions/v1/<name>): none deployed unless a test adds one
        self.functions: dict[str, Callable[[str | None, dict[str, Any]], tuple[int, Any]]] = {}
        self.function_calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: dict[str, list[int | Exception]] = defaultdict(list)
        self.handlers: dict[str, Callable[[str | None, dict[str, Any]], tuple[int, Any]]] = {}
        self.session = s.session(status="active", players=[], last_seq=0)
        self.session["seerId"] = ""
        self.events: list[dict[str, Any]] = []
        self.participants: set[str] = set()
        self.players: dict[str, dict[str, Any]] = {}  # user id -> SessionPlayer json
        self.heartbeats: dict[str, int] = defaultdict(int)
        self.realtime: FakeRealtime | None = None
        self.drop_live: set[int] = set()  # seqs whose broadcast is "lost"
        self.channel_key = uuid.uuid4().hex  # the session's secret channel key
        self.generation = 0  # how often the key was rotated
        self.removed: dict[str, str] = {}  # former participants -> left_reason

    @property
    def topic(self) -> str:
        """The session's current keyed topic (what session_topic answers)."""
        return f"session:{s.SESSION_ID}:{self.channel_key}"

    def rekey(self, remove: str | None = None, reason: str = "kicked", *, poke: bool = True) -> str:
        """A removal: ``remove`` stops being a participant, the key rotates, and the old
        topic gets one content-free rekey poke (lost when not ``poke``). Returns the old topic."""
        if remove is not None:
            self.participants.discard(remove)
            self.removed[remove] = reason
        old = self.topic
        self.channel_key = uuid.uuid4().hex
        self.generation += 1
        if self.realtime is not None and poke:
            self.realtime.broadcast(old, rekey_poke(len(self.events)))
        return old

    # -------------------------------------------------------------- test helpers
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def add_user(self, email: str, password: str = "pw-123456") -> str:
        uid = str(uuid.uuid4())
        self.users[email] = {"id": uid, "password": password, "email": email}
        return uid

    def seat(self, user_id: str, name: str) -> dict[str, Any]:
        p = s.player(user_id, name)
        self.players[user_id] = p
        self.participants.add(user_id)
        self.session["players"].append(p)
        return p

    def make_seer(self, user_id: str) -> None:
        self.session["seerId"] = user_id
        self.participants.add(user_id)

    def emit(self, type_: str = "game_state", *, live: bool = True, **fields: Any) -> dict[str, Any]:
        seq = len(self.events) + 1
        event = s.event(seq, type_, **fields)
        self.events.append(event)
        self.session["lastSeq"] = seq
        if live and seq not in self.drop_live and self.realtime is not None:
            # What write_event_at broadcasts: the whole event, on the current keyed topic.
            self.realtime.broadcast(self.topic, event)
        return event

    def forge(self, event: dict[str, Any]) -> None:
        """A broadcast the log does not back (as a misconfigured policy would let through)."""
        assert self.realtime is not None
        self.realtime.broadcast(self.topic, event)

    def rpc_calls(self, fn: str) -> list[tuple[str, str | None, dict[str, Any]]]:
        return [c for c in self.calls if c[0] == fn]

    # -------------------------------------------------------------- HTTP
    def _auth_session(self, uid: str, email: str) -> dict[str, Any]:
        n = next(self._token_counter)
        access = f"tok:{uid}:{n}"
        refresh = f"ref:{uid}:{n}"
        self.tokens[access] = uid
        self.refresh_tokens[refresh] = uid
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": 3600,
            "expires_at": int(time.time()) + 3600,
            "refresh_token": refresh,
            "user": {
                "id": uid,
                "aud": "authenticated",
                "role": "authenticated",
                "email": email,
                "app_metadata": {"provider": "email"},
                "user_metadata": {},
                "created_at": USER_TS,
            },
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body: dict[str, Any] = json.loads(request.content) if request.content else {}
        if path.startswith("/auth/v1/"):
            return self._auth(request, path.removeprefix("/auth/v1/"), body)
        if path.startswith("/rest/v1/rpc/"):
            fn = path.removeprefix("/rest/v1/rpc/")
            auth = request.headers.get("authorization", "")
            uid = self.tokens.get(auth.removeprefix("Bearer ").strip())
            self.calls.append((fn, uid, body))
            if self.fail[fn]:
                failure = self.fail[fn].pop(0)
                if isinstance(failure, Exception):
                    raise failure
                return httpx.Response(
                    failure, json={"code": str(failure), "message": "injected", "details": None}
                )
            if uid is None:
                return httpx.Response(
                    401,
                    json={
                        "code": "42501",
                        "message": f"permission denied for function {fn}",
                        "details": None,
                    },
                )
            handler = self.handlers.get(fn) or getattr(self, f"rpc_{fn}", None)
            if handler is None:
                return httpx.Response(404, json={"code": "PGRST202", "message": f"Could not find {fn}"})
            status, data = handler(uid, body)
            return httpx.Response(status, json=data)
        if path.startswith("/functions/v1/"):
            name = path.removeprefix("/functions/v1/")
            auth = request.headers.get("authorization", "")
            self.function_calls.append((name, body))
            function = self.functions.get(name)
            if function is None:
                # the Functions gateway's answer for a function that is not deployed
                return httpx.Response(
                    404, json={"code": "NOT_FOUND", "message": "Requested function was not found"}
                )
            status, data = function(self.tokens.get(auth.removeprefix("Bearer ").strip()), body)
            return httpx.Response(status, json=data)
        return httpx.Response(404, json={"message": "not found"})

    def collector(self) -> None:
        """Deploy the heartbeat collector: it answers what the heartbeat RPC answers the caller."""
        self.functions["heartbeat"] = lambda uid, body: self.rpc_heartbeat(
            uid, {"p_session_id": body["sessionId"]}
        )

    def _auth(self, request: httpx.Request, route: str, body: dict[str, Any]) -> httpx.Response:
        if route == "signup":
            uid = self.add_user(body["email"], body["password"])
            return httpx.Response(200, json=self._auth_session(uid, body["email"]))
        if route == "token":
            grant = request.url.params.get("grant_type")
            if grant == "password":
                user = self.users.get(body.get("email", ""))
                if user is None or user["password"] != body.get("password"):
                    return httpx.Response(
                        400,
                        json={
                            "code": 400,
                            "error_code": "invalid_credentials",
                            "msg": "Invalid login credentials",
                        },
                    )
                return httpx.Response(200, json=self._auth_session(user["id"], user["email"]))
            if grant == "refresh_token":
                uid = self.refresh_tokens.pop(body.get("refresh_token", ""), None)
                if uid is None:
                    return httpx.Response(
                        400, json={"code": 400, "error_code": "refresh_token_not_found", "msg": "x"}
                    )
                email = next(e for e, u in self.users.items() if u["id"] == uid)
                return httpx.Response(200, json=self._auth_session(uid, email))
        if route == "logout":
            return httpx.Response(204)
        return httpx.Response(404, json={"msg": "not found"})

    # -------------------------------------------------------------- RPCs
    @staticmethod
    def err(code: str, status: int, message: str, details: Any = None) -> tuple[int, Any]:
        return status, {"code": code, "message": message, "details": details, "hint": None}

    def rpc_get_session(self, uid: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        if uid not in self.participants:
            return self.err("SESSION_001", 404, "Session not found")
        return 200, self.session

    def rpc_heartbeat(self, uid: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        if uid not in self.participants:
            return self.err("SESSION_001", 404, "Session not found")
        self.heartbeats[uid] += 1
        player = self.players.get(uid or "")
        return 200, {
            "sessionId": s.SESSION_ID,
            "playerId": player["id"] if player else None,
            "status": "connected" if player else None,
            "restored": False,
            "serverTime": USER_TS,
            "lastSeq": len(self.events),
            "sessionStatus": self.session["status"],
            "channelGeneration": self.generation,
        }

    def rpc_session_topic(self, uid: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        if uid in self.removed and uid not in self.participants:
            return self.err("SESSION_006", 403, "You are not in this session", self.removed[uid])
        if uid not in self.participants:
            return self.err("SESSION_001", 404, "Session not found")
        return 200, {"topic": self.topic, "generation": self.generation}

    def rpc_session_events_since(self, uid: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        if uid not in self.participants:
            return self.err("SESSION_001", 404, "Session not found")
        after = body["p_after_seq"]
        limit = min(body.get("p_limit", 500), 1000)
        return 200, [e for e in self.events if e["seq"] > after][:limit]


class FakeRealtime:
    """A small Phoenix channels server (vsn 1.0.0 JSON) for SessionConnection tests."""

    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend
        backend.realtime = self
        self.port = 0
        self._server: Any = None
        self.sockets: set[ServerConnection] = set()
        # topic -> {ws: join_ref}
        self.members: dict[str, dict[ServerConnection, str]] = defaultdict(dict)
        self.presence_keys: dict[tuple[ServerConnection, str], str] = {}
        self.presences: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)  # topic -> key -> meta
        self.socket_user: dict[ServerConnection, str | None] = {}
        self.joins: list[tuple[str, str | None, bool]] = []  # (topic, user, accepted)
        self.tracks: list[tuple[str, dict[str, Any]]] = []
        self.untracks: list[str] = []
        self.leaves: list[str] = []
        self.token_pushes: list[str] = []
        self.refuse_reason: Callable[[str, str | None], str | None] | None = None
        self._ref = itertools.count(1)

    async def start(self, port: int = 0) -> None:
        self._server = await serve(self._handler, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and kill every socket (the server is 'down')."""
        if self._server is not None:
            self._server.close()
            self.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -------------------------------------------------------------- server actions
    def _send(self, ws: ServerConnection, msg: dict[str, Any]) -> None:
        async def send() -> None:
            with contextlib.suppress(Exception):
                await ws.send(json.dumps(msg))

        asyncio.get_running_loop().create_task(send())

    def broadcast(self, topic: str, event: dict[str, Any]) -> None:
        full = f"realtime:{topic}"
        msg_id = str(uuid.uuid4())
        for ws in list(self.members.get(full, {})):
            self._send(
                ws,
                {
                    "topic": full,
                    "event": "broadcast",
                    "payload": {
                        "type": "broadcast",
                        "event": event["type"],
                        "payload": {**event, "id": msg_id},
                        "meta": {"id": msg_id},
                    },
                    "ref": None,
                },
            )

    def kill(self, user_id: str | None = None) -> int:
        """Cut sockets abruptly (no close frame), all or those of one user."""
        killed = 0
        for ws in list(self.sockets):
            if user_id is None or self.socket_user.get(ws) == user_id:
                ws.transport.abort()
                killed += 1
        return killed

    def close_channel(self, topic: str, message: str = "Track message size exceeded") -> None:
        """The real server's fatal path: a system error, then phx_close."""
        full = f"realtime:{topic}"
        for ws in list(self.members.get(full, {})):
            self._send(
                ws,
                {
                    "topic": full,
                    "event": "system",
                    "payload": {
                        "extension": "system",
                        "status": "error",
                        "message": message,
                        "channel": topic,
                    },
                    "ref": None,
                },
            )
            self._send(ws, {"topic": full, "event": "phx_close", "payload": {}, "ref": None})
            self._drop_member(ws, full)

    def online(self, topic: str) -> set[str]:
        return set(self.presences.get(f"realtime:{topic}", {}))

    # -------------------------------------------------------------- protocol
    async def _handler(self, ws: ServerConnection) -> None:
        self.sockets.add(ws)
        self.socket_user[ws] = None
        try:
            async for raw in ws:
                msg = json.loads(raw)
                await self._on_message(ws, msg)
        except Exception:
            pass
        finally:
            self.sockets.discard(ws)
            for topic in list(self.members):
                if ws in self.members[topic]:
                    self._drop_member(ws, topic)

    def _reply(
        self, ws: ServerConnection, msg: dict[str, Any], status: str, response: dict[str, Any]
    ) -> None:
        self._send(
            ws,
            {
                "topic": msg["topic"],
                "event": "phx_reply",
                "payload": {"status": status, "response": response},
                "ref": msg.get("ref"),
                "join_ref": msg.get("join_ref"),
            },
        )

    def _drop_member(self, ws: ServerConnection, topic: str) -> None:
        self.members[topic].pop(ws, None)
        key = self.presence_keys.pop((ws, topic), None)
        if key is not None and key in self.presences[topic]:
            meta = self.presences[topic].pop(key)
            self._diff(topic, {}, {key: {"metas": [meta]}})

    def _diff(self, topic: str, joins: dict[str, Any], leaves: dict[str, Any]) -> None:
        for member in list(self.members.get(topic, {})):
            self._send(
                member,
                {
                    "topic": topic,
                    "event": "presence_diff",
                    "payload": {"joins": joins, "leaves": leaves},
                    "ref": None,
                },
            )

    async def _on_message(self, ws: ServerConnection, msg: dict[str, Any]) -> None:
        event, topic, payload = msg["event"], msg["topic"], msg.get("payload") or {}
        if event == "heartbeat":
            self._reply(ws, msg, "ok", {})
            return
        if event == "phx_join":
            token = payload.get("access_token")
            uid = self.backend.tokens.get(token or "")
            self.socket_user[ws] = uid
            bare = topic.removeprefix("realtime:")
            reason: str | None = None
            if self.refuse_reason is not None:
                reason = self.refuse_reason(bare, uid)
            elif uid is None or uid not in self.backend.participants or bare != self.backend.topic:
                reason = f"Unauthorized: You do not have permissions to read from this Channel topic: {bare}"
            self.joins.append((bare, uid, reason is None))
            if reason is not None:
                self._reply(ws, msg, "error", {"reason": reason})
                return
            self.members[topic][ws] = msg.get("join_ref") or msg.get("ref") or ""
            config = payload.get("config") or {}
            presence = config.get("presence") or {}
            self.presence_keys[(ws, topic)] = presence.get("key") or str(uuid.uuid4())
            self._reply(ws, msg, "ok", {"postgres_changes": []})
            if presence.get("enabled"):
                state = {k: {"metas": [m]} for k, m in self.presences[topic].items()}
                self._send(ws, {"topic": topic, "event": "presence_state", "payload": state, "ref": None})
            return
        if ws not in self.members.get(topic, {}):
            self._reply(ws, msg, "error", {"reason": "unmatched topic"})
            return
        if event == "presence":
            key = self.presence_keys[(ws, topic)]
            if payload.get("event") == "track":
                meta = {**payload.get("payload", {}), "phx_ref": f"ref{next(self._ref)}"}
                old = self.presences[topic].get(key)
                self.presences[topic][key] = meta
                self.tracks.append((key, payload.get("payload", {})))
                self._diff(topic, {key: {"metas": [meta]}}, {key: {"metas": [old]}} if old else {})
            else:
                self.untracks.append(key)
                old = self.presences[topic].pop(key, None)
                if old:
                    self._diff(topic, {}, {key: {"metas": [old]}})
            self._reply(ws, msg, "ok", {})
            return
        if event == "phx_leave":
            self.leaves.append(self.presence_keys.get((ws, topic), ""))
            self._reply(ws, msg, "ok", {})
            self._drop_member(ws, topic)
            return
        if event == "access_token":
            self.token_pushes.append(payload.get("access_token"))
            return
        self._reply(ws, msg, "ok", {})
