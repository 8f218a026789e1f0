"""SeerClient against a fake PostgREST/GoTrue: error mapping with real HTTP statuses, retries, validation."""

from __future__ import annotations

import httpx
import pytest

from seer_client import (
    AuthError,
    ConfigError,
    InvalidJoinCode,
    NotSeer,
    SeerClient,
    SessionFull,
    SessionNotFound,
    TransportError,
    ValidationError,
)

from . import samples as s
from .conftest import ClientFactory
from .fakes import FakeBackend


async def test_sign_in_and_user_id(backend: FakeBackend, make_client: ClientFactory) -> None:
    client = await make_client("ana@example.com")
    assert await client.user_id() == backend.users["ana@example.com"]["id"]


async def test_wrong_password_is_auth_error(backend: FakeBackend, make_client: ClientFactory) -> None:
    backend.add_user("bo@example.com", "right")
    client = await make_client()
    with pytest.raises(AuthError) as info:
        await client.sign_in("bo@example.com", "wrong")
    assert info.value.status == 400


async def test_anon_rpc_is_auth_error_sign_in_first(backend: FakeBackend, make_client: ClientFactory) -> None:
    client = await make_client()
    with pytest.raises(AuthError, match="sign in first: get_session") as info:
        await client.get_session(s.SESSION_ID)
    assert info.value.status == 401


