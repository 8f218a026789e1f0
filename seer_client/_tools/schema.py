"""The database schema this SDK talks to: migrations, seed and the ``invite`` Edge Function.

One source of truth: the files under ``supabase/`` in the repository. A wheel carries a copy
(made at build time, see ``setup.py``) under ``seer_client/_schema/supabase``, so an installed
package can export them as a Supabase CLI project (``seer-client schema export DIR``) or apply
them to a Postgres that already has Supabase's platform schema (``seer-client schema apply``).

``apply`` records what it ran exactly as ``supabase db push`` does: one row per migration in
``supabase_migrations.schema_migrations`` (``version``, ``name``, ``statements`` split the way
the CLI splits them) and one row per seed file in ``supabase_migrations.seed_files`` (``path``,
sha256 ``hash``), so the CLI and this command can take turns on the same database.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Migration",
    "SchemaFiles",
    "apply",
    "export",
    "schema_files",
    "split_statements",
]

log: logging.Logger = logging.getLogger("seer_client.schema")

#: Where a wheel keeps its copy (a Supabase CLI project directory: ``<here>/supabase/...``).
PACKAGED_ROOT = Path(__file__).resolve().parent.parent / "_schema"  # seer_client/_schema
_MIGRATION_NAME = re.compile(r"^([0-9]+)_(.*)\.sql$")
#: What travels in the wheel, relative to ``supabase/`` (tests of the invite function stay behind).
FUNCTION_SUFFIXES = (".ts", ".json", ".lock", ".js", ".LICENSE")  # .js: the invite web client (static/)


@dataclass(frozen=True)
class Migration:
    """One migration file: ``<version>_<name>.sql``."""

    path: Path
    version: str
    name: str


@dataclass(frozen=True)
class SchemaFiles:
    """A Supabase CLI project: ``root/supabase/{migrations,seed.sql,functions,config.toml}``."""

    root: Path

    @property
    def supabase_dir(self) -> Path:
        """The ``supabase/`` directory."""
        return self.root / "supabase"

    @property
    def migrations(self) -> list[Migration]:
        """The migrations in the order they apply (by file name, as the CLI orders them)."""
        found: list[Migration] = []
        for path in sorted((self.supabase_dir / "migrations").glob("*.sql")):
            match = _MIGRATION_NAME.match(path.name)
            if match:
                found.append(Migration(path, match.group(1), match.group(2)))
        return found

    @property
    def seed(self) -> Path | None:
        """``supabase/seed.sql`` when present."""
        path = self.supabase_dir / "seed.sql"
        return path if path.is_file() else None

    @property
    def functions_dir(self) -> Path:
        """``supabase/functions``."""
        return self.supabase_dir / "functions"

    def files(self) -> list[Path]:
        """Every file a user's project needs, relative to ``supabase/`` (what the wheel carries)."""
        out = [m.path.relative_to(self.supabase_dir) for m in self.migrations]
        if self.seed is not None:
            out.append(Path("seed.sql"))
        config = self.supabase_dir / "config.toml"
        if config.is_file():
            out.append(Path("config.toml"))
        for fn in sorted(self.functions_dir.glob("*/")):
            for path in sorted(fn.rglob("*")):
                if path.is_file() and path.suffix in FUNCTION_SUFFIXES and "_test" not in path.stem:
                    out.append(path.relative_to(self.supabase_dir))
        return out


def _checkout_root() -> Path | None:
    env = os.environ.get("SEER_PROJECT_ROOT")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        if (parent / "supabase" / "migrations").is_dir() and (parent / "pyproject.toml").is_file():
            return parent
    return None


def schema_files() -> SchemaFiles:
    """The repository's ``supabase/`` in a checkout, else the copy inside the installed wheel."""
    root = _checkout_root()
    return SchemaFiles(root if root is not None else PACKAGED_ROOT)


def export(dest: str | Path, *, source: SchemaFiles | None = None) -> list[Path]:
    """Write ``dest/supabase/...`` (migrations, seed, config, functions). Returns the files written.

    Existing files with other names are left alone; files of ours are overwritten.
    """
    src = source or schema_files()
    written: list[Path] = []
    for rel in src.files():
        target = Path(dest) / "supabase" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src.supabase_dir / rel, target)
        written.append(target)
    return written


