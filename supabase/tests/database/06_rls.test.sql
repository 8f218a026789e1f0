-- RLS / privilege matrix: anon, stranger, player, kicked player, left player, Seer, another
-- Seer, service_role x every table (select; insert/update/delete refused) and the RPCs.
begin;
\ir _helpers.psql
select plan(37);

select tests.create_user('seer') as seer \gset
select tests.create_user('seer2') as seer2 \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('kurt') as kurt \gset
select tests.create_user('lena') as lena \gset
select tests.create_user('stan') as stan \gset
select tests.make_character(:'pia') as pia_char \gset
select tests.make_character(:'kurt') as kurt_char \gset
select tests.make_character(:'lena') as lena_char \gset

select tests.new_session(:'seer') as s \gset
select tests.new_session(:'seer2') as w2 \gset
select tests.join(:'s', :'pia', :'pia_char') as pia_seat \gset
select tests.join(:'s', :'kurt', :'kurt_char') as kurt_seat \gset
select tests.join(:'s', :'lena', :'lena_char') as lena_seat \gset
select tests.call_as(:'lena', format('select public.leave_session(%L)', :'s')) \g /dev/null
select tests.call_as(:'seer', format('select public.kick_player(%L, %L)', :'s', :'kurt_seat')) \g /dev/null
select tests.call_as(:'seer', format('select public.start_session(%L)::jsonb', :'s')) \g /dev/null
select tests.call_as(:'seer', format($$select public.end_session(%L, 'completed')::jsonb$$, :'s')) \g /dev/null
select tests.call_as(:'pia', format('select public.submit_feedback(%L, 5)', :'s')) \g /dev/null
select last_seq as s_events from public.sessions where id = :'s' \gset

select is((select display_name from public.profiles where id = :'pia'), 'Pia', 'new auth users get a profile');

-- What a role sees, restricted to this test's rows.
create function tests.visible() returns text language sql as $$
  select format('sessions=%s players=%s events=%s feedback=%s characters=%s profiles=%s adventures=%s nodes=%s',
    (select count(*) from public.sessions where id in (current_setting('t.s')::uuid, current_setting('t.w2')::uuid)),
    (select count(*) from public.session_players where session_id in (current_setting('t.s')::uuid, current_setting('t.w2')::uuid)),
    (select count(*) from public.session_events where session_id in (current_setting('t.s')::uuid, current_setting('t.w2')::uuid)),
    (select count(*) from public.session_feedback where session_id = current_setting('t.s')::uuid),
    (select count(*) from public.characters where id = any (string_to_array(current_setting('t.chars'), ',')::uuid[])),
    (select count(*) from public.profiles where id = any (string_to_array(current_setting('t.users'), ',')::uuid[])),
    (select count(*) from public.adventures where id = tests.adventure()),
    (select count(*) from public.adventure_nodes where adventure_id = tests.adventure()))
$$;
select set_config('t.s', :'s', true), set_config('t.w2', :'w2', true),
  set_config('t.chars', concat_ws(',', :'pia_char', :'kurt_char', :'lena_char'), true),
  set_config('t.users', concat_ws(',', :'seer', :'seer2', :'pia', :'kurt', :'lena', :'stan'), true) \g /dev/null

select tests.act_as(:'seer');
select is(tests.visible(), format('sessions=1 players=3 events=%s feedback=1 characters=1 profiles=2 adventures=1 nodes=1', :s_events),
  'Seer: own session, all its seats and events, all feedback, seated characters, companions');
select tests.act_as(:'pia');
select is(tests.visible(), format('sessions=1 players=3 events=%s feedback=1 characters=1 profiles=2 adventures=1 nodes=1', :s_events),
  'player: the session, its seats and events, own feedback, own character, the Seer''s profile');
select tests.act_as(:'kurt');
select is(tests.visible(), 'sessions=0 players=0 events=0 feedback=0 characters=1 profiles=1 adventures=1 nodes=0',
  'kicked player: nothing of the session, only own character and profile');
select tests.act_as(:'lena');
select is(tests.visible(), 'sessions=0 players=0 events=0 feedback=0 characters=1 profiles=1 adventures=1 nodes=0',
  'player who left: nothing of the session');
select tests.act_as(:'stan');
select is(tests.visible(), 'sessions=0 players=0 events=0 feedback=0 characters=0 profiles=1 adventures=1 nodes=0',
  'stranger: nothing, and no waiting sessions or codes to list');
select tests.act_as(:'seer2');
select is(tests.visible(), 'sessions=1 players=0 events=1 feedback=0 characters=0 profiles=1 adventures=1 nodes=0',
  'another Seer: only their own waiting session');
