# pyright: standard
"""``/auth/v1``: the part of GoTrue (supabase/auth) the SDK uses.

Users live in ``auth.users`` (so the project's ``on insert`` triggers run), sessions in
``auth.sessions`` and rotating refresh tokens in ``auth.refresh_tokens``. Email
confirmation is off, as in the CLI's default ``[auth.email] enable_confirmations = false``,
so signup returns a session at once. Error bodies follow GoTrue's two formats: the
``2024-01-01`` API version (``{code, message}``, which supabase-py requests) and the
legacy one (``{code: <status>, error_code, msg}``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import bcrypt
import jwt
from aiohttp import web

from .config import GatewayConfig, JwtError, decode_token
from .http_common import bearer, json_response

API_VERSION_HEADER = "X-Supabase-Api-Version"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
REFRESH_REUSE_INTERVAL = 10  # GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL


class AuthError(Exception):
    def __init__(self, status: int, code: str, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status: int = status
        self.code: str = code
        self.message: str = message
        self.extra: dict[str, Any] = extra or {}


def iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.isoformat().replace("+00:00", "Z")


USER_COLS = """id, aud, role, email, encrypted_password, email_confirmed_at, phone, phone_confirmed_at,
confirmed_at, last_sign_in_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
is_anonymous, banned_until, deleted_at, is_sso_user, invited_at"""


def _json_obj(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


class AuthApi:
    def __init__(self, config: GatewayConfig, pool: asyncpg.Pool) -> None:
        self.config = config
        self.pool = pool

    def routes(self) -> list[web.RouteDef]:
        p = "/auth/v1"
        return [
            web.get(f"{p}/health", self.health),
            web.get(f"{p}/settings", self.settings),
            web.post(f"{p}/signup", self.wrap(self.signup)),
            web.post(f"{p}/token", self.wrap(self.token)),
            web.get(f"{p}/user", self.wrap(self.get_user)),
            web.put(f"{p}/user", self.wrap(self.update_user)),
            web.post(f"{p}/logout", self.wrap(self.logout)),
            web.post(f"{p}/admin/users", self.wrap(self.admin_create)),
            web.get(f"{p}/admin/users", self.wrap(self.admin_list)),
            web.get(f"{p}/admin/users/{{id}}", self.wrap(self.admin_get)),
            web.put(f"{p}/admin/users/{{id}}", self.wrap(self.admin_update)),
            web.delete(f"{p}/admin/users/{{id}}", self.wrap(self.admin_delete)),
        ]

    # -- framing --------------------------------------------------------------------------
    def wrap(self, handler: Any) -> Any:
        async def run(request: web.Request) -> web.Response:
            new_api = _api_version(request) >= "2024-01-01"
            extra = {API_VERSION_HEADER: "2024-01-01"} if new_api else {}
            try:
                resp: web.Response = await handler(request)
            except AuthError as e:
                if new_api:
                    body = {"code": e.code, "message": e.message, **e.extra}
                else:
                    body = {"code": e.status, "error_code": e.code, "msg": e.message, **e.extra}
                return json_response(body, e.status, extra)
            resp.headers.update(extra)
            return resp

        return run

    async def health(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "version": "devstack",
                "name": "GoTrue",
                "description": "GoTrue is a user registration and authentication API",
            }
        )

    async def settings(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "external": {
                    "anonymous_users": self.config.anonymous_sign_ins,
                    "email": self.config.email_signup,
                    "phone": False,
                },
                "disable_signup": not self.config.enable_signup,
                "mailer_autoconfirm": True,
                "phone_autoconfirm": False,
                "sms_provider": "",
                "saml_enabled": False,
            }
        )

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise AuthError(400, "bad_json", "Could not parse request body as JSON: " + str(exc)) from exc
        except RecursionError as exc:
            # Go's encoding/json refuses nesting deeper than 10000 the same way (400 bad_json)
            raise AuthError(
                400, "bad_json", "Could not parse request body as JSON: exceeded max depth"
            ) from exc
        if not isinstance(body, dict):
            raise AuthError(400, "bad_json", "Could not parse request body as JSON")
        return body

    # -- users and tokens ---------------------------------------------------------------
    async def _hash(self, password: str) -> str:
        rounds = self.config.bcrypt_rounds
        hashed: bytes = await asyncio.to_thread(bcrypt.hashpw, password.encode()[:72], bcrypt.gensalt(rounds))
        return hashed.decode()

    @staticmethod
    async def _check(password: str, hashed: str | None) -> bool:
        if not hashed:
            return False
        try:
            return await asyncio.to_thread(bcrypt.checkpw, password.encode()[:72], hashed.encode())
        except ValueError:
            return False

    async def _user_json(self, conn: asyncpg.Connection, row: asyncpg.Record) -> dict[str, Any]:
        identities = []
        for i in await conn.fetch(
            "select id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at,"
            " updated_at, email from auth.identities where user_id = $1 order by created_at",
            row["id"],
        ):
            identities.append(
                {
                    "identity_id": str(i["id"]),
                    "id": i["provider_id"],
                    "user_id": str(i["user_id"]),
                    "identity_data": _json_obj(i["identity_data"]),
                    "provider": i["provider"],
                    "last_sign_in_at": iso(i["last_sign_in_at"]),
                    "created_at": iso(i["created_at"]),
                    "updated_at": iso(i["updated_at"]),
                    "email": i["email"],
                }
            )
        return {
            "id": str(row["id"]),
            "aud": row["aud"] or "authenticated",
            "role": row["role"] or "authenticated",
            "email": row["email"] or "",
            "email_confirmed_at": iso(row["email_confirmed_at"]),
            "phone": row["phone"] or "",
            "phone_confirmed_at": iso(row["phone_confirmed_at"]),
            "confirmed_at": iso(row["confirmed_at"]),
            "last_sign_in_at": iso(row["last_sign_in_at"]),
            "app_metadata": _json_obj(row["raw_app_meta_data"]),
            "user_metadata": _json_obj(row["raw_user_meta_data"]),
            "identities": identities,
            "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"]),
            "is_anonymous": bool(row["is_anonymous"]),
        }

    async def _issue(
        self,
        conn: asyncpg.Connection,
        user: asyncpg.Record,
        method: str,
        session_id: uuid.UUID | None = None,
        parent: str | None = None,
    ) -> dict[str, Any]:
        """A new session (or a rotated refresh token for ``session_id``) and its access token."""
        now = int(time.time())
        if session_id is None:
            session_id = uuid.uuid4()
            await conn.execute(
                "insert into auth.sessions (id, user_id, created_at, updated_at, aal)"
                " values ($1, $2, now(), now(), 'aal1')",
                session_id,
                user["id"],
            )
        else:
            await conn.execute(
                "update auth.sessions set updated_at = now(), refreshed_at = now() where id = $1", session_id
            )
        refresh = secrets.token_urlsafe(9)[:12]
        await conn.execute(
            "insert into auth.refresh_tokens (token, user_id, revoked, created_at, updated_at, parent,"
            " session_id) values ($1, $2, false, now(), now(), $3, $4)",
            refresh,
            str(user["id"]),
            parent,
            session_id,
        )
        created = await conn.fetchval("select created_at from auth.sessions where id = $1", session_id)
        claims = {
            "iss": self.config.auth_issuer,
            "sub": str(user["id"]),
            "aud": user["aud"] or "authenticated",
            "exp": now + self.config.jwt_expiry,
            "iat": now,
            "email": user["email"] or "",
            "phone": user["phone"] or "",
            "app_metadata": _json_obj(user["raw_app_meta_data"]),
            "user_metadata": _json_obj(user["raw_user_meta_data"]),
            "role": user["role"] or "authenticated",
            "aal": "aal1",
            "amr": [{"method": method, "timestamp": int(created.timestamp()) if created else now}],
            "session_id": str(session_id),
            "is_anonymous": bool(user["is_anonymous"]),
        }
        token = jwt.encode(claims, self.config.jwt_secret, algorithm="HS256", headers={"kid": "devstack"})
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.config.jwt_expiry,
            "expires_at": now + self.config.jwt_expiry,
            "refresh_token": refresh,
            "user": await self._user_json(conn, user),
        }

    async def _fetch_user(self, conn: asyncpg.Connection, user_id: uuid.UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(f"select {USER_COLS} from auth.users where id = $1", user_id)

    async def _create_user(
        self,
        conn: asyncpg.Connection,
        *,
        email: str | None,
        phone: str | None,
        password: str | None,
        user_metadata: dict[str, Any],
        app_metadata: dict[str, Any] | None = None,
        confirm: bool = True,
        anonymous: bool = False,
        user_id: uuid.UUID | None = None,
        role: str = "authenticated",
    ) -> asyncpg.Record:
        uid = user_id or uuid.uuid4()
        provider = "anonymous" if anonymous else ("phone" if phone and not email else "email")
        app_meta = {} if anonymous else {"provider": provider, "providers": [provider]}
        app_meta.update(app_metadata or {})
        hashed = await self._hash(password) if password else ""
        row = await conn.fetchrow(
            f"""
            insert into auth.users (instance_id, id, aud, role, email, encrypted_password,
              email_confirmed_at, phone, phone_confirmed_at, raw_app_meta_data, raw_user_meta_data,
              created_at, updated_at, is_anonymous, is_sso_user)
            values ('00000000-0000-0000-0000-000000000000', $1, 'authenticated', $2::text, $3::text,
              $4::text, case when $5::bool and $3::text is not null then now() end, $6::text,
              case when $5::bool and $6::text is not null then now() end, $7::jsonb, $8::jsonb,
              now(), now(), $9::bool, false)
            returning {USER_COLS}
            """,
            uid,
            role,
            email,
            hashed,
            confirm,
            phone,
            json.dumps(app_meta),
            json.dumps(user_metadata),
            anonymous,
        )
        if not anonymous:
            sub = str(uid)
            data: dict[str, Any] = {"sub": sub, "email_verified": False, "phone_verified": False}
            if email:
                data["email"] = email
            if phone:
                data["phone"] = phone
            await conn.execute(
                "insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at,"
                " created_at, updated_at) values ($1, $2, $3::jsonb, $4, now(), now(), now())",
                sub,
                uid,
                json.dumps(data),
                provider,
            )
        assert row is not None
        return row

    @staticmethod
    def _validate_new(email: str | None, password: str | None) -> None:
        if email is not None and not EMAIL_RE.match(email):
            raise AuthError(400, "validation_failed", "Unable to validate email address: invalid format")
        if password is not None and len(password) < 6:
            raise AuthError(
                422,
                "weak_password",
                "Password should be at least 6 characters.",
                {"weak_password": {"reasons": ["length"]}},
            )

    # -- endpoints --------------------------------------------------------------------------
    async def signup(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        email = (body.get("email") or "").strip().lower() or None
        phone = (body.get("phone") or "").strip() or None
        password = body.get("password")
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise AuthError(400, "validation_failed", "data must be an object")
        anonymous = not email and not phone
        # GoTrue's order (internal/api/api.go /signup route, signup.go, anonymous.go): the
        # anonymous-provider switch, then GOTRUE_DISABLE_SIGNUP, then the parameters, then the
        # e-mail provider switch.
        if anonymous and not self.config.anonymous_sign_ins:
            raise AuthError(422, "anonymous_provider_disabled", "Anonymous sign-ins are disabled")
        if not self.config.enable_signup:
            raise AuthError(422, "signup_disabled", "Signups not allowed for this instance")
        if anonymous and password:
            raise AuthError(400, "validation_failed", "Signup requires a valid password")
        if not anonymous:
            if not password:
                raise AuthError(400, "validation_failed", "Signup requires a valid password")
            self._validate_new(email, password)
            if email and not self.config.email_signup:
                raise AuthError(400, "email_provider_disabled", "Email signups are disabled")
        async with self.pool.acquire() as conn, conn.transaction():
            if email and await conn.fetchval("select 1 from auth.users where lower(email) = $1", email):
                raise AuthError(422, "user_already_exists", "User already registered")
            if phone and await conn.fetchval("select 1 from auth.users where phone = $1", phone):
                raise AuthError(422, "user_already_exists", "User already registered")
            user = await self._create_user(
                conn, email=email, phone=phone, password=password, user_metadata=data, anonymous=anonymous
            )
            await conn.execute("update auth.users set last_sign_in_at = now() where id = $1", user["id"])
            user = await self._fetch_user(conn, user["id"])
            assert user is not None
            session = await self._issue(conn, user, "anonymous" if anonymous else "password")
        return json_response(session)

    async def token(self, request: web.Request) -> web.Response:
        grant = request.query.get("grant_type")
        body = await self._body(request)
        if grant == "password":
            return await self._password_grant(body)
        if grant == "refresh_token":
            return await self._refresh_grant(body)
        raise AuthError(400, "validation_failed", "unsupported_grant_type")

    async def _password_grant(self, body: dict[str, Any]) -> web.Response:
        email = (body.get("email") or "").strip().lower()
        phone = (body.get("phone") or "").strip()
        password = body.get("password") or ""
        if not (email or phone) or not password:
            raise AuthError(400, "validation_failed", "missing email or phone")
        async with self.pool.acquire() as conn, conn.transaction():
            if email:
                user = await conn.fetchrow(
                    f"select {USER_COLS} from auth.users where lower(email) = $1 and not is_sso_user", email
                )
            else:
                user = await conn.fetchrow(f"select {USER_COLS} from auth.users where phone = $1", phone)
            if user is None or not await self._check(password, user["encrypted_password"]):
                raise AuthError(400, "invalid_credentials", "Invalid login credentials")
            if user["banned_until"] is not None and user["banned_until"] > datetime.now(UTC):
                raise AuthError(400, "user_banned", "User is banned")
            await conn.execute("update auth.users set last_sign_in_at = now() where id = $1", user["id"])
            user = await self._fetch_user(conn, user["id"])
            assert user is not None
            session = await self._issue(conn, user, "password")
        return json_response(session)

    async def _refresh_grant(self, body: dict[str, Any]) -> web.Response:
        token = body.get("refresh_token") or ""
        if not token:
            raise AuthError(400, "validation_failed", "refresh_token required")
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "select id, token, user_id, revoked, updated_at, session_id from auth.refresh_tokens"
                " where token = $1 for update",
                token,
            )
            if row is None:
                raise AuthError(
                    400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
                )
            if row["session_id"] is None or not await conn.fetchval(
                "select 1 from auth.sessions where id = $1", row["session_id"]
            ):
                raise AuthError(400, "session_not_found", "Invalid Refresh Token: No Valid Session Found")
            user = await self._fetch_user(conn, uuid.UUID(row["user_id"]))
            if user is None:
                raise AuthError(
                    400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
                )
            if row["revoked"]:
                active = await conn.fetchrow(
                    "select token, parent from auth.refresh_tokens where session_id = $1 and not revoked"
                    " order by id desc limit 1",
                    row["session_id"],
                )
                age = (datetime.now(UTC) - row["updated_at"]).total_seconds()
                if not (active and active["parent"] == token and age <= REFRESH_REUSE_INTERVAL):
                    # Reuse outside the grace window: GoTrue revokes the whole token family.
                    await conn.execute(
                        "update auth.refresh_tokens set revoked = true, updated_at = now()"
                        " where session_id = $1",
                        row["session_id"],
                    )
                    raise AuthError(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
                # The client lost the previous answer: hand out the currently active token again.
                session = await self._issue(conn, user, "password", row["session_id"], parent=token)
                await conn.execute(
                    "update auth.refresh_tokens set revoked = true, updated_at = now() where token = $1",
                    active["token"],
                )
                return json_response(session)
            await conn.execute(
                "update auth.refresh_tokens set revoked = true, updated_at = now() where id = $1", row["id"]
            )
            session = await self._issue(conn, user, "password", row["session_id"], parent=token)
        return json_response(session)

    async def _user_from_token(
        self, conn: asyncpg.Connection, request: web.Request
    ) -> tuple[asyncpg.Record, dict[str, Any]]:
        token = bearer(request)
        if not token:
            raise AuthError(401, "no_authorization", "This endpoint requires a valid Bearer token")
        try:
            claims = decode_token(token, self.config.jwt_secret)
        except JwtError as exc:
            detail = "token is expired" if exc.kind == "expired" else "signature is invalid"
            raise AuthError(
                403, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {detail}"
            ) from exc
        try:
            uid = uuid.UUID(str(claims.get("sub")))
        except ValueError as exc:
            raise AuthError(403, "bad_jwt", "invalid claim: missing sub claim") from exc
        user = await self._fetch_user(conn, uid)
        if user is None:
            raise AuthError(403, "user_not_found", "User from sub claim in JWT does not exist")
        sid = claims.get("session_id")
        if sid:
            exists = await conn.fetchval("select 1 from auth.sessions where id = $1", uuid.UUID(sid))
            if not exists:
                raise AuthError(
                    403, "session_not_found", "Session from session_id claim in JWT does not exist"
                )
        return user, claims

    async def get_user(self, request: web.Request) -> web.Response:
        async with self.pool.acquire() as conn:
            user, _ = await self._user_from_token(conn, request)
            return json_response(await self._user_json(conn, user))

    async def update_user(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        async with self.pool.acquire() as conn, conn.transaction():
            user, _ = await self._user_from_token(conn, request)
            if "data" in body and isinstance(body["data"], dict):
                await conn.execute(
                    "update auth.users set raw_user_meta_data = coalesce(raw_user_meta_data, '{}')"
                    " || $2::jsonb, updated_at = now() where id = $1",
                    user["id"],
                    json.dumps(body["data"]),
                )
            if body.get("password"):
                self._validate_new(None, body["password"])
                await conn.execute(
                    "update auth.users set encrypted_password = $2, updated_at = now() where id = $1",
                    user["id"],
                    await self._hash(body["password"]),
                )
            if body.get("email"):
                email = body["email"].strip().lower()
                self._validate_new(email, None)
                if await conn.fetchval(
                    "select 1 from auth.users where lower(email) = $1 and id <> $2", email, user["id"]
                ):
                    raise AuthError(
                        422, "email_exists", "A user with this email address has already been registered"
                    )
                await conn.execute(
                    "update auth.users set email = $2, email_confirmed_at = now(), is_anonymous = false,"
                    " updated_at = now() where id = $1",
                    user["id"],
                    email,
                )
            fresh = await self._fetch_user(conn, user["id"])
            assert fresh is not None
            return json_response(await self._user_json(conn, fresh))

    async def logout(self, request: web.Request) -> web.Response:
        scope = request.query.get("scope", "global")
        async with self.pool.acquire() as conn, conn.transaction():
            user, claims = await self._user_from_token(conn, request)
            sid = claims.get("session_id")
            if scope == "local" and sid:
                await conn.execute("delete from auth.sessions where id = $1", uuid.UUID(sid))
            elif scope == "others" and sid:
                await conn.execute(
                    "delete from auth.sessions where user_id = $1 and id <> $2", user["id"], uuid.UUID(sid)
                )
            else:
                await conn.execute("delete from auth.sessions where user_id = $1", user["id"])
        return web.Response(status=204)

    # -- admin ------------------------------------------------------------------------------
    def _require_admin(self, request: web.Request) -> None:
        token = bearer(request)
        if not token:
            raise AuthError(401, "no_authorization", "This endpoint requires a valid Bearer token")
        try:
            claims = decode_token(token, self.config.jwt_secret)
        except JwtError as exc:
            raise AuthError(403, "bad_jwt", "invalid JWT: unable to parse or verify signature") from exc
        if claims.get("role") not in ("service_role", "supabase_admin"):
            raise AuthError(403, "not_admin", "User not allowed")

    @staticmethod
    def _uid(request: web.Request) -> uuid.UUID:
        try:
            return uuid.UUID(request.match_info["id"])
        except ValueError as exc:
            raise AuthError(404, "user_not_found", "User not found") from exc

    async def admin_create(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        body = await self._body(request)
        email = (body.get("email") or "").strip().lower() or None
        phone = (body.get("phone") or "").strip() or None
        password = body.get("password")
        self._validate_new(email, password)
        meta = body.get("user_metadata") or body.get("data") or {}
        user_id = None
        if body.get("id"):
            try:
                user_id = uuid.UUID(str(body["id"]))
            except ValueError as exc:
                raise AuthError(400, "validation_failed", "id must be a valid UUID") from exc
        async with self.pool.acquire() as conn, conn.transaction():
            if email and await conn.fetchval("select 1 from auth.users where lower(email) = $1", email):
                raise AuthError(
                    422, "email_exists", "A user with this email address has already been registered"
                )
            if phone and await conn.fetchval("select 1 from auth.users where phone = $1", phone):
                raise AuthError(
                    422, "phone_exists", "A user with this phone number has already been registered"
                )
            user = await self._create_user(
                conn,
                email=email,
                phone=phone,
                password=password,
                user_metadata=meta if isinstance(meta, dict) else {},
                app_metadata=body.get("app_metadata") if isinstance(body.get("app_metadata"), dict) else None,
                confirm=bool(body.get("email_confirm") or body.get("phone_confirm")),
                user_id=user_id,
                role=body.get("role") or "authenticated",
            )
            return json_response(await self._user_json(conn, user))

    async def admin_list(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        try:
            page = max(int(request.query.get("page") or 1), 1)
            per_page = max(min(int(request.query.get("per_page") or 50), 1000), 1)
        except ValueError as exc:
            raise AuthError(400, "validation_failed", "page and per_page must be integers") from exc
        async with self.pool.acquire() as conn:
            total = await conn.fetchval("select count(*) from auth.users")
            rows = await conn.fetch(
                f"select {USER_COLS} from auth.users order by created_at desc limit $1 offset $2",
                per_page,
                (page - 1) * per_page,
            )
            users = [await self._user_json(conn, r) for r in rows]
        return json_response({"users": users, "aud": "authenticated"}, headers={"X-Total-Count": str(total)})

    async def admin_get(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        async with self.pool.acquire() as conn:
            user = await self._fetch_user(conn, self._uid(request))
            if user is None:
                raise AuthError(404, "user_not_found", "User not found")
            return json_response(await self._user_json(conn, user))

    async def admin_update(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        body = await self._body(request)
        uid = self._uid(request)
        async with self.pool.acquire() as conn, conn.transaction():
            user = await self._fetch_user(conn, uid)
            if user is None:
                raise AuthError(404, "user_not_found", "User not found")
            if isinstance(body.get("user_metadata"), dict):
                await conn.execute(
                    "update auth.users set raw_user_meta_data = coalesce(raw_user_meta_data, '{}')"
                    " || $2::jsonb, updated_at = now() where id = $1",
                    uid,
                    json.dumps(body["user_metadata"]),
                )
            if isinstance(body.get("app_metadata"), dict):
                await conn.execute(
                    "update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}')"
                    " || $2::jsonb, updated_at = now() where id = $1",
                    uid,
                    json.dumps(body["app_metadata"]),
                )
            if body.get("password"):
                self._validate_new(None, body["password"])
                await conn.execute(
                    "update auth.users set encrypted_password = $2, updated_at = now() where id = $1",
                    uid,
                    await self._hash(body["password"]),
                )
            if body.get("ban_duration"):
                if body["ban_duration"] == "none":
                    await conn.execute("update auth.users set banned_until = null where id = $1", uid)
                else:
                    await conn.execute(
                        "update auth.users set banned_until = now() + $2::interval where id = $1",
                        uid,
                        str(body["ban_duration"]),
                    )
                    await conn.execute("delete from auth.sessions where user_id = $1", uid)
            fresh = await self._fetch_user(conn, uid)
            assert fresh is not None
            return json_response(await self._user_json(conn, fresh))

    async def admin_delete(self, request: web.Request) -> web.Response:
        """GoTrue's adminUserDelete (internal/api/admin.go): a hard delete, or with
        ``should_soft_delete: true`` User.SoftDeleteUser - the row stays with email and phone
        obfuscated, password, tokens and metadata cleared, identities emptied and
        ``deleted_at`` set, and the user's sessions (refresh tokens) go; a second soft delete
        is a no-op. Either answers 200 ``{}``."""
        self._require_admin(request)
        uid = self._uid(request)
        body = await self._body(request)
        soft = body.get("should_soft_delete", False)
        if not isinstance(soft, bool):
            raise AuthError(400, "bad_json", "Could not parse request body as JSON")
        async with self.pool.acquire() as conn:
            user = await self._fetch_user(conn, uid)
            if user is None:
                raise AuthError(404, "user_not_found", "User not found")
            try:
                async with conn.transaction():
                    if not soft:
                        await conn.execute("delete from auth.users where id = $1", uid)
                    elif user["deleted_at"] is None:
                        await self._soft_delete(conn, uid)
            except asyncpg.PostgresError as exc:
                what = "soft deleting" if soft else "deleting"
                raise AuthError(500, "unexpected_failure", f"Database error {what} user: {exc}") from exc
            return json_response({})

    @staticmethod
    async def _soft_delete(conn: asyncpg.Connection, uid: uuid.UUID) -> None:
        row = await conn.fetchrow("select email, phone from auth.users where id = $1", uid)
        assert row is not None
        await conn.execute(
            """
            update auth.users set
              email = $2, phone = $3, encrypted_password = null,
              confirmation_token = '', recovery_token = '', email_change_token_current = '',
              email_change_token_new = '', phone_change_token = '',
              raw_user_meta_data = '{}', raw_app_meta_data = '{}', deleted_at = now()
            where id = $1
            """,
            uid,
            _obfuscate(uid, row["email"]),
            _obfuscate(uid, row["phone"], 15),
        )
        await conn.execute("update auth.identities set identity_data = '{}' where user_id = $1", uid)
        await conn.execute("delete from auth.sessions where user_id = $1", uid)


def _obfuscate(uid: uuid.UUID, value: str | None, max_len: int = 64) -> str | None:
    """GoTrue's obfuscateValue: base64url (unpadded) of sha256(id + value); phones are cut to
    15 characters (obfuscatePhone)."""
    if not value:
        return value
    digest = hashlib.sha256((str(uid) + value).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()[:max_len]


def _api_version(request: web.Request) -> str:
    value = request.headers.get(API_VERSION_HEADER, "")
    return value if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else ""
