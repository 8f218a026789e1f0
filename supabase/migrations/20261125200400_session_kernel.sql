-- The session kernel: what the session RPCs and the later migrations call.
--
--   session channels and key rotation   session_channels, rotate_session_channel
--   JSON shapes (docs/contract.md)       character_json ... preview_json, turns_of_event, turn_history
--   event constructors                   event_<type>, one per event type
--   the event writer                     write_event_at, write_event, write_turn_event,
--                                        write_locked_turn_event
--   locks and roles                      lock_session, read_session, role_in, require_seer,
--                                        require_participant
--   the status transition table          status_transitions, assert_transition, change_status
--   the join-refusal table               join_refusals, join_refusal, refuse_join
--   seats                                caller_seat, may_restore_seat, restore_seat
--   ending a session                     finish_session
--
-- One migration per domain, and none reaches forward: a function may use only what its own
-- migration or an earlier one creates (Postgres does not check: a plpgsql body is parsed when
-- it first runs). tests/db/test_migration_order.py applies the migrations one at a time and
-- runs plpgsql_check on every function after each. The RPCs follow this migration by domain:
-- _session_lobby, _session_lifecycle, _session_presence_and_log, _players, _game_state_rpc,
-- _presence_and_sweeper (the sweeper), _realtime_authorization (the realtime.messages
-- policies and session_topic), then the later features.
--
-- Every state-changing RPC first locks the session row (`for update`, lock_session); that
-- single lock serialises seat counting (max players), status transitions and event seq
-- allocation. Errors go through seer_private.raise_error, so PostgREST answers with the PRD
-- status.
--
-- Where each function's current body lives ---------------------------------------------------
-- The release rule (docs/server.md): until the first release a fix is folded into the
-- migration that owns the function; after it, a changed function is replaced (`create or
-- replace`) in a new migration, and its name moves to that migration's line below.
-- Names without their schema (each is unique across public and seer_private);
-- tests/db/test_migration_order.py checks this list against the migrations.
--
--   20261125200000_private_schema_and_errors: anonymous_play_allowed, clean_text, join_code,
--     raise_error, rate_budget, record_rate_hit, require_account, require_rate_budget,
--     require_size, require_uid, spend_rate_budget, try_uuid, unsafe_text_chars
--   20261125200100_profiles_characters_adventures: handle_new_user
--   20261125200200_sessions_schema: check_session_rules, seat_has_liveness, sync_seat_liveness
--   20261125200300_rls: can_read_node, can_see_character, is_session_participant,
--     shares_session_with
--   20261125200400_session_kernel: assert_transition, caller_seat, change_status,
--     character_json, create_session_channel, event_game_state, event_node_change,
--     event_player_connection, event_player_inactive, event_player_joined, event_player_left,
--     event_readmit_requested, event_seer_connection, event_session_created,
--     event_session_ended, event_session_settings, event_session_status, finish_session,
--     game_state_json, join_refusal, live_seat_count, lock_session, may_restore_seat,
--     node_json, player_fields, player_json, preview_json, read_session, refuse_join,
--     request_readmit, require_event_room, require_participant, require_seer, restore_seat,
--     role_in, role_of, rotate_session_channel, session_event_limit, session_json, turn_history,
--     turn_json, turns_of_event, write_event, write_event_at, write_locked_turn_event,
--     write_turn_event, xp_per_minute, xp_session_max
--   20261125200410_session_lobby: create_session, generate_join_code, get_session,
--     join_session, kick_player, leave_session, list_my_sessions, readmit_player,
--     require_session_quota, update_session_settings, validate_settings
--   20261125200420_session_lifecycle: end_session, pause_session, resume_session, start_session
--   20261125200430_session_presence_and_log: heartbeat, heartbeat_answer, heartbeat_batch,
--     refresh_liveness, session_events_since
--   20261125200440_players: create_character, list_feedback, list_my_characters,
--     submit_feedback
--   20261125200500_game_state_rpc: get_game_state, inventory_item, is_int_between,
--     is_string_array, jtype, turn_entry, update_game_state
--   20261125200600_presence_and_sweeper: sweep, sweep_sessions
--   20261125200700_realtime_authorization: can_use_session_topic, session_topic
--   20261125230000_code_lookup_rate_limit: get_session_by_code, prune_rate_limit_hits
--   20261125230100_invite_preview: invite_preview
--   20261201110000_adventure_library: adventure_json, adventure_storage_quota,
--     adventure_storage_used, doc_int, import_adventure, list_adventures, publish_adventure
--   20261201110100_dice: character_seat, die_face, event_dice_rolled, list_dice_rolls, lock_game,
--     random_die, record_roll, roll_dice, roll_expression, roll_json
--   20261201110200_combat: close_combat, end_combat, event_combat_ended, event_combat_started,
--     event_combat_turn, next_turn, running_combat, side_roll, start_combat
--   20261201110300_player_actions: event_player_action, submit_action
--   20261201130000_account_deletion: anonymised_event, apply_account_deletion,
--     handle_user_deleted, handle_user_soft_deleted
--   20261201140000_event_log_retention: compact_event_logs, full_log_retention,
--     summary_event_types

