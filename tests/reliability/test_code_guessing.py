"""Join-code guessing is refused after 10 unknown codes per user in 10 minutes (SESSION_015, 429);
normal users (a typo or two, valid codes) are unaffected. See docs/security.md."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from seer_client import SeerClient, TooManyAttempts

from .conftest import ADVENTURE_ID, Api

LIMIT = 10


def unknown_codes(n: int) -> list[str]:
    # valid format, but "Q" + 5 digits-ish from the alphabet: real codes are random, so a clash
    # with a live session is (31^-6 per code) negligible
    alphabet = "23456789"
    return [f"QZ{alphabet[i % 8]}{alphabet[(i // 8) % 8]}{alphabet[(i // 64) % 8]}X" for i in range(n)]


async def test_guessing_is_refused_and_normal_users_are_not(api: Api) -> None:
    seer = await api.user("seer", character=False)
    code = (await api.ok(seer.token, "create_session", {"p_adventure_id": ADVENTURE_ID}))["code"]
    guesser, normal = await api.user("guesser"), await api.user("normal")

    for c in unknown_codes(LIMIT):
        r = await api.rpc(guesser.token, "get_session_by_code", {"p_code": c})
        assert (r.status, r.code) == (404, "SESSION_001"), r
        assert r.body["message"] == "Session not found"
    # the 11th lookup is refused before the code is looked at: even a real code
    for c in [unknown_codes(LIMIT + 1)[-1], code]:
        r = await api.rpc(guesser.token, "get_session_by_code", {"p_code": c})
        assert (r.status, r.code) == (429, "SESSION_015"), r
    # badly formatted codes are not counted and not refused for others
    r = await api.rpc(normal.token, "get_session_by_code", {"p_code": "ABC"})
    assert (r.status, r.code) == (400, "SESSION_002")
    # a normal user with two typos and then the right code
    for c in unknown_codes(2):
        assert (await api.rpc(normal.token, "get_session_by_code", {"p_code": c})).status == 404
    ok = await api.rpc(normal.token, "get_session_by_code", {"p_code": code.lower()})
    assert ok.status == 200 and ok.body["canJoin"] is True

    # the window slides: once the failures are older than 10 minutes the guesser may try again
    await api.db.execute(
        "update seer_private.rate_limit_hits"
        " set hits = array(select t - interval '10 minutes 1 second' from unnest(hits) t)"
        " where bucket = 'code_lookup' and subject = $1",
        f"user:{guesser.id}",
    )
    assert (await api.rpc(guesser.token, "get_session_by_code", {"p_code": code})).status == 200
    # and the old hits were dropped by the next failure: the row holds only the new one
    assert (await api.rpc(guesser.token, "get_session_by_code", {"p_code": "QZZZZX"})).status == 404
    assert (
        await api.db.fetchval(
            "select cardinality(hits) from seer_private.rate_limit_hits"
            " where bucket = 'code_lookup' and subject = $1",
            f"user:{guesser.id}",
        )
        == 1
    )


async def test_parallel_guesses_cannot_overrun_the_limit(api: Api) -> None:
    guesser = await api.user("burst")
    replies = await asyncio.gather(
        *(api.rpc(guesser.token, "get_session_by_code", {"p_code": c}) for c in unknown_codes(40))
    )
    outcome = Counter((r.status, r.code) for r in replies)
    assert outcome == {(404, "SESSION_001"): LIMIT, (429, "SESSION_015"): 40 - LIMIT}, outcome


async def test_read_only_get_is_refused_so_it_cannot_bypass_counting(api: Api) -> None:
    guesser = await api.user("getter")
    r = await api.request("GET", "/rest/v1/rpc/get_session_by_code?p_code=QZZZZZ", guesser.token)
    assert r.status == 405 and r.code == "PGRST101", r
    count = await api.db.fetchval(
        "select count(*) from seer_private.rate_limit_hits where bucket = 'code_lookup' and subject = $1",
        f"user:{guesser.id}",
    )
    assert count == 0


async def test_sdk_raises_too_many_attempts(api: Api) -> None:
    client = await SeerClient.create(api.stack.url, api.stack.anon_key)
    try:
        email = f"sdk-{uuid.uuid4().hex[:8]}@example.com"
        uid = await client.sign_up(email, "guess-pw-12345")
        await api.db.execute(
            "insert into seer_private.rate_limit_hits (bucket, subject, hits)"
            " select 'code_lookup', $1, array(select clock_timestamp() from generate_series(1, 10))",
            f"user:{uid}",
        )
        try:
            await client.get_session_by_code("QZZZZZ")
        except TooManyAttempts as exc:
            assert exc.status == 429
        else:
            raise AssertionError("expected TooManyAttempts")
    finally:
        await client.close()
