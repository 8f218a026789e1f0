-- Realtime authorization: RLS on realtime.messages for the private keyed topic
-- session:<uuid>:<key>, and the session_topic RPC that hands the current topic to
-- participants. Realtime evaluates the policies as the joining user with realtime.topic set;
-- so do we.
begin;
\ir _helpers.psql
select plan(37);

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('kurt') as kurt \gset
select tests.create_user('stan') as stan \gset
select tests.make_character(:'pia') as pia_char \gset
select tests.make_character(:'kurt') as kurt_char \gset
select tests.new_session(:'seer') as s \gset
select tests.join(:'s', :'pia', :'pia_char') \g /dev/null
select tests.join(:'s', :'kurt', :'kurt_char') as kurt_seat \gset
select topic as old_topic from seer_private.session_channels where session_id = :'s' \gset
select tests.call_as(:'seer', format('select public.kick_player(%L, %L)', :'s', :'kurt_seat')) \g /dev/null
select topic from seer_private.session_channels where session_id = :'s' \gset
select code from public.sessions where id = :'s' \gset

-- Read: what the user would receive on the topic; write: track presence / send a broadcast.
create function tests.rt_read(p_topic text) returns int language plpgsql as $$
declare n int;
begin
  perform set_config('realtime.topic', p_topic, true);
  select count(*) into n from realtime.messages where topic = p_topic;
  return n;
end $$;
create function tests.rt_write(p_topic text, p_extension text) returns text language plpgsql as $$
begin
  perform set_config('realtime.topic', p_topic, true);
  return tests.err(format($q$insert into realtime.messages (topic, extension, payload, event, private)
                            values (%L, %L, '{"x": 1}', 'hello', true)$q$, p_topic, p_extension));
end $$;

select ok(:'topic' ~ ('^session:' || :'s' || ':[0-9a-f]{32}$'), 'the topic is session:<id>:<128-bit key>');
select isnt(:'topic'::text, :'old_topic'::text, 'the kick rotated the key');

select tests.act_as(:'seer');
select is(tests.rt_read(:'topic'), 1, 'the Seer receives the broadcasts on the current topic (the kick event)');
select is(tests.rt_write(:'topic', 'presence'), 'ok', 'the Seer can track presence');
select is(tests.rt_write(:'topic', 'broadcast'), '42501', 'not even the Seer can send broadcasts (only the database does)');
select is(tests.rt_read(:'old_topic'), 0, 'the Seer cannot read the old topic any more');
select tests.act_as(:'pia');
select ok(tests.rt_read(:'topic') >= 1, 'a seated player with the current key receives them');
select is(tests.rt_write(:'topic', 'presence'), 'ok', 'a seated player can track presence');
select is(tests.rt_write(:'topic', 'broadcast'), '42501', 'a seated player cannot send broadcasts (no forged events)');
select is(tests.rt_write(:'topic', 'postgres_changes'), '42501', 'other extensions are refused');
select is(tests.rt_read(:'old_topic'), 0, 'a participant with the old key receives nothing');
select is(tests.rt_write(:'old_topic', 'presence'), '42501', 'a participant with the old key cannot track presence');
select is(tests.rt_read('session:' || :'s'), 0, 'the unkeyed topic session:<id> is not authorized');
select is(tests.rt_read('session:' || :'s' || ':' || repeat('0', 32)), 0, 'a guessed key is not authorized');
select is(tests.rt_write('session:' || gen_random_uuid() || ':' || repeat('0', 32), 'presence'), '42501',
  'another session''s topic is refused');
select tests.act_as(:'kurt');
select is(tests.rt_read(:'topic'), 0, 'a kicked player receives nothing on the current topic');
select is(tests.rt_read(:'old_topic'), 0, '... nor on the old one');
select is(tests.rt_write(:'topic', 'presence'), '42501', 'a kicked player cannot track presence');
select tests.act_as(:'stan');
select is(tests.rt_read(:'topic'), 0, 'a stranger receives nothing');
select is(tests.rt_write(:'topic', 'broadcast'), '42501', 'a stranger cannot send');
select is(tests.rt_write(:'topic', 'presence'), '42501', 'a stranger cannot track presence');
select is(tests.rt_read('session:not-a-uuid'), 0, 'a malformed topic is simply not authorized (no error)');
select is(tests.rt_write(:'topic' || 'x', 'presence'), '42501', 'a topic with trailing junk is refused');
select is(tests.rt_write('lobby', 'presence'), '42501', 'unrelated topics are refused');
select tests.act_as_anon();
select is(tests.rt_read(:'topic'), 0, 'anon receives nothing');

-- session_topic: the key only for participants
select is(tests.call_as(:'seer', format('select public.session_topic(%L)', :'s')) ->> 'topic', :'topic',
  'session_topic: the Seer gets the current topic');
select is(tests.call_as(:'pia', format('select public.session_topic(%L)', :'s')) ->> 'topic', :'topic',
  'session_topic: a seated player gets the current topic');
select is(tests.call_as(:'pia', format('select public.get_session(%L)::jsonb', :'s')) ->> 'topic', :'topic',
  'get_session includes the topic for participants');
select tests.act_as(:'kurt');
select is(tests.err(format('select public.session_topic(%L)', :'s')), 'SESSION_006:403',
  'session_topic: a kicked player gets SESSION_006');
select tests.act_as(:'stan');
select is(tests.err(format('select public.session_topic(%L)', :'s')), 'SESSION_001:404',
  'session_topic: a stranger gets SESSION_001');
select ok(position(split_part(:'topic', ':', 3) in public.get_session_by_code(:'code')::text) = 0,
  'the join preview a stranger sees holds no key');
select tests.act_as_anon();
select is(tests.err(format('select public.session_topic(%L)', :'s')), '42501', 'session_topic: anon is refused');
select tests.reset_role();

select is((select count(*)::int from realtime.messages m where m.topic = :'old_topic' and m.event = 'rekey'
           and (select array_agg(k order by k) from jsonb_object_keys(m.payload - 'id') k) = array['seq', 'sessionId', 'type']),
          1, 'the kick sent one content-free rekey poke {sessionId, seq, type} on the old topic');
select is((select count(*)::int from realtime.messages m where m.topic = :'old_topic' and m.event <> 'rekey'
           and (m.payload ->> 'seq')::bigint >= (select max(seq) from public.session_events where session_id = :'s')),
          0, 'the kick''s own event went to the new topic only (the kicked socket hears only the poke)');
select is((select count(*)::int from realtime.messages m
           where m.topic in (:'old_topic', :'topic') and m.extension = 'broadcast' and m.event <> 'rekey'),
          (select count(*)::int from public.session_events e where e.session_id = :'s'),
          'one broadcast per event in the log');
select is((select count(*)::int from realtime.messages m join public.session_events e
             on e.session_id = :'s' and e.seq = (m.payload ->> 'seq')::bigint
           where m.topic in (:'old_topic', :'topic') and m.event <> 'rekey' and m.payload - 'id' = e.payload),
          (select count(*)::int from public.session_events e where e.session_id = :'s'),
          'each broadcast is the whole event, as in the log');
select ok(not seer_private.can_use_session_topic(null) and not seer_private.can_use_session_topic('session:')
  and not seer_private.can_use_session_topic(repeat('x', 100000)), 'the topic parser is total');

select * from finish();
rollback;
