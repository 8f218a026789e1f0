-- US-02 join, US-03 lobby (see players, leave, kick, real-time updates), rejoin rules.
begin;
\ir _helpers.psql
select plan(70);

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('quin') as quin \gset
select tests.create_user('stan') as stan \gset
select tests.make_character(:'pia', 'Pia the Bold') as pia_char \gset
select tests.make_character(:'pia', 'Pia Again') as pia_char2 \gset
select tests.make_character(:'quin', 'Quin') as quin_char \gset
select tests.make_character(:'stan', 'Stan') as stan_char \gset
select tests.new_session(:'seer', 2) as s \gset
select code as s_code from public.sessions where id = :'s' \gset

-- US-02 join ------------------------------------------------------------------------------------
select tests.act_as(:'pia');
select public.join_session(:'s', :'pia_char')::jsonb as joined \gset
select is(:'joined'::jsonb -> 'player' ->> 'characterId', :'pia_char', 'US-02: joined with the chosen character');
select is(:'joined'::jsonb -> 'player' ->> 'status', 'connected', 'US-02: seat is connected');
select is(:'joined'::jsonb -> 'player' -> 'character' ->> 'name', 'Pia the Bold', 'US-02: character hydrated');
select is(:'joined'::jsonb -> 'player' ->> 'displayName', 'Pia', 'player display name');
select is(
  (select array_agg(k order by k) from jsonb_object_keys(:'joined'::jsonb -> 'player') k),
  array['character', 'characterId', 'controlledBySeer', 'displayName', 'id', 'isConnected', 'joinedAt',
        'kickReason', 'lastActivityAt', 'leftAt', 'leftReason', 'readmitRequestedAt', 'sessionId', 'status', 'userId'],
  'SessionPlayer has exactly the contract keys');
select is(jsonb_array_length(:'joined'::jsonb -> 'session' -> 'players'), 1, 'US-02: joined the lobby');
select is(tests.err(format('select public.join_session(%L, %L)::jsonb', :'s', :'pia_char2')), 'SESSION_008:409',
  'US-02: a user already in the session cannot join again (other character)');
select is(tests.err(format('select public.join_session(%L, %L)::jsonb', :'s', :'pia_char')), 'SESSION_008:409',
  'US-02: ... nor with the same character');
select tests.act_as(:'seer');
select is(tests.err(format('select public.join_session(%L, %L)::jsonb', :'s', :'stan_char')), 'SESSION_008:409',
  'the Seer cannot take a player seat');
select tests.act_as(:'quin');
select is(tests.err(format('select public.join_session(%L, %L)::jsonb', :'s', :'pia_char2')), 'SESSION_000:400',
  'US-02: only own characters');
select is(tests.err_details(format('select public.join_session(%L, %L)::jsonb', :'s', :'pia_char2')), 'characterId',
  'details name the field');
select is(tests.err(format('select public.join_session(%L, %L)::jsonb', :'s', gen_random_uuid())), 'SESSION_000:400',
  'unknown character -> 000');
select is(tests.err(format('select public.join_session(%L, null)::jsonb', :'s')), 'SESSION_000:400', 'missing character -> 000');
select is(tests.err(format('select public.join_session(%L, %L)::jsonb', gen_random_uuid(), :'quin_char')), 'SESSION_001:404',
  'unknown session -> 001');
select is(tests.err(format('select public.join_session(null, %L)::jsonb', :'quin_char')), 'SESSION_000:400', 'missing session -> 000');
select public.join_session(:'s', :'quin_char')::jsonb \g /dev/null

-- US-03 lobby ------------------------------------------------------------------------------------
select tests.act_as(:'pia');
select public.get_session(:'s')::jsonb as lobby \gset
select is((select array_agg(p ->> 'displayName' order by p ->> 'displayName') from jsonb_array_elements(:'lobby'::jsonb -> 'players') p),
  array['Pia', 'Quin'], 'US-03: all joined players are visible');
