"""The README's quick start is run as written (against the test devstack), so it stays true."""

from __future__ import annotations

import re
import uuid
from typing import Any

from seer_client.devstack.postgres import project_root


def _quick_start_source() -> str:
    readme = (project_root() / "README.md").read_text()
    section = readme[readme.index("## Quick start") :]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block, "README has no python block under '## Quick start'"
    return block.group(1)


async def test_readme_quick_start_runs(devstack: Any, capsys: Any) -> None:
    source = _quick_start_source()
    # Unique e-mails so the snippet can run against a shared database; drop the asyncio.run line
    # (pytest already runs a loop) and call main() ourselves.
    tag = uuid.uuid4().hex[:8]
    source = source.replace("sage@example.com", f"sage-{tag}@example.com")
    source = source.replace("aria@example.com", f"aria-{tag}@example.com")
    lines = [line for line in source.splitlines() if not line.startswith("asyncio.run(")]
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), "README.md", "exec"), namespace)
    await namespace["main"](devstack.url, devstack.anon_key)
    out = capsys.readouterr().out.splitlines()
    code = out[0].split()[0]
    assert re.fullmatch(r"[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}", code)
    assert out[0].endswith(f"/functions/v1/invite/{code}")
    assert "below the recommended" in out[1]
    assert out[2].split()[1] == "session_status"
