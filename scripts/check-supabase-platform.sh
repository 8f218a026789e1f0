#!/usr/bin/env bash
# Applies supabase/migrations + seed to Supabase's OWN platform schema instead of our bootstrap,
# then runs the pgTAP files and tests/db against it.
#
#   scripts/check-supabase-platform.sh /path/to/supabase-postgres-checkout
#
# The platform is rebuilt the way the Supabase Postgres image's migrate.sh does it: initdb as
# supabase_admin, postgres created as superuser, migrations/db/init-scripts as postgres, then
# migrations/db/migrations as supabase_admin (which demotes postgres to NOSUPERUSER BYPASSRLS).
# Extensions Debian does not ship (pgjwt, pgsodium, pg_graphql, ...) fail there and are skipped.
# Two services create the rest at run time, so this script adds what they would:
#   - Realtime: realtime.messages (partitioned by day, owned by supabase_realtime_admin),
#     realtime.topic(), realtime.send() as of supabase/realtime's latest tenant migrations;
#   - GoTrue: the current auth.uid()/role()/email()/jwt() (read request.jwt.claims).
# Not part of `make test` because it needs that checkout; run it after changing migrations.
set -euo pipefail
SRC=${1:?usage: $0 /path/to/supabase-postgres-checkout}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PY=${PY:-$ROOT/.venv/bin/python}
WORK=$(mktemp -d /tmp/seer-platform-XXXX)
chmod 755 "$WORK"
PORT=$("$PY" -c 'from seer_devstack.postgres import free_port; print(free_port())')
AS=()
if [ "$(id -u)" -eq 0 ]; then AS=(runuser -u postgres --); chown postgres "$WORK"; fi
trap '"${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

"${AS[@]}" "$BIN/initdb" -D "$WORK/data" -U supabase_admin --auth=trust >/dev/null
cat >> "$WORK/data/postgresql.conf" <<CONF
shared_preload_libraries = 'pg_stat_statements,pg_cron'
cron.database_name = 'postgres'
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK/data'
CONF
"${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -o "-p $PORT" -l "$WORK/data/log" -w start >/dev/null
psql_as() { local user=$1; shift; "$BIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -d postgres -U "$user" "$@"; }

psql_as supabase_admin -c "create role postgres superuser login password 'postgres'; alter database postgres owner to postgres;" >/dev/null
for f in "$SRC"/migrations/db/init-scripts/*.sql; do psql_as postgres -f "$f" >/dev/null 2>>"$WORK/platform.err" || true; done
for f in "$SRC"/migrations/db/migrations/*.sql; do psql_as supabase_admin -f "$f" >/dev/null 2>>"$WORK/platform.err" || true; done
echo "platform errors (missing extensions are expected):"; grep ERROR "$WORK/platform.err" | sed 's/^/  /' || true

psql_as supabase_admin -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
-- Realtime's tenant migrations, final shape.
create table realtime.messages (
  topic text not null, extension text not null, payload jsonb, event text,
  private boolean default false,
  updated_at timestamp without time zone not null default now(),
  inserted_at timestamp without time zone not null default now(),
  id uuid not null default gen_random_uuid(),
  primary key (id, inserted_at)
) partition by range (inserted_at);
alter table realtime.messages enable row level security;
do $$ begin
  if not exists (select from pg_roles where rolname = 'supabase_realtime_admin') then
    create role supabase_realtime_admin with noinherit nologin noreplication;
  end if;
end $$;
grant all privileges on schema realtime to supabase_realtime_admin;
grant select, update, insert on realtime.messages to postgres, anon, authenticated, service_role;
alter table realtime.messages owner to supabase_realtime_admin;
grant supabase_realtime_admin to postgres;
create or replace function realtime.topic() returns text language sql stable
as $$ select nullif(current_setting('realtime.topic', true), '')::text; $$;
alter function realtime.topic() owner to supabase_realtime_admin;
grant usage on schema realtime to postgres, anon, authenticated, service_role;
grant execute on all functions in schema realtime to postgres, anon, authenticated, service_role;
create or replace function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void language plpgsql as $f$
declare generated_id uuid; final_payload jsonb;
begin
  begin
    generated_id := gen_random_uuid();
    if payload ? 'id' then final_payload := payload;
    else final_payload := jsonb_set(payload, '{id}', to_jsonb(generated_id)); end if;
    execute format('SET LOCAL realtime.topic TO %L', topic);
    insert into realtime.messages (id, payload, event, topic, private, extension)
    values (generated_id, final_payload, event, topic, private, 'broadcast');
  exception when others then
    raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
  end;
end $f$;
-- The Realtime server creates daily partitions ahead of time.
create table realtime.messages_current partition of realtime.messages
  for values from (now()::date - 1) to (now()::date + 3);
-- supautils lets postgres enable these on Supabase; plain Postgres needs a superuser.
create extension if not exists pgtap with schema extensions;
create extension if not exists plpgsql_check with schema extensions;
create extension if not exists pg_cron;
SQL
# GoTrue's current auth helpers, taken from our bootstrap (which follows GoTrue's migrations).
sed -n '/^create or replace function auth.uid()/,/^alter function auth.uid() owner/p' \
  "$ROOT/seer_devstack/bootstrap/00_platform.sql" | sed '$d' | psql_as supabase_admin -v ON_ERROR_STOP=1 >/dev/null

for f in "$ROOT"/supabase/migrations/*.sql "$ROOT"/supabase/seed.sql; do
  psql_as postgres -v ON_ERROR_STOP=1 --single-transaction -f "$f" >/dev/null
done
echo "migrations and seed applied on the Supabase platform schema as postgres (non-superuser)"
DATABASE_URL="postgresql://postgres:postgres@127.0.0.1:$PORT/postgres" SEER_TEST_DB_EXTERNAL=1 \
  "$PY" -m pytest -q -p no:cacheprovider "$ROOT/tests/test_pgtap.py" "$ROOT/tests/db"
