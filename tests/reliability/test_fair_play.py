"""Fair play (issue 20), through the devstack's HTTP API as a hostile player would try it:
dice text smuggling, XP farming with a self-written adventure, XP overflow, one player
flooding the party. Each test is the issue's reproduction; pgTAP 26_fair_play covers the rules
one by one."""

from __future__ import annotations

import json
import uuid
from typing import Any

from .conftest import Api, User


async def _started(api: Api, seer: User, players: list[User], adventure: str | None = None) -> str:
    if adventure is None:
        sid = await api.session(seer, players)
    else:
        s = await api.ok(seer.token, "create_session", {"p_adventure_id": adventure})
        sid = str(s["id"])
        for p in players:
            await api.ok(p.token, "join_session", {"p_session_id": sid, "p_character_id": p.character_id})
    await api.ok(seer.token, "start_session", {"p_session_id": sid})
    return sid


async def test_dice_text_smuggling_is_refused_and_stores_nothing(api: Api) -> None:
    seer, pia = await api.user("seer"), await api.user("pia")
    sid = await _started(api, seer, [pia])
    before = await api.assert_seq_gap_free(sid)
    smuggled = "1d20" + " " * 196 + "+100 \x1b[2J\u202eNAT20 CRIT\u202c [bold red]x[/bold red]" + "Z" * 20000
    r = await api.rpc(pia.token, "roll_dice", {"p_session_id": sid, "p_expression": smuggled})
    assert (r.status, r.code) == (400, "SESSION_000"), r
    lying = "1d4" + " " * 197 + "+1000"
    r = await api.rpc(seer.token, "roll_dice", {"p_session_id": sid, "p_expression": lying})
    assert (r.status, r.code) == (400, "SESSION_000"), r
    assert await api.assert_seq_gap_free(sid) == before
    assert (
        await api.db.fetchval("select count(*) from public.dice_rolls where session_id = $1", uuid.UUID(sid))
        == 0
    )

    ok = await api.ok(pia.token, "roll_dice", {"p_session_id": sid, "p_expression": " 2D6 + 1 "})
    assert ok["expression"] == "2d6+1"
    event = await api.db.fetchval(
        "select payload from public.session_events where session_id = $1 and type = 'dice_rolled'",
        uuid.UUID(sid),
    )
    assert json.loads(event)["expression"] == "2d6+1"


async def test_a_self_written_adventure_cannot_farm_experience(api: Api) -> None:
    author, alt = await api.user("farmer"), await api.user("alt")
    nodes: list[dict[str, Any]] = [
        {"key": f"n{i}", "type": "ending" if i == 49 else "story", "title": f"N{i}", "xpReward": 10000}
        for i in range(50)
    ]
    links = [{"from": f"n{i}", "to": f"n{i + 1}", "label": "on"} for i in range(49)]
    adv = await api.ok(
        author.token, "import_adventure", {"p_document": {"title": "Farm", "nodes": nodes, "links": links}}
    )
    sid = await _started(api, author, [alt], adventure=adv["id"])
    for i in range(1, 50):
        node = await api.db.fetchval(
            "select id from public.adventure_nodes where adventure_id = $1 and title = $2",
            uuid.UUID(adv["id"]),
            f"N{i}",
        )
        await api.ok(
            author.token, "update_game_state", {"p_session_id": sid, "p_patch": {"currentNodeId": str(node)}}
        )
    ended = await api.ok(author.token, "end_session", {"p_session_id": sid, "p_outcome": "completed"})
    # 500,000 XP by the adventure's word; seconds of play earn nothing
    assert ended["stats"]["experienceEarned"] == 0, ended["stats"]
    xp = await api.db.fetchval(
        "select experience from public.characters where id = $1", uuid.UUID(alt.character_id)
    )
    assert xp == 0


async def test_experience_overflow_does_not_block_completion(api: Api) -> None:
    seer, pia = await api.user("seer"), await api.user("pia")
    sid = await _started(api, seer, [pia])
    await api.db.execute(
        "update public.characters set experience = 2147483600 where id = $1", uuid.UUID(pia.character_id)
    )
    await api.db.execute(
        "update public.sessions set started_at = started_at - interval '30 minutes' where id = $1",
        uuid.UUID(sid),
    )
    r = await api.rpc(seer.token, "end_session", {"p_session_id": sid, "p_outcome": "completed"})
    assert r.status == 200, r
    assert r.body["stats"]["experienceEarned"] > 0
    row = await api.db.fetchrow(
        "select experience, level from public.characters where id = $1", uuid.UUID(pia.character_id)
    )
    assert row is not None and row["experience"] == 2**31 - 1 and row["level"] == 2147484


async def test_one_player_cannot_flood_the_party(api: Api) -> None:
    seer, pia, kim = await api.user("seer"), await api.user("pia"), await api.user("kim")
    sid = await _started(api, seer, [pia, kim])
    text = "x" * 1000
    statuses = []
    for _ in range(40):
        r = await api.rpc(pia.token, "submit_action", {"p_session_id": sid, "p_text": text})
        statuses.append((r.status, r.code))
    assert statuses[:30] == [(200, None)] * 30
    assert statuses[30:] == [(429, "SESSION_028")] * 10
    async with api.http.post(
        f"{api.stack.url}/rest/v1/rpc/submit_action",
        headers=api.headers(pia.token),
        data=json.dumps({"p_session_id": sid, "p_text": "again"}),
    ) as resp:
        body = await resp.json()
        assert resp.status == 429
        retry = int(resp.headers["Retry-After"])
        assert 1 <= retry <= 60
        assert body["hint"] == f"retry in {retry} s"
        assert body["details"] == "at most 30 actions per 00:01:00"
    # the others still play
    assert (await api.rpc(kim.token, "submit_action", {"p_session_id": sid, "p_text": "hi"})).status == 200
    rolls = [
        (await api.rpc(pia.token, "roll_dice", {"p_session_id": sid, "p_expression": "1d6"})).status
        for _ in range(61)
    ]
    assert rolls == [200] * 60 + [429]
    # 30 actions + 60 rolls from pia, 1 from kim: nothing dropped, nothing past the limit
    events = await api.db.fetchval(
        "select count(*) from public.session_events"
        " where session_id = $1 and type in ('player_action', 'dice_rolled')",
        uuid.UUID(sid),
    )
    assert events == 91
