"""The one way the SDK talks HTTP to Supabase: every RPC and every auth call goes through here.

* :class:`Transport` sends an RPC as one ``POST /rest/v1/rpc/<fn>`` on an ``httpx.AsyncClient``
  (httpx is the seam: tests put a ``MockTransport`` under it), bounds **each attempt** by the
  call's ``timeout``, retries idempotent calls up to ``max_retries`` times on transport errors
  (no answer, 5xx), and maps every answer through :func:`answer`, the only place an HTTP answer
  becomes a result or an exception.
* :meth:`Transport.auth` bounds each supabase-auth call the same way; auth answers keep their
  own mapping (:func:`auth_error`), since supabase-auth has already turned them into exceptions.
* The final transport error names the attempts and the elapsed time, e.g.
  ``list_my_sessions: http://127.0.0.1:54321 did not answer within 10 s (3 attempts in 30.2 s)``.

Retries follow openai's and anthropic's SDKs: ``max_retries=2`` means up to three attempts.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from .errors import AuthError, ConfigError, SeerError, TimeoutError, TransportError, error_from_response

__all__ = ["CallOptions", "Transport", "answer", "auth_error", "check_max_retries", "check_timeout"]

log: logging.Logger = logging.getLogger("seer_client.client")

T = TypeVar("T")

#: Defaults shared by both clients and ``with_options``.
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 2


@dataclass(frozen=True)
class CallOptions:
    """Per-call settings: ``timeout`` bounds each attempt; ``max_retries`` counts retries."""

    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES


def check_timeout(timeout: float) -> float:
    """A timeout in seconds, in (0, 3600]; anything else is a :class:`ConfigError`."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 3600:
        raise ConfigError(f"timeout must be a number of seconds in (0, 3600], got {timeout!r}")
    return float(timeout)


def check_max_retries(max_retries: int) -> int:
    """A retry count in [0, 10]; anything else is a :class:`ConfigError`."""
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or not 0 <= max_retries <= 10:
        raise ConfigError(f"max_retries must be a whole number from 0 to 10, got {max_retries!r}")
    return max_retries


def _is_error_body(data: Any) -> bool:
    """PostgREST's error shape with a SESSION code (a function may answer it with HTTP 200)."""
    if not isinstance(data, dict):
        return False
    body = cast(dict[str, Any], data)
    code = body.get("code")
    return (
        set(body) == {"code", "message", "details", "hint"}
        and isinstance(code, str)
        and code.startswith("SESSION_")
    )


def answer(fn: str, base_url: str, response: httpx.Response) -> Any:
    """The result of an RPC answer, or the exception it stands for. The only such mapping."""
    if response.is_success:
        if not response.content:
            return None
        try:
            data = response.json()
        except ValueError:
            raise TransportError(
                f"{fn}: {base_url} answered with a body that is not JSON",
                status=response.status_code,
                answered=True,
            ) from None
        if _is_error_body(data):
            # A function may answer its error body itself and set PostgREST's response.status
            # (get_session_by_code does, to keep its rate-limit count): never a result.
            raise error_from_response(None, data)
        return data
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if body is None and response.status_code in (404, 405):
        # PostgREST answers JSON for every route; anything else is the wrong URL.
        raise TransportError(
            f"{fn}: no Supabase REST API at {base_url}/rest/v1; check the URL",
            status=response.status_code,
            answered=True,
        )
    raise error_from_response(response.status_code, body, text=response.text or None)


def _http_status_error(exc: BaseException) -> httpx.HTTPStatusError | None:
    """The ``httpx.HTTPStatusError`` behind a supabase-auth error (it nests it differently per case)."""
    return cast(httpx.HTTPStatusError | None, _nested(exc, httpx.HTTPStatusError))


def _nested(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return current
        original = getattr(current, "original_error", None)
        stack += [
            original if isinstance(original, BaseException) else None,
            current.__cause__,
            current.__context__,
        ]
    return None


def auth_error(exc: BaseException, base_url: str, what: str) -> SeerError:
    """Map a supabase-auth exception (or an httpx error under it) to the SDK's error."""
    from supabase_auth.errors import AuthError as GoTrueError
    from supabase_auth.errors import AuthRetryableError, AuthUnknownError

    if _nested(exc, httpx.TimeoutException) is not None:
        # Only a client built elsewhere gets here: ours leaves the limit to Transport.auth.
        return TimeoutError(f"{what}: {base_url} did not answer (the httpx client's own timeout ran out)")
    if isinstance(exc, GoTrueError):
        status = getattr(exc, "status", None)
        http_error = _http_status_error(exc)
        if http_error is not None:
            status = http_error.response.status_code
        if status in (404, 405):
            # GoTrue answers every route it has; a 404 means this is not a Supabase API.
            return TransportError(
                f"{what}: no Supabase Auth API at {base_url}/auth/v1; check the URL",
                status=status,
                answered=True,
            )
        network = _nested(exc, httpx.HTTPError)
        # supabase-auth reports network failures as AuthRetryableError(status 0) and gateway
        # errors (5xx) the same way: those are transport problems, not auth.
        if isinstance(exc, AuthRetryableError) or (status is not None and status >= 500):
            reason = exc.message or (f"{type(network).__name__}: {network}" if network else "no answer")
            return TransportError(
                f"{what}: {base_url}: {reason}", status=status or None, code=exc.code, answered=bool(status)
            )
        if isinstance(exc, AuthUnknownError) and isinstance(exc.original_error, httpx.HTTPError):
            return TransportError(f"{what}: {base_url} unreachable: {_describe(exc.original_error)}")
        return AuthError(exc.message, status=status, code=exc.code, answered=bool(status))
    if isinstance(exc, httpx.HTTPError):
        return TransportError(f"{what}: {base_url} unreachable: {_describe(exc)}")
    raise exc


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, TransportError) and (exc.status is None or exc.status >= 500)