select is((select array_agg(p -> 'character' ->> 'name' order by p ->> 'displayName') from jsonb_array_elements(:'lobby'::jsonb -> 'players') p),
  array['Pia the Bold', 'Quin'], 'US-03: with their characters');
select is(:'lobby'::jsonb ->> 'seerName', 'Seer', 'US-03: Seer information');
select is(:'lobby'::jsonb ->> 'seerId', :'seer', 'US-03: Seer id');
select ok(:'lobby'::jsonb ->> 'adventureDescription' like 'A drowned lighthouse%', 'US-03: adventure description');
select is(:'lobby'::jsonb ->> 'adventureName', 'The Sunken Lantern', 'US-03: adventure title');

-- full
select tests.act_as(:'stan');
select is(tests.err(format('select public.join_session(%L, %L)::jsonb', :'s', :'stan_char')), 'SESSION_003:422',
  'US-02: cannot join a full session');
select is(public.get_session_by_code(:'s_code') ->> 'reason', 'Session is full',
  'the code lookup explains why');

-- leave before start frees the seat; rejoin is allowed
select tests.act_as(:'quin');
select is(public.leave_session(:'s'), '{"left": true}'::jsonb, 'US-03: players can leave before start');
select tests.reset_role();
select is((select status || '/' || left_reason from public.session_players where session_id = :'s' and user_id = :'quin'),
  'left/left', 'the lobby seat is released');
select tests.act_as(:'quin');
select is(tests.err(format('select public.get_session(%L)::jsonb', :'s')), 'SESSION_001:404', 'a player who left no longer sees the session');
select is(tests.err(format('select public.leave_session(%L)', :'s')), 'SESSION_006:403', 'leaving twice -> 006');
select is(tests.err(format('select public.heartbeat(%L)', :'s')), 'SESSION_006:403', 'heartbeat after leaving -> 006');
select is(public.join_session(:'s', :'quin_char')::jsonb -> 'player' ->> 'status', 'connected', 'a player who left may rejoin');
select tests.reset_role();
select is((select count(*)::int from public.session_players where session_id = :'s' and user_id = :'quin'), 2,
  'rejoining creates a new seat row (history kept)');

-- Seer cannot leave; strangers get 001
select tests.act_as(:'seer');
select is(tests.err(format('select public.leave_session(%L)', :'s')), 'SESSION_012:422', 'the Seer cannot leave');
select tests.act_as(:'stan');
select is(tests.err(format('select public.leave_session(%L)', :'s')), 'SESSION_001:404', 'a stranger leaving -> 001');

-- kick
select tests.reset_role();
select (select id from public.session_players where session_id = :'s' and user_id = :'quin' and left_at is null) as quin_seat \gset
select tests.act_as(:'pia');
select is(tests.err(format($$select public.kick_player(%L, %L, 'rude')$$, :'s', :'quin_seat')), 'SESSION_007:403',
  'US-03: only the Seer can kick');
select tests.act_as(:'stan');
select is(tests.err(format($$select public.kick_player(%L, %L)$$, :'s', :'quin_seat')), 'SESSION_001:404',
  'a stranger kicking -> 001');
select tests.act_as(:'seer');
select is(tests.err(format($$select public.kick_player(%L, %L, %L)$$, :'s', :'quin_seat', repeat('x', 501))), 'SESSION_000:400',
  'kick reason over 500 characters -> 000');
select is(tests.err(format($$select public.kick_player(%L, %L)$$, :'s', gen_random_uuid())), 'SESSION_000:400',
  'kicking an unknown seat -> 000');
select is(tests.err(format($$select public.kick_player(%L, null)$$, :'s')), 'SESSION_000:400', 'missing playerId -> 000');
select is(public.kick_player(:'s', :'quin_seat', 'Spoiling the puzzle'), '{"kicked": true}'::jsonb, 'US-03: the Seer kicks a player');
select tests.reset_role();
select is((select status || '/' || kick_reason from public.session_players where id = :'quin_seat'),
  'kicked/Spoiling the puzzle', 'the kick reason is stored');
