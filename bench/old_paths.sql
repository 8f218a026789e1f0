-- Today's code paths before issue 24, for the same-run A/Bs of bench/paths_ab.py and the
-- cost model: each function's source as main had it at f971bfa (after issues 20 and 22), copied
-- verbatim from its migration but for the schema: bench_pre24, and the calls among the copies
-- point at the copies. The event writer calling realtime.send; update_game_state,
-- record_turn, roll_dice and submit_action writing turnHistory into the game state on every
-- turn; session_json with a non-inlinable player_fields per seat; the participant check and
-- the text cleaner's character class as sql functions with a SET clause (re-planned in every
-- transaction); the heartbeat committing synchronously; join_session and get_session and
-- session_events_since on those helpers. Created in the throw-away bench cluster only.
-- the copies call each other; their bodies are checked when they run
set check_function_bodies = off;
create schema if not exists bench_pre24;
grant usage on schema bench_pre24 to authenticated;

-- 20261125200000_private_schema_and_errors.sql: seer_private.rate_limit_hits and the limiter
-- (require_rate_budget, record_rate_hit, spend_rate_budget) before issue 24's one-statement
-- limiter: the hits table with its foreign key to rate_limits, the two nested calls
create table if not exists bench_pre24.rate_limit_hits (
  bucket text not null references seer_private.rate_limits (bucket),
  subject text not null check (length(subject) <= 100),
  hit_at timestamptz not null default clock_timestamp()
);
create index if not exists rate_limit_hits_subject_idx on bench_pre24.rate_limit_hits (bucket, subject, hit_at);

create or replace function bench_pre24.require_rate_budget(p_bucket text, p_subject text)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_limit seer_private.rate_limits%rowtype;
  v_count int;
  v_free_at timestamptz;
begin
  select * into strict v_limit from seer_private.rate_limits l where l.bucket = p_bucket;
  perform pg_advisory_xact_lock(hashtextextended('seer.rate:' || p_bucket || ':' || p_subject, 0));
  select count(*) into v_count from bench_pre24.rate_limit_hits h
  where h.bucket = p_bucket and h.subject = p_subject and h.hit_at > clock_timestamp() - v_limit.per;
  if v_count >= v_limit.max_hits then
    -- free again when the hit that makes the count too high leaves the window
    select h.hit_at + v_limit.per into v_free_at from bench_pre24.rate_limit_hits h
    where h.bucket = p_bucket and h.subject = p_subject and h.hit_at > clock_timestamp() - v_limit.per
    order by h.hit_at offset v_count - v_limit.max_hits limit 1;
    perform seer_private.raise_error(v_limit.error_code,
      'at most ' || v_limit.max_hits || ' ' || v_limit.what || ' per ' || v_limit.per::text,
      p_retry_after => greatest(1, ceil(extract(epoch from v_free_at - clock_timestamp())))::int);
  end if;
end
$$;

create or replace function bench_pre24.record_rate_hit(p_bucket text, p_subject text)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  delete from bench_pre24.rate_limit_hits h
  where h.bucket = p_bucket and h.subject = p_subject
    and h.hit_at <= clock_timestamp() - (select l.per from seer_private.rate_limits l where l.bucket = p_bucket);
  insert into bench_pre24.rate_limit_hits (bucket, subject) values (p_bucket, p_subject);
end
$$;

create or replace function bench_pre24.spend_rate_budget(p_bucket text, p_uid uuid)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  perform bench_pre24.require_rate_budget(p_bucket, 'user:' || p_uid::text);
  perform bench_pre24.record_rate_hit(p_bucket, 'user:' || p_uid::text);
end
$$;

-- 20261125200000_private_schema_and_errors.sql: seer_private.unsafe_text_chars
create or replace function bench_pre24.unsafe_text_chars(p_multiline boolean)
returns text
language sql
immutable
set search_path = ''
as $$
  select case when p_multiline
    then '[\x01-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufff9-\ufffb]'
    else '[\x01-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufff9-\ufffb]' end
