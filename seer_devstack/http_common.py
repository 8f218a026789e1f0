# pyright: standard
"""Request authentication shared by /rest/v1 and /auth/v1: what the CLI's API gateway does
with apikey/Authorization, and PostgREST's JWT rules."""

from __future__ import annotations

import json
import time
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


#: The roles PostgREST's authenticator may switch to on Supabase (`authenticator` is a member
#: of these three only: supabase/postgres roles.sql, `grant anon, authenticated, service_role
#: to authenticator`). A JWT claiming any other role fails at PostgREST's `set role`.
AUTHENTICATOR_ROLES = frozenset({"anon", "authenticated", "service_role"})


def role_switch_error(role: str, role_exists: bool) -> web.Response:
    """What PostgREST answers when the JWT's role is not one the authenticator may become:
    Postgres' 42501 "permission denied to set role" (403, the request carried a role) for a
    role that exists, 22023 "role ... does not exist" (401 since PostgREST 13.0.1, #3601)
    for one that does not."""
    if role_exists:
        return pgrst_error(403, "42501", f'permission denied to set role "{role}"')
    return pgrst_error(401, "22023", f'role "{role}" does not exist')


def _claims_error(claims: dict[str, Any]) -> str | None:
    """PostgREST's claim checks beyond ``exp`` (Auth/Jwt.hs checkForErrors), as PGRST303
    messages: ``iat`` must be a number and not more than 30 s in the future; ``aud`` may be
    absent, a string or an array of strings. Supabase sets no ``jwt-aud`` (supabase/cli
    start.go passes no PGRST_JWT_AUD), so any string passes - GoTrue and Realtime do not
    check it either. (``nbf`` is refused by the signature check already, without the skew.)"""
    iat = claims.get("iat")
    if iat is not None:
        if isinstance(iat, bool) or not isinstance(iat, int | float):
            return "The JWT 'iat' claim must be a number"
        if iat > time.time() + 30:
            return "JWT issued at future"
    if "aud" in claims:
        aud = claims["aud"]
        if not (isinstance(aud, str) or (isinstance(aud, list) and all(isinstance(a, str) for a in aud))):
            return "The JWT 'aud' claim must be a string or an array of strings"
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
    message = _claims_error(claims)
    if message is not None:
        return pgrst_error(
            401,
            "PGRST303",
            message,
            headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{message}"'},
        )
    return Caller(token, claims)
