"""`python -m seer_client watch CODE` (issue 12): a live session in the terminal until it
ends - for the Seer, the dashboard (issue 22) - names shown as typed (no markup, no control
characters)."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from typing import Any

import pytest

from seer_client import SeerClient

pytestmark = pytest.mark.devstack
ADVENTURE_ID = "00000000-0000-4000-8000-00000000a001"


async def _until(predicate: Any, seconds: float, proc: Any, out: bytearray) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        if asyncio.get_running_loop().time() > deadline or proc.returncode is not None:
            err = await proc.stderr.read() if proc.returncode is not None else b""
            raise AssertionError(f"watch output so far:\n{out.decode()}\n{err.decode()}")
        await asyncio.sleep(0.05)


async def test_watch_shows_the_lobby_live_until_the_session_ends(devstack: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    seer = await SeerClient.create(devstack.url, devstack.anon_key)
    player = await SeerClient.create(devstack.url, devstack.anon_key)
    email = f"watch-seer-{tag}@example.com"
    await seer.sign_up(email, "correct horse battery", display_name="Sage")
    created = await seer.create_session(ADVENTURE_ID)
    env = {
        **os.environ,
        "SUPABASE_URL": devstack.url,
        "SUPABASE_ANON_KEY": devstack.anon_key,
        "SEER_EMAIL": email,
        "SEER_PASSWORD": "correct horse battery",
        "COLUMNS": "160",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "seer_client",
        "watch",
        created.session.code.lower(),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out = bytearray()

    async def pump() -> None:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(4096):
            out.extend(chunk)

    reader = asyncio.create_task(pump())
    try:
        await _until(lambda: b"no players yet" in out, 30, proc, out)
        await player.sign_up(
            f"watch-p-{tag}@example.com", "correct horse battery", display_name="[/bold]\x1b[31mX"
        )
        hero = await player.create_character(name="Aria [red]", character_class="ranger")
        await player.join_session(created.session.id, character_id=hero.id)
        await _until(lambda: b"Aria [red]" in out, 30, proc, out)
        # issue 22: the Seer watching gets the dashboard: the node's text, a hidden roll's value
        started = await seer.start_session(created.session.id)
        node = started.session.current_node
        assert node is not None
        hidden = await seer.roll_dice(created.session.id, "3d6", reason="ambush", hidden=True)
        await _until(lambda: f"3d6 (ambush) = hidden: {hidden.total}".encode() in out, 30, proc, out)
        assert node.title.encode() in out and b"Dice" in out
        await seer.end_session(created.session.id, outcome="cancelled")
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        await reader
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await player.close()
        await seer.close()
    text = out.decode()
    assert "[/bold]" in text and "\x1b" not in text  # shown as typed, no raw escapes
    assert "The session ended." in text
    assert proc.stderr is not None and b"Traceback" not in await proc.stderr.read()