select tests.act_as(:'quin');
select is(tests.err(format('select public.join_session(%L, %L)::jsonb', :'s', :'quin_char')), 'SESSION_006:403',
  'a kicked user cannot rejoin');
select is(tests.err_details(format('select public.join_session(%L, %L)::jsonb', :'s', :'quin_char')), 'kicked', 'details say kicked');
select is(public.get_session_by_code(:'s_code') ->> 'canJoin', 'false',
  'the code lookup tells a kicked user they cannot join');
select is(tests.err(format('select public.get_session(%L)::jsonb', :'s')), 'SESSION_001:404', 'a kicked user no longer sees the session');
select tests.reset_role();

-- US-03 real-time updates: every change is an event with consecutive seqs and a broadcast
select is(
  array(select type || ':' || coalesce(payload ->> 'reason', '') from public.session_events where session_id = :'s' order by seq),
  array['session_created:', 'player_joined:', 'player_joined:', 'player_left:left', 'player_joined:', 'player_left:kicked'],
  'US-03: joins, leaves and kicks are events in order');
select is(
  array(select seq::int from public.session_events where session_id = :'s' order by seq),
  array[1, 2, 3, 4, 5, 6], 'seqs are gap-free');
select is((select last_seq::int from public.sessions where id = :'s'), 6, 'lastSeq matches');
select is(
  (select count(*)::int from public.session_events e join realtime.messages m
     on m.topic like 'session:' || e.session_id || ':%' and m.event = e.type and (m.payload ->> 'seq')::bigint = e.seq
        and m.private and m.extension = 'broadcast'
        and m.payload - 'id' = e.payload
   where e.session_id = :'s'),
  6, 'every event was broadcast whole, privately, on a keyed topic session:<id>:<key>');
select is((select payload ->> 'kickReason' from public.session_events where session_id = :'s' and seq = 6),
  'Spoiling the puzzle', 'the kick event carries the reason');

-- US-02: cannot join once started (without late join); late join when allowed
select tests.act_as(:'seer');
select public.start_session(:'s')::jsonb \g /dev/null
select tests.act_as(:'stan');
select is(tests.err(format('select public.join_session(%L, %L)::jsonb', :'s', :'stan_char')), 'SESSION_004:422',
  'US-02: cannot join a started session');
select tests.reset_role();
select tests.new_session(:'seer', 6, '{"allowLateJoin": true}') as late \gset
select tests.join(:'late', :'stan', :'stan_char') \g /dev/null
select tests.create_user('lara') as lara \gset
select tests.make_character(:'lara') as lara_char \gset
select tests.act_as(:'seer');
select public.start_session(:'late')::jsonb \g /dev/null
select tests.act_as(:'lara');
select is(public.join_session(:'late', :'lara_char')::jsonb -> 'session' ->> 'status', 'active', 'late join into an active session when allowed');
select tests.act_as(:'seer');
select public.pause_session(:'late')::jsonb \g /dev/null
select tests.reset_role();
select tests.create_user('max') as max \gset
select tests.make_character(:'max') as max_char \gset
select tests.act_as(:'max');
select is(tests.err(format('select public.join_session(%L, %L)::jsonb', :'late', :'max_char')), 'SESSION_004:422',
  'no joining a paused session');

-- character already seated elsewhere
select tests.reset_role();
select tests.new_session(:'seer') as other \gset
select tests.act_as(:'pia');
select is(tests.err(format('select public.join_session(%L, %L)::jsonb', :'other', :'pia_char')), 'SESSION_009:409',
  'a character in another live session cannot join');
select tests.act_as(:'seer');
select public.end_session(:'s', 'completed')::jsonb \g /dev/null
select tests.act_as(:'pia');
select is(public.join_session(:'other', :'pia_char')::jsonb -> 'player' ->> 'characterId', :'pia_char',
  'once that session ended the character is free again');
