-- US-07 disconnection handling and the appendix timeouts, with travelled time (p_now).
begin;
\ir _helpers.psql
select plan(51);

-- The sweeper works on the whole database and other test suites may have committed live
-- sessions to this cluster. Sweep far in the future first (rolled back with the test), so
-- everything that exists before this test is out of the way: lobbies and pauses cancelled,
-- seats disconnected with a far-future timestamp that the sweeps below never reach.
select seer_private.sweep(now() + interval '100 years') \g /dev/null

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('quin') as quin \gset
select tests.create_user('rita') as rita \gset
select tests.create_user('uma') as uma \gset
select tests.make_character(:'pia', 'Pia') as pia_char \gset
select tests.make_character(:'quin', 'Quin the Quiet') as quin_char \gset
select tests.make_character(:'rita') as rita_char \gset
select tests.make_character(:'uma') as uma_char \gset

select tests.new_session(:'seer') as a \gset
select tests.join(:'a', :'pia', :'pia_char') as pia_seat \gset
select tests.join(:'a', :'quin', :'quin_char') as quin_seat \gset
select tests.new_session(:'seer') as w \gset
select tests.join(:'w', :'rita', :'rita_char') as rita_seat \gset
select tests.new_session(:'seer') as p \gset
select tests.join(:'p', :'uma', :'uma_char') as uma_seat \gset
select tests.act_as(:'seer');
select public.start_session(:'a')::jsonb \g /dev/null
select public.start_session(:'p')::jsonb \g /dev/null
select public.pause_session(:'p')::jsonb \g /dev/null
select tests.reset_role();

select is(seer_private.sweep(now() + interval '30 seconds'),
  '{"disconnected": 0, "inactive": 0, "lobbyFreed": 0, "waitingCancelled": 0, "pausedCancelled": 0, "seerDisconnected": 0, "seerAwayPaused": 0}'::jsonb,
  'nothing is due after 30 s');
select is(seer_private.sweep(now() + interval '61 seconds'),
  '{"disconnected": 4, "inactive": 0, "lobbyFreed": 0, "waitingCancelled": 0, "pausedCancelled": 0, "seerDisconnected": 0, "seerAwayPaused": 0}'::jsonb,
  'after 60 s without heartbeat the seats of active, paused and waiting sessions are disconnected');
select is(seer_private.sweep(now() + interval '61 seconds'),
  '{"disconnected": 0, "inactive": 0, "lobbyFreed": 0, "waitingCancelled": 0, "pausedCancelled": 0, "seerDisconnected": 0, "seerAwayPaused": 0}'::jsonb,
  'a second run at the same time finds nothing due');
select is((select status from public.session_players where id = :'rita_seat'), 'disconnected',
  'issue 13: a lobby seat without heartbeats is marked disconnected like a running one');
select is((select status from public.session_players where id = :'pia_seat'), 'disconnected', 'US-07: pia disconnected');
select is((select disconnected_at from public.session_players where id = :'pia_seat'), now() + interval '61 seconds',
  'disconnected_at is the sweep time');
select is(
  (select payload - 'seq' - 'timestamp' - 'sessionId' from public.session_events
   where session_id = :'a' and type = 'player_connection' and payload ->> 'playerId' = :'pia_seat'),
  jsonb_build_object('type', 'player_connection', 'actor', null, 'playerId', :'pia_seat', 'userId', :'pia',
                     'isConnected', false, 'status', 'disconnected'),
  'US-07: others see "reconnecting" (player_connection isConnected=false)');
select is(
  (select (payload ->> 'timestamp')::timestamptz from public.session_events
   where session_id = :'a' and type = 'player_connection' and payload ->> 'playerId' = :'pia_seat'),
  now() + interval '61 seconds', 'sweeper events are stamped with p_now');
select tests.act_as(:'seer');
select is(
  (select p ->> 'isConnected' from jsonb_array_elements(public.get_session(:'a')::jsonb -> 'players') p where p ->> 'id' = :'pia_seat'),
  'false', 'the Seer''s view shows the player as not connected');

