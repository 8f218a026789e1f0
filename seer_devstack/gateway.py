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


# The routes hosted Supabase's gateway lets through without a key (supabase/supabase
# docker/volumes/api/kong.yml: the auth-v1-open* services, no key-auth plugin); every other
# /auth/v1, /rest/v1 and /realtime/v1 route has key-auth. /functions/v1 has none (the Edge
# Runtime checks the JWT itself).
_OPEN_AUTH_PREFIXES = (
    "/auth/v1/verify",
    "/auth/v1/callback",
    "/auth/v1/authorize",
    "/auth/v1/.well-known/jwks.json",
)
_KEYED_PREFIXES = ("/auth/v1/", "/rest/v1/", "/realtime/v1/")


def _api_key_gate(config: GatewayConfig) -> Any:
    """Kong's key-auth as hosted Supabase configures it: the ``apikey`` header or query
    parameter must be one of the project's keys (the consumers anon and service_role), else
    401 with the gateway's JSON message. CORS preflights never reach it (the cors plugin
    answers them first, as _cors does here)."""

    @web.middleware
    async def gate(request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        if (
            config.check_api_key
            and (path.startswith(_KEYED_PREFIXES) or path in ("/auth/v1", "/rest/v1", "/realtime/v1"))
            and not path.startswith(_OPEN_AUTH_PREFIXES)
        ):
            key = request.headers.get("apikey")
            if key is None:
                key = request.query.get("apikey")
            if not key:
                return json_response(
                    {
                        "message": "No API key found in request",
                        "hint": "No `apikey` request header or url param was found.",
                    },
                    401,
                )
            if key not in (config.anon_key, config.service_role_key):
                return json_response(
                    {
                        "message": "Invalid API key",
                        "hint": "Double check your Supabase `anon` or `service_role` API key.",
                    },
                    401,
                )
        return await handler(request)  # type: ignore[no-any-return]

    return gate


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
            middlewares=[_cors, _api_key_gate(self.config), _no_500_for_client_mistakes],
            client_max_size=16 * 1024 * 1024,
        )
        app.router.add_routes(auth.routes())
        app.router.add_get("/realtime/v1/websocket", self.realtime.handle_ws)
        app.router.add_post(
            "/realtime/v1/api/broadcast/{topic}/events/{event}", self.realtime.handle_broadcast_single
        )
        app.router.add_post("/realtime/v1/api/broadcast", self.realtime.handle_broadcast_batch)
        app.router.add_routes(self.rest.routes())
        # Edge Functions: /functions/v1/<name> (functions.py, issue 7). The heartbeat function
        # verifies the legacy HS256 tokens it batches with the project's JWT secret, which a
        # deployment gives it with `supabase secrets set HEARTBEAT_JWT_SECRET=...` (docs/heartbeat.md).
        functions.setup(app, self.config, extra_env={"HEARTBEAT_JWT_SECRET": self.config.jwt_secret})
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
