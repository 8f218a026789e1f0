"""The devstack's front doors (issue 20): never more lenient than the real servers. Role
claims as PostgREST's authenticator switches roles, ``aud`` as PostgREST checks it, the HTTP
broadcast endpoint's JSON as Realtime's changeset takes it, presence meta size as Realtime's
payload limit, repeated filters as PostgREST ANDs them, and GoTrue's soft delete with the
product's deletion rule applied to it. (The apikey check: test_fidelity.py.)"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
import websockets

from .conftest import ADVENTURE_ID, Clients, Target
from .test_realtime_wire import recv_until, ws_url

pytestmark = pytest.mark.devstack


def _mint(target: Target, claims: dict[str, Any]) -> str:
    assert target.jwt_secret is not None
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 600, **claims}, target.jwt_secret, algorithm="HS256")


def _h(target: Target, token: str) -> dict[str, str]:
    return {"apikey": target.anon_key, "Authorization": f"Bearer {token}"}


async def test_role_claims_are_limited_to_the_authenticators_roles(clients: Clients, target: Target) -> None:
    """Issue 20: a token signed with the project's secret and ``role: postgres`` read every row
    of sessions and session_events. PostgREST's authenticator is a member of anon,
    authenticated and service_role only: Postgres refuses the `set role` (42501, 403), or the
    role does not exist (22023, 401 since PostgREST 13.0.1)."""
    if target.jwt_secret is None:
        pytest.skip("needs the stack's JWT secret")
    seer = await clients.user("seer")
    await seer.client.rpc("create_session", {"p_adventure_id": ADVENTURE_ID}).execute()
    sub = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=target.url) as http:
        for role in ("postgres", "supabase_admin", "authenticator", "supabase_auth_admin"):
            token = _mint(target, {"sub": sub, "role": role})
            for path in ("/rest/v1/sessions?select=id", "/rest/v1/session_events?select=seq"):
                r = await http.get(path, headers=_h(target, token))
                assert r.status_code == 403, (role, path, r.text)
                assert r.json() == {
                    "code": "42501",
                    "details": None,
                    "hint": None,
                    "message": f'permission denied to set role "{role}"',
                }
            r = await http.post("/rest/v1/rpc/list_my_sessions", json={}, headers=_h(target, token))
            assert r.status_code == 403 and r.json()["code"] == "42501"
        r = await http.get("/rest/v1/sessions", headers=_h(target, _mint(target, {"role": "no_such_role"})))
        assert (r.status_code, r.json()["code"]) == (401, "22023")
        assert r.json()["message"] == 'role "no_such_role" does not exist'
        # the three API roles still work (service_role reads everything, as on Supabase)
        r = await http.get(
            "/rest/v1/sessions?select=id", headers=_h(target, _mint(target, {"role": "service_role"}))
        )
        assert r.status_code == 200 and len(r.json()) >= 1
        r = await http.get("/rest/v1/sessions?select=id", headers=_h(target, _mint(target, {"role": "anon"})))
        assert r.status_code in (200, 401)
        # the HTTP broadcast API runs its policies under the same roles
        r = await http.post(
            "/realtime/v1/api/broadcast",
            json={"messages": [{"topic": "t", "event": "e", "payload": {}}]},
            headers=_h(target, _mint(target, {"sub": sub, "role": "postgres"})),
        )
        assert r.status_code == 401


async def test_aud_is_checked_as_postgrest_checks_it(clients: Clients, target: Target) -> None:
    """PostgREST checks ``aud`` against `jwt-aud`, which Supabase does not set (supabase/cli
    start.go passes no PGRST_JWT_AUD); GoTrue and Realtime do not check it. So ``aud: other``
    is accepted everywhere - but an ``aud`` that is neither a string nor an array of strings is
    PostgREST's PGRST303 (Auth/Jwt.hs checkForErrors)."""
    if target.jwt_secret is None:
        pytest.skip("needs the stack's JWT secret")
    alice = await clients.user("alice")
    async with httpx.AsyncClient(base_url=target.url) as http:
        other = _mint(target, {"sub": alice.id, "role": "authenticated", "aud": "other"})
        r = await http.post("/rest/v1/rpc/list_my_characters", json={}, headers=_h(target, other))
        assert r.status_code == 200, r.text
        for aud in (123, {"a": 1}, ["ok", 5]):
            bad = _mint(target, {"sub": alice.id, "role": "authenticated", "aud": aud})
            r = await http.post("/rest/v1/rpc/list_my_characters", json={}, headers=_h(target, bad))
            assert r.status_code == 401, (aud, r.text)
            assert r.json()["code"] == "PGRST303"
            assert r.json()["message"] == "The JWT 'aud' claim must be a string or an array of strings"
        # iat: a number, at most 30 s in the future (PostgREST's skew)
        for iat, message in (
            (int(time.time()) + 3600, "JWT issued at future"),
            ("x", "The JWT 'iat' claim must be a number"),
        ):
            bad = _mint(target, {"sub": alice.id, "role": "authenticated", "iat": iat})
            r = await http.post("/rest/v1/rpc/list_my_characters", json={}, headers=_h(target, bad))
            assert (r.status_code, r.json()["code"], r.json()["message"]) == (401, "PGRST303", message), (
                r.text
            )
        ok = _mint(target, {"sub": alice.id, "role": "authenticated", "iat": int(time.time()) + 10})
        r = await http.post("/rest/v1/rpc/list_my_characters", json={}, headers=_h(target, ok))
        assert r.status_code == 200, r.text