$$;

-- 20261125200000_private_schema_and_errors.sql: seer_private.clean_text
create or replace function bench_pre24.clean_text(
  p_value text, p_field text, p_max int, p_required boolean default false,
  p_multiline boolean default false)
returns text
language plpgsql
immutable
set search_path = ''
as $$
declare
  v text := nullif(regexp_replace(p_value,
    '^[\s\u200b-\u200d\u2060\ufeff\u00ad\u3000]+|[\s\u200b-\u200d\u2060\ufeff\u00ad\u3000]+$', '', 'g'), '');
begin
  if v is null then
    if p_required then
      perform seer_private.raise_error('SESSION_000', p_field || ' is required');
    end if;
    return null;
  end if;
  if length(v) > p_max then
    perform seer_private.raise_error('SESSION_000', p_field || ' is longer than ' || p_max || ' characters');
  end if;
  if v ~ bench_pre24.unsafe_text_chars(p_multiline) then
    perform seer_private.raise_error('SESSION_000',
      p_field || ' contains control, bidi or escape characters');
  end if;
  return v;
end
$$;

-- 20261125200300_rls.sql: seer_private.is_session_participant
create or replace function bench_pre24.is_session_participant(p_session_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
      select 1 from public.sessions s
      where s.id = p_session_id and s.seer_id = auth.uid())
    or exists (
      select 1 from public.session_players sp
      where sp.session_id = p_session_id and sp.user_id = auth.uid() and sp.left_at is null)
$$;

-- 20261125200400_session_kernel.sql: seer_private.character_json (jsonb before issue 24)
create or replace function bench_pre24.character_json(p_character public.characters)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'id', (p_character).id, 'ownerId', (p_character).owner_id, 'name', (p_character).name,
    'class', (p_character).class, 'level', (p_character).level,
    'experience', (p_character).experience)
$$;

-- 20261125200400_session_kernel.sql: seer_private.player_fields
create or replace function bench_pre24.player_fields(
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
                      else bench_pre24.character_json(p_character) end,
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
    'kickReason', (p_player).kick_reason,
    -- an inactive seat whose player is back and asks the Seer to let them in (issue 22)
    'readmitRequestedAt', (p_player).readmit_requested_at)
$$;

-- 20261125200400_session_kernel.sql: seer_private.game_state_json
create or replace function bench_pre24.game_state_json(p_session public.sessions)
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

-- 20261125200400_session_kernel.sql: seer_private.player_json
create or replace function bench_pre24.player_json(p_player public.session_players)
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
  return bench_pre24.player_fields(p_player, v_char, v_name);
end
$$;

-- 20261125200400_session_kernel.sql: seer_private.session_json
create or replace function bench_pre24.session_json(p_session_id uuid)
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
        select jsonb_agg(bench_pre24.player_fields(sp, c, pr.display_name) order by sp.joined_at, sp.id)
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
      'gameState', bench_pre24.game_state_json(s),
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

