"""The wheel (issue 12): it carries the schema byte for byte, installs outside the checkout and
runs the devstack demo from there, its public API is fully typed, and `seer-client schema`
exports a Supabase CLI project and applies it with the CLI's own history rows."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from seer_client._tools import schema
from seer_devstack.postgres import PostgresCluster, supabase_cli

ROOT = Path(__file__).resolve().parents[1]
PYRIGHT = ROOT / "node_modules" / ".bin" / "pyright"
HISTORY = (
    "select version, name, statements from supabase_migrations.schema_migrations order by 1",
    "select path, hash from supabase_migrations.seed_files order by 1",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("seer_client-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv outside the checkout with the wheel installed (dependencies borrowed from ours)."""
    home = tmp_path_factory.mktemp("wheeltest")
    env_dir = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    site = next((env_dir / "lib").glob("python3.*/site-packages"))
    ours = next((Path(sys.prefix) / "lib").glob("python3.*/site-packages"))
    # A plain path line: the editable finder's .pth in our site-packages is not processed.
    (site / "zz_deps.pth").write_text(f"{ours}\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(env_dir / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return env_dir


def _outside_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEER_", "VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
    return env


def test_wheel_carries_the_schema_byte_for_byte(wheel: Path) -> None:
    repo = schema.SchemaFiles(ROOT)
    expected = {
        f"seer_client/_schema/supabase/{rel.as_posix()}": (repo.supabase_dir / rel).read_bytes()
        for rel in repo.files()
    }
    assert any("/migrations/" in name for name in expected) and any(n.endswith("seed.sql") for n in expected)
    assert any("/functions/invite/index.ts" in n for n in expected)
    # the browser client's static files (config.toml's static_files) travel too
    assert any("/functions/invite/static/app.js" in n for n in expected)
    with zipfile.ZipFile(wheel) as zf:
        packaged = {n: zf.read(n) for n in zf.namelist() if n.startswith("seer_client/_schema/")}
        metadata = zf.read(next(n for n in zf.namelist() if n.endswith("METADATA"))).decode()
        entry_points = zf.read(next(n for n in zf.namelist() if n.endswith("entry_points.txt"))).decode()
    assert packaged == expected
    assert "seer-client = seer_client._tools.cli:main" in entry_points
    assert "Provides-Extra: devstack" in metadata and 'asyncpg>=0.29; extra == "devstack"' in metadata


def test_installed_wheel_runs_the_demo_outside_the_checkout(venv: Path, tmp_path: Path) -> None:
    env = _outside_env(venv)
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import seer_client._tools.schema as s; print(s.schema_files().root)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    )
    assert where.stdout.strip().startswith(str(venv)), where.stdout  # the packaged copy, not the repo
    demo = subprocess.run(
        [str(venv / "bin" / "seer-client"), "demo", "--quiet"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert demo.returncode == 0 and "PASS: demo finished" in demo.stdout, (
        demo.stdout[-3000:] + demo.stderr[-3000:]
    )


def test_installed_devstack_is_found_from_any_directory(venv: Path, tmp_path: Path) -> None:
    """Issue 21: a stack started in one directory was invisible from another (`status` said "not
    running", `stop` exited 0 while it ran) and every directory used got a `.seer/` folder."""
    from seer_devstack.postgres import free_port

    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    env = {**_outside_env(venv), "XDG_STATE_HOME": str(tmp_path / "xdg")}
    port = free_port()

    def devstack(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(venv / "bin" / "seer-devstack"), *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=180,
        )

    started = devstack("start", "--detach", "--port", str(port), "--db-port", str(free_port()), cwd=here)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        state = tmp_path / "xdg" / "seer-devstack" / str(port)
        out = started.stdout
        assert "Postgres: running on port" in out and "gateway: Auth, REST, Realtime" in out
        assert f"migration 1 of {len(schema.schema_files().migrations)}: " in out
        assert "Database: throw-away: deleted on stop (keep it with --data-dir DIR)" in out
        assert f"State: {state}" in out
        status = devstack("status", cwd=there)
        assert status.returncode == 0 and f"running on port {port}" in status.stdout, status.stdout
        env_out = devstack("status", "-o", "env", cwd=there).stdout
        assert f'SUPABASE_URL="http://127.0.0.1:{port}"' in env_out.splitlines()
        doc = json.loads(devstack("status", "--json", "--port", str(port), cwd=there).stdout)
        assert all(key.isidentifier() for key in doc) and doc["API_URL"] == f"http://127.0.0.1:{port}"
    finally:
        stopped = devstack("stop", cwd=there)
    assert stopped.returncode == 0 and f"Stopped seer devstack on port {port}" in stopped.stdout
    assert devstack("status", cwd=there).returncode == 1
    assert list(here.iterdir()) == [] and list(there.iterdir()) == []


def test_public_api_type_completeness_is_100_percent(venv: Path, tmp_path: Path) -> None:
    assert PYRIGHT.exists(), "pyright is installed by npm ci (package.json)"
    res = subprocess.run(
        [str(PYRIGHT), "--verifytypes", "seer_client", "--ignoreexternal"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_outside_env(venv),
    )
    assert "Type completeness score: 100%" in res.stdout, res.stdout[-6000:]


def test_schema_export_writes_a_supabase_cli_project(venv: Path, tmp_path: Path) -> None:
    res = subprocess.run(
        [str(venv / "bin" / "seer-client"), "schema", "export", str(tmp_path / "proj")],
        capture_output=True,
        text=True,
        env=_outside_env(venv),
        check=True,
    )
    assert "migrations" in res.stdout
    repo = schema.SchemaFiles(ROOT)
    exported = schema.SchemaFiles(tmp_path / "proj")
    assert exported.files() == repo.files()
    for rel in repo.files():
        assert (exported.supabase_dir / rel).read_bytes() == (repo.supabase_dir / rel).read_bytes()


@pytest.fixture
def bootstrapped() -> Iterator[PostgresCluster]:
    """A fresh Postgres with only Supabase's platform stand-ins (no migrations yet)."""
    cluster = PostgresCluster()
    cluster.start()
    try:
        cluster._apply_bootstrap()
        yield cluster
    finally:
        cluster.stop()


def _history(cluster: PostgresCluster) -> str:
    return cluster.psql("-At", "-c", HISTORY[0], "-c", HISTORY[1], admin=True).stdout


def test_schema_apply_records_what_supabase_db_push_records(bootstrapped: PostgresCluster) -> None:
    result = asyncio.run(schema.apply(bootstrapped.dsn, include_seed=True))
    assert result.applied == [m.path.name for m in schema.schema_files().migrations]
    assert result.seeded == [schema.SEED_PATH]
    ours = _history(bootstrapped)
    again = asyncio.run(schema.apply(bootstrapped.dsn, include_seed=True))
    assert again.applied == [] and again.seeded == [] and len(again.skipped) == len(result.applied)
    cli = supabase_cli()
    assert cli is not None, "the Supabase CLI is installed by npm ci (package.json)"
    theirs = PostgresCluster()
    theirs.start()
    try:
        theirs._apply_bootstrap()
        pushed = subprocess.run(
            [
                str(cli),
                "db",
                "push",
                "--db-url",
                f"{theirs.dsn}?sslmode=disable",
                "--workdir",
                str(ROOT),
                "--include-seed",
                "--yes",
            ],
            capture_output=True,
            text=True,
        )
        assert pushed.returncode == 0, pushed.stderr
        assert _history(theirs) == ours
        listed = subprocess.run(
            [
                str(cli),
                "migration",
                "list",
                "--db-url",
                f"{bootstrapped.dsn}?sslmode=disable",
                "--workdir",
                str(ROOT),
            ],
            capture_output=True,
            text=True,
        )
        assert listed.returncode == 0, listed.stderr
        for m in schema.schema_files().migrations:
            assert listed.stdout.count(m.version) >= 2, listed.stdout  # local = remote
    finally:
        theirs.stop()


def test_split_statements_matches_the_cli_on_tricky_sql() -> None:
    sql = (
        "create function f() returns int language sql begin atomic select 1; select 2; end;\n"
        "select 'a;b', \"x;y\", $tag$ ; $tag$; -- c;\n"
        "/* a /* nested; */ b; */ select 3;;\n"
        "select ($$;$$);"
    )
    assert schema.split_statements(sql) == [
        "create function f() returns int language sql begin atomic select 1; select 2; end",
        "select 'a;b', \"x;y\", $tag$ ; $tag$",
        "-- c;\n/* a /* nested; */ b; */ select 3",
        "select ($$;$$)",
    ]
