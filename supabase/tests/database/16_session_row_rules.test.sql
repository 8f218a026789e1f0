-- The session row's rules (20261125200200_sessions_schema, issue 24): a column's own rule is
-- its domain, the rules between columns are the sessions_check_rules trigger. Each must
-- still refuse what its CHECK constraint refused (SQLSTATE 23514), and an event, which only
-- bumps the row's counters, must not run the cross-column rules at all.
begin;
\ir _helpers.psql
select plan(17);

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.make_character(:'pia') as pia_char \gset
select tests.new_session(:'seer') as s \gset
select tests.join(:'s', :'pia', :'pia_char') \g /dev/null

-- Each column's own rule (the domains), as the table owner writing directly
select is(tests.err(format($$update public.sessions set code = 'abc123' where id = %L$$, :'s')), '23514',
  'a code outside the 31-letter alphabet is refused');
select is(tests.err(format($$update public.sessions set code = 'ABCDEFG' where id = %L$$, :'s')), '23514',
  'a code of 7 letters is refused');
select is(tests.err(format($$update public.sessions set status = 'running' where id = %L$$, :'s')), '23514',
  'an unknown status is refused');
select is(tests.err(format($$update public.sessions set max_players = 7 where id = %L$$, :'s')), '23514',
  'max_players above 6 is refused');
select is(tests.err(format($$update public.sessions set min_players = 0 where id = %L$$, :'s')), '23514',
  'min_players below 1 is refused');
select is(tests.err(format($$update public.sessions set outcome = 'abandoned' where id = %L$$, :'s')), '23514',
  'an unknown outcome is refused');
select is(tests.err(format($$insert into public.sessions (code, seer_id, seer_name, adventure_id, adventure_name)
                             values ('abc', %L, 'S', %L, 'A')$$, :'seer', tests.adventure())), '23514',
  'an INSERT is held to the domains too');

-- The rules between columns (the trigger)
select is(tests.err(format($$update public.sessions set min_players = 5, max_players = 4 where id = %L$$, :'s')), '23514',
  'min_players above max_players is refused');
select is(tests.err(format($$update public.sessions set max_players = 1, min_players = 2 where id = %L$$, :'s')), '23514',
  '... whichever of the two the UPDATE sets');
select is(tests.err(format($$update public.sessions set status = 'completed' where id = %L$$, :'s')), '23514',
  'an ended status without ended_at is refused');
select is(tests.err(format($$update public.sessions set ended_at = now() where id = %L$$, :'s')), '23514',
  'ended_at on a live session is refused');
select is(tests.err(format($$update public.sessions set status = 'paused' where id = %L$$, :'s')), '23514',
  'paused without paused_at is refused');
select is(tests.err(format($$update public.sessions set seer_id = null where id = %L$$, :'s')), '23514',
  'a live session without a Seer is refused');
select throws_ok(format($$update public.sessions set paused_at = now() where id = %L$$, :'s'), '23514',
  'new row for relation "sessions" violates sessions_rules: paused_at is set exactly when the session is paused',
  'the error names the rule, as a CHECK constraint''s names the constraint');

-- An event bumps the row's counters and sets no column a rule reads, so the rules do not run
-- for it. Shown with a row that breaks a rule behind the trigger's back (the table owner
-- switches the trigger off for one UPDATE): the event writes still succeed, a write that sets
-- a rule's column still fails.
select tests.call_as(:'seer', format('select public.start_session(%L)::jsonb', :'s')) \g /dev/null
alter table public.sessions disable trigger sessions_check_rules;
update public.sessions set paused_at = now() where id = :'s';
alter table public.sessions enable trigger sessions_check_rules;
select is(tests.err(format('select tests.call_as(%L, %L)', :'seer',
            format($$select public.roll_dice(%L, '2d6', 'door')$$, :'s')))
          || ' ' || tests.err(format('select tests.call_as(%L, %L)', :'pia',
            format($$select public.submit_action(%L, 'I open it')$$, :'s')))
          || ' ' || tests.err(format('select tests.call_as(%L, %L)', :'seer',
            format($$select public.update_game_state(%L, '{"setVariables": {"hp": 7}}')$$, :'s'))),
  'ok ok ok', 'a roll, an action and a state patch do not run the rules');
select is((select last_seq from public.sessions where id = :'s'),
  (select max(seq) from public.session_events where session_id = :'s'),
  '... while each bumped last_seq');
select is(tests.err(format($$update public.sessions set status = status where id = %L$$, :'s')), '23514',
  'a write that sets a rule''s column runs them');

select * from finish();
rollback;
