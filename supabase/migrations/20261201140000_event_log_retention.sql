-- Bounded growth of the event log (docs/scaling.md, "retention").
--
-- Rule: an ended session (completed or cancelled) keeps its full event log for 30 days after
-- it ended (seer_private.full_log_retention()): long enough to replay, review and give
-- feedback. Then its log is compacted to what history needs: the `session_status` events
-- (every status change with its time) and `session_ended` (outcome, stats, notes). The
-- final state stays on the sessions row (game_state with its turnHistory, derived from the
-- log until then, stats, visited nodes) and the seats
-- stay as the party's history; only the play-by-play (game_state patches, joins, presence,
-- node changes ...) goes. sessions.events_compacted_at records when, so a reader knows the
-- seqs of that log now have gaps on purpose. Live sessions are never touched.
--
-- The run: seer_private.compact_event_logs(p_now, p_batch), scheduled by pg_cron every
-- minute next to the sweeper. It reads only due rows: sessions_compaction_due_idx holds
-- just the ended sessions not compacted yet (a month of endings at most, however long the
-- history), oldest first, `limit p_batch`, `for update skip locked`; their events are
-- deleted through the event log's primary key (session_id, seq). A compacted session leaves
-- the index, so the cost of a run depends on the batch, not on how many sessions ever ended
-- (bench section 8 measures it at 100k and 1M ended sessions). p_now lets tests travel.

alter table public.sessions add column events_compacted_at timestamptz;

create index sessions_compaction_due_idx on public.sessions (ended_at)
  where ended_at is not null and events_compacted_at is null;

create function seer_private.full_log_retention()
returns interval
language sql
immutable
set search_path = ''
as $$ select interval '30 days' $$;

-- the event types an ended session keeps after compaction
create function seer_private.summary_event_types()
returns text[]
language sql
immutable
set search_path = ''
as $$ select array['session_status', 'session_ended'] $$;

create function seer_private.compact_event_logs(p_now timestamptz default now(), p_batch int default 1000)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_ids uuid[];
  v_deleted bigint := 0;
begin
  select array_agg(d.id) into v_ids
  from (select s.id from public.sessions s
        where s.ended_at is not null and s.events_compacted_at is null
          and s.ended_at < p_now - seer_private.full_log_retention()
        order by s.ended_at
        limit greatest(1, least(coalesce(p_batch, 1000), 10000))
        for update skip locked) d;
  if v_ids is null then
    return jsonb_build_object('sessions', 0, 'eventsDeleted', 0);
  end if;
  -- turnHistory is derived from the log while it is whole (seer_private.turn_history): keep
  -- it on the row before the turn events go
  update public.sessions s
  set events_compacted_at = p_now,
      game_state = s.game_state || jsonb_build_object('turnHistory', seer_private.turn_history(s.id))
  where s.id = any (v_ids);
  delete from public.session_events e
  where e.session_id = any (v_ids) and e.type <> all (seer_private.summary_event_types());
  get diagnostics v_deleted = row_count;
  return jsonb_build_object('sessions', cardinality(v_ids), 'eventsDeleted', v_deleted);
end
$$;

revoke execute on function seer_private.full_log_retention(), seer_private.summary_event_types(),
  seer_private.compact_event_logs(timestamptz, int) from public;

-- Scheduled like the sweeper (20261125200800_cron_schedule): where pg_cron exists.
do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron') then
    execute $sql$select cron.schedule('seer-compact-event-logs', '* * * * *', 'select seer_private.compact_event_logs()')$sql$;
  end if;
exception when others then
  raise notice 'pg_cron could not schedule the event log compaction (%); schedule seer_private.compact_event_logs() yourself', sqlerrm;
end
$$;
