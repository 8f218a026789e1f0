-- The lobby: create a session, read it, join, leave, kick, readmit, and list one's sessions.
-- (The join-code lookup, get_session_by_code, lives with its rate limit in the
-- _code_lookup_rate_limit migration; the shared internals these RPCs call - shapes, events,
-- the event writer, locks, roles, join refusals, seats - in the _session_kernel migration.)
--
-- Every state-changing RPC first locks the session row (`for update`); that single lock
-- serialises seat counting (max players), status transitions and event seq allocation.
-- Errors go through seer_private.raise_error, so PostgREST answers with the PRD status.

-- Internals of create_session ------------------------------------------------------------------

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
returns json
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
returns json
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

-- The hot path (issue 24) in as few statements and nested calls as the rules allow (at a
-- realistic load each costs ~3x its saturated time, docs/performance.md):
--   * the session row lock is the seq allocation: one UPDATE takes the lock and advances
--     last_seq for the player_joined event (the seq write_event would allocate), and the event
--     goes straight to write_event_at. A seat brought back writes its player_connection event
--     with that seq instead (restore_seat's p_seq); a readmit request (request_readmit
--     allocates its own seq, when it writes at all) gives the seq back under the same lock
--     first, so seqs stay gap-free; a refusal raises and rolls it back;
--   * the character's "in another live seat" rule is the partial unique index itself
--     (session_players_live_character_key as the insert's ON CONFLICT arbiter): no separate
--     probe before the insert and no exception block (a subtransaction) around it. A full
--     session still reports a taken character first (SESSION_009 before 003), so only that
--     refusal probes the index first. The rate limit is spent after the insert, so a taken
--     character is still SESSION_009 at the limit, and a refused join counts nothing;
--   * the new player's JSON is player_fields of the inserted seat (its liveness row holds the
--     seat's own last_activity_at, so the heartbeat argument is null): one statement instead
--     of player_json's three, built once for the event and the reply.
create function public.join_session(p_session_id uuid, p_character_id uuid)
returns json
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
  v_back text;
  v_player json;
begin
  if p_character_id is null then
    perform seer_private.raise_error('SESSION_000', 'characterId is required');
  end if;
  -- the lock takes the player_joined event's seq (see above)
  v_s := seer_private.lock_session(p_session_id, p_take_seq => true);
  v_refusal := seer_private.join_refusal(v_s, v_uid);
  if v_refusal = 'seated' then
    v_seat := seer_private.caller_seat(v_s, v_uid);
    v_back := case
      -- Coming back to a running game with the same character restores the seat.
      when v_s.status in ('waiting', 'active', 'paused') and seer_private.may_restore_seat(v_seat, true)
           and v_seat.character_id = p_character_id then 'restore'
      -- Back after the 5-minute window: not an error, but not a seat either until the Seer
      -- lets them in (readmit_player) - the answer says so and the Seer is asked once.
      when v_seat.status = 'inactive' and v_s.status in ('active', 'paused') then 'readmit'
    end;
    if v_back is not null then
      if v_back = 'restore' then
        -- the seq taken with the lock is the player_connection event's
        perform seer_private.restore_seat(v_seat.id, v_uid, now(), v_s.last_seq);
      else
        -- request_readmit writes at most one event and allocates its seq itself: the seq
        -- taken with the lock goes back (rare: once per return after the window)
        update public.sessions s set last_seq = s.last_seq - 1 where s.id = v_s.id;
        perform seer_private.request_readmit(v_seat);
      end if;
      select * into v_seat from public.session_players sp where sp.id = v_seat.id;
      if v_back = 'readmit' then
        return json_build_object('player', seer_private.player_json(v_seat),
                                 'session', seer_private.session_json(v_s.id), 'readmit', 'requested');
      end if;
      return json_build_object('player', seer_private.player_json(v_seat),
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
  if v_refusal = 'full' then
    if exists (select 1 from public.session_players sp
               where sp.character_id = v_char.id and sp.left_at is null and not sp.session_ended) then
      perform seer_private.raise_error('SESSION_009');
    end if;
    perform seer_private.refuse_join(v_refusal);
  end if;

  -- a late joiner's seat is in a running session from the start. A character in another live
  -- seat (also one taken by a join committing at this very moment: the insert waits for it)
  -- inserts nothing: SESSION_009.
  insert into public.session_players (session_id, user_id, character_id, session_running)
  values (v_s.id, v_uid, v_char.id, v_s.status in ('active', 'paused'))
  on conflict (character_id) where left_at is null and not session_ended do nothing
  returning * into v_seat;
  if not found then
    perform seer_private.raise_error('SESSION_009');
  end if;
  -- new seats are rate-limited (SESSION_028, bucket join_session): a join/leave loop would
  -- announce to the whole lobby and rotate its key on every turn (issue 20)
  perform seer_private.spend_rate_budget('join_session', v_uid);

  v_player := seer_private.player_fields(v_seat, v_char,
    (select pr.display_name from public.profiles pr where pr.id = v_uid), null);
  perform seer_private.write_event_at(v_s.id, v_s.last_seq, 'player_joined', v_uid,
    seer_private.event_player_joined(v_player::jsonb));
  return json_build_object('player', v_player, 'session', seer_private.session_json(v_s.id));
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
  set status = 'disconnected', disconnected_at = now(), inactive_at = null, left_reason = null,
      readmit_requested_at = null
  where sp.id = p_player_id and sp.session_id = v_s.id and sp.left_at is null and sp.status = 'inactive'
  returning sp.* into v_seat;
  if not found then
    perform seer_private.raise_error('SESSION_000', 'playerId is not an inactive seat of this session');
  end if;
  perform seer_private.write_event(v_s.id, 'player_connection', v_uid,
    seer_private.event_player_connection(v_seat));
  return seer_private.player_json(v_seat)::jsonb;
end
$$;

-- The Seer changes the settings (issue 22): p_settings holds the settings to change (the
-- keys and types of create_session, checked by the same validate_settings), p_max_players
-- the new seat limit (1-6, not below the adventure's minimum, not below the seats now
-- taken). In the lobby everything may change; in a running game everything but enableAISeer
-- (who runs the table is chosen before play: SESSION_010). An ended session: SESSION_010.
-- One session_settings event to everyone, with the whole new settings; no event when
-- nothing changed. Returns the Session.
create function public.update_session_settings(
  p_session_id uuid, p_settings jsonb default '{}', p_max_players int default null)
returns json
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
  v_changes jsonb := coalesce(p_settings, '{}'::jsonb);
  v_settings jsonb;
  v_max int;
  v_seats int;
begin
  if jsonb_typeof(v_changes) <> 'object' then
    perform seer_private.raise_error('SESSION_000', 'settings must be an object');
  end if;
  -- the same keys and types as at creation (the one rule); the defaults it adds are not used
  perform seer_private.validate_settings(v_changes);
  v_s := seer_private.lock_session(p_session_id);
  perform seer_private.require_seer(v_s, v_uid);
  if v_s.status not in ('waiting', 'active', 'paused') then
    perform seer_private.raise_error('SESSION_010', 'the session has ended');
  end if;
  if v_s.status <> 'waiting' and v_changes ? 'enableAISeer'
     and v_changes -> 'enableAISeer' is distinct from v_s.settings -> 'enableAISeer' then
    perform seer_private.raise_error('SESSION_010', 'enableAISeer cannot change once the game has started');
  end if;
  v_max := coalesce(p_max_players, v_s.max_players);
  if v_max not between 1 and 6 then
    perform seer_private.raise_error('SESSION_000', 'maxPlayers must be between 1 and 6');
  end if;
  if v_max < v_s.min_players then
    perform seer_private.raise_error('SESSION_000', 'maxPlayers is below the adventure minimum of ' || v_s.min_players);
  end if;
  v_seats := seer_private.live_seat_count(v_s.id);
  if v_max < v_seats then
    perform seer_private.raise_error('SESSION_000', 'maxPlayers is below the ' || v_seats || ' seats taken');
  end if;
  v_settings := v_s.settings || v_changes;
  if v_settings = v_s.settings and v_max = v_s.max_players then
    return seer_private.session_json(v_s.id);
  end if;
  update public.sessions set settings = v_settings, max_players = v_max where id = v_s.id;
  perform seer_private.write_event(v_s.id, 'session_settings', v_uid,
    seer_private.event_session_settings(v_settings, v_max));
  return seer_private.session_json(v_s.id);
end
$$;

-- One page of the sessions where the caller is the Seer or holds a live seat, newest first
-- (created_at desc, id desc), keyset-paged: p_before is the id of the last session of the
-- previous page, and the page holds the next p_limit (1..200) sessions after it.
-- The filter `seer_id = me or exists (a live seat of mine)` cannot use an index (an OR across
-- two tables): written that way it scanned the whole sessions table, 230 ms per call at 200k
-- sessions and growing linearly (bench/scale.py, docs/performance.md). The two halves each
-- have an index, sessions_seer_idx (seer_id, created_at desc, id desc) and
-- session_players_user_idx (user_id), so each half takes its first p_limit after the cursor
-- from its own index and the first p_limit of their union are returned: the same answer (the
-- first n of a union are among the first n of each part), in time that depends on the
-- caller's own history, not on the table; the Seer half reads only the page itself.
-- The cursor must be a session the caller is or was in (else SESSION_000 'before'): its
-- created_at is not shown to anyone else.
create function public.list_my_sessions(
  p_status text[] default null, p_limit int default 50, p_before uuid default null)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_limit int := coalesce(p_limit, 50);
  -- Past every real row when there is no cursor: (created_at, id) < (infinity, max uuid).
  v_at timestamptz := 'infinity'::timestamptz;
  v_id uuid := 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid;
begin
  if p_status is not null and exists (
      select 1 from unnest(p_status) x
      where x is null or x not in ('waiting', 'active', 'paused', 'completed', 'cancelled')) then
    perform seer_private.raise_error('SESSION_000', 'status must be a list of session statuses');
  end if;
  if v_limit not between 1 and 200 then
    perform seer_private.raise_error('SESSION_000', 'limit must be between 1 and 200');
  end if;
  if p_before is not null then
    select s.created_at, s.id into v_at, v_id
    from public.sessions s
    where s.id = p_before
      and (s.seer_id = v_uid
           or exists (select 1 from public.session_players sp
                      where sp.session_id = s.id and sp.user_id = v_uid));
    if not found then
      perform seer_private.raise_error('SESSION_000', 'before');
    end if;
  end if;
  return coalesce((
    select jsonb_agg(jsonb_build_object(
        'id', s.id, 'code', s.code, 'status', s.status,
        'role', case when s.seer_id = v_uid then 'seer' else 'player' end,
        'adventureName', s.adventure_name, 'seerName', s.seer_name,
        'playerCount', seer_private.live_seat_count(s.id), 'maxPlayers', s.max_players,
        'createdAt', s.created_at, 'startedAt', s.started_at, 'endedAt', s.ended_at)
      order by s.created_at desc, s.id desc)
    from (select s0.* from public.sessions s0
          where s0.id in (
              (select s1.id from public.sessions s1
               where s1.seer_id = v_uid and (s1.created_at, s1.id) < (v_at, v_id)
                 and (p_status is null or s1.status = any (p_status))
               order by s1.created_at desc, s1.id desc
               limit v_limit)
              union
              (select s2.id from public.session_players sp
               join public.sessions s2 on s2.id = sp.session_id
               where sp.user_id = v_uid and sp.left_at is null
                 and (s2.created_at, s2.id) < (v_at, v_id)
                 and (p_status is null or s2.status = any (p_status))
               order by s2.created_at desc, s2.id desc
               limit v_limit))
          order by s0.created_at desc, s0.id desc
          limit v_limit) s), '[]'::jsonb);
end
$$;

-- New seer_private functions are executable through PUBLIC only; revoking that keeps the
-- internals private and leaves the RLS helpers' direct grants to authenticated
-- (20261125200300_rls) alone.
revoke execute on all functions in schema seer_private from public;

-- RPCs for signed-in users (service_role for tools), not for anon or PUBLIC.
revoke execute on function
  public.create_session(uuid, jsonb, int),
  public.get_session(uuid),
  public.join_session(uuid, uuid),
  public.leave_session(uuid),
  public.kick_player(uuid, uuid, text),
  public.readmit_player(uuid, uuid),
  public.update_session_settings(uuid, jsonb, int),
  public.list_my_sessions(text[], int, uuid)
  from public, anon;
grant execute on function
  public.create_session(uuid, jsonb, int),
  public.get_session(uuid),
  public.join_session(uuid, uuid),
  public.leave_session(uuid),
  public.kick_player(uuid, uuid, text),
  public.readmit_player(uuid, uuid),
  public.update_session_settings(uuid, jsonb, int),
  public.list_my_sessions(text[], int, uuid)
  to authenticated, service_role;