async def test_http_broadcast_json_is_refused_as_realtime_refuses_it(
    clients: Clients, target: Target
) -> None:
    """Issue 20: ``{"messages": [[[...100,000 deep...]]]}`` answered a plain-text 500. Realtime
    validates the batch with an Ecto changeset: 422 ``{"errors": ...}``, 202 when valid."""
    alice = await clients.user("alice")
    h = {**_h(target, alice.access_token), "Content-Type": "application/json"}
    deep = b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    async with httpx.AsyncClient(base_url=target.url, timeout=30) as http:
        r = await http.post("/realtime/v1/api/broadcast", content=deep, headers=h)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/json"), r.text
        assert r.json() == {"errors": {"messages": ["is invalid"]}}
        deep_payload = (
            b'{"messages": [{"topic": "t", "event": "e", "payload": '
            + b"[" * 100_000
            + b"]" * 100_000
            + b"}]}"
        )
        r = await http.post("/realtime/v1/api/broadcast", content=deep_payload, headers=h)
        assert 400 <= r.status_code < 500 and r.json(), r.text
        r = await http.post("/realtime/v1/api/broadcast", content=b'{"messages": ', headers=h)
        assert r.status_code == 400 and r.json(), r.text
        r = await http.post("/realtime/v1/api/broadcast", json={"messages": [1, 2]}, headers=h)
        assert (r.status_code, r.json()) == (422, {"errors": {"messages": ["is invalid"]}})
        r = await http.post(
            "/realtime/v1/api/broadcast",
            json={"messages": [{"topic": "t", "event": "e", "payload": {}}, {"topic": "t", "payload": "x"}]},
            headers=h,
        )
        assert r.status_code == 422
        assert r.json() == {
            "errors": {"messages": [{}, {"event": ["can't be blank"], "payload": ["is invalid"]}]}
        }
        r = await http.post("/realtime/v1/api/broadcast", json={}, headers=h)
        assert (r.status_code, r.json()) == (422, {"errors": {"messages": ["can't be blank"]}})
        r = await http.post(
            "/realtime/v1/api/broadcast",
            json={"messages": [{"topic": "t", "event": "e", "payload": {}}]},
            headers=h,
        )
        assert r.status_code == 202
        single = "/realtime/v1/api/broadcast/t/events/e"
        r = await http.post(single, content=b"[" * 100_000 + b"]" * 100_000, headers=h)
        assert r.status_code == 400 and r.json(), r.text


