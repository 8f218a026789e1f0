"""public.invite_preview(p_code): who may call it, and that it returns only public fields."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import tuple_row

ADVENTURE = "00000000-0000-4000-8000-00000000a001"  # supabase/seed.sql
PUBLIC_KEYS = {
    "code",
    "status",
    "adventureTitle",
    "adventureDescription",
    "seerName",
    "seatsLeft",
    "maxPlayers",
    "canJoin",
    "reason",
    "reasonCode",
}
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Db:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def one(self, query: str, *params: Any) -> Any:
        row = self.conn.execute(query, params).fetchone()
        return None if row is None else row[0]

    def reset(self) -> None:
        self.conn.execute(
            "select set_config('role', 'none', true), set_config('request.jwt.claims', '', true)"
        )

    def act_as(self, uid: str) -> None:
        claims = json.dumps({"sub": uid, "role": "authenticated"})
        self.conn.execute(
            "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
            (claims,),
        )

    def as_role(self, role: str) -> None:
        self.conn.execute(
            "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
            (role, json.dumps({"role": role})),
        )

    def user(self, name: str) -> str:
        self.reset()
        return str(
            self.one(
                "insert into auth.users (id, aud, role, email, raw_user_meta_data, created_at, updated_at) "
                "values (gen_random_uuid(), 'authenticated', 'authenticated', %s, %s, now(), now()) "
                "returning id",
                f"{name}-{uuid.uuid4().hex[:8]}@seer.test",
                json.dumps({"display_name": name}),
            )
        )

    def rpc(self, uid: str, function: str, *args: Any) -> Any:
        self.act_as(uid)
        placeholders = ", ".join(["%s"] * len(args))
        result = self.one(f"select public.{function}({placeholders})", *args)
        self.reset()
        return result

    def preview(self, code: str) -> Any:
        self.as_role("service_role")
        result = self.one("select public.invite_preview(%s)", code)
        self.reset()
        return result

    def session(self, seer: str, max_players: int = 6, settings: dict[str, Any] | None = None) -> Any:
        return self.rpc(seer, "create_session", ADVENTURE, json.dumps(settings or {}), max_players)

    def join(self, session_id: str, name: str) -> str:
        player = self.user(name)
        character = self.rpc(player, "create_character", f"{name}'s hero", "Ranger")
        self.rpc(player, "join_session", session_id, character["id"])
        return player


@pytest.fixture
def db(database_url: str) -> Iterator[Db]:
    with psycopg.connect(database_url, row_factory=tuple_row) as conn, conn.transaction(force_rollback=True):
        # The migration owner, as PostgREST's authenticator would switch from.
        conn.execute("set local role postgres")
        yield Db(conn)


def test_only_service_role_may_call_it(db: Db) -> None:
    seer = db.user("Morgana")
    db.session(seer)
    for role in ("anon", "authenticated"):
        db.conn.execute("savepoint denied")
        db.as_role(role)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.one("select public.invite_preview('ABCDEF')")
        db.conn.execute("rollback to savepoint denied")
        db.reset()
    db.as_role("service_role")
    assert db.one("select public.invite_preview('ABCDEF')") is None


def test_waiting_session_preview_has_only_public_fields(db: Db) -> None:
    seer = db.user("Morgana")
    s = db.session(seer, max_players=4)
    player = db.join(s["id"], "Piper")
    preview = db.preview(s["code"].lower())
    assert set(preview) == PUBLIC_KEYS
    assert preview == {
        "code": s["code"],
        "status": "waiting",
        "adventureTitle": "The Sunken Lantern",
        "adventureDescription": preview["adventureDescription"],
        "seerName": "Morgana",
        "seatsLeft": 3,
        "maxPlayers": 4,
        "canJoin": True,
        "reason": None,
        "reasonCode": None,
    }
    assert preview["adventureDescription"].startswith("A drowned lighthouse")
    text = json.dumps(preview)
    assert not UUID_RE.search(text), "no ids of any kind"
    assert "Piper" not in text and s["id"] not in text and seer not in text and player not in text


def test_full_started_paused_and_late_join(db: Db) -> None:
    seer = db.user("Morgana")
    full = db.session(seer, max_players=1)
    db.join(full["id"], "Piper")
    p = db.preview(full["code"])
    assert (p["seatsLeft"], p["canJoin"], p["reasonCode"]) == (0, False, "SESSION_003")
    assert p["reason"] == "Session is full"

    started = db.session(db.user("Seer2"), max_players=3)
    seer2 = db.one("select seer_id::text from public.sessions where id = %s", started["id"])
    db.join(started["id"], "Quill")
    db.rpc(seer2, "start_session", started["id"])
    p = db.preview(started["code"])
    assert (p["status"], p["canJoin"], p["reasonCode"]) == ("active", False, "SESSION_004")
    assert p["reason"] == "Session has already started"
    db.rpc(seer2, "pause_session", started["id"])
    p = db.preview(started["code"])
    assert (p["status"], p["canJoin"], p["reasonCode"]) == ("paused", False, "SESSION_004")

    late = db.session(db.user("Seer3"), max_players=3, settings={"allowLateJoin": True})
    seer3 = db.one("select seer_id::text from public.sessions where id = %s", late["id"])
    db.join(late["id"], "Rook")
    db.rpc(seer3, "start_session", late["id"])
    p = db.preview(late["code"])
    assert (p["status"], p["canJoin"], p["seatsLeft"]) == ("active", True, 2)


def test_ended_unknown_and_malformed(db: Db) -> None:
    seer = db.user("Morgana")
    s = db.session(seer)
    db.rpc(seer, "end_session", s["id"], "cancelled", None)
    p = db.preview(s["code"])
    assert p["status"] == "cancelled"
    assert p["canJoin"] is False
    assert p["adventureTitle"] is None and p["seerName"] is None and p["seatsLeft"] is None
    assert set(p) == PUBLIC_KEYS

    # A code once used by an ended session and now by a live one shows the live one.
    again = db.session(seer)
    db.one("update public.sessions set code = %s where id = %s returning 1", s["code"], again["id"])
    assert db.preview(s["code"])["status"] == "waiting"

    unused = "ZZZZZZ"
    while db.one("select count(*) from public.sessions where code = %s", unused):
        unused = "YYYYYY"
    assert db.preview(unused) is None
    db.conn.execute("savepoint bad")
    with pytest.raises(psycopg.Error) as err:
        db.preview("H7NK0B")
    assert "SESSION_002" in str(err.value)
    db.conn.execute("rollback to savepoint bad")
