-- Join codes: alphabet, format, uniformity (no modulo bias), uniqueness among live
-- sessions, collision retry, and lookup by code (US-01, US-02).
begin;
\ir _helpers.psql
select plan(27);

create temp table codes on commit drop as
  select seer_private.generate_join_code() as code from generate_series(1, 10000);
create temp table letters on commit drop as
  select substr(code, i, 1) as ch from codes, generate_series(1, 6) i;

select is((select count(*)::int from codes where code !~ '^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$'), 0,
  'every generated code is 6 characters from the PRD alphabet');
select is((select count(distinct ch)::int from letters), 31, 'all 31 characters of the alphabet occur');
select is((select count(*)::int from letters where ch in ('0', 'O', '1', 'I', 'L')), 0,
  'no 0/O/1/I/L');
-- With `byte % 31` on raw bytes the first 8 letters would get 9/256 instead of 8/248 of the
-- draws: 16875 instead of 15484 of 60000 (a 13-sigma shift). Allow +-5 sigma (~535).
select ok(abs((select count(*) from letters where ch in ('A','B','C','D','E','F','G','H')) - 60000 * 8 / 31.0) < 535,
  'first 8 letters are not over-represented (no modulo bias)');
select ok((select max(n) - min(n) from (select count(*) n from letters group by ch) x) < 300,
  'per-letter counts are close to uniform');
select ok((select count(distinct code) from codes) >= 9990, '10000 random codes are (nearly) all distinct');

-- 100 sessions get 100 distinct codes (PRD unit test). One Seer each: a Seer may run at
-- most 10 live sessions (SESSION_016, 11_limits_privileges.test.sql).
select tests.create_user('seer') as seer \gset
select set_config('tests.seer', :'seer', true) \g /dev/null
create temp table made (s jsonb) on commit drop;
grant all on made to public;
do $$
begin
  for i in 1 .. 100 loop
    perform tests.act_as(case when i = 1 then current_setting('tests.seer')::uuid
                              else tests.create_user('seer' || i) end);
    insert into made select public.create_session(tests.adventure())::jsonb;
    perform tests.reset_role();
  end loop;
end
$$;
select is((select count(distinct s ->> 'code')::int from made), 100, '100 sessions have 100 distinct codes');
select is((select count(*)::int from made where s ->> 'code' !~ '^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$'), 0,
  'session codes match the format');

-- Live uniqueness is enforced by the database, ended sessions free their code.
select (select s ->> 'code' from made limit 1) as live_code \gset
select (select s ->> 'id' from made limit 1) as live_id \gset
select throws_ok(
  format($$insert into public.sessions (code, seer_id, seer_name, adventure_id, adventure_name)
           values (%L, %L, 'x', tests.adventure(), 'x')$$, :'live_code', :'seer'),
  '23505', null, 'a second live session cannot take a live code');
select tests.act_as(:'seer');
select public.end_session(:'live_id', 'cancelled')::jsonb \g /dev/null
select is(tests.err(format($$select public.get_session_by_code(%L)$$, :'live_code')), 'SESSION_001:404',
  'the code of an ended session is not found');
select tests.reset_role();
select lives_ok(
  format($$insert into public.sessions (code, seer_id, seer_name, adventure_id, adventure_name)
           values (%L, %L, 'x', tests.adventure(), 'x')$$, :'live_code', :'seer'),
  'a code is reusable once its session has ended');

-- Collision retry: make the generator return a taken code first.
create sequence tests.code_calls;
create or replace function seer_private.generate_join_code() returns text language sql
set search_path = '' as $$
  select case when nextval('tests.code_calls') <= 2 then 'HHHHHH' else 'JJJJJJ' end
$$;
grant usage on sequence tests.code_calls to public;
select tests.act_as(:'seer');
select is(public.create_session(tests.adventure())::jsonb ->> 'code', 'HHHHHH', 'first session takes HHHHHH');
select is(public.create_session(tests.adventure())::jsonb ->> 'code', 'JJJJJJ',
  'a collision with a live code is retried with a fresh code');
select tests.reset_role();
select is((select last_value::int from tests.code_calls), 3, 'exactly one retry happened');

-- Lookup by code.
select tests.create_user('pia') as pia \gset
select tests.act_as(:'pia');
select is(public.get_session_by_code('HHHHHH') -> 'session' ->> 'code', 'HHHHHH', 'lookup by exact code');
select is(public.get_session_by_code('  hhhhhh ') -> 'session' ->> 'code', 'HHHHHH', 'lookup accepts lower case and trims');
select is(public.get_session_by_code('HHHHHH') ->> 'canJoin', 'true', 'a stranger can join a waiting session');
select is(public.get_session_by_code('HHHHHH') -> 'reason', 'null'::jsonb, 'reason is null when joinable');
select is(
  (select array_agg(k order by k) from jsonb_object_keys(public.get_session_by_code('HHHHHH') -> 'session') k),
  array['adventureDescription', 'adventureId', 'adventureName', 'code', 'id', 'maxPlayers', 'minPlayers',
        'playerCount', 'seerName', 'settings', 'status'],
  'the preview has exactly the contract fields (no player identities)');
select is(tests.err($$select public.get_session_by_code('ABC')$$), 'SESSION_002:400', 'too short -> 002');
select is(tests.err($$select public.get_session_by_code('ABCDEFG')$$), 'SESSION_002:400', 'too long -> 002');
select is(tests.err($$select public.get_session_by_code('ABCDE0')$$), 'SESSION_002:400', 'excluded character 0 -> 002');
select is(tests.err($$select public.get_session_by_code('ABCDEI')$$), 'SESSION_002:400', 'excluded character I -> 002');
select is(tests.err($$select public.get_session_by_code('')$$), 'SESSION_002:400', 'empty -> 002');
select is(tests.err($$select public.get_session_by_code(null)$$), 'SESSION_002:400', 'null -> 002');
select is(tests.err($$select public.get_session_by_code(repeat('A', 100000))$$), 'SESSION_002:400', 'huge input -> 002');
select is(tests.err($$select public.get_session_by_code('ZZZZZZ')$$), 'SESSION_001:404', 'unknown code -> 001');
select tests.reset_role();

select * from finish();
rollback;
