# pyright: standard
"""Edge Functions for the devstack: ``/functions/v1/<name>/...`` runs ``supabase/functions/<name>``
under Deno, the way ``supabase functions serve`` does.

Each function runs as its own ``deno run`` subprocess, started on its first request (so the first
request measures a real cold start) and kept running; one that exits is started again on the next
request. The gateway proxies method, path, query, headers, body and status both ways, adds
``X-Forwarded-For``/``-Host``/``-Proto``, and gives the function the environment Supabase gives
functions: ``SUPABASE_URL``, ``SUPABASE_ANON_KEY``, ``SUPABASE_SERVICE_ROLE_KEY`` and
``SUPABASE_DB_URL`` (plus ``supabase/functions/.env`` if present, as the CLI reads it).

``verify_jwt`` comes from ``[functions.<name>]`` in ``supabase/config.toml`` (default true, as on
Supabase): then a request needs ``Authorization: Bearer <jwt>`` signed with the project's secret
(the anon key qualifies), else 401. A function that cannot start answers 503 ``BOOT_ERROR`` with a
message naming the function and the end of its stderr.

Deno is the npm package's binary in ``node_modules/.bin/deno`` (``scripts/install-deno.sh``), or
``$SEER_DENO``, or ``deno`` on PATH. npm packages are cached in ``.seer/deno`` (``$DENO_DIR``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import socket
import time
import tomllib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from .config import GatewayConfig, JwtError, decode_token
from .http_common import json_response

log: logging.Logger = logging.getLogger("seer_devstack.functions")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FUNCTIONS_DIR = PROJECT_ROOT / "supabase" / "functions"
DEFAULT_CONFIG_TOML = PROJECT_ROOT / "supabase" / "config.toml"
DEFAULT_DENO_DIR = PROJECT_ROOT / ".seer" / "deno"

FUNCTIONS_PREFIX = "/functions/v1"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
#: Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus Host.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
#: Host variables a function process inherits: network/TLS setup for npm downloads, locale, zone.
PASS_THROUGH_ENV = frozenset(
    {
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "DENO_CERT",
        "NODE_EXTRA_CA_CERTS",
        "DENO_TLS_CA_STORE",
        "NPM_CONFIG_REGISTRY",
        "TZ",
        "LANG",
    }
)
#: Wall-clock limit of one request, as Supabase's (150 s).
REQUEST_TIMEOUT = 150.0


class FunctionStartError(Exception):
    """A function's Deno process exited (or never listened) before serving."""

    def __init__(self, name: str, reason: str, output: str = "") -> None:
        detail = f": {output.strip()}" if output.strip() else ""
        super().__init__(f"Edge function '{name}' failed to start ({reason}){detail}")
        self.name = name


class _WorkerGone(aiohttp.ClientConnectionError):
    """The function's process exited before the request could be sent to it."""


