-- The session's lifecycle, the Seer's RPCs: start, pause, resume, end. Every status change goes
-- through seer_private.change_status and its transition table, and an end through
-- seer_private.finish_session (both in the _session_kernel migration), which the sweeper's
-- timeouts and account deletion use as well.

create function public.start_session(p_session_id uuid)
returns json
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
  v_adv public.adventures%rowtype;
  v_count int;
  v_warnings jsonb := '[]'::jsonb;
begin
  v_s := seer_private.lock_session(p_session_id);
  perform seer_private.require_seer(v_s, v_uid);
  -- checked before the player count: starting a running session is a transition error
  perform seer_private.assert_transition(v_s.status, 'start');
  v_count := seer_private.live_seat_count(v_s.id);
  if v_count < v_s.min_players then
    perform seer_private.raise_error('SESSION_011',
      v_count || ' of at least ' || v_s.min_players || ' players');
  end if;
  select * into v_adv from public.adventures a where a.id = v_s.adventure_id;
  if v_count < v_adv.recommended_min_players then
    v_warnings := v_warnings || to_jsonb(format(
      'Party of %s is below the recommended %s-%s players',
      v_count, v_adv.recommended_min_players, v_adv.recommended_max_players));
  elsif v_count > v_adv.recommended_max_players then
    v_warnings := v_warnings || to_jsonb(format(
      'Party of %s is above the recommended %s-%s players',
      v_count, v_adv.recommended_min_players, v_adv.recommended_max_players));
  end if;

  perform seer_private.change_status(v_s.id, 'start', v_uid);
  update public.sessions
  set current_node_id = v_adv.start_node_id,
      visited_node_ids = case when v_adv.start_node_id is null then '{}'::uuid[]
                              else array[v_adv.start_node_id] end
  where id = v_s.id;
  -- The party's seats become the sweeper's business (session_running), and lobby time
  -- without heartbeats must not count against the players once play starts.
  update public.session_players
  set session_running = true,
      last_activity_at = case when status = 'connected' then now() else last_activity_at end
  where session_id = v_s.id and left_at is null;

  if v_adv.start_node_id is not null then
    perform seer_private.write_event(v_s.id, 'node_change', v_uid,
      seer_private.event_node_change(seer_private.node_json(v_adv.start_node_id), false));
  end if;
  return json_build_object('session', seer_private.session_json(v_s.id), 'warnings', v_warnings);
end
$$;

create function public.pause_session(p_session_id uuid)
returns json
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
begin
  v_s := seer_private.lock_session(p_session_id);
  perform seer_private.require_seer(v_s, v_uid);
  perform seer_private.change_status(v_s.id, 'pause', v_uid);
  return seer_private.session_json(v_s.id);
end
$$;

create function public.resume_session(p_session_id uuid)
returns json
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
begin
  v_s := seer_private.lock_session(p_session_id);
  perform seer_private.require_seer(v_s, v_uid);
  perform seer_private.change_status(v_s.id, 'resume', v_uid);
  -- Absence during a pause raises no "kick or wait" prompt (the sweeper moves no seat to
  -- inactive while paused): a player still away at resume gets their 5 minutes from now.
  update public.session_players set disconnected_at = now()
  where session_id = v_s.id and status = 'disconnected';
  return seer_private.session_json(v_s.id);
end
$$;

create function public.end_session(p_session_id uuid, p_outcome text, p_notes text default null)
returns json
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_outcome text := lower(btrim(left(p_outcome, 20)));
  v_notes text := seer_private.clean_text(p_notes, 'notes', 2000, p_multiline => true);
  v_s public.sessions%rowtype;
  v_stats jsonb;
begin
  if v_outcome is null or v_outcome not in ('completed', 'cancelled') then
    perform seer_private.raise_error('SESSION_000', 'outcome must be completed or cancelled');
  end if;
  v_s := seer_private.lock_session(p_session_id);
  perform seer_private.require_seer(v_s, v_uid);
  v_stats := seer_private.finish_session(v_s.id, v_outcome, v_notes, v_uid, now());
  return json_build_object('session', seer_private.session_json(v_s.id), 'stats', v_stats);
end
$$;

-- RPCs for signed-in users (service_role for tools), not for anon or PUBLIC.
revoke execute on function
  public.start_session(uuid),
  public.pause_session(uuid),
  public.resume_session(uuid),
  public.end_session(uuid, text, text)
  from public, anon;
grant execute on function
  public.start_session(uuid),
  public.pause_session(uuid),
  public.resume_session(uuid),
  public.end_session(uuid, text, text)
  to authenticated, service_role;
