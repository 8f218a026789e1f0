-- Combat: start_combat rolls initiative server-side, next_turn advances the order,
-- end_combat closes it; combatState (round, order, whose turn) is written only here, never
-- by update_game_state. combatsCompleted counts ended combats, which earn XP at the end of
-- the session (finish_session, with the per-session ceiling). With the session setting
-- autoResolveSimpleCombat, a combat started as simple is resolved by dice at once.

-- Each combat event carries the state version it produced and its turnHistory entry
-- (`entry`: `turn` is the combat's turn index), so a client folds the state from events alone.
create function seer_private.event_combat_started(p_combat jsonb, p_version int, p_entry jsonb)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object('combatState', p_combat, 'version', p_version, 'entry', p_entry)
$$;

create function seer_private.event_combat_turn(p_combat jsonb, p_version int, p_entry jsonb)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object('combatId', p_combat -> 'id', 'round', p_combat -> 'round',
                            'turn', p_combat -> 'turn', 'current', p_combat -> 'current',
                            'version', p_version, 'entry', p_entry)
$$;

create function seer_private.event_combat_ended(
  p_combat jsonb, p_outcome text, p_auto boolean, p_version int, p_entry jsonb)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object('combatId', p_combat -> 'id', 'outcome', p_outcome,
                            'rounds', p_combat -> 'round', 'autoResolved', p_auto,
                            'version', p_version, 'entry', p_entry)
$$;

-- The session's running combatState, or SESSION_027.
create function seer_private.running_combat(p_session public.sessions)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
begin
  if coalesce((p_session).game_state -> 'combatState', 'null'::jsonb) = 'null'::jsonb then
    perform seer_private.raise_error('SESSION_027', 'no combat is running');
  end if;
  return (p_session).game_state -> 'combatState';
end
$$;

-- Closes the running combat of a locked session: counts it, clears combatState, announces.
create function seer_private.close_combat(
  p_session_id uuid, p_combat jsonb, p_outcome text, p_actor uuid, p_auto boolean)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_entry jsonb := seer_private.turn_entry('combat', p_actor,
    jsonb_build_object('combatId', p_combat -> 'id', 'event', 'ended', 'outcome', p_outcome));
begin
  perform seer_private.write_turn_event(p_session_id, 'combat_ended', p_actor,
    seer_private.event_combat_ended(p_combat, p_outcome, p_auto, null, v_entry), null, true, p_combats => 1);
end
$$;

-- Auto-resolve: one recorded roll of 1d20 per combatant of a side (0 for an empty side).
create function seer_private.side_roll(p_session public.sessions, p_actor uuid, p_order jsonb, p_kind text)
returns int
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_n int := (select count(*) from jsonb_array_elements(p_order) e where e ->> 'kind' = p_kind);
begin
  if v_n = 0 then
    return 0;
  end if;
  return (seer_private.record_roll(p_session, p_actor, seer_private.roll_expression(v_n || 'd20'),
    'auto-resolve: ' || case p_kind when 'foe' then 'foes' else 'party' end, null, false)).total;
end
$$;

-- p_combatants: 1-20 of {"characterId": <a seated character>, "bonus"?: int} or
-- {"name": "Eel Warden", "bonus"?: int}; initiative = 1d20 + bonus (-20..20), highest first.
-- Each combatant's `initiative` is in combatState.order only when the session shows dice.
create function public.start_combat(p_session_id uuid, p_combatants jsonb, p_simple boolean default false)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
  v_c jsonb;
  v_seat public.session_players%rowtype;
  v_bonus int;
  v_name text;
  v_list jsonb := '[]'::jsonb;
  v_roll public.dice_rolls%rowtype;
  v_combat jsonb;
  v_party int;
  v_foes int;
  v_entry jsonb;
begin
  v_s := seer_private.lock_game(p_session_id, v_uid, true);
  if coalesce(v_s.game_state -> 'combatState', 'null'::jsonb) <> 'null'::jsonb then
    perform seer_private.raise_error('SESSION_027', 'a combat is already running');
  end if;
  if seer_private.jtype(p_combatants) <> 'array' or jsonb_array_length(p_combatants) not between 1 and 20 then
    perform seer_private.raise_error('SESSION_000', 'combatants must be an array of 1-20 combatants');
  end if;
  -- validate all before rolling anything
  for v_c in select e from jsonb_array_elements(p_combatants) e loop
    if seer_private.jtype(v_c) <> 'object' then
      perform seer_private.raise_error('SESSION_000', 'each combatant is an object');
    end if;
    if v_c ? 'bonus' and not seer_private.is_int_between(v_c -> 'bonus', -20, 20) then
      perform seer_private.raise_error('SESSION_000', 'bonus must be an integer between -20 and 20');
    end if;
    if v_c ? 'characterId' then
      perform seer_private.character_seat(v_s.id, seer_private.try_uuid(v_c ->> 'characterId'));
    else
      perform seer_private.clean_text(v_c ->> 'name', 'combatant name', 60, true);
    end if;
  end loop;
  for v_c in select e from jsonb_array_elements(p_combatants) e loop
    v_bonus := coalesce((v_c ->> 'bonus')::int, 0);
    if v_c ? 'characterId' then
      v_seat := seer_private.character_seat(v_s.id, (v_c ->> 'characterId')::uuid);
      v_name := (select c.name from public.characters c where c.id = v_seat.character_id);
    else
      v_seat := null;
      v_name := seer_private.clean_text(v_c ->> 'name', 'combatant name', 60, true);
    end if;
    v_roll := seer_private.record_roll(v_s, v_uid, seer_private.roll_expression(
      '1d20' || case when v_bonus < 0 then v_bonus::text when v_bonus > 0 then '+' || v_bonus else '' end),
      'initiative: ' || v_name, v_seat.character_id, false);
    v_list := v_list || jsonb_build_object(
      'kind', case when v_seat.id is null then 'foe' else 'character' end,
      'characterId', v_seat.character_id, 'name', v_name, 'initiative', v_roll.total);
  end loop;
  -- Hidden rolls (showDiceRolls false: record_roll hid every initiative roll) stay hidden
  -- here too: combatState is in every player's get_game_state and in the combat_started
  -- event, so the order keeps the ranking but not the totals (the Seer reads them with
  -- list_dice_rolls).
  v_list := (select jsonb_agg(case when v_roll.hidden then e - 'initiative' else e end
                              order by (e ->> 'initiative')::int desc, o)
             from jsonb_array_elements(v_list) with ordinality t(e, o));
  v_combat := jsonb_build_object('id', gen_random_uuid(), 'round', 1, 'turn', 0, 'order', v_list,
                                 'current', v_list -> 0, 'simple', coalesce(p_simple, false));
  v_entry := seer_private.turn_entry('combat', v_uid,
    jsonb_build_object('combatId', v_combat -> 'id', 'event', 'started', 'round', 1));
  perform seer_private.write_turn_event(v_s.id, 'combat_started', v_uid,
    seer_private.event_combat_started(v_combat, null, v_entry), v_combat, true);

  if coalesce(p_simple, false) and coalesce((v_s.settings ->> 'autoResolveSimpleCombat')::boolean, false) then
    -- resolved by dice at once, rolled and recorded like any roll: the party's 1d20 per
    -- character against the foes' 1d20 each (a side without combatants rolls nothing)
    v_party := seer_private.side_roll(v_s, v_uid, v_list, 'character');
    v_foes := seer_private.side_roll(v_s, v_uid, v_list, 'foe');
    perform seer_private.close_combat(v_s.id, v_combat,
      case when v_party >= v_foes then 'victory' else 'defeat' end, v_uid, true);
  end if;
  return seer_private.game_state_json((select s from public.sessions s where s.id = v_s.id));
end
$$;

create function public.next_turn(p_session_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
  v_combat jsonb;
  v_turn int;
  v_round int;
  v_entry jsonb;
begin
  v_s := seer_private.lock_game(p_session_id, v_uid, true);
  v_combat := seer_private.running_combat(v_s);
  v_turn := (v_combat ->> 'turn')::int + 1;
  v_round := (v_combat ->> 'round')::int;
  if v_turn >= jsonb_array_length(v_combat -> 'order') then
    v_turn := 0;
    v_round := v_round + 1;
  end if;
  v_combat := v_combat || jsonb_build_object('turn', v_turn, 'round', v_round,
                                             'current', v_combat -> 'order' -> v_turn);
  v_entry := seer_private.turn_entry('combat', v_uid,
    jsonb_build_object('combatId', v_combat -> 'id', 'event', 'turn', 'round', v_round,
                       'current', v_combat -> 'current' -> 'name'));
  perform seer_private.write_turn_event(v_s.id, 'combat_turn', v_uid,
    seer_private.event_combat_turn(v_combat, null, v_entry), v_combat, true);
  return seer_private.game_state_json((select s from public.sessions s where s.id = v_s.id));
end
$$;

create function public.end_combat(p_session_id uuid, p_outcome text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_outcome text := lower(btrim(left(p_outcome, 20)));
  v_s public.sessions%rowtype;
  v_combat jsonb;
begin
  if v_outcome is null or v_outcome not in ('victory', 'defeat', 'fled', 'truce') then
    perform seer_private.raise_error('SESSION_000', 'outcome must be victory, defeat, fled or truce');
  end if;
  v_s := seer_private.lock_game(p_session_id, v_uid, true);
  v_combat := seer_private.running_combat(v_s);
  perform seer_private.close_combat(v_s.id, v_combat, v_outcome, v_uid, false);
  return seer_private.game_state_json((select s from public.sessions s where s.id = v_s.id));
end
$$;

revoke execute on all functions in schema seer_private from public;
revoke execute on function public.start_combat(uuid, jsonb, boolean), public.next_turn(uuid),
  public.end_combat(uuid, text) from public, anon;
grant execute on function public.start_combat(uuid, jsonb, boolean), public.next_turn(uuid),
  public.end_combat(uuid, text) to authenticated, service_role;
