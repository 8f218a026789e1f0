"""The command line: background start/status/stop, and one-line errors instead of tracebacks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from seer_devstack.postgres import free_port, port_in_use

pytestmark = pytest.mark.devstack


def run(args: list[str], env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seer_devstack", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=timeout,
    )


def test_detached_start_status_stop(tmp_path: Path) -> None:
    env = {"SEER_DEVSTACK_STATE_DIR": str(tmp_path / "state")}
    port, db_port = free_port(), free_port()
    res = run(["start", "--detach", "--port", str(port), "--db-port", str(db_port)], env)
    try:
        assert res.returncode == 0, res.stderr
        assert f"API URL: http://127.0.0.1:{port}" in res.stdout
        assert f"DB URL: postgresql://postgres:postgres@127.0.0.1:{db_port}/postgres" in res.stdout
        assert "anon key: eyJ" in res.stdout and "service_role key: eyJ" in res.stdout
        assert "Postgres: running on port" in res.stdout and " of " in res.stdout
        assert f"State: {tmp_path / 'state' / str(port)}" in res.stdout
        status = run(["status"], env)
        assert status.returncode == 0 and f"127.0.0.1:{port}" in status.stdout
        anon = next(line.split(": ", 1)[1] for line in res.stdout.splitlines() if "anon key: " in line)
        health = httpx.get(f"http://127.0.0.1:{port}/auth/v1/health", headers={"apikey": anon})
        assert health.status_code == 200
        # the gateway checks the key as hosted Supabase does (--no-api-key-check: as the CLI)
        assert httpx.get(f"http://127.0.0.1:{port}/auth/v1/health").status_code == 401
    finally:
        stop = run(["stop"], env)
    assert stop.returncode == 0 and "Stopped" in stop.stdout
    assert run(["status"], env).returncode == 1
    # Nothing is left listening (TIME_WAIT leftovers are fine, hence SO_REUSEADDR in port_in_use).
    assert not port_in_use(port) and not port_in_use(db_port)


def test_port_taken_and_migration_failure_are_one_line_errors(tmp_path: Path) -> None:
    env = {"SEER_DEVSTACK_STATE_DIR": str(tmp_path / "state")}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = run(["start", "--port", str(port), "--db-port", str(free_port())], env)
    assert res.returncode == 1
    assert (
        res.stderr.strip()
        == f"error: port {port} on 127.0.0.1 is already in use (choose another with --port)"
    )

    project = tmp_path / "project"
    (project / "supabase" / "migrations").mkdir(parents=True)
    (project / "supabase" / "migrations" / "001_bad.sql").write_text("-- broken\nselect nope_column;\n")
    res = run(
        ["start", "--port", str(free_port()), "--db-port", str(free_port())],
        {**env, "SEER_PROJECT_ROOT": str(project)},
    )
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith("error: applying ") and "001_bad.sql:2: ERROR:" in res.stderr


def test_a_stack_without_migrations_refuses_to_start_with_one_line(tmp_path: Path) -> None:
    env = {"SEER_DEVSTACK_STATE_DIR": str(tmp_path / "state")}
    project = tmp_path / "empty"
    (project / "supabase" / "migrations").mkdir(parents=True)
    res = run(
        ["start", "--port", str(free_port()), "--db-port", str(free_port())],
        {**env, "SEER_PROJECT_ROOT": str(project)},
    )
    assert res.returncode == 1 and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no migrations found in "), res.stderr
    assert "Started" not in res.stdout


def test_help_names_the_state_variable_and_status_formats() -> None:
    res = run(["status", "--help"], {})
    assert "SEER_DEVSTACK_STATE_DIR" in res.stdout and "-o {pretty,env,json}" in res.stdout
    assert "SEER_DEVSTACK_STATE_DIR" in run(["start", "--help"], {}).stdout


def test_several_stacks_need_a_port_and_status_lists_them(tmp_path: Path) -> None:
    # Two state files of live processes (this test's own pid): nothing is signalled, because a
    # command that cannot tell which stack is meant refuses before acting.
    import json

    root = tmp_path / "state"
    for port in (61001, 61002):
        (root / str(port)).mkdir(parents=True)
        status = {"API URL": f"http://127.0.0.1:{port}", "anon key": "k"}
        state = {"pid": os.getpid(), "port": port, "data_dir": "", "status": status}
        (root / str(port) / "state.json").write_text(json.dumps(state))
    env = {"SEER_DEVSTACK_STATE_DIR": str(root)}
    stop = run(["stop"], env)
    assert stop.returncode == 1
    assert stop.stderr.strip() == (
        "error: 2 seer devstacks are running (ports 61001, 61002); stop one with --port"
    )
    listed = run(["status"], env)
    assert listed.returncode == 0 and "port 61001" in listed.stdout and "port 61002" in listed.stdout
    one = run(["status", "-o", "env", "--port", "61002"], env)
    assert one.stdout.splitlines()[0] == 'API_URL="http://127.0.0.1:61002"'
    assert 'SUPABASE_ANON_KEY="k"' in one.stdout.splitlines()
    assert run(["status", "--port", "61003"], env).returncode == 1
