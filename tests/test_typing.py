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
