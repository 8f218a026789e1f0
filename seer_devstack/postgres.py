# pyright: standard
"""A throw-away (or reusable) Postgres 15 cluster with the Supabase platform bootstrap,
our migrations and the seed applied.

Used by ``make test`` (``python -m seer_devstack.postgres exec -- CMD``), by the pytest
fixtures and by the devstack. It shells out to the Debian Postgres binaries (initdb, pg_ctl,
psql) because those are the tools that give exact ``file:line`` errors for a failing
migration, and it runs the server as the unprivileged ``postgres`` OS user when started as
root, since Postgres refuses to run as root.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seer_client._tools import schema
from seer_client._tools.schema import PACKAGED_ROOT, SchemaFiles, schema_files

PG_MAJOR = "15"
INSTALL_HINT = (
    "Postgres 15 was not found. On Debian/Ubuntu install it with:\n"
    "  sudo apt-get install postgresql-15 postgresql-15-pgtap postgresql-15-cron "
    "postgresql-15-plpgsql-check\n"
    "or point PG_BINDIR at a directory holding initdb, pg_ctl and psql."
)

BOOTSTRAP_DIR = Path(__file__).with_name("bootstrap")
#: Bootstrap files applied to a database (platform stand-ins; migrations are tracked by the CLI's table).
TRACK_SQL = """
create schema if not exists seer_devstack;
create table if not exists seer_devstack.applied_files (
  name text primary key, sha256 text not null, applied_at timestamptz not null default now()
);
"""


class PostgresError(RuntimeError):
    """A cluster could not be created, started or migrated. The message is for humans."""


def project_root() -> Path:
    """The repository root (the folder holding ``supabase/``); outside a checkout, the cwd."""
    return schema_files().root if schema_files().root != PACKAGED_ROOT else Path.cwd()


def supabase_cli() -> Path | None:
    """The Supabase CLI: ``SEER_SUPABASE_CLI``, the checkout's ``node_modules/.bin``, or PATH.

    ``SEER_SUPABASE_CLI=none`` makes the devstack apply migrations itself (same tracking rows).
    """
    env = os.environ.get("SEER_SUPABASE_CLI")
    if env:
        return None if env == "none" else Path(env)
    local = project_root() / "node_modules" / ".bin" / "supabase"
    if local.exists():
        return local
    found = shutil.which("supabase")
    return Path(found) if found else None


def find_bindir() -> Path:
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    candidates.append(Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin"))
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.CalledProcessError):
            pass
    for c in candidates:
        if (c / "initdb").exists() and (c / "pg_ctl").exists() and (c / "postgres").exists():
            return c
    raise PostgresError(INSTALL_HINT)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False


def _extension_available(bindir: Path, name: str) -> bool:
    sharedir = bindir.parent.parent.parent.parent / "share" / "postgresql" / PG_MAJOR / "extension"
    if not sharedir.is_dir():
        try:
            out = subprocess.run(
                [str(bindir / "pg_config"), "--sharedir"], capture_output=True, text=True, check=True
            )
            sharedir = Path(out.stdout.strip()) / "extension"
        except (OSError, subprocess.CalledProcessError):
            return False
    return (sharedir / f"{name}.control").exists()


@dataclass
class PostgresCluster:
    """One Postgres cluster on 127.0.0.1.

    ``data_dir=None`` makes a temporary cluster that :meth:`stop` deletes; a given
    ``data_dir`` is created on first use and reused afterwards.
    """

    data_dir: Path | None = None
    port: int | None = None
    host: str = "127.0.0.1"
    user: str = "postgres"
    password: str = "postgres"
    #: The cluster superuser, as on the Supabase image; bootstrap SQL runs as this role,
    #: migrations, seed and tests as ``user`` (a non-superuser, like ``postgres`` there).
    superuser: str = "supabase_admin"
    database: str = "postgres"
    bindir: Path = field(default_factory=find_bindir)
    _temp: bool = field(default=False, init=False)
    _os_user: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.data_dir is None:
            base = Path(tempfile.mkdtemp(prefix="seer-pg-"))
            self.data_dir = base / "data"
            self._temp = True
        self.data_dir = Path(self.data_dir).resolve()
        if os.geteuid() == 0:
            # Postgres refuses to run as root: run it as the distribution's postgres user.
            try:
                pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresError(
                    "running as root needs an unprivileged 'postgres' OS user "
                    "(created by the postgresql-15 package)"
                ) from exc
            self._os_user = "postgres"

    # -- helpers -------------------------------------------------------------------------
    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://{self.superuser}:{self.password}@{self.host}:{self.port}/{self.database}"

    def env(self) -> dict[str, str]:
        """libpq environment for tools (psql, pgbench) and for child processes."""
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": self.database,
            "DATABASE_URL": self.dsn,
        }

    def _as_pg(self, argv: list[str]) -> list[str]:
        if self._os_user:
            return ["runuser", "-u", self._os_user, "--", *argv]
        return argv

    def _run(self, argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, capture_output=True, text=True, **kw)

    @property
    def initialized(self) -> bool:
        assert self.data_dir is not None
        return (self.data_dir / "PG_VERSION").exists()

    # -- lifecycle -----------------------------------------------------------------------
    def init(self) -> None:
        assert self.data_dir is not None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pwdir = Path(tempfile.mkdtemp(prefix="seer-pgpass-"))
        pwfile = pwdir / "pw"
        pwfile.write_text(self.password + "\n")
        if self._os_user:
            pw = pwd.getpwnam(self._os_user)
            owned = [self.data_dir, pwdir, pwfile] + ([self.data_dir.parent] if self._temp else [])
            for p in owned:
                os.chown(p, pw.pw_uid, pw.pw_gid)
        try:
            res = self._run(
                self._as_pg(
                    [
                        str(self.bindir / "initdb"),
                        "-D",
                        str(self.data_dir),
                        "-U",
                        self.superuser,
                        "--pwfile",
                        str(pwfile),
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                        "-E",
                        "UTF8",
                        "--locale=C.UTF-8",
                    ]
                )
            )
        finally:
            shutil.rmtree(pwdir, ignore_errors=True)
        if res.returncode != 0:
            raise PostgresError(f"initdb failed:\n{res.stderr or res.stdout}")
        conf = [
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.data_dir}'",
            "max_connections = 300",
            "shared_buffers = 256MB",
            # A throw-away development cluster: durability is not worth the fsyncs.
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "wal_level = logical",
            "log_min_messages = warning",
            "shared_preload_libraries = 'pg_stat_statements"
            + (",pg_cron'" if _extension_available(self.bindir, "pg_cron") else "'"),
            f"cron.database_name = '{self.database}'",
        ]
        with open(self.data_dir / "postgresql.conf", "a") as fh:
            fh.write("\n# seer devstack\n" + "\n".join(conf) + "\n")

    def start(self) -> None:
        if self.port is None:
            self.port = free_port(self.host)
        elif port_in_use(self.port, self.host):
            raise PostgresError(
                f"port {self.port} on {self.host} is already in use (choose another with --db-port)"
            )
        if not self.initialized:
            self.init()
        assert self.data_dir is not None
        res = self._run(
            self._as_pg(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-o",
                    f"-p {self.port}",
                    "-l",
                    str(self.data_dir / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            )
        )
        if res.returncode != 0:
            log = ""
            try:
                log = (self.data_dir / "server.log").read_text()[-2000:]
            except OSError:
                pass
            raise PostgresError(f"could not start Postgres on port {self.port}:\n{res.stderr}{log}")

    def stop(self, *, remove: bool | None = None) -> None:
        assert self.data_dir is not None
        if self.initialized and (self.data_dir / "postmaster.pid").exists():
            self._run(
                self._as_pg(
                    [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]
                )
            )
        if remove if remove is not None else self._temp:
            shutil.rmtree(self.data_dir.parent if self._temp else self.data_dir, ignore_errors=True)

    def running(self) -> bool:
        assert self.data_dir is not None
        res = self._run(self._as_pg([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "status"]))
        return res.returncode == 0

    # -- SQL -----------------------------------------------------------------------------
    def psql(
        self, *args: str, database: str | None = None, admin: bool = False, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.env()}
        if database:
            env["PGDATABASE"] = database
        if admin:
            env["PGUSER"] = self.superuser
        res = subprocess.run(
            [str(self.bindir / "psql"), "-X", "-v", "ON_ERROR_STOP=1", "-q", *args],
            capture_output=True,
            text=True,
            env=env,
        )
        if check and res.returncode != 0:
            raise PostgresError(res.stderr.strip() or res.stdout.strip())
        return res

    def apply_file(self, path: Path, *, admin: bool = False) -> None:
        """Apply one SQL file in one transaction; errors name the file and line."""
        res = self.psql("--single-transaction", "-f", str(path), admin=admin, check=False)
        if res.returncode != 0:
            raise PostgresError(f"applying {path} failed:\n{res.stderr.strip()}")

    def setup(
        self, root: Path | None = None, *, seed: bool = True, progress: Callable[[str], None] | None = None
    ) -> list[Path]:
        """Bootstrap, then migrations (in name order) and seed. Returns the files applied.

        Bootstrap files are tracked in ``seer_devstack.applied_files`` and applied once each;
        migrations and the seed are applied like ``supabase db push --include-seed`` (by the
        Supabase CLI when it is installed, else by :func:`seer_client._tools.schema.apply`), so a
        reused database gets only what is new and its history is the CLI's own
        ``supabase_migrations.schema_migrations`` table. ``root`` is a Supabase CLI project
        directory (holding ``supabase/``): by default the checkout's, else the wheel's copy.
        ``progress`` is told each migration as it is applied ("migration 3 of 17: <file>").
        """
        files = SchemaFiles(root) if root is not None else schema_files()
        if not files.migrations:
            raise PostgresError(
                f"no migrations found in {files.supabase_dir / 'migrations'}: "
                "reinstall seer-client or set SEER_PROJECT_ROOT to a checkout"
            )
        applied = self._apply_bootstrap()
        applied += self.push(files, seed=seed, progress=progress)
        return applied

    def _apply_bootstrap(self) -> list[Path]:
        self.psql("-c", TRACK_SQL, admin=True)
        res = self.psql("-At", "-c", "select name from seer_devstack.applied_files", admin=True)
        done = set(res.stdout.split())
        applied: list[Path] = []
        for path in sorted(BOOTSTRAP_DIR.glob("*.sql")):
            if f"bootstrap/{path.name}" in done:
                continue
            self.apply_file(path, admin=True)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            self.psql(
                "-c",
                "insert into seer_devstack.applied_files (name, sha256) "
                f"values ('bootstrap/{path.name}', '{digest}')",
                admin=True,
            )
            applied.append(path)
        return applied

    def push(
        self, files: SchemaFiles, *, seed: bool = True, progress: Callable[[str], None] | None = None
    ) -> list[Path]:
        """Apply pending migrations (and the seed) of ``files``; returns what was pending."""
        before = self._applied_versions()
        pending = [m.path for m in files.migrations if m.version not in before]
        total = len(files.migrations)
        done = total - len(pending)
        say = progress or (lambda _text: None)
        if not pending:
            say(f"migrations: all {total} already applied")

        def tell(name: str) -> None:
            nonlocal done
            done += 1
            say(f"migration {done} of {total}: {name}")

        cli = supabase_cli()
        if cli is not None:
            db_url = f"{self.dsn}?sslmode=disable"
            argv = [str(cli), "db", "push", "--db-url", db_url, "--workdir", str(files.root), "--yes"]
            if seed:
                argv.append("--include-seed")
            output: list[str] = []
            with subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
            ) as proc:
                assert proc.stdout is not None
                for line in proc.stdout:
                    output.append(line)
                    # The CLI says "Applying migration <file>..." as it goes.
                    match = re.match(r"Applying migration (\S+?)\.\.\.", line.strip())
                    if match:
                        tell(match.group(1))
            if proc.returncode != 0:
                raise PostgresError(f"supabase db push failed:\n{''.join(output).strip()}")
        else:
            # psql, one transaction per file with its history row: errors keep psql's file:line.
            self.psql("-c", schema.TRACKING_SQL)
            seeded = self._seeded()
            for m in files.migrations:
                if m.version in before:
                    continue
                tell(m.path.name)
                self._apply_with(m.path, schema.record_migration_sql(m))
            if seed and files.seed is not None and schema.SEED_PATH not in seeded:
                self._apply_with(files.seed, schema.record_seed_sql(files.seed))
        if seed and files.seed is not None:
            pending.append(files.seed)
        return pending

    def _apply_with(self, path: Path, record_sql: str) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as record:
            record.write(record_sql)
        try:
            res = self.psql("--single-transaction", "-f", str(path), "-f", record.name, check=False)
        finally:
            os.unlink(record.name)
        if res.returncode != 0:
            raise PostgresError(f"applying {path} failed:\n{res.stderr.strip()}")

    def _seeded(self) -> set[str]:
        res = self.psql("-At", "-c", "select path from supabase_migrations.seed_files", admin=True)
        return set(res.stdout.split())

    def _applied_versions(self) -> set[str]:
        res = self.psql(
            "-At",
            "-c",
            "select version from supabase_migrations.schema_migrations",
            admin=True,
            check=False,
        )
        return set(res.stdout.split()) if res.returncode == 0 else set()

    def __enter__(self) -> PostgresCluster:
        self.start()
        try:
            self.setup()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seer_devstack.postgres",
        description="Run a command against a throw-away Postgres 15 with bootstrap, migrations and seed.",
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("exec", help="start a temp cluster, run CMD with PG*/DATABASE_URL set, tear down")
    ex.add_argument("--no-seed", action="store_true")
    ex.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("exec needs a command after --")
    try:
        cluster = PostgresCluster()
        cluster.start()
    except PostgresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        try:
            cluster.setup(seed=not args.no_seed)
        except PostgresError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        env = {**os.environ, **cluster.env(), "SEER_TEST_DB_EXTERNAL": "1"}
        return subprocess.call(command, env=env)
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
