"""Runs every pgTAP file in supabase/tests/database (the layout `supabase test db` uses)
against the test cluster; each file is one pytest test that fails on any `not ok`, on a
plan mismatch or on an SQL error."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from seer_devstack.postgres import find_bindir, project_root

TEST_DIR = project_root() / "supabase" / "tests" / "database"
FILES = sorted(TEST_DIR.glob("*.test.sql"))


def _psql() -> str:
    try:
        return str(find_bindir() / "psql")
    except Exception:
        return shutil.which("psql") or "psql"


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_pgtap_file(path: Path, database_url: str) -> None:
    res = subprocess.run(
        [_psql(), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", database_url, "-f", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PGOPTIONS": "--client-min-messages=warning"},
        timeout=300,
    )
    out = res.stdout
    failures = [line for line in out.splitlines() if line.startswith("not ok")]
    plan = re.search(r"^1\.\.(\d+)", out, re.M)
    ran = len(re.findall(r"^(?:not )?ok \d+", out, re.M))
    details = "\n".join(line for line in out.splitlines() if line.startswith("#"))
    assert res.returncode == 0, f"psql failed on {path.name}:\n{res.stderr}\n{out[-3000:]}"
    assert plan, f"{path.name}: no TAP plan in output:\n{out[-3000:]}"
    assert not failures, f"{path.name}: {len(failures)} failing:\n" + "\n".join(failures) + "\n" + details
    assert ran == int(plan.group(1)), f"{path.name}: planned {plan.group(1)}, ran {ran}\n{details}"
