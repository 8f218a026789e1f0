"""Static checks on supabase/migrations: they must apply unchanged on a real Supabase project,
so they never create platform objects (roles, auth.*, realtime.*), and follow the naming rule."""

from __future__ import annotations

import re
from pathlib import Path

from seer_devstack.postgres import project_root

MIGRATIONS = sorted((project_root() / "supabase" / "migrations").glob("*.sql"))

FORBIDDEN = [
    r"\bcreate\s+role\b",
    r"\balter\s+role\b",
    r"\bcreate\s+(?:or\s+replace\s+)?(?:table|function|view|type|schema)\s+(?:if\s+not\s+exists\s+)?(?:auth|realtime)\b",
    r"\bcreate\s+schema\s+(?:if\s+not\s+exists\s+)?(?:auth|realtime|extensions)\b",
    r"\balter\s+table\s+(?:auth|realtime)\.\w+\s+(?:add|drop|alter|owner)\b",
    r"\bdrop\s+\w+\s+(?:if\s+exists\s+)?(?:auth|realtime)\.",
]


def _sql_without_comments(path: Path) -> str:
    return re.sub(r"--[^\n]*", "", path.read_text()).lower()


def test_migrations_exist_and_are_named_by_utc_timestamp_and_concern() -> None:
    assert len(MIGRATIONS) >= 9
    for m in MIGRATIONS:
        assert re.fullmatch(r"\d{14}_[a-z0-9_]+\.sql", m.name), m.name


def test_migrations_create_no_platform_objects() -> None:
    for m in MIGRATIONS:
        sql = _sql_without_comments(m)
        for pattern in FORBIDDEN:
            assert not re.search(pattern, sql), f"{m.name} matches {pattern!r}"


PUBLIC_FUNCTION = re.compile(r"create\s+(?:or\s+replace\s+)?function\s+public\.(\w+)(.*?)\$\$", re.S)


def test_every_public_function_is_security_definer_with_empty_search_path() -> None:
    for m in MIGRATIONS:
        for match in PUBLIC_FUNCTION.finditer(_sql_without_comments(m)):
            name, header = match.group(1), match.group(2)
            assert "security definer" in header, f"{m.name}: public.{name} is not security definer"
            assert "set search_path = ''" in header, f"{m.name}: public.{name} lacks search_path = ''"
