# pyright: standard
"""The gateway: one aiohttp server (HTTP and websockets on one port) in front of Postgres."""

from __future__ import annotations

import asyncio
import contextlib
import errno
from typing import Any

import asyncpg
from aiohttp import web

from . import functions
from .auth import AuthApi
from .config import GatewayConfig
from .http_common import json_response
from .realtime import RealtimeHub
from .rest import RestApi


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool release hook. Every setting the gateway makes is transaction-local
    (`set_config(..., true)`) and it never LISTENs on pooled connections, so asyncpg's default
    `RESET ALL; UNLISTEN *; ...` round trip per request is not needed (asyncpg still rolls back
    a transaction left open)."""


class GatewayError(RuntimeError):
    """The gateway could not start. The message is for humans."""


@web.middleware
async def _cors(request: web.Request, handler: Any) -> web.StreamResponse:
    # Browsers (the game's supabase-js front end) call the stack cross-origin, as Kong allows.
    if request.method == "OPTIONS":
        resp: web.StreamResponse = web.Response(status=200)
    else:
        resp = await handler(request)
    if not resp.prepared:
        resp.headers.setdefault("Access-Control-Allow-Origin", request.headers.get("Origin", "*"))
        resp.headers.setdefault("Access-Control-Allow-Credentials", "true")
        resp.headers.setdefault(
            "Access-Control-Allow-Headers",
            request.headers.get("Access-Control-Request-Headers", "*"),
        )
        resp.headers.setdefault("Access-Control-Allow-Methods", "GET,POST,PUT,PATCH,DELETE,OPTIONS,HEAD")
        resp.headers.setdefault("Access-Control-Expose-Headers", "Content-Range, X-Total-Count")
    return resp


@web.middleware
async def _no_500_for_client_mistakes(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except web.HTTPException:
        raise
    # InternalClientError: a pooled connection whose backend was terminated mid-operation
    # (found by tests/reliability/test_faults.py); the pool replaces it, the client retries.
    except (asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError, OSError) as exc:
        return json_response(
            {
                "code": "PGRST000",
                "details": str(exc),
                "hint": None,
                "message": "Database connection error. Retrying the connection.",
            },
            503,
        )


class Gateway:
    """Auth, REST and Realtime over one asyncpg pool. Runs on the caller's event loop."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.pool: asyncpg.Pool | None = None
        self.runner: web.AppRunner | None = None
        self.realtime: RealtimeHub | None = None
        self.rest: RestApi | None = None

    async def start(self) -> None:
        try:
            self.pool = pool = await asyncpg.create_pool(
                self.config.db_url, min_size=2, max_size=self.config.pool_max_size, reset=_keep_session
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise GatewayError(f"cannot connect to the database {self.config.db_url}: {exc}") from exc
        missing = await pool.fetchval(
            "select string_agg(t, ', ') from unnest(array['auth.users', 'auth.sessions',"
            " 'auth.refresh_tokens', 'auth.identities', 'realtime.messages']) t where to_regclass(t) is null"
        )
        if missing:
            await pool.close()
            self.pool = None
            raise GatewayError(
                f"the database lacks the platform bootstrap ({missing}); apply "
                "seer_devstack/bootstrap/*.sql first (PostgresCluster.setup() does)"
            )
        # as Realtime does when a tenant connects: today's and the next days' partitions of
        # realtime.messages (bootstrap/20_devstack_realtime.sql); pg_cron drops the old ones
        await pool.execute("select realtime.devstack_create_message_partitions()")
        auth = AuthApi(self.config, self.pool)
        self.rest = RestApi(self.config, self.pool)
        self.realtime = RealtimeHub(self.config, self.pool)
        await self.rest.start()
        await self.realtime.start()
        app = web.Application(
            middlewares=[_cors, _no_500_for_client_mistakes], client_max_size=16 * 1024 * 1024
        )
        app.router.add_routes(auth.routes())
        app.router.add_get("/realtime/v1/websocket", self.realtime.handle_ws)
        app.router.add_post(
            "/realtime/v1/api/broadcast/{topic}/events/{event}", self.realtime.handle_broadcast_single
        )
        app.router.add_post("/realtime/v1/api/broadcast", self.realtime.handle_broadcast_batch)
        app.router.add_routes(self.rest.routes())
        functions.setup(app, self.config)  # Edge Functions: /functions/v1/<name> (functions.py, issue 7)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.config.host, self.config.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            if exc.errno == errno.EADDRINUSE:
                raise GatewayError(
                    f"port {self.config.port} on {self.config.host} is already in use "
                    "(choose another with --port)"
                ) from exc
            raise GatewayError(f"cannot listen on {self.config.host}:{self.config.port}: {exc}") from exc

    async def stop(self) -> None:
        if self.rest is not None:
            with contextlib.suppress(Exception):
                await self.rest.stop()
        if self.realtime is not None:
            with contextlib.suppress(Exception):
                await self.realtime.stop()
        if self.runner is not None:
            with contextlib.suppress(Exception):
                await self.runner.cleanup()
            self.runner = None
        if self.pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pool.close(), 5)
            self.pool = None