select tests.act_as(:'max');
select is(tests.err(format('select public.join_session(%L, %L)::jsonb', :'s', :'max_char')), 'SESSION_005:422',
  'no joining an ended session');
select tests.act_as(:'pia');
select is(tests.err(format('select public.leave_session(%L)', :'s')), 'SESSION_010:422', 'no leaving an ended session');
select is((select c ->> 'activeSessionId' from jsonb_array_elements(public.list_my_characters()) c where c ->> 'id' = :'pia_char'),
  :'other', 'list_my_characters shows the live session');

-- leaving a running game keeps the seat (inactive, Seer controls); a leave is final for the
-- leaver's connection (heartbeat: SESSION_006), an explicit join within 5 minutes restores
-- it, and leaving again frees the seat and the character (issue 13)
select tests.reset_role();
select tests.new_session(:'seer') as run \gset
select tests.join(:'run', :'quin', :'quin_char') as quin_run_seat \gset
select tests.act_as(:'seer');
select public.start_session(:'run')::jsonb \g /dev/null
select tests.act_as(:'quin');
select is(public.leave_session(:'run'), '{"left": true}'::jsonb, 'leaving an active session');
select is(public.get_session(:'run')::jsonb -> 'players' -> 0 ->> 'status', 'inactive', 'the seat stays, inactive');
select is(public.get_session(:'run')::jsonb -> 'players' -> 0 ->> 'controlledBySeer', 'true', 'the Seer controls the character');
select is(tests.err(format('select public.heartbeat(%L)', :'run')), 'SESSION_006:403',
  'a heartbeat after the leave does not restore the seat (the leaver''s connection is done)');
select is(public.get_session(:'run')::jsonb -> 'players' -> 0 ->> 'status', 'inactive', 'still inactive');
select is(public.join_session(:'run', :'quin_char')::jsonb -> 'player' ->> 'status', 'connected',
  'joining again within 5 minutes restores the seat');
select public.leave_session(:'run') \g /dev/null
select tests.reset_role();
update public.session_players set inactive_at = now() - interval '6 minutes' where id = :'quin_run_seat';
select tests.act_as(:'quin');
select is(public.join_session(:'run', :'quin_char')::jsonb -> 'player' ->> 'status', 'inactive',
  'after 5 minutes the Seer decides (no self-service rejoin) ...');
select is(public.join_session(:'run', :'quin_char')::jsonb ->> 'readmit', 'requested',
  '... and the answer says the Seer has been asked (issue 22)');
select is(public.leave_session(:'run'), '{"left": true}'::jsonb, 'leaving again ...');
select tests.reset_role();
select is((select status || '/' || (left_at is not null)::text from public.session_players where id = :'quin_run_seat'),
  'left/true', '... frees the seat');
select tests.act_as(:'quin');
select is((select c ->> 'activeSessionId' from jsonb_array_elements(public.list_my_characters()) c
           where c ->> 'id' = :'quin_char'), null, '... and the character, for another session');
select tests.act_as(:'seer');
select is(public.get_session(:'run')::jsonb -> 'players', '[]'::jsonb, 'the party goes on without it');
select tests.reset_role();
select is(
  array(select type from public.session_events where session_id = :'run' and seq > 4 order by seq),
  array['player_left', 'player_connection', 'player_left', 'readmit_requested', 'player_left'],
  'leave / rejoin / leave / free events');
-- join_session takes the player_joined seq with its lock; a join that restores a seat writes
-- its player_connection event with it, one that asks to be readmitted gives it back
-- (request_readmit allocates its own, and writes no second event)
select is(
  (select array_agg(seq order by seq) from public.session_events where session_id = :'run'),
  (select array_agg(g) from generate_series(1::bigint, (select last_seq from public.sessions where id = :'run')) g),
  'seqs stay gap-free through the restoring and the readmit-asking joins');

select * from finish();
rollback;