async def test_server_side_auth_refusal_is_auth_error(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    client = await make_client("au@example.com")
    backend.handlers["get_session"] = lambda uid, body: FakeBackend.err("42501", 401, "permission denied")
    with pytest.raises(AuthError) as info:
        await client.get_session(s.SESSION_ID)
    assert info.value.status == 401 and info.value.code == "42501"


async def test_session_error_keeps_http_status(backend: FakeBackend, make_client: ClientFactory) -> None:
    client = await make_client("cy@example.com")
    with pytest.raises(SessionNotFound) as info:
        await client.get_session(s.SESSION_ID)
    assert info.value.status == 404 and info.value.code == "SESSION_001"
    backend.handlers["join_session"] = lambda uid, body: FakeBackend.err(
        "SESSION_003", 422, "Session is full"
    )
    with pytest.raises(SessionFull):
        await client.join_session(s.SESSION_ID, character_id=s.NODE_ID)
    backend.handlers["start_session"] = lambda uid, body: FakeBackend.err("SESSION_007", 403, "Only the Seer")
    with pytest.raises(NotSeer) as info2:
        await client.start_session(s.SESSION_ID)
    assert info2.value.status == 403


async def test_idempotent_calls_retry_on_5xx(backend: FakeBackend, make_client: ClientFactory) -> None:
    client = await make_client("di@example.com")
    backend.make_seer(backend.users["di@example.com"]["id"])
    backend.fail["get_session"] = [503, 502]
    session = await client.get_session(s.SESSION_ID)
    assert session.id == s.SESSION_ID
    assert len(backend.rpc_calls("get_session")) == 3


async def test_idempotent_calls_retry_on_connection_errors(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    client = await make_client("ed@example.com")
    backend.make_seer(backend.users["ed@example.com"]["id"])
    backend.fail["heartbeat"] = [httpx.ConnectError("refused")]
    beat = await client.heartbeat(s.SESSION_ID)
    assert beat.session_id == s.SESSION_ID
    assert len(backend.rpc_calls("heartbeat")) == 2


async def test_retries_are_bounded(backend: FakeBackend, make_client: ClientFactory) -> None:
    client = await make_client("fi@example.com", max_retries=1)
    backend.fail["get_session"] = [503, 503, 503]
    with pytest.raises(TransportError) as info:
        await client.get_session(s.SESSION_ID)
    assert info.value.status == 503
    assert len(backend.rpc_calls("get_session")) == 2


async def test_mutations_are_never_retried(backend: FakeBackend, make_client: ClientFactory) -> None:
    client = await make_client("gu@example.com")
    backend.fail["join_session"] = [503]
    backend.fail["end_session"] = [httpx.ConnectError("reset")]
    with pytest.raises(TransportError):
        await client.join_session(s.SESSION_ID, character_id=s.NODE_ID)
    with pytest.raises(TransportError):
        await client.end_session(s.SESSION_ID, outcome="completed")
    assert len(backend.rpc_calls("join_session")) == 1
    assert len(backend.rpc_calls("end_session")) == 1


async def test_4xx_is_not_retried(backend: FakeBackend, make_client: ClientFactory) -> None:
    client = await make_client("ha@example.com")
    with pytest.raises(SessionNotFound):
        await client.get_session(s.SESSION_ID)
    assert len(backend.rpc_calls("get_session")) == 1


@pytest.mark.parametrize(
    ("call", "error", "detail"),
    [
        (lambda c: c.get_session("nope"), ValidationError, "sessionId"),
        (lambda c: c.get_session_by_code("H7NK4"), InvalidJoinCode, "code"),
        (lambda c: c.get_session_by_code("H7NK4O"), InvalidJoinCode, "code"),  # O is not in the alphabet
        (lambda c: c.get_session_by_code("h7nk4b!"), InvalidJoinCode, "code"),
        (lambda c: c.join_session(s.SESSION_ID, character_id="x"), ValidationError, "characterId"),
        (lambda c: c.create_session(s.ADVENTURE_ID, max_players=7), ValidationError, "maxPlayers"),
        (lambda c: c.create_session(s.ADVENTURE_ID, max_players=0), ValidationError, "maxPlayers"),
        (lambda c: c.update_session_settings(s.SESSION_ID, max_players=7), ValidationError, "maxPlayers"),
        (lambda c: c.update_session_settings(s.SESSION_ID, max_players=True), ValidationError, "maxPlayers"),
        (
            lambda c: c.create_session(s.ADVENTURE_ID, settings={"bogus": True}),
            ValidationError,
            "settings.bogus",
        ),
        (
            lambda c: c.create_session(s.ADVENTURE_ID, settings={"allowLateJoin": 1}),
            ValidationError,
            "settings.allowLateJoin",
        ),
        (lambda c: c.end_session(s.SESSION_ID, outcome="won"), ValidationError, "outcome"),
        (lambda c: c.submit_feedback(s.SESSION_ID, rating=6), ValidationError, "rating"),
        (lambda c: c.submit_feedback(s.SESSION_ID, rating=0), ValidationError, "rating"),
        (lambda c: c.kick_player(s.SESSION_ID, player_id="?"), ValidationError, "playerId"),
        (lambda c: c.update_game_state(s.SESSION_ID, {"bogus": 1}), ValidationError, "bogus"),
        (lambda c: c.update_game_state(s.SESSION_ID, current_node_id="n1"), ValidationError, "currentNodeId"),
        (lambda c: c.session_events_since(s.SESSION_ID, after_seq=-1), ValidationError, "afterSeq"),
        (lambda c: c.list_my_sessions(status=["gone"]), ValidationError, "status"),
        (lambda c: c.create_character(name=" ", character_class="mage"), ValidationError, "name"),
    ],
)
async def test_validation_happens_before_any_request(
    backend: FakeBackend, make_client: ClientFactory, call, error: type, detail: str
) -> None:
    client = await make_client("iv@example.com")
    with pytest.raises(error) as info:
        await call(client)
    assert info.value.details == detail
    assert info.value.status == 400
    assert backend.calls == []


async def test_join_code_is_upper_cased(backend: FakeBackend, make_client: ClientFactory) -> None:
    client = await make_client("jo@example.com")
    backend.handlers["get_session_by_code"] = lambda uid, body: (
        200,
        {
            "session": {"id": s.SESSION_ID, "code": body["p_code"], "status": "waiting", "playerCount": 0},
            "canJoin": True,
            "reason": None,
        },
    )
    preview = await client.get_session_by_code(" h7nk4b ")
    assert preview.session.code == "H7NK4B" and preview.can_join
    assert backend.rpc_calls("get_session_by_code")[0][2] == {"p_code": "H7NK4B"}


async def test_create_session_builds_join_url_and_sends_camel_settings(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    client = await make_client("ka@example.com")
    backend.handlers["create_session"] = lambda uid, body: (200, s.session())
    created = await client.create_session(s.ADVENTURE_ID, settings={"allow_late_join": True}, max_players=4)
    assert created.join_url == f"{backend.realtime.url}/functions/v1/invite/H7NK4B"  # type: ignore[union-attr]
    sent = backend.rpc_calls("create_session")[0][2]
    assert sent == {
        "p_adventure_id": s.ADVENTURE_ID,
        "p_settings": {"allowLateJoin": True},
        "p_max_players": 4,
    }
    client.join_url_base = "https://play.example"
    assert client.join_url("ABCDEF") == "https://play.example/functions/v1/invite/ABCDEF"


async def test_update_game_state_sends_patch_and_version(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    client = await make_client("le@example.com")
    backend.handlers["update_game_state"] = lambda uid, body: (200, s.game_state(version=4))
    state = await client.update_game_state(
        s.SESSION_ID, current_node_id=s.NODE_ID, add_flags=["door"], expected_version=3
    )
    assert state.version == 4
    sent = backend.rpc_calls("update_game_state")[0][2]
    assert sent == {
        "p_session_id": s.SESSION_ID,
        "p_patch": {"currentNodeId": s.NODE_ID, "addFlags": ["door"]},
        "p_expected_version": 3,
    }


async def test_update_game_state_without_turn_history(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    """turn_history=False asks the server not to read the turns (it answers null for them); the
    model holds an empty list, the rest of the state as answered."""
    client = await make_client("le@example.com")
    backend.handlers["update_game_state"] = lambda uid, body: (
        200,
        s.game_state(version=5) | {"turnHistory": None},
    )
    state = await client.update_game_state(s.SESSION_ID, add_flags=["door"], turn_history=False)
    assert state.version == 5 and state.turn_history == []
    assert backend.rpc_calls("update_game_state")[0][2] == {
        "p_session_id": s.SESSION_ID,
        "p_patch": {"addFlags": ["door"]},
        "p_expected_version": None,
        "p_turn_history": False,
    }
    with pytest.raises(ValidationError, match="turnHistory"):
        await client.update_game_state(s.SESSION_ID, add_flags=["door"], turn_history="no")  # type: ignore[arg-type]
    assert len(backend.rpc_calls("update_game_state")) == 1


async def test_all_events_since_pages(backend: FakeBackend, make_client: ClientFactory) -> None:
    client = await make_client("mo@example.com")
    backend.make_seer(backend.users["mo@example.com"]["id"])
    for _ in range(7):
        backend.emit(live=False)
    events = await client.all_events_since(s.SESSION_ID, after_seq=1, page_size=3)
    assert [e.seq for e in events] == [2, 3, 4, 5, 6, 7]
    assert len(backend.rpc_calls("session_events_since")) == 2 + 1  # 3 + 3 + 0


async def test_error_body_with_success_status_still_raises(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    # get_session_by_code answers its SESSION_001 body itself (response.status = 404); even if a
    # proxy loses that status the SDK must not parse the error body as a result.
    client = await make_client("no@example.com")
    backend.handlers["get_session_by_code"] = lambda uid, body: (
        200,
        {"code": "SESSION_001", "message": "Session not found", "details": None, "hint": None},
    )
    with pytest.raises(SessionNotFound) as info:
        await client.get_session_by_code("ZZZZZZ")
    assert info.value.status == 404


def test_sync_supabase_client_is_refused_with_a_hint() -> None:
    from supabase import Client

    with pytest.raises(ConfigError, match="AsyncClient"):
        SeerClient(Client("http://127.0.0.1:9", "anon-key"))


async def test_unreachable_auth_is_transport_error() -> None:
    from supabase import AsyncClient

    client = SeerClient(AsyncClient("http://127.0.0.1:9", "anon-key"))
    with pytest.raises(TransportError):
        await client.sign_in("a@example.com", "pw")
    await client.supabase.auth.close()


async def test_heartbeat_goes_to_the_collector_when_it_is_deployed(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    client = await make_client("hb@example.com")
    backend.make_seer(backend.users["hb@example.com"]["id"])
    backend.collector()
    for _ in range(2):
        beat = await client.heartbeat(s.SESSION_ID)
        assert beat.session_id == s.SESSION_ID
    assert backend.function_calls == [("heartbeat", {"sessionId": s.SESSION_ID})] * 2
    assert backend.rpc_calls("heartbeat") == []


async def test_heartbeat_without_the_collector_calls_the_rpc_from_then_on(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    client = await make_client("hc@example.com")
    backend.make_seer(backend.users["hc@example.com"]["id"])
    view = client.with_options(timeout=5)
    for c in (client, view, client):
        assert (await c.heartbeat(s.SESSION_ID)).session_id == s.SESSION_ID
    # one 404 from the gateway: the client and its views stop asking
    assert len(backend.function_calls) == 1
    assert len(backend.rpc_calls("heartbeat")) == 3


async def test_heartbeat_errors_through_the_collector_are_the_rpcs(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    client = await make_client("hd@example.com")
    backend.collector()
    # not a participant: the database's SESSION_001 (a 404) passes through; not "not deployed"
    for _ in range(2):
        with pytest.raises(SessionNotFound):
            await client.heartbeat(s.SESSION_ID)
    assert len(backend.function_calls) == 2
    assert backend.rpc_calls("heartbeat") == []


async def test_a_collector_5xx_sends_that_beat_to_the_rpc(
    backend: FakeBackend, make_client: ClientFactory
) -> None:
    client = await make_client("he@example.com")
    backend.make_seer(backend.users["he@example.com"]["id"])
    backend.functions["heartbeat"] = lambda uid, body: (546, {"code": "WORKER_LIMIT", "message": "limit"})
    assert (await client.heartbeat(s.SESSION_ID)).session_id == s.SESSION_ID
    backend.collector()
    assert (await client.heartbeat(s.SESSION_ID)).session_id == s.SESSION_ID
    # one beat through the RPC, not retried against the function; the function used again after
    assert len(backend.function_calls) == 2
    assert len(backend.rpc_calls("heartbeat")) == 1
