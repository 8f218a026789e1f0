# pyright: standard
"""Request authentication shared by /rest/v1 and /auth/v1: the API gateway's apikey check
and PostgREST's JWT rules."""

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


def bearer(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


def api_key(request: web.Request) -> str | None:
    return request.headers.get("apikey") or request.query.get("apikey")


def gateway_key_error(request: web.Request, config: GatewayConfig) -> web.Response | None:
    """What Supabase's API gateway answers before a request reaches a service."""
    key = api_key(request)
    if not key:
        return json_response(
            {
                "message": "No API key found in request",
                "hint": "No `apikey` request header or url param was found.",
            },
            401,
        )
    try:
        decode_token(key, config.jwt_secret)
    except JwtError:
        return json_response(
            {
                "message": "Invalid API key",
                "hint": "Double check your Supabase `anon` or `service_role` API key.",
            },
            401,
        )
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
    """The JWT a request runs with (Authorization, else the apikey), or PostgREST's 401."""
    token = bearer(request)
    if token is None:
        if "Authorization" in request.headers and request.headers["Authorization"].strip() == "Bearer":
            return pgrst_error(
                401,
                "PGRST301",
                "Empty JWT is sent in Authorization header",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        token = api_key(request) or ""
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
