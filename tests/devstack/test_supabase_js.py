"""supabase-js (the game's web front end) against the devstack: vsn 2.0.0 end to end.

Needs Node and an installed @supabase/supabase-js; set SEER_SUPABASE_JS_DIR to a folder whose
node_modules holds @supabase/supabase-js and ws. Skipped otherwise (no network in tests).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from .conftest import Target

SCRIPT = Path(__file__).with_name("js") / "supabase_js_smoke.mjs"


async def test_supabase_js_end_to_end(target: Target) -> None:
    js_dir = os.environ.get("SEER_SUPABASE_JS_DIR")
    node = shutil.which("node")
    if not js_dir or not node or not (Path(js_dir) / "node_modules" / "@supabase" / "supabase-js").is_dir():
        pytest.skip("set SEER_SUPABASE_JS_DIR to a folder with node_modules/@supabase/supabase-js and ws")
    script = Path(js_dir) / "seer_supabase_js_smoke.mjs"  # resolve imports from that node_modules
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
    assert text.rstrip().endswith("OK")
