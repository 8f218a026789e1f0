"""Every Python block in README.md and docs/sdk.md runs as pasted (issue 12): as a script, with
only SUPABASE_URL / SUPABASE_ANON_KEY pointing at the test devstack, so the docs stay true."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "docs/sdk.md")
JOIN_CODE = re.compile(r"\b[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}\b")


def _blocks() -> list[tuple[str, int, str]]:
    found: list[tuple[str, int, str]] = []
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        for match in re.finditer(r"```python\n(.*?)```", text, re.S):
            found.append((doc, text.count("\n", 0, match.start()) + 2, match.group(1)))
    return found


BLOCKS = _blocks()


def test_docs_have_python_blocks_and_none_hard_code_accounts() -> None:
    assert {doc for doc, _, _ in BLOCKS} == set(DOCS)
    for doc, line, source in BLOCKS:
        # Fixed e-mails make a block fail on its second run; codes come from created sessions.
        for email in re.findall(r"[\"'][^\"'{}]+@example\.com[\"']", source):
            pytest.fail(f"{doc}:{line}: fixed e-mail {email}; use a uuid tag")


@pytest.mark.parametrize(("doc", "line", "source"), BLOCKS, ids=[f"{d}:{n}" for d, n, _ in BLOCKS])
async def test_python_block_runs_as_pasted(
    devstack: Any, doc: str, line: int, source: str, tmp_path: Path
) -> None:
    script = tmp_path / "block.py"
    script.write_text(source)
    env = {**os.environ, "SUPABASE_URL": devstack.url, "SUPABASE_ANON_KEY": devstack.anon_key}
    # The pytest loop serves the devstack, so the block runs in a child process we await.
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, f"{doc}:{line} failed:\n{err.decode()[-3000:]}"
    if doc == "README.md":
        first = out.decode().splitlines()[0]
        code = first.split()[0]
        assert JOIN_CODE.fullmatch(code) and first.endswith(f"/functions/v1/invite/{code}")
        if "on_player_joined=" in source:
            # Issue 21: the quick start's callback never fired (the player joined before connect()).
            assert "Aria joined at seq " in out.decode(), out.decode()