-- Session channels and key rotation ----------------------------------------------------------
-- (the design: the _realtime_authorization migration and docs/security.md)

-- One row per session: its current channel key. In seer_private (no API role may read it);
-- the topic is derived here once, as a stored generated column, so every reader (the
-- policy, the topic RPC, the event writer, session_json) uses the same spelling.
-- `generation` counts rotations (0 for the first key): heartbeat and session_topic return it,
-- so a client that lost the rekey poke sees at its next heartbeat that its topic is stale
-- (the count says nothing about the key itself).
create table seer_private.session_channels (
  session_id uuid primary key references public.sessions (id) on delete cascade,
  channel_key text not null default encode(extensions.gen_random_bytes(16), 'hex'),
  generation bigint not null default 0,
  topic text generated always as ('session:' || session_id::text || ':' || channel_key) stored
);
alter table seer_private.session_channels enable row level security;
revoke all on seer_private.session_channels from public, anon, authenticated;

create function seer_private.create_session_channel()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into seer_private.session_channels (session_id) values (new.id);
  return null;
end
$$;

create trigger sessions_create_channel
  after insert on public.sessions
  for each row execute function seer_private.create_session_channel();

-- The one owner of key rotation; every path that removes a participant calls it (under the
-- session row lock its caller holds), BEFORE writing its own event, so that event already
-- goes to the new topic. The old topic gets one content-free poke {sessionId, seq, type:
-- 'rekey'} (seq: the last event sent there) telling the remaining clients to move. The poke
-- can be lost like any broadcast; the generation it bumps is what heartbeat reports, so a
-- client that missed it moves at its next heartbeat.
create function seer_private.rotate_session_channel(p_session_id uuid)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_old text;
begin
  select c.topic into v_old from seer_private.session_channels c where c.session_id = p_session_id for update;
  update seer_private.session_channels c
  set channel_key = encode(extensions.gen_random_bytes(16), 'hex'), generation = c.generation + 1
  where c.session_id = p_session_id;
  perform realtime.send(
    jsonb_build_object('sessionId', p_session_id, 'type', 'rekey',
                       'seq', (select s.last_seq from public.sessions s where s.id = p_session_id)),
    'rekey', v_old, true);
end
$$;

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

-- character_json and player_fields build `json` (text in key order), not `jsonb`: the players
-- go out in session_json's json_agg, which appends a json value's text as it is, where a
-- jsonb one is a tree built per seat and written out again (issue 24: a full lobby's
-- session_json at 0.89x the CPU). Callers that need jsonb operators cast (`::jsonb`).
create function seer_private.character_json(p_character public.characters)
returns json
language sql
stable
as $$
  select json_build_object(
    'id', (p_character).id, 'ownerId', (p_character).owner_id, 'name', (p_character).name,
    'class', (p_character).class, 'level', (p_character).level,
    'experience', (p_character).experience)
$$;

-- The one definition of the SessionPlayer shape, given the seat, its character (null row if
-- none), the player's display name and the last heartbeat of a connected seat (its row in
-- seer_private.seat_liveness, 20261125200200; null for a seat without one). The heartbeat is
-- an argument, not a sub-select here: a sub-select kept the planner from inlining this
-- function, so session_json ran it through the SQL-function executor once per seat (issue 24).
create function seer_private.player_fields(
  p_player public.session_players, p_character public.characters, p_display_name text,
  p_last_heartbeat_at timestamptz)
returns json
language sql
stable
as $$
  select json_build_object(
    'id', (p_player).id,
    'sessionId', (p_player).session_id,
    'userId', (p_player).user_id,
    'characterId', (p_player).character_id,
    'character', case when (p_character).id is null then null
                      else seer_private.character_json(p_character) end,
    'displayName', p_display_name,
    'joinedAt', (p_player).joined_at,
    -- a connected seat's last heartbeat is in its liveness row
    'lastActivityAt', coalesce(p_last_heartbeat_at, (p_player).last_activity_at),
    'leftAt', (p_player).left_at,
    'status', (p_player).status,
    'isConnected', (p_player).status = 'connected',
    'controlledBySeer', (p_player).status = 'inactive',
    'leftReason', (p_player).left_reason,
    'kickReason', (p_player).kick_reason,
    -- an inactive seat whose player is back and asks the Seer to let them in (issue 22)
    'readmitRequestedAt', (p_player).readmit_requested_at)
$$;