select tests.act_as_service();
select is(tests.visible(), format('sessions=2 players=3 events=%s feedback=1 characters=3 profiles=6 adventures=1 nodes=5', :s_events + 1),
  'service_role sees everything');
select tests.act_as_anon();
select is(
  (select array_agg(t || '=' || tests.err('select count(*) from public.' || t) order by t)
   from unnest(array['sessions', 'session_players', 'session_events', 'session_feedback', 'characters', 'profiles',
                     'adventures', 'adventure_nodes', 'adventure_links', 'dice_rolls', 'character_items']) t),
  array['adventure_links=42501', 'adventure_nodes=42501', 'adventures=42501', 'character_items=42501',
        'characters=42501', 'dice_rolls=42501', 'profiles=42501', 'session_events=42501',
        'session_feedback=42501', 'session_players=42501', 'sessions=42501'],
  'anon cannot read any table');
select tests.reset_role();

-- Writes: refused for every API user role on every table.
create temp table writes(stmt text) on commit drop;
insert into writes
select format(tpl, t, c) from (values
    ('sessions', 'id'), ('session_players', 'id'), ('session_events', 'seq'), ('session_feedback', 'rating'),
    ('characters', 'name'), ('profiles', 'display_name'), ('adventures', 'title'), ('adventure_nodes', 'title'),
    ('adventure_links', 'label'), ('dice_rolls', 'total'), ('character_items', 'item')) tc(t, c)
cross join (values
    ('insert into public.%s default values'), ('update public.%s set %s = %2$s'),
    ('delete from public.%s'), ('truncate public.%s cascade')) tp(tpl);
grant select on writes to public;

select tests.act_as(:'seer');
select is((select array_agg(stmt) from writes where tests.err(stmt) <> '42501'), null, 'Seer: every insert/update/delete/truncate refused');
select tests.act_as(:'pia');
select is((select array_agg(stmt) from writes where tests.err(stmt) <> '42501'), null, 'player: every write refused');
select tests.act_as(:'stan');
select is((select array_agg(stmt) from writes where tests.err(stmt) <> '42501'), null, 'stranger: every write refused');
select tests.act_as_anon();
select is((select array_agg(stmt) from writes where tests.err(stmt) <> '42501'), null, 'anon: every write refused');
select tests.reset_role();
select is((select count(*)::int from writes), 44, '44 write statements checked per role');

-- Private schema.
select tests.act_as(:'pia');
select is(tests.err('select * from seer_private.error_codes'), '42501', 'authenticated cannot read seer_private tables');
select is(tests.err(format($$select seer_private.write_event(%L, 'x', null, '{}')$$, :'s')), '42501',
  'authenticated cannot write events directly');
select is(tests.err('select seer_private.sweep()'), '42501', 'authenticated cannot call the sweeper internals');
select tests.act_as_anon();
select is(tests.err('select seer_private.is_session_participant(null)'), '42501', 'anon has no access to seer_private');
select tests.reset_role();

-- Read RPCs on the (ended) session per role.
create temp table reads(name text, stmt text) on commit drop;
insert into reads values
  ('get_session', format('select public.get_session(%L)::jsonb', :'s')),
  ('get_game_state', format('select public.get_game_state(%L)', :'s')),
  ('events', format('select public.session_events_since(%L, 0)::jsonb', :'s')),
  ('heartbeat', format('select public.heartbeat(%L)', :'s'));
grant select on reads to public;
create function tests.read_matrix() returns text language sql as $$
  select string_agg(name || '=' || tests.err(stmt), ' ' order by name) from reads
$$;
select tests.act_as(:'seer');
select is(tests.read_matrix(), 'events=ok get_game_state=ok get_session=ok heartbeat=ok', 'Seer reads the archived session');
select tests.act_as(:'pia');
select is(tests.read_matrix(), 'events=ok get_game_state=ok get_session=ok heartbeat=ok', 'player reads the archived session');
select tests.act_as(:'kurt');
select is(tests.read_matrix(),
  'events=SESSION_001:404 get_game_state=SESSION_001:404 get_session=SESSION_001:404 heartbeat=SESSION_006:403',
  'kicked player: not found (heartbeat: not in session)');
select tests.act_as(:'lena');
select is(tests.read_matrix(),
  'events=SESSION_001:404 get_game_state=SESSION_001:404 get_session=SESSION_001:404 heartbeat=SESSION_006:403',
  'player who left: same');
select tests.act_as(:'stan');
select is(tests.read_matrix(),
  'events=SESSION_001:404 get_game_state=SESSION_001:404 get_session=SESSION_001:404 heartbeat=SESSION_001:404',
  'stranger: not found');
