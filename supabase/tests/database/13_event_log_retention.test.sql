-- Event log retention (20261201140000_event_log_retention), with travelled time (p_now):
-- an ended session keeps its full log for 30 days, then keeps only its summary events;
-- runs touch only due sessions, in batches, and never live ones.
begin;
\ir _helpers.psql
select plan(16);

-- Other suites may have committed ended sessions to this cluster: compact everything that
-- could be due before this file's sessions exist (rolled back with the test).
select seer_private.compact_event_logs(now() + interval '100 years', 10000) \g /dev/null
select seer_private.compact_event_logs(now() + interval '100 years', 10000) \g /dev/null
select is(seer_private.compact_event_logs(now() + interval '100 years', 10000),
  '{"sessions": 0, "eventsDeleted": 0}'::jsonb, 'nothing else is due');

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('quin') as quin \gset
select tests.make_character(:'pia', 'Pia') as pia_char \gset
select tests.make_character(:'quin', 'Quin') as quin_char \gset

-- a: played and completed; b: cancelled in the lobby; live: still running
select tests.new_session(:'seer') as a \gset
select tests.join(:'a', :'pia', :'pia_char') \g /dev/null
select tests.new_session(:'seer') as b \gset
select tests.act_as(:'seer');
select public.start_session(:'a')::jsonb \g /dev/null
select public.update_game_state(:'a', '{"setVariables": {"hp": 3}}') \g /dev/null
select public.update_game_state(:'a', '{"setVariables": {"hp": 2}}') \g /dev/null
select public.end_session(:'a', 'completed')::jsonb \g /dev/null
select public.end_session(:'b', 'cancelled')::jsonb \g /dev/null
select tests.reset_role();
select tests.new_session(:'seer') as live \gset
select tests.join(:'live', :'quin', :'quin_char') \g /dev/null
select tests.act_as(:'seer');
select public.start_session(:'live')::jsonb \g /dev/null
select tests.reset_role();
-- the live session is old, as old as possible: age alone never makes a log due
update public.sessions set created_at = now() - interval '1 year', started_at = now() - interval '1 year'
where id = :'live';

select (select count(*)::int from public.session_events where session_id = :'a') as a_events \gset
select ok(:a_events > 4, 'the completed session has its play-by-play');

select is(seer_private.compact_event_logs(now() + interval '29 days'),
  '{"sessions": 0, "eventsDeleted": 0}'::jsonb, 'within 30 days of the end the full log stays');
select is((select count(*)::int from public.session_events where session_id = :'a'), :a_events, 'all of it');

-- batches: one session per run
select is(seer_private.compact_event_logs(now() + interval '31 days', 1) ->> 'sessions', '1',
  'a run takes at most p_batch sessions');
select is(seer_private.compact_event_logs(now() + interval '31 days', 1) ->> 'sessions', '1', 'the next run the next one');
select is(seer_private.compact_event_logs(now() + interval '31 days', 1),
  '{"sessions": 0, "eventsDeleted": 0}'::jsonb, 'then nothing is due: compacted sessions are not read again');

select is(
  array(select type from public.session_events where session_id = :'a' order by seq),
  array['session_status', 'session_status', 'session_ended'],
  'the completed session keeps its status changes and its end (outcome, stats)');
select is(
  (select payload -> 'stats' from public.session_events where session_id = :'a' and type = 'session_ended'),
  (select stats from public.sessions where id = :'a'), 'the stats are in the kept end event');
select is((select game_state -> 'variables' ->> 'hp' from public.sessions where id = :'a'), '2',
  'the final state stays on the session row');
select is((select events_compacted_at from public.sessions where id = :'a'), now() + interval '31 days',
  'events_compacted_at says when');
select is((select count(*)::int from public.session_players where session_id = :'a'), 1, 'the party stays as history');
select is(
  array(select type from public.session_events where session_id = :'b' order by seq),
  array['session_status', 'session_ended'], 'the cancelled lobby keeps its summary');
select ok((select count(*) from public.session_events where session_id = :'live') > 2
  and (select events_compacted_at from public.sessions where id = :'live') is null,
  'a live session''s log is never compacted, however old the session');

-- the participants still read the compacted log through the API
select tests.act_as(:'pia');
select is(jsonb_array_length(public.session_events_since(:'a', 0)::jsonb), 3, 'a player replays the summary');
select tests.reset_role();

-- scheduled where pg_cron exists
select ok(tests.cron_scheduled('select seer_private.compact_event_logs()', '* * * * *'),
  'pg_cron (where installed) runs the compaction every minute');

select * from finish();
rollback;
