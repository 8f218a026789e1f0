-- Who may use a session's private Realtime topic, and which topic that is.
--
-- Design (a) of docs/security.md: every session has a secret channel key, and its topic is
-- `session:<uuid>:<key>`. Realtime evaluates the realtime.messages policies below as the
-- connecting user with realtime.topic() set to the channel's topic: SELECT (read broadcast/
-- presence) at join and on an access_token push only; INSERT (write) the first time the
-- channel sends a broadcast or tracks presence, cached for the channel's life; the HTTP
-- broadcast API checks INSERT on every request. It never evicts an open socket when a
-- policy's answer changes. So a removal (kick, a lobby leave, a second leave, the sweeper
-- freeing a lobby seat, account deletion) rotates the key in the same transaction
-- (seer_private.rotate_session_channel, with the seer_private.session_channels table that holds
-- the keys, in the _session_kernel migration): every later event goes to a topic the removed
-- player does not know and cannot join (the key is shown only to participants, and the
-- policy wants the current key), and the remaining participants get one content-free
-- `rekey` poke on the old topic, re-read the topic (public.session_topic), join it and catch
-- up through session_events_since.
--
-- Participants read broadcasts and read/write presence. Nobody but the database writes
-- broadcasts here: session events are sent by seer_private.write_event_at through
-- realtime.send, which inserts as the function owner and so bypasses these policies. A
-- client broadcast on a session topic is dropped by Realtime (no INSERT policy matches
-- extension 'broadcast'), so no participant can forge an event or a poke.

-- 'session:<uuid>:<key>' -> is the caller a participant and the key the current one?
-- Anything malformed is simply false.
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
  if p_topic is null
     or p_topic !~ '^session:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[0-9a-f]{32}$' then
    return false;
  end if;
  v_id := substr(p_topic, 9, 36)::uuid;
  return exists (select 1 from seer_private.session_channels c where c.session_id = v_id and c.topic = p_topic)
    and seer_private.is_session_participant(v_id);
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

-- The current topic, for participants only (docs/contract.md). A removed player (kicked,
-- left a lobby, seat freed) gets SESSION_006, anyone else SESSION_001.
create function public.session_topic(p_session_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
begin
  if not seer_private.is_session_participant(p_session_id) then
    if seer_private.role_in(p_session_id, null, v_uid) = 'former' then
      perform seer_private.raise_error('SESSION_006', (
        select sp.left_reason from public.session_players sp
        where sp.session_id = p_session_id and sp.user_id = v_uid
        order by sp.left_at desc nulls last limit 1));
    end if;
    perform seer_private.raise_error('SESSION_001');
  end if;
  -- the generation (rotation count) lets the client compare its topic with heartbeat's
  return (select jsonb_build_object('topic', c.topic, 'generation', c.generation)
          from seer_private.session_channels c where c.session_id = p_session_id);
end
$$;

revoke execute on function public.session_topic(uuid) from public, anon;
grant execute on function public.session_topic(uuid) to authenticated, service_role;
