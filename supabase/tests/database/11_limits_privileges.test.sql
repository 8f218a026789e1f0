-- Issue 13: privileges that stay closed, clean text, anonymous refusal, per-Seer session
-- limits, game-state bounds, event ceiling and account deletion (docs/security.md).
begin;
\ir _helpers.psql
select plan(56);

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('ned') as ned \gset
select tests.make_character(:'pia') as pia_char \gset

-- Privileges -------------------------------------------------------------------------------
-- A function a later migration adds to seer_private without revoking anything itself.
-- (Run as postgres, the role migrations run as, here and on Supabase; rolled back.)
select current_user = 'postgres' as is_postgres \gset
select ok(:'is_postgres', 'these checks run as the non-superuser migration role postgres');
create function seer_private.future_internal() returns int language sql as $$ select 42 $$;
select ok(not has_function_privilege('authenticated', 'seer_private.future_internal()', 'execute'),
  'authenticated cannot execute a new seer_private function');
select ok(not has_function_privilege('anon', 'seer_private.future_internal()', 'execute'),
  'anon cannot execute a new seer_private function');
select tests.act_as(:'pia');
select is(tests.err('select seer_private.future_internal()'), '42501', 'calling it as authenticated: permission denied');
select tests.act_as_anon();
select is(tests.err('select seer_private.future_internal()'), '42501', 'calling it as anon: permission denied');
select tests.reset_role();
select is(seer_private.future_internal(), 42, 'the owner still can');
select is((select count(*)::int from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname = 'seer_private'
             and has_function_privilege('authenticated', p.oid, 'execute')
             and p.proname not in ('is_session_participant', 'can_see_character', 'shares_session_with')
             and p.proname not like 'can\_%' and p.proname not like 'realtime\_%'), 0,
  'no seer_private function is executable by authenticated except the RLS helpers');

-- Clean text ---------------------------------------------------------------------------------
select tests.act_as(:'pia');
select is(tests.err($$select public.create_character(E'Bad\u202eName', 'Rogue')$$), 'SESSION_000:400', 'bidi override -> 000');
select is(tests.err($$select public.create_character(E'\u2066Iso', 'Rogue')$$), 'SESSION_000:400', 'bidi isolate -> 000');
select is(tests.err($$select public.create_character(E'Red\u001b[31m', 'Rogue')$$), 'SESSION_000:400', 'ANSI escape -> 000');
select is(tests.err($$select public.create_character(E'Two\nLines', 'Rogue')$$), 'SESSION_000:400', 'newline in a name -> 000');
select is(tests.err($$select public.create_character(E'Bell\u0007', 'Rogue')$$), 'SESSION_000:400', 'control character -> 000');
select is(tests.err($$select public.create_character(E'C1\u009b', 'Rogue')$$), 'SESSION_000:400', 'C1 control (CSI) -> 000');
select is(tests.err_details($$select public.create_character(E'\u200b\u200c\u200d', 'Rogue')$$), 'name is required',
  'zero-width-only name counts as empty');
select is(tests.err($$select public.create_character(E' \u200b \ufeff', 'Rogue')$$), 'SESSION_000:400', 'zero-width and spaces -> 000');
select is(public.create_character(E'Fam\u200dily', 'Bard') ->> 'name', E'Fam\u200dily',
  'a zero-width joiner inside text (emoji sequences) is kept');
select is(public.create_character('[/bold] Zoë', 'Bard') ->> 'name', '[/bold] Zoë',
  'markup-like text is stored as typed (the views escape it)');
select tests.reset_role();
-- multi-line free text keeps newlines and tabs, not escapes
select tests.new_session(:'seer') as s1 \gset
select tests.join(:'s1', :'pia', :'pia_char') \g /dev/null
select tests.act_as(:'seer');
select is(tests.err(format($$select public.kick_player(%L, gen_random_uuid(), E'a\u001b[2Jb')$$, :'s1')),
  'SESSION_000:400', 'kick reason with an escape -> 000 (before anything else)');
select is(tests.err(format($$select public.end_session(%L, 'cancelled', E'a\u202eb')::jsonb$$, :'s1')),
  'SESSION_000:400', 'notes with a bidi override -> 000');
select is(public.end_session(:'s1', 'cancelled', E'line one\n\tline two')::jsonb -> 'session' ->> 'notes',
  E'line one\n\tline two', 'notes keep newlines and tabs');