-- The turnHistory entries an event carries (issue 22's events, so a client folds the state
-- without reading it): `entry` of a roll, an action or a combat step, `turns` of a state patch
-- (a note and/or a move); null for any other event. The one reading of that rule.
-- Stable, not immutable, so that it inlines (the event writer measures every event with it):
-- jsonb_build_array is stable, and Postgres never inlines an immutable SQL function whose
-- body is not immutable; it ran through the SQL-function executor instead, parsed and planned
-- again in every transaction (issue 24).
create function seer_private.turns_of_event(p_type text, p_event jsonb)
returns jsonb
language sql
stable
as $$
  select case
    when p_type in ('dice_rolled', 'player_action', 'combat_started', 'combat_turn', 'combat_ended')
      then jsonb_build_array(p_event -> 'entry')
    when p_type = 'game_state' and jsonb_array_length(coalesce(p_event -> 'turns', '[]'::jsonb)) > 0
      then p_event -> 'turns'
  end
$$;

-- The stored JSON text of an event's entries (session_events.turn_json), given turns_of_event's
-- array: the entry itself when there is one, the array when there are several, null for none.
-- Inlines (no SET clause, stable like its body).
create function seer_private.turn_json(p_turns jsonb)
returns json
language sql
stable
as $$
  select case when jsonb_array_length(p_turns) = 1 then (p_turns -> 0)::json else p_turns::json end
$$;

-- A live session's turnHistory, derived from its event log: every turn-making event carries
-- its entries (turns_of_event above), so a roll, an action or a combat step appends one event
-- row and no longer rewrites the whole game state (up to 128 KiB) on the session row (issue
-- 24: roll_dice fell from 1,490 to 947 tps as the histories filled).
-- The newest turns only: at most 100 (the newest 100 turn events, from the partial index
-- session_events_turn_idx read backwards, then their newest 100 entries) and at most 128 KiB
-- of JSON together, newest first: each event's entries' text length is stored with it
-- (turn_bytes), so the bound is a running sum over at most 100 integers instead of serializing
-- the entries on every read. An event's entries are kept or dropped together, each counted
-- with its separator, so the array's text never passes 128 KiB. (Account deletion later
-- shortens an entry, `actorId` null: the stored length then bounds it from above.)
-- `json`, built from the entries' stored texts (session_events.turn_json): json_agg appends
-- each text as it is, so nothing is extracted from the payloads, built as jsonb and
-- serialized again (issue 24: 0.3-0.6 ms of every update_game_state reply with a full
-- history; docs/performance.md section 9). The common case is one pass over the newest 100
-- turn events: when none carries several entries and together they stay within 128 KiB, the
-- rule keeps every entry of every one of them, in seq order, which is json_agg of the column.
-- Otherwise the rule in full (the window's running sum, a patch's entries unnested, the
-- 100-entry cut), about twice the work.
-- enable_bitmapscan off: the newest 100 must be read backwards along the index and stop there.
-- The planner estimates a session's turn events as the table's average per session; when
-- that is below 100 (most sessions are short), LIMIT 100 saves nothing on paper, and a bitmap
-- scan of every turn event of the session plus a sort costs less than the ordered index scan.
-- plpgsql's cached generic plan then reads a long game's whole history on every call: 2,730
-- rows and 0.9-1.9 ms instead of 100 rows and 0.1-0.2 ms (issue 24, docs/performance.md
-- section 9). Without a bitmap path, the index scan is the only plan that keeps the order.
create function seer_private.turn_history(p_session_id uuid)
returns json
language plpgsql
stable
set search_path = ''
set enable_bitmapscan = off
as $$
declare
  v_bytes bigint;
  v_several bigint;
  v_turns json;
begin
  select sum(e.turn_bytes + 2), count(*) filter (where e.type = 'game_state' and json_typeof(e.turn_json) = 'array'),
         json_agg(e.turn_json order by e.seq)
    into v_bytes, v_several, v_turns
  from (select ev.seq, ev.type, ev.turn_json, ev.turn_bytes from public.session_events ev
        where ev.session_id = p_session_id and ev.turn_bytes is not null
        order by ev.seq desc
        limit 100) e;
  if v_bytes is null then
    return '[]'::json;
  elsif v_bytes <= 131072 and v_several = 0 then
    return v_turns;
  end if;
  -- turns_of_event's rule, unrolled so that the common event (one entry) is not wrapped in an
  -- array and unnested again: 2.4x faster in one backend for 100 rolls (docs/performance.md)
  return (
    with n as (
      select e.seq, e.type, e.turn_json, sum(e.turn_bytes + 2) over (order by e.seq desc) as bytes
      from (select ev.seq, ev.type, ev.turn_json, ev.turn_bytes from public.session_events ev
            where ev.session_id = p_session_id and ev.turn_bytes is not null
            order by ev.seq desc
            limit 100) e)
    select coalesce(json_agg(z.turn order by z.seq, z.o), '[]'::json)
    from (select k.seq, k.o, k.turn
          from (select n.seq, 1::bigint as o, n.turn_json as turn from n
                where not (n.type = 'game_state' and json_typeof(n.turn_json) = 'array') and n.bytes <= 131072
                union all
                select n.seq, t.o, t.turn from n
                cross join lateral json_array_elements(n.turn_json) with ordinality t(turn, o)
                where n.type = 'game_state' and json_typeof(n.turn_json) = 'array' and n.bytes <= 131072) k
          order by k.seq desc, k.o desc
          limit 100) z);