-- 20261125200400_session_kernel.sql: seer_private.write_event_at
create or replace function bench_pre24.write_event_at(
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

-- 20261125200400_session_kernel.sql: seer_private.write_event
create or replace function bench_pre24.write_event(
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
  return bench_pre24.write_event_at(p_session_id, v_seq, p_type, p_actor, p_fields, p_at);
end
$$;

-- 20261125200410_session_lobby.sql: public.get_session
create or replace function bench_pre24.get_session(p_session_id uuid)
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
  if not bench_pre24.is_session_participant(p_session_id) then
    perform seer_private.raise_error('SESSION_001');
  end if;
  return bench_pre24.session_json(p_session_id);
end
$$;

-- 20261125200410_session_lobby.sql: public.join_session
create or replace function bench_pre24.join_session(p_session_id uuid, p_character_id uuid)
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
      return jsonb_build_object('player', bench_pre24.player_json(v_seat),
                                'session', bench_pre24.session_json(v_s.id));
    end if;
    if v_seat.status = 'inactive' and v_s.status in ('active', 'paused') then
      -- Back after the 5-minute window: not an error, but not a seat either until the Seer
      -- lets them in (readmit_player) - the answer says so and the Seer is asked once.
      perform seer_private.request_readmit(v_seat);
      select * into v_seat from public.session_players sp where sp.id = v_seat.id;
      return jsonb_build_object('player', bench_pre24.player_json(v_seat),
                                'session', bench_pre24.session_json(v_s.id), 'readmit', 'requested');
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
  -- new seats are rate-limited (SESSION_028, bucket join_session): a join/leave loop would
  -- announce to the whole lobby and rotate its key on every turn (issue 20)
  perform bench_pre24.spend_rate_budget('join_session', v_uid);

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

  perform bench_pre24.write_event(v_s.id, 'player_joined', v_uid,
    seer_private.event_player_joined(bench_pre24.player_json(v_seat)));
  return jsonb_build_object('player', bench_pre24.player_json(v_seat),
                            'session', bench_pre24.session_json(v_s.id));
end
$$;

-- 20261125200430_session_presence_and_log.sql: public.heartbeat
create or replace function bench_pre24.heartbeat(p_session_id uuid)
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
  v_seer seer_private.seer_liveness%rowtype;
  v_readmit text;
begin
  update seer_private.seat_liveness l set last_heartbeat_at = now()
  where l.session_id = p_session_id and l.user_id = v_uid
  returning l.player_id into v_player_id;
  if not found then
    -- the Seer's fast path: only while the server holds them connected
    update seer_private.seer_liveness l set last_heartbeat_at = now()
    where l.session_id = p_session_id and l.seer_id = v_uid and l.connected;
    if found then
      v_status := 'seer';
    end if;
  end if;
  if not found then
    v_s := seer_private.lock_session(p_session_id);
    if v_s.seer_id = v_uid then
      v_status := 'seer';
      if v_s.status in ('waiting', 'active', 'paused') then
        select * into v_seer from seer_private.seer_liveness l where l.session_id = v_s.id for update;
        if not found then
          insert into seer_private.seer_liveness (session_id, seer_id, last_heartbeat_at)
          values (v_s.id, v_uid, now());
        else
          update seer_private.seer_liveness
          set seer_id = v_uid, last_heartbeat_at = now(), connected = true, disconnected_at = null
          where session_id = v_s.id;
          if not v_seer.connected then
            -- back after the sweeper marked them away: everyone hears it
            perform bench_pre24.write_event(v_s.id, 'seer_connection', v_uid,
              seer_private.event_seer_connection(v_uid, true, null));
            v_restored := true;
          end if;
        end if;
      end if;
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
      elsif v_seat.status = 'inactive' and v_s.status in ('active', 'paused') then
        -- back after the window: the Seer decides (readmit_player or kick_player)
        perform seer_private.request_readmit(v_seat);
        v_readmit := 'requested';
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
                            'sessionStatus', v_session_status, 'lastSeq', v_last_seq,
                            'readmit', v_readmit);
end
$$;

-- 20261125200430_session_presence_and_log.sql: public.session_events_since
create or replace function bench_pre24.session_events_since(
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
  if not bench_pre24.is_session_participant(p_session_id) then
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

-- 20261125200500_game_state_rpc.sql: seer_private.bounded_turn_history
create or replace function bench_pre24.bounded_turn_history(p_turns jsonb)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_turns jsonb := coalesce(p_turns, '[]'::jsonb);
begin
  while jsonb_array_length(v_turns) > 100 loop
    v_turns := v_turns - 0;
  end loop;
  if octet_length(v_turns::text) <= 131072 then
    return v_turns;
  end if;
  return (select coalesce(jsonb_agg(t order by o), '[]'::jsonb)
          from (select t, o, sum(octet_length(t::text)) over (order by o desc) as bytes
                from jsonb_array_elements(v_turns) with ordinality x(t, o)) k
          where bytes <= 131072);
end
$$;

-- 20261125200500_game_state_rpc.sql: seer_private.append_turn
create or replace function bench_pre24.append_turn(p_turns jsonb, p_entry jsonb)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select bench_pre24.bounded_turn_history(coalesce(p_turns, '[]'::jsonb) || jsonb_build_array(p_entry))
$$;

-- 20261125200500_game_state_rpc.sql: seer_private.record_turn
create or replace function bench_pre24.record_turn(
  p_session_id uuid, p_entry jsonb, p_combat jsonb default null, p_set_combat boolean default false,
  p_seqs int default 1, p_dice int default 0, p_combats int default 0,
  out o_seq bigint, out o_version int)
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.sessions
  set game_state = jsonb_set(
        case when p_set_combat then jsonb_set(game_state, '{combatState}', coalesce(p_combat, 'null'::jsonb))
             else game_state end,
        '{turnHistory}', bench_pre24.append_turn(game_state -> 'turnHistory', p_entry)),
      state_version = state_version + 1,
      last_seq = last_seq + p_seqs,
      dice_rolled = dice_rolled + p_dice,
      combats_completed = combats_completed + p_combats
  where id = p_session_id
  returning last_seq, state_version into o_seq, o_version;
end
$$;

-- 20261125200500_game_state_rpc.sql: public.update_game_state
create or replace function bench_pre24.update_game_state(
  p_session_id uuid, p_patch jsonb, p_expected_version int default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
  v_key text;
  v_val jsonb;
  v_elem jsonb;
  v_node public.adventure_nodes%rowtype;
  v_node_id uuid;
  v_override boolean := false;
  v_visited uuid[];
  v_inv jsonb;
  v_vars jsonb;
  v_flags jsonb;
  v_turns jsonb;
  -- what the game_state event carries for a client's fold: the items as stored, the turns added
  v_added jsonb := '[]'::jsonb;
  v_new_turns jsonb := '[]'::jsonb;
  v_entry jsonb;
  v_combat jsonb;
  v_state jsonb;
  v_version int;
  v_events int;
  v_last bigint;
begin
  if p_patch is null or jsonb_typeof(p_patch) <> 'object' then
    perform seer_private.raise_error('SESSION_000', 'patch must be a JSON object');
  end if;
  if octet_length(p_patch::text) > 65536 then
    perform seer_private.raise_error('SESSION_000', 'patch is larger than 64 KiB');
  end if;
  v_s := seer_private.lock_session(p_session_id);
  perform seer_private.require_seer(v_s, v_uid);
  if v_s.status <> 'active' then
    perform seer_private.raise_error('SESSION_010', 'game state changes need an active session');
  end if;
  perform seer_private.require_event_room(v_s);
  if p_expected_version is not null and p_expected_version <> v_s.state_version then
    perform seer_private.raise_error('SESSION_014', 'currentVersion=' || v_s.state_version);
  end if;
  if p_patch = '{}'::jsonb then
    return bench_pre24.game_state_json(v_s);
  end if;

  v_node_id := v_s.current_node_id;
  v_visited := v_s.visited_node_ids;
  v_inv := coalesce(v_s.game_state -> 'inventory', '[]'::jsonb);
  v_vars := coalesce(v_s.game_state -> 'variables', '{}'::jsonb);
  v_flags := coalesce(v_s.game_state -> 'flags', '[]'::jsonb);
  v_turns := coalesce(v_s.game_state -> 'turnHistory', '[]'::jsonb);
  -- written by the combat RPCs only
  v_combat := coalesce(v_s.game_state -> 'combatState', 'null'::jsonb);
  if p_patch ? 'nodeOverride' then
    if seer_private.jtype(p_patch -> 'nodeOverride') <> 'boolean' then
      perform seer_private.raise_error('SESSION_000', 'nodeOverride must be a boolean');
    end if;
    v_override := (p_patch ->> 'nodeOverride')::boolean;
  end if;

  for v_key, v_val in select e.key, e.value from jsonb_each(p_patch) e loop
    case v_key
    when 'currentNodeId' then
      v_node_id := seer_private.try_uuid(case when jsonb_typeof(v_val) = 'string' then v_val #>> '{}' end);
      select * into v_node from public.adventure_nodes n
      where n.id = v_node_id and n.adventure_id = v_s.adventure_id;
      if not found then
        perform seer_private.raise_error('SESSION_000', 'currentNodeId must be a node of this adventure');
      end if;
      -- the graph: only along a link of the current node, unless the Seer overrides (logged)
      if v_node_id is distinct from v_s.current_node_id and not v_override and not exists (
          select 1 from public.adventure_links l
          where l.from_node_id = v_s.current_node_id and l.to_node_id = v_node_id) then
        perform seer_private.raise_error('SESSION_000',
          'currentNodeId is not linked from the current node (set nodeOverride to move anyway)');
      end if;
      if not (v_node_id = any (v_visited)) then
        v_visited := v_visited || v_node_id;
      end if;
    when 'nodeOverride' then
      null;  -- read above, before the loop
    when 'addInventory' then
      if seer_private.jtype(v_val) <> 'array' then
        perform seer_private.raise_error('SESSION_000', 'addInventory must be an array');
      end if;
      for v_elem in select seer_private.inventory_item(e) from jsonb_array_elements(v_val) e loop
        -- an item with the same id is replaced
        v_inv := coalesce((select jsonb_agg(i order by o) from jsonb_array_elements(v_inv) with ordinality t(i, o)
                           where i ->> 'id' <> v_elem ->> 'id'), '[]'::jsonb) || jsonb_build_array(v_elem);
        v_added := v_added || jsonb_build_array(v_elem);
      end loop;
    when 'removeInventory' then
      if not seer_private.is_string_array(v_val, 100) then
        perform seer_private.raise_error('SESSION_000', 'removeInventory must be an array of item ids');
      end if;
      v_inv := coalesce((select jsonb_agg(i order by o) from jsonb_array_elements(v_inv) with ordinality t(i, o)
                         where not (v_val @> jsonb_build_array(i -> 'id'))), '[]'::jsonb);
    when 'setVariables' then
      if seer_private.jtype(v_val) <> 'object' or exists (
          select 1 from jsonb_each(v_val) e
          where length(e.key) not between 1 and 100
             or jsonb_typeof(e.value) not in ('string', 'number', 'boolean')
             or (jsonb_typeof(e.value) = 'string' and length(e.value #>> '{}') > 2000)) then
        perform seer_private.raise_error('SESSION_000',
          'setVariables must map names (1-100) to strings (<= 2000), numbers or booleans');
      end if;
      -- every player sees them: clean_text's character rule (names one line, values may span lines)
      if exists (select 1 from jsonb_each(v_val) e
                 where e.key ~ bench_pre24.unsafe_text_chars(false)
                    or (jsonb_typeof(e.value) = 'string'
                        and (e.value #>> '{}') ~ bench_pre24.unsafe_text_chars(true))) then
        perform seer_private.raise_error('SESSION_000', 'setVariables contains control, bidi or escape characters');
      end if;
      v_vars := v_vars || v_val;
    when 'addFlags' then
      if not seer_private.is_string_array(v_val, 100) then
        perform seer_private.raise_error('SESSION_000', 'addFlags must be an array of strings (1-100)');
      end if;
      if exists (select 1 from jsonb_array_elements_text(v_val) f where f ~ bench_pre24.unsafe_text_chars(false)) then
        perform seer_private.raise_error('SESSION_000', 'addFlags contains control, bidi or escape characters');
      end if;
      for v_elem in select e from jsonb_array_elements(v_val) e loop
        if not (v_flags @> jsonb_build_array(v_elem)) then
          v_flags := v_flags || jsonb_build_array(v_elem);
        end if;
      end loop;
    when 'removeFlags' then
      if not seer_private.is_string_array(v_val, 100) then
        perform seer_private.raise_error('SESSION_000', 'removeFlags must be an array of strings (1-100)');
      end if;
      v_flags := coalesce((select jsonb_agg(f order by o) from jsonb_array_elements(v_flags) with ordinality t(f, o)
                           where not (v_val @> jsonb_build_array(f))), '[]'::jsonb);
    -- diceRolled and combatsCompleted are counted by roll_dice and end_combat, and combatState
    -- is written by the combat RPCs only: they are not patch keys (unknown key below).
    when 'turn' then
      if seer_private.jtype(v_val) <> 'object' or octet_length(v_val::text) > 8192 then
        perform seer_private.raise_error('SESSION_000', 'turn must be an object of at most 8 KiB');
      end if;
      -- every string in the turn (at any depth, keys too) follows clean_text's character rule
      if exists (select 1 from jsonb_path_query(v_val, 'strict $.**') j
                 where jsonb_typeof(j) = 'string' and (j #>> '{}') ~ bench_pre24.unsafe_text_chars(true))
         or exists (select 1 from jsonb_path_query(v_val, 'strict $.**') j
                    cross join lateral jsonb_object_keys(case when jsonb_typeof(j) = 'object' then j else '{}' end) k
                    where k ~ bench_pre24.unsafe_text_chars(false)) then
        perform seer_private.raise_error('SESSION_000', 'turn contains control, bidi or escape characters');
      end if;
      v_entry := seer_private.turn_entry('note', v_uid, v_val - 'type' - 'actorId' - 'at');
      v_turns := v_turns || jsonb_build_array(v_entry);
      v_new_turns := v_new_turns || jsonb_build_array(v_entry);
    else
      perform seer_private.raise_error('SESSION_000', 'unknown patch key ' || left(v_key, 60));
    end case;
  end loop;

  if jsonb_array_length(v_inv) > 200 then
    perform seer_private.raise_error('SESSION_000', 'inventory holds at most 200 items');
  end if;
  if jsonb_array_length(v_flags) > 500 or (select count(*) from jsonb_object_keys(v_vars)) > 500 then
    perform seer_private.raise_error('SESSION_000', 'flags and variables hold at most 500 entries');
  end if;
  if v_node_id is distinct from v_s.current_node_id then
    v_entry := seer_private.turn_entry('move', v_uid, jsonb_build_object(
      'nodeId', v_node.id, 'nodeTitle', v_node.title, 'override', v_override));
    v_turns := v_turns || jsonb_build_array(v_entry);
    v_new_turns := v_new_turns || jsonb_build_array(v_entry);
  end if;
  v_turns := bench_pre24.bounded_turn_history(v_turns);
  v_state := jsonb_build_object('inventory', v_inv, 'variables', v_vars, 'flags', v_flags,
                                'turnHistory', v_turns, 'combatState', v_combat);
  perform seer_private.require_size(v_state, 'the game state', 262144);

  -- One UPDATE writes the state and allocates the seqs of the events it causes (1, or 2 with
  -- a node change), instead of write_event bumping last_seq in a second UPDATE of the same row.
  v_events := case when v_node_id is distinct from v_s.current_node_id then 2 else 1 end;
  update public.sessions
  set game_state = v_state,
      state_version = state_version + 1,
      current_node_id = v_node_id,
      visited_node_ids = v_visited,
      last_seq = last_seq + v_events
  where id = v_s.id
  returning * into v_s;
  v_version := v_s.state_version;
  v_last := v_s.last_seq;

  perform bench_pre24.write_event_at(v_s.id, v_last - v_events + 1, 'game_state', v_uid,
    seer_private.event_game_state(
      case when p_patch ? 'addInventory' then jsonb_set(p_patch, '{addInventory}', v_added) else p_patch end,
      v_version, v_new_turns));
  if v_events = 2 then
    perform bench_pre24.write_event_at(v_s.id, v_last, 'node_change', v_uid,
      seer_private.event_node_change(seer_private.node_json(v_node.id), v_override));
  end if;
  return bench_pre24.game_state_json(v_s);
end
$$;

-- 20261201110100_dice.sql: seer_private.roll_expression (its terms by regexp_matches in a FOR)
create or replace function bench_pre24.roll_expression(p_expression text)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  c_body constant text := '(?:([0-9]{0,3})d([0-9]{1,4})(?:(kh|kl)([0-9]{1,3}))?|([0-9]{1,6}))';
  c_term constant text := '([+-]?)' || c_body;
  -- spaces are allowed around + and - only ("2d6 3" is not "2d63")
  v_expr text;
  v_m text[];
  v_term int := 0;
  v_sign int;
  v_n int;
  v_sides int;
  v_keep int;
  v_values int[];
  v_kept boolean[];
  v_order int[];
  v_dice jsonb := '[]'::jsonb;
  v_total int := 0;
  v_count int := 0;
begin
  -- the length of what was sent, before any normalisation (a bound on the work, too)
  if p_expression is null or length(p_expression) > 100 then
    perform seer_private.raise_error('SESSION_000', 'expression must be 1-100 characters of dice notation');
  end if;
  v_expr := lower(btrim(regexp_replace(p_expression, '[ ]*([+-])[ ]*', '\1', 'g'), ' '));
  if v_expr = '' then
    perform seer_private.raise_error('SESSION_000', 'expression must be 1-100 characters of dice notation');
  end if;
  -- the whole text is terms, every term after the first with its sign
  if v_expr !~ ('^' || c_term || '(?:[+-]' || c_body || ')*$') then
    perform seer_private.raise_error('SESSION_000', 'expression is not dice notation (e.g. 2d6+3, 4d6kh3, 1d20-1)');
  end if;
  for v_m in select regexp_matches(v_expr, c_term, 'g') loop
    v_term := v_term + 1;
    v_sign := case when v_m[1] = '-' then -1 else 1 end;
    if v_m[6] is not null then
      v_total := v_total + v_sign * v_m[6]::int;
      continue;
    end if;
    v_n := coalesce(nullif(v_m[2], '')::int, 1);
    v_sides := v_m[3]::int;
    if v_n < 1 or v_sides not between 1 and 1000 then
      perform seer_private.raise_error('SESSION_000', 'dice need 1-100 dice of 1-1000 sides');
    end if;
    v_count := v_count + v_n;
    if v_count > 100 then
      perform seer_private.raise_error('SESSION_000', 'at most 100 dice per roll');
    end if;
    v_keep := coalesce(v_m[5]::int, v_n);
    if v_keep not between 1 and v_n then
      perform seer_private.raise_error('SESSION_000', 'keep must be between 1 and the number of dice');
    end if;
    v_values := array(select seer_private.random_die(v_sides) from generate_series(1, v_n));
    -- kept: the K highest (kh) or lowest (kl), ties broken by position
    v_order := array(select o from unnest(v_values) with ordinality u(v, o)
                     order by case when v_m[4] = 'kl' then v else -v end, o limit v_keep);
    v_kept := array(select o = any (v_order) from generate_series(1, v_n) o);
    for i in 1 .. v_n loop
      v_dice := v_dice || jsonb_build_object('term', v_term, 'sides', v_sides, 'value', v_values[i], 'kept', v_kept[i]);
      if v_kept[i] then
        v_total := v_total + v_sign * v_values[i];
      end if;
    end loop;
  end loop;
  return jsonb_build_object('expression', v_expr, 'dice', v_dice, 'total', v_total, 'count', v_count);
end
$$;

-- 20261201110100_dice.sql: seer_private.record_roll
create or replace function bench_pre24.record_roll(
  p_session public.sessions, p_actor uuid, p_expression text, p_reason text,
  p_character_id uuid, p_hidden boolean)
returns public.dice_rolls
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_result jsonb := bench_pre24.roll_expression(p_expression);
  v_roll public.dice_rolls%rowtype;
  v_entry jsonb;
  v_version int;
begin
  v_roll.id := gen_random_uuid();
  v_roll.session_id := (p_session).id;
  v_roll.roller_id := p_actor;
  v_roll.character_id := p_character_id;
  -- the normalised text that was parsed, never the caller's text
  v_roll.expression := v_result ->> 'expression';
  v_roll.dice := v_result -> 'dice';
  v_roll.total := (v_result ->> 'total')::int;
  v_roll.reason := p_reason;
  v_roll.hidden := coalesce(p_hidden, false)
    or not coalesce(((p_session).settings ->> 'showDiceRolls')::boolean, true);
  v_roll.created_at := now();
  -- one UPDATE of the session: turn entry, diceRolled and the event's seq
  v_entry := seer_private.turn_entry('roll', p_actor, seer_private.roll_json(v_roll, false) - 'dice');
  select t.o_seq, t.o_version into v_roll.seq, v_version
  from bench_pre24.record_turn((p_session).id, v_entry, p_seqs => 1, p_dice => (v_result ->> 'count')::int) t;
  insert into public.dice_rolls values (v_roll.*);
  perform bench_pre24.write_event_at((p_session).id, v_roll.seq, 'dice_rolled', p_actor,
    seer_private.event_dice_rolled(v_roll, v_version, v_entry));
  return v_roll;
end
$$;

-- 20261201110100_dice.sql: public.roll_dice
create or replace function bench_pre24.roll_dice(
  p_session_id uuid, p_expression text, p_reason text default null,
  p_character_id uuid default null, p_hidden boolean default false)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_reason text := bench_pre24.clean_text(p_reason, 'reason', 200);
  v_s public.sessions%rowtype;
  v_seat public.session_players%rowtype;
  v_char uuid := p_character_id;
  v_roll public.dice_rolls%rowtype;
begin
  v_s := seer_private.lock_game(p_session_id, v_uid);
  if v_s.seer_id = v_uid then
    if v_char is not null then
      perform seer_private.character_seat(v_s.id, v_char);
    end if;
  else
    v_seat := seer_private.caller_seat(v_s, v_uid);
    if coalesce(p_hidden, false) or (v_char is not null and v_char <> v_seat.character_id) then
      perform seer_private.raise_error('SESSION_007', 'players roll openly, for their own character');
    end if;
    v_char := v_seat.character_id;
    -- a player's rolls are rate-limited (SESSION_028, the roll_dice bucket); the Seer's are not
    perform bench_pre24.spend_rate_budget('roll_dice', v_uid);
  end if;
  v_roll := bench_pre24.record_roll(v_s, v_uid, p_expression, v_reason, v_char, p_hidden);
  return seer_private.roll_json(v_roll, v_s.seer_id = v_uid);
end
$$;

-- 20261201110300_player_actions.sql: public.submit_action
create or replace function bench_pre24.submit_action(
  p_session_id uuid, p_text text, p_choice text default null, p_character_id uuid default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_text text := bench_pre24.clean_text(p_text, 'text', 1000);
  v_choice_label text := bench_pre24.clean_text(p_choice, 'choice', 200);
  v_choice jsonb;
  v_s public.sessions%rowtype;
  v_seat public.session_players%rowtype;
  v_name text;
  v_entry jsonb;
  v_seq bigint;
  v_version int;
begin
  if v_text is null and v_choice_label is null then
    perform seer_private.raise_error('SESSION_000', 'text or choice is required');
  end if;
  v_s := seer_private.lock_game(p_session_id, v_uid);
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
    perform bench_pre24.spend_rate_budget('submit_action', v_uid);
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
  select t.o_seq, t.o_version into v_seq, v_version from bench_pre24.record_turn(v_s.id, v_entry) t;
  return bench_pre24.write_event_at(v_s.id, v_seq, 'player_action', v_uid,
    seer_private.event_player_action(v_seat, v_name, v_text, v_choice, v_s.seer_id = v_uid, v_version, v_entry));
end
$$;

grant execute on all functions in schema bench_pre24 to authenticated;