async def test_presence_meta_size_is_limited(clients: Clients, target: Target) -> None:
    """Issue 20: a 4 MiB presence meta was accepted and fanned out. Realtime checks a track's
    payload against the tenant's max_payload_size_in_kb (3,000 kB + 500 bytes) and shuts the
    channel down with "Track message size exceeded"."""
    seer = await clients.user("seer")
    sid = (await seer.client.rpc("create_session", {"p_adventure_id": ADVENTURE_ID}).execute()).data["id"]
    sub_topic = (await seer.client.rpc("session_topic", {"p_session_id": sid}).execute()).data["topic"]
    topic = f"realtime:{sub_topic}"
    join = {
        "config": {
            "broadcast": {"self": False},
            "presence": {"key": seer.id, "enabled": True},
            "private": True,
            "postgres_changes": [],
        },
        "access_token": seer.access_token,
    }

    def is_reply(m: Any) -> bool:
        return isinstance(m, dict) and m.get("event") == "phx_reply"

    async with (
        websockets.connect(ws_url(target, "1.0.0"), max_size=16 * 1024 * 1024) as ws,
        websockets.connect(ws_url(target, "1.0.0"), max_size=16 * 1024 * 1024) as watcher,
    ):
        for sock in (ws, watcher):
            await sock.send(
                json.dumps(
                    {"topic": topic, "event": "phx_join", "payload": join, "ref": "1", "join_ref": "1"}
                )
            )
            assert (await recv_until(sock, is_reply))["payload"]["status"] == "ok"
        small = {"type": "presence", "event": "track", "payload": {"user_id": seer.id, "note": "x" * 1000}}
        await ws.send(
            json.dumps({"topic": topic, "event": "presence", "payload": small, "ref": "2", "join_ref": "1"})
        )
        assert (await recv_until(ws, is_reply))["payload"]["status"] == "ok"
        await recv_until(watcher, lambda m: isinstance(m, dict) and m.get("event") == "presence_diff")
        big = {
            "type": "presence",
            "event": "track",
            "payload": {"user_id": seer.id, "blob": "x" * (4 * 1024 * 1024)},
        }
        await ws.send(
            json.dumps({"topic": topic, "event": "presence", "payload": big, "ref": "3", "join_ref": "1"})
        )
        system = await recv_until(ws, lambda m: isinstance(m, dict) and m.get("event") == "system")
        assert system["payload"]["status"] == "error"
        assert system["payload"]["message"] == "Track message size exceeded"
        await recv_until(ws, lambda m: isinstance(m, dict) and m.get("event") == "phx_close")
        # the watcher never got the 4 MiB meta: only the leave of the closed channel
        diff = await recv_until(watcher, lambda m: isinstance(m, dict) and m.get("event") == "presence_diff")
        assert diff["payload"]["joins"] == {} and len(json.dumps(diff)) < 10_000


async def test_repeated_filters_on_one_column_are_anded(clients: Clients, target: Target) -> None:
    """supabase-py's postgrest suite (test_multivalued_param): ``col=lt.X&col=gt.Y`` is two
    conditions in PostgREST; the devstack kept only the last one."""
    alice = await clients.user("alice")
    for title in ("Alpha", "Mid", "Zulu"):
        doc = {"title": title, "nodes": [{"key": "a", "type": "ending", "title": "A"}]}
        await alice.client.rpc("import_adventure", {"p_document": doc}).execute()
    res = await (
        alice.client.table("adventures")
        .select("title")
        .eq("created_by", alice.id)
        .gt("title", "B")
        .lt("title", "Y")
        .execute()
    )
    assert [r["title"] for r in res.data] == ["Mid"]
    async with httpx.AsyncClient(base_url=target.url) as http:
        r = await http.get(
            f"/rest/v1/adventures?select=title&created_by=eq.{alice.id}&title=gt.B&title=lt.Y&order=title",
            headers=_h(target, alice.access_token),
        )
        assert r.json() == [{"title": "Mid"}]


