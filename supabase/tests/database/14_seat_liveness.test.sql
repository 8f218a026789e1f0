-- Issue 14: seer_private.seat_liveness holds exactly the connected live seats (one narrow row
-- each), whatever changes a seat; the heartbeat writes only there; who may read it.
begin;
\ir _helpers.psql
select plan(29);

-- other suites may have committed live sessions to this cluster: get them out of the way
select seer_private.sweep(now() + interval '100 years') \g /dev/null

-- The invariant, compared as sets: the seats that must have a liveness row and the rows.
create function pg_temp.liveness_drift() returns text[] language sql as $$
  select coalesce(array_agg(x order by x), '{}') from (
    (select 'missing ' || sp.id from public.session_players sp
     where sp.status = 'connected' and sp.left_at is null and not sp.session_ended and sp.user_id is not null
     except
     select 'missing ' || l.player_id from seer_private.seat_liveness l)
    union all
    (select 'stray ' || l.player_id from seer_private.seat_liveness l
     where not exists (select 1 from public.session_players sp
                       where sp.id = l.player_id and sp.session_id = l.session_id and sp.user_id = l.user_id
                         and sp.status = 'connected' and sp.left_at is null and not sp.session_ended))) d(x)
$$;

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('quin') as quin \gset
select tests.create_user('rita') as rita \gset
select tests.create_user('sam') as sam \gset
select tests.make_character(:'pia', 'Pia') as pia_char \gset
select tests.make_character(:'quin', 'Quin') as quin_char \gset
select tests.make_character(:'rita', 'Rita') as rita_char \gset
select tests.make_character(:'sam', 'Sam') as sam_char \gset

select tests.new_session(:'seer', 6, '{"allowLateJoin": true}') as a \gset
select tests.join(:'a', :'pia', :'pia_char') as pia_seat \gset
select tests.join(:'a', :'quin', :'quin_char') as quin_seat \gset
select tests.join(:'a', :'rita', :'rita_char') as rita_seat \gset
select is((select count(*)::int from seer_private.seat_liveness where session_id = :'a'), 3,
  'a join gives the seat its liveness row');
select is((select last_heartbeat_at from seer_private.seat_liveness where player_id = :'pia_seat'),
  (select last_activity_at from public.session_players where id = :'pia_seat'), 'stamped with the join time');
select is(pg_temp.liveness_drift(), '{}', 'rows = connected live seats after joins');

-- a lobby leave frees the seat: its row goes
select tests.act_as(:'rita');
select public.leave_session(:'a') \g /dev/null
select tests.reset_role();
select ok(not exists (select 1 from seer_private.seat_liveness where player_id = :'rita_seat'), 'a lobby leave removes the row');

select tests.act_as(:'seer');
select public.start_session(:'a')::jsonb \g /dev/null
select tests.reset_role();
select is(pg_temp.liveness_drift(), '{}', 'rows = connected live seats after start');

-- the heartbeat writes only the liveness row, and get_session shows its time
update seer_private.seat_liveness set last_heartbeat_at = now() - interval '40 seconds' where player_id = :'pia_seat';
select tests.act_as(:'pia');
select public.heartbeat(:'a') ->> 'status' as st \gset
select is(:'st'::text, 'connected', 'a connected heartbeat answers connected');
select tests.reset_role();
select is((select last_heartbeat_at from seer_private.seat_liveness where player_id = :'pia_seat'), now(),
  'the heartbeat refreshes the liveness row');
select is((select (p ->> 'lastActivityAt')::timestamptz from jsonb_array_elements(
            tests.call_as(:'seer', format('select public.get_session(%L)::jsonb', :'a')) -> 'players') p
           where p ->> 'id' = :'pia_seat'), now(), 'lastActivityAt is the last heartbeat');