end
$$;

-- `json`: the reply of update_game_state and get_game_state as is (PostgREST sends a scalar
-- result's text: `json_agg(pgrst_scalar)->0`, SqlFragment.hs asJsonSingleF), so the derived
-- turnHistory is never parsed or serialized again; session_json and the combat RPCs take it
-- as jsonb (one parse, cheaper than the jsonb_agg it replaced).
--
-- p_turn_history false: turnHistory is null, not read (update_game_state's p_turn_history: a
-- client that folds the events, as the SDK's SessionConnection does, already has it; reading
-- and sending the newest 100 turns, ~31 KB, was 21-35% of update_game_state's CPU per call at
-- saturation, issue 24, docs/performance.md section 9).
create function seer_private.game_state_json(p_session public.sessions, p_turn_history boolean default true)
returns json
language sql
stable
as $$
  select json_build_object(
    'inventory', coalesce((p_session).game_state -> 'inventory', '[]'::jsonb),
    'variables', coalesce((p_session).game_state -> 'variables', '{}'::jsonb),
    'flags', coalesce((p_session).game_state -> 'flags', '[]'::jsonb),
    -- derived from the event log while the session lives (turn_history above); an ended
    -- session's compacted log keeps it in game_state (compact_event_logs, 20261201140000)
    'turnHistory', case when p_turn_history
                        then coalesce(((p_session).game_state -> 'turnHistory')::json,
                                      seer_private.turn_history((p_session).id)) end,
    'combatState', (p_session).game_state -> 'combatState',
    'version', (p_session).state_version,
    'currentNodeId', (p_session).current_node_id,
    'visitedNodeIds', to_json((p_session).visited_node_ids))
$$;

-- Table readers: plpgsql, so their plans are cached.

create function seer_private.player_json(p_player public.session_players)
returns json
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
  return seer_private.player_fields(p_player, v_char, v_name,
    (select l.last_heartbeat_at from seer_private.seat_liveness l where l.player_id = p_player.id));
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

-- The players come from one join, not from a player_json call per seat, and player_fields
-- inlines into it (the liveness row is part of the join).
-- `json`, not jsonb (issue 24): a Session goes out as text (get_session, join_session and the
-- lobby and lifecycle RPCs return it, in json_build_object where it is part of an answer), so
-- json_build_object writes each part's text once; as jsonb every nested value (the players,
-- the game state with its up to 100-entry turnHistory) was copied into a new jsonb tree at
-- each level and serialized again on output. The same JSON for every reader: PostgREST and
-- the devstack send json and jsonb results alike as their text (see session_events_since);
-- SQL callers cast it (`::jsonb`) to use jsonb operators. Key order differs (json keeps
-- this order, jsonb sorts), which JSON does not define.
create function seer_private.session_json(p_session_id uuid)
returns json
language plpgsql
stable
set search_path = ''
as $$
begin
  return (
    select json_build_object(
      'id', s.id,
      'code', s.code,
      'seerId', s.seer_id,
      'seerName', s.seer_name,
      'adventureId', s.adventure_id,
      'adventureName', s.adventure_name,
      'adventureDescription', a.description,
      'status', s.status,
      'players', coalesce((
        select json_agg(seer_private.player_fields(sp, c, pr.display_name, l.last_heartbeat_at)
                        order by sp.joined_at, sp.id)
        from public.session_players sp
        left join public.characters c on c.id = sp.character_id
        left join public.profiles pr on pr.id = sp.user_id
        left join seer_private.seat_liveness l on l.player_id = sp.id
        where sp.session_id = s.id and sp.left_at is null), '[]'::json),
      'maxPlayers', s.max_players,
      'minPlayers', s.min_players,
      'recommendedMinPlayers', a.recommended_min_players,
      'recommendedMaxPlayers', a.recommended_max_players,
      'currentNodeId', s.current_node_id,
      -- no nested call for a lobby (no node yet)
      'currentNode', case when s.current_node_id is not null then seer_private.node_json(s.current_node_id) end,
      'visitedNodeIds', to_json(s.visited_node_ids),
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
      -- the Seer's connection as the server sees it (seer_liveness; no row: connected)
      'seerConnected', coalesce((select l.connected from seer_private.seer_liveness l
                                 where l.session_id = s.id), true),
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

-- p_changes: the applied patch (addInventory holds the items as stored, normalised);
-- p_version: the state version it produced; p_turns: the turnHistory entries it appended
-- (a `note`, a `move`), so a client folds the state from events alone (issue 22).
create function seer_private.event_game_state(p_changes jsonb, p_version int, p_turns jsonb)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object('changes', p_changes, 'version', p_version, 'turns', p_turns)
$$;

-- The Seer's connection changed (heartbeat after a silence, or the sweeper's 60 s timeout).
create function seer_private.event_seer_connection(p_seer_id uuid, p_connected boolean, p_disconnected_at timestamptz)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object('seerId', p_seer_id, 'isConnected', p_connected,
                            'disconnectedAt', p_disconnected_at)
$$;

-- An inactive seat's player is back and asks to be let in: the Seer's prompt (readmit_player
-- or kick_player answers it).
create function seer_private.event_readmit_requested(p_seat public.session_players, p_character_name text)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'playerId', (p_seat).id, 'userId', (p_seat).user_id, 'characterId', (p_seat).character_id,
    'characterName', p_character_name)
