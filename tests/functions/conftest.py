"""Shared fixtures for the Edge Function tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from seer_devstack.functions import PROJECT_ROOT, find_deno

FIXTURES = Path(__file__).parent / "fixtures" / "supabase"


@pytest.fixture(scope="session")
def deno() -> str:
    """The Deno binary; installs it (npm package, pinned) when missing, as `make test` does."""
    path = find_deno()
    if path is None:
        subprocess.run(["bash", str(PROJECT_ROOT / "scripts" / "install-deno.sh")], check=True)
        path = find_deno()
    assert path is not None, "deno is not installed: run `bash scripts/install-deno.sh`"
    os.environ.setdefault("DENO_DIR", str(PROJECT_ROOT / ".seer" / "deno"))
    return path
