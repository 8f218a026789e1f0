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
  v_generation bigint;
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
  if found then
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
  return jsonb_build_object('sessionId', p_session_id, 'playerId', v_player_id, 'status', v_status,
                            'restored', v_restored, 'serverTime', now(),
                            'sessionStatus', v_session_status, 'lastSeq', v_last_seq,
                            'readmit', v_readmit, 'channelGeneration', v_generation);
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

-- RPCs for signed-in users (service_role for tools), not for anon or PUBLIC.
revoke execute on function
  public.heartbeat(uuid),
  public.session_events_since(uuid, bigint, int)
  from public, anon;
grant execute on function
  public.heartbeat(uuid),
  public.session_events_since(uuid, bigint, int)
  to authenticated, service_role;
