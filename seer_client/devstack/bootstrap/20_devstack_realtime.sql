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
