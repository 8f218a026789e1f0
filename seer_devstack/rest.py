# pyright: standard
"""``/rest/v1``: the part of PostgREST (v14) the SDK and the contract tests use.

Each request runs in one transaction on a pooled connection with PostgREST's settings
(``role``, ``request.jwt.claims``, ``request.headers``, ``request.method``,
``request.path``), so RLS and grants decide what a caller sees. Errors are rendered as
PostgREST renders them (same SQLSTATE -> HTTP table, same ``PGRST`` codes and wording).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web
from multidict import MultiDict

from .config import GatewayConfig
from .http_common import (
    AUTHENTICATOR_ROLES,
    Caller,
    json_response,
    pgrst_error,
    postgrest_caller,
    role_switch_error,
)

EXPOSED_SCHEMAS = ("public",)
log: logging.Logger = logging.getLogger(__name__)


# the `response.status` a function set (PostgREST lets functions choose the HTTP status)
RESPONSE_STATUS = web.RequestKey("response_status", str)
STATUS_SQL = "nullif(current_setting('response.status', true), '')"


def http_status_for(sqlstate: str, message: str, authed: bool) -> int:
    """PostgREST's ``mapSQLtoHTTP`` (src/PostgREST/Error.hs)."""
    c = sqlstate
    exact = {
        "23503": 409,
        "23505": 409,
        "25006": 405,
        "53400": 500,
        "57P01": 503,
        "P0001": 400,
        "42P01": 404,
        "42P17": 500,
    }
    if c == "21000":
        return 400 if message.endswith("requires a WHERE clause") else 500
    if c == "22023":
        return 401 if message.startswith("role") and message.endswith("does not exist") else 400
    if c == "42883":
        return 406 if message.startswith("function xmlagg(") else 404
    if c == "42501":
        return 403 if authed else 401
    if c in exact:
        return exact[c]
    prefixes = {
        "08": 503,
        "09": 500,
        "0L": 403,
        "0P": 403,
        "25": 500,
        "28": 403,
        "2D": 500,
        "38": 500,
        "39": 500,
        "3B": 500,
        "40": 500,
        "53": 503,
        "54": 500,
        "55": 500,
        "57": 500,
        "58": 500,
        "F0": 500,
        "HV": 500,
        "P0": 500,
        "XX": 500,
    }
    if c[:2] in prefixes:
        return prefixes[c[:2]]
    if c.startswith("PT") and c[2:].isdigit():
        return int(c[2:])
    return 400


def pg_error_response(exc: asyncpg.PostgresError, authed: bool) -> web.Response:
    sqlstate = exc.sqlstate or "XX000"
    message = getattr(exc, "message", None) or str(exc)
    detail = getattr(exc, "detail", None)
    hint = getattr(exc, "hint", None)
    if sqlstate == "PGRST":
        try:
            body = json.loads(message)
            if not isinstance(body, dict) or "code" not in body or "message" not in body:
                raise ValueError
        except ValueError:
            return pgrst_error(
                500,
                "PGRST121",
                "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error",
                f"Invalid JSON value for MESSAGE: '{message}'",
                "MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and "
                "optional keys: 'details', 'hint'.",
            )
        try:
            if detail is None:
                raise KeyError
            spec = json.loads(detail)
            status = int(spec["status"])
            headers = spec["headers"]
            if not isinstance(headers, dict):
                raise ValueError
        except (KeyError, ValueError, TypeError):
            det = (
                "DETAIL is missing in the RAISE statement"
                if detail is None
                else (f"Invalid JSON value for DETAIL: '{detail}'")
            )
            return pgrst_error(
                500,
                "PGRST121",
                "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error",
                det,
                "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and "
                "optional key: 'status_text'.",
            )
        out = {
            "code": body["code"],
            "details": body.get("details"),
            "hint": body.get("hint"),
            "message": body["message"],
        }
        return json_response(
            out,
            status,
            {
                "Proxy-Status": f"PostgREST; error={body['code']}",
                **{str(k): str(v) for k, v in headers.items()},
            },
        )
    status = http_status_for(sqlstate, message, authed)
    extra = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return pgrst_error(status, sqlstate, message, detail, hint, extra)


@dataclass
class Routine:
    name: str
    params: list[tuple[str, str]]  # input params (name, type)
    n_defaults: int
    returns_set: bool
    returns_composite: bool
    returns_void: bool
    volatile: str  # i | s | v
    #: the result's columns (name -> type) when it returns rows of a composite type
    columns: dict[str, str]

    @property
    def required(self) -> set[str]:
        cut = len(self.params) - self.n_defaults
        return {n for n, _ in self.params[:cut]}

    @property
    def names(self) -> set[str]:
        return {n for n, _ in self.params}