$$;

-- The Seer changed the session's settings (update_session_settings): the whole new settings.
create function seer_private.event_session_settings(p_settings jsonb, p_max_players int)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object('settings', p_settings, 'maxPlayers', p_max_players)
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

-- The event writer ---------------------------------------------------------------------------

-- The one writer of events: stores the event and announces it in the same transaction, so a
-- rolled-back change is never announced and every announcement has its row. The broadcast is
-- the whole event, on the session's current keyed topic `session:<id>:<key>` (session_channels
-- above; the design: the _realtime_authorization migration): Realtime never evicts an
-- open socket when a policy changes (it re-checks only at join and on an access_token push),
-- so every removal rotates the key first and a removed player's socket hears nothing more
-- than one content-free rekey poke (docs/security.md).
-- A turn-making event's entries (turns_of_event) are measured once here (turn_bytes), for
-- turn_history's bound, and stored as JSON text (turn_json) for turn_history's aggregate.
--
-- The seq: p_seq when the caller allocated it (update_game_state allocates its seqs in its
-- own state UPDATE, one row version instead of two, see the _game_state_rpc migration; a
-- turn RPC's lock allocates its one event's seq and version, lock_session's p_turn, and
-- write_locked_turn_event below passes them); without it (write_event, write_turn_event below) the
-- writer advances last_seq of the (already locked) session row itself. A turn (p_turn: a
-- roll, an action, a combat step) also counts a state version in that UPDATE, and the
-- event's `version` is that version (issue 22: a client folds the state without reading it;
-- the constructor's own p_version is then null), optionally replacing combatState
-- (p_set_combat) and adding to the dice / combat counters. Without a combat change the
-- UPDATE leaves game_state alone, so a roll or an action does not copy the whole state: the
-- row's TOASTed state is kept by reference and the update can be HOT (issue 24:
-- turnHistory, up to 128 KiB, is derived from the events).
--
-- Issue 24, the per-event cost: the event row (with its size check) is one statement, the
-- broadcast a second one: at a realistic load each SPI statement and nested plpgsql call
-- costs about 3x its saturated time, and a roll used to take six of them here (record_turn's
-- call and UPDATE, require_size, the event insert, the broadcast). The hot events come with
-- their seq (update_game_state's state UPDATE, the turn RPCs' lock), so for them that is all;
-- the UPDATE is a statement of its own, run only without p_seq (it was a data-modifying CTE
-- of the insert, whose UPDATE node opened the session row and its indexes in every call,
-- also when it updated nothing).
-- The UPDATE stays outside the broadcast's exception block on purpose: a row locked FOR UPDATE
-- by the transaction and updated inside a subtransaction gets a MultiXact as its xmax (so
-- the lock survives a rollback of the subtransaction), one per event.
--
-- The broadcast is the row realtime.send(event, type, topic, true) writes, inserted here
-- directly (issue 24: send was 0.11-0.15 ms of update_game_state's 0.46-0.58 ms). What send
-- does (supabase/realtime, lib/realtime/tenants/repo/migrations/20260605120000_rename_
-- broadcast_send_warning.ex), and what this keeps:
--   * a new uuid, used as the row id and added to the payload as `id` unless the payload
--     has one (the frame's meta.id and payload.id): kept, same columns (id, payload, event,
--     topic, private, extension 'broadcast'; inserted_at by default). Realtime's replication
--     reads exactly id, topic, event, private, payload and inserted_at from the row
--     (replication_connection.ex, handle_message Insert);
--   * any error while inserting becomes a WARNING and the caller's change still commits
--     (the event log is the truth; clients catch up with session_events_since): kept, the
--     same exception block and message;
--   * `SET LOCAL realtime.topic` through EXECUTE before the insert: dropped. It exists for
--     INSERT policies on realtime.messages that read realtime.topic(); this insert runs as
--     the RPC's owner (postgres, as send did: send is not security definer), which no such
--     policy applies to, and the GUC would otherwise stay set for the rest of the transaction.
create function seer_private.write_event_at(
  p_session_id uuid, p_seq bigint, p_type text, p_actor uuid, p_fields jsonb,
  p_at timestamptz default now(), p_turn boolean default false, p_combat jsonb default null,
  p_set_combat boolean default false, p_dice int default 0, p_combats int default 0,
  p_version int default null)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_event jsonb;
  v_id uuid := gen_random_uuid();
  v_seq bigint := p_seq;
  v_version int := p_version;
begin
  if p_seq is null then
    update public.sessions s
    set last_seq = s.last_seq + 1,
        state_version = s.state_version + case when p_turn then 1 else 0 end,
        game_state = case when p_set_combat
                          then jsonb_set(s.game_state, '{combatState}', coalesce(p_combat, 'null'::jsonb))
                          else s.game_state end,
        dice_rolled = s.dice_rolled + p_dice,
        combats_completed = s.combats_completed + p_combats
    where s.id = p_session_id
    returning s.last_seq, s.state_version into v_seq, v_version;
    if not found then
      raise exception 'write_event: session % does not exist', p_session_id;
    end if;
  end if;
  with ev as (
    select coalesce(p_fields, '{}'::jsonb)
             || jsonb_build_object('seq', v_seq, 'type', p_type, 'sessionId', p_session_id,
                                   'timestamp', p_at, 'actor', p_actor)
             || case when p_turn then jsonb_build_object('version', v_version) else '{}'::jsonb end
             as event),
  ins as (
    insert into public.session_events (session_id, seq, type, payload, actor, created_at, turn_bytes, turn_json)
    select p_session_id, v_seq, p_type, ev.event, p_actor, p_at, octet_length(t.turns::text),
           seer_private.turn_json(t.turns)
    from ev cross join lateral (select seer_private.turns_of_event(p_type, ev.event) as turns) t)
  -- every event is broadcast and replayed whole: 128 KiB at most (docs/contract.md "Limits"),
  -- checked in this statement (an error undoes its writes)
  select seer_private.require_size(ev.event, 'the event', 131072) into v_event from ev;
  begin
    -- the topic read here, in a statement after the UPDATE: a writer that waited for the
    -- session row lock sees a key rotated meanwhile (docs/security.md)
    insert into realtime.messages (id, payload, event, topic, private, extension)
    select v_id, case when v_event ? 'id' then v_event else v_event || jsonb_build_object('id', v_id) end,
           p_type, c.topic, true, 'broadcast'
    from seer_private.session_channels c where c.session_id = p_session_id;
  exception
    when others then
      raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
  end;
  return v_event;
end
$$;

-- An event with the next seq of the (already locked) session row. A plain SQL wrapper (no SET
-- clause, it only calls the writer), so a call inlines into the writer's call.
create function seer_private.write_event(
  p_session_id uuid, p_type text, p_actor uuid, p_fields jsonb, p_at timestamptz default now())
returns jsonb
language sql
volatile
as $$
  select seer_private.write_event_at(p_session_id, null, p_type, p_actor, p_fields, p_at)
$$;

-- For the game RPCs (dice, combat, actions): a turn's event, with the next seq and the state
-- version the turn produced (its `version`), in the one UPDATE of the locked session row they
-- need (optionally replacing combatState, adding to the dice / combat counters). Returns the
-- event. Inlines like write_event.
create function seer_private.write_turn_event(
  p_session_id uuid, p_type text, p_actor uuid, p_fields jsonb, p_combat jsonb default null,
  p_set_combat boolean default false, p_dice int default 0, p_combats int default 0)
returns jsonb
language sql
volatile
as $$
  select seer_private.write_event_at(p_session_id, null, p_type, p_actor, p_fields, now(), true,
                                     p_combat, p_set_combat, p_dice, p_combats)
$$;

-- A turn's event whose seq and state version the caller's lock allocated (lock_game's p_turn:
-- roll_dice, submit_action): they are the locked row's last_seq and state_version, read here
-- once. Returns the event. Inlines like write_event.
create function seer_private.write_locked_turn_event(
  p_session public.sessions, p_type text, p_actor uuid, p_fields jsonb)
returns jsonb
language sql
volatile
as $$
  select seer_private.write_event_at((p_session).id, (p_session).last_seq, p_type, p_actor, p_fields,
                                     now(), true, p_version => (p_session).state_version)
$$;

-- The per-session event cap: a session holds at most 10,000 events (last_seq). Past it, the
-- writes players and the Seer trigger in play (rolls, actions, combat, update_game_state:
-- lock_game and update_game_state call require_event_room) are refused with SESSION_029
-- (422), never dropped silently; the writes that end or leave a session (status, session_ended,
-- leave, kick, the sweeper) always pass, so a full session can still be ended. Issue 20: one
-- player's flood reached every party member; the per-player rate limits bound its speed, this
-- bounds its size (a realistic 4-hour game writes a few thousand events).
create function seer_private.session_event_limit()
returns bigint
language sql
immutable
set search_path = ''
as $$ select 10000::bigint $$;

-- p_taken: seqs the caller's lock already allocated (lock_session's p_turn: the row's last_seq is
-- then the caller's own event), so the rule reads the count before them.
create function seer_private.require_event_room(p_session public.sessions, p_taken int default 0)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if (p_session).last_seq - p_taken >= seer_private.session_event_limit() then
    perform seer_private.raise_error('SESSION_029',
      'at most ' || seer_private.session_event_limit() || ' events per session');
  end if;
end
$$;

-- Locks and roles ----------------------------------------------------------------------------

-- p_take_seq: the lock is the seq allocation. One UPDATE locks the row and advances last_seq for
-- the caller's one event (issue 24: join_session; the returned row's last_seq is that seq)
-- instead of a SELECT ... FOR UPDATE (a statement and a row-lock WAL record) followed by the
-- writer's UPDATE of the same row. p_turn: that event is a turn (roll_dice, submit_action, via
-- lock_game): the UPDATE also counts the state version it produces (the returned
-- state_version) and p_dice dice rolled; the caller passes both to write_event_at (p_seq,
-- p_version). A refusal after the lock raises, which undoes the allocation with the rest.
-- The writer's own UPDATE (write_event_at without p_seq) allocates every further event.
create function seer_private.lock_session(
  p_session_id uuid, p_take_seq boolean default false, p_turn boolean default false, p_dice int default 0)
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
  if p_take_seq or p_turn then
    update public.sessions s
    set last_seq = s.last_seq + 1,
        state_version = s.state_version + case when p_turn then 1 else 0 end,
        dice_rolled = s.dice_rolled + p_dice
    where s.id = p_session_id
    returning s.* into v_s;
  else
    select * into v_s from public.sessions s where s.id = p_session_id for update;
  end if;
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

