"""Issue 13: the devstack behaves as `supabase start` does (PostgREST v14, GoTrue v2.189, the
CLI's gateway and config.toml), and what the real servers refuse is refused here too.

Every test that needs no devstack hook also runs against a real stack (SUPABASE_URL=...)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import jwt
import pytest

from seer_devstack.stack import DevStack
from supabase import acreate_client

from .conftest import ADVENTURE_ID, PASSWORD, Clients, Target

pytestmark = pytest.mark.devstack

DEEP = b"[" * 100_000 + b"]" * 100_000


def _headers(target: Target, token: str | None = None) -> dict[str, str]:
    return {"apikey": target.anon_key, "Authorization": f"Bearer {token or target.anon_key}"}


async def _poll(fn, what: str, within: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while True:
        result = await fn()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def scratch(db: asyncpg.Pool) -> AsyncIterator[str]:
    """A table and two functions made by DDL while the stack runs (dropped afterwards)."""
    name = f"t13_{uuid.uuid4().hex[:8]}"
    await db.execute(
        f"""
        create table public.{name} (id int primary key, label text not null);
        insert into public.{name} select g, 'row ' || g from generate_series(1, 10) g;
        create function public.{name}_rows() returns setof public.{name}
          language sql stable as $$ select * from public.{name} order by id $$;
        create function public.{name}_writer() returns int
          language plpgsql as $$ begin insert into public.{name} values (99, 'x'); return 1; end $$;
        -- a function declared stable that writes anyway (through a volatile one)
        create function public.{name}_stable_write() returns int
          language sql stable as $$ select public.{name}_writer() $$;
        grant select, insert on public.{name} to anon, authenticated, service_role;
        """
    )
    try:
        yield name
    finally:
        await db.execute(
            f"drop function if exists public.{name}_stable_write(), public.{name}_writer();"
            f" drop table public.{name} cascade"
        )


async def test_schema_cache_reloads_on_ddl_and_rpc_results_take_select_filters_range_count(
    target: Target, scratch: str, db: asyncpg.Pool
) -> None:
    h = _headers(target, target.service_role_key)
    async with httpx.AsyncClient(base_url=f"{target.url}/rest/v1", headers=h) as http:

        async def rows() -> httpx.Response | None:
            r = await http.post(f"/rpc/{scratch}_rows", json={})
            return r if r.status_code == 200 else None

        r = await _poll(rows, "the schema cache to learn the new function (NOTIFY pgrst)")
        assert [x["id"] for x in r.json()] == list(range(1, 11))

        r = await http.post(
            f"/rpc/{scratch}_rows?select=label&id=gt.3&order=id.desc&limit=2",
            json={},
        )
        assert r.status_code == 200 and r.json() == [{"label": "row 10"}, {"label": "row 9"}]
        r = await http.post(
            f"/rpc/{scratch}_rows?select=id", json={}, headers={"Range": "2-4", "Prefer": "count=exact"}
        )
        assert r.status_code == 206, r.text
        assert r.json() == [{"id": 3}, {"id": 4}, {"id": 5}]
        assert r.headers["Content-Range"] == "2-4/10"
        r = await http.get(f"/rpc/{scratch}_rows?id=eq.7&select=id,label")
        assert r.status_code == 200 and r.json() == [{"id": 7, "label": "row 7"}]

        # PostgREST runs a POST to a stable function read-only: its write is refused (25006 -> 405).
        r = await http.post(f"/rpc/{scratch}_stable_write", json={})
        assert r.status_code == 405 and r.json()["code"] == "25006", r.text
        assert await db.fetchval(f"select count(*) from public.{scratch} where id = 99") == 0

        # A dropped function disappears from the cache without a restart (and without a miss).
        await db.execute(f"drop function public.{scratch}_stable_write()")

        async def gone() -> httpx.Response | None:
            r = await http.post(f"/rpc/{scratch}_stable_write", json={})
            return r if r.status_code == 404 and r.json()["code"] == "PGRST202" else None

        r = await _poll(gone, "the cache to forget the dropped function")
        assert r.json()["code"] == "PGRST202"


async def test_supabase_realtime_publication_exists(db: asyncpg.Pool) -> None:
    assert await db.fetchval("select count(*) from pg_publication where pubname = 'supabase_realtime'") == 1


async def test_apikey_handling_as_the_hosted_gateway(clients: Clients, target: Target) -> None:
    """Issue 20: hosted Supabase's gateway (Kong key-auth) wants the project's anon or
    service_role key as ``apikey`` (header or query parameter) on /auth/v1, /rest/v1 and
    /realtime/v1; the devstack checks it by default. ``supabase start``'s gateway checks none
    (``check_api_key=False`` / ``--no-api-key-check``, test below)."""
    if not target.is_devstack:
        pytest.skip("the key check is the hosted gateway's; a CLI stack has none")
    alice = await clients.user("alice")
    bearer = {"Authorization": f"Bearer {alice.access_token}"}
    forged = alice.access_token[:-4] + ("AAAA" if not alice.access_token.endswith("AAAA") else "BBBB")
    missing = {
        "message": "No API key found in request",
        "hint": "No `apikey` request header or url param was found.",
    }
    invalid = {
        "message": "Invalid API key",
        "hint": "Double check your Supabase `anon` or `service_role` API key.",
    }
    async with httpx.AsyncClient(base_url=target.url) as http:
        for path, method in (
            ("/rest/v1/rpc/list_my_characters", "POST"),
            ("/rest/v1/adventures", "GET"),
            ("/auth/v1/signup", "POST"),
            ("/auth/v1/user", "GET"),
            ("/auth/v1/health", "GET"),
            ("/realtime/v1/api/broadcast", "POST"),
        ):
            r = await http.request(method, path, json={}, headers=bearer)
            assert (r.status_code, r.json()) == (401, missing), (path, r.text)
            for bad in ("not-a-jwt", forged, alice.access_token, ""):
                r = await http.request(method, path, json={}, headers={**bearer, "apikey": bad})
                assert r.status_code == 401 and r.json() in (invalid, missing), (path, bad, r.text)
        # the project's keys, as header or as query parameter (realtime-js puts it in the URL)
        r = await http.post(
            "/rest/v1/rpc/list_my_characters", json={}, headers={**bearer, "apikey": target.anon_key}
        )
        assert r.status_code == 200 and r.json() == []
        r = await http.post(
            f"/rest/v1/rpc/list_my_characters?apikey={target.anon_key}", json={}, headers=bearer
        )
        assert r.status_code == 200
        r = await http.get("/auth/v1/user", headers={**bearer, "apikey": target.service_role_key})
        assert r.status_code == 200 and r.json()["id"] == alice.id
        # CORS preflights pass (the gateway's cors plugin answers them before key-auth)
        r = await http.options("/rest/v1/adventures", headers={"Origin": "http://localhost:3000"})
        assert r.status_code == 200
        # a websocket without the key is refused at the upgrade
        r = await http.get("/realtime/v1/websocket?vsn=1.0.0")
        assert (r.status_code, r.json()) == (401, missing)


async def test_apikey_handling_as_the_cli_gateway(target: Target) -> None:
    """``supabase start``'s Kong has no key-auth plugin: no apikey is a request as anon, and a
    user token beside a wrong apikey works. ``check_api_key=False`` mimics it."""
    if not target.is_devstack:
        stack_url, anon, service = target.url, target.anon_key, target.service_role_key
        cli_stack = None
    else:
        cli_stack = DevStack(database_url=target.db_url, check_api_key=False)
        await cli_stack.start()
        stack_url, anon, service = cli_stack.url, cli_stack.anon_key, cli_stack.service_role_key
    try:
        async with httpx.AsyncClient(base_url=stack_url) as http:
            r = await http.post("/rest/v1/rpc/list_my_characters", json={})
            assert r.status_code == 401 and r.json()["code"] == "42501"
            token = (
                await http.post(
                    "/auth/v1/signup",
                    json={"email": f"cli-{uuid.uuid4().hex[:8]}@example.com", "password": "correct-horse-42"},
                    headers={"apikey": anon},
                )
            ).json()["access_token"]
            bearer = {"Authorization": f"Bearer {token}"}
            r = await http.post("/rest/v1/rpc/list_my_characters", json={}, headers=bearer)
            assert r.status_code == 200 and r.json() == []
            r = await http.post(
                "/rest/v1/rpc/list_my_characters", json={}, headers={**bearer, "apikey": "not-a-key"}
            )
            assert r.status_code == 200
            assert service
    finally:
        if cli_stack is not None:
            await cli_stack.stop()


async def test_deeply_nested_or_malformed_json_is_a_4xx(clients: Clients, target: Target) -> None:
    alice = await clients.user("alice")
    async with httpx.AsyncClient(base_url=target.url, timeout=30) as http:
        for path in ("/rest/v1/rpc/create_session", "/rest/v1/characters"):
            r = await http.post(path, content=DEEP, headers=_headers(target, alice.access_token))
            assert 400 <= r.status_code < 500 and r.json()["code"] == "PGRST102", (path, r.text)
        r = await http.post("/auth/v1/signup", content=DEEP, headers=_headers(target))
        assert r.status_code == 400 and r.json()["error_code"] == "bad_json", r.text
        r = await http.post("/auth/v1/signup", content=b'{"email": ', headers=_headers(target))
        assert r.status_code == 400 and r.json()["error_code"] == "bad_json"


async def test_select_is_postgrest_grammar_only(clients: Clients, target: Target) -> None:
    alice = await clients.user("alice")
    async with httpx.AsyncClient(base_url=f"{target.url}/rest/v1") as http:
        h = _headers(target, alice.access_token)
        r = await http.get("/adventures?select=rolname::text from pg_roles union select title", headers=h)
        assert r.status_code == 400 and r.json()["code"] == "PGRST100", r.text
        assert "pg_roles" not in "".join(str(v) for v in r.json().values() if v and "rolname" not in str(v))
        for bad in ("title;select 1", "title::text)", "title::"):
            r = await http.get(f"/adventures?select={bad}", headers=h)
            assert r.status_code == 400 and r.json()["code"] == "PGRST100", (bad, r.text)
        r = await http.get("/adventures?select=name:title,id::text&limit=1", headers=h)
        assert r.status_code == 200 and set(r.json()[0]) == {"name", "id"}


async def test_auth_follows_config_toml_anonymous_disabled(target: Target) -> None:
    # supabase/config.toml: [auth] enable_anonymous_sign_ins = false, jwt_expiry = 3600
    async with httpx.AsyncClient(base_url=target.url) as http:
        r = await http.post("/auth/v1/signup", json={}, headers=_headers(target))
        assert r.status_code == 422 and r.json()["error_code"] == "anonymous_provider_disabled"
        r = await http.get("/auth/v1/settings", headers=_headers(target))
        assert r.json()["external"]["anonymous_users"] is False and r.json()["disable_signup"] is False
        r = await http.post(
            "/auth/v1/signup",
            json={"email": f"cfg-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD},
            headers=_headers(target),
        )
        assert r.status_code == 200 and r.json()["expires_in"] == 3600


async def _stack_with(database_url: str, tmp_path: Path, toml: str) -> DevStack:
    cfg = tmp_path / "config.toml"
    cfg.write_text(toml)
    return DevStack(database_url=database_url, bcrypt_rounds=4, project_config=cfg)


async def test_auth_follows_another_config_toml(database_url: str, tmp_path: Path) -> None:
    toml = """
