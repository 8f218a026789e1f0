-- Structure and privileges: RLS everywhere, no direct writes for API roles, RPC
-- definitions (security definer, empty search_path), grants, error catalogue, plpgsql_check.
begin;
\ir _helpers.psql
select plan(22);

create temp table expected_tables(name text) on commit drop;
insert into expected_tables values ('profiles'), ('characters'), ('character_items'), ('adventures'),
  ('adventure_nodes'), ('adventure_links'), ('dice_rolls'),
  ('sessions'), ('session_players'), ('session_events'), ('session_feedback');

create temp table rpcs(sig text) on commit drop;
insert into rpcs values
  ('public.create_session(uuid,jsonb,integer)'), ('public.get_session(uuid)'),
  ('public.get_session_by_code(text)'), ('public.join_session(uuid,uuid)'),
  ('public.leave_session(uuid)'), ('public.kick_player(uuid,uuid,text)'),
  ('public.start_session(uuid)'), ('public.pause_session(uuid)'), ('public.resume_session(uuid)'),
  ('public.end_session(uuid,text,text)'), ('public.get_game_state(uuid)'),
  ('public.update_game_state(uuid,jsonb,integer,boolean)'), ('public.heartbeat(uuid)'),
  ('public.session_events_since(uuid,bigint,integer)'), ('public.submit_feedback(uuid,integer,text)'),
  ('public.list_my_sessions(text[],integer,uuid)'), ('public.create_character(text,text)'),
  ('public.list_my_characters()'), ('public.list_feedback(uuid)'),
  ('public.list_adventures(text,text,integer,uuid)'), ('public.import_adventure(jsonb)'),
  ('public.publish_adventure(uuid,boolean)'),
  ('public.roll_dice(uuid,text,text,uuid,boolean)'), ('public.list_dice_rolls(uuid,integer,uuid)'),
  ('public.start_combat(uuid,jsonb,boolean)'), ('public.next_turn(uuid)'), ('public.end_combat(uuid,text)'),
  ('public.submit_action(uuid,text,text,uuid)');

select tables_are('public', array(select name from expected_tables), 'public has exactly our tables');

select is(
  array(select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind = 'r' and not c.relrowsecurity order by 1),
  '{}'::text[], 'RLS is enabled on every public table');

select is(
  array(select t.name || ':' || r.role || ':' || p.priv
        from expected_tables t
        cross join (values ('anon'), ('authenticated')) r(role)
        cross join (values ('insert'), ('update'), ('delete'), ('truncate')) p(priv)
        where has_table_privilege(r.role, 'public.' || t.name, p.priv) order by 1),
  '{}'::text[], 'anon and authenticated cannot insert/update/delete/truncate any table');

select is(
  array(select t.name from expected_tables t where has_table_privilege('anon', 'public.' || t.name, 'select')),
  '{}'::text[], 'anon cannot even select any table');

select is(
  (select count(*)::int from expected_tables t
   where has_table_privilege('authenticated', 'public.' || t.name, 'select')
     and has_table_privilege('service_role', 'public.' || t.name, 'select')),
  11, 'authenticated and service_role may select every table (rows are filtered by RLS)');

select is(
  array(select sig from rpcs where to_regprocedure(sig) is null),
  '{}'::text[], 'every contract RPC exists with the contract signature');