-- a heartbeat 59 s before the sweep keeps the seat; the other one is disconnected
update seer_private.seat_liveness set last_heartbeat_at = now() - interval '30 seconds' where player_id = :'quin_seat';
select is((seer_private.sweep(now() + interval '59 seconds') ->> 'disconnected')::int, 1,
  'the sweep disconnects only the seat whose last heartbeat is over 60 s old');
select is((select status from public.session_players where id = :'quin_seat'), 'disconnected', 'quin is disconnected');
select is((select status from public.session_players where id = :'pia_seat'), 'connected', 'pia stays connected');
select ok(not exists (select 1 from seer_private.seat_liveness where player_id = :'quin_seat'),
  'a disconnected seat has no liveness row');
select is((select last_activity_at from public.session_players where id = :'quin_seat'), now() - interval '30 seconds',
  'the seat keeps its last heartbeat as last seen');
select is(pg_temp.liveness_drift(), '{}', 'rows = connected live seats after the sweep');

-- the heartbeat of a disconnected seat restores it and its row
select tests.act_as(:'quin');
select is(public.heartbeat(:'a') ->> 'restored', 'true', 'a heartbeat restores the disconnected seat');
select tests.reset_role();
select is((select last_heartbeat_at from seer_private.seat_liveness where player_id = :'quin_seat'), now(),
  'and gives it a fresh liveness row');

-- kick, a late join, the end of the session, account deletion
select tests.act_as(:'seer');
select public.kick_player(:'a', :'quin_seat', 'testing') \g /dev/null
select tests.reset_role();
select ok(not exists (select 1 from seer_private.seat_liveness where player_id = :'quin_seat'), 'a kick removes the row');
select tests.join(:'a', :'sam', :'sam_char') as sam_seat \gset
select ok(exists (select 1 from seer_private.seat_liveness where player_id = :'sam_seat'), 'a late join adds one');
select tests.new_session(:'seer') as b \gset
select tests.join(:'b', :'quin', :'quin_char') as quin_b \gset
select is(tests.err(format('delete from auth.users where id = %L', :'quin')), 'ok', 'an account is deleted');
select ok(not exists (select 1 from seer_private.seat_liveness where player_id = :'quin_b'),
  'its seats lose their rows');
select tests.act_as(:'seer');
select public.end_session(:'a', 'completed')::jsonb \g /dev/null
select tests.reset_role();
select is((select count(*)::int from seer_private.seat_liveness where session_id = :'a'), 0,
  'an ended session has no liveness rows');
select is(pg_temp.liveness_drift(), '{}', 'rows = connected live seats at the end');
select tests.act_as(:'pia');
select is(public.heartbeat(:'a') ->> 'sessionStatus', 'completed', 'a heartbeat after the end still answers');
select tests.reset_role();
select is((select count(*)::int from seer_private.seat_liveness where session_id = :'a'), 0, 'and writes no row');

-- a deleted session (cascading to its seats) leaves no rows behind
select tests.new_session(:'seer') as c \gset
select tests.join(:'c', :'rita', :'rita_char') as rita_c \gset
select ok(exists (select 1 from seer_private.seat_liveness where session_id = :'c'), 'a lobby seat has its row');
delete from public.sessions where id = :'c';
select ok(not exists (select 1 from seer_private.seat_liveness where session_id = :'c'),
  'deleting a session removes its seats'' rows');

-- who may read it: nobody over the API
select ok((select relrowsecurity from pg_class where oid = 'seer_private.seat_liveness'::regclass), 'RLS is enabled');
select ok(not has_table_privilege('authenticated', 'seer_private.seat_liveness', 'select')
          and not has_table_privilege('anon', 'seer_private.seat_liveness', 'select')
          and not has_table_privilege('authenticated', 'seer_private.seat_liveness', 'update'),
  'anon and authenticated can neither read nor write liveness rows');
select tests.act_as(:'pia');
select is(tests.err('select count(*) from seer_private.seat_liveness'), '42501', 'a signed-in user is refused');
select tests.reset_role();

select * from finish();
rollback;
