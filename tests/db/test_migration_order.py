"""The migrations apply one at a time, and each leaves a database whose functions all check.

Issue 18: a migration's function must not reach forward to a table, column or function that a
later migration creates (``write_event_at`` once read ``seer_private.session_channels`` three
migrations before it existed). Postgres does not notice: a plpgsql body is only parsed when it
runs. So this applies the migrations one by one onto a fresh database (platform bootstrap first)
and, after each, runs ``plpgsql_check`` on every plpgsql function in ``public`` and
``seer_private`` created so far; an error names the migration and the function.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from seer_client._tools import schema
from seer_devstack.postgres import PostgresCluster, PostgresError

#: Every error plpgsql_check finds in our plpgsql functions (trigger functions are checked
#: against the table of their trigger, as in supabase/tests/database/00_schema.test.sql).
CHECK_SQL = """
select p.oid::regprocedure::text || ': ' || c.message
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
cross join lateral extensions.plpgsql_check_function_tb(
  p.oid,
  case when p.prorettype = 'trigger'::regtype
       then coalesce((select min(t.tgrelid::oid) from pg_trigger t where t.tgfoid = p.oid),
                     'auth.users'::regclass)
       else 0::oid end) c
where n.nspname in ('public', 'seer_private')
  and p.prolang = (select oid from pg_language where lanname = 'plpgsql')
  and c.level = 'error'
order by 1
"""

COUNT_SQL = """
select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where n.nspname in ('public', 'seer_private')
  and p.prolang = (select oid from pg_language where lanname = 'plpgsql')
"""


@pytest.fixture(scope="module")
def bootstrapped() -> Iterator[PostgresCluster]:
    """A fresh Postgres with only Supabase's platform stand-ins (no migrations yet)."""
    cluster = PostgresCluster()
    cluster.start()
    try:
        cluster._apply_bootstrap()
        yield cluster
    finally:
        cluster.stop()


def _scalar_lines(cluster: PostgresCluster, sql: str) -> list[str]:
    res = cluster.psql("-At", "-c", sql, admin=True)
    return [line for line in res.stdout.splitlines() if line]


def test_each_migration_references_only_what_exists_when_it_applies(
    bootstrapped: PostgresCluster,
) -> None:
    migrations = schema.schema_files().migrations
    assert migrations
    findings: list[str] = []
    seen: set[str] = set()
    for m in migrations:
        try:
            bootstrapped.apply_file(m.path)
        except PostgresError as exc:
            pytest.fail(f"{m.path.name} does not apply on its own predecessors: {exc}")
        # Each finding once, named by the first migration after which it shows.
        new = [line for line in _scalar_lines(bootstrapped, CHECK_SQL) if line not in seen]
        seen.update(new)
        findings += [f"after {m.path.name}: {line}" for line in new]
    assert findings == [], "\n".join(findings)
    # The check looked at something: every plpgsql function of ours exists by now.
    assert int(_scalar_lines(bootstrapped, COUNT_SQL)[0]) >= 25


KERNEL = "session_kernel"
INDEX_TITLE = "-- Where each function's current body lives"
CREATE_FUNCTION = re.compile(r"create\s+(?:or\s+replace\s+)?function\s+\w+\.(\w+)", re.I)


def _function_homes() -> dict[str, str]:
    """Each function's name -> the migration holding its current body (the last that creates
    or replaces it)."""
    homes: dict[str, str] = {}
    for m in schema.schema_files().migrations:
        for match in CREATE_FUNCTION.finditer(re.sub(r"--[^\n]*", "", m.path.read_text())):
            homes[match.group(1)] = m.path.stem
    return homes


def _kernel_index() -> dict[str, str]:
    """The kernel header's list: '--   <migration>: a, b,' lines, continued by '--     c, d'."""
    (kernel,) = [m.path for m in schema.schema_files().migrations if m.name == KERNEL]
    lines = kernel.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(INDEX_TITLE))
    index: dict[str, str] = {}
    stem = ""
    for line in lines[start + 1 :]:
        if not line.startswith("--"):
            break
        entry = re.fullmatch(r"--   (\d{14}_\w+): (.*)", line)
        if entry:
            stem, names = entry.group(1), entry.group(2)
        elif line.startswith("--     ") and stem:
            names = line[len("--     ") :]
        else:
            continue
        for name in filter(None, (n.strip() for n in names.split(","))):
            assert name not in index, f"{name} is listed twice in the kernel header"
            index[name] = stem
    return index


def test_kernel_header_says_where_each_function_body_lives() -> None:
    homes = _function_homes()
    assert len(homes) >= 100
    assert _kernel_index() == homes
