-- Player actions: a seated player proposes an action or picks one of the current node's
-- choices; everyone gets player_action and the Seer resolves it (moves, rolls). The Seer
-- may act for a character whose seat is disconnected or inactive (the PRD's "Seer control of
-- a disconnected character"), never for a connected one (SESSION_026: they act themselves).

-- p_version, p_turn: the state version the action produced and its turnHistory entry (the
-- entry holds the action's own fields), for a client's fold.
create function seer_private.event_player_action(
  p_seat public.session_players, p_character_name text, p_text text, p_choice jsonb, p_by_seer boolean,
  p_version int, p_turn jsonb)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'playerId', (p_seat).id, 'characterId', (p_seat).character_id, 'characterName', p_character_name,
    'text', p_text, 'choice', p_choice, 'bySeer', p_by_seer, 'version', p_version, 'entry', p_turn)
$$;

create function public.submit_action(
  p_session_id uuid, p_text text, p_choice text default null, p_character_id uuid default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_text text := seer_private.clean_text(p_text, 'text', 1000);
  v_choice_label text := seer_private.clean_text(p_choice, 'choice', 200);
  v_choice jsonb;
  v_s public.sessions%rowtype;
  v_seat public.session_players%rowtype;
  v_name text;
  v_entry jsonb;
begin
  if v_text is null and v_choice_label is null then
    perform seer_private.raise_error('SESSION_000', 'text or choice is required');
  end if;
  -- the lock allocates the action's seq and state version (one UPDATE of the session row)
  v_s := seer_private.lock_game(p_session_id, v_uid, p_turn => true);
  if v_s.seer_id = v_uid then
    if p_character_id is null then
      perform seer_private.raise_error('SESSION_000', 'characterId is required when the Seer acts');
    end if;
    v_seat := seer_private.character_seat(v_s.id, p_character_id);
    if v_seat.status = 'connected' then
      perform seer_private.raise_error('SESSION_026');
    end if;
  else
    v_seat := seer_private.caller_seat(v_s, v_uid);
    if p_character_id is not null and p_character_id <> v_seat.character_id then
      perform seer_private.raise_error('SESSION_007', 'players act for their own character');
    end if;
    -- a player's actions are rate-limited (SESSION_028, the submit_action bucket)
    perform seer_private.spend_rate_budget('submit_action', v_uid);
  end if;
  if v_choice_label is not null then
    v_choice := (select c from jsonb_array_elements(seer_private.node_json(v_s.current_node_id) -> 'choices') c
                 where c ->> 'label' = v_choice_label limit 1);
    if v_choice is null then
      perform seer_private.raise_error('SESSION_000', 'choice is not one of the current node''s choices');
    end if;
  end if;
  select c.name into v_name from public.characters c where c.id = v_seat.character_id;
  v_entry := seer_private.turn_entry('action', v_uid,
    seer_private.event_player_action(v_seat, v_name, v_text, v_choice, v_s.seer_id = v_uid, null, null)
      - 'version' - 'entry');
  -- with the seq and state version the lock allocated
  return seer_private.write_locked_turn_event(v_s, 'player_action', v_uid,
    seer_private.event_player_action(v_seat, v_name, v_text, v_choice, v_s.seer_id = v_uid, null, v_entry));
end
$$;

revoke execute on all functions in schema seer_private from public;
revoke execute on function public.submit_action(uuid, text, text, uuid) from public, anon;
grant execute on function public.submit_action(uuid, text, text, uuid) to authenticated, service_role;