-- The role names from what a session's seats say about a user: p_is_seer (the session's
-- seer_id is theirs), p_live (bool_or(left_at is null) over their seats: true a live seat,
-- false only released ones, null none). The one mapping; role_in and join_refusal read the
-- seats their own way. No SET clause: inlined into its callers (it only reads its arguments).
create function seer_private.role_of(p_is_seer boolean, p_live boolean)
returns text
language sql
immutable
as $$
  select case when p_is_seer then 'seer' when p_live then 'player'
              when p_live is not null then 'former' else 'stranger' end
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
  return seer_private.role_of(false, v_live);
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

-- Status transitions -------------------------------------------------------------------------

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

-- Join refusals ------------------------------------------------------------------------------

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

-- One read of the session's seats answers the caller's role (role_in's probe), whether they
-- were kicked and the live seat count (live_seat_count): one statement instead of three nested
-- calls and a sub-select (issue 24; join_session runs it under its lock).
create function seer_private.join_refusal(p_session public.sessions, p_uid uuid)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
  v_live boolean;
  v_kicked boolean;
  v_seats int;
  v_role text;
begin
  select bool_or(sp.left_at is null) filter (where sp.user_id = p_uid),
         bool_or(sp.status = 'kicked') filter (where sp.user_id = p_uid),
         count(*) filter (where sp.left_at is null)
  into v_live, v_kicked, v_seats
  from public.session_players sp
  where sp.session_id = (p_session).id;
  v_role := seer_private.role_of((p_session).seer_id = p_uid, v_live);
  return case
    when v_role = 'seer' then 'seer'
    when v_role = 'former' and v_kicked then 'kicked'
    when v_role = 'player' then 'seated'
    when (p_session).status in ('completed', 'cancelled') then 'ended'
    when (p_session).status = 'paused'
      or ((p_session).status = 'active'
          and not coalesce(((p_session).settings ->> 'allowLateJoin')::boolean, false))
      then 'started'
    when v_seats >= (p_session).max_players then 'full'
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

-- Seats ------------------------------------------------------------------------------------

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
-- (no SET clause: inlined into its callers, like the pure builders above)
create function seer_private.may_restore_seat(p_seat public.session_players, p_explicit boolean)
returns boolean
language sql
stable
as $$
  select case
    when (p_seat).status = 'disconnected' then true
    when (p_seat).status = 'inactive' and (p_seat).left_reason = 'left' then
      p_explicit and (p_seat).inactive_at > now() - interval '5 minutes'
    else false
  end
$$;

-- Brings a disconnected/inactive seat back; caller holds the session lock. p_seq: the
-- player_connection event's seq when the caller already allocated it with its lock
-- (join_session, issue 24); null: allocated here (write_event).
create function seer_private.restore_seat(
  p_player_id uuid, p_actor uuid, p_at timestamptz, p_seq bigint default null)
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
      readmit_requested_at = null, last_activity_at = p_at
  where id = p_player_id
  returning * into v_p;
  if p_seq is null then
    perform seer_private.write_event(v_p.session_id, 'player_connection', p_actor,
      seer_private.event_player_connection(v_p), p_at);
  else
    perform seer_private.write_event_at(v_p.session_id, p_seq, 'player_connection', p_actor,
      seer_private.event_player_connection(v_p), p_at);
  end if;
end
$$;

-- Coming back after the window (issue 22): a seat the sweeper made inactive (or left more than
-- 5 minutes ago) is not restored by its player; the Seer decides. The player's heartbeat and
-- join_session answer `readmit: 'requested'` and the Seer gets one readmit_requested event
-- (the dashboard's "let them back in or kick" prompt) until the seat is readmitted, restored
-- or released. The caller holds the session lock; returns whether the event was written.
create function seer_private.request_readmit(p_seat public.session_players)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_p public.session_players%rowtype;
begin
  update public.session_players
  set readmit_requested_at = now()
  where id = (p_seat).id and status = 'inactive' and readmit_requested_at is null
  returning * into v_p;
  if not found then
    return false;  -- asked already: the Seer has the prompt
  end if;
  perform seer_private.write_event(v_p.session_id, 'readmit_requested', v_p.user_id,
    seer_private.event_readmit_requested(v_p,
      (select c.name from public.characters c where c.id = v_p.character_id)));
  return true;
end
$$;

-- Ending a session ---------------------------------------------------------------------------

-- The XP bounds of one session (docs/server.md "Experience"): at most 200 XP per full minute
-- of unpaused play and at most 10,000 XP per session, whatever the adventure says. An author
-- writes xp_reward (up to 10,000 per node), so the adventure alone is no bound: issue 20
-- farmed 5,000,000 XP in 9.6 s with a self-written 500-node adventure and a second account.
-- A character sits in one live session at a time (SESSION_009), so no number of accounts or
-- sessions earns a character more than 200 XP per minute of wall-clock time.
create function seer_private.xp_per_minute()
returns int
language sql
immutable
set search_path = ''
as $$ select 200 $$;

create function seer_private.xp_session_max()
returns int
language sql
immutable
set search_path = ''
as $$ select 10000 $$;

-- Ends a locked session (its transition is checked by change_status): stats, experience, events.
-- XP rule: on `completed` every character seated at the end (left_at null, including
-- inactive seats) earns the same amount = sum of xp_reward over the distinct visited nodes
-- of the adventure + 25 per ended combat (end_combat), at most the session's ceiling: the
-- xp_reward of every node of the adventure + 25 per combat node (at least one), so no
-- number of combats can farm more than the adventure holds; and at most xp_per_minute() per
-- full unpaused minute (durationMinutes) and xp_session_max() in all, so no adventure can
-- farm more than real play earns. Experience stops at the int maximum (2,147,483,647)
-- instead of failing: ending a session never fails because of a character's numbers.
-- level = max(level, 1 + experience / 1000). `cancelled` earns nothing. Also on
-- `completed`: inventory items with assignedTo a character seated at the end become that
-- character's items.
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
  -- bigint while adding up: only the bounded result has to fit an int
  v_xp := case when p_outcome = 'completed' then least(
      coalesce((select sum(n.xp_reward) from public.adventure_nodes n
                where n.adventure_id = v_s.adventure_id and n.id = any (v_s.visited_node_ids)), 0)::bigint
        + 25 * v_s.combats_completed::bigint,
      (select coalesce(sum(n.xp_reward), 0)::bigint
              + 25 * greatest(1, count(*) filter (where n.node_type = 'combat'))::bigint
       from public.adventure_nodes n where n.adventure_id = v_s.adventure_id),
      seer_private.xp_per_minute()::bigint * v_duration,
      seer_private.xp_session_max())
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
    set experience = least(c.experience::bigint + v_xp, 2147483647),
        level = greatest(c.level, 1 + least(c.experience::bigint + v_xp, 2147483647)::int / 1000),
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
  -- the Seer's liveness is swept only while the session lives
  delete from seer_private.seer_liveness l where l.session_id = p_session_id;

  perform seer_private.write_event(p_session_id, 'session_ended', p_actor,
    seer_private.event_session_ended(p_outcome, v_stats, p_notes), p_at);
  return v_stats;
end
$$;

-- New seer_private functions are executable through PUBLIC only; revoking that keeps the
-- internals private and leaves the RLS helpers' direct grants to authenticated
-- (20261125200300_rls) alone.
revoke execute on all functions in schema seer_private from public;