async def test_soft_delete_is_honoured_and_applies_the_deletion_rule(
    clients: Clients, target: Target, db: asyncpg.Pool
) -> None:
    """Issue 20: GoTrue's ``should_soft_delete`` only sets deleted_at (no DELETE: the deletion
    trigger never fired), so a soft-deleted player's seat stayed taken and a soft-deleted
    Seer's session kept running; the devstack ignored the flag and hard-deleted."""
    seer, pia = await clients.user("seer"), await clients.user("pia")
    char = (await pia.client.rpc("create_character", {"p_name": "Pia", "p_class": "bard"}).execute()).data[
        "id"
    ]
    sid = (await seer.client.rpc("create_session", {"p_adventure_id": ADVENTURE_ID}).execute()).data["id"]
    await pia.client.rpc("join_session", {"p_session_id": sid, "p_character_id": char}).execute()

    async with httpx.AsyncClient(base_url=target.url) as http:
        service = {"apikey": target.service_role_key, "Authorization": f"Bearer {target.service_role_key}"}
        r = await http.request(
            "DELETE", f"/auth/v1/admin/users/{pia.id}", json={"should_soft_delete": True}, headers=service
        )
        assert (r.status_code, r.json()) == (200, {})
        row = await db.fetchrow(
            "select email, deleted_at, raw_user_meta_data from auth.users where id = $1", uuid.UUID(pia.id)
        )
        assert row is not None, "a soft delete keeps the row"
        assert row["deleted_at"] is not None and row["email"] != pia.email and "@" not in row["email"]
        assert json.loads(row["raw_user_meta_data"]) == {}
        assert (
            await db.fetchval("select count(*) from auth.sessions where user_id = $1", uuid.UUID(pia.id)) == 0
        )
        # the product's rule: the seat is released and announced
        seat = await db.fetchrow(
            "select status, left_at from public.session_players where session_id = $1 and user_id = $2",
            uuid.UUID(sid),
            uuid.UUID(pia.id),
        )
        assert seat is not None and seat["status"] == "left" and seat["left_at"] is not None
        assert (
            await db.fetchval(
                "select count(*) from public.session_events where session_id = $1 and type = 'player_left'",
                uuid.UUID(sid),
            )
            == 1
        )
        # the token pia still holds (valid until it expires, as on Supabase) cannot rejoin
        r = await http.post(
            "/rest/v1/rpc/join_session",
            json={"p_session_id": sid, "p_character_id": char},
            headers=_h(target, pia.access_token),
        )
        assert (r.status_code, r.json()["code"], r.json()["details"]) == (
            403,
            "SESSION_018",
            "this account was deleted",
        )
        # the password no longer signs in (the email is obfuscated)
        r = await http.post(
            "/auth/v1/token?grant_type=password",
            json={"email": pia.email, "password": "correct-horse-42"},
            headers={"apikey": target.anon_key},
        )
        assert r.status_code == 400
        # a second soft delete is a no-op, as in GoTrue
        r = await http.request(
            "DELETE", f"/auth/v1/admin/users/{pia.id}", json={"should_soft_delete": True}, headers=service
        )
        assert (r.status_code, r.json()) == (200, {})

        # a soft-deleted Seer's live session is cancelled, as end_session(cancelled)
        r = await http.request(
            "DELETE", f"/auth/v1/admin/users/{seer.id}", json={"should_soft_delete": True}, headers=service
        )
        assert r.status_code == 200
        status = await db.fetchval("select status from public.sessions where id = $1", uuid.UUID(sid))
        assert status == "cancelled"
        # and the hard delete still deletes
        r = await http.request(
            "DELETE", f"/auth/v1/admin/users/{seer.id}", json={"should_soft_delete": False}, headers=service
        )
        assert (r.status_code, r.json()) == (200, {})
        assert await db.fetchval("select count(*) from auth.users where id = $1", uuid.UUID(seer.id)) == 0
