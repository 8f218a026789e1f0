"""One source per catalogue (issue 21), in the pattern of test_event_shapes.py: the error codes of
``seer_private.error_codes`` are the SDK's :class:`SessionErrorCode` (name, HTTP status,
message, one exception class each) and docs/contract.md's table; the session settings defaults
of ``seer_private.validate_settings`` are :class:`SessionSettings`' and docs/contract.md's."""

from __future__ import annotations

import json
import re

import asyncpg

from seer_client.errors import ERROR_TABLE, SESSION_ERROR_CLASSES, SessionErrorCode
from seer_client.models import SessionSettings
from seer_devstack.postgres import project_root

Row = tuple[str, int, str]  # name, status, message


def documented_errors() -> dict[str, Row]:
    text = (project_root() / "docs" / "contract.md").read_text()
    return {
        m.group(1): (m.group(2), int(m.group(3)), m.group(4).strip())
        for m in re.finditer(r"^\| (SESSION_\d{3}) \| (\w+) \| (\d{3}) \| (.*?) \|$", text, re.M)
    }


def sdk_guide_errors() -> dict[str, tuple[str, int]]:
    """docs/sdk.md's table: code -> (exception class, HTTP status)."""
    text = (project_root() / "docs" / "sdk.md").read_text()
    return {
        m.group(2): (m.group(1), int(m.group(3)))
        for m in re.finditer(r"^\| `(\w+)`[^|]* \| (SESSION_\d{3})[^|]* \| (\d{3}) \|$", text, re.M)
    }


def documented_settings() -> dict[str, bool]:
    text = (project_root() / "docs" / "contract.md").read_text()
    body = re.search(r"`SessionSettings`: `\{(.*?)\}`", text)
    assert body is not None, "docs/contract.md lists SessionSettings' defaults"
    pairs = (item.split(":") for item in body.group(1).split(","))
    return {k.strip(): json.loads(v.strip()) for k, v in pairs}


async def test_the_error_catalogue_is_one_list(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("select code, name, status, message from seer_private.error_codes")
    finally:
        await conn.close()
    database = {r["code"]: (r["name"], r["status"], r["message"]) for r in rows}
    sdk = {code.value: (code.name, *ERROR_TABLE[code]) for code in SessionErrorCode}
    assert sdk == database, set(sdk.items()) ^ set(database.items())
    assert documented_errors() == database, set(documented_errors().items()) ^ set(database.items())
    assert set(SESSION_ERROR_CLASSES) == set(SessionErrorCode)
    guide = {code.value: (cls.__name__, ERROR_TABLE[code][0]) for code, cls in SESSION_ERROR_CLASSES.items()}
    assert sdk_guide_errors() == guide, set(sdk_guide_errors().items()) ^ set(guide.items())
    for code, cls in SESSION_ERROR_CLASSES.items():
        assert cls.error_code is code and cls().status == ERROR_TABLE[code][0]


async def test_the_settings_defaults_are_one_list(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        database = json.loads(await conn.fetchval("select seer_private.validate_settings(null)::text"))
    finally:
        await conn.close()
    sdk = SessionSettings().model_dump(by_alias=True)
    assert sdk == database == documented_settings()
