"""Each event type has one SQL constructor, ``seer_private.event_<type>``; the fields it builds
are the contract. This checks that docs/contract.md's event table and the SDK's event models
(seer_client/events.py) name exactly those fields, and that every event type the SDK knows has
a constructor."""

from __future__ import annotations

import json
import re

import asyncpg
import pytest

from seer_client.events import _EVENT_CLASSES, BaseEvent
from seer_devstack.postgres import project_root

ENVELOPE = {"seq", "type", "sessionId", "timestamp", "actor"}


async def constructor_fields(database_url: str) -> dict[str, set[str]]:
    """Calls every seer_private.event_* with null arguments: jsonb_build_object keeps every key."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            """select p.proname,
                      array(select format_type(t, null) from unnest(p.proargtypes) t) as types
               from pg_proc p join pg_namespace n on n.oid = p.pronamespace
               where n.nspname = 'seer_private' and p.proname like 'event\\_%'"""
        )
        shapes: dict[str, set[str]] = {}
        for row in rows:
            args = ", ".join(f"null::{t}" for t in row["types"])
            value = await conn.fetchval(f"select seer_private.{row['proname']}({args})::text")
            shapes[row["proname"].removeprefix("event_")] = set(json.loads(value))
        return shapes
    finally:
        await conn.close()


def documented_fields() -> dict[str, set[str]]:
    text = (project_root() / "docs" / "contract.md").read_text()
    section = text.split("## Events", 1)[1]
    shapes: dict[str, set[str]] = {}
    for m in re.finditer(r"^\| `(\w+)` \| (.*)$", section, re.M):
        # every `code span` of the fields cell; a field is the name before any `: type`
        spans = ",".join(re.findall(r"`([^`]*)`", m.group(2)))
        names = {f.split(":")[0].strip() for f in spans.split(",")}
        shapes[m.group(1)] = {n for n in names if n.isidentifier()}
    return shapes


def sdk_fields(model: type[BaseEvent]) -> set[str]:
    base = set(BaseEvent.model_fields)
    return {f.alias or name for name, f in model.model_fields.items() if name not in base}


@pytest.fixture
async def constructors(database_url: str) -> dict[str, set[str]]:
    return await constructor_fields(database_url)


async def test_every_event_type_has_one_constructor_and_the_docs_and_sdk_agree(
    constructors: dict[str, set[str]],
) -> None:
    docs = documented_fields()
    assert set(constructors) == set(docs) == set(_EVENT_CLASSES), (
        set(constructors),
        set(docs),
        set(_EVENT_CLASSES),
    )
    for kind, fields in constructors.items():
        assert not fields & ENVELOPE, (kind, fields & ENVELOPE)
        assert docs[kind] == fields, (kind, "docs/contract.md", docs[kind] ^ fields)
        sdk = sdk_fields(_EVENT_CLASSES[kind])
        assert sdk == fields, (kind, "events.py", sdk ^ fields)


def test_the_doc_parser_reads_the_event_table() -> None:
    docs = documented_fields()
    assert docs["player_left"] == {"playerId", "userId", "characterId", "reason", "kickReason"}
    assert docs["session_created"] == {"status"}
