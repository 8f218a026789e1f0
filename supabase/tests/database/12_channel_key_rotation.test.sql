-- Every path that removes a participant rotates the session's channel key in the same
-- transaction (seer_private.rotate_session_channel), sends one content-free rekey poke on the
-- old topic and writes its own event to the new topic; staying a participant (a first leave
-- of a running game) does not rotate.
begin;
\ir _helpers.psql
select plan(21);

create function tests.topic_of(p_session uuid) returns text language sql as $$
  select topic from seer_private.session_channels where session_id = p_session
$$;
-- after a removal: did the key change, was there exactly one content-free poke on the old
-- topic, and did the removal's event (the last one) go to the new topic?
create function tests.rotated(p_session uuid, p_old text) returns text language sql as $$
  select case
    when tests.topic_of(p_session) = p_old then 'not rotated'
    when (select count(*) from realtime.messages m where m.topic = p_old and m.event = 'rekey'
          and (select array_agg(k order by k) from jsonb_object_keys(m.payload - 'id') k)
              = array['seq', 'sessionId', 'type']) <> 1 then 'no single content-free rekey poke'
    when not exists (select 1 from realtime.messages m where m.topic = tests.topic_of(p_session)
                     and (m.payload ->> 'seq')::bigint = (select last_seq from public.sessions where id = p_session))
      then 'the removal event is not on the new topic'
    when exists (select 1 from realtime.messages m where m.topic = p_old and m.event <> 'rekey'
                 and (m.payload ->> 'seq')::bigint = (select last_seq from public.sessions where id = p_session))
      then 'the removal event leaked to the old topic'
    else 'rotated'
  end
$$;

-- what session_topic answers a user (the error code, or 'ok')
create function tests.topic_answer(p_uid uuid, p_session uuid) returns text language plpgsql as $$
declare v text;
begin
  perform tests.act_as(p_uid);
  v := tests.err(format('select public.session_topic(%L)', p_session));
  perform tests.reset_role();
  return v;
end $$;

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('kurt') as kurt \gset
select tests.create_user('lena') as lena \gset
select tests.create_user('olga') as olga \gset
select tests.create_user('walt') as walt \gset
select tests.new_session(:'seer') as s \gset
select tests.join(:'s', :'pia', tests.make_character(:'pia')) \g /dev/null
select tests.join(:'s', :'kurt', tests.make_character(:'kurt')) as kurt_seat \gset
select tests.join(:'s', :'lena', tests.make_character(:'lena')) \g /dev/null
select tests.join(:'s', :'olga', tests.make_character(:'olga')) \g /dev/null
select tests.join(:'s', :'walt', tests.make_character(:'walt')) \g /dev/null

select is((select count(*)::int from seer_private.session_channels where session_id = :'s'), 1,
  'a new session has its channel key');
select ok(tests.topic_of(:'s') <> tests.topic_of(tests.new_session(:'seer')), 'each session has its own key');

-- kick
select tests.topic_of(:'s') as t0 \gset
select tests.call_as(:'seer', format('select public.kick_player(%L, %L)', :'s', :'kurt_seat')) \g /dev/null
select is(tests.rotated(:'s', :'t0'), 'rotated', 'kick rotates the key');
select is(tests.call_as(:'pia', format('select public.session_topic(%L)', :'s')) ->> 'topic', tests.topic_of(:'s'),
  'the remaining player reads the new topic');

-- leaving a waiting lobby
select tests.topic_of(:'s') as t1 \gset
select tests.call_as(:'lena', format('select public.leave_session(%L)', :'s')) \g /dev/null
select is(tests.rotated(:'s', :'t1'), 'rotated', 'leaving a waiting lobby rotates the key');
select is(tests.topic_answer(:'lena', :'s'), 'SESSION_006:403',
  'the player who left the lobby can no longer fetch the key');

-- the sweeper freeing an abandoned lobby seat
update public.session_players set status = 'disconnected', disconnected_at = now() - interval '10 minutes',
  last_activity_at = now() - interval '10 minutes'
where session_id = :'s' and user_id = :'walt';
select tests.topic_of(:'s') as t2 \gset
select seer_private.sweep(now()) \g /dev/null
select is((select status from public.session_players where session_id = :'s' and user_id = :'walt'), 'left',
  'the sweeper freed the abandoned lobby seat');
select is(tests.rotated(:'s', :'t2'), 'rotated', 'the sweeper freeing a lobby seat rotates the key');

-- a running game: the first leave keeps the seat (still a participant), the second frees it
select tests.call_as(:'seer', format('select public.start_session(%L)::jsonb', :'s')) \g /dev/null
select tests.topic_of(:'s') as t3 \gset
select tests.call_as(:'pia', format('select public.leave_session(%L)', :'s')) \g /dev/null
select is(tests.topic_of(:'s'), :'t3', 'a first leave of a running game keeps the key (the seat stays)');
select is(tests.call_as(:'pia', format('select public.session_topic(%L)', :'s')) ->> 'topic', :'t3',
  '... and the player may still read the topic');
select tests.call_as(:'pia', format('select public.leave_session(%L)', :'s')) \g /dev/null
select is(tests.rotated(:'s', :'t3'), 'rotated', 'leaving again (the seat is freed) rotates the key');
select is(tests.topic_answer(:'pia', :'s'), 'SESSION_006:403',
  'a player whose seat was freed can no longer fetch the key');

-- account deletion releasing a seat
select tests.topic_of(:'s') as t4 \gset
delete from auth.users where id = :'olga';
select is(tests.rotated(:'s', :'t4'), 'rotated', 'account deletion releasing a seat rotates the key');

-- the generation counts rotations; heartbeat and session_topic report it (a client that lost
-- the rekey poke sees at its next heartbeat that its topic is stale), never the key
select is((select generation from seer_private.session_channels where session_id = :'s'),
  (select count(*) from realtime.messages m where m.topic like 'session:' || :'s' || ':%' and m.event = 'rekey'),
  'the generation counts the rotations (one rekey poke each)');
select ok((select generation from seer_private.session_channels where session_id = :'s') >= 2,
  'several removals: several generations');
select is((tests.call_as(:'seer', format('select public.heartbeat(%L)', :'s')) ->> 'channelGeneration')::bigint,
  (select generation from seer_private.session_channels where session_id = :'s'),
  'heartbeat returns the current channel generation');
select is(tests.call_as(:'seer', format('select public.session_topic(%L)', :'s')),
  (select jsonb_build_object('topic', topic, 'generation', generation)
   from seer_private.session_channels where session_id = :'s'),
  'session_topic returns the topic with its generation');
select ok(position((select channel_key from seer_private.session_channels where session_id = :'s')
                   in tests.call_as(:'seer', format('select public.heartbeat(%L)', :'s'))::text) = 0,
  'the heartbeat never carries the key');

-- rotation is the one place the key changes, and it needs the session lock holder
select is((select count(*)::int from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname in ('public', 'seer_private') and p.prosrc like '%channel_key =%'), 1,
          'one function assigns channel keys (seer_private.rotate_session_channel)');
select tests.act_as(:'seer');
select is(tests.err(format('select seer_private.rotate_session_channel(%L)', :'s')), '42501',
  'API roles cannot rotate keys themselves');
select is(tests.err('select * from seer_private.session_channels'), '42501', 'nor read the keys');
select tests.reset_role();

select * from finish();
rollback;
