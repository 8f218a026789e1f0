-- Who may use the private Realtime topic `session:<uuid>`: its participants (the Seer and
-- live seats), for broadcast and presence. Realtime evaluates these policies as the
-- connecting user with realtime.topic() set to the channel's topic.
--
-- Clients may send broadcasts and track presence there (INSERT), but the authoritative
-- session events are the ones the database sends (they carry `seq` and have a row in
-- public.session_events); clients should not trust a broadcast that is not in that log.

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

create policy "seer session participants send and track on session topics"
  on realtime.messages
  for insert to authenticated
  with check (
    realtime.messages.extension in ('broadcast', 'presence')
    and seer_private.can_use_session_topic((select realtime.topic())));
