-- Who may use the private Realtime topic `session:<uuid>`: its participants (the Seer and
-- live seats). Realtime evaluates these policies as the connecting user with
-- realtime.topic() set to the channel's topic: SELECT (read broadcast/presence) at join and on
-- an access_token push; INSERT (write) the first time the channel sends a broadcast or
-- tracks presence, cached for the channel's life; the HTTP broadcast API checks INSERT on
-- every request.
--
-- Participants read broadcasts and read/write presence. Nobody but the database writes
-- broadcasts here: session events are sent by seer_private.write_event_at through
-- realtime.send, which inserts as the function owner and so bypasses these policies. A
-- client broadcast on a session topic is dropped by Realtime (no INSERT policy matches
-- extension 'broadcast'), so no participant can forge an event or a poke.

-- 'session:<uuid>' -> is the caller a participant? Anything malformed is simply false.
create function seer_private.can_use_session_topic(p_topic text)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_id uuid;
begin
  if p_topic is null or p_topic !~* '^session:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    return false;
  end if;
  v_id := substr(p_topic, 9)::uuid;
  return seer_private.is_session_participant(v_id);
end
$$;

revoke execute on function seer_private.can_use_session_topic(text) from public, anon, authenticated;
grant execute on function seer_private.can_use_session_topic(text) to authenticated;

create policy "seer session participants receive session topic messages"
  on realtime.messages
  for select to authenticated
  using (
    realtime.messages.extension in ('broadcast', 'presence')
    and seer_private.can_use_session_topic((select realtime.topic())));

create policy "seer session participants track presence on session topics"
  on realtime.messages
  for insert to authenticated
  with check (
    realtime.messages.extension = 'presence'
    and seer_private.can_use_session_topic((select realtime.topic())));