ROUTINES_SQL = """
select p.proname, p.proargnames, p.proargmodes, p.pronargdefaults, p.proretset, p.provolatile::text,
       array(select format_type(x, null) from unnest(p.proargtypes::oid[]) x) as argtypes,
       t.typtype, t.typname, p.prorettype = 'record'::regtype as returns_record,
       case when t.typrelid <> 0 then
              array(select array[a.attname::text, format_type(a.atttypid, a.atttypmod)]
                    from pg_attribute a
                    where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped
                    order by a.attnum)
            else
              array(select array[x.n, format_type(x.ty, null)]
                    from unnest(p.proargnames, p.proallargtypes, p.proargmodes) x(n, ty, m)
                    where x.m in ('o', 't', 'b'))
       end as result_columns
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
join pg_type t on t.oid = p.prorettype
where n.nspname = $1 and p.prokind = 'f'
"""

COLUMNS_SQL = """
select c.relname, a.attname, format_type(a.atttypid, a.atttypmod) as type
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where n.nspname = $1 and c.relkind in ('r', 'v', 'm', 'f', 'p')
order by c.relname, a.attnum
"""


PKS_SQL = """
select c.relname, array_agg(a.attname::text order by array_position(i.indkey::int2[], a.attnum)) as cols
from pg_index i
join pg_class c on c.oid = i.indrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = c.oid and a.attnum = any(i.indkey::int2[])
where n.nspname = $1 and i.indisprimary
group by c.relname
"""


class SchemaCache:
    """Function signatures and table columns of the exposed schema, reloaded on a miss."""

    def __init__(self) -> None:
        self.routines: dict[str, list[Routine]] = {}
        self.tables: dict[str, dict[str, str]] = {}
        self.primary_keys: dict[str, list[str]] = {}
        self.role_timeouts: dict[str, str] = {}

    async def load(self, conn: asyncpg.Connection) -> None:
        routines: dict[str, list[Routine]] = {}
        for r in await conn.fetch(ROUTINES_SQL, "public"):
            names = list(r["proargnames"] or [])
            modes = list(r["proargmodes"] or [])
            argtypes = list(r["argtypes"])
            if modes:
                in_names = [n for n, m in zip(names, modes, strict=False) if m in ("i", "b", "v")]
            else:
                in_names = names[: len(argtypes)]
            in_names += [""] * (len(argtypes) - len(in_names))
            composite = r["typtype"] == "c" or r["returns_record"]
            routines.setdefault(r["proname"], []).append(
                Routine(
                    name=r["proname"],
                    params=list(zip(in_names, argtypes, strict=False)),
                    n_defaults=r["pronargdefaults"],
                    returns_set=r["proretset"],
                    returns_composite=bool(composite),
                    returns_void=r["typname"] == "void",
                    volatile=r["provolatile"],
                    columns={c[0]: c[1] for c in (r["result_columns"] or [])},
                )
            )
        tables: dict[str, dict[str, str]] = {}
        for r in await conn.fetch(COLUMNS_SQL, "public"):
            cols = tables.setdefault(r["relname"], {})
            if r["attname"] is not None:
                cols[r["attname"]] = r["type"]
        pks = {r["relname"]: list(r["cols"]) for r in await conn.fetch(PKS_SQL, "public")}
        timeouts: dict[str, str] = {}
        for r in await conn.fetch(
            """
            select r.rolname, s.cfg
            from pg_db_role_setting d
            join pg_roles r on r.oid = d.setrole
            cross join lateral unnest(d.setconfig) as s(cfg)
            where d.setdatabase in (0, (select oid from pg_database where datname = current_database()))
              and s.cfg like 'statement_timeout=%'
            """
        ):
            timeouts[r["rolname"]] = r["cfg"].split("=", 1)[1]
        self.routines, self.tables, self.role_timeouts = routines, tables, timeouts
        self.primary_keys = pks


