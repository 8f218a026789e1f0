-- The sweeper: presence timeouts for seats and the PRD appendix's session timeouts.
--
--   connected seat, no heartbeat for 60 s      -> disconnected (player_connection false),
--                                                 in a lobby as in a running game
--   disconnected for 5 min, session active     -> inactive, character played by the Seer
--                                                 (player_inactive: the "kick or wait" prompt;
--                                                 never while paused, and resume_session
--                                                 restarts the 5 minutes)
--   disconnected for 5 min, session waiting    -> seat freed (player_left, reason
--                                                 disconnected): an abandoned lobby seat does
--                                                 not hold a place or a character for 24 h
--   the Seer, no heartbeat for 60 s            -> Seer disconnected (seer_connection false),
--                                                 for everyone to see (issue 22)
--   the Seer disconnected 5 min, game active   -> paused (session_status active -> paused,
--                                                 actor null): the table waits for its Seer,
--                                                 and the 7-day paused timeout applies
--   waiting session older than 24 h            -> cancelled
--   paused session paused for more than 7 days -> cancelled (the appendix wins over US-05)
--
-- p_now is a parameter so tests can travel in time. Connected seats are found in
-- seer_private.seat_liveness (20261125200200): it holds exactly the connected live seats, one
-- narrow row each, and the heartbeat's time is in no index (so that every heartbeat is a HOT
-- update); a run reads that table whole, a cost bounded by the connected seats and never by
-- the seat table's history. Disconnected seats are found by partial indexes on
-- disconnected_at that hold only live seats. Sessions are locked one at a time with `skip
-- locked`: a session busy in an RPC is simply picked up by the next run. A due seat's
-- liveness row is locked and its time re-checked before the seat changes, so a heartbeat
-- that commits first keeps the seat connected. Session timeouts are status changes like any
-- other (finish_session -> change_status and its transition table).

create function seer_private.sweep(p_now timestamptz default now())
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_sid uuid;
  v_s public.sessions%rowtype;
  v_p public.session_players%rowtype;
  v_disconnected int := 0;
  v_inactive int := 0;
  v_freed int := 0;
  v_waiting int := 0;
  v_paused int := 0;
  v_seer_away int := 0;
  v_seer_paused int := 0;
