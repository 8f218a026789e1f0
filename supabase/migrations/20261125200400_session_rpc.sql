-- Session lifecycle RPCs: create, get, join, leave, kick, start, pause, resume, end,
-- heartbeat, event replay, feedback, listings and characters. (The join-code lookup,
-- get_session_by_code, lives with its rate limit in the _code_lookup_rate_limit migration.)
--
-- Every state-changing RPC first locks the session row (`for update`); that single lock
-- serialises seat counting (max players), status transitions and event seq allocation.
-- Errors go through seer_private.raise_error, so PostgREST answers with the PRD status.

-- JSON shapes (docs/contract.md) ------------------------------------------------------------
--
-- Every RPC calls these, so how Postgres plans them matters (measured with pgbench, bench/,
-- docs/performance.md: as plain `language sql` functions with `set search_path` they made
-- get_session spend ~1.4 ms per call, most of it planning). Two Postgres facts:
--   * a `language sql` function that cannot be inlined runs through the SQL-function
--     executor, which parses and plans its body again for every calling query - and from
--     plpgsql every call is a new calling query (plpgsql caches its own statements' plans,
--     not those of SQL functions it calls);
--   * a `language sql` function is only inlined into its caller when it has no SET clause,
--     no sub-selects and no FROM, and is not declared more strictly than its body
--     (jsonb_build_object and to_jsonb are stable, and an `immutable` function with a stable
--     body is never inlined).
-- So the pure builders (character_json, player_fields, game_state_json) are `stable` sql
-- functions without a SET clause, which the planner inlines into the calling query - safe,
-- because they only call pg_catalog functions on their arguments and an inlined body is
-- parsed in the caller's context, which has search_path = ''. The helpers that read tables
-- (player_json, session_json, live_seat_count, preview_json, role_in below) are plpgsql, whose
-- statements' plans are cached for the connection.

-- Pure builders: inlinable (no SET, no FROM, no sub-select).

create function seer_private.character_json(p_character public.characters)
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
    -- a connected seat's last heartbeat is in its liveness row (20261125200200)
    'lastActivityAt', coalesce((select l.last_heartbeat_at from seer_private.seat_liveness l
                                where l.player_id = (p_player).id), (p_player).last_activity_at),
    'leftAt', (p_player).left_at,
    'status', (p_player).status,
    'isConnected', (p_player).status = 'connected',
    'controlledBySeer', (p_player).status = 'inactive',
    'leftReason', (p_player).left_reason,
    'kickReason', (p_player).kick_reason)
$$;

create function seer_private.game_state_json(p_session public.sessions)
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

-- Table readers: plpgsql, so their plans are cached.

create function seer_private.player_json(p_player public.session_players)
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

-- An adventure node as players see it once their session reaches it: {id, title, type, body,
-- choices: [{label, nodeId}]} (choices are the node's outgoing links in order); null for no
-- node. Only ever called for the session's current (so visited) node: see can_read_node.
create function seer_private.node_json(p_node_id uuid)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  return (
    select jsonb_build_object(
      'id', n.id, 'title', n.title, 'type', n.node_type, 'body', n.body,
      'choices', coalesce((
        select jsonb_agg(jsonb_build_object('label', l.label, 'nodeId', l.to_node_id)
                         order by l.position, l.label)
        from public.adventure_links l where l.from_node_id = n.id), '[]'::jsonb))
    from public.adventure_nodes n where n.id = p_node_id);
end
$$;

-- The players come from one join, not from a player_json call per seat.
create function seer_private.session_json(p_session_id uuid)
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
      'currentNode', seer_private.node_json(s.current_node_id),
      'visitedNodeIds', to_jsonb(s.visited_node_ids),
      'gameState', seer_private.game_state_json(s),
      'stats', s.stats,
      'createdAt', s.created_at,
      'startedAt', s.started_at,
      'pausedAt', s.paused_at,
      'completedAt', s.completed_at,
      'endedAt', s.ended_at,
      'outcome', s.outcome,
      'notes', s.notes,
      'estimatedDurationMinutes', s.estimated_duration_minutes,
      'settings', s.settings,
      'lastSeq', s.last_seq,
      -- the current realtime topic (secret channel key): session_json goes to participants only
      'topic', (select c.topic from seer_private.session_channels c where c.session_id = s.id))
    from public.sessions s
    join public.adventures a on a.id = s.adventure_id
    where s.id = p_session_id);
end
$$;

create function seer_private.live_seat_count(p_session_id uuid)
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

create function seer_private.preview_json(p_session public.sessions)
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

-- Event constructors: one per event type, the one answer to "what does a <type> event
-- contain" (its type-specific fields; write_event adds seq, type, sessionId, timestamp, actor).
-- seer_private.event_<type> is the naming rule: tests/db/test_event_shapes.py calls every
-- function so named and checks its keys against docs/contract.md and seer_client/events.py.
-- Pure builders like the JSON shapes above (no SET, no FROM), so they inline.

create function seer_private.event_session_created(p_status text)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object('status', p_status)
$$;

create function seer_private.event_player_joined(p_player jsonb)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object('player', p_player)
$$;

create function seer_private.event_player_left(
  p_seat public.session_players, p_reason text, p_kick_reason text)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'playerId', (p_seat).id, 'userId', (p_seat).user_id, 'characterId', (p_seat).character_id,
    'reason', p_reason, 'kickReason', p_kick_reason)
$$;

-- the seat after its status changed (connected again, or disconnected)
create function seer_private.event_player_connection(p_seat public.session_players)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'playerId', (p_seat).id, 'userId', (p_seat).user_id,
    'isConnected', (p_seat).status = 'connected', 'status', (p_seat).status)
$$;