def qident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qliteral(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class RestApi:
    def __init__(self, config: GatewayConfig, pool: asyncpg.Pool) -> None:
        self.config = config
        self.pool = pool
        self.cache: SchemaCache = SchemaCache()
        self._loaded = False
        self._listener: asyncpg.Connection | None = None
        self._reload_task: asyncio.Future[None] | None = None
        self._dirty = False

    async def reload(self) -> None:
        async with self.pool.acquire() as conn:
            await self.cache.load(conn)
        self._loaded = True

    async def start(self) -> None:
        """Load the schema cache and, like PostgREST, reload it on ``NOTIFY pgrst`` (payload
        empty or ``reload schema``), which the DDL event triggers send on every schema change."""
        await self.reload()
        self._listener = listener = await asyncpg.connect(self.config.db_url)
        await listener.add_listener("pgrst", self._on_notify)

    async def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
        if self._reload_task is not None:
            self._reload_task.cancel()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.strip() not in ("", "reload schema"):
            return  # e.g. 'reload config': nothing to do here
        self._dirty = True
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = asyncio.ensure_future(self._reload_while_dirty())

    async def _reload_while_dirty(self) -> None:
        # A burst of DDL (a migration) sends many notifications: one reload per burst.
        while self._dirty:
            self._dirty = False
            try:
                await self.reload()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("schema cache reload failed", exc_info=True)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", "/rest/v1/rpc/{fn}", self.handle_rpc),
            web.route("*", "/rest/v1/{table}", self.handle_table),
            web.route("*", "/rest/v1/", self.handle_root),
        ]

    # -- plumbing ---------------------------------------------------------------------
    async def _preflight(self, request: web.Request) -> Caller | web.Response:
        for header in ("Accept-Profile", "Content-Profile"):
            schema = request.headers.get(header)
            if schema and schema not in EXPOSED_SCHEMAS:
                return pgrst_error(
                    406,
                    "PGRST106",
                    f"Invalid schema: {schema}",
                    None,
                    "Only the following schemas are exposed: " + ", ".join(EXPOSED_SCHEMAS),
                )
        caller = postgrest_caller(request, self.config)
        if isinstance(caller, web.Response):
            return caller
        return await self._role_refusal(caller) or caller

    async def _role_refusal(self, caller: Caller) -> web.Response | None:
        """PostgREST switches only to roles its authenticator may become (issue 20: a token
        signed with the project's secret and ``role: postgres`` read every session)."""
        if caller.role in AUTHENTICATOR_ROLES:
            return None
        assert self.pool is not None
        exists = await self.pool.fetchval(
            "select exists (select 1 from pg_roles where rolname = $1)", caller.role
        )
        return role_switch_error(caller.role, bool(exists))

    async def _begin(self, conn: asyncpg.Connection, request: web.Request, caller: Caller) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        timeout = self.cache.role_timeouts.get(caller.role)
        await conn.execute(
            "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true),"
            " set_config('request.method', $3, true), set_config('request.path', $4, true),"
            " set_config('request.headers', $5, true), set_config('request.cookies', '{}', true)"
            + (", set_config('statement_timeout', $6, true)" if timeout else ""),
            caller.role,
            json.dumps(caller.claims),
            request.method,
            request.path.removeprefix("/rest/v1"),
            json.dumps(headers),
            *([timeout] if timeout else []),
        )

    async def _run(
        self,
        request: web.Request,
        caller: Caller,
        sql: str,
        args: list[Any],
        *,
        readonly: bool,
        count_sql: str | None = None,
    ) -> tuple[str | None, int | None] | web.Response:
        authed = caller.role != "anon"
        try:
            async with self.pool.acquire() as conn, conn.transaction(readonly=readonly):
                await self._begin(conn, request, caller)
                # PostgREST honours `response.status` set by the function (used by
                # get_session_by_code to answer 404 without rolling back its failure count).
                # Like PostgREST it is read in the same statement, after the body is computed.
                if sql.startswith("with _w as"):  # a data-modifying CTE must stay top level
                    query = sql.replace(" from _w", f", {STATUS_SQL} from _w", 1)
                else:
                    query = f"select _r.b, {STATUS_SQL} from ({sql}) _r(b)"
                row = await conn.fetchrow(query, *args)
                body = row[0] if row else None
                if row and row[1] is not None:
                    request[RESPONSE_STATUS] = row[1]
                total = await conn.fetchval(count_sql, *args) if count_sql else None
                return body, total
        except asyncpg.PostgresError as exc:
            return pg_error_response(exc, authed)

    # -- /rpc/<fn> ----------------------------------------------------------------------
    async def handle_root(self, request: web.Request) -> web.Response:
        pre = await self._preflight(request)
        if isinstance(pre, web.Response):
            return pre
        return pgrst_error(404, "PGRST126", "Root endpoint metadata is disabled")

    def _find_routine(self, fn: str, keys: list[str]) -> Routine | None:
        best: Routine | None = None
        for r in self.cache.routines.get(fn, []):
            if set(keys) <= r.names and r.required <= set(keys):
                if best is None or len(r.params) < len(best.params):
                    best = r
        return best

    def _no_rpc(self, fn: str, keys: list[str], post: bool) -> web.Response:
        prms = ", ".join(sorted(keys))
        func = f"public.{fn}"
        msg = f"Could not find the function {func}" + (f"({prms})" if keys else " without parameters")
        with_params = (
            (" with parameter" + ("s " if len(keys) > 1 else " ") + prms) if keys else " without parameters"
        )
        details = (
            f"Searched for the function {func}{with_params}"
            + (" or with a single unnamed json/jsonb parameter" if post else "")
            + ", but no matches were found in the schema cache."
        )
        hint = None
        overloads = self.cache.routines.get(fn)
        if overloads:
            best = min(overloads, key=lambda r: len(r.names ^ set(keys)))
            hint = f"Perhaps you meant to call the function {func}(" + ", ".join(sorted(best.names)) + ")"
        else:
            import difflib

            close = difflib.get_close_matches(fn, list(self.cache.routines), n=1, cutoff=0.75)
            if close:
                hint = f"Perhaps you meant to call the function public.{close[0]}"
        return pgrst_error(404, "PGRST202", msg + " in the schema cache", details, hint)

    async def handle_rpc(self, request: web.Request) -> web.Response:
        pre = await self._preflight(request)
        if isinstance(pre, web.Response):
            return pre
        caller = pre
        fn = request.match_info["fn"]
        if not self._loaded:
            await self.reload()
        if request.method in ("GET", "HEAD"):
            # Query keys naming a parameter are arguments; the others filter the result.
            known = fn in self.cache.routines
            names = {n for r in self.cache.routines.get(fn, []) for n in r.names}
            args: dict[str, Any] = {
                k: v for k, v in request.query.items() if k in names or (not known and k not in RESERVED)
            }
        elif request.method == "POST":
            raw = await request.read()
            if raw.strip():
                try:
                    args = json.loads(raw)
                except ValueError as exc:
                    return pgrst_error(400, "PGRST102", f"Empty or invalid json: {exc}")
                except RecursionError:
                    return _too_deep()
                if not isinstance(args, dict):
                    return pgrst_error(400, "PGRST102", "All object keys must match")
            else:
                args = {}
        else:
            return pgrst_error(405, "PGRST101", f"Cannot use the {request.method} method on RPC")
        keys = list(args)
        # No reload on a miss: like PostgREST the cache changes on `NOTIFY pgrst` only
        # (sent by the DDL event triggers, bootstrap/15_supabase_post_setup.sql).
        routine = self._find_routine(fn, keys)
        if routine is None:
            return self._no_rpc(fn, keys, request.method == "POST")
        # PostgREST runs GET/HEAD, and POST to a stable or immutable function, read-only.
        readonly = request.method in ("GET", "HEAD") or routine.volatile in ("s", "i")
        sql = self._rpc_sql(routine, keys)
        params = SqlArgs([json.dumps(args)] if keys else [])
        if routine.returns_set and routine.columns:
            # select, filters, order, limit/offset, Range and counts apply to the rows
            rows = sql.replace("select coalesce(json_agg(_t), '[]')::text", "select _t.*", 1)
            source = f"({rows}) _rpc"
            skip = frozenset(args) if request.method in ("GET", "HEAD") else frozenset()
            try:
                query = build_select(fn, routine.columns, request, source=source, args=params, skip=skip)
            except QueryError as exc:
                return pgrst_error(400, exc.code, exc.message, exc.details, exc.hint)
            return await self._rows_response(request, caller, query, readonly=readonly)
        res = await self._run(request, caller, sql, params, readonly=readonly)
        if isinstance(res, web.Response):
            return res
        body, _ = res
        if routine.returns_void:
            return web.Response(status=204)
        if request.method == "HEAD":
            return web.Response(status=200, headers={"Content-Type": "application/json; charset=utf-8"})
        if body is None:
            body = "null"
        if routine.returns_set and _wants_object(request):
            return _single(body)
        status = request.get(RESPONSE_STATUS)
        return json_response(None, int(status) if status and str(status).isdigit() else 200, raw=body)

    @staticmethod
    def _rpc_sql(routine: Routine, keys: list[str]) -> str:
        fn = f"public.{qident(routine.name)}"
        by_name = dict(routine.params)
        if keys:
            cols = ", ".join(f"{qident(k)} {by_name[k]}" for k in keys)
            call_args = ", ".join(f"{qident(k)} => _a.{qident(k)}" for k in keys)
            source = f" from json_to_record($1::json) as _a({cols})"
        else:
            call_args, source = "", ""
        call = f"{fn}({call_args})"
        if routine.returns_set:
            lateral = f"{source}, lateral {call} _t" if source else f" from {call} _t"
            return f"select coalesce(json_agg(_t), '[]')::text{lateral}"
        if routine.returns_composite:
            lateral = f"{source}, lateral {call} _t" if source else f" from {call} _t"
            return f"select to_json(_t)::text{lateral}"
        if routine.returns_void:
            return f"select {call}::text{source}"
        return f"select to_json({call})::text{source}"

    # -- /<table> -----------------------------------------------------------------------
    async def handle_table(self, request: web.Request) -> web.Response:
        pre = await self._preflight(request)
        if isinstance(pre, web.Response):
            return pre
        caller = pre
        table = request.match_info["table"]
        if request.method not in ("GET", "HEAD", "POST", "PATCH", "DELETE"):
            return pgrst_error(405, "PGRST117", f"Unsupported HTTP method: {request.method}")
        if not self._loaded:
            await self.reload()
        columns = self.cache.tables.get(table)
        if columns is None:
            import difflib

            close = difflib.get_close_matches(table, list(self.cache.tables), n=1, cutoff=0.75)
            return pgrst_error(
                404,
                "PGRST205",
                f"Could not find the table 'public.{table}' in the schema cache",
                None,
                f"Perhaps you meant the table 'public.{close[0]}'" if close else None,
            )
        if request.method in ("POST", "PATCH", "DELETE"):
            return await self._write(request, caller, table, columns)
        try:
            query = build_select(table, columns, request)
        except QueryError as exc:
            return pgrst_error(400, exc.code, exc.message, exc.details, exc.hint)
        return await self._rows_response(request, caller, query, readonly=True)

    async def _rows_response(
        self, request: web.Request, caller: Caller, query: SelectQuery, *, readonly: bool
    ) -> web.Response:
        """Rows of a table or of a set-returning RPC, with PostgREST's Content-Range/206."""
        res = await self._run(
            request,
            caller,
            query.sql,
            query.args,
            readonly=readonly,
            count_sql=query.count_sql if _wants_count(request) else None,
        )
        if isinstance(res, web.Response):
            return res
        body, total = res
        body = body or "[]"
        n = len(json.loads(body))
        lower = query.offset
        upper = lower + n - 1
        total_s = str(total) if total is not None else "*"
        content_range = f"{lower}-{upper}/{total_s}" if n else f"*/{total_s}"
        status = 200
        if total is not None and n and (lower > 0 or upper + 1 < total):
            status = 206
        headers = {"Content-Range": content_range}
        if _wants_object(request):
            return _single(body)
        if request.method == "HEAD":
            return web.Response(
                status=status, headers={"Content-Type": "application/json; charset=utf-8", **headers}
            )
        return json_response(None, status, headers, raw=body)

    async def _write(
        self, request: web.Request, caller: Caller, table: str, columns: dict[str, str]
    ) -> web.Response:
        """POST (insert/upsert), PATCH (update) and DELETE on a table, as PostgREST does them."""
        prefer = {p.strip() for p in request.headers.get("Prefer", "").split(",") if p.strip()}
        representation = "return=representation" in prefer
        body: Any = None
        rows: list[Any] = []  # POST/PATCH only
        keys: list[str] = []
        if request.method in ("POST", "PATCH"):
            raw = await request.read()
            try:
                body = json.loads(raw) if raw.strip() else None
            except ValueError as exc:
                return pgrst_error(400, "PGRST102", f"Empty or invalid json: {exc}")
            except RecursionError:
                return _too_deep()
            if request.method == "PATCH" and body in ([], [{}]):
                body = {}  # PostgREST: an empty PATCH payload updates nothing (204, */*)
            rows = body if isinstance(body, list) else [body]
            if not rows or not all(isinstance(r, dict) for r in rows):
                return pgrst_error(400, "PGRST102", "Empty or invalid json")
            if request.query.get("columns"):
                keys = [c.strip() for c in _split_list(request.query["columns"]) if c.strip()]
            else:
                for r in rows:
                    keys += [k for k in r if k not in keys]
            for k in keys:
                if k not in columns:
                    return pgrst_error(
                        400, "PGRST204", f"Could not find the '{k}' column of '{table}' in the schema cache"
                    )
            if request.method == "PATCH" and isinstance(body, list):
                return pgrst_error(400, "PGRST102", "Expected a single JSON object for PATCH")
        args = SqlArgs()
        param = args.param

        rel = f"public.{qident(table)}"
        try:
            if request.method == "POST":
                args.append(json.dumps(rows))
                cols = ", ".join(qident(k) for k in keys)
                conflict = ""
                if "resolution=merge-duplicates" in prefer or "resolution=ignore-duplicates" in prefer:
                    target = [
                        c.strip() for c in _split_list(request.query.get("on_conflict", "")) if c.strip()
                    ]
                    target = target or self.cache.primary_keys.get(table, [])
                    if not target:
                        return pgrst_error(
                            400, "PGRST100", "on_conflict needs a primary key or unique columns"
                        )
                    if "resolution=ignore-duplicates" in prefer or not keys:
                        conflict = f" on conflict ({', '.join(qident(c) for c in target)}) do nothing"
                    else:
                        sets = ", ".join(f"{qident(k)} = excluded.{qident(k)}" for k in keys)
                        conflict = (
                            f" on conflict ({', '.join(qident(c) for c in target)}) do update set {sets}"
                        )
                if not keys:
                    args.clear()
                    stmt = f"insert into {rel} default values returning *"
                elif "missing=default" in prefer:
                    # Keys a row lacks take the column default (PostgREST's Prefer: missing=default).
                    args.pop()
                    values = []
                    for row in rows:
                        args.append(json.dumps(row))
                        ref = f"(json_populate_record(null::{rel}, ${len(args)}::json))"
                        values.append(
                            "("
                            + ", ".join(f"{ref}.{qident(k)}" if k in row else "default" for k in keys)
                            + ")"
                        )
                    stmt = f"insert into {rel} ({cols}) values {', '.join(values)}{conflict} returning *"
                else:
                    stmt = (
                        f"insert into {rel} ({cols}) select {cols}"
                        f" from json_populate_recordset(null::{rel}, $1::json){conflict} returning *"
                    )
                status = 201
            elif request.method == "PATCH":
                args.append(json.dumps(body))
                where = build_where(request.query, columns, param)
                cols = ", ".join(qident(k) for k in keys)
                if not keys:
                    empty = {"Content-Range": "*/*"}
                    if representation:
                        return json_response([], 200, empty)
                    return web.Response(status=204, headers=empty)
                lhs = f"({cols})" if len(keys) > 1 else cols
                rhs = f"(select {cols} from json_populate_record(null::{rel}, $1::json))"
                stmt = (
                    f"update {rel} set {lhs} = {rhs}"
                    + (" where " + " and ".join(where) if where else "")
                    + " returning *"
                )
                status = 200
            else:
                where = build_where(request.query, columns, param)
                stmt = (
                    f"delete from {rel}" + (" where " + " and ".join(where) if where else "") + " returning *"
                )
                status = 200
        except QueryError as exc:
            return pgrst_error(400, exc.code, exc.message, exc.details, exc.hint)
        sql = f"with _w as ({stmt}) select coalesce(json_agg(_w), '[]')::text from _w"
        res = await self._run(request, caller, sql, args, readonly=False)
        if isinstance(res, web.Response):
            return res
        out, _ = res
        n = len(json.loads(out or "[]"))
        headers = {"Content-Range": f"0-{n - 1}/*" if n else "*/*"}
        if not representation:
            return web.Response(status=201 if status == 201 else 204, headers=headers)
        if _wants_object(request):
            return _single(out or "[]")
        return json_response(None, status, headers, raw=out or "[]")