class Transport:
    """Sends RPCs and bounds auth calls for one Supabase project (see the module docstring)."""

    def __init__(self, base_url: str, api_key: str, http: httpx.AsyncClient, *, owns_http: bool) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.http = http
        self.owns_http = owns_http

    async def aclose(self) -> None:
        """Close the HTTP client when this transport created it."""
        if self.owns_http:
            await self.http.aclose()

    # ------------------------------------------------------------------ RPC
    async def rpc(
        self, fn: str, params: dict[str, Any], *, token: str, options: CallOptions, idempotent: bool
    ) -> Any:
        """Call ``fn``; only ``idempotent`` calls are retried, and only on transport errors/5xx."""
        return await self._call(fn, f"/rest/v1/rpc/{fn}", params, token, options, idempotent)

    async def function(
        self, name: str, body: dict[str, Any], *, token: str, options: CallOptions, idempotent: bool
    ) -> Any:
        """POST ``body`` to the Edge Function ``name``; answered and retried as an RPC is."""
        return await self._call(name, f"/functions/v1/{name}", body, token, options, idempotent)

    async def _call(
        self, fn: str, path: str, params: dict[str, Any], token: str, options: CallOptions, idempotent: bool
    ) -> Any:
        attempts = options.max_retries + 1 if idempotent else 1
        started = time.monotonic()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=wait_random_exponential(multiplier=0.2, max=2.0),
            retry=retry_if_exception(_retryable),
            before_sleep=lambda s: _log_retry(fn, s, attempts),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._send_once(fn, path, params, token=token, limit=options.timeout)
        except TransportError as exc:
            # tenacity counts the attempts it made (its statistics of this call)
            made = int(retrying.statistics.get("attempt_number", 1))
            _note_attempts(exc, made, time.monotonic() - started, idempotent=idempotent, fn=fn)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(
        self, fn: str, path: str, params: dict[str, Any], *, token: str, limit: float
    ) -> Any:
        request = self.http.build_request(
            "POST",
            f"{self.base_url}{path}",
            json=params,
            headers={
                "apikey": self.api_key,
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "X-Client-Info": "seer-client",
            },
            timeout=httpx.Timeout(limit),
        )
        try:
            async with asyncio.timeout(limit):
                response = await self.http.send(request)
        except (builtins.TimeoutError, httpx.TimeoutException) as exc:
            if isinstance(exc, SeerError):
                raise
            raise TimeoutError(f"{fn}: {self.base_url} did not answer within {limit:g} s") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"{fn}: {self.base_url} unreachable: {_describe(exc)}") from exc
        return answer(fn, self.base_url, response)

    # ------------------------------------------------------------------ auth
    async def auth(self, what: str, call: Callable[[], Awaitable[T]], *, options: CallOptions) -> T:
        """Run one supabase-auth call, bounded by ``options.timeout`` (auth calls are not retried:
        a sign-up or a refresh-token exchange is not safe to send twice)."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(options.timeout):
                return await call()
        except builtins.TimeoutError as exc:
            if isinstance(exc, SeerError):
                raise
            raise TimeoutError(
                f"{what}: {self.base_url} did not answer within {options.timeout:g} s"
                f" (1 attempt in {time.monotonic() - started:.1f} s)"
            ) from exc
        except SeerError:
            raise
        except Exception as exc:
            raise auth_error(exc, self.base_url, what) from exc


def _note_attempts(exc: TransportError, attempts: int, elapsed: float, *, idempotent: bool, fn: str) -> None:
    """Say in the final error how many attempts were made and how long they took."""
    plural = "attempt" if attempts == 1 else "attempts"
    note = f"{attempts} {plural} in {elapsed:.1f} s"
    if not idempotent:
        note += f"; {fn} changes data and is never retried"
    exc.message = f"{exc.message} ({note})"
    exc.attempts = attempts
    exc.elapsed = elapsed


def _log_retry(fn: str, state: RetryCallState, attempts: int) -> None:
    delay = state.next_action.sleep if state.next_action else 0.0
    error = state.outcome.exception() if state.outcome else None
    log.info(
        "%s failed (%s); retrying in %.2f s (attempt %d of %d)",
        fn,
        error,
        delay,
        state.attempt_number + 1,
        attempts,
    )
