"""Paging (issue 21): ``list_my_sessions`` returned a player's whole history (up to 200) in one
answer, with no way to ask for the rest. Now it is keyset-paged (``limit``, ``before``) and
``iter_my_sessions`` walks every page, newest first."""

from __future__ import annotations

import uuid

import pytest

from seer_client import ValidationError

from .test_integration import ADVENTURE_ID, LIBRARY_DOC, Factory, person  # noqa: F401 - the fixture

pytestmark = pytest.mark.devstack


async def test_list_my_sessions_pages_by_keyset_and_iter_walks_them(person: Factory) -> None:  # noqa: F811
    seer = await person("Pagina")
    other = await person("Otto")
    aria = await person("Aria")
    second_character = await aria.client.create_character(name="Aria II", character_class="bard")
    seats = {2: aria.character.id, 4: second_character.id}  # one session per character
    mine = []
    for _ in range(5):
        created = await seer.client.create_session(ADVENTURE_ID, max_players=2)
        mine.append(created.session.id)
        if len(mine) in seats:
            await aria.client.join_session(created.session.id, character_id=seats[len(mine)])
    theirs = (await other.client.create_session(ADVENTURE_ID)).session.id
    newest_first = list(reversed(mine))

    first = await seer.client.list_my_sessions(limit=2)
    second = await seer.client.list_my_sessions(limit=2, before=first[-1])
    third = await seer.client.list_my_sessions(limit=2, before=second[-1].id)
    assert [s.id for s in first + second + third] == newest_first and len(third) == 1
    assert [s.id async for s in seer.client.iter_my_sessions(page_size=2)] == newest_first
    assert [s.id async for s in seer.client.iter_my_sessions(page_size=5)] == newest_first

    # A player's pages: the sessions they sit in, merged with any they run.
    aria_own = (await aria.client.create_session(ADVENTURE_ID)).session.id
    page = await aria.client.list_my_sessions(limit=2)
    assert [(s.id, s.role) for s in page] == [(aria_own, "seer"), (mine[3], "player")]
    rest = await aria.client.list_my_sessions(limit=2, before=page[-1])
    assert [(s.id, s.role) for s in rest] == [(mine[1], "player")]

    # The cursor must be a session of the caller's: another's would reveal when it was created.
    for cursor in (theirs, str(uuid.uuid4())):
        with pytest.raises(ValidationError) as info:
            await seer.client.list_my_sessions(before=cursor)
        assert info.value.details == "before"
    for limit in (0, 201, True):
        with pytest.raises(ValidationError, match="limit"):
            await seer.client.list_my_sessions(limit=limit)


async def test_list_dice_rolls_pages_back_and_iter_walks_every_roll(person: Factory) -> None:  # noqa: F811
    seer = await person("Dicer")
    aria = await person("Rolla")
    session = (await seer.client.create_session(ADVENTURE_ID, max_players=2)).session
    await aria.client.join_session(session.id, character_id=aria.character.id)
    await seer.client.start_session(session.id)
    rolls = [
        (
            await aria.client.roll_dice(session.id, "1d6", reason=f"roll {i}", character_id=aria.character.id)
        ).roll_id
        for i in range(5)
    ]
    newest = await aria.client.list_dice_rolls(session.id, limit=2)
    older = await aria.client.list_dice_rolls(session.id, limit=2, before=newest[0])
    oldest = await aria.client.list_dice_rolls(session.id, limit=2, before=older[0].roll_id)
    assert [r.roll_id for r in oldest + older + newest] == rolls and len(oldest) == 1
    assert [r.roll_id async for r in seer.client.iter_dice_rolls(session.id, page_size=2)] == rolls[::-1]
    with pytest.raises(ValidationError) as info:
        await aria.client.list_dice_rolls(session.id, before=str(uuid.uuid4()))
    assert info.value.details == "before"


async def test_list_adventures_pages_by_title_and_iter_walks_them(person: Factory) -> None:  # noqa: F811
    author = await person("Librarian")
    tag = uuid.uuid4().hex[:8]
    titles = [f"Paging {tag} {letter}" for letter in "DBECA"]
    ids = {t: (await author.client.import_adventure({**LIBRARY_DOC, "title": t})).id for t in titles}
    by_title = [ids[t] for t in sorted(titles)]

    first = await author.client.list_adventures(scope="mine", query=tag, limit=2)
    second = await author.client.list_adventures(scope="mine", query=tag, limit=2, after=first[-1])
    third = await author.client.list_adventures(scope="mine", query=tag, limit=2, after=second[-1].id)
    assert [a.id for a in first + second + third] == by_title and len(third) == 1
    walked = [a.id async for a in author.client.iter_adventures(scope="mine", query=tag, page_size=2)]
    assert walked == by_title

    # An unpublished adventure of someone else's is not a cursor: it would leak its title.
    other = await person("Snoop")
    with pytest.raises(ValidationError) as info:
        await other.client.list_adventures(after=by_title[0])
    assert info.value.details == "after"
