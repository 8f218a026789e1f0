"""Browser end-to-end tests: Playwright (pytest-playwright) driving the Debian Chromium that
``scripts/install-system-deps.sh`` installs, against the devstack (Postgres + gateway + the
``invite`` Edge Function under Deno). The Seer is the SDK (blocking facade); players are pages.

No browser is downloaded: ``executable_path`` points at the system Chromium (never run
``playwright install``). The tests skip when that binary or Deno is missing, so a machine
without them says so instead of failing on setup.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, BrowserType, Page, Playwright, sync_playwright

from seer_client.sync import SeerClient
from seer_devstack.functions import find_deno
from seer_devstack.stack import DevStack

CHROMIUM = os.environ.get("SEER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
#: supabase/seed.sql: The Sunken Lantern
ADVENTURE = "00000000-0000-4000-8000-00000000a001"
PASSWORD = "correct horse 42"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: run `make system-deps`")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


# pytest-playwright's Playwright, browser type and browser are session-scoped; its sync API keeps an
# event loop running in the main thread while Playwright is up, which breaks every pytest-asyncio
# test that runs after this package. So Playwright lives for this package only (same fixtures,
# package scope), and is stopped before the rest of the suite runs.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    browser: BrowserType = getattr(playwright, browser_name)
    return browser


@pytest.fixture(scope="package")
def launch_browser(
    browser_type_launch_args: dict[str, Any], browser_type: BrowserType
) -> Callable[..., Browser]:
    def launch(**kwargs: Any) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def browser_context_args() -> dict[str, Any]:
    # (not the plugin's: that one asks for a session-scoped Playwright) A phone-sized window, like
    # a player opening the link from a chat message.
    return {"viewport": {"width": 760, "height": 1100}}


@dataclass
class Player:
    email: str
    name: str
    client: SeerClient
    user_id: str
    character_id: str
    character_name: str


@dataclass
class E2E:
    stack: DevStack
    database_url: str
    clients: list[SeerClient] = field(default_factory=list[SeerClient])

    @property
    def invite_root(self) -> str:
        return f"{self.stack.url}/functions/v1/invite"

    def user(self, name: str) -> tuple[SeerClient, str, str]:
        client = SeerClient.create(self.stack.url, self.stack.anon_key)
        self.clients.append(client)
        email = f"e2e-{uuid.uuid4().hex[:12]}@seer.test"
        user_id = client.sign_up(email, PASSWORD, display_name=name)
        return client, email, user_id

    def seer(self, name: str = "Morgana") -> SeerClient:
        return self.user(name)[0]

    def player(self, name: str, character: str | None = None) -> Player:
        """An account with one character, made through the SDK (the PRD's `loginAs(player)`)."""
        client, email, user_id = self.user(name)
        hero = client.create_character(name=character or f"{name}'s hero", character_class="Ranger")
        return Player(email, name, client, user_id, str(hero.id), hero.name)

    def sweep(self, seconds_ahead: float) -> dict[str, Any]:
        """Run the sweeper as if ``seconds_ahead`` seconds had passed (time travel)."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            row = conn.execute(
                "select public.sweep_sessions(now() + make_interval(secs => %s))", (seconds_ahead,)
            ).fetchone()
        assert row is not None
        result: dict[str, Any] = row[0]
        return result


@pytest.fixture(scope="package")
def e2e(database_url: str) -> Iterator[E2E]:
    if find_deno() is None:
        pytest.skip("deno is not installed: run `make system-deps` (scripts/install-deno.sh)")
    os.environ.setdefault("DENO_DIR", str(REPO / ".seer" / "deno"))
    # A whole test session's traffic goes through this one shared stack, far above what one
    # project sends; at the local CLI's tenant limits (100 messages/s averaged over a minute)
    # later tests would inherit earlier tests' throttling. Raised on purpose; the limits are
    # tested on stacks of their own (tests/devstack/test_realtime_limits.py,
    # tests/sdk/test_stream_integration.py).
    with DevStack(
        database_url=database_url,
        bcrypt_rounds=4,
        realtime_max_events_per_second=1_000_000,
        realtime_max_presence_events_per_second=1_000_000,
        realtime_max_joins_per_second=1_000_000,
    ) as stack:
        # All pages come from 127.0.0.1: lift the function's per-address token bucket (as a
        # deployment would with `supabase secrets set`), and forget earlier tests' unknown codes
        # from this address (the database's shared guessing budget, docs/invite.md).
        gateway = stack._gateway
        assert gateway is not None and gateway.runner is not None
        from seer_devstack import functions

        gateway.runner.app[functions.APP_KEY].extra_env["INVITE_RATE_LIMIT"] = "100000"
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("delete from seer_private.rate_limit_hits where subject like 'net:127.%%'")
        env = E2E(stack, database_url)
        try:
            yield env
        finally:
            for client in env.clients:
                client.close()


@pytest.fixture
def no_dialogs(page: Page) -> Iterator[list[str]]:
    """Fails the test if the page ever opens a dialog (alert(1) from injected markup would)."""
    seen: list[str] = []
    page.on("dialog", lambda d: (seen.append(d.message), d.dismiss()))
    yield seen
    assert seen == [], f"the page opened dialogs: {seen}"


def sign_in(page: Page, player: Player) -> None:
    """The page's own sign-in form (email and password through GoTrue)."""
    page.get_by_test_id("auth-email").fill(player.email)
    page.get_by_test_id("auth-password").fill(PASSWORD)
    page.get_by_test_id("sign-in").click()


def console_errors(context: BrowserContext) -> Callable[[], list[str]]:
    errors: list[str] = []
    context.on("weberror", lambda e: errors.append(str(e.error)))
    return lambda: errors