def find_deno() -> str | None:
    """The Deno binary: ``$SEER_DENO``, the project's npm-installed one, then PATH."""
    explicit = os.environ.get("SEER_DENO")
    if explicit:
        return explicit
    local = PROJECT_ROOT / "node_modules" / ".bin" / "deno"
    if local.exists():
        return str(local)
    return shutil.which("deno")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (``#`` comments, optional quotes), as ``supabase functions serve`` reads them."""
    env: dict[str, str] = {}
    if not path.is_file():
        return env
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


@dataclass
class FunctionSettings:
    verify_jwt: bool = True
    enabled: bool = True
    entrypoint: str = "index.ts"


class _ConfigToml:
    """``[functions.<name>]`` sections of supabase/config.toml, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime: float | None = None
        self._functions: dict[str, Any] = {}

    def settings(self, name: str) -> FunctionSettings:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._mtime, self._functions = None, {}
        else:
            if mtime != self._mtime:
                with self.path.open("rb") as fh:
                    self._functions = tomllib.load(fh).get("functions", {})
                self._mtime = mtime
        section = self._functions.get(name, {})
        return FunctionSettings(
            verify_jwt=bool(section.get("verify_jwt", True)),
            enabled=bool(section.get("enabled", True)),
            entrypoint=str(section.get("entrypoint", "index.ts")),
        )


@dataclass
class _Worker:
    name: str
    directory: Path
    process: asyncio.subprocess.Process | None = None
    port: int = 0
    output: deque[str] = field(default_factory=lambda: deque(maxlen=40))
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    #: Keep-alive connections to this process only, dropped as soon as it exits.
    session: aiohttp.ClientSession | None = None
    #: Seconds from spawn to accepting connections, for the last start.
    boot_seconds: float | None = None
    starts: int = 0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None


class FunctionsGateway:
    """Starts functions on demand and proxies requests to them."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        functions_dir: Path = DEFAULT_FUNCTIONS_DIR,
        config_toml: Path = DEFAULT_CONFIG_TOML,
        deno: str | None = None,
        deno_dir: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
        boot_timeout: float = 60.0,
    ) -> None:
        self.config = config
        self.functions_dir = functions_dir
        self.toml: _ConfigToml = _ConfigToml(config_toml)
        self.deno: str | None = deno or find_deno()
        self.deno_dir: Path = deno_dir or Path(os.environ.get("DENO_DIR") or DEFAULT_DENO_DIR)
        self.extra_env: dict[str, str] = dict(extra_env or {})
        self.boot_timeout = boot_timeout
        self.workers: dict[str, _Worker] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    async def close(self) -> None:
        await asyncio.gather(*(self._stop(w) for w in self.workers.values()))

    async def _stop(self, worker: _Worker) -> None:
        proc = worker.process
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for task in worker.readers:
            task.cancel()
        worker.readers.clear()
        await self._drop_connections(worker)

    @staticmethod
    async def _drop_connections(worker: _Worker) -> None:
        if worker.session is not None:
            session, worker.session = worker.session, None
            await session.close()

    @staticmethod
    def _new_session() -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(limit=100),
        )
        # aiohttp resends an idempotent request once when the server drops the connection;
        # a gateway must not run a function twice for one request (the attribute is private
        # but has existed since aiohttp 3.9; without it we only lose that guarantee).
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False
        return session

    async def _watch(self, worker: _Worker, proc: asyncio.subprocess.Process) -> None:
        """Drops pooled connections the moment the process exits, so none is reused dead."""
        await proc.wait()
        if worker.process is proc:
            await self._drop_connections(worker)

    # -- starting a function ------------------------------------------------------------------

    def _function_env(self, port: int, supabase_url: str) -> dict[str, str]:
        # A clean environment, as on Supabase, except what Deno needs to fetch npm packages here
        # (proxy and CA settings) should its cache lack one.
        env = {k: v for k, v in os.environ.items() if k in PASS_THROUGH_ENV}
        env |= {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "DENO_DIR": str(self.deno_dir),
            "DENO_NO_UPDATE_CHECK": "1",
            "NO_COLOR": "1",
            # Deno.serve listens here whatever port the function asks for.
            "DENO_SERVE_ADDRESS": f"tcp:127.0.0.1:{port}",
        }
        env.update(read_dotenv(self.functions_dir / ".env"))
        env.update(self.extra_env)
        env.update(
            {
                "SUPABASE_URL": supabase_url,
                "SUPABASE_ANON_KEY": self.config.anon_key,
                "SUPABASE_SERVICE_ROLE_KEY": self.config.service_role_key,
                "SUPABASE_DB_URL": self.config.db_url,
            }
        )
        return env

    def _command(self, worker: _Worker, entrypoint: str) -> list[str]:
        assert self.deno is not None
        # If the gateway's process dies without cleaning up (SIGKILL), take Deno with it.
        setpriv = shutil.which("setpriv")
        cmd = [setpriv, "--pdeathsig", "TERM"] if setpriv else []
        cmd += [
            self.deno,
            "run",
            "--no-prompt",
            "--allow-net",
            "--allow-env",
            # Functions may read their own files, as in a deployed bundle.
            f"--allow-read={self.functions_dir}",
        ]
        for config in (worker.directory / "deno.json", self.functions_dir / "deno.json"):
            if config.is_file():
                cmd.append(f"--config={config}")
                break
        cmd.append(str(worker.directory / entrypoint))
        return cmd

    async def _drain(self, worker: _Worker, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            worker.output.append(text)
            log.info("[%s] %s", worker.name, text)

    async def _start(self, worker: _Worker, settings: FunctionSettings, supabase_url: str) -> None:
        if self.deno is None:
            raise FunctionStartError(
                worker.name, "deno not found", "run `bash scripts/install-deno.sh` (or set SEER_DENO)"
            )
        entry = worker.directory / settings.entrypoint
        if not entry.is_file():
            raise FunctionStartError(worker.name, f"no entrypoint {entry.name}")
        self.deno_dir.mkdir(parents=True, exist_ok=True)
        worker.output.clear()
        worker.port = _free_port()
        started = time.perf_counter()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._command(worker, settings.entrypoint),
                cwd=worker.directory,
                env=self._function_env(worker.port, supabase_url),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
        except OSError as exc:
            raise FunctionStartError(worker.name, f"cannot run {self.deno}", str(exc)) from exc
        worker.process = proc
        worker.starts += 1
        await self._drop_connections(worker)
        worker.session = self._new_session()
        worker.readers = [
            asyncio.create_task(self._drain(worker, proc.stdout)),
            asyncio.create_task(self._watch(worker, proc)),
        ]
        deadline = started + self.boot_timeout
        while True:
            if proc.returncode is not None:
                await asyncio.sleep(0.05)  # let the reader pick up the last lines
                raise FunctionStartError(
                    worker.name, f"exit code {proc.returncode}", "\n".join(list(worker.output)[-15:])
                )
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", worker.port)
            except OSError:
                if time.perf_counter() > deadline:
                    await self._stop(worker)
                    raise FunctionStartError(
                        worker.name,
                        f"not listening after {self.boot_timeout:g} s",
                        "\n".join(list(worker.output)[-15:]),
                    ) from None
                await asyncio.sleep(0.02)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            break
        worker.boot_seconds = time.perf_counter() - started
        log.info("edge function %s ready on port %d in %.3f s", worker.name, worker.port, worker.boot_seconds)

    async def ensure_running(self, name: str, supabase_url: str) -> _Worker:
        worker = self.workers.setdefault(name, _Worker(name, self.functions_dir / name))
        if worker.running:
            return worker
        async with worker.lock:
            for attempt in range(3):
                if worker.running:
                    break
                await self._stop(worker)
                try:
                    await self._start(worker, self.toml.settings(name), supabase_url)
                except FunctionStartError as exc:
                    # The free port we picked was taken before Deno bound it: pick another.
                    if "AddrInUse" not in str(exc) or attempt == 2:
                        raise
        return worker

    # -- requests -----------------------------------------------------------------------------

    def _supabase_url(self, request: web.Request) -> str:
        if self.config.port:
            return self.config.url
        return f"{request.scheme}://{request.host}"

    def _jwt_error(self, request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization")
        if not auth:
            return json_response({"msg": "Error: Missing authorization header"}, 401)
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return json_response({"msg": "Error: Auth header is not 'Bearer {token}'"}, 401)
        try:
            decode_token(token.strip(), self.config.jwt_secret)
        except JwtError:
            return json_response({"msg": "Invalid JWT"}, 401)
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if not NAME_RE.match(name) or not (self.functions_dir / name).is_dir():
            return json_response({"code": "NOT_FOUND", "message": "Requested function was not found"}, 404)
        settings = self.toml.settings(name)
        if not settings.enabled:
            return json_response({"code": "NOT_FOUND", "message": "Requested function was not found"}, 404)
        if settings.verify_jwt and request.method != "OPTIONS":
            denied = self._jwt_error(request)
            if denied is not None:
                return denied
        try:
            worker = await self.ensure_running(name, self._supabase_url(request))
        except FunctionStartError as exc:
            log.error("%s", exc)
            return json_response({"code": "BOOT_ERROR", "message": str(exc)}, 503)
        body = await request.read()
        try:
            try:
                return await self._proxy(request, worker, body)
            except (aiohttp.ClientConnectorError, _WorkerGone):
                # The request never reached the function: its process is gone or going (e.g. it
                # exited after the previous request). Start it again and retry once.
                worker = await self._restart(name, worker, self._supabase_url(request))
                return await self._proxy(request, worker, body)
        except FunctionStartError as exc:
            log.error("%s", exc)
            return json_response({"code": "BOOT_ERROR", "message": str(exc)}, 503)
        except (aiohttp.ClientConnectionError, _WorkerGone) as exc:
            # The connection dropped mid-request: if the process is exiting, let it finish (and
            # its connections be dropped) before answering, so the next request starts it anew.
            if worker.process is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(worker.process.wait(), 1.0)
                if not worker.running:
                    await self._drop_connections(worker)
            if worker.running:
                message = f"Edge function '{name}' did not answer: {exc}"
            else:
                out = "\n".join(list(worker.output)[-15:])
                message = f"Edge function '{name}' exited while handling the request: {out}"
            log.error("%s", message)
            return json_response({"code": "WORKER_ERROR", "message": message}, 502)
        except TimeoutError:
            return json_response(
                {"code": "WORKER_TIMEOUT", "message": f"Edge function '{name}' took longer than 150 s"}, 504
            )

    async def _restart(self, name: str, worker: _Worker, supabase_url: str) -> _Worker:
        failed = worker.process
        async with worker.lock:
            # Another request may have restarted it already: only stop the process that failed us.
            if failed is not None and worker.process is failed and failed.returncode is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(failed.wait(), 0.5)
                if failed.returncode is None:
                    await self._stop(worker)
        return await self.ensure_running(name, supabase_url)

    async def _proxy(self, request: web.Request, worker: _Worker, body: bytes) -> web.StreamResponse:
        # The function sees /<name>/<tail>?<query>, as behind Supabase's gateway, byte for byte.
        raw = request.raw_path.removeprefix(FUNCTIONS_PREFIX)
        url = URL(f"http://127.0.0.1:{worker.port}{raw}", encoded=True)
        headers = [
            (k, v)
            for k, v in request.headers.items()
            if k.lower() not in HOP_BY_HOP
            and k.lower() != "content-length"
            and not k.lower().startswith("x-forwarded-")
        ]
        peer = request.remote or "unknown"
        prior = request.headers.get("X-Forwarded-For")
        headers += [
            ("Host", request.host),
            ("X-Forwarded-For", f"{prior}, {peer}" if prior else peer),
            ("X-Forwarded-Host", request.host),
            ("X-Forwarded-Proto", request.scheme),
        ]
        if worker.session is None:
            raise _WorkerGone(f"Edge function '{worker.name}' is not running")
        async with worker.session.request(
            request.method,
            url,
            headers=headers,
            data=body if body else None,
            allow_redirects=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
        ) as upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    response.headers.add(key, value)
            await response.prepare(request)
            try:
                if request.method != "HEAD":
                    async for chunk in upstream.content.iter_any():
                        await response.write(chunk)
            except (aiohttp.ClientError, TimeoutError) as exc:
                # Status and headers are gone already: cut the connection so the client sees a
                # truncated response rather than a complete-looking one.
                log.error("Edge function '%s' broke off its response: %s", worker.name, exc)
                if request.transport is not None:
                    request.transport.close()
                return response
            await response.write_eof()
            return response


APP_KEY: web.AppKey[FunctionsGateway] = web.AppKey("seer_functions", FunctionsGateway)


async def handler(request: web.Request) -> web.StreamResponse:
    """aiohttp route handler; needs :func:`setup` to have run on the app."""
    return await request.app[APP_KEY].handle(request)


def setup(app: web.Application, config: GatewayConfig, **options: Any) -> FunctionsGateway:
    """Mount ``/functions/v1/{name}{tail}`` on ``app``; stops the Deno processes on cleanup."""
    gateway = FunctionsGateway(config, **options)
    app[APP_KEY] = gateway
    app.router.add_route("*", FUNCTIONS_PREFIX + r"/{name}{tail:(/.*)?}", handler)

    async def _close(_: web.Application) -> None:
        await gateway.close()

    app.on_cleanup.append(_close)
    return gateway
