"""Races through the gateway: many requests for one session at the same instant.

Every request goes over HTTP (the gateway's pool gives real parallel Postgres backends), and
the outcome is checked in the database afterwards: seat counts, status, the event log.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter

from .conftest import Api, Reply, User


async def _burst(calls: list) -> list[Reply]:  # type: ignore[type-arg]
    return list(await asyncio.gather(*calls))


async def test_64_concurrent_joins_for_the_last_two_seats(api: Api) -> None:
    seer = await api.user("seer", character=False)
    seated = [await api.user(f"p{i}") for i in range(4)]
    sid = await api.session(seer, seated, max_players=6)
    crowd = await asyncio.gather(*(api.user(f"c{i}") for i in range(64)))
    replies = await _burst(
        [
            api.rpc(u.token, "join_session", {"p_session_id": sid, "p_character_id": u.character_id})
            for u in crowd
        ]
    )
    outcome = Counter((r.status, r.code) for r in replies)
    assert outcome == {(200, None): 2, (422, "SESSION_003"): 62}, outcome
    live = await api.db.fetchval(
        "select count(*) from public.session_players where session_id = $1 and left_at is null",
        uuid.UUID(sid),
    )
    assert live == 6
    last = await api.assert_seq_gap_free(sid)
    # session_created + 4 joins + 2 winners; losers wrote nothing
    assert last == 7


async def test_one_character_raced_into_many_sessions(api: Api) -> None:
    player = await api.user("racer")
    sids = [await api.session(await api.user(f"s{i}", character=False), []) for i in range(12)]
    replies = await _burst(
        [
            api.rpc(player.token, "join_session", {"p_session_id": s, "p_character_id": player.character_id})
            for s in sids
        ]
    )
    outcome = Counter((r.status, r.code) for r in replies)
    assert outcome == {(200, None): 1, (409, "SESSION_009"): 11}, outcome


async def _seer_session(api: Api) -> tuple[User, User, str]:
    seer = await api.user("seer", character=False)
    player = await api.user("player")
    return seer, player, await api.session(seer, [player])


async def test_concurrent_lifecycle_transitions_have_exactly_one_winner(api: Api) -> None:
    seer, _, sid = await _seer_session(api)

    async def storm(fn: str, args: dict[str, object], n: int = 8) -> None:
        replies = await _burst([api.rpc(seer.token, fn, {"p_session_id": sid, **args}) for _ in range(n)])
        outcome = Counter((r.status, r.code) for r in replies)
        assert outcome == {(200, None): 1, (422, "SESSION_010"): n - 1}, (fn, outcome)

    await storm("start_session", {})
    await storm("pause_session", {})
    await storm("resume_session", {})

    # completed and cancelled racing each other: still one end, one stats, one session_ended
    replies = await _burst(
        [
            api.rpc(seer.token, "end_session", {"p_session_id": sid, "p_outcome": o})
            for o in ["completed", "cancelled"] * 4
        ]
    )
    outcome = Counter((r.status, r.code) for r in replies)
    assert outcome == {(200, None): 1, (422, "SESSION_010"): 7}, outcome
    winner = next(r for r in replies if r.status == 200).body["session"]["outcome"]

    rows = await api.db.fetch(
        "select type, payload from public.session_events where session_id = $1 order by seq", uuid.UUID(sid)
    )
    types = Counter(r["type"] for r in rows)
    assert types["session_ended"] == 1
    assert types["session_status"] == 4  # start, pause, resume, end
    status = await api.db.fetchval("select status from public.sessions where id = $1", uuid.UUID(sid))
    assert status == winner
    await api.assert_seq_gap_free(sid)


async def test_mixed_lifecycle_storm_keeps_a_valid_history(api: Api) -> None:
    """pause, resume and end fired together: whatever wins, the event log replays to the final state."""
    seer, _, sid = await _seer_session(api)
    await api.ok(seer.token, "start_session", {"p_session_id": sid})
    calls = []
    for _ in range(6):
        calls += [
            api.rpc(seer.token, "pause_session", {"p_session_id": sid}),
            api.rpc(seer.token, "resume_session", {"p_session_id": sid}),
            api.rpc(seer.token, "end_session", {"p_session_id": sid, "p_outcome": "completed"}),
        ]
    replies = await _burst(calls)
    assert all(r.status == 200 or (r.status, r.code) == (422, "SESSION_010") for r in replies), replies
    # end_session answers {session, stats} (a Session itself also carries `stats` now)
    ends = [r for r in replies if r.status == 200 and {"session", "stats"} <= set(r.body or {})]
    assert len(ends) == 1
    rows = await api.db.fetch(
        "select payload from public.session_events"
        " where session_id = $1 and type = 'session_status' order by seq",
        uuid.UUID(sid),
    )
    state = "waiting"
    for row in rows:  # every transition starts where the previous one ended
        p = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"])
        assert p["oldStatus"] == state, (state, p)
        state = p["newStatus"]
    assert state == "completed"
    await api.assert_seq_gap_free(sid)


async def test_versioned_patches_never_lose_an_update(api: Api) -> None:
    seer, _, sid = await _seer_session(api)
    await api.ok(seer.token, "start_session", {"p_session_id": sid})
    v0 = (await api.ok(seer.token, "get_game_state", {"p_session_id": sid}))["version"]

    # 16 writers holding the same version: one wins, the rest are told to reload
    replies = await _burst(
        [
            api.rpc(
                seer.token,
                "update_game_state",
                {"p_session_id": sid, "p_patch": {"setVariables": {f"w{i}": i}}, "p_expected_version": v0},
            )
            for i in range(16)
        ]
    )
    outcome = Counter((r.status, r.code) for r in replies)
    assert outcome == {(200, None): 1, (409, "SESSION_014"): 15}, outcome

    # 8 writers doing read-modify-write with retries: every flag lands, versions are consecutive
    async def writer(i: int) -> int:
        for attempt in range(200):
            state = await api.ok(seer.token, "get_game_state", {"p_session_id": sid})
            r = await api.rpc(
                seer.token,
                "update_game_state",
                {
                    "p_session_id": sid,
                    "p_patch": {"addFlags": [f"f{i}"]},
                    "p_expected_version": state["version"],
                },
            )
            if r.status == 200:
                return attempt
            assert (r.status, r.code) == (409, "SESSION_014"), r
            await asyncio.sleep(0.001 * attempt)
        raise AssertionError("writer starved")

    await asyncio.gather(*(writer(i) for i in range(8)))

    # unversioned patches serialise on the row lock: none is lost either
    await _burst(
        [
            api.ok(seer.token, "update_game_state", {"p_session_id": sid, "p_patch": {"addFlags": [f"u{i}"]}})
            for i in range(16)
        ]
    )
    final = await api.ok(seer.token, "get_game_state", {"p_session_id": sid})
    assert sorted(final["flags"]) == sorted([f"f{i}" for i in range(8)] + [f"u{i}" for i in range(16)])
    assert final["version"] == v0 + 1 + 8 + 16
    versions = [
        r["v"]
        for r in await api.db.fetch(
            "select (payload ->> 'version')::int as v from public.session_events"
            " where session_id = $1 and type = 'game_state' order by seq",
            uuid.UUID(sid),
        )
    ]
    assert versions == list(range(v0 + 1, v0 + 1 + 25))
    await api.assert_seq_gap_free(sid)


async def test_heartbeats_racing_the_sweeper_and_leave(api: Api) -> None:
    """Seats flip between connected/disconnected/inactive under concurrent heartbeats, sweeps and
    leaves; the log stays gap-free and each player's final status matches its last event."""
    seer = await api.user("seer", character=False)
    players = [await api.user(f"hb{i}") for i in range(5)]
    sid = await api.session(seer, players)
    await api.ok(seer.token, "start_session", {"p_session_id": sid})
    service = api.stack.service_role_key
    await api.db.execute(
        "update public.session_players set last_activity_at = now() - interval '2 minutes'"
        " where session_id = $1",
        uuid.UUID(sid),
    )
    calls = []
    for i in range(4):
        calls += [api.rpc(p.token, "heartbeat", {"p_session_id": sid}) for p in players]
        calls.append(api.rpc(service, "sweep_sessions", {}))
        calls.append(api.rpc(players[i].token, "leave_session", {"p_session_id": sid}))
    replies = await _burst(calls)
    # A heartbeat that lands after its player's leave is refused (a leave is final for that
    # connection, SESSION_006); everything else succeeds.
    refused = [r for r in replies if r.status != 200]
    assert all((r.status, r.code) == (403, "SESSION_006") for r in refused), refused
    assert len(refused) <= 4 * 4, refused  # at most the 4 leavers' heartbeats
    await api.assert_seq_gap_free(sid)
    seats = await api.db.fetch(
        "select status, left_reason from public.session_players where session_id = $1", uuid.UUID(sid)
    )
    assert sorted(r["status"] for r in seats if r["left_reason"] == "left") == ["inactive"] * 4, seats