# -- splitting, as the Supabase CLI does (pkg/parser: a tokenizer over quotes/comments) ---------
def split_statements(sql: str) -> list[str]:
    """Split SQL text into statements exactly as ``supabase db push`` records them.

    A port of the CLI's ``parser.SplitAndTrim``: ``;`` separates statements except inside
    '…', "…", ``$tag$…$tag$``, ``--`` and ``/* */`` comments, parentheses and
    ``BEGIN ATOMIC … END`` bodies; each statement keeps its comments, loses trailing ``;``
    and surrounding white space; empty ones are dropped.
    """
    out: list[str] = []
    for token in _tokens(sql):
        trimmed = token.rstrip(";").strip()
        if trimmed:
            out.append(trimmed)
    return out


def _is_ident(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


def _is_begin_atomic(data: str) -> bool:
    if not data.upper().endswith("ATOMIC"):
        return False
    offset = len(data) - len("ATOMIC")
    if offset > 0 and _is_ident(data[offset - 1]):
        return False
    prefix = data[:offset].rstrip()
    if not prefix.upper().endswith("BEGIN"):
        return False
    start = len(prefix) - len("BEGIN")
    return start == 0 or not _is_ident(prefix[start - 1])


class _State:
    def next(self, ch: str, data: str) -> _State | None:
        raise NotImplementedError


class _Ready(_State):
    def next(self, ch: str, data: str) -> _State | None:
        if ch == "$":
            return _Tag(len(data) - 1)
        if ch in "'\"":
            return _Quote(ch)
        if ch == "-":
            return _Comment()
        if ch == "/":
            return _Block()
        if ch == "\\":
            return _Escape()
        if ch == ";":
            return None
        if ch == "(":
            return _Atomic(self, ")")
        if ch in "cC" and _is_begin_atomic(data):
            return _Atomic(self, "END")
        return self


class _Comment(_State):
    def next(self, ch: str, data: str) -> _State | None:
        if ch == "-":
            return _Dollar("\n")
        return _Ready().next(ch, data)


class _Block(_State):
    def __init__(self) -> None:
        self.depth = 0

    def next(self, ch: str, data: str) -> _State | None:
        window = data[-2:]
        if window == "/*":
            self.depth += 1
            return self
        if self.depth == 0:
            return _Ready().next(ch, data)
        if window == "*/":
            self.depth -= 1
            if self.depth == 0:
                return _Ready()
        return self


class _Quote(_State):
    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter
        self.escape = False

    def next(self, ch: str, data: str) -> _State | None:
        if self.escape:
            if ch == self.delimiter:
                self.escape = False
                return self
            return _Ready().next(ch, data)
        if ch == self.delimiter:
            self.escape = True
        return self


class _Dollar(_State):
    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter

    def next(self, ch: str, data: str) -> _State | None:
        if data.endswith(self.delimiter):
            return _Ready()
        return self


class _Tag(_State):
    def __init__(self, offset: int) -> None:
        self.offset = offset

    def next(self, ch: str, data: str) -> _State | None:
        if ch == "$":
            return _Dollar(data[self.offset :])
        if ch.isalnum() or ch == "_":
            return self
        return _Ready().next(ch, data)


class _Escape(_State):
    def next(self, ch: str, data: str) -> _State | None:
        return _Ready()


class _Atomic(_State):
    def __init__(self, prev: _State, delimiter: str) -> None:
        self.prev = prev
        self.delimiter = delimiter

    def next(self, ch: str, data: str) -> _State | None:
        current = self.prev.next(ch, data)
        if current is not None:
            self.prev = current
        if isinstance(self.prev, _Ready) and data[-len(self.delimiter) :].upper() == self.delimiter.upper():
            return _Ready()
        return self


def _tokens(sql: str) -> list[str]:
    tokens: list[str] = []
    state: _State = _Ready()
    start = 0
    for i, ch in enumerate(sql):
        # The CLI's states see the current statement's text so far (up to and including ch).
        nxt = state.next(ch, sql[start : i + 1])
        if nxt is None:
            tokens.append(sql[start : i + 1])
            start = i + 1
            state = _Ready()
        else:
            state = nxt
    if start < len(sql):
        tokens.append(sql[start:])
    return tokens


# -- applying ---------------------------------------------------------------------------------
#: The CLI's history tables (pkg/migration/history.go), created the way it creates them.
TRACKING_SQL = """\
set local lock_timeout = '4s';
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (version text not null primary key);
alter table supabase_migrations.schema_migrations add column if not exists statements text[];
alter table supabase_migrations.schema_migrations add column if not exists name text;
create table if not exists supabase_migrations.seed_files
  (path text not null primary key, hash text not null);
"""
#: The path ``supabase db push`` records for the seed (relative to the project directory).
SEED_PATH = "supabase/seed.sql"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def record_migration_sql(migration: Migration) -> str:
    """The history row ``supabase db push`` writes for ``migration`` (one SQL statement)."""
    statements = split_statements(migration.path.read_text())
    array = "array[" + ", ".join(_literal(s) for s in statements) + "]::text[]"
    return (
        "insert into supabase_migrations.schema_migrations(version, name, statements) values ("
        f"{_literal(migration.version)}, {_literal(migration.name)}, {array});"
    )


def record_seed_sql(seed: Path) -> str:
    """The ``seed_files`` row ``supabase db push --include-seed`` writes (path and sha256)."""
    digest = hashlib.sha256(seed.read_bytes()).hexdigest()
    return (
        "insert into supabase_migrations.seed_files(path, hash) values "
        f"({_literal(SEED_PATH)}, {_literal(digest)}) on conflict (path) do update set hash = excluded.hash;"
    )


@dataclass(frozen=True)
class ApplyResult:
    """What :func:`apply` did."""

    applied: list[str]
    skipped: list[str]
    seeded: list[str]


async def apply(db_url: str, *, include_seed: bool = False, source: SchemaFiles | None = None) -> ApplyResult:
    """Apply pending migrations (and, with ``include_seed``, new seed files) like ``supabase db push``.

    Each migration runs in its own transaction together with its tracking row; a failure names
    the file and the statement and leaves that migration unapplied.
    """
    try:
        asyncpg: Any = importlib.import_module("asyncpg")  # untyped; ships with the devstack extra
    except ImportError as exc:  # pragma: no cover - asyncpg ships with the devstack extra
        raise RuntimeError("schema apply needs asyncpg: pip install 'seer-client[devstack]'") from exc

    src = source or schema_files()
    migrations = src.migrations
    if not migrations:
        raise RuntimeError(f"no migrations found under {src.supabase_dir / 'migrations'}")
    conn = await asyncpg.connect(db_url)
    try:
        async with conn.transaction():
            await conn.execute(TRACKING_SQL)
        rows = await conn.fetch("select version from supabase_migrations.schema_migrations")
        done = {r["version"] for r in rows}
        applied: list[str] = []
        skipped: list[str] = []
        for m in migrations:
            if m.version in done:
                skipped.append(m.path.name)
                continue
            log.info("applying migration %s", m.path.name)
            async with conn.transaction():
                for n, stmt in enumerate(split_statements(m.path.read_text())):
                    try:
                        await conn.execute(stmt)
                    except asyncpg.PostgresError as exc:
                        raise RuntimeError(f"{m.path.name}: statement {n}: {exc}\n{stmt[:500]}") from exc
                await conn.execute(record_migration_sql(m))
            applied.append(m.path.name)
        seeded: list[str] = []
        if include_seed and src.seed is not None:
            digest = hashlib.sha256(src.seed.read_bytes()).hexdigest()
            row = await conn.fetchrow(
                "select hash from supabase_migrations.seed_files where path = $1", SEED_PATH
            )
            if row is None or row["hash"] != digest:
                async with conn.transaction():
                    if row is None:  # the CLI only re-hashes a changed seed; it does not re-run it
                        for stmt in split_statements(src.seed.read_text()):
                            await conn.execute(stmt)
                    await conn.execute(record_seed_sql(src.seed))
                seeded.append(SEED_PATH)
        return ApplyResult(applied=applied, skipped=skipped, seeded=seeded)
    finally:
        await conn.close()
