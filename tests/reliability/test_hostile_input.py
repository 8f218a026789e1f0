"""Hostile input through the devstack HTTP API, generated with hypothesis.

Every generated request is *bad* by construction (a broken/absent/forged/expired token, a
wrong role claim, malformed JSON, wrong types, invalid values, unknown routes or columns,
writes to tables, huge or odd strings), and for every one of them:

* the answer is a 4xx, never a 5xx;
* the body is a PostgREST-shaped error ``{code, message, details, hint}`` whose ``code`` is a
  ``SESSION_xxx``, a ``PGRSTxxx`` or a Postgres SQLSTATE;
* nothing is written: row counts and the sum of every session's ``last_seq`` and
  ``state_version`` are identical before and after the whole run.

Bounded: a fixed number of examples, derandomized (same inputs on every run), no deadline
per example but the module's pytest timeout still applies.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Api, User, mint, user_claims

EXAMPLES = 1200
ERROR_CODE = re.compile(r"^(SESSION_\d{3}|PGRST\d{3}|[0-9A-Z]{5})$")
STATUSES = {"waiting", "active", "paused", "completed", "cancelled"}
TABLES = [
    "sessions",
    "session_players",
    "session_events",
    "session_feedback",
    "characters",
    "profiles",
    "adventures",
    "adventure_nodes",
    "adventure_links",
    "dice_rolls",
    "character_items",
]

# -- odd text ---------------------------------------------------------------------------------
SQLISH = [
    "'; drop table public.sessions; --",
    "' or 1=1 --",
    '" or ""="',
    "1; select pg_sleep(10)",
    "$$; delete from auth.users; $$",
    "\\x00\\x01",
    "%' and 1=0 union select * from auth.users --",
    '{"a":',
    "null",
    "undefined",
    "NaN",
    "-1",
    "99999999999999999999999",
]
odd_text = st.one_of(
    st.sampled_from(SQLISH),
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
        max_size=80,
    ),
    st.text(alphabet="🦑ŁßÆ中文العربية\u200b\u202e\ufeff", min_size=1, max_size=40),
    st.integers(min_value=1000, max_value=200_000).map(lambda n: "A" * n),  # huge
)
not_uuid_text = odd_text.filter(lambda s: not re.fullmatch(r"[0-9a-fA-F-]{32,36}", s.strip()))
wrong_json = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
# a session/character/player id that is certainly not usable: not a uuid, a wrong JSON type,
# or a random uuid that exists nowhere
bad_id = st.one_of(not_uuid_text, wrong_json, st.uuids(version=4).map(str))


def bad_names() -> st.SearchStrategy[Any]:
    # create_character accepts any 1..60 character name: only longer, blank or null is bad
    return st.one_of(
        st.text(min_size=61, max_size=300).map(lambda s: "x" + s),
        st.sampled_from(["", "   ", None]),
    )


# -- RPC argument strategies (each one makes the call invalid for a signed-in caller) --------
def _rpc_args(real_sid: str) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
    sid_only = st.fixed_dictionaries({"p_session_id": bad_id})
    return {
        "create_session": st.fixed_dictionaries(
            {"p_adventure_id": bad_id},
            optional={"p_settings": st.one_of(wrong_json, odd_text), "p_max_players": st.integers(-5, 50)},
        ),
        "get_session": sid_only,
        "get_session_by_code": st.fixed_dictionaries({"p_code": st.one_of(odd_text, wrong_json)}),
        "join_session": st.fixed_dictionaries({"p_session_id": bad_id, "p_character_id": bad_id}),
        "leave_session": sid_only,
        "kick_player": st.one_of(
            st.fixed_dictionaries(
                {"p_session_id": bad_id, "p_player_id": bad_id}, optional={"p_reason": odd_text}
            ),
            # the Seer's real session, but no such seat
            st.fixed_dictionaries({"p_session_id": st.just(real_sid), "p_player_id": bad_id}),
        ),
        "start_session": sid_only,
        "pause_session": sid_only,
        "resume_session": sid_only,
        "end_session": st.one_of(
            st.fixed_dictionaries(
                {"p_session_id": bad_id, "p_outcome": st.sampled_from(["completed", "cancelled"])}
            ),
            st.fixed_dictionaries(
                {"p_session_id": st.just(real_sid), "p_outcome": odd_text.filter(_not_outcome)},
                optional={"p_notes": odd_text},
            ),
        ),
        "get_game_state": sid_only,
        "update_game_state": st.one_of(
            st.fixed_dictionaries({"p_session_id": bad_id, "p_patch": st.just({"addFlags": ["x"]})}),
            st.fixed_dictionaries(
                {
                    "p_session_id": st.just(real_sid),
                    "p_patch": st.one_of(wrong_json.filter(_not_object), odd_text),
                }
            ),
            st.fixed_dictionaries(
                {
                    "p_session_id": st.just(real_sid),
                    "p_patch": st.dictionaries(
                        st.text(max_size=20).filter(lambda k: k not in PATCH_KEYS),
                        wrong_json,
                        min_size=1,
                        max_size=3,
                    ).map(lambda d: {"addFlags": ["ok"], **d}),
                }
            ),
            st.fixed_dictionaries(
                {
                    "p_session_id": st.just(real_sid),
                    "p_patch": st.sampled_from(BAD_PATCHES),
                }
            ),
        ),
        "heartbeat": sid_only,
        "session_events_since": st.one_of(
            st.fixed_dictionaries({"p_session_id": bad_id, "p_after_seq": st.integers(0, 10)}),
            st.fixed_dictionaries(
                {"p_session_id": st.just(real_sid), "p_after_seq": st.integers(-(2**62), -1)}
            ),
            st.fixed_dictionaries({"p_session_id": st.just(real_sid), "p_after_seq": odd_text}),
        ),
        "submit_feedback": st.fixed_dictionaries(
            {"p_session_id": bad_id, "p_rating": st.one_of(st.integers(-10, 10), odd_text)},
            optional={"p_comment": odd_text},
        ),
        "list_my_sessions": st.fixed_dictionaries(
            {
                "p_status": st.one_of(
                    st.lists(odd_text, min_size=1, max_size=4).filter(
                        lambda xs: any(x not in STATUSES for x in xs)
                    ),
                    odd_text,
                    st.integers(),
                )
            }
        ),
        "create_character": st.fixed_dictionaries({"p_name": bad_names(), "p_class": odd_text}),
        "list_my_characters": st.dictionaries(
            st.text(min_size=1, max_size=10), odd_text, min_size=1, max_size=2
        ),
        "sweep_sessions": st.fixed_dictionaries({}, optional={"p_now": odd_text}),
        "invite_preview": st.fixed_dictionaries({"p_code": odd_text}),
        "heartbeat_batch": st.fixed_dictionaries({"p_beats": st.one_of(wrong_json, odd_text)}),
        # the game (issue 11): every call below is invalid, so nothing may be written
        "roll_dice": st.one_of(
            st.fixed_dictionaries({"p_session_id": bad_id, "p_expression": st.just("1d6")}),
            st.fixed_dictionaries(
                {"p_session_id": st.just(real_sid), "p_expression": odd_text.filter(_not_dice)},
                optional={"p_reason": odd_text},
            ),
            st.fixed_dictionaries(
                {"p_session_id": st.just(real_sid), "p_expression": st.just("1d6"), "p_character_id": bad_id}
            ),
        ),
        "list_dice_rolls": sid_only,
        "submit_action": st.one_of(
            st.fixed_dictionaries({"p_session_id": bad_id, "p_text": st.just("I look")}),
            st.fixed_dictionaries(
                {"p_session_id": st.just(real_sid), "p_text": st.just("I look"), "p_character_id": bad_id}
            ),
        ),
        "start_combat": st.one_of(
            st.fixed_dictionaries({"p_session_id": bad_id, "p_combatants": st.just([{"name": "Eel"}])}),
            st.fixed_dictionaries(
                {"p_session_id": st.just(real_sid), "p_combatants": st.one_of(wrong_json, odd_text)}
            ),
        ),
        "next_turn": st.fixed_dictionaries({"p_session_id": st.one_of(bad_id, st.just(real_sid))}),
        "end_combat": st.fixed_dictionaries(
            {"p_session_id": st.one_of(bad_id, st.just(real_sid)), "p_outcome": odd_text}
        ),
        "list_adventures": st.fixed_dictionaries(
            {"p_limit": st.one_of(st.integers(max_value=0), st.integers(min_value=201, max_value=10**9))}
        ),
        "import_adventure": st.fixed_dictionaries({"p_document": st.one_of(wrong_json, odd_text)}),
        "publish_adventure": st.fixed_dictionaries({"p_adventure_id": bad_id, "p_published": st.booleans()}),
        "list_feedback": sid_only,
    }


def _not_dice(text: Any) -> bool:
    """Anything that could be valid dice notation would really roll (and write)."""
    return not (isinstance(text, str) and re.fullmatch(r"[\s0-9dkhlDKHL+-]*", text) and text.strip())


PATCH_KEYS = {
    "currentNodeId",
    "addInventory",
    "removeInventory",
    "setVariables",
    "addFlags",
    "removeFlags",
    "nodeOverride",
    "diceRolls",
    "combatState",
    "turn",
}
BAD_PATCHES: list[Any] = [
    {"currentNodeId": str(uuid.uuid4())},
    {"currentNodeId": "'; drop table x"},
    {"addInventory": [{"id": 1}]},
    {"addInventory": "sword"},
    {"removeInventory": [1, 2]},
    {"setVariables": {"a": {"nested": True}}},
    {"setVariables": {"": 1}},
    {"setVariables": {"s": "x" * 3000}},
    {"addFlags": [""]},
    {"addFlags": ["x" * 101]},
    {"removeFlags": "flag"},
    {"diceRolls": -1},
    {"diceRolls": 1.5},
    {"combatState": [1]},
    {"turn": "string"},
    {"turn": {"blob": "x" * 9000}},
    {"addFlags": ["fine"], "diceRolls": "many"},
    {"setVariables": {f"k{i}": i for i in range(501)}},
]


def _not_outcome(s: str) -> bool:
    return s.strip().lower()[:20] not in ("completed", "cancelled")


def _not_object(v: Any) -> bool:
    return not isinstance(v, dict)


# -- tokens -----------------------------------------------------------------------------------
class Tokens:
    def __init__(self, api: Api, stranger: User, seer: User) -> None:
        secret = api.secret
        now = int(time.time())
        ghost = str(uuid.uuid4())  # a well-signed token for a user that does not exist
        self.bad: dict[str, str | None] = {
            "none": None,
            "expired": mint(secret, {**user_claims(stranger.id), "iat": now - 7200, "exp": now - 3600}),
            "forged": mint("not-the-secret-" * 3, user_claims(seer.id)),
            "forged_service_role": mint("not-the-secret-" * 3, {"role": "service_role", "exp": now + 3600}),
            "alg_none": jwt.encode(user_claims(seer.id), key="", algorithm="none"),
            "garbage": "eyJhbGciOiJIUzI1NiJ9.garbage.signature",
            "empty": "",
            "role_anon": mint(secret, user_claims(seer.id, role="anon")),
            "role_unknown": mint(secret, user_claims(seer.id, role="nobody_role")),
            "no_sub": mint(secret, {"role": "authenticated", "aud": "authenticated", "exp": now + 3600}),
            "exp_string": mint(secret, {**user_claims(seer.id), "exp": "tomorrow"}),
            "ghost": mint(secret, user_claims(ghost)),
        }
        self.good = {"stranger": stranger.token, "seer": seer.token}


async def snapshot(api: Api) -> dict[str, Any]:
    row = await api.db.fetchrow(
        """select
          (select count(*) from auth.users) as users,
          (select count(*) from public.profiles) as profiles,
          (select count(*) from public.characters) as characters,
          (select count(*) from public.sessions) as sessions,
          (select count(*) from public.session_players) as seats,
          (select count(*) from public.session_events) as events,
          (select count(*) from public.session_feedback) as feedback,
          (select count(*) from public.dice_rolls) as rolls,
          (select count(*) from public.adventures) as adventures,
          (select count(*) from public.character_items) as items,
          (select coalesce(sum(last_seq), 0) from public.sessions) as seqs,
          (select coalesce(sum(state_version), 0) from public.sessions) as versions,
          (select count(*) from public.session_players where status <> 'connected') as not_connected,
          (select string_agg(status, ',' order by id) from public.sessions) as statuses"""
    )
    assert row is not None
    return dict(row)


@pytest.fixture(scope="module")
async def hostile(api: Api) -> dict[str, Any]:
    seer, player, stranger = await api.user("hseer"), await api.user("hplayer"), await api.user("hstranger")
    sid = await api.session(seer, [player])
    await api.ok(seer.token, "start_session", {"p_session_id": sid})
    return {"sid": sid, "tokens": Tokens(api, stranger, seer), "count": 0}


def requests(real_sid: str, token_names: list[str]) -> st.SearchStrategy[Any]:
    rpc_args = _rpc_args(real_sid)
    any_rpc = st.sampled_from(sorted(rpc_args))
    signed_in_rpc = st.tuples(st.just("good"), st.sampled_from(["stranger", "seer"]), any_rpc).flatmap(
        lambda t: st.tuples(st.just("rpc"), st.just(t[1]), st.just(t[2]), rpc_args[t[2]].map(json.dumps))
    )
    bad_token_rpc = st.tuples(
        st.just("rpc"),
        # "ghost" is well signed (a user id with no account): a no-argument read is allowed to
        # answer it with an empty list, so it only gets the writes below
        st.sampled_from([n for n in token_names if n != "ghost"]),
        any_rpc,
        st.one_of(st.just("{}"), st.dictionaries(st.text(max_size=12), odd_text, max_size=3).map(json.dumps)),
    )
    ghost_writes = st.tuples(
        st.just("rpc"),
        st.just("ghost"),
        st.sampled_from(["create_character", "create_session"]),
        st.sampled_from(
            [
                json.dumps({"p_name": "Nobody", "p_class": "ghost"}),
                json.dumps({"p_adventure_id": "00000000-0000-4000-8000-00000000a001"}),
            ]
        ),
    ).filter(lambda t: ("p_name" in t[3]) == (t[2] == "create_character"))
    malformed = st.tuples(
        st.just("rpc"),
        st.sampled_from(["stranger", "seer"]),
        any_rpc,
        st.one_of(
            st.sampled_from(
                ['{"p_session_id": ', "[1,2,3]", '"str"', "{'single': 1}", "\x00", "nul", "{,}", "[]"]
            ),
            st.binary(min_size=1, max_size=64).map(lambda b: b.decode("latin-1")).filter(_not_json_object),
        ),
    )
    unknown_rpc = st.tuples(
        st.just("rpc"),
        st.sampled_from(["stranger", "seer", "none"]),
        st.sampled_from(
            ["seer_private.sweep", "pg_sleep", "sweep", "nope", "raise_error", "../sessions", "write_event"]
        ),
        st.just("{}"),
    )
    any_user = st.sampled_from(["stranger", "seer", *token_names])
    table_write = st.tuples(
        st.just("table"),
        any_user,
        st.sampled_from(["POST", "PATCH", "DELETE", "PUT"]),
        st.sampled_from(TABLES),
        st.sampled_from(["", "id=eq." + real_sid, "id=neq.x"]),
        # non-empty: PostgREST answers an empty PATCH body with a no-op 204, which is not an error
        st.dictionaries(
            st.sampled_from(["status", "seer_id", "last_seq", "id", "name"]), odd_text, min_size=1, max_size=3
        ).map(json.dumps),
    )
    table_bad_read = st.tuples(
        st.just("table"),
        any_user,
        st.just("GET"),
        st.sampled_from(TABLES),
        st.one_of(
            st.sampled_from(
                ["select=nope", "id=eq.not-a-uuid", "order=zzz.desc", "limit=-1", "id=xx.1", "or=(a"]
            ),
            st.tuples(
                st.sampled_from(TABLES), st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
            ).map(lambda t: f"{t[1]}_x=eq.1"),
        ),
        st.just(""),
    )
    bad_token_read = st.tuples(
        st.just("table"),
        # well-signed authenticated tokens (no_sub, ghost) may read: RLS shows them nothing
        st.sampled_from([n for n in token_names if n not in ("no_sub", "ghost")]),
        st.just("GET"),
        st.sampled_from(TABLES),
        st.just("select=*"),
        st.just(""),
    )
    unknown_table = st.tuples(
        st.just("table"),
        st.sampled_from(["stranger", "seer"]),
        st.sampled_from(["GET", "POST"]),
        st.sampled_from(["users", "seer_private.error_codes", "pg_authid", "messages", "nope"]),
        st.just(""),
        st.just("{}"),
    )
    return st.one_of(
        signed_in_rpc,
        signed_in_rpc,
        signed_in_rpc,
        bad_token_rpc,
        ghost_writes,
        malformed,
        unknown_rpc,
        table_write,
        table_bad_read,
        bad_token_read,
        unknown_table,
    )


def _not_json_object(s: str) -> bool:
    try:
        return not isinstance(json.loads(s), dict)
    except ValueError:
        return True


TOKEN_NAMES = [
    "none",
    "expired",
    "forged",
    "forged_service_role",
    "alg_none",
    "garbage",
    "empty",
    "role_anon",
    "role_unknown",
    "no_sub",
    "exp_string",
    "ghost",
]


@pytest.fixture(scope="module")
async def before(api: Api, hostile: dict[str, Any]) -> dict[str, Any]:
    return await snapshot(api)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
async def test_bad_input_is_always_a_clean_4xx(
    api: Api, hostile: dict[str, Any], before: dict[str, Any], data: st.DataObject
) -> None:
    req = data.draw(requests(hostile["sid"], TOKEN_NAMES))
    tokens: Tokens = hostile["tokens"]

    def token(name: str) -> str | None:
        return tokens.good[name] if name in tokens.good else tokens.bad[name]

    if req[0] == "rpc":
        _, who, fn, body = req
        reply = await api.request(
            "POST", f"/rest/v1/rpc/{fn}", token(who), data=body.encode("utf-8", "replace")
        )
    else:
        _, who, method, tbl, query, body = req
        reply = await api.request(method, f"/rest/v1/{tbl}?{query}", token(who), data=body or None)
    hostile["count"] += 1
    assert 400 <= reply.status < 500, (req, reply)
    assert isinstance(reply.body, dict), (req, reply)
    assert {"code", "message"} <= set(reply.body), (req, reply)
    assert ERROR_CODE.match(str(reply.body["code"])), (req, reply)


async def test_nothing_was_written(api: Api, hostile: dict[str, Any], before: dict[str, Any]) -> None:
    # runs after the property test in file order; `before` was taken before it
    assert hostile["count"] >= 1000, hostile["count"]
    assert await snapshot(api) == before