def _too_deep() -> web.Response:
    """JSON nested deeper than Python's parser goes. PostgREST parses any depth with aeson and
    hands it to Postgres; the devstack answers the 400 PostgREST gives unparsable JSON
    instead of a 500 (docs/devstack.md)."""
    return pgrst_error(400, "PGRST102", "Empty or invalid json: nested too deeply")


def _wants_object(request: web.Request) -> bool:
    return "application/vnd.pgrst.object+json" in request.headers.get("Accept", "")


def _wants_count(request: web.Request) -> bool:
    prefer = request.headers.get("Prefer", "")
    return bool(re.search(r"count=(exact|planned|estimated)", prefer))


def _single(body: str) -> web.Response:
    rows = json.loads(body)
    if isinstance(rows, list):
        if len(rows) != 1:
            return pgrst_error(
                406,
                "PGRST116",
                "Cannot coerce the result to a single JSON object",
                f"The result contains {len(rows)} rows",
            )
        return json_response(rows[0])
    return json_response(rows)


class QueryError(Exception):
    def __init__(
        self, message: str, details: str | None = None, code: str = "PGRST100", hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.message: str = message
        self.details: str | None = details
        self.code: str = code
        self.hint: str | None = hint


@dataclass
class SelectQuery:
    sql: str
    count_sql: str
    args: list[Any]
    offset: int


OPS = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
RESERVED = {"select", "order", "limit", "offset", "apikey", "columns", "on_conflict"}


def _split_list(value: str) -> list[str]:
    """Items of PostgREST's ``(a,b,"c,d")`` list syntax."""
    items: list[str] = []
    cur: list[str] = []
    quoted = False
    i = 0
    while i < len(value):
        ch = value[i]
        if quoted:
            if ch == "\\" and i + 1 < len(value):
                cur.append(value[i + 1])
                i += 1
            elif ch == '"':
                quoted = False
            else:
                cur.append(ch)
        elif ch == '"':
            quoted = True
        elif ch == ",":
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    items.append("".join(cur))
    return items


class SqlArgs(list[Any]):
    """The positional arguments of one statement. ``param`` appends a value and returns its
    ``$n`` reference: values travel as text (lists as text[]) and are cast on the SQL side."""

    def param(self, value: Any, cast: str | None) -> str:
        self.append(value)
        ref = f"${len(self)}"
        if isinstance(value, list):
            return f"{ref}::text[]" + (f"::{cast}[]" if cast else "")
        return f"{ref}::text" + (f"::{cast}" if cast else "")


_IDENT_CHARS = re.compile(r"[A-Za-z0-9_$ ]+")
_CAST = re.compile(r"[A-Za-z0-9_$]+")


def _select_error(sel: str, col: int, details: str) -> QueryError:
    return QueryError(f'"failed to parse select parameter ({sel})" (line 1, column {col})', details)


def select_items(sel: str) -> list[str]:
    """``select=`` as PostgREST's grammar reads it (QueryParams.hs pFieldSelect), as SQL.

    An item is ``*`` or ``[alias:]field[->key|->>key ...][::cast]``; a field name is a quoted
    value or identifier characters (letters, digits, ``_``, ``$``, space; ``-`` between
    parts), a cast identifier characters. Anything else is PGRST100, never SQL: the cast is
    checked against that alphabet before it is written into the statement."""
    out: list[str] = []
    pos = 0
    for raw in _split_list(sel.strip()):
        start = pos + 1
        pos += len(raw) + 1
        item = raw.strip()
        if not item:
            raise _select_error(sel, start, 'unexpected "," expecting field name (* or [a..z0..9_$])')
        if "(" in item:
            raise QueryError(
                "devstack does not support resource embedding",
                f"'{item}' in select; read related rows with a second request or an RPC",
                "PGRST100",
            )
        if item == "*":
            out.append("*")
            continue
        alias = None
        head, sep, rest = item.partition(":")
        if sep and not rest.startswith(":"):
            alias, item = head.strip(), rest.strip()
        item, has_cast, cast = item.partition("::")
        path = re.split(r"(->>?)", item)
        name = path[0].strip()
        for part in [name, *(path[2::2]), *([alias] if alias is not None else [])]:
            bare = part.strip().strip('"') if part.strip().startswith('"') else part
            if not bare or not _IDENT_CHARS.fullmatch(bare.replace("-", "_")):
                bad = next((c for c in part if not (c.isalnum() or c in '_$ -"')), part[:1] or "end of input")
                expecting = 'expecting letter, digit, "->", "::" or ","'
                raise _select_error(sel, start, f'unexpected "{bad}" {expecting}')
        if cast and not _CAST.fullmatch(cast.strip()):
            bad = next((c for c in cast.strip() if not (c.isalnum() or c in "_$")), "end of input")
            raise _select_error(sel, start, f'unexpected "{bad}" expecting letter or digit')
        if has_cast and not cast:
            raise _select_error(sel, start, "unexpected end of input expecting letter or digit")
        expr = qident(name.strip('"'))
        label = name.strip('"')
        for op, key in zip(path[1::2], path[2::2], strict=True):
            key = key.strip().strip('"')
            expr += f" {op} " + (key if re.fullmatch(r"-?\d+", key) else qliteral(key))
            label = key
        if cast:
            expr = f"({expr})::{cast.strip()}"
        out.append(f"{expr} as {qident(alias or label)}")
    return out


def build_select(
    table: str,
    columns: dict[str, str],
    request: web.Request,
    *,
    source: str | None = None,
    args: SqlArgs | None = None,
    skip: frozenset[str] = frozenset(),
) -> SelectQuery:
    """A GET on ``table``, or on ``source`` (an RPC's result rows, whose statement already
    holds ``args``) skipping the query keys that were the RPC's arguments (``skip``)."""
    # a multidict: PostgREST ANDs every filter, so `col=lt.X&col=gt.Y` is two conditions
    # (a dict kept only the last one; supabase-py's test_multivalued_param, issue 20)
    q = MultiDict((k, v) for k, v in request.query.items() if k not in skip)
    args = args if args is not None else SqlArgs()
    param = args.param

    select_list = ", ".join(select_items(q.get("select") or "*")) or "*"

    where = build_where(q, columns, param)

    # order
    order_sql = ""
    if q.get("order"):
        terms = []
        for term in q["order"].split(","):
            bits = term.strip().split(".")
            if not bits[0]:
                continue
            t = qident(bits[0])
            for mod in bits[1:]:
                m = mod.lower()
                if m in ("asc", "desc"):
                    t += f" {m}"
                elif m == "nullsfirst":
                    t += " nulls first"
                elif m == "nullslast":
                    t += " nulls last"
                else:
                    raise QueryError(f'"failed to parse order ({q["order"]})"', f"unexpected '{mod}'")
            terms.append(t)
        if terms:
            order_sql = " order by " + ", ".join(terms)

    # range
    offset = 0
    limit: int | None = None
    rng = request.headers.get("Range")
    try:
        if rng and re.fullmatch(r"\d+-\d*", rng.strip()):
            lo, _, hi = rng.strip().partition("-")
            offset = int(lo)
            if hi:
                limit = int(hi) - offset + 1
        if q.get("offset"):
            offset = int(q["offset"])
        if q.get("limit"):
            limit = int(q["limit"])
    except ValueError as exc:
        raise QueryError('"failed to parse limit/offset"', str(exc)) from exc
    if limit is not None and limit < 0:
        raise QueryError(
            "Requested range not satisfiable", "Limit should be greater than or equal to zero.", "PGRST103"
        )

    where_sql = (" where " + " and ".join(where)) if where else ""
    base = f"from {source or 'public.' + qident(table)}{where_sql}"
    page = (f" limit {limit}" if limit is not None else "") + (f" offset {offset}" if offset else "")
    sql = f"select coalesce(json_agg(_t), '[]')::text from (select {select_list} {base}{order_sql}{page}) _t"
    count_sql = f"select count(*) {base}"
    return SelectQuery(sql, count_sql, args, offset)


def build_where(q: Any, columns: dict[str, str], param: Any) -> list[str]:
    """PostgREST horizontal filters (``col=op.value``) as SQL conditions with parameters."""
    where: list[str] = []
    for key in q:
        if key in RESERVED or key in ("or", "and", "not.or", "not.and"):
            if key in ("or", "and", "not.or", "not.and"):
                raise QueryError("devstack does not support logical filter trees", f"'{key}' filter")
            continue
    for key, value in q.items():
        if key in RESERVED:
            continue
        col = key
        cast = columns.get(col)
        negate = False
        v = value
        if v.startswith("not."):
            negate, v = True, v[4:]
        op, sep, operand = v.partition(".")
        if not sep:
            raise QueryError(
                '"failed to parse filter (' + value + ')" (line 1, column ' + str(len(value) + 1) + ")",
                "unexpected end of input expecting operator",
                "PGRST100",
            )
        target = qident(col)
        if op in OPS:
            cond = f"{target} {OPS[op]} {param(operand, cast)}"
        elif op in ("like", "ilike"):
            pattern = param(operand.replace("*", "%"), None)
            cond = f"{target}::text {'ilike' if op == 'ilike' else 'like'} {pattern}"
        elif op == "in":
            if not (operand.startswith("(") and operand.endswith(")")):
                raise QueryError(f'"failed to parse filter ({value})"', 'expecting "("')
            items = _split_list(operand[1:-1]) if operand[1:-1] else []
            cond = f"{target} = any({param(items, cast)})"
        elif op == "is":
            word = operand.lower()
            if word not in ("null", "true", "false", "unknown", "not_null"):
                raise QueryError(
                    f'"failed to parse filter ({value})"', 'unexpected "' + operand + '" expecting null'
                )
            cond = f"{target} is not null" if word == "not_null" else f"{target} is {word}"
        else:
            raise QueryError(f'"failed to parse filter ({value})"', f"unknown operator '{op}'")
        where.append(f"not ({cond})" if negate else cond)
    return where
