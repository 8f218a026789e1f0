"""supabase-js (the game's web front end) against the devstack: vsn 2.0.0 end to end.

Needs Node and @supabase/supabase-js + ws, which `make test` installs from package.json into the
project's node_modules (SEER_SUPABASE_JS_DIR may point at another folder holding them).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from seer_devstack.postgres import project_root

from .conftest import Target

SCRIPT = Path(__file__).with_name("js") / "supabase_js_smoke.mjs"


async def test_supabase_js_end_to_end(target: Target) -> None:
    js_dir = os.environ.get("SEER_SUPABASE_JS_DIR") or str(project_root())
    node = shutil.which("node")
    if not node or not (Path(js_dir) / "node_modules" / "@supabase" / "supabase-js").is_dir():
        pytest.fail("node and node_modules/@supabase/supabase-js are missing: run scripts/install-deno.sh")
    # Placed under node_modules so its imports resolve there, without leaving files in the tree.
    script = Path(js_dir) / "node_modules" / ".seer-tests" / "supabase_js_smoke.mjs"
    script.parent.mkdir(exist_ok=True)
    script.write_text(SCRIPT.read_text())
    proc = await asyncio.create_subprocess_exec(
        node,
        str(script),
        target.url,
        target.anon_key,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=js_dir,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "seer got DB broadcast: player_joined" in text and "meta.id==payload.id true" in text
    assert "stranger channel: CHANNEL_ERROR Unauthorized: You do not have permissions" in text
    assert "seer got participant broadcast on the session topic: false" in text
    assert text.rstrip().endswith("OK")
