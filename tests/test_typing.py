"""The type checkers gate (issue 12): the SDK passes mypy --strict and pyright strict, a typo on
the blocking client is an error for both, and the generated blocking API is up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from seer_client import _sync_gen

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "typing"
PYRIGHT = ROOT / "node_modules" / ".bin" / "pyright"


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def _pyright(*args: str) -> subprocess.CompletedProcess[str]:
    if not PYRIGHT.exists():
        pytest.fail("pyright is missing: run scripts/install-deno.sh (npm ci installs it from package.json)")
    return subprocess.run(
        [str(PYRIGHT), "--pythonpath", sys.executable, *args], capture_output=True, text=True, cwd=ROOT
    )


def test_generated_sync_api_is_up_to_date() -> None:
    checked_in = (ROOT / "seer_client" / "_sync_api.py").read_text()
    assert _sync_gen.formatted() == checked_in, "run: python -m seer_client._sync_gen"


def test_sync_client_has_every_public_method_of_the_async_client() -> None:
    from seer_client import SeerClient, SessionConnection
    from seer_client.sync import SyncSeerClient, SyncSessionConnection

    for async_cls, sync_cls in ((SeerClient, SyncSeerClient), (SessionConnection, SyncSessionConnection)):
        public = {n for n in dir(async_cls) if not n.startswith("_")}
        missing = public - set(dir(sync_cls))
        assert not missing, f"{sync_cls.__name__} lacks {sorted(missing)}"


def test_sync_connection_has_every_declared_and_set_attribute() -> None:
    """The blocking facade is generated from SessionConnection's declared attributes; it must
    also have every public attribute a constructed connection actually sets (so an attribute
    added in __init__ without a declaration is caught), and every handler."""
    from seer_client import Handlers, SessionConnection
    from seer_client.sync import SyncSessionConnection

    conn = SessionConnection(object(), "00000000-0000-4000-8000-000000000001")  # type: ignore[arg-type]
    public = {n for n in vars(conn) if not n.startswith("_")} | set(
        _sync_gen.declared_attributes(SessionConnection)
    )
    public |= set(Handlers.__annotations__)
    missing = public - set(dir(SyncSessionConnection))
    assert not missing, f"SyncSessionConnection lacks {sorted(missing)}"
    undeclared = {n for n in vars(conn) if not n.startswith("_")} - set(
        _sync_gen.declared_attributes(SessionConnection)
    )
    assert undeclared <= set(Handlers.__annotations__), f"declare {sorted(undeclared)} on SessionConnection"


def test_connection_handler_attributes_match_handlers() -> None:
    """SessionConnection declares its settable callbacks with the same names and types as the
    Handlers TypedDict that connect() takes (the two lists cannot drift apart)."""
    from seer_client import Handlers, SessionConnection

    def text(ann: object) -> str:
        return str(getattr(ann, "__forward_arg__", ann))

    declared = {
        n: text(a) for n, a in vars(SessionConnection)["__annotations__"].items() if n.startswith("on_")
    }
    assert declared == {n: text(a) for n, a in Handlers.__annotations__.items()}


def _error_lines(fixture: Path) -> set[int]:
    return {i for i, line in enumerate(fixture.read_text().splitlines(), 1) if "# ERROR" in line}


def test_connect_options_negatives_fail_both_type_checkers() -> None:
    """A misspelt or wrongly typed option or handler on connect() / SessionConnection(), async and
    blocking: each marked line is an error for mypy --strict and for pyright."""
    fixture = FIXTURES / "negative_connect_options.py"
    wanted = _error_lines(fixture)
    assert len(wanted) == 9
    mypy = _mypy(str(fixture))
    mypy_lines = {int(m.split(":")[1]) for m in mypy.stdout.splitlines() if ": error:" in m}
    assert mypy_lines == wanted, mypy.stdout
    pyright = _pyright(str(fixture))
    pyright_lines = {
        int(line.split(":")[1])
        for line in pyright.stdout.splitlines()
        if " - error:" in line and fixture.name in line
    }
    assert pyright_lines == wanted, pyright.stdout


def test_negative_fixture_fails_both_type_checkers() -> None:
    fixture = str(FIXTURES / "negative_typo.py")
    mypy = _mypy(fixture)
    assert mypy.returncode == 1 and 'has no attribute "create_sesion"' in mypy.stdout, mypy.stdout
    pyright = _pyright(fixture)
    assert pyright.returncode == 1 and 'Cannot access attribute "create_sesion"' in pyright.stdout, (
        pyright.stdout
    )


def test_positive_fixture_passes_both_type_checkers() -> None:
    fixture = str(FIXTURES / "positive_usage.py")
    mypy = _mypy(fixture)
    assert mypy.returncode == 0, mypy.stdout
    pyright = _pyright(fixture, "--level", "error")
    assert pyright.returncode == 0, pyright.stdout