begin
  for v_sid in
    -- no join to sessions: session_running already says active or paused, and the status
    -- is checked again under the lock below
    select l.session_id from seer_private.seat_liveness l
    where l.last_heartbeat_at < p_now - interval '60 seconds'
    union
    select sp.session_id from public.session_players sp
    where (sp.status = 'disconnected' and sp.session_running and sp.disconnected_at < p_now - interval '5 minutes'
           and exists (select 1 from public.sessions s where s.id = sp.session_id and s.status = 'active'))
       -- lobby seats (session_players_lobby_disconnected_idx, 20261125200200)
       or (sp.status = 'disconnected' and not sp.session_running and sp.left_at is null
           and not sp.session_ended and sp.disconnected_at < p_now - interval '5 minutes')
  loop
    select * into v_s from public.sessions s
    where s.id = v_sid and s.status in ('waiting', 'active', 'paused')
    for update skip locked;
    continue when not found;

    for v_p in
      -- (the liveness row goes with the `connected` state: the seat keeps its last heartbeat)
      update public.session_players sp
      set status = 'disconnected', disconnected_at = p_now
      where sp.id in (
        select l.player_id from seer_private.seat_liveness l
        where l.session_id = v_sid and l.last_heartbeat_at < p_now - interval '60 seconds'
        for update)
      returning sp.*
    loop
      v_disconnected := v_disconnected + 1;
      perform seer_private.write_event(v_sid, 'player_connection', null,
        seer_private.event_player_connection(v_p), p_now);
    end loop;

    -- an abandoned lobby seat is freed (a player can simply join again)
    for v_p in
      update public.session_players sp
      set status = 'left', left_at = p_now, left_reason = 'left'
      where v_s.status = 'waiting' and sp.session_id = v_sid and sp.status = 'disconnected'
        and sp.left_at is null and sp.disconnected_at < p_now - interval '5 minutes'
      returning sp.*
    loop
      v_freed := v_freed + 1;
      -- a freed seat is a removal: rotate the channel key before the event (docs/security.md)
      perform seer_private.rotate_session_channel(v_sid);
      perform seer_private.write_event(v_sid, 'player_left', null,
        seer_private.event_player_left(v_p, 'disconnected', null), p_now);
    end loop;

    for v_p in
      update public.session_players sp
      set status = 'inactive', inactive_at = p_now
      where v_s.status = 'active' and sp.session_id = v_sid and sp.status = 'disconnected'
        and sp.session_running and sp.disconnected_at < p_now - interval '5 minutes'
      returning sp.*
    loop
      v_inactive := v_inactive + 1;
      perform seer_private.write_event(v_sid, 'player_inactive', null, seer_private.event_player_inactive(
        v_p, (select c.name from public.characters c where c.id = v_p.character_id)), p_now);
    end loop;
  end loop;

  -- The Seers (seer_private.seer_liveness: sessions whose Seer heartbeated; rows go when the
  -- session ends): a silent Seer is marked away, and an active game away from its Seer for 5
  -- minutes pauses itself. A heartbeat brings the Seer back (seer_connection true); resuming
  -- stays the Seer's decision.
  for v_sid in
    select l.session_id from seer_private.seer_liveness l
    where (l.connected and l.last_heartbeat_at < p_now - interval '60 seconds')
       or (not l.connected and l.disconnected_at < p_now - interval '5 minutes'
           and exists (select 1 from public.sessions s where s.id = l.session_id and s.status = 'active'))
  loop
    select * into v_s from public.sessions s
    where s.id = v_sid and s.status in ('waiting', 'active', 'paused')
    for update skip locked;
    continue when not found;
    -- (the time is checked again under the row lock: a heartbeat committed first wins)
    update seer_private.seer_liveness l set connected = false, disconnected_at = p_now
    where l.session_id = v_sid and l.connected and l.last_heartbeat_at < p_now - interval '60 seconds';
    if found then
      v_seer_away := v_seer_away + 1;
      perform seer_private.write_event(v_sid, 'seer_connection', null,
        seer_private.event_seer_connection(v_s.seer_id, false, p_now), p_now);
    elsif v_s.status = 'active' and exists (
        select 1 from seer_private.seer_liveness l
        where l.session_id = v_sid and not l.connected and l.disconnected_at < p_now - interval '5 minutes') then
      perform seer_private.change_status(v_sid, 'pause', null, p_now);
      v_seer_paused := v_seer_paused + 1;
    end if;
  end loop;

  for v_s in
    select * from public.sessions s
    where s.status = 'waiting' and s.created_at < p_now - interval '24 hours'
    for update skip locked
  loop
    perform seer_private.finish_session(v_s.id, 'cancelled', 'Cancelled automatically: not started within 24 hours', null, p_now);
    v_waiting := v_waiting + 1;
  end loop;

  for v_s in
    select * from public.sessions s
    where s.status = 'paused' and s.paused_at < p_now - interval '7 days'
    for update skip locked
  loop
    perform seer_private.finish_session(v_s.id, 'cancelled', 'Cancelled automatically: paused for more than 7 days', null, p_now);
    v_paused := v_paused + 1;
  end loop;

  return jsonb_build_object('disconnected', v_disconnected, 'inactive', v_inactive, 'lobbyFreed', v_freed,
                            'waitingCancelled', v_waiting, 'pausedCancelled', v_paused,
                            'seerDisconnected', v_seer_away, 'seerAwayPaused', v_seer_paused);
end
$$;

-- For operators and tests over the API: service_role only.
create function public.sweep_sessions(p_now timestamptz default now())
returns jsonb
language sql
security definer
set search_path = ''
as $$
  select seer_private.sweep(p_now)
$$;

-- New functions are executable through PUBLIC only; revoking that keeps the internals
-- private and leaves the RLS helpers' direct grants to authenticated (20261125200300_rls) alone.
revoke execute on all functions in schema seer_private from public;
revoke execute on function public.sweep_sessions(timestamptz) from public, anon, authenticated;
grant execute on function public.sweep_sessions(timestamptz) to service_role;
