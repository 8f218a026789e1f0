-- Performance: the helpers every RPC calls were re-planned on every call.
--
-- Measured with pgbench (bench/, docs/performance.md): get_session spent ~1.4 ms per call,
-- most of it planning. Two Postgres facts behind it:
--   * a `language sql` function that cannot be inlined runs through the SQL-function
--     executor, which parses and plans its body again for every calling query - and from
--     plpgsql every call is a new calling query (plpgsql caches its own statements' plans,
--     not those of SQL functions it calls);
--   * a `language sql` function is only inlined into its caller when it has no SET clause
--     (our `set search_path = ''`), no sub-selects and no FROM.
-- So: helpers that read tables become plpgsql (their statements' plans are cached for the
-- connection), and the pure JSON builders lose their SET clause so that the planner inlines
-- them into the calling query (they must be `stable`, not `immutable`: jsonb_build_object and
-- to_jsonb are stable, and an immutable function with a stable body is never inlined) (safe: they only call pg_catalog functions on their arguments,
-- and an inlined body is parsed in the caller's context, which has search_path = '').
-- Shapes and semantics are unchanged (docs/contract.md); pgTAP and the reliability suite
-- check them.

-- Pure builders: inlinable (no SET, no FROM, no sub-select) -------------------------------

create or replace function seer_private.character_json(p_character public.characters)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'id', (p_character).id, 'ownerId', (p_character).owner_id, 'name', (p_character).name,
    'class', (p_character).class, 'level', (p_character).level,
    'experience', (p_character).experience)
$$;

-- The one definition of the SessionPlayer shape, given the seat, its character (null row if
-- none) and the player's display name.
create function seer_private.player_fields(
  p_player public.session_players, p_character public.characters, p_display_name text)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'id', (p_player).id,
    'sessionId', (p_player).session_id,
    'userId', (p_player).user_id,
    'characterId', (p_player).character_id,
    'character', case when (p_character).id is null then null
                      else seer_private.character_json(p_character) end,
    'displayName', p_display_name,
    'joinedAt', (p_player).joined_at,
    'lastActivityAt', (p_player).last_activity_at,
    'leftAt', (p_player).left_at,
    'status', (p_player).status,
    'isConnected', (p_player).status = 'connected',
    'controlledBySeer', (p_player).status = 'inactive',
    'leftReason', (p_player).left_reason,
    'kickReason', (p_player).kick_reason)
$$;

create or replace function seer_private.game_state_json(p_session public.sessions)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'inventory', coalesce((p_session).game_state -> 'inventory', '[]'::jsonb),
    'variables', coalesce((p_session).game_state -> 'variables', '{}'::jsonb),
    'flags', coalesce((p_session).game_state -> 'flags', '[]'::jsonb),
    'turnHistory', coalesce((p_session).game_state -> 'turnHistory', '[]'::jsonb),
    'combatState', (p_session).game_state -> 'combatState',
    'version', (p_session).state_version,
    'currentNodeId', (p_session).current_node_id,
    'visitedNodeIds', to_jsonb((p_session).visited_node_ids))
$$;

create or replace function seer_private.jtype(p_value jsonb)
returns text
language sql
immutable
as $$
  select coalesce(jsonb_typeof(p_value), 'missing')
$$;

create or replace function seer_private.is_int_between(p_value jsonb, p_min numeric, p_max numeric)
returns boolean
language sql
immutable
as $$
  select seer_private.jtype(p_value) = 'number'
    and (p_value #>> '{}')::numeric between p_min and p_max
    and (p_value #>> '{}')::numeric = trunc((p_value #>> '{}')::numeric)
$$;

-- Table readers: plpgsql, so their plans are cached ------------------------------------------

create or replace function seer_private.player_json(p_player public.session_players)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  v_char public.characters;
  v_name text;
begin
  select c.* into v_char from public.characters c where c.id = p_player.character_id;
  select pr.display_name into v_name from public.profiles pr where pr.id = p_player.user_id;
  return seer_private.player_fields(p_player, v_char, v_name);
end
$$;

create or replace function seer_private.session_json(p_session_id uuid)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  return (
    select jsonb_build_object(
      'id', s.id,
      'code', s.code,
      'seerId', s.seer_id,
      'seerName', s.seer_name,
      'adventureId', s.adventure_id,
      'adventureName', s.adventure_name,
      'adventureDescription', a.description,
      'status', s.status,
      'players', coalesce((
        select jsonb_agg(seer_private.player_fields(sp, c, pr.display_name) order by sp.joined_at, sp.id)
        from public.session_players sp
        left join public.characters c on c.id = sp.character_id
        left join public.profiles pr on pr.id = sp.user_id
        where sp.session_id = s.id and sp.left_at is null), '[]'::jsonb),
      'maxPlayers', s.max_players,
      'minPlayers', s.min_players,
      'recommendedMinPlayers', a.recommended_min_players,
      'recommendedMaxPlayers', a.recommended_max_players,
      'currentNodeId', s.current_node_id,
      'visitedNodeIds', to_jsonb(s.visited_node_ids),
      'gameState', seer_private.game_state_json(s),
      'createdAt', s.created_at,
      'startedAt', s.started_at,
      'pausedAt', s.paused_at,
      'completedAt', s.completed_at,
      'endedAt', s.ended_at,
      'outcome', s.outcome,
      'notes', s.notes,
      'estimatedDurationMinutes', s.estimated_duration_minutes,
      'settings', s.settings,
      'lastSeq', s.last_seq)
    from public.sessions s
    join public.adventures a on a.id = s.adventure_id
    where s.id = p_session_id);
end
$$;

create or replace function seer_private.live_seat_count(p_session_id uuid)
returns int
language plpgsql
stable
set search_path = ''
as $$
begin
  return (select count(*)::int from public.session_players sp
          where sp.session_id = p_session_id and sp.left_at is null);
end
$$;

create or replace function seer_private.role_in(p_session_id uuid, p_seer_id uuid, p_uid uuid)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
  v_live boolean;
begin
  if p_seer_id = p_uid then
    return 'seer';
  end if;
  -- one index probe (session_id, user_id) answers both "live seat" and "ever seated"
  select bool_or(sp.left_at is null) into v_live
  from public.session_players sp
  where sp.session_id = p_session_id and sp.user_id = p_uid;
  return case when v_live then 'player' when v_live is not null then 'former' else 'stranger' end;
end
$$;

create or replace function seer_private.preview_json(p_session public.sessions)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  return jsonb_build_object(
    'id', p_session.id,
    'code', p_session.code,
    'status', p_session.status,
    'seerName', p_session.seer_name,
    'adventureId', p_session.adventure_id,
    'adventureName', p_session.adventure_name,
    'adventureDescription', (select a.description from public.adventures a
                             where a.id = p_session.adventure_id),
    'playerCount', seer_private.live_seat_count(p_session.id),
    'maxPlayers', p_session.max_players,
    'minPlayers', p_session.min_players,
    'settings', p_session.settings);
end
$$;

revoke execute on function
  seer_private.character_json(public.characters),
  seer_private.player_fields(public.session_players, public.characters, text),
  seer_private.game_state_json(public.sessions),
  seer_private.jtype(jsonb),
  seer_private.is_int_between(jsonb, numeric, numeric),
  seer_private.player_json(public.session_players),
  seer_private.session_json(uuid),
  seer_private.live_seat_count(uuid),
  seer_private.role_in(uuid, uuid, uuid),
  seer_private.preview_json(public.sessions)
  from public, anon, authenticated;
