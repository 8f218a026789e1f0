-- Realtime authorization: RLS on realtime.messages for the private topic session:<uuid>.
-- Realtime evaluates these as the joining user with realtime.topic set; so do we.
begin;
\ir _helpers.psql
select plan(19);

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('kurt') as kurt \gset
select tests.create_user('stan') as stan \gset
select tests.make_character(:'pia') as pia_char \gset
select tests.make_character(:'kurt') as kurt_char \gset
select tests.new_session(:'seer') as s \gset
select tests.join(:'s', :'pia', :'pia_char') \g /dev/null
select tests.join(:'s', :'kurt', :'kurt_char') as kurt_seat \gset
select tests.call_as(:'seer', format('select public.kick_player(%L, %L)', :'s', :'kurt_seat')) \g /dev/null
select 'session:' || :'s' as topic \gset

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

select tests.act_as(:'seer');
select is(tests.rt_read(:'topic'), 4, 'the Seer receives the session''s broadcasts');
select is(tests.rt_write(:'topic', 'presence'), 'ok', 'the Seer can track presence');
select is(tests.rt_write(:'topic', 'broadcast'), '42501', 'not even the Seer can send broadcasts (only the database does)');
select tests.act_as(:'pia');
select ok(tests.rt_read(:'topic') >= 4, 'a seated player receives them');
select is(tests.rt_write(:'topic', 'presence'), 'ok', 'a seated player can track presence');
select is(tests.rt_write(:'topic', 'broadcast'), '42501', 'a seated player cannot send broadcasts (no forged events)');
select is(tests.rt_write(:'topic', 'postgres_changes'), '42501', 'other extensions are refused');
select is(tests.rt_write('session:' || gen_random_uuid(), 'presence'), '42501', 'another session''s topic is refused');
select tests.act_as(:'kurt');
select is(tests.rt_read(:'topic'), 0, 'a kicked player receives nothing');
select is(tests.rt_write(:'topic', 'presence'), '42501', 'a kicked player cannot track presence');
select tests.act_as(:'stan');
select is(tests.rt_read(:'topic'), 0, 'a stranger receives nothing');
select is(tests.rt_write(:'topic', 'broadcast'), '42501', 'a stranger cannot send');
select is(tests.rt_read('session:not-a-uuid'), 0, 'a malformed topic is simply not authorized (no error)');
select is(tests.rt_write('session:' || :'s' || 'x', 'presence'), '42501', 'a topic with trailing junk is refused');
select is(tests.rt_write('lobby', 'presence'), '42501', 'unrelated topics are refused');
select tests.act_as_anon();
select is(tests.rt_read(:'topic'), 0, 'anon receives nothing');
select tests.reset_role();
select is((select count(*)::int from realtime.messages m where m.topic = :'topic' and m.extension = 'broadcast'
           and (select array_agg(k order by k) from jsonb_object_keys(m.payload - 'id') k) <> array['seq', 'sessionId', 'type']),
          0, 'database broadcasts are content-free pokes: sessionId, seq, type (and realtime.send''s id) only');
select is((select count(*)::int from realtime.messages m where m.topic = :'topic' and m.extension = 'broadcast'),
          (select count(*)::int from public.session_events e where e.session_id = :'s'),
          'one poke per event in the log');
select ok(not seer_private.can_use_session_topic(null) and not seer_private.can_use_session_topic('session:')
  and not seer_private.can_use_session_topic(repeat('x', 100000)), 'the topic parser is total');

select * from finish();
rollback;
