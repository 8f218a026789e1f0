"""Auth (/auth/v1) and REST (/rest/v1) through the official supabase package."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import jwt
import pytest
from postgrest.exceptions import APIError
from supabase_auth.errors import AuthApiError

from seer_devstack.stack import DevStack
from supabase import create_client

from .conftest import ADVENTURE_ID, PASSWORD, Clients, Target, external_target

pytestmark = pytest.mark.devstack


async def test_signup_token_shape_and_rpcs_as_two_users(clients: Clients, target: Target) -> None:
    alice = await clients.user("alice")
    bob = await clients.user("bob")
    claims = jwt.decode(alice.access_token, options={"verify_signature": False})
    assert claims["sub"] == alice.id
    assert claims["role"] == "authenticated" and claims["aud"] == "authenticated"
    assert claims["email"] == alice.email and claims["is_anonymous"] is False
    assert claims["app_metadata"]["provider"] == "email"
    assert claims["user_metadata"]["display_name"] == "Alice"
    assert claims["session_id"] and claims["exp"] > claims["iat"]

    a_char = (
        await alice.client.rpc("create_character", {"p_name": "Wren", "p_class": "rogue"}).execute()
    ).data
    b_char = (await bob.client.rpc("create_character", {"p_name": "Moss", "p_class": "druid"}).execute()).data
    assert a_char["ownerId"] == alice.id and b_char["ownerId"] == bob.id

    mine = (await alice.client.rpc("list_my_characters", {}).execute()).data
    assert [c["id"] for c in mine] == [a_char["id"]]

    # RLS through a table GET: each user sees only their own character...
    rows = (await bob.client.table("characters").select("id,name").eq("id", a_char["id"]).execute()).data
    assert rows == []
    rows = (await alice.client.table("characters").select("id,name").eq("id", a_char["id"]).execute()).data
    assert rows == [{"id": a_char["id"], "name": "Wren"}]

    # ...until they share a session.
    session = (await alice.client.rpc("create_session", {"p_adventure_id": ADVENTURE_ID}).execute()).data
    joined = (
        await bob.client.rpc(
            "join_session", {"p_session_id": session["id"], "p_character_id": b_char["id"]}
        ).execute()
    ).data
    assert joined["player"]["userId"] == bob.id
    res = (
        await alice.client.table("characters")
        .select("id", count="exact")
        .in_("id", [a_char["id"], b_char["id"]])
        .order("name")
        .execute()
    )
    assert [r["id"] for r in res.data] == [b_char["id"], a_char["id"]]  # Moss < Wren
    assert res.count == 2
    got = (await bob.client.rpc("get_session", {"p_session_id": session["id"]}).execute()).data
    assert got["seerId"] == alice.id and [p["userId"] for p in got["players"]] == [bob.id]


async def test_postgrest_error_shapes(clients: Clients, target: Target) -> None:
    alice = await clients.user("alice")
    stranger = await clients.user("stranger")
    session = (await alice.client.rpc("create_session", {"p_adventure_id": ADVENTURE_ID}).execute()).data

    # A custom error raised from SQL with sqlstate PGRST: PRD status and body.
    with pytest.raises(APIError) as err:
        await stranger.client.rpc("start_session", {"p_session_id": session["id"]}).execute()
    assert err.value.code == "SESSION_001"
    assert err.value.message == "Session not found"

    # Unknown function: PGRST202 with PostgREST's message/details.
    with pytest.raises(APIError) as err:
        await alice.client.rpc("no_such_function", {"x": 1}).execute()
    assert err.value.code == "PGRST202"
    assert err.value.message == "Could not find the function public.no_such_function(x) in the schema cache"
    assert "but no matches were found in the schema cache" in str(err.value.details)

    # Statuses, checked on the wire with the client's own headers.
    headers = {"apikey": target.anon_key, "Authorization": f"Bearer {alice.access_token}"}
    async with httpx.AsyncClient(base_url=f"{target.url}/rest/v1") as http:
        r = await http.post(
            "/rpc/start_session",
            json={"p_session_id": session["id"]},
            headers={**headers, "Authorization": f"Bearer {stranger.access_token}"},
        )
        assert r.status_code == 404
        assert r.json() == {
            "code": "SESSION_001",
            "details": None,
            "hint": None,
            "message": "Session not found",
        }
        r = await http.post("/rpc/no_such_function", json={}, headers=headers)
        assert r.status_code == 404 and r.json()["code"] == "PGRST202"
        r = await http.post("/rpc/create_session", content=b"{not json", headers=headers)
        assert r.status_code == 400 and r.json()["code"] == "PGRST102"
        # anon may not execute the RPCs: PostgreSQL's 42501 becomes 401 for anon.
        r = await http.post("/rpc/list_my_characters", json={}, headers={"apikey": target.anon_key})
        assert r.status_code == 401 and r.json()["code"] == "42501"
        r = await http.get("/no_such_table", headers=headers)
        assert r.status_code == 404 and r.json()["code"] == "PGRST205"
        # No apikey at all: hosted Supabase's gateway refuses it (the devstack's default; the
        # CLI's gateway checks none, so PostgREST would run it as anon: 42501 as above).
        r = await http.post("/rpc/list_my_characters", json={})
        if target.is_devstack:
            assert r.status_code == 401 and r.json()["message"] == "No API key found in request"
        else:
            assert r.status_code == 401 and r.json()["code"] == "42501"


async def test_bad_and_expired_jwt_are_401(clients: Clients, target: Target) -> None:
    client = await clients.anon()
    forged = jwt.encode(
        {"sub": "x", "role": "authenticated", "exp": int(time.time()) + 60}, "not-the-secret" * 3
    )
    client.postgrest.auth(forged)
    with pytest.raises(APIError) as err:
        await client.rpc("list_my_characters", {}).execute()
    assert err.value.code == "PGRST301"
    if target.jwt_secret:
        expired = jwt.encode(
            {"sub": "x", "role": "authenticated", "exp": int(time.time()) - 120}, target.jwt_secret
        )
        client.postgrest.auth(expired)
        with pytest.raises(APIError) as err:
            await client.rpc("list_my_characters", {}).execute()
        assert err.value.code == "PGRST303" and err.value.message == "JWT expired"
        async with httpx.AsyncClient() as http:
            r = await http.post(
                f"{target.url}/rest/v1/rpc/list_my_characters",
                json={},
                headers={"apikey": target.anon_key, "Authorization": f"Bearer {expired}"},
            )
        assert r.status_code == 401 and "invalid_token" in r.headers["WWW-Authenticate"]


async def test_auth_errors_refresh_rotation_and_logout(clients: Clients, target: Target) -> None:
    alice = await clients.user("alice")
    other = await clients.anon()
    with pytest.raises(AuthApiError) as err:
        await other.auth.sign_in_with_password({"email": alice.email, "password": "wrong-password"})
    assert err.value.status == 400 and err.value.code == "invalid_credentials"
    assert err.value.message == "Invalid login credentials"

    with pytest.raises(AuthApiError) as err:
        await other.auth.sign_up({"email": alice.email, "password": PASSWORD})
    assert err.value.status == 422 and err.value.code == "user_already_exists"

    signed = await other.auth.sign_in_with_password({"email": alice.email, "password": PASSWORD})
    assert signed.session is not None and signed.user is not None and signed.user.id == alice.id
    first = signed.session.refresh_token
    refreshed = await other.auth.refresh_session()
    assert refreshed.session is not None and refreshed.session.refresh_token != first
    with pytest.raises(AuthApiError) as err:
        await other.auth.refresh_session("not-a-real-token")
    assert err.value.code == "refresh_token_not_found"

    user = await other.auth.get_user()
    assert user is not None and user.user.email == alice.email
    await other.auth.sign_out()  # global: revokes every session of alice
    with pytest.raises(AuthApiError) as err:
        await alice.client.auth.get_user(alice.access_token)
    assert err.value.code == "session_not_found"


async def test_admin_users_and_anonymous_sign_in_refused(clients: Clients, target: Target) -> None:
    admin = await clients.anon()
    email = f"admin-made-{int(time.time() * 1000)}@example.com"
    admin_api = admin.auth.admin
    admin_api._headers["Authorization"] = f"Bearer {target.service_role_key}"
    created = await admin_api.create_user(
        {
            "email": email,
            "password": PASSWORD,
            "email_confirm": True,
            "user_metadata": {"display_name": "Made"},
        }
    )
    assert created.user.email == email and created.user.email_confirmed_at is not None
    listed = await admin_api.list_users(per_page=1000)
    assert email in {u.email for u in listed}
    await admin_api.delete_user(created.user.id)
    listed = await admin_api.list_users(per_page=1000)
    assert email not in {u.email for u in listed}

    nobody = await clients.anon()
    with pytest.raises(AuthApiError) as err:
        nobody.auth.admin._headers["Authorization"] = f"Bearer {target.anon_key}"
        await nobody.auth.admin.list_users()
    assert err.value.status == 403 and err.value.code == "not_admin"

    # supabase/config.toml: enable_anonymous_sign_ins = false, so GoTrue refuses them
    # (anonymous sign-ins when enabled: tests/devstack/test_fidelity.py).
    with pytest.raises(AuthApiError) as err:
        await nobody.auth.sign_in_anonymously()
    assert err.value.status == 422 and err.value.code == "anonymous_provider_disabled"
    assert err.value.message == "Anonymous sign-ins are disabled"


def test_sync_client(database_url: str) -> None:
    # The sync client blocks its thread, so the stack runs in its own thread here (`with`).
    ext = external_target()
    with contextlib.ExitStack() as es:
        if ext is None:
            stack = es.enter_context(DevStack(database_url=database_url, bcrypt_rounds=4))
            url, key = stack.url, stack.anon_key
        else:
            url, key = ext.url, ext.anon_key
        _sync_flow(url, key)


def _sync_flow(url: str, key: str) -> None:
    client = create_client(url, key)
    email = f"sync-{int(time.time() * 1000)}@example.com"
    res = client.auth.sign_up(
        {"email": email, "password": PASSWORD, "options": {"data": {"display_name": "Sy"}}}
    )
    assert res.user is not None
    char = client.rpc("create_character", {"p_name": "Ash", "p_class": "bard"}).execute().data
    assert char["ownerId"] == res.user.id
    rows = client.table("characters").select("id").eq("owner_id", res.user.id).execute().data
    assert rows == [{"id": char["id"]}]
    single = client.table("characters").select("name").eq("id", char["id"]).single().execute().data
    assert single == {"name": "Ash"}
    client.auth._remove_session()


@pytest.fixture
async def notes_table(db: asyncpg.Pool, target: Target) -> AsyncIterator[str]:
    """A throw-away table with owner-only RLS (dropped again before other suites run)."""
    if not target.is_devstack:
        pytest.skip("creates a table in the target database")
    name = "devstack_test_notes"
    async with db.acquire() as conn:
        await conn.execute(
            f"""
            create table public.{name} (
              id bigint generated by default as identity primary key,
              owner uuid not null default auth.uid(),
              body text not null,
              stars int not null default 0
            );
            alter table public.{name} enable row level security;
            create policy owner_all on public.{name} for all to authenticated
              using (owner = (select auth.uid())) with check (owner = (select auth.uid()));
            """
        )
    yield name
    async with db.acquire() as conn:
        await conn.execute(f"drop table public.{name}")


async def test_table_writes_respect_rls(clients: Clients, target: Target, notes_table: str) -> None:
    alice = await clients.user("alice")
    bob = await clients.user("bob")
    t = notes_table
    with pytest.raises(APIError) as err:  # bulk insert: a missing key is NULL, as in PostgREST
        await alice.client.table(t).insert([{"body": "one"}, {"body": "two", "stars": 2}]).execute()
    assert err.value.code == "23502"
    rows = (
        await alice.client.table(t)
        .insert([{"body": "one"}, {"body": "two", "stars": 2}], default_to_null=False)
        .execute()
    ).data
    assert [(r["body"], r["stars"], r["owner"]) for r in rows] == [("one", 0, alice.id), ("two", 2, alice.id)]
    first = rows[0]["id"]

    assert (await bob.client.table(t).select("*").execute()).data == []
    assert (await bob.client.table(t).update({"body": "hacked"}).eq("id", first).execute()).data == []
    with pytest.raises(APIError) as err:  # RLS with check: bob cannot write alice's row
        await bob.client.table(t).insert({"body": "x", "owner": alice.id}).execute()
    assert err.value.code == "42501"

    updated = (await alice.client.table(t).update({"stars": 5}).eq("id", first).execute()).data
    assert [(r["id"], r["stars"], r["body"]) for r in updated] == [(first, 5, "one")]
    upserted = (await alice.client.table(t).upsert({"id": first, "body": "uno", "stars": 1}).execute()).data
    assert [(r["id"], r["body"], r["stars"]) for r in upserted] == [(first, "uno", 1)]
    with pytest.raises(APIError) as err:
        await alice.client.table(t).insert({"nope": 1}).execute()
    assert err.value.code == "PGRST204"

    deleted = (await alice.client.table(t).delete().eq("body", "two").execute()).data
    assert [r["body"] for r in deleted] == ["two"]
    left = await alice.client.table(t).select("body", count="exact").execute()
    assert left.data == [{"body": "uno"}] and left.count == 1

    anon = await clients.anon()
    async with httpx.AsyncClient() as http:
        r = await http.post(
            f"{target.url}/rest/v1/{t}", json={"body": "anon"}, headers={"apikey": target.anon_key}
        )
        assert r.status_code == 401 and r.json()["code"] == "42501"
        # PostgREST (test/spec/Feature/Query/UpdateSpec.hs): an empty PATCH updates nothing.
        h = {"apikey": target.anon_key, "Authorization": f"Bearer {alice.access_token}"}
        for empty in ({}, [], [{}]):
            r = await http.patch(f"{target.url}/rest/v1/{t}", json=empty, headers=h)
            assert r.status_code == 204 and r.headers["Content-Range"] == "*/*"
        r = await http.patch(f"{target.url}/rest/v1/{t}", content=b"", headers=h)
        assert r.status_code == 400 and r.json()["code"] == "PGRST102"
    assert anon is not None


async def test_client_mistakes_are_4xx(clients: Clients, target: Target) -> None:
    alice = await clients.user("alice")
    h = {"apikey": target.anon_key, "Authorization": f"Bearer {alice.access_token}"}
    async with httpx.AsyncClient(base_url=target.url) as http:
        cases = [
            http.get("/rest/v1/characters?select=no_such_column", headers=h),
            http.get("/rest/v1/characters?id=eq", headers=h),
            http.get("/rest/v1/characters?id=eq.not-a-uuid", headers=h),
            http.get("/rest/v1/characters?limit=abc", headers=h),
            http.get("/rest/v1/characters?order=name.sideways", headers=h),
            http.get("/rest/v1/characters?select=owner(*)", headers=h),
            http.post("/rest/v1/rpc/create_character", json=[1, 2], headers=h),
            http.post(
                "/rest/v1/rpc/create_character", json={"p_name": "x", "p_class": "y", "extra": 1}, headers=h
            ),
            http.get("/rest/v1/characters", headers={**h, "Accept-Profile": "auth"}),
            http.post("/auth/v1/signup", content=b"{", headers=h),
            http.post("/auth/v1/token?grant_type=magic", json={}, headers=h),
            http.post(
                "/auth/v1/signup", json={"email": "not-an-email", "password": "long-enough"}, headers=h
            ),
            http.post("/auth/v1/signup", json={"email": "short@example.com", "password": "123"}, headers=h),
            http.get("/auth/v1/user", headers={"apikey": target.anon_key}),
            http.post("/rest/v1/sessions", json={}, headers=h),  # default values; writes are revoked
            http.patch("/rest/v1/sessions?id=eq.x", json={"status": "active"}, headers=h),
            http.delete("/rest/v1/sessions?nope=like.*", headers=h),
        ]
        for resp in await asyncio.gather(*cases):
            assert 400 <= resp.status_code < 500, (resp.request.url, resp.status_code, resp.text)
            assert resp.headers["content-type"].startswith("application/json")
        r = await http.get("/rest/v1/rpc/list_my_characters", headers=h)
        assert r.status_code == 200 and isinstance(r.json(), list)
        r = await http.head("/rest/v1/characters", headers={**h, "Prefer": "count=exact"})
        assert r.status_code == 200 and r.headers["Content-Range"].endswith("/0")
