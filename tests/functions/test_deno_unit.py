"""Runs the Edge Functions' own `deno test` suites inside pytest, so they are part of `make test`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from seer_devstack.functions import DEFAULT_FUNCTIONS_DIR

SUITES = sorted({p.parent for p in DEFAULT_FUNCTIONS_DIR.glob("*/*_test.ts")})


def test_every_function_has_deno_tests() -> None:
    functions = sorted(p.parent for p in DEFAULT_FUNCTIONS_DIR.glob("*/index.ts"))
    assert functions, "no functions found"
    assert [f for f in functions if f not in SUITES] == []


@pytest.mark.parametrize("function_dir", SUITES, ids=lambda p: p.name)
def test_deno_unit_tests(deno: str, function_dir: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "DENO_NO_UPDATE_CHECK": "1"}
    proc = subprocess.run(
        # --allow-read=.: the invite function's tests load its static files (assets.ts)
        [
            deno,
            "test",
            "--no-prompt",
            "--allow-env",
            "--allow-net=127.0.0.1",
            "--allow-read=.",
            "--config=deno.json",
        ],
        cwd=function_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    summary = [line for line in output.splitlines() if line.startswith("ok |")]
    assert summary and " 0 failed" in summary[-1], output[-3000:]
    print(f"{function_dir.name}: {summary[-1]}")


@pytest.mark.parametrize("function_dir", SUITES, ids=lambda p: p.name)
def test_deno_check_lint_and_fmt(deno: str, function_dir: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "DENO_NO_UPDATE_CHECK": "1"}
    for args in (["check", "index.ts"], ["lint"], ["fmt", "--check"]):
        proc = subprocess.run(
            [deno, *args], cwd=function_dir, env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, f"deno {' '.join(args)}:\n{(proc.stdout + proc.stderr)[-4000:]}"
