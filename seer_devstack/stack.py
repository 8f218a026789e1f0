# pyright: standard
"""``DevStack``: Postgres (with bootstrap, migrations and seed) plus the gateway.

Async::

    async with DevStack() as stack:
        client = await supabase.acreate_client(stack.url, stack.anon_key)

Sync (the gateway runs on its own event loop in a background thread)::

    with DevStack() as stack:
        client = supabase.create_client(stack.url, stack.anon_key)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from seer_client._tools.schema import schema_files

from .config import DEFAULT_JWT_SECRET, GatewayConfig, read_project_config
from .gateway import Gateway, GatewayError
from .postgres import PostgresCluster, PostgresError, free_port, port_in_use

T = TypeVar("T")


class DevStackError(RuntimeError):
    """The stack could not start. The message is one line (or a few) for humans."""


class RealtimeControl:
    """Test hooks on the Realtime emulation, callable from any event loop or thread."""

    def __init__(self, stack: DevStack) -> None:
        self._stack = stack

    async def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._stack._loop
        assert loop is not None, "the stack is not running"
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    def _hub(self) -> Any:
        gw = self._stack._gateway
        assert gw is not None and gw.realtime is not None, "the stack is not running"
        return gw.realtime

    async def drop_all_sockets(self, *, code: int = 1011) -> int:
        """Close every Realtime websocket from the server side. Returns how many were open."""
        result: int = await self._call(self._hub().drop_all_sockets(code=code))
        return result

    async def drop_sockets(self, user_id: str, *, code: int = 1011) -> int:
        """Close the websockets with a channel joined by ``user_id``."""
        result: int = await self._call(self._hub().drop_sockets(user_id, code=code))
        return result

    def socket_count(self) -> int:
        return int(self._hub().socket_count())

    def outage(self, seconds: float) -> None:
        """Lose every database broadcast for the next ``seconds`` (DevStack.realtime_outage)."""
        self._hub().realtime_outage(seconds)

    @property
    def counts(self) -> dict[str, Any]:
        """The tenant limits' rates and what limits and outages cost so far (as in `status`)."""
        result: dict[str, Any] = self._hub().limit_counts()
        return result

    def set_drop_db_broadcasts(self, rate: float) -> None:
        """Change the fault switch at run time: drop this fraction of database broadcasts."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, not {rate}")
        self._hub().drop_db_broadcasts = rate

    @property
    def dropped_db_broadcasts(self) -> int:
        """How many database broadcasts the fault switch has dropped so far."""
        return int(self._hub().dropped_db_broadcasts)

    async def stall_sockets(self, user_id: str | None = None) -> int:
        """Half-open sockets (all, or ``user_id``'s): the server stops reading and writing them."""

        async def stall() -> int:
            return int(self._hub().stall_sockets(user_id))

        return await self._call(stall())

    async def refuse_connections(self, refuse: bool = True) -> None:
        """While on, new websocket connections get HTTP 503 (client reconnects fail)."""

        async def flip() -> None:
            self._hub().accepting = not refuse

        await self._call(flip())


class DevStack:
    """A local Supabase-compatible stack. See the module docstring."""

    def __init__(
        self,
        database_url: str | None = None,
        data_dir: str | Path | None = None,
        port: int | None = None,
        db_port: int | None = None,
        *,
        host: str = "127.0.0.1",
        jwt_secret: str = DEFAULT_JWT_SECRET,
        jwt_expiry: int | None = None,
        anonymous_sign_ins: bool | None = None,
        project_config: str | Path | None = None,
        idle_timeout: float = 60.0,
        presence_max_calls: int = 5,
        presence_window: float = 30.0,
        join_error_backoff: float = 0.0,
        bcrypt_rounds: int = 10,
        drop_db_broadcasts: float = 0.0,
        realtime_outage: float | tuple[float, float | None] | None = None,
        realtime_max_events_per_second: int = 100,
        realtime_max_presence_events_per_second: int = 1000,
        realtime_max_joins_per_second: int = 100,
        realtime_rate_tick: float = 5.0,
        check_api_key: bool = True,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        if not 0.0 <= drop_db_broadcasts <= 1.0:
            raise DevStackError(f"drop_db_broadcasts must be between 0 and 1, not {drop_db_broadcasts}")
        limits = (
            realtime_max_events_per_second,
            realtime_max_presence_events_per_second,
            realtime_max_joins_per_second,
        )
        if min(limits) < 1 or realtime_rate_tick <= 0:
            raise DevStackError("the Realtime limits must be at least 1 per second and the tick above 0")
        outage = (
            (float(realtime_outage), None) if isinstance(realtime_outage, int | float) else realtime_outage
        )
        self._database_url = database_url
        self._data_dir = Path(data_dir) if data_dir else None
        #: Told each start-up stage as it happens (the CLI prints them).
        self._progress = progress
        self._requested_port = port
        self._db_port = db_port
        # supabase/config.toml decides what `supabase start` would (JWT expiry, sign-ups,
        # anonymous sign-ins); arguments given here override it.
        config_toml = Path(project_config) if project_config else schema_files().supabase_dir / "config.toml"
        overrides = {"jwt_expiry": jwt_expiry, "anonymous_sign_ins": anonymous_sign_ins}
        self._settings = dict(
            **read_project_config(config_toml),
            host=host,
            jwt_secret=jwt_secret,
            idle_timeout=idle_timeout,
            presence_max_calls=presence_max_calls,
            presence_window=presence_window,
            join_error_backoff=join_error_backoff,
            bcrypt_rounds=bcrypt_rounds,
            drop_db_broadcasts=drop_db_broadcasts,
            realtime_outage=outage,
            realtime_max_events_per_second=realtime_max_events_per_second,
            realtime_max_presence_events_per_second=realtime_max_presence_events_per_second,
            realtime_max_joins_per_second=realtime_max_joins_per_second,
            realtime_rate_tick=realtime_rate_tick,
            check_api_key=check_api_key,
        )
        self._settings.update({k: v for k, v in overrides.items() if v is not None})
        self.cluster: PostgresCluster | None = None
        self.config: GatewayConfig | None = None
        self._gateway: Gateway | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop_event: asyncio.Event | None = None
        self.realtime: RealtimeControl = RealtimeControl(self)

    # -- what `supabase status` prints ------------------------------------------------------
    def _cfg(self) -> GatewayConfig:
        if self.config is None:
            raise DevStackError("the stack is not running")
        return self.config

    @property
    def url(self) -> str:
        return self._cfg().url

    @property
    def anon_key(self) -> str:
        return self._cfg().anon_key

    @property
    def service_role_key(self) -> str:
        return self._cfg().service_role_key

    @property
    def jwt_secret(self) -> str:
        return self._cfg().jwt_secret

    @property
    def db_url(self) -> str:
        return self._cfg().db_url

    def status(self) -> dict[str, str]:
        return {
            "API URL": self.url,
            "REST URL": f"{self.url}/rest/v1",
            "Realtime URL": f"{self.url.replace('http', 'ws', 1)}/realtime/v1",
            "DB URL": self.db_url,
            "JWT secret": self.jwt_secret,
            "anon key": self.anon_key,
            "service_role key": self.service_role_key,
            **self._fault_status(),
        }

    def _fault_status(self) -> dict[str, str]:
        gw = self._gateway
        hub = gw.realtime if gw is not None else None
        out: dict[str, str] = {}
        if hub is not None:
            # the tenant limits, as Realtime counts them, and what they and outages cost
            counts = hub.limit_counts()
            out["Realtime limits"] = ", ".join(
                f"{k} {counts[k]}" for k in ("messages/s", "presence/s", "joins/s")
            )
            out["Realtime limit hits"] = ", ".join(
                f"{k} {counts[k]}"
                for k in (
                    "closed (messages/s)",
                    "closed (presence/s)",
                    "joins refused",
                    "DB broadcasts dropped (limit)",
                    "DB broadcasts lost (outage)",
                )
            )
        rate = float(self._settings.get("drop_db_broadcasts") or 0.0)
        if rate > 0:
            dropped = hub.dropped_db_broadcasts if hub is not None else 0
            out["DB broadcasts dropped"] = f"{dropped} (rate {rate:g})"
        return out

    def realtime_outage(self, seconds: float) -> None:
        """Lose every database broadcast for the next ``seconds``, for every subscriber (as
        while Realtime's replication connection is down)."""
        self.realtime.outage(seconds)

    # -- database -------------------------------------------------------------------------------
    def _prepare_database(self) -> str:
        """Blocking: start (and migrate) the cluster unless attached to a database."""
        if self._database_url:
            return self._database_url
        say = self._say
        try:
            cluster = PostgresCluster(data_dir=self._data_dir, port=self._db_port)
            fresh = not cluster.initialized
            say("Postgres: creating a cluster" if fresh else f"Postgres: reusing {cluster.data_dir}")
            cluster.start()
        except PostgresError as exc:
            raise DevStackError(str(exc)) from exc
        say(f"Postgres: running on port {cluster.port}")
        self.cluster = cluster
        try:
            # A reused data directory gets only what is new (like `supabase db push`).
            cluster.setup(progress=say)
        except PostgresError as exc:
            cluster.stop()
            self.cluster = None
            raise DevStackError(str(exc)) from exc
        return cluster.dsn

    # -- async lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        port = self._requested_port
        host = str(self._settings["host"])
        if port is not None and port_in_use(port, host):
            raise DevStackError(f"port {port} on {host} is already in use (choose another with --port)")
        db_url = await asyncio.to_thread(self._prepare_database)
        self.config = GatewayConfig(db_url=db_url, port=port or free_port(host), **self._settings)
        self._gateway = Gateway(self.config)
        self._loop = asyncio.get_running_loop()
        self._say(f"gateway: starting on {self.config.url}")
        try:
            await self._gateway.start()
        except GatewayError as exc:
            await asyncio.to_thread(self._stop_cluster)
            raise DevStackError(str(exc)) from exc
        self._say("gateway: Auth, REST, Realtime and Functions are up")

    async def stop(self) -> None:
        if self._gateway is not None:
            await self._gateway.stop()
            self._gateway = None
        await asyncio.to_thread(self._stop_cluster)

    def _say(self, text: str) -> None:
        if self._progress is not None:
            self._progress(text)

    @property
    def keeps_data(self) -> bool:
        """Whether the database survives a stop (a ``data_dir`` or an external database)."""
        return self._data_dir is not None or self._database_url is not None

    def _stop_cluster(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None

    async def __aenter__(self) -> DevStack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- sync lifecycle (background thread) ----------------------------------------------------
    def __enter__(self) -> DevStack:
        started: concurrent.futures.Future[None] = concurrent.futures.Future()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)

            async def main() -> None:
                self._stop_event = asyncio.Event()
                try:
                    await self.start()
                except BaseException as exc:
                    started.set_exception(exc)
                    return
                started.set_result(None)
                await self._stop_event.wait()
                await self.stop()

            try:
                loop.run_until_complete(main())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="seer-devstack", daemon=True)
        self._thread.start()
        started.result()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop_event is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def run_sync(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the stack's loop from another thread (sync mode helpers)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()
