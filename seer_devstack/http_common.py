# pyright: standard
"""Request authentication shared by /rest/v1 and /auth/v1: what the CLI's API gateway does
with apikey/Authorization, and PostgREST's JWT rules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .config import GatewayConfig, JwtError, decode_token

JSON_CT = "application/json; charset=utf-8"


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None, *, raw: str | None = None
) -> web.Response:
    text = raw if raw is not None else json.dumps(body, separators=(",", ":"))
    return web.Response(text=text, status=status, headers={"Content-Type": JSON_CT, **(headers or {})})


def pgrst_error(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    hint: Any = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An error body exactly as PostgREST renders one (verbose mode, as Supabase runs it)."""
    return json_response(
        {"code": code, "details": details, "hint": hint, "message": message},
        status,
        {"Proxy-Status": f"PostgREST; error={code}", **(headers or {})},
    )


def gateway_authorization(request: web.Request) -> str | None:
    """The Authorization header a service receives behind the CLI's API gateway.

    `supabase start`'s Kong (apps/cli-go/internal/start/templates/kong.yml and start.go's
    BearerToken) has no key-auth plugin: it requires no apikey and checks none. For
    /auth/v1 and /rest/v1 it only rewrites Authorization to: the client's Authorization
    unless that is ``Bearer sb_...`` (a new-style key), else ``Bearer <legacy key>`` for the
    project's sb_ secret/publishable keys (the devstack issues only the legacy JWT keys), else
    the raw ``apikey`` header (no ``Bearer`` scheme, so PostgREST and GoTrue see no token).
    Hosted projects' gateway does require a valid apikey (docs/devstack.md)."""
    auth = request.headers.get("Authorization")
    if auth is not None and not auth.startswith("Bearer sb_"):
        return auth
    return request.headers.get("apikey")


def bearer(request: web.Request) -> str | None:
    """The token of a ``Bearer`` Authorization (as the gateway forwards it), else None."""
    auth = gateway_authorization(request) or ""
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


@dataclass
class Caller:
    token: str
    claims: dict[str, Any]

    @property
    def role(self) -> str:
        role = self.claims.get("role")
        return role if isinstance(role, str) and role else "anon"


def postgrest_caller(request: web.Request, config: GatewayConfig) -> Caller | web.Response:
    """The JWT a request runs with, or PostgREST's 401. Like PostgREST (Auth.hs) a header
    that is not ``Bearer <token>`` means no token: the request runs as ``anon``."""
    auth = (gateway_authorization(request) or "").strip()
    if auth.lower() == "bearer":
        return pgrst_error(
            401,
            "PGRST301",
            "Empty JWT is sent in Authorization header",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    token = bearer(request)
    if token is None:
        return Caller("", {"role": "anon"})
    try:
        claims = decode_token(token, config.jwt_secret)
    except JwtError as exc:
        code = "PGRST303" if exc.kind in ("expired", "claims") else "PGRST301"
        return pgrst_error(
            401,
            code,
            exc.message,
            headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{exc.message}"'},
        )
    return Caller(token, claims)
