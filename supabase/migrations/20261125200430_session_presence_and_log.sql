-- Presence and the event log: the heartbeat that keeps a seat connected (the sweeper, in the
-- _presence_and_sweeper migration, times seats out) and session_events_since, the replay of
-- the event log, which is the truth a client catches up from (docs/contract.md).

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
-- status and last allocated seq so a client can tell it missed a broadcast, and the channel
-- generation (rotation count) so it can tell it missed a rekey poke (contract.md).
--
-- The Seer heartbeats too (issue 22): a connected Seer's heartbeat is the same kind of HOT
-- update of their narrow seer_private.seer_liveness row; after a silence the sweeper marked
-- (disconnected), the slow path locks the session, marks the Seer connected again and
-- announces seer_connection to everyone. A player whose seat is inactive (timed out, or left
-- more than 5 minutes ago) is not restored: the answer says `readmit: 'requested'` and the
-- Seer gets readmit_requested once (seer_private.request_readmit).
-- The fast path of every heartbeat, for one caller (public.heartbeat) or for each beat of a
-- batch (public.heartbeat_batch): refresh the liveness time of (session, user) if it is a
-- connected live seat (seat_liveness) or a connected Seer (seer_liveness), and nothing else.
-- Answers the heartbeat's status ('connected' with the seat's player id, or 'seer'), or both
-- null: then the beat needs the slow path (restore, readmit, a left or unknown caller's error),
-- which only public.heartbeat runs, as the caller. Both updates are HOT updates by primary key
-- (no index holds the time) and lock only the row they change. Two keyed statements, not one
-- set-based statement over arrays: that one (a CTE of both updates over unnest) made the single
-- heartbeat 0.57x as fast (measured 2026-12-07), and a batch of 28 beats loops cheaply.
create function seer_private.refresh_liveness(
  p_session_id uuid, p_user_id uuid, out player_id uuid, out status text)
language plpgsql
volatile
set search_path = ''
as $$
begin
  update seer_private.seat_liveness l set last_heartbeat_at = now()
  where l.session_id = p_session_id and l.user_id = p_user_id
  returning l.player_id into player_id;
  if found then
    status := 'connected';
    return;
  end if;
  -- a Seer never holds a seat in their own session (join_session refuses it)
  update seer_private.seer_liveness l set last_heartbeat_at = now()
  where l.session_id = p_session_id and l.seer_id = p_user_id and l.connected;
  if found then
    status := 'seer';
  end if;
end
$$;

-- The heartbeat's answer (docs/contract.md), the one constructor of its shape: built from
-- values so the planner inlines it into both callers' statements.
create function seer_private.heartbeat_answer(
  p_session_id uuid, p_player_id uuid, p_status text, p_restored boolean, p_session_status text,
  p_last_seq bigint, p_readmit text, p_generation bigint)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object('sessionId', p_session_id, 'playerId', p_player_id, 'status', p_status,
                            'restored', p_restored, 'serverTime', now(),
                            'sessionStatus', p_session_status, 'lastSeq', p_last_seq,
                            'readmit', p_readmit, 'channelGeneration', p_generation)
$$;

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
  v_status text;
  v_restored boolean := false;
  v_session_status text;
  v_last_seq bigint;
  v_generation bigint;
  v_seer seer_private.seer_liveness%rowtype;
  v_readmit text;
begin
  -- null status: not refreshed, the slow path below
  select r.player_id, r.status into v_player_id, v_status
  from seer_private.refresh_liveness(p_session_id, v_uid) r;
  if v_status is not null then
    -- Either fast path only moved a liveness time: this transaction's commit need not wait
    -- for the WAL flush (issue 24: with durability on, heartbeats were half the commits and
    -- each waited for an fsync). Local to this transaction (PostgREST runs one RPC per
    -- transaction); a crash can lose at most the last ~0.2 s of heartbeats (wal_writer_delay),
    -- never make the database inconsistent, and the next heartbeat 30 s later - or the
    -- reconnect after the restart - puts the time back. The slow path below writes seats and
    -- events and stays fully durable.
    perform set_config('synchronous_commit', 'off', true);
  else
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
            perform seer_private.write_event(v_s.id, 'seer_connection', v_uid,
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
  select s.status, s.last_seq, c.generation into v_session_status, v_last_seq, v_generation
  from public.sessions s join seer_private.session_channels c on c.session_id = s.id
  where s.id = p_session_id;
  return seer_private.heartbeat_answer(p_session_id, v_player_id, v_status, v_restored, v_session_status,
                                       v_last_seq, v_readmit, v_generation);
end
$$;

-- The heartbeats of many callers in one transaction, for a server-side collector that has
-- verified each caller's JWT (the `heartbeat` Edge Function, docs/heartbeat.md): with one
-- transaction per heartbeat, heartbeats were 840 of the ~1,470 transactions a session makes
-- per hour (issue 24). service_role only: the user ids are the collector's word, so only a
-- component holding the service key may give them.
--
-- p_beats: [{"sessionId": uuid, "userId": uuid}, ...], 1-1000 of them. The answer is an array
-- in the same order: for a beat the fast path refreshed, the answer public.heartbeat gives
-- that caller, with its userId; null for any other beat, which the collector sends on as the
-- caller's own heartbeat (the slow path: restore, readmit, errors, as that user). Commits
-- without waiting for the WAL flush, as the single fast path does.
create function public.heartbeat_batch(p_beats jsonb)
returns json
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_sids uuid[];
  v_uids uuid[];
  v_pids uuid[] := '{}'::uuid[];
  v_statuses text[] := '{}'::text[];
  v_r record;
begin
  if jsonb_typeof(p_beats) is distinct from 'array' or jsonb_array_length(p_beats) not between 1 and 1000 then
    perform seer_private.raise_error('SESSION_000', 'beats must be an array of 1-1000 {sessionId, userId}');
  end if;
  select array_agg(seer_private.try_uuid(e.b ->> 'sessionId') order by e.i),
         array_agg(seer_private.try_uuid(e.b ->> 'userId') order by e.i)
  into v_sids, v_uids
  from jsonb_array_elements(p_beats) with ordinality e(b, i);
  if array_position(v_sids, null) is not null or array_position(v_uids, null) is not null then
    perform seer_private.raise_error('SESSION_000', 'each beat needs a sessionId and a userId (uuids)');
  end if;
  perform set_config('synchronous_commit', 'off', true);
  -- each beat through the one fast path (a beat given twice is refreshed and answered twice)
  for i in 1 .. array_length(v_sids, 1) loop
    v_r := seer_private.refresh_liveness(v_sids[i], v_uids[i]);
    v_pids := v_pids || v_r.player_id;
    v_statuses := v_statuses || v_r.status;
  end loop;
  -- the answers in one statement: the refreshed beats' session status, seq and channel
  return (
    select json_agg(case when b.status is not null then
                      seer_private.heartbeat_answer(b.sid, b.pid, b.status, false, s.status,
                        s.last_seq, null, c.generation) || jsonb_build_object('userId', b.uid)
                    end order by b.i)
    from unnest(v_sids, v_uids, v_pids, v_statuses) with ordinality b(sid, uid, pid, status, i)
    left join public.sessions s on s.id = b.sid and b.status is not null
    left join seer_private.session_channels c on c.session_id = b.sid and b.status is not null);
end
$$;

-- Returns `json`, not jsonb (issue 24): the events are stored as jsonb and go out as text, so
-- json_agg writes each payload's text once; jsonb_agg built a jsonb tree of all of them that
-- the output then serialized again (0.146 of the call's 0.299 ms for 20 events). The answer
-- is the same JSON: PostgREST sends a scalar function's json and jsonb results alike as their
-- text (coalesce(json_agg(pgrst_scalar)->0, ...), its CallPlan query), as does the devstack
-- (to_json(...)::text), and the SDK parses the body. SQL callers cast it (`::jsonb`) to use
-- jsonb operators.
create function public.session_events_since(
  p_session_id uuid, p_after_seq bigint, p_limit int default 500)
returns json
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
    select json_agg(e.payload order by e.seq)
    from (select ev.payload, ev.seq from public.session_events ev
          where ev.session_id = p_session_id and ev.seq > coalesce(p_after_seq, 0)
          order by ev.seq
          limit least(v_limit, 1000)) e), '[]'::json);
end
$$;

revoke execute on function public.heartbeat_batch(jsonb) from public, anon, authenticated;
grant execute on function public.heartbeat_batch(jsonb) to service_role;

-- RPCs for signed-in users (service_role for tools), not for anon or PUBLIC.
revoke execute on function
  public.heartbeat(uuid),
  public.session_events_since(uuid, bigint, int)
  from public, anon;
grant execute on function
  public.heartbeat(uuid),
  public.session_events_since(uuid, bigint, int)
  to authenticated, service_role;