-- pia reconnects within the window
select tests.act_as(:'pia');
select public.heartbeat(:'a') as hb \gset
select is(:'hb'::jsonb ->> 'restored', 'true', 'US-07: a heartbeat within the window restores the seat');
select is(:'hb'::jsonb ->> 'status', 'connected', 'status connected again');
select is(:'hb'::jsonb ->> 'playerId', :'pia_seat', 'heartbeat names the seat');
select is(public.heartbeat(:'a') ->> 'restored', 'false', 'a heartbeat from a connected seat restores nothing');
-- The common heartbeat writes one HOT row version of the seat's narrow liveness row (no index
-- entry), and neither the seat nor the session row.
create function pg_temp.write_counts() returns bigint[] language sql as $$
  select array[pg_stat_get_xact_tuples_updated('seer_private.seat_liveness'::regclass),
               pg_stat_get_xact_tuples_hot_updated('seer_private.seat_liveness'::regclass),
               pg_stat_get_xact_tuples_updated('public.session_players'::regclass),
               pg_stat_get_xact_tuples_updated('public.sessions'::regclass)]
$$;
select pg_temp.write_counts() as counts_before \gset
select public.heartbeat(:'a') as hb \gset
select is(
  (select array[c[1] - b[1], c[2] - b[2], c[3] - b[3], c[4] - b[4]]
   from (select pg_temp.write_counts() c, :'counts_before'::bigint[] b) x),
  array[1, 1, 0, 0]::bigint[],
  'a connected player''s heartbeat is one HOT update of its liveness row: no seat, no session write');
select is(:'hb'::jsonb -> 'lastSeq', (select to_jsonb(last_seq) from public.sessions where id = :'a'),
  'the heartbeat answers the session''s last seq');
select is(:'hb'::jsonb ->> 'sessionStatus', 'active', 'and its status');
select tests.reset_role();
select is(
  (select payload ->> 'isConnected' from public.session_events where session_id = :'a' and type = 'player_connection'
   order by seq desc limit 1), 'true', 'reconnection is announced');
select is((select count(*)::int from public.session_events where session_id = :'a' and type = 'player_connection'), 3,
  'only one event per state change (a plain heartbeat writes none)');
-- pia keeps sending heartbeats: pretend her last one was 6 minutes from now
update public.session_players set last_activity_at = now() + interval '6 minutes' where id = :'pia_seat';

select is(seer_private.sweep(now() + interval '362 seconds'),
  '{"disconnected": 0, "inactive": 1, "lobbyFreed": 1, "waitingCancelled": 0, "pausedCancelled": 0, "seerDisconnected": 0, "seerAwayPaused": 0}'::jsonb,
  'after 5 minutes disconnected: the active session''s seat becomes inactive, the lobby seat is freed, the paused one stays');
select is((select status from public.session_players where id = :'uma_seat'), 'disconnected',
  'issue 13: no kick-or-wait prompt for an absence during a pause');
select is((select status || '/' || (left_at is not null)::text from public.session_players where id = :'rita_seat'),
  'left/true', 'issue 13: the abandoned lobby seat is freed');
select is((select payload ->> 'reason' from public.session_events where session_id = :'w' and type = 'player_left'),
  'disconnected', '... announced as player_left, reason disconnected');
select is((select status from public.session_players where id = :'quin_seat'), 'inactive', 'quin is inactive');
select is((select status from public.session_players where id = :'pia_seat'), 'connected', 'pia, who kept beating, is not');
select is(
  (select payload - 'seq' - 'timestamp' - 'sessionId' from public.session_events where session_id = :'a' and type = 'player_inactive'),
  jsonb_build_object('type', 'player_inactive', 'actor', null, 'playerId', :'quin_seat', 'userId', :'quin',
    'characterId', :'quin_char', 'characterName', 'Quin the Quiet', 'disconnectedAt', now() + interval '61 seconds'),
  'US-07: the Seer gets a kick-or-wait prompt (player_inactive)');
select tests.act_as(:'seer');
select is(
  (select p ->> 'controlledBySeer' from jsonb_array_elements(public.get_session(:'a')::jsonb -> 'players') p where p ->> 'id' = :'quin_seat'),
  'true', 'US-07: the Seer now controls the character; the game continues');
select is(public.get_session(:'a')::jsonb ->> 'status', 'active', 'the session is still active');
select tests.act_as(:'quin');
select is(public.heartbeat(:'a') ->> 'restored', 'false',
  'issue 13: after the 5-minute window a heartbeat does not restore the seat: the Seer decides');
