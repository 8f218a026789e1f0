-- The sweeper's reads stay bounded by live seats. Seats of running (active/paused) sessions
-- are in its running-seat indexes (session_players.session_running); lobby seats are in
-- their own partial indexes (20261125200200) only while live and connected or recently
-- disconnected: since issue 13 a lobby seat without heartbeats is disconnected after 60 s and
-- freed 5 minutes later, so abandoned lobbies do not pile up in what an idle sweep reads.
begin;
\ir _helpers.psql
select plan(15);

-- Set before the first sweep of this connection (plpgsql caches the sweeper's plans per
-- connection): a test database is small enough for a sequential scan of session_players to
-- win, and that would read every seat whatever the indexes hold. With seq scans off the
-- planner has to use the partial indexes, and what they hold is what this file checks.
set local enable_seqscan = off;

-- Other suites may have committed live sessions (and dead seat versions still in the
-- indexes) to this cluster. The sweeps below run at T, a year ago, and this file's stale
-- seats are stale relative to T, so nothing of theirs is due or even in the index ranges read.
select now() - interval '1 year' as t \gset

-- Entries read from session_players and its indexes by this transaction so far.
create function tests.seat_reads()
returns bigint
language sql
as $$
  select sum(pg_stat_get_xact_tuples_returned(c.oid))::bigint
  from pg_class c
  where c.oid = 'public.session_players'::regclass
     or c.oid in (select i.indexrelid from pg_index i where i.indrelid = 'public.session_players'::regclass)
$$;

select tests.create_user('seer') as seer \gset
select tests.create_user('lia') as lia \gset
select tests.create_user('lou') as lou \gset
select tests.create_user('lex') as lex \gset
select tests.create_user('ada') as ada \gset
select tests.create_user('ben') as ben \gset
select tests.make_character(:'lia') as lia_char \gset
select tests.make_character(:'lou') as lou_char \gset
select tests.make_character(:'lex') as lex_char \gset
select tests.make_character(:'ada') as ada_char \gset
select tests.make_character(:'ben') as ben_char \gset

-- a running game with late joins allowed, and a lobby
select tests.new_session(:'seer') as w \gset
select tests.act_as(:'seer');
select (public.create_session('00000000-0000-4000-8000-00000000a001', '{"allowLateJoin": true}')::jsonb ->> 'id') as a \gset
select tests.reset_role();
select tests.join(:'a', :'ada', :'ada_char') as ada_seat \gset
select is((select bool_or(session_running) from public.session_players where session_id = :'a'), false,
  'lobby seats are not in a running session');
select tests.act_as(:'seer');
select public.start_session(:'a')::jsonb \g /dev/null
select tests.reset_role();
select tests.join(:'a', :'ben', :'ben_char') as ben_seat \gset

-- three seats join the lobby
select tests.join(:'w', :'lia', :'lia_char') as lia_seat \gset
select tests.join(:'w', :'lou', :'lou_char') as lou_seat \gset
select tests.join(:'w', :'lex', :'lex_char') as lex_seat \gset

select is((select session_running from public.session_players where id = :'ada_seat'), true,
  'start_session marks the party''s seats as running');
select is((select session_running from public.session_players where id = :'ben_seat'), true,
  'a late joiner''s seat is running from the start');
select is((select count(*)::int from public.session_players where session_id = :'w' and not session_running), 3,
  'the lobby''s seats stay out of the running-seat indexes');

-- The lobby was abandoned an hour before T: its seats have not sent a heartbeat since.
update public.session_players set last_activity_at = :'t'::timestamptz - interval '1 hour' where session_id = :'w';

select is(seer_private.sweep(:'t'),
  '{"disconnected": 3, "inactive": 0, "lobbyFreed": 0, "waitingCancelled": 0, "pausedCancelled": 0, "seerDisconnected": 0, "seerAwayPaused": 0}'::jsonb,
  'stale lobby seats are disconnected like running ones');
select is(seer_private.sweep(:'t'::timestamptz + interval '5 minutes 1 second'),
  '{"disconnected": 0, "inactive": 0, "lobbyFreed": 3, "waitingCancelled": 0, "pausedCancelled": 0, "seerDisconnected": 0, "seerAwayPaused": 0}'::jsonb,
  'and freed 5 minutes later');
select is(seer_private.sweep(:'t'::timestamptz + interval '5 minutes 1 second'),
  '{"disconnected": 0, "inactive": 0, "lobbyFreed": 0, "waitingCancelled": 0, "pausedCancelled": 0, "seerDisconnected": 0, "seerAwayPaused": 0}'::jsonb,
  'an idle sweep then finds nothing due');
-- (their dead index entries are read until vacuum, which a test transaction cannot run)
select is((select count(*)::int from public.session_players
           where session_id = :'w' and status in ('connected', 'disconnected') and not session_running
             and left_at is null and not session_ended), 0,
  'freed lobby seats leave the lobby indexes'' predicates, so abandoned lobbies do not pile up there');

-- The counter is real: a due seat of the running game is read (and swept).
update public.session_players set last_activity_at = :'t'::timestamptz - interval '2 minutes' where id = :'ada_seat';
select tests.seat_reads() as reads_before \gset
select is(seer_private.sweep(:'t'),
  '{"disconnected": 1, "inactive": 0, "lobbyFreed": 0, "waitingCancelled": 0, "pausedCancelled": 0, "seerDisconnected": 0, "seerAwayPaused": 0}'::jsonb,
  'a stale seat of a running session is disconnected');
select cmp_ok(tests.seat_reads() - :reads_before, '>=', 1::bigint, 'and that sweep did read seats');
select is((select status from public.session_players where id = :'ada_seat'), 'disconnected', 'ada is disconnected');

-- Pausing keeps the seats swept; ending takes them out.
select tests.act_as(:'seer');
select public.pause_session(:'a')::jsonb \g /dev/null
select tests.reset_role();
select is((select bool_and(session_running) from public.session_players where session_id = :'a'), true,
  'a paused session''s seats are still swept');
select tests.act_as(:'seer');
select public.end_session(:'a', 'completed')::jsonb \g /dev/null
select tests.reset_role();
select is((select bool_or(session_running) from public.session_players where session_id = :'a'), false,
  'ending the session takes its seats out of the sweeper''s indexes');
select seer_private.sweep(now() + interval '1 day 1 second') \g /dev/null
select is((select status from public.sessions where id = :'w'), 'cancelled', 'the abandoned lobby is cancelled after 24 h');
select is((select bool_or(session_running) from public.session_players where session_id = :'w'), false,
  'the cancelled lobby''s seats are not running');

select * from finish();
rollback;
