-- Issue 24: public.heartbeat_batch, the heartbeats of many callers in one transaction for the
-- collector (the `heartbeat` Edge Function). Who may call it, what it refreshes, what it leaves
-- to the caller's own heartbeat, and that bad input changes nothing.
begin;
\ir _helpers.psql
select plan(22);

select seer_private.sweep(now() + interval '100 years') \g /dev/null

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('quin') as quin \gset
select tests.create_user('stranger') as stranger \gset
select tests.make_character(:'pia', 'Pia') as pia_char \gset
select tests.make_character(:'quin', 'Quin') as quin_char \gset

select tests.new_session(:'seer') as a \gset
select tests.join(:'a', :'pia', :'pia_char') as pia_seat \gset
select tests.join(:'a', :'quin', :'quin_char') as quin_seat \gset
select tests.act_as(:'seer');
select public.start_session(:'a')::jsonb \g /dev/null
-- the Seer's first heartbeat gives them their liveness row (the fast path needs it)
select public.heartbeat(:'a') \g /dev/null
select tests.reset_role();

-- who may call it
select tests.act_as(:'pia');
select is(tests.err(format($$select public.heartbeat_batch('[{"sessionId": "%s", "userId": "%s"}]')$$, :'a', :'seer')),
  '42501', 'a signed-in user may not give user ids');
select tests.reset_role();
select ok(not has_function_privilege('anon', 'public.heartbeat_batch(jsonb)', 'execute')
          and not has_function_privilege('authenticated', 'public.heartbeat_batch(jsonb)', 'execute')
          and has_function_privilege('service_role', 'public.heartbeat_batch(jsonb)', 'execute'),
  'heartbeat_batch is for service_role only');

-- quin is disconnected by a sweep; the liveness times are old
update seer_private.seat_liveness set last_heartbeat_at = now() - interval '61 seconds' where player_id = :'quin_seat';
select seer_private.sweep(now()) \g /dev/null
update seer_private.seat_liveness set last_heartbeat_at = now() - interval '20 seconds' where player_id = :'pia_seat';
update seer_private.seer_liveness set last_heartbeat_at = now() - interval '20 seconds' where session_id = :'a';
select last_seq as seq_before from public.sessions where id = :'a' \gset

select tests.act_as_service();
select public.heartbeat_batch(jsonb_build_array(
  jsonb_build_object('sessionId', :'a', 'userId', :'pia'),
  jsonb_build_object('sessionId', :'a', 'userId', :'seer'),
  jsonb_build_object('sessionId', :'a', 'userId', :'quin'),
  jsonb_build_object('sessionId', :'a', 'userId', :'stranger'),
  jsonb_build_object('sessionId', gen_random_uuid(), 'userId', :'pia'),
  jsonb_build_object('sessionId', :'a', 'userId', :'pia')))::jsonb as answer \gset
select current_setting('synchronous_commit') as sync \gset
select tests.reset_role();

select is(jsonb_array_length(:'answer'), 6, 'one answer per beat');
select is((:'answer'::jsonb -> 0) - 'serverTime',
  (tests.call_as(:'pia', format('select public.heartbeat(%L)', :'a')) - 'serverTime')
    || jsonb_build_object('userId', :'pia'),
  'a connected seat gets what its own heartbeat answers, with its userId');
select is(:'answer'::jsonb -> 1 ->> 'status', 'seer', 'a connected Seer is refreshed');
select is(:'answer'::jsonb -> 1 ->> 'playerId', null, 'the Seer has no seat');
select is(:'answer'::jsonb -> 2, 'null'::jsonb, 'a disconnected seat is left to its own heartbeat');
select is(:'answer'::jsonb -> 3, 'null'::jsonb, 'a stranger is left to their own heartbeat (which refuses them)');
select is(:'answer'::jsonb -> 4, 'null'::jsonb, 'so is a session the user has no seat in');
select is(:'answer'::jsonb -> 5, :'answer'::jsonb -> 0, 'a beat given twice is answered twice');
select is((select last_heartbeat_at from seer_private.seat_liveness where player_id = :'pia_seat'), now(),
  'the seat''s liveness time is refreshed');
select is((select last_heartbeat_at from seer_private.seer_liveness where session_id = :'a'), now(),
  'the Seer''s liveness time is refreshed');
select is((select status from public.session_players where id = :'quin_seat'), 'disconnected',
  'the disconnected seat is not restored by the batch');
select is((select last_seq from public.sessions where id = :'a'), :'seq_before'::bigint, 'the batch writes no event');
select is(:'sync'::text, 'off', 'the batch commits without waiting for the WAL flush, as a fast heartbeat does');
-- the caller's own heartbeat does the rest
select is(tests.call_as(:'quin', format('select public.heartbeat(%L)', :'a')) ->> 'restored', 'true',
  'the disconnected player''s own heartbeat restores the seat');

-- bad input: a clear SESSION_000, nothing refreshed
update seer_private.seat_liveness set last_heartbeat_at = now() - interval '20 seconds' where player_id = :'pia_seat';
select tests.act_as_service();
select is(tests.err($$select public.heartbeat_batch('{"sessionId": "x"}')$$), 'SESSION_000:400', 'not an array');
select is(tests.err($$select public.heartbeat_batch('[]')$$), 'SESSION_000:400', 'an empty batch');
select is(tests.err(format($$select public.heartbeat_batch(%L)$$,
            (select jsonb_agg(jsonb_build_object('sessionId', :'a', 'userId', :'pia')) from generate_series(1, 1001)))),
  'SESSION_000:400', 'more than 1,000 beats');
select is(tests.err(format($$select public.heartbeat_batch('[{"sessionId": "%s", "userId": "%s"}, {"sessionId": "%s"}]')$$,
            :'a', :'pia', :'a')),
  'SESSION_000:400', 'a beat without its userId');
select is(tests.err(format($$select public.heartbeat_batch('[{"sessionId": "%s", "userId": "%s"}, 7]')$$, :'a', :'pia')),
  'SESSION_000:400', 'a beat that is not an object');
select tests.reset_role();
select is((select last_heartbeat_at from seer_private.seat_liveness where player_id = :'pia_seat'),
  now() - interval '20 seconds', 'a refused batch refreshes nothing');

select * from finish();
rollback;