select is(public.join_session(:'a', :'quin_char')::jsonb -> 'player' ->> 'status', 'inactive',
  '... nor does joining again (the answer: readmit requested, issue 22)');
select tests.act_as(:'seer');
select is(public.readmit_player(:'a', :'quin_seat') ->> 'status', 'disconnected',
  'the Seer''s "wait": readmit_player puts the seat back to disconnected');
select tests.act_as(:'quin');
select is(public.heartbeat(:'a') ->> 'restored', 'true', 'then the player''s heartbeat restores it');
select tests.reset_role();
select is((select status from public.session_players where id = :'quin_seat'), 'connected', 'quin connected again');
-- resume restarts the window of a seat that was away during the pause
select tests.act_as(:'seer');
select public.resume_session(:'p')::jsonb \g /dev/null
select public.pause_session(:'p')::jsonb \g /dev/null
select tests.reset_role();
select is((select disconnected_at from public.session_players where id = :'uma_seat'), now(),
  'issue 13: resume restarts the 5 minutes of a seat away during the pause');

-- session timeouts
select is((seer_private.sweep(now() + interval '23 hours') ->> 'waitingCancelled')::int, 0, 'a 23 h old lobby stays');
select is((select status from public.sessions where id = :'w'), 'waiting', 'still waiting');
select is((seer_private.sweep(now() + interval '24 hours 1 second') ->> 'waitingCancelled')::int, 1,
  'a lobby older than 24 h is cancelled');
select is((select status || '/' || outcome from public.sessions where id = :'w'), 'cancelled/cancelled', 'waiting -> cancelled');
select results_eq(
  format($$select type, payload ->> 'newStatus', payload ->> 'outcome', (payload ->> 'timestamp')::timestamptz
           from public.session_events where session_id = %L and type in ('session_status', 'session_ended')
           order by seq$$, :'w'),
  $$values ('session_status', 'cancelled', null, now() + interval '24 hours 1 second'),
           ('session_ended', null, 'cancelled', now() + interval '24 hours 1 second')$$,
  'timeouts announce session_status and session_ended');
select is((select status from public.sessions where id = :'p'), 'paused', 'US-05: a paused session survives a day');
select is((seer_private.sweep(now() + interval '6 days 23 hours') ->> 'pausedCancelled')::int, 0, 'and almost 7 days');
select is((seer_private.sweep(now() + interval '7 days 1 second') ->> 'pausedCancelled')::int, 1, 'after 7 days paused it is cancelled');
select is((select status from public.sessions where id = :'p'), 'cancelled', 'paused -> cancelled');
select is((select session_ended from public.session_players where id = :'uma_seat'), true, 'its seats are released');
select is((seer_private.sweep(now() + interval '30 days') ->> 'pausedCancelled')::int, 0, 'nothing left to cancel');
select is((select status from public.sessions where id = :'a'), 'active', 'active sessions never time out');
select is(
  array(select seq::int from public.session_events where session_id = :'a' order by seq),
  array(select generate_series(1, (select last_seq::int from public.sessions where id = :'a'))),
  'sweeper events keep seqs gap-free');

-- only service_role can run it over the API
select tests.act_as(:'seer');
select is(tests.err('select public.sweep_sessions()'), '42501', 'authenticated cannot run the sweeper');
select tests.act_as_anon();
select is(tests.err('select public.sweep_sessions()'), '42501', 'anon cannot run the sweeper');
select tests.act_as_service();
select is(public.sweep_sessions(now() + interval '31 days') ->> 'pausedCancelled', '0', 'service_role can');
select tests.reset_role();

select ok(
  (select count(*) from pg_indexes where schemaname = 'public' and indexname in (
     'sessions_waiting_created_idx', 'sessions_paused_at_idx',
     'session_players_disconnected_due_idx', 'session_players_lobby_disconnected_idx')) = 4,
  'partial indexes serve every sweeper query but the connected seats''');
-- (pg_cron is part of the test cluster; where it is missing the migration skips scheduling)
select ok(tests.cron_scheduled('select seer_private.sweep()', '* * * * *'),
  'pg_cron (where installed) runs the sweeper every minute');

select * from finish();
rollback;
