# pyright: standard
"""Gateway settings and the JWT helpers shared by the Auth, REST and Realtime emulations."""

from __future__ import annotations

import functools
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

#: The Supabase CLI's well-known local JWT secret (`supabase status` prints it).
DEFAULT_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
#: Expiry of the CLI's anon/service_role keys (2032-11-12), as `supabase status` shows them.
DEMO_KEY_EXP = 1983812996


def make_api_key(secret: str, role: str) -> str:
    """An API key shaped like the CLI's: HS256 JWT with ``iss`` supabase-demo and a role."""
    return jwt.encode({"iss": "supabase-demo", "role": role, "exp": DEMO_KEY_EXP}, secret, algorithm="HS256")


@dataclass
class GatewayConfig:
    """Everything the gateway needs besides the database."""

    db_url: str
    host: str = "127.0.0.1"
    port: int = 54321
    jwt_secret: str = DEFAULT_JWT_SECRET
    #: Access token lifetime in seconds (GoTrue's GOTRUE_JWT_EXP, default 3600).
    jwt_expiry: int = 3600
    #: GoTrue's sign-up switches as `supabase start` sets them from supabase/config.toml
    #: (read_project_config): GOTRUE_DISABLE_SIGNUP = not [auth] enable_signup,
    #: GOTRUE_EXTERNAL_EMAIL_ENABLED = [auth.email] enable_signup,
    #: GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED = [auth] enable_anonymous_sign_ins. The
    #: defaults are the CLI's defaults for a config.toml that does not set them.
    enable_signup: bool = True
    email_signup: bool = True
    anonymous_sign_ins: bool = False
    #: GoTrue hashes with bcrypt at cost 10 (bcrypt.DefaultCost).
    bcrypt_rounds: int = 10
    #: Realtime: close a socket that sent no frame for this long (Phoenix's 60 s default).
    idle_timeout: float = 60.0
    #: Realtime: presence track/untrack calls allowed per window (CLIENT_PRESENCE_MAX_CALLS).
    presence_max_calls: int = 5
    presence_window: float = 30.0
    #: Realtime sleeps CHANNEL_ERROR_BACKOFF_MS (5 s) before a join error; 0 here by default
    #: so tests of refused joins stay fast.
    join_error_backoff: float = 0.0
    #: Fault switch: this fraction (0 to 1) of database-originated broadcasts (realtime.send)
    #: is dropped at random, as real Realtime drops them above the tenant's rate limits and
    #: while its replication connection is down or restarting. 0 = lossless.
    drop_db_broadcasts: float = 0.0
    #: Outage mode: (seconds, every) - every database broadcast is lost for `seconds` after
    #: start (and again every `every` seconds when set), as while Realtime's replication
    #: connection is down. None = no scheduled outage (DevStack.realtime_outage() still works).
    realtime_outage: tuple[float, float | None] | None = None
    #: The tenant limits (Realtime's RateCounter: 5 s ticks, the average of the last 12). The
    #: defaults are the local CLI's tenant (TENANT_MAX_EVENTS_PER_SECOND 100,
    #: TENANT_MAX_JOINS_PER_SECOND 100, max_presence_events_per_second's default 1000); hosted
    #: plans: messages/s 100 (Free) / 500 (Pro) / 2,500, presence/s 20 / 50 / 1,000.
    realtime_max_events_per_second: int = 100
    realtime_max_presence_events_per_second: int = 1000
    realtime_max_joins_per_second: int = 100
    #: the RateCounter tick (Realtime: 5 s); tests may shorten it to see limits act sooner
    realtime_rate_tick: float = 5.0
    #: Pool size for REST/Auth/authorization queries.
    pool_max_size: int = 20
    #: The API gateway's key check, as hosted Supabase runs it (Kong key-auth on /auth/v1,
    #: /rest/v1 and /realtime/v1, apikey header or query parameter): a request without the
    #: project's anon or service_role key gets 401 "No API key found in request" / "Invalid
    #: API key". False mimics `supabase start`, whose local gateway has checked no key since
    #: 2023 (docs/devstack.md); the default never accepts what a deployment refuses.
    check_api_key: bool = True
    anon_key: str = field(init=False)
    service_role_key: str = field(init=False)

    def __post_init__(self) -> None:
        self.anon_key = make_api_key(self.jwt_secret, "anon")
        self.service_role_key = make_api_key(self.jwt_secret, "service_role")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def auth_issuer(self) -> str:
        return f"{self.url}/auth/v1"


def read_project_config(path: Path) -> dict[str, Any]:
    """The GatewayConfig settings a project's supabase/config.toml decides, as the CLI passes
    them to GoTrue (apps/cli-go/internal/start/start.go, buildGotrueEnv). Missing file or keys:
    nothing (the GatewayConfig defaults, which are the CLI's)."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return {}
    auth = data.get("auth") or {}
    email = auth.get("email") or {}
    out: dict[str, Any] = {}
    if "jwt_expiry" in auth:
        out["jwt_expiry"] = int(auth["jwt_expiry"])
    if "enable_signup" in auth:
        out["enable_signup"] = bool(auth["enable_signup"])
    if "enable_anonymous_sign_ins" in auth:
        out["anonymous_sign_ins"] = bool(auth["enable_anonymous_sign_ins"])
    if "enable_signup" in email:
        out["email_signup"] = bool(email["enable_signup"])
    return out


class JwtError(Exception):
    """A token that does not verify. ``kind`` says why (for protocol-specific messages)."""

    def __init__(self, kind: str, message: str, *, expired_for: int = 0) -> None:
        super().__init__(message)
        self.kind = kind  # "parts" | "malformed" | "signature" | "expired" | "claims"
        self.message = message
        self.expired_for = expired_for


def decode_token(token: str, secret: str) -> dict[str, Any]:
    """Verify an HS256 token. Raises :class:`JwtError`; messages follow PostgREST's wording."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtError("parts", f"Expected 3 parts in JWT; got {len(parts)}")
    claims = dict(_verified_claims(token, secret))  # a copy: the cached dict stays pristine
    exp = claims.get("exp")
    if exp is not None:
        if not isinstance(exp, int | float):
            raise JwtError("claims", "The JWT 'exp' claim must be a number")
        now = int(time.time())
        if now >= exp:
            raise JwtError("expired", "JWT expired", expired_for=int(now - exp))
    return claims


@functools.lru_cache(maxsize=4096)
def _verified_claims(token: str, secret: str) -> dict[str, Any]:
    """Signature check and decoding, cached per (token, secret): every request carries the
    same few tokens (apikey and the user's JWT). Expiry is checked on each use by the caller."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"verify_aud": False, "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise JwtError("signature", "JWT cryptographic operation failed") from exc
    except jwt.InvalidAlgorithmError as exc:
        raise JwtError("signature", "Wrong or unsupported encoding algorithm") from exc
    except jwt.PyJWTError as exc:
        raise JwtError("malformed", "JWT couldn't be decoded") from exc
    if not isinstance(claims, dict):
        raise JwtError("claims", "Parsing claims failed")
    return claims
