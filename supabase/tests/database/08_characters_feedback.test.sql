-- Characters, feedback, heartbeat and code-lookup reasons; input hardening.
begin;
\ir _helpers.psql
select plan(29);

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('stan') as stan \gset
select tests.create_user('kurt') as kurt \gset

-- characters
select tests.act_as(:'pia');
select public.create_character('  Pia the Bold ', 'Rogue') as c \gset
select is(:'c'::jsonb - 'id', jsonb_build_object('ownerId', :'pia', 'name', 'Pia the Bold', 'class', 'Rogue', 'level', 1, 'experience', 0),
  'create_character trims and returns a Character');
select is(tests.err($$select public.create_character('', 'Rogue')$$), 'SESSION_000:400', 'empty name -> 000');
select is(tests.err($$select public.create_character('   ', 'Rogue')$$), 'SESSION_000:400', 'blank name -> 000');
select is(tests.err($$select public.create_character(null, 'Rogue')$$), 'SESSION_000:400', 'null name -> 000');
select is(tests.err($$select public.create_character(repeat('x', 61), 'Rogue')$$), 'SESSION_000:400', 'name over 60 -> 000');
select is(tests.err($$select public.create_character('Pia', repeat('x', 41))$$), 'SESSION_000:400', 'class over 40 -> 000');
select is(tests.err($$select public.create_character('Pia', null)$$), 'SESSION_000:400', 'missing class -> 000');
select is(tests.err($$select public.create_character(repeat('x', 1000000), 'Rogue')$$), 'SESSION_000:400', '1 MB name -> 000, not 500');
select is(tests.err_details($$select public.create_character('', 'Rogue')$$), 'name is required', 'details name the field');
select is((select array_agg(e ->> 'name') from jsonb_array_elements(public.list_my_characters()) e), array['Pia the Bold'],
  'list_my_characters lists own characters');
select is(public.list_my_characters() -> 0 -> 'activeSessionId', 'null'::jsonb, 'not in a session yet');
select tests.act_as(:'stan');
select is(public.list_my_characters(), '[]'::jsonb, 'others see none of them');
select tests.reset_role();

-- feedback
select tests.new_session(:'seer') as s \gset
select tests.join(:'s', :'pia', (:'c'::jsonb ->> 'id')::uuid) \g /dev/null
select tests.join(:'s', :'kurt', tests.make_character(:'kurt')) as kurt_seat \gset
select tests.act_as(:'pia');
select is(tests.err(format('select public.submit_feedback(%L, 5)', :'s')), 'SESSION_010:422', 'no feedback before the end');
select tests.act_as(:'seer');
select is(public.heartbeat(:'s') - 'serverTime',
  jsonb_build_object('sessionId', :'s', 'playerId', null, 'status', 'seer', 'restored', false,
                     'sessionStatus', 'waiting', 'lastSeq', (select last_seq from public.sessions where id = :'s'),
                     'readmit', null, 'channelGeneration', 0),
  'the Seer''s heartbeat, with the session''s status and last seq');
select public.kick_player(:'s', :'kurt_seat') \g /dev/null
select public.start_session(:'s')::jsonb \g /dev/null
select public.end_session(:'s', 'completed')::jsonb \g /dev/null
select is(tests.err(format('select public.submit_feedback(%L, 5)', :'s')), 'SESSION_006:403', 'the Seer does not rate');
select tests.act_as(:'kurt');
select is(tests.err(format('select public.submit_feedback(%L, 5)', :'s')), 'SESSION_006:403', 'a kicked player cannot rate');
select tests.act_as(:'stan');
select is(tests.err(format('select public.submit_feedback(%L, 5)', :'s')), 'SESSION_001:404', 'a stranger cannot rate');
select is(tests.err(format('select public.submit_feedback(%L, 5)', gen_random_uuid())), 'SESSION_001:404', 'unknown session -> 001');
select tests.act_as(:'pia');
select is(tests.err(format('select public.submit_feedback(%L, 0)', :'s')), 'SESSION_000:400', 'rating 0 -> 000');
select is(tests.err(format('select public.submit_feedback(%L, 6)', :'s')), 'SESSION_000:400', 'rating 6 -> 000');
select is(tests.err(format('select public.submit_feedback(%L, null)', :'s')), 'SESSION_000:400', 'no rating -> 000');
select is(tests.err(format('select public.submit_feedback(%L, 3, %L)', :'s', repeat('x', 2001))), 'SESSION_000:400',
  'comment over 2000 -> 000');
select is(public.submit_feedback(:'s', 3, 'Fun') - 'createdAt', jsonb_build_object('sessionId', :'s', 'rating', 3, 'comment', 'Fun'),
  'feedback shape');
select tests.reset_role();

-- code lookup reasons per caller
select tests.new_session(:'seer', 6) as w \gset
select code as w_code from public.sessions where id = :'w' \gset
select tests.join(:'w', :'pia', (:'c'::jsonb ->> 'id')::uuid) \g /dev/null
select tests.act_as(:'seer');
select is(public.get_session_by_code(:'w_code') ->> 'reason', 'You are the Seer of this session', 'reason for the Seer');
select tests.act_as(:'pia');
select is(public.get_session_by_code(:'w_code') ->> 'reason', 'You are already in this session', 'reason for a seated player');
select tests.act_as(:'seer');
select public.start_session(:'w')::jsonb \g /dev/null
select tests.act_as(:'stan');
select is(public.get_session_by_code(:'w_code') ->> 'reason', 'Session has already started', 'reason once started');
select is(public.get_session_by_code(:'w_code') -> 'session' ->> 'playerCount', '1', 'preview counts players');

-- a JWT without sub is a 401, not a crash
select set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"role":"authenticated"}', true) \g /dev/null
select is(tests.err('select public.list_my_characters()'), 'PGRST301:401', 'authenticated without sub -> 401');
select set_config('request.jwt.claims', '{"sub":"not-a-uuid"}', true) \g /dev/null
select is(tests.err('select public.list_my_characters()'), 'PGRST301:401', 'garbage sub -> 401');
select tests.reset_role();

select * from finish();
rollback;
