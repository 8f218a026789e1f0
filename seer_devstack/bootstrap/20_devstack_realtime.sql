-- Devstack only: how the gateway learns about `realtime.send(...)`.
--
-- Supabase Realtime reads new rows of realtime.messages through logical replication.
-- The devstack instead gets a NOTIFY per committed broadcast row: NOTIFY is delivered only
-- on commit and in commit order, which is exactly the guarantee subscribers need. Payloads
-- that would not fit in a notification (8000 bytes) are sent as a reference and the gateway
-- reads the row. Probe rows written by the channel authorization check are rolled back, so
-- they never notify. This file is never applied to a real Supabase project.

create or replace function realtime.devstack_notify_broadcast()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  body text;
begin
  if new.extension is distinct from 'broadcast' then
    return null;
  end if;
  body := json_build_object(
    'id', new.id, 'topic', new.topic, 'event', new.event,
    'private', coalesce(new.private, false), 'payload', new.payload
  )::text;
  if octet_length(body) > 7800 then
    body := json_build_object('id', new.id, 'ref', true)::text;
  end if;
  perform pg_notify('seer_devstack_realtime', body);
  return null;
end
$$;

drop trigger if exists devstack_notify_broadcast on realtime.messages;
create trigger devstack_notify_broadcast
  after insert on realtime.messages
  for each row execute function realtime.devstack_notify_broadcast();

-- realtime.messages retention, as the real Realtime server does it (supabase/realtime):
-- * Realtime.Tenants.create_messages_partitions, run when a tenant connects and by the
--   janitor: daily partitions `messages_YYYY_MM_DD` (UTC dates, bounds 'YYYY-MM-DD' to the
--   next day) from yesterday to today + 3. realtime.send does not create partitions: an
--   insert with no partition for its day fails, and send only raises a warning.
-- * Realtime.Messages.delete_old_messages (Janitor.MaintenanceTask, every 4 h by default,
--   JANITOR_SCHEDULE_TIMER_IN_MS, randomised by up to an hour): drops every partition whose
--   date is before the UTC date of now - 72 hours. Whole partitions go, never row deletes.
-- The gateway creates the partitions when it starts (as a tenant connect does) and pg_cron
-- runs the janitor every 4 hours. p_now lets tests travel in time.
create or replace function realtime.devstack_create_message_partitions(p_now timestamptz default now())
returns text[]
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_today date := (p_now at time zone 'utc')::date;
  v_day date;
  v_name text;
  v_created text[] := '{}';
begin
  for v_day in select generate_series(v_today - 1, v_today + 3, interval '1 day')::date loop
    v_name := 'messages_' || to_char(v_day, 'YYYY_MM_DD');
    if to_regclass('realtime.' || v_name) is null then
      execute format('create table realtime.%I partition of realtime.messages for values from (%L) to (%L)',
                     v_name, v_day::text, (v_day + 1)::text);
      execute format('alter table realtime.%I owner to supabase_realtime_admin', v_name);
      v_created := v_created || v_name;
    end if;
  end loop;
  return v_created;
end
$$;

create or replace function realtime.devstack_delete_old_messages(p_now timestamptz default now())
returns text[]
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_limit date := ((p_now - interval '72 hours') at time zone 'utc')::date;
  v_name text;
  v_dropped text[] := '{}';
begin
  for v_name in
    select child.relname
    from pg_inherits
    join pg_class parent on pg_inherits.inhparent = parent.oid
    join pg_class child on pg_inherits.inhrelid = child.oid
    join pg_namespace nmsp_child on nmsp_child.oid = child.relnamespace
    where parent.oid = 'realtime.messages'::regclass and nmsp_child.nspname = 'realtime'
      and child.relname ~ '^messages_\d{4}_\d{2}_\d{2}$'
    order by child.relname
  loop
    if to_date(substr(v_name, 10), 'YYYY_MM_DD') < v_limit then
      execute format('drop table if exists realtime.%I', v_name);
      v_dropped := v_dropped || v_name;
    end if;
  end loop;
  return v_dropped;
end
$$;

-- Janitor.MaintenanceTask.run: delete old messages, then create partitions
create or replace function realtime.devstack_janitor(p_now timestamptz default now())
returns jsonb
language sql
security definer
set search_path = ''
as $$
  select jsonb_build_object('dropped', realtime.devstack_delete_old_messages(p_now),
                            'created', realtime.devstack_create_message_partitions(p_now))
$$;

revoke all on function realtime.devstack_create_message_partitions(timestamptz),
  realtime.devstack_delete_old_messages(timestamptz), realtime.devstack_janitor(timestamptz) from public;
grant execute on function realtime.devstack_create_message_partitions(timestamptz),
  realtime.devstack_delete_old_messages(timestamptz), realtime.devstack_janitor(timestamptz) to postgres;

select realtime.devstack_janitor();

do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron') then
    perform cron.schedule('devstack-realtime-janitor', '0 */4 * * *', 'select realtime.devstack_janitor()');
  end if;
end
$$;