select tests.act_as_anon();
select is(tests.read_matrix(), 'events=42501 get_game_state=42501 get_session=42501 heartbeat=42501', 'anon: no execute');
select tests.act_as_service();
select is(tests.read_matrix(), 'events=PGRST301:401 get_game_state=PGRST301:401 get_session=PGRST301:401 heartbeat=PGRST301:401',
  'service_role without a user: 401 (RPCs act for a signed-in user)');
select tests.reset_role();

-- Seer-only RPCs on a live session per role.
select tests.create_user('otto') as otto \gset
select tests.make_character(:'otto') as otto_char \gset
select tests.new_session(:'seer') as r \gset
select tests.join(:'r', :'otto', :'otto_char') as otto_seat \gset
create temp table seer_ops(name text, stmt text) on commit drop;
insert into seer_ops values
  ('start', format('select public.start_session(%L)::jsonb', :'r')),
  ('pause', format('select public.pause_session(%L)::jsonb', :'r')),
  ('resume', format('select public.resume_session(%L)::jsonb', :'r')),
  ('end', format($$select public.end_session(%L, 'cancelled')::jsonb$$, :'r')),
  ('kick', format('select public.kick_player(%L, %L)', :'r', :'otto_seat')),
  ('patch', format($$select public.update_game_state(%L, '{"addFlags": ["x"]}')$$, :'r'));
grant select on seer_ops to public;
select tests.act_as(:'otto');
select is((select string_agg(name || '=' || tests.err(stmt), ' ' order by name) from seer_ops),
  'end=SESSION_007:403 kick=SESSION_007:403 patch=SESSION_007:403 pause=SESSION_007:403 resume=SESSION_007:403 start=SESSION_007:403',
  'a player gets NOT_SEER for every Seer action');
select tests.act_as(:'stan');
select is((select string_agg(name || '=' || tests.err(stmt), ' ' order by name) from seer_ops),
  'end=SESSION_001:404 kick=SESSION_001:404 patch=SESSION_001:404 pause=SESSION_001:404 resume=SESSION_001:404 start=SESSION_001:404',
  'a stranger gets SESSION_NOT_FOUND for every Seer action');
select tests.act_as(:'kurt');
select is((select string_agg(name || '=' || tests.err(stmt), ' ' order by name) from seer_ops where name = 'start'),
  'start=SESSION_001:404', 'a user kicked elsewhere is a stranger here');
select tests.act_as_anon();
select is((select string_agg(name || '=' || tests.err(stmt), ' ' order by name) from seer_ops),
  'end=42501 kick=42501 patch=42501 pause=42501 resume=42501 start=42501', 'anon: no execute');
select tests.reset_role();
select is((select status from public.sessions where id = :'r'), 'waiting', 'none of those refused calls changed the session');
select is((select last_seq::int from public.sessions where id = :'r'), 2, '... nor wrote events');

-- Every RPC refuses anon.
select tests.act_as_anon();
select is(
  (select array_agg(sig) from (values
     ($$select public.create_session(tests.adventure())::jsonb$$), ($$select public.get_session_by_code('ABCDEF')$$),
     ($$select public.join_session(gen_random_uuid(), gen_random_uuid())::jsonb$$), ($$select public.leave_session(gen_random_uuid())$$),
     ($$select public.submit_feedback(gen_random_uuid(), 5)$$), ($$select public.list_my_sessions()$$),
     ($$select public.create_character('a', 'b')$$), ($$select public.list_my_characters()$$),
     ($$select public.sweep_sessions()$$)) v(sig)
   where tests.err(sig) <> '42501'),
  null, 'anon cannot execute any of the remaining RPCs either');
select tests.reset_role();

-- list_my_sessions and characters per user
select tests.act_as(:'pia');
select is((select array_agg(e ->> 'role') from jsonb_array_elements(public.list_my_sessions()) e), array['player'],
  'list_my_sessions: a player sees the sessions they sit in');
select tests.act_as(:'seer');
select is((select array_agg(e ->> 'status' order by e ->> 'status') from jsonb_array_elements(public.list_my_sessions()) e),
  array['completed', 'waiting'], 'list_my_sessions: the Seer sees theirs, newest first');
select is(jsonb_array_length(public.list_my_sessions(array['waiting'])), 1, 'filtered by status');
select is(tests.err($$select public.list_my_sessions(array['bogus'])$$), 'SESSION_000:400', 'unknown status filter -> 000');
select tests.act_as(:'kurt');
select is(public.list_my_sessions(), '[]'::jsonb, 'kicked players no longer list the session');
select tests.reset_role();

select * from finish();
rollback;