select tests.reset_role();
-- sign-up names are cleaned, not refused (a raise would fail GoTrue's sign-up)
insert into auth.users (id, aud, role, email, raw_user_meta_data, created_at, updated_at)
values ('00000000-0000-4000-8000-0000000000e1', 'authenticated', 'authenticated', 'esc@seer.test',
        jsonb_build_object('display_name', E'\u202eEvil\u001b[0m'), now(), now());
select is((select display_name from public.profiles where id = '00000000-0000-4000-8000-0000000000e1'),
  'Evil[0m', 'sign-up display name loses its control and bidi characters');

-- Anonymous users ----------------------------------------------------------------------------
select set_config('role', 'authenticated', true);
select set_config('request.jwt.claims', json_build_object('sub', :'ned', 'role', 'authenticated',
  'is_anonymous', true)::text, true);
select is(tests.err(format('select public.create_session(%L)::jsonb', tests.adventure())), 'SESSION_018:403',
  'an anonymous user cannot create a session');
select is(tests.err($$select public.get_session_by_code('ABCDEF')$$), 'SESSION_018:403',
  'an anonymous user cannot look up codes');
select is(tests.err(format('select public.join_session(%L, %L)::jsonb', :'s1', :'pia_char')), 'SESSION_018:403',
  'an anonymous user cannot join');
select tests.reset_role();

-- Sessions per Seer --------------------------------------------------------------------------
select tests.act_as(:'ned');
select public.create_session(tests.adventure())::jsonb from generate_series(1, 10) \g /dev/null
select is(tests.err(format('select public.create_session(%L)::jsonb', tests.adventure())), 'SESSION_016:422',
  'the 11th live session of one Seer -> 016');
select is((select count(*)::int from public.sessions where seer_id = :'ned'), 10, 'nothing written');
select public.end_session(id, 'cancelled')::jsonb from public.sessions
  where seer_id = :'ned' and status = 'waiting' \g /dev/null
select public.create_session(tests.adventure())::jsonb from generate_series(1, 10) \g /dev/null
select public.end_session(id, 'cancelled')::jsonb from public.sessions
  where seer_id = :'ned' and status = 'waiting' \g /dev/null
select is(tests.err(format('select public.create_session(%L)::jsonb', tests.adventure())), 'SESSION_017:429',
  'the 21st session created within an hour -> 017');
select is((select count(*)::int from public.sessions where seer_id = :'ned'), 20, 'nothing written');
select tests.reset_role();

-- Game-state bounds --------------------------------------------------------------------------
select tests.new_session(:'seer') as s \gset
select tests.join(:'s', :'pia', tests.make_character(:'pia', 'Second')) as pia_seat \gset
select tests.act_as(:'seer');
select public.start_session(:'s')::jsonb \g /dev/null
select is(tests.err(format($$select public.update_game_state(%L, '{"addInventory": [{"id": "a", "name": "A", "blob": "x"}]}')$$, :'s')),
  'SESSION_000:400', 'an inventory item with an extra key -> 000');
select is(tests.err_details(format($$select public.update_game_state(%L, '{"addInventory": [{"id": "a", "name": "A", "blob": "x"}]}')$$, :'s')),
  'inventory items have only id, name, quantity, description and assignedTo, not blob', 'details name the key');
select is(tests.err(format($$select public.update_game_state(%L, %L)$$, :'s',
  jsonb_build_object('addInventory', jsonb_build_array(jsonb_build_object('id', 'a', 'name', repeat('n', 101)))))),
  'SESSION_000:400', 'an item name over 100 -> 000');
select is(tests.err(format($$select public.update_game_state(%L, %L)$$, :'s',
  jsonb_build_object('addInventory', jsonb_build_array(jsonb_build_object('id', 'a', 'name', 'A', 'description', repeat('d', 501)))))),
  'SESSION_000:400', 'a description over 500 -> 000');
select is(tests.err(format($$select public.update_game_state(%L, '{"addInventory": [{"id": "a", "name": "A", "assignedTo": "pia"}]}')$$, :'s')),
  'SESSION_000:400', 'assignedTo that is not a player id -> 000');
select is(tests.err(format($$select public.update_game_state(%L, '{"addInventory": [{"id": "a", "name": "A\u001b[1m"}]}')$$, :'s')),
  'SESSION_000:400', 'an item name with an escape -> 000');
select is(public.update_game_state(:'s', format('{"addInventory": [{"id": "rope", "name": " Rope ", "quantity": 3, "description": "50 ft", "assignedTo": "%s"}]}', :'pia_seat')::jsonb)::jsonb -> 'inventory',
  jsonb_build_array(jsonb_build_object('id', 'rope', 'name', 'Rope', 'quantity', 3, 'description', '50 ft', 'assignedTo', :'pia_seat')),
  'a full item is stored cleaned');
select is(tests.err(format($$select public.update_game_state(%L, %L)$$, :'s',
  jsonb_build_object('addInventory', (select jsonb_agg(jsonb_build_object('id', 'i' || g, 'name', 'I')) from generate_series(1, 201) g)))),
  'SESSION_000:400', 'more than 200 items -> 000');
select is(jsonb_array_length(public.get_game_state(:'s')::jsonb -> 'inventory'), 1, 'nothing written');
-- whole state ceiling: four patches of 30 variables of 2000 characters (~60 KB each) fit
select public.update_game_state(:'s', jsonb_build_object('setVariables',
  (select jsonb_object_agg(p || g, repeat('x', 2000)) from generate_series(1, 30) g)))::jsonb
  from unnest(array['v', 'w', 'y', 'u']) p \g /dev/null
select public.get_game_state(:'s')::jsonb ->> 'version' as v_before \gset
select is(tests.err(format($$select public.update_game_state(%L, %L)$$, :'s', jsonb_build_object('setVariables',
  (select jsonb_object_agg('z' || g, repeat('x', 2000)) from generate_series(1, 30) g)))),
  'SESSION_019:413', 'a state over 256 KiB -> 019 (413)');
select is(public.get_game_state(:'s')::jsonb ->> 'version', :'v_before', 'nothing written');
select public.update_game_state(:'s', jsonb_build_object('setVariables',
  (select jsonb_object_agg(p || g, 0) from generate_series(1, 30) g, unnest(array['v', 'w', 'y', 'u']) p))) \g /dev/null
-- turnHistory: newest 100 turns and 128 KiB
select public.update_game_state(:'s', jsonb_build_object('turn', jsonb_build_object('n', g)))::jsonb from generate_series(1, 105) g \g /dev/null
select is(jsonb_array_length(public.get_game_state(:'s')::jsonb -> 'turnHistory'), 100, 'turnHistory keeps 100 turns');
select is(public.get_game_state(:'s')::jsonb -> 'turnHistory' -> 0 -> 'n', '6'::jsonb, '... the newest ones');
select public.update_game_state(:'s', jsonb_build_object('turn', jsonb_build_object('text', repeat('t', 8000))))::jsonb from generate_series(1, 20) g \g /dev/null
select ok(octet_length((public.get_game_state(:'s')::jsonb -> 'turnHistory')::text) <= 131072, 'turnHistory stays within 128 KiB');
select tests.reset_role();
-- every event: 128 KiB
select is(tests.err(format($$select seer_private.write_event(%L, 'game_state', null, jsonb_build_object('x', repeat('x', 140000)))$$, :'s')),
  'SESSION_019:413', 'an event over 128 KiB -> 019');

-- A lobby seat that missed heartbeats comes back with the next one ----------------------------
select tests.create_user('lana') as lana \gset
select tests.new_session(:'seer') as lobby \gset
select tests.join(:'lobby', :'lana', tests.make_character(:'lana')) as lana_seat \gset
update public.session_players set last_activity_at = now() - interval '2 minutes' where id = :'lana_seat';
select seer_private.sweep() \g /dev/null
select is((select status from public.session_players where id = :'lana_seat'), 'disconnected',
  'a lobby seat without heartbeats is disconnected');
select tests.act_as(:'lana');
select is(public.heartbeat(:'lobby') ->> 'restored', 'true', 'its next heartbeat restores it');
select tests.reset_role();
select is((select status from public.session_players where id = :'lana_seat'), 'connected', 'connected again');

-- The invite function's lookups share the failure budget, per network ------------------------
select tests.act_as_service();
select is((select count(*)::int from generate_series(1, 10) g
           where public.invite_preview('QZZZZZ', '2001:db8:1:2::/64') is null), 10,
  'ten unknown codes from one network: 404 (null) each');
select is(tests.err($$select public.invite_preview('QZZZZZ', '2001:db8:1:2::/64')$$), 'SESSION_015:429',
  'the 11th from that network -> 015 (429), as get_session_by_code');
select is(public.invite_preview('QZZZZZ', '198.51.100.7'), null, 'another network still has its budget');
select is(public.invite_preview('QZZZZZ'), null, 'without a network (SQL callers) nothing is counted');
select tests.reset_role();
select is((select cardinality(hits) from seer_private.rate_limit_hits where bucket = 'code_lookup' and subject = 'net:2001:db8:1:2::/64'), 10,
  'failures are recorded under the network');

-- Account deletion ---------------------------------------------------------------------------
select tests.new_session(:'pia') as pia_run \gset
select tests.create_user('olga') as olga \gset
select tests.join(:'pia_run', :'olga', tests.make_character(:'olga')) \g /dev/null
select tests.act_as(:'pia');
select public.submit_feedback(:'s1', 5, 'fun') \g /dev/null
select tests.reset_role();
select is(tests.err(format('delete from auth.users where id = %L', :'pia')), 'ok',
  'a user who played, ran a session and gave feedback can be deleted');
select is((select status from public.sessions where id = :'pia_run'), 'cancelled', 'the live session they ran is cancelled');
select is((select seer_name || '/' || coalesce(seer_id::text, 'null') from public.sessions where id = :'pia_run'),
  'Deleted user/null', '... kept as history, anonymised');
select is((select status || '/' || coalesce(user_id::text, 'null') from public.session_players where session_id = :'s'),
  'left/null', 'their seat in a running game is released, anonymised');
select is((select count(*)::int from public.session_events e where e.session_id = :'s'
           and (e.actor = :'pia' or e.payload::text like '%' || :'pia' || '%')), 0,
  'no event of a session they were in names them any more');

select * from finish();
rollback;