[auth]
jwt_expiry = 120
enable_signup = true
enable_anonymous_sign_ins = true
[auth.email]
enable_signup = false
"""
    async with await _stack_with(database_url, tmp_path, toml) as stack:
        client = await acreate_client(stack.url, stack.anon_key)
        res = await client.auth.sign_in_anonymously()
        assert res.session is not None and res.session.expires_in == 120
        claims = jwt.decode(res.session.access_token, options={"verify_signature": False})
        assert claims["is_anonymous"] is True and claims["exp"] - claims["iat"] == 120
        # Anonymous users may not create, join or look up sessions (SESSION_018).
        for fn, args in (
            ("create_session", {"p_adventure_id": ADVENTURE_ID}),
            ("get_session_by_code", {"p_code": "ABCDEF"}),
            ("join_session", {"p_session_id": str(uuid.uuid4()), "p_character_id": str(uuid.uuid4())}),
        ):
            async with httpx.AsyncClient(base_url=stack.url) as http:
                r = await http.post(
                    f"/rest/v1/rpc/{fn}",
                    json=args,
                    headers={"apikey": stack.anon_key, "Authorization": f"Bearer {res.session.access_token}"},
                )
            assert r.status_code == 403 and r.json()["code"] == "SESSION_018", (fn, r.text)
        async with httpx.AsyncClient(base_url=stack.url) as http:
            r = await http.post(
                "/auth/v1/signup",
                json={"email": f"x-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD},
                headers={"apikey": stack.anon_key},
            )
            assert r.status_code == 400 and r.json()["error_code"] == "email_provider_disabled"
        await client.auth.sign_out()

    async with await _stack_with(database_url, tmp_path, "[auth]\nenable_signup = false\n") as stack:
        async with httpx.AsyncClient(base_url=stack.url) as http:
            r = await http.post(
                "/auth/v1/signup",
                json={"email": f"y-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD},
                headers={"apikey": stack.anon_key},
            )
            assert r.status_code == 422 and r.json()["error_code"] == "signup_disabled"


async def test_admin_delete_of_players_and_seers_at_any_time(clients: Clients, target: Target) -> None:
    seer = await clients.user("seer")
    pia = await clients.user("pia")
    olga = await clients.user("olga")
    char = (await pia.client.rpc("create_character", {"p_name": "Pia", "p_class": "rogue"}).execute()).data
    olga_char = (
        await olga.client.rpc("create_character", {"p_name": "Olga", "p_class": "bard"}).execute()
    ).data
    # an ended session with feedback, and a running one
    done = (await seer.client.rpc("create_session", {"p_adventure_id": ADVENTURE_ID}).execute()).data
    await pia.client.rpc("join_session", {"p_session_id": done["id"], "p_character_id": char["id"]}).execute()
    await seer.client.rpc("start_session", {"p_session_id": done["id"]}).execute()
    await seer.client.rpc("end_session", {"p_session_id": done["id"], "p_outcome": "completed"}).execute()
    await pia.client.rpc("submit_feedback", {"p_session_id": done["id"], "p_rating": 4}).execute()
    live = (await seer.client.rpc("create_session", {"p_adventure_id": ADVENTURE_ID}).execute()).data
    await pia.client.rpc("join_session", {"p_session_id": live["id"], "p_character_id": char["id"]}).execute()
    await olga.client.rpc(
        "join_session", {"p_session_id": live["id"], "p_character_id": olga_char["id"]}
    ).execute()
    await seer.client.rpc("start_session", {"p_session_id": live["id"]}).execute()

    admin = await clients.anon()
    admin.auth.admin._headers["Authorization"] = f"Bearer {target.service_role_key}"
    await admin.auth.admin.delete_user(pia.id)  # raised on a 500 before
    s = (await seer.client.rpc("get_session", {"p_session_id": live["id"]}).execute()).data
    assert s["status"] == "active" and [p["displayName"] for p in s["players"]] == ["Olga"]
    since = {"p_session_id": live["id"], "p_after_seq": 0}
    events = (await seer.client.rpc("session_events_since", since).execute()).data
    assert events[-1]["type"] == "player_left" and events[-1]["userId"] is None
    assert pia.id not in str(events)

    await admin.auth.admin.delete_user(seer.id)
    s = (await olga.client.rpc("get_session", {"p_session_id": live["id"]}).execute()).data
    assert s["status"] == "cancelled" and s["seerName"] == "Deleted user" and s["seerId"] is None
    mine = (await olga.client.rpc("list_my_sessions", {}).execute()).data
    assert [m["status"] for m in mine if m["id"] == live["id"]] == ["cancelled"]