select is(
  array(select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public' and p.prokind = 'f'
          and p.oid::regprocedure::text not like 'tests.%'
          and p.proowner = (select oid from pg_roles where rolname = current_user)
          and (not p.prosecdef or not coalesce(p.proconfig @> array['search_path=""'], false))
        order by 1),
  '{}'::text[], 'every public function of ours is security definer with search_path = ''''');

select is(
  array(select sig from rpcs where has_function_privilege('anon', sig, 'execute')),
  '{}'::text[], 'anon cannot execute any RPC');

select is(
  array(select sig from rpcs where not has_function_privilege('authenticated', sig, 'execute')),
  '{}'::text[], 'authenticated can execute every RPC');

select ok(
  has_function_privilege('service_role', 'public.sweep_sessions(timestamptz)', 'execute')
  and not has_function_privilege('authenticated', 'public.sweep_sessions(timestamptz)', 'execute')
  and not has_function_privilege('anon', 'public.sweep_sessions(timestamptz)', 'execute'),
  'sweep_sessions is for service_role only');

select is(
  array(select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'seer_private' and has_function_privilege('authenticated', p.oid, 'execute')
        order by 1),
  array['seer_private.can_read_node(uuid,uuid)', 'seer_private.can_see_character(uuid)', 'seer_private.can_use_session_topic(text)',
        'seer_private.is_session_participant(uuid)', 'seer_private.shares_session_with(uuid)'],
  'authenticated can execute only the RLS helpers in seer_private');

select is(
  (select count(*)::int from pg_proc p join pg_namespace n on n.oid = p.pronamespace
   where n.nspname = 'seer_private' and has_function_privilege('anon', p.oid, 'execute')),
  0, 'anon can execute nothing in seer_private');

select ok(not has_schema_privilege('anon', 'seer_private', 'usage'), 'anon has no usage on seer_private');

select ok(
  not has_table_privilege('authenticated', 'seer_private.error_codes', 'select')
  and not has_table_privilege('anon', 'seer_private.error_codes', 'select'),
  'the error catalogue is private');

select results_eq(
  $$select code, status, message from seer_private.error_codes order by code$$,
  $$values
    ('SESSION_000', 400, 'Invalid input'),
    ('SESSION_001', 404, 'Session not found'),
    ('SESSION_002', 400, 'Invalid session code format'),
    ('SESSION_003', 422, 'Session is full'),
    ('SESSION_004', 422, 'Session has already started'),
    ('SESSION_005', 422, 'Session is not in waiting state'),
    ('SESSION_006', 403, 'You are not in this session'),
    ('SESSION_007', 403, 'Only the Seer can perform this action'),
    ('SESSION_008', 409, 'You are already in this session'),
    ('SESSION_009', 409, 'This character is already in another session'),
    ('SESSION_010', 422, 'Invalid session status transition'),
    ('SESSION_011', 422, 'Minimum player count not met'),
    ('SESSION_012', 422, 'Seer cannot leave session. End it instead.'),
    ('SESSION_013', 404, 'Adventure not found'),
    ('SESSION_014', 409, 'Game state has changed; reload and retry'),
    ('SESSION_015', 429, 'Too many failed attempts; try again later'),
    ('SESSION_016', 422, 'Too many live sessions; end one first'),
    ('SESSION_017', 429, 'Too many sessions created; try again later'),
    ('SESSION_018', 403, 'Sign in with an account to do this'),
    ('SESSION_019', 413, 'Game state or event is too large'),
    ('SESSION_025', 403, 'Only the author can change this adventure'),
    ('SESSION_026', 409, 'This character''s player is connected and acts for themselves'),
    ('SESSION_027', 409, 'A combat is already running, or none is'),
    ('SESSION_028', 429, 'Too many actions; wait a moment and retry'),
    ('SESSION_029', 422, 'This session has reached its event limit; end it and start a new one')$$,
  'error catalogue matches the contract (PRD codes + 000 + 014..019 + the game''s 025-029)');

select throws_ok(
  $$select seer_private.raise_error('SESSION_003')$$,
  'PGRST',
  '{"code":"SESSION_003","message":"Session is full","details":null,"hint":null}',
  'raise_error uses sqlstate PGRST and the compact JSON body');

create function pg_temp.err_detail(p_sql text) returns text language plpgsql as $$
declare d text;
begin
  execute p_sql;
  return null;
exception when others then
  get stacked diagnostics d = pg_exception_detail;
  return d;
end $$;
select is(pg_temp.err_detail($$select seer_private.raise_error('SESSION_003')$$),
  '{"status":422,"headers":{}}', 'raise_error puts the HTTP status in detail');
select is(tests.err_details($$select seer_private.raise_error('SESSION_000', 'name "x"')$$),
  'name "x"', 'details are carried (and JSON-escaped)');
select throws_ok($$select seer_private.raise_error('SESSION_999')$$, 'P0001', 'unknown error code SESSION_999',
  'an unknown code is a loud internal error');

-- plpgsql_check over every plpgsql function of ours (trigger functions need the table of
-- their trigger).
select is(
  array(
    select p.oid::regprocedure::text || ': ' || c.message
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
    cross join lateral extensions.plpgsql_check_function_tb(
      p.oid,
      case when p.prorettype = 'trigger'::regtype
           then coalesce((select min(t.tgrelid::oid) from pg_trigger t where t.tgfoid = p.oid),
                         'auth.users'::regclass)
           else 0::oid end) c
    where n.nspname in ('public', 'seer_private')
      and p.prolang = (select oid from pg_language where lanname = 'plpgsql')
      and c.level = 'error'
    order by 1),
  '{}'::text[], 'plpgsql_check finds no errors in public and seer_private');

select ok(
  (select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace
   where n.nspname in ('public', 'seer_private')
     and p.prolang = (select oid from pg_language where lanname = 'plpgsql')) >= 25,
  'plpgsql_check really looked at our functions');

select has_trigger('auth', 'users', 'on_auth_user_created_seer_profile', 'profiles are created for new auth users');

select * from finish();
rollback;