create function seer_private.event_player_inactive(p_seat public.session_players, p_character_name text)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'playerId', (p_seat).id, 'userId', (p_seat).user_id, 'characterId', (p_seat).character_id,
    'characterName', p_character_name, 'disconnectedAt', (p_seat).disconnected_at)
$$;

create function seer_private.event_session_status(p_old_status text, p_new_status text)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object('oldStatus', p_old_status, 'newStatus', p_new_status)
$$;

create function seer_private.event_game_state(p_changes jsonb, p_version int)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object('changes', p_changes, 'version', p_version)
$$;

-- p_node is seer_private.node_json of the node moved to; p_override: the Seer moved off the
-- graph's links on purpose (logged here for everyone to see).
create function seer_private.event_node_change(p_node jsonb, p_override boolean)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'nodeId', p_node -> 'id', 'nodeType', p_node -> 'type', 'nodeTitle', p_node -> 'title',
    'nodeBody', p_node -> 'body', 'choices', p_node -> 'choices', 'override', p_override)
$$;

create function seer_private.event_session_ended(p_outcome text, p_stats jsonb, p_notes text)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object('outcome', p_outcome, 'stats', p_stats, 'notes', p_notes)
$$;

-- Internals ----------------------------------------------------------------------------------

-- Uniform over the 31-letter alphabet: bytes >= 248 (= 8 * 31) are rejected, so byte % 31
-- has no modulo bias (the PRD's `% chars.length` on a byte favours the first 8 letters).
create function seer_private.generate_join_code()
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  c_alphabet constant text := 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
  v_code text := '';
  v_bytes bytea;
  v_byte int;
begin
  while length(v_code) < 6 loop
    v_bytes := extensions.gen_random_bytes(12);
    for i in 0 .. length(v_bytes) - 1 loop
      v_byte := get_byte(v_bytes, i);
      if v_byte < 248 then
        v_code := v_code || substr(c_alphabet, (v_byte % 31) + 1, 1);
        exit when length(v_code) = 6;
      end if;
    end loop;
  end loop;
  return v_code;
end
$$;

-- The one writer of events: stores the event with a seq the caller already allocated (last_seq
-- was advanced past it under the session row lock in the caller's transaction) and announces
-- it in the same transaction, so a rolled-back change is never announced and every
-- announcement has its row. The broadcast is the whole event, on the session's current keyed
-- topic `session:<id>:<key>` (the realtime authorization migration): Realtime never evicts an
-- open socket when a policy changes (it re-checks only at join and on an access_token push),
-- so every removal rotates the key first and a removed player's socket hears nothing more
-- than one content-free rekey poke (docs/security.md). The topic is a primary-key lookup in
-- the same statement (no extra statement per event).
-- update_game_state allocates its seqs in its own state UPDATE (one row version instead of
-- two, see the _game_state_rpc migration); everything else goes through write_event.
create function seer_private.write_event_at(
  p_session_id uuid, p_seq bigint, p_type text, p_actor uuid, p_fields jsonb, p_at timestamptz default now())
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_event jsonb;
begin
  v_event := coalesce(p_fields, '{}'::jsonb) || jsonb_build_object(
    'seq', p_seq, 'type', p_type, 'sessionId', p_session_id, 'timestamp', p_at, 'actor', p_actor);
  -- every event is broadcast and replayed whole: 128 KiB at most (docs/contract.md "Limits")
  perform seer_private.require_size(v_event, 'the event', 131072);
  insert into public.session_events (session_id, seq, type, payload, actor, created_at)
  values (p_session_id, p_seq, p_type, v_event, p_actor, p_at);
  perform realtime.send(v_event, p_type,
    (select c.topic from seer_private.session_channels c where c.session_id = p_session_id), true);
  return v_event;
end
$$;

-- Allocates the next seq from the (already locked) session row, then write_event_at.
create function seer_private.write_event(
  p_session_id uuid, p_type text, p_actor uuid, p_fields jsonb, p_at timestamptz default now())
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_seq bigint;
begin
  update public.sessions set last_seq = last_seq + 1
  where id = p_session_id
  returning last_seq into v_seq;
  if v_seq is null then
    raise exception 'write_event: session % does not exist', p_session_id;
  end if;
  return seer_private.write_event_at(p_session_id, v_seq, p_type, p_actor, p_fields, p_at);
end
$$;

create function seer_private.lock_session(p_session_id uuid)
returns public.sessions
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_s public.sessions%rowtype;
begin
  if p_session_id is null then
    perform seer_private.raise_error('SESSION_000', 'sessionId is required');
  end if;
  select * into v_s from public.sessions s where s.id = p_session_id for update;
  if not found then
    perform seer_private.raise_error('SESSION_001');
  end if;
  return v_s;
end
$$;

-- The same without the lock, for read-only RPCs.
create function seer_private.read_session(p_session_id uuid)
returns public.sessions
language plpgsql
stable
set search_path = ''
as $$
declare
  v_s public.sessions%rowtype;
begin
  select * into v_s from public.sessions s where s.id = p_session_id;
  if not found then
    perform seer_private.raise_error('SESSION_001');
  end if;
  return v_s;
end
$$;

-- 'seer' | 'player' (live seat) | 'former' (seat released: left in lobby or kicked) | 'stranger'
-- plpgsql, like the table readers above: called by nearly every RPC, its plan is cached.
create function seer_private.role_in(p_session_id uuid, p_seer_id uuid, p_uid uuid)
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

-- Seer-only actions: players learn they are not the Seer, everyone else that there is no
-- such session (existence is not disclosed to outsiders).
create function seer_private.require_seer(p_session public.sessions, p_uid uuid)
returns void
language plpgsql
stable
set search_path = ''
as $$
declare
  v_role text := seer_private.role_in((p_session).id, (p_session).seer_id, p_uid);
begin
  if v_role = 'seer' then
    return;
  elsif v_role = 'player' then
    perform seer_private.raise_error('SESSION_007');
  else
    perform seer_private.raise_error('SESSION_001');
  end if;
end
$$;

create function seer_private.require_participant(p_session public.sessions, p_uid uuid)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
  v_role text := seer_private.role_in((p_session).id, (p_session).seer_id, p_uid);
begin
  if v_role not in ('seer', 'player') then
    perform seer_private.raise_error('SESSION_001');
  end if;
  return v_role;
end
$$;

create function seer_private.validate_settings(p_settings jsonb)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
declare
  c_defaults constant jsonb := '{"allowLateJoin": false, "showDiceRolls": true,
    "autoResolveSimpleCombat": false, "enableAISeer": true, "voiceChatEnabled": false}'::jsonb;
  v_key text;
  v_val jsonb;
begin
  if p_settings is null or p_settings = 'null'::jsonb then
    return c_defaults;
  end if;
  if jsonb_typeof(p_settings) <> 'object' then
    perform seer_private.raise_error('SESSION_000', 'settings must be an object');
  end if;
  for v_key, v_val in select e.key, e.value from jsonb_each(p_settings) e loop
    if not c_defaults ? v_key then
      perform seer_private.raise_error('SESSION_000', 'settings.' || left(v_key, 60) || ' is not a setting');
    end if;
    if jsonb_typeof(v_val) <> 'boolean' then
      perform seer_private.raise_error('SESSION_000', 'settings.' || v_key || ' must be a boolean');
    end if;
  end loop;
  return c_defaults || p_settings;
end
$$;

-- The session status machine as data: one row per (action, from) that is allowed. The PRD's
-- diagram plus "complete from paused" (issue 3: end from active or paused). Every status
-- change - start, pause, resume, end and the sweeper's timeouts - goes through
-- seer_private.change_status, which reads this table; anything not in it is SESSION_010.
create table seer_private.status_transitions (
  action text not null,
  from_status text not null,
  to_status text not null,
  primary key (action, from_status)
);
revoke all on seer_private.status_transitions from public;
insert into seer_private.status_transitions (action, from_status, to_status) values
  ('start', 'waiting', 'active'),
  ('pause', 'active', 'paused'),
  ('resume', 'paused', 'active'),
  ('complete', 'active', 'completed'), ('complete', 'paused', 'completed'),
  ('cancel', 'waiting', 'cancelled'), ('cancel', 'active', 'cancelled'), ('cancel', 'paused', 'cancelled');

-- The target status of p_action from p_from, or SESSION_010.
create function seer_private.assert_transition(p_from text, p_action text)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
  v_to text;
begin
  select t.to_status into v_to from seer_private.status_transitions t
  where t.action = p_action and t.from_status = p_from;
  if v_to is null then
    perform seer_private.raise_error('SESSION_010', p_from || ' -> ' || p_action);
  end if;
  return v_to;
end
$$;

-- The one writer of sessions.status: checks the transition, keeps the status timestamps
-- (started/paused/ended, paused time for durationMinutes) and announces session_status.
-- The caller holds the session row lock.
create function seer_private.change_status(
  p_session_id uuid, p_action text, p_actor uuid, p_at timestamptz default now())
returns public.sessions
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_s public.sessions%rowtype;
  v_old text;
  v_to text;
begin
  select s.status into v_old from public.sessions s where s.id = p_session_id;
  v_to := seer_private.assert_transition(v_old, p_action);
  update public.sessions
  set status = v_to,
      started_at = case when v_to = 'active' then coalesce(started_at, p_at) else started_at end,
      paused_at = case when v_to = 'paused' then p_at end,
      paused_seconds = paused_seconds
        + case when status = 'paused' then greatest(0, extract(epoch from p_at - paused_at)) else 0 end,
      ended_at = case when v_to in ('completed', 'cancelled') then p_at end,
      completed_at = case when v_to = 'completed' then p_at end,
      outcome = case when v_to in ('completed', 'cancelled') then v_to end
  where id = p_session_id
  returning * into v_s;
  perform seer_private.write_event(p_session_id, 'session_status', p_actor,
    seer_private.event_session_status(v_old, v_to), p_at);
  return v_s;
end
$$;

-- "Can this user join this session now": the one rule join_session enforces and
-- get_session_by_code and invite_preview predict. Returns the first reason that refuses
-- (null: a join would be accepted). p_uid null is an anonymous visitor (invite page).
-- The reasons, their error codes and the join page's wording are data in join_refusals.
create table seer_private.join_refusals (
  reason text primary key,
  code text not null references seer_private.error_codes (code),
  -- the `details` join_session raises with (contract: a kicked user gets details `kicked`)
  details text,
  -- get_session_by_code's `reason` for the join page
  message text not null
);
revoke all on seer_private.join_refusals from public;
insert into seer_private.join_refusals (reason, code, details, message) values
  ('seer', 'SESSION_008', 'the Seer cannot take a player seat', 'You are the Seer of this session'),
  ('kicked', 'SESSION_006', 'kicked', 'You were removed from this session'),
  ('seated', 'SESSION_008', null, 'You are already in this session'),
  ('ended', 'SESSION_005', null, 'Session has ended'),
  ('started', 'SESSION_004', null, 'Session has already started'),
  ('full', 'SESSION_003', null, 'Session is full');

create function seer_private.join_refusal(p_session public.sessions, p_uid uuid)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
  v_role text := seer_private.role_in((p_session).id, (p_session).seer_id, p_uid);
begin
  return case
    when v_role = 'seer' then 'seer'
    when v_role = 'former' and exists (
        select 1 from public.session_players sp
        where sp.session_id = (p_session).id and sp.user_id = p_uid and sp.status = 'kicked')
      then 'kicked'
    when v_role = 'player' then 'seated'
    when (p_session).status in ('completed', 'cancelled') then 'ended'
    when (p_session).status = 'paused'
      or ((p_session).status = 'active'
          and not coalesce(((p_session).settings ->> 'allowLateJoin')::boolean, false))
      then 'started'
    when seer_private.live_seat_count((p_session).id) >= (p_session).max_players then 'full'
  end;
end
$$;

-- Raises the error of a join refusal reason (see join_refusals).
create function seer_private.refuse_join(p_reason text)
returns void
language plpgsql
stable
set search_path = ''
as $$
declare
  v_r seer_private.join_refusals%rowtype;
begin
  select * into v_r from seer_private.join_refusals r where r.reason = p_reason;
  perform seer_private.raise_error(v_r.code, v_r.details);
end
$$;

-- The caller's live seat, locked: the prologue of every RPC a seated player calls. Without
-- one: the Seer gets p_seer_code, a former player (left the lobby, kicked) SESSION_006,
-- anyone else SESSION_001 (existence is not disclosed).
create function seer_private.caller_seat(
  p_session public.sessions, p_uid uuid, p_seer_code text default 'SESSION_006')
returns public.session_players
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_seat public.session_players%rowtype;
  v_role text;
begin
  select * into v_seat from public.session_players sp
  where sp.session_id = (p_session).id and sp.user_id = p_uid and sp.left_at is null
  for update;
  if found then
    return v_seat;
  end if;
  v_role := seer_private.role_in((p_session).id, (p_session).seer_id, p_uid);
  if v_role = 'seer' then
    perform seer_private.raise_error(p_seer_code);
  elsif v_role = 'former' then
    perform seer_private.raise_error('SESSION_006');
  end if;
  perform seer_private.raise_error('SESSION_001');
  return null; -- not reached (raise_error raises); says so to plpgsql_check
end
$$;

-- Leave and rejoin (docs/contract.md "Leave, disconnect, rejoin"; the PRD's US-07): may the
-- player bring this live seat (of a lobby or a running session) back by themselves? The one definition,
-- used by heartbeat (p_explicit false: the app's connection) and join_session (true: the
-- player asks to come back with the same character).
--   disconnected (no heartbeat for 60 s, not yet 5 minutes)  -> yes, both
--   inactive after the 5-minute window (the Seer was prompted) -> no: the Seer decides
--                                     (kick_player, or readmit_player: back to disconnected)
--   left by the player (leave_session; inactive, left_reason 'left') -> never by a heartbeat
--                                     (a leave is final for that connection); by an explicit
--                                     join within 5 minutes of the leave, else the Seer decides
create function seer_private.may_restore_seat(p_seat public.session_players, p_explicit boolean)
returns boolean
language sql
stable
set search_path = ''
as $$
  select case
    when (p_seat).status = 'disconnected' then true
    when (p_seat).status = 'inactive' and (p_seat).left_reason = 'left' then
      p_explicit and (p_seat).inactive_at > now() - interval '5 minutes'
    else false
  end
$$;

-- Brings a disconnected/inactive seat back; caller holds the session lock.
create function seer_private.restore_seat(p_player_id uuid, p_actor uuid, p_at timestamptz)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_p public.session_players%rowtype;
begin
  update public.session_players
  set status = 'connected', disconnected_at = null, inactive_at = null, left_reason = null,
      last_activity_at = p_at
  where id = p_player_id
  returning * into v_p;
  perform seer_private.write_event(v_p.session_id, 'player_connection', p_actor,
    seer_private.event_player_connection(v_p), p_at);
end
$$;

-- Ends a locked session (its transition is checked by change_status): stats, experience, events.
-- XP rule: on `completed` every character seated at the end (left_at null, including
-- inactive seats) earns the same amount = sum of xp_reward over the distinct visited nodes
-- of the adventure + 25 per ended combat (end_combat), at most the session's ceiling: the
-- xp_reward of every node of the adventure + 25 per combat node (at least one), so no
-- number of combats can farm more than the adventure holds; level = max(level, 1 +
-- experience / 1000). `cancelled` earns nothing. Also on `completed`: inventory items with
-- assignedTo a character seated at the end become that character's items.
create function seer_private.finish_session(
  p_session_id uuid, p_outcome text, p_notes text, p_actor uuid, p_at timestamptz)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_s public.sessions%rowtype;
  v_paused double precision;
  v_duration int;
  v_xp int;
  v_stats jsonb;
begin
  select * into v_s from public.sessions s where s.id = p_session_id;
  v_paused := v_s.paused_seconds
    + case when v_s.status = 'paused' then greatest(0, extract(epoch from p_at - v_s.paused_at)) else 0 end;
  v_duration := case when v_s.started_at is null then 0
    else greatest(0, floor((extract(epoch from p_at - v_s.started_at) - v_paused) / 60))::int end;
  v_xp := case when p_outcome = 'completed' then least(
      coalesce((select sum(n.xp_reward) from public.adventure_nodes n
                where n.adventure_id = v_s.adventure_id and n.id = any (v_s.visited_node_ids)), 0)::int
        + 25 * v_s.combats_completed,
      (select coalesce(sum(n.xp_reward), 0)::int
              + 25 * greatest(1, count(*) filter (where n.node_type = 'combat'))::int
       from public.adventure_nodes n where n.adventure_id = v_s.adventure_id))
    else 0 end;
  v_stats := jsonb_build_object(
    'durationMinutes', v_duration,
    'nodesVisited', cardinality(v_s.visited_node_ids),
    'diceRolled', v_s.dice_rolled,
    'combatsCompleted', v_s.combats_completed,
    'experienceEarned', v_xp);

  -- checks the transition and announces session_status before anything else is written
  perform seer_private.change_status(p_session_id,
    case p_outcome when 'completed' then 'complete' else 'cancel' end, p_actor, p_at);
  update public.sessions set notes = p_notes, stats = v_stats where id = p_session_id;

  if v_xp > 0 then
    update public.characters c
    set experience = c.experience + v_xp,
        level = greatest(c.level, 1 + (c.experience + v_xp) / 1000),
        updated_at = p_at
    where c.id in (select sp.character_id from public.session_players sp
                   where sp.session_id = p_session_id and sp.left_at is null);
  end if;

  if p_outcome = 'completed' then
    insert into public.character_items (character_id, session_id, item)
    select sp.character_id, p_session_id, i
    from jsonb_array_elements(coalesce(v_s.game_state -> 'inventory', '[]'::jsonb)) i
    -- assignedTo names the character, or its seat (the player id)
    join public.session_players sp
      on sp.session_id = p_session_id and sp.left_at is null and sp.character_id is not null
     and seer_private.try_uuid(i ->> 'assignedTo') in (sp.character_id, sp.id);
  end if;

  -- Seats stay as history but release their characters for other sessions, and leave the
  -- sweeper's indexes.
  update public.session_players set session_ended = true, session_running = false
  where session_id = p_session_id;

  perform seer_private.write_event(p_session_id, 'session_ended', p_actor,
    seer_private.event_session_ended(p_outcome, v_stats, p_notes), p_at);
  return v_stats;
end
$$;

-- How many sessions one Seer may run and create (docs/contract.md "Limits"): at most 10 live
-- (waiting + active + paused) at once, SESSION_016, and at most 20 created per rolling hour,
-- SESSION_017 (429). Both are read from sessions_seer_idx (seer_id, created_at desc). The
-- per-user advisory lock makes parallel create_session calls of one user count one after the
-- other, so a burst cannot slip past either limit. The one definition; create_session calls it.
create function seer_private.require_session_quota(p_uid uuid)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  perform pg_advisory_xact_lock(hashtextextended('seer.create_session:' || p_uid::text, 0));
  if (select count(*) from public.sessions s
      where s.seer_id = p_uid and s.status in ('waiting', 'active', 'paused')) >= 10 then
    perform seer_private.raise_error('SESSION_016', 'at most 10 live sessions per Seer');
  end if;
  if (select count(*) from public.sessions s
      where s.seer_id = p_uid and s.created_at > now() - interval '1 hour') >= 20 then
    perform seer_private.raise_error('SESSION_017', 'at most 20 sessions per hour');
  end if;
end
$$;

-- Public RPCs ---------------------------------------------------------------------------------

create function public.create_session(
  p_adventure_id uuid, p_settings jsonb default '{}', p_max_players int default 6)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_account();
  v_adv public.adventures%rowtype;
  v_settings jsonb;
  v_id uuid;
  v_attempt int := 0;
  v_constraint text;
begin
  if p_adventure_id is null then
    perform seer_private.raise_error('SESSION_000', 'adventureId is required');
  end if;
  v_settings := seer_private.validate_settings(p_settings);
  if p_max_players is null or p_max_players not between 1 and 6 then
    perform seer_private.raise_error('SESSION_000', 'maxPlayers must be between 1 and 6');
  end if;
  select a.* into v_adv from public.adventures a
  where a.id = p_adventure_id and (a.is_published or a.created_by = v_uid);
  if not found then
    perform seer_private.raise_error('SESSION_013');
  end if;
  if p_max_players < v_adv.min_players then
    perform seer_private.raise_error('SESSION_000',
      'maxPlayers is below the adventure minimum of ' || v_adv.min_players);
  end if;
  perform seer_private.require_session_quota(v_uid);

  -- A code collides with a live session about once in 887M / live sessions; retry then.
  loop
    begin
      insert into public.sessions (code, seer_id, seer_name, adventure_id, adventure_name,
        max_players, min_players, estimated_duration_minutes, settings)
      values (seer_private.generate_join_code(), v_uid,
        coalesce((select p.display_name from public.profiles p where p.id = v_uid), 'Seer'),
        v_adv.id, v_adv.title, p_max_players, v_adv.min_players,
        v_adv.estimated_duration_minutes, v_settings)
      returning id into v_id;
      exit;
    exception when unique_violation then
      get stacked diagnostics v_constraint = constraint_name;
      if v_constraint <> 'sessions_live_code_key' or v_attempt >= 20 then
        raise;
      end if;
      v_attempt := v_attempt + 1;
    end;
  end loop;

  perform seer_private.write_event(v_id, 'session_created', v_uid,
    seer_private.event_session_created('waiting'));
  -- the PRD's POST /sessions answers 201 Created; PostgREST takes the status from this setting
  perform set_config('response.status', '201', true);
  return seer_private.session_json(v_id);
end
$$;

create function public.get_session(p_session_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform seer_private.require_uid();
  -- 001 unless the caller is the Seer or holds a live seat: the same rule (and function) RLS
  -- uses. This RPC needs nothing else from the session row, and reading it whole to pass it
  -- as a composite (a row datum, which detoasts the game state - up to 1,000 turns) through
  -- require_participant and role_in cost three statements and two nested calls
  -- (docs/performance.md, fix 5). session_events_since does the same.
  if not seer_private.is_session_participant(p_session_id) then
    perform seer_private.raise_error('SESSION_001');
  end if;
  return seer_private.session_json(p_session_id);
end
$$;

create function public.join_session(p_session_id uuid, p_character_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_account();
  v_s public.sessions%rowtype;
  v_seat public.session_players%rowtype;
  v_char public.characters%rowtype;
  v_refusal text;
  v_constraint text;
begin
  if p_character_id is null then
    perform seer_private.raise_error('SESSION_000', 'characterId is required');
  end if;
  v_s := seer_private.lock_session(p_session_id);
  v_refusal := seer_private.join_refusal(v_s, v_uid);
  if v_refusal = 'seated' then
    -- Coming back to a running game with the same character restores the seat.
    v_seat := seer_private.caller_seat(v_s, v_uid);
    if v_s.status in ('waiting', 'active', 'paused') and seer_private.may_restore_seat(v_seat, true)
       and v_seat.character_id = p_character_id then
      perform seer_private.restore_seat(v_seat.id, v_uid, now());
      select * into v_seat from public.session_players sp where sp.id = v_seat.id;
      return jsonb_build_object('player', seer_private.player_json(v_seat),
                                'session', seer_private.session_json(v_s.id));
    end if;
  end if;
  -- a full session is reported after the caller's own character problems (below)
  if v_refusal <> 'full' then
    perform seer_private.refuse_join(v_refusal);
  end if;

  select * into v_char from public.characters c where c.id = p_character_id and c.owner_id = v_uid;
  if not found then
    perform seer_private.raise_error('SESSION_000', 'characterId');
  end if;
  if exists (select 1 from public.session_players sp
             where sp.character_id = v_char.id and sp.left_at is null and not sp.session_ended) then
    perform seer_private.raise_error('SESSION_009');
  end if;
  if v_refusal = 'full' then
    perform seer_private.refuse_join(v_refusal);
  end if;

  begin
    -- a late joiner's seat is in a running session from the start
    insert into public.session_players (session_id, user_id, character_id, session_running)
    values (v_s.id, v_uid, v_char.id, v_s.status in ('active', 'paused'))
    returning * into v_seat;
  exception when unique_violation then
    -- the same character joining another session at this very moment
    get stacked diagnostics v_constraint = constraint_name;
    if v_constraint = 'session_players_live_character_key' then
      perform seer_private.raise_error('SESSION_009');
    end if;
    raise;
  end;

  perform seer_private.write_event(v_s.id, 'player_joined', v_uid,
    seer_private.event_player_joined(seer_private.player_json(v_seat)));
  return jsonb_build_object('player', seer_private.player_json(v_seat),
                            'session', seer_private.session_json(v_s.id));
end
$$;

create function public.leave_session(p_session_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
  v_seat public.session_players%rowtype;
begin
  v_s := seer_private.lock_session(p_session_id);
  v_seat := seer_private.caller_seat(v_s, v_uid, 'SESSION_012');
  if v_s.status in ('completed', 'cancelled') then
    perform seer_private.raise_error('SESSION_010', 'the session has ended');
  end if;

  if v_s.status = 'waiting' then
    update public.session_players
    set status = 'left', left_at = now(), left_reason = 'left', last_activity_at = now()
    where id = v_seat.id;
    -- no longer a participant: later events go to a topic they cannot join
    perform seer_private.rotate_session_channel(v_s.id);
  elsif v_seat.status = 'inactive' and v_seat.left_reason = 'left' then
    -- Leaving again frees the seat and the character (for another session); the party goes
    -- on without it. (A first leave of a running game keeps it for the Seer to play.)
    update public.session_players
    set status = 'left', left_at = now(), session_running = false
    where id = v_seat.id;
    perform seer_private.rotate_session_channel(v_s.id);
  else
    -- In a running game the character stays in the party, played by the Seer.
    update public.session_players
    set status = 'inactive', inactive_at = now(), disconnected_at = coalesce(disconnected_at, now()),
        left_reason = 'left'
    where id = v_seat.id;
  end if;
  perform seer_private.write_event(v_s.id, 'player_left', v_uid,
    seer_private.event_player_left(v_seat, 'left', null));
  return jsonb_build_object('left', true);
end
$$;

create function public.kick_player(p_session_id uuid, p_player_id uuid, p_reason text default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_reason text := seer_private.clean_text(p_reason, 'reason', 500);
  v_s public.sessions%rowtype;
  v_seat public.session_players%rowtype;
begin
  if p_player_id is null then
    perform seer_private.raise_error('SESSION_000', 'playerId is required');
  end if;
  v_s := seer_private.lock_session(p_session_id);
  perform seer_private.require_seer(v_s, v_uid);
  if v_s.status in ('completed', 'cancelled') then
    perform seer_private.raise_error('SESSION_010', 'the session has ended');
  end if;
  select * into v_seat from public.session_players sp
  where sp.id = p_player_id and sp.session_id = v_s.id and sp.left_at is null
  for update;
  if not found then
    perform seer_private.raise_error('SESSION_000', 'playerId is not a seated player of this session');
  end if;
  update public.session_players
  set status = 'kicked', left_at = now(), left_reason = 'kicked', kick_reason = v_reason
  where id = v_seat.id;
  -- before the event: the kicked player's socket gets only the content-free rekey poke
  perform seer_private.rotate_session_channel(v_s.id);
  perform seer_private.write_event(v_s.id, 'player_left', v_uid,
    seer_private.event_player_left(v_seat, 'kicked', v_reason));
  return jsonb_build_object('kicked', true);
end
$$;

-- The Seer's "wait" answer to the kick-or-wait prompt: a seat that timed out (inactive) goes
-- back to disconnected, so the player's next heartbeat or join restores it within the usual
-- 5 minutes. (The "kick" answer is kick_player.)
create function public.readmit_player(p_session_id uuid, p_player_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
  v_seat public.session_players%rowtype;
begin
  if p_player_id is null then
    perform seer_private.raise_error('SESSION_000', 'playerId is required');
  end if;
  v_s := seer_private.lock_session(p_session_id);
  perform seer_private.require_seer(v_s, v_uid);
  if v_s.status not in ('active', 'paused') then
    perform seer_private.raise_error('SESSION_010', 'readmitting needs a running session');
  end if;
  update public.session_players sp
  set status = 'disconnected', disconnected_at = now(), inactive_at = null, left_reason = null
  where sp.id = p_player_id and sp.session_id = v_s.id and sp.left_at is null and sp.status = 'inactive'
  returning sp.* into v_seat;
  if not found then
    perform seer_private.raise_error('SESSION_000', 'playerId is not an inactive seat of this session');
  end if;
  perform seer_private.write_event(v_s.id, 'player_connection', v_uid,
    seer_private.event_player_connection(v_seat));
  return seer_private.player_json(v_seat);
end
$$;

create function public.start_session(p_session_id uuid)
returns jsonb
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
  return jsonb_build_object('session', seer_private.session_json(v_s.id), 'warnings', v_warnings);
end
$$;

create function public.pause_session(p_session_id uuid)
returns jsonb
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
returns jsonb
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
returns jsonb
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
  return jsonb_build_object('session', seer_private.session_json(v_s.id), 'stats', v_stats);
end
$$;

create function public.get_game_state(p_session_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
begin
  v_s := seer_private.read_session(p_session_id);
  perform seer_private.require_participant(v_s, v_uid);
  return seer_private.game_state_json(v_s);
end
$$;

-- The hottest write: every player, every 30 s. The common case, a connected seat, is one
-- UPDATE of its narrow seer_private.seat_liveness row, found by primary key: a HOT update (no
-- index holds the time), no write to the seat or the session, and no lock but that row's (a
-- lock on the session would write its row header and queue the heartbeats behind the Seer's
-- actions). The sweeper locks the due liveness rows and re-checks the time before it
-- disconnects a seat, so a heartbeat committed first keeps the seat connected; one that
-- waits behind the sweeper finds the row gone with the seat's `connected` state and takes
-- the slow path, which locks the session and restores the seat with its event. The fast
-- path holds a lock only when it updated a row, and takes none after it, so it cannot be
-- part of a deadlock (tests/reliability/test_races.py). The answer carries the session's
-- status and last allocated seq so a client can tell it missed a broadcast (contract.md).
create function public.heartbeat(p_session_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
  v_seat public.session_players%rowtype;
  v_player_id uuid;
  v_status text := 'connected';
  v_restored boolean := false;
  v_session_status text;
  v_last_seq bigint;
begin
  update seer_private.seat_liveness l set last_heartbeat_at = now()
  where l.session_id = p_session_id and l.user_id = v_uid
  returning l.player_id into v_player_id;
  if not found then
    v_s := seer_private.lock_session(p_session_id);
    if v_s.seer_id = v_uid then
      v_status := 'seer';
    else
      v_seat := seer_private.caller_seat(v_s, v_uid);
      if v_seat.left_reason = 'left' and v_s.status in ('active', 'paused') then
        -- the player left: this connection is done (the SDK stops on SESSION_006)
        perform seer_private.raise_error('SESSION_006', 'left');
      end if;
      -- (lobby seats are swept too: a disconnected lobby seat comes back the same way)
      if v_s.status in ('waiting', 'active', 'paused') and seer_private.may_restore_seat(v_seat, false) then
        perform seer_private.restore_seat(v_seat.id, v_uid, now());
        v_restored := true;
      elsif v_s.status not in ('completed', 'cancelled') then
        update public.session_players set last_activity_at = now() where id = v_seat.id;
      end if;
      select sp.id, sp.status into v_player_id, v_status from public.session_players sp where sp.id = v_seat.id;
    end if;
  end if;
  -- read after the seat write (a restore's event has bumped last_seq)
  select s.status, s.last_seq into v_session_status, v_last_seq from public.sessions s where s.id = p_session_id;
  return jsonb_build_object('sessionId', p_session_id, 'playerId', v_player_id, 'status', v_status,
                            'restored', v_restored, 'serverTime', now(),
                            'sessionStatus', v_session_status, 'lastSeq', v_last_seq);
end
$$;

create function public.session_events_since(
  p_session_id uuid, p_after_seq bigint, p_limit int default 500)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_limit int := coalesce(p_limit, 500);
begin
  perform seer_private.require_uid();
  -- the participant rule without reading the session row (see get_session)
  if not seer_private.is_session_participant(p_session_id) then
    perform seer_private.raise_error('SESSION_001');
  end if;
  if p_after_seq < 0 then
    perform seer_private.raise_error('SESSION_000', 'afterSeq must be >= 0');
  end if;
  if v_limit < 1 then
    perform seer_private.raise_error('SESSION_000', 'limit must be >= 1');
  end if;
  return coalesce((
    select jsonb_agg(e.payload order by e.seq)
    from (select ev.payload, ev.seq from public.session_events ev
          where ev.session_id = p_session_id and ev.seq > coalesce(p_after_seq, 0)
          order by ev.seq
          limit least(v_limit, 1000)) e), '[]'::jsonb);
end
$$;

create function public.submit_feedback(p_session_id uuid, p_rating int, p_comment text default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_comment text := seer_private.clean_text(p_comment, 'comment', 2000, p_multiline => true);
  v_s public.sessions%rowtype;
  v_seat public.session_players%rowtype;
  v_fb public.session_feedback%rowtype;
begin
  if p_rating is null or p_rating not between 1 and 5 then
    perform seer_private.raise_error('SESSION_000', 'rating must be between 1 and 5');
  end if;
  v_s := seer_private.read_session(p_session_id);
  v_seat := seer_private.caller_seat(v_s, v_uid);
  if v_s.status not in ('completed', 'cancelled') then
    perform seer_private.raise_error('SESSION_010', 'feedback opens when the session has ended');
  end if;
  insert into public.session_feedback (session_id, user_id, player_id, rating, comment)
  values (v_s.id, v_uid, v_seat.id, p_rating, v_comment)
  on conflict (session_id, user_id) do update
    set rating = excluded.rating, comment = excluded.comment, updated_at = now()
  returning * into v_fb;
  return jsonb_build_object('sessionId', v_fb.session_id, 'rating', v_fb.rating,
                            'comment', v_fb.comment, 'createdAt', v_fb.created_at);
end
$$;

-- The Seer reads the feedback players left on their session (players read their own via RLS).
create function public.list_feedback(p_session_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
begin
  v_s := seer_private.read_session(p_session_id);
  perform seer_private.require_seer(v_s, v_uid);
  return coalesce((
    select jsonb_agg(jsonb_build_object(
        'playerId', f.player_id, 'userId', f.user_id, 'displayName', pr.display_name,
        'characterName', c.name, 'rating', f.rating, 'comment', f.comment,
        'createdAt', f.created_at, 'updatedAt', f.updated_at)
      order by f.created_at, f.user_id)
    from public.session_feedback f
    left join public.profiles pr on pr.id = f.user_id
    left join public.session_players sp on sp.id = f.player_id
    left join public.characters c on c.id = sp.character_id
    where f.session_id = v_s.id), '[]'::jsonb);
end
$$;

-- Newest 200 sessions where the caller is the Seer or holds a live seat.
-- The filter `seer_id = me or exists (a live seat of mine)` cannot use an index (an OR across
-- two tables): written that way it scanned the whole sessions table, 230 ms per call at 200k
-- sessions and growing linearly (bench/scale.py, docs/performance.md). The two halves each
-- have an index, sessions_seer_idx (seer_id, created_at desc) and session_players_user_idx
-- (user_id), so each half takes its newest 200 from its own index and the newest 200 of their
-- union are returned: the same answer (the newest 200 of a union are among the newest 200 of
-- each part), in time that depends on the caller's own history, not on the table.
create function public.list_my_sessions(p_status text[] default null)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
begin
  if p_status is not null and exists (
      select 1 from unnest(p_status) x
      where x is null or x not in ('waiting', 'active', 'paused', 'completed', 'cancelled')) then
    perform seer_private.raise_error('SESSION_000', 'status must be a list of session statuses');
  end if;
  return coalesce((
    select jsonb_agg(jsonb_build_object(
        'id', s.id, 'code', s.code, 'status', s.status,
        'role', case when s.seer_id = v_uid then 'seer' else 'player' end,
        'adventureName', s.adventure_name, 'seerName', s.seer_name,
        'playerCount', seer_private.live_seat_count(s.id), 'maxPlayers', s.max_players,
        'createdAt', s.created_at, 'startedAt', s.started_at, 'endedAt', s.ended_at)
      order by s.created_at desc, s.id)
    from (select s0.* from public.sessions s0
          where s0.id in (
              (select s1.id from public.sessions s1
               where s1.seer_id = v_uid and (p_status is null or s1.status = any (p_status))
               order by s1.created_at desc, s1.id
               limit 200)
              union
              (select s2.id from public.session_players sp
               join public.sessions s2 on s2.id = sp.session_id
               where sp.user_id = v_uid and sp.left_at is null
                 and (p_status is null or s2.status = any (p_status))
               order by s2.created_at desc, s2.id
               limit 200))
          order by s0.created_at desc, s0.id
          limit 200) s), '[]'::jsonb);
end
$$;

create function public.create_character(p_name text, p_class text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_name text := seer_private.clean_text(p_name, 'name', 60, true);
  v_class text := seer_private.clean_text(p_class, 'class', 40, true);
  v_char public.characters%rowtype;
begin
  if (select count(*) from public.characters c where c.owner_id = v_uid) >= 100 then
    perform seer_private.raise_error('SESSION_000', 'at most 100 characters per user');
  end if;
  insert into public.characters (owner_id, name, class)
  values (v_uid, v_name, v_class)
  returning * into v_char;
  return seer_private.character_json(v_char);
end
$$;

create function public.list_my_characters()
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
begin
  return coalesce((
    select jsonb_agg(seer_private.character_json(c) || jsonb_build_object('activeSessionId', (
        select sp.session_id from public.session_players sp
        where sp.character_id = c.id and sp.left_at is null and not sp.session_ended),
        'items', coalesce((select jsonb_agg(ci.item order by ci.created_at, ci.id)
                           from public.character_items ci where ci.character_id = c.id), '[]'::jsonb))
      order by c.created_at, c.id)
    from public.characters c
    where c.owner_id = v_uid), '[]'::jsonb);
end
$$;

-- Privileges: internals are private; RPCs are for signed-in users (service_role for tools).
-- New seer_private functions are executable through PUBLIC only; revoking that leaves the RLS
-- helpers' direct grants to authenticated (20261125200300_rls) alone.
revoke execute on all functions in schema seer_private from public;

revoke execute on function
  public.create_session(uuid, jsonb, int), public.get_session(uuid),
  public.join_session(uuid, uuid), public.leave_session(uuid), public.kick_player(uuid, uuid, text),
  public.readmit_player(uuid, uuid),
  public.start_session(uuid), public.pause_session(uuid), public.resume_session(uuid),
  public.end_session(uuid, text, text), public.get_game_state(uuid), public.heartbeat(uuid),
  public.session_events_since(uuid, bigint, int), public.submit_feedback(uuid, int, text),
  public.list_my_sessions(text[]), public.create_character(text, text), public.list_my_characters(),
  public.list_feedback(uuid)
  from public, anon;
grant execute on function
  public.create_session(uuid, jsonb, int), public.get_session(uuid),
  public.join_session(uuid, uuid), public.leave_session(uuid), public.kick_player(uuid, uuid, text),
  public.readmit_player(uuid, uuid),
  public.start_session(uuid), public.pause_session(uuid), public.resume_session(uuid),
  public.end_session(uuid, text, text), public.get_game_state(uuid), public.heartbeat(uuid),
  public.session_events_since(uuid, bigint, int), public.submit_feedback(uuid, int, text),
  public.list_my_sessions(text[]), public.create_character(text, text), public.list_my_characters(),
  public.list_feedback(uuid)
  to authenticated, service_role;
