-- Fair play (issue 20): dice text that must parse whole and is stored normalised, the clean-text
-- rule on what reaches other players, hidden initiative, experience bounded by real play and
-- never failing on overflow, per-player rate limits with a retry hint, the per-session event cap.
begin;
\ir _helpers.psql
select plan(51);

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('kim') as kim \gset
select tests.make_character(:'pia', 'Pia') as pia_char \gset
select tests.make_character(:'kim', 'Kim') as kim_char \gset
select tests.new_session(:'seer') as s \gset
select tests.join(:'s', :'pia', :'pia_char') \g /dev/null
select tests.join(:'s', :'kim', :'kim_char') \g /dev/null
select tests.act_as(:'seer');
select public.start_session(:'s')::jsonb \g /dev/null

-- 1. Dice text smuggling -------------------------------------------------------------------
select tests.reset_role();
select last_seq as seq0 from public.sessions where id = :'s' \gset
select tests.act_as(:'pia');
select is(tests.err(format('select public.roll_dice(%L, %L)', :'s',
    '1d20' || repeat(' ', 196) || E'+100 \u001b[2J\u202eNAT20 CRIT\u202c [bold red]x[/bold red]' || repeat('Z', 20000))),
  'SESSION_000:400', 'the issue''s 20,249-character expression (parsed 200, stored all) is refused');
select tests.act_as(:'seer');
select is(tests.err(format('select public.roll_dice(%L, %L)', :'s', '1d4' || repeat(' ', 197) || '+1000')),
  'SESSION_000:400', 'the Seer''s lying "1d4 ... +1000" (shown +1000, total of 1d4) is refused');
select is(tests.err_details(format('select public.roll_dice(%L, %L)', :'s', '1d4' || repeat(' ', 97) || '+1')),
  'expression must be 1-100 characters of dice notation', 'the bound is the length as sent, 100 characters');
select is(tests.err(format('select public.roll_dice(%L, %L)', :'s', E'1d20\u202e')), 'SESSION_000:400',
  'no character outside the notation');
select is(tests.err(format('select public.roll_dice(%L, %L)', :'s', E'1d20\t+ 1')), 'SESSION_000:400',
  'only spaces separate terms');
select tests.reset_role();
select is((select last_seq from public.sessions where id = :'s'), :'seq0'::bigint, 'refused rolls write nothing');

select tests.act_as(:'pia');
select public.roll_dice(:'s', ' 1D20 +  3 ', 'attack') as r \gset
select is(:'r'::jsonb ->> 'expression', '1d20+3', 'the reply carries the normalised text that was parsed');
select tests.reset_role();
select is((select expression from public.dice_rolls where id = (:'r'::jsonb ->> 'rollId')::uuid), '1d20+3',
  'dice_rolls stores the normalised text');
select is((select payload ->> 'expression' from public.session_events where session_id = :'s' and type = 'dice_rolled'
           order by seq desc limit 1), '1d20+3', 'the dice_rolled event carries it');
select is((select t ->> 'expression' from public.sessions s, jsonb_array_elements(seer_private.game_state_json(s)::jsonb -> 'turnHistory') t
           where s.id = :'s' and t ->> 'type' = 'roll' order by (t ->> 'at') desc limit 1), '1d20+3', 'and turnHistory');

-- the clean-text rule on the other free texts that reach the party
select tests.act_as(:'pia');
select is(tests.err(format('select public.roll_dice(%L, %L, %L)', :'s', '1d20', E'\u001b[2Jcrit')), 'SESSION_000:400',
  'a roll reason with an escape is refused');
select is(tests.err(format('select public.submit_action(%L, %L)', :'s', E'I attack \u202eevil')), 'SESSION_000:400',
  'action text with a bidi override is refused');
select tests.act_as(:'seer');
select is(tests.err(format('select public.start_combat(%L, %L)', :'s', jsonb_build_array(jsonb_build_object('name', E'Eel\u001b[31m')))),
  'SESSION_000:400', 'a combatant name with an escape is refused');
select is(public.start_combat(:'s', jsonb_build_array(jsonb_build_object('name', E'\u200b Eel Warden \u200b')))
            -> 'combatState' -> 'order' -> 0 ->> 'name',
  'Eel Warden', 'a combatant name is stored as the clean-text rule returns it (trimmed of zero-width characters)');
select public.end_combat(:'s', 'fled') \g /dev/null
select tests.reset_role();

-- the Seer's game state reaches every player too
select tests.act_as(:'seer');
select is(array[
    tests.err(format('select public.update_game_state(%L, %L)', :'s', jsonb_build_object('setVariables', jsonb_build_object('v', E'\u001b[2Jx')))),
    tests.err(format('select public.update_game_state(%L, %L)', :'s', jsonb_build_object('setVariables', jsonb_build_object(E'n\u202e', 1)))),
    tests.err(format('select public.update_game_state(%L, %L)', :'s', jsonb_build_object('addFlags', jsonb_build_array(E'f\u0007')))),
    tests.err(format('select public.update_game_state(%L, %L)', :'s', jsonb_build_object('turn', jsonb_build_object('a', jsonb_build_array(jsonb_build_object('b', E'\u001bx'))))))],
  array['SESSION_000:400', 'SESSION_000:400', 'SESSION_000:400', 'SESSION_000:400'],
  'variables, flags and turn notes follow the clean-text rule (at any depth)');
select is(tests.err(format('select public.update_game_state(%L, %L)', :'s',
    jsonb_build_object('setVariables', jsonb_build_object('note', E'line 1\nline 2'), 'turn', jsonb_build_object('text', E'a\nb')))),
  'ok', 'multi-line values stay allowed');
select tests.reset_role();

-- 4. Hidden initiative -----------------------------------------------------------------------
select tests.create_user('hidey') as hidey \gset
select tests.create_user('hana') as hana \gset
select tests.make_character(:'hana', 'Hana') as hana_char \gset
select tests.new_session(:'hidey', 6, '{"showDiceRolls": false}') as h \gset
select tests.join(:'h', :'hana', :'hana_char') \g /dev/null
select tests.act_as(:'hidey');
select public.start_session(:'h')::jsonb \g /dev/null
select public.start_combat(:'h', jsonb_build_array(jsonb_build_object('characterId', :'hana_char'), '{"name": "Eel"}'::jsonb)) as hc \gset
select tests.act_as(:'hana');
select is((select count(*)::int from jsonb_array_elements(public.get_game_state(:'h')::jsonb -> 'combatState' -> 'order') e where e ? 'initiative'),
  0, 'showDiceRolls false: no initiative total in the combatState players read');
select is(jsonb_array_length(public.get_game_state(:'h')::jsonb -> 'combatState' -> 'order'), 2, 'the order itself stays');
select is((select count(*)::int from public.session_events e, jsonb_array_elements(e.payload -> 'combatState' -> 'order') o
           where e.session_id = :'h' and e.type = 'combat_started' and o ? 'initiative'), 0,
  'nor in the combat_started event');
select is((select count(*)::int from jsonb_array_elements(public.list_dice_rolls(:'h')) r where r ->> 'total' is not null), 0,
  'list_dice_rolls hides the same rolls (as before)');
select tests.act_as(:'hidey');
select is((select count(*)::int from jsonb_array_elements(public.list_dice_rolls(:'h')) r where r ->> 'total' is not null), 2,
  'the Seer reads the initiative totals from list_dice_rolls');
select tests.reset_role();
select ok((select bool_and(o ? 'initiative') from public.session_events e, jsonb_array_elements(e.payload -> 'combatState' -> 'order') o
           where e.session_id = :'s' and e.type = 'combat_started'), 'a session that shows dice keeps the totals');

-- 2./3. Experience bounded by real play; overflow never blocks the end ------------------------
-- an author's adventure with 10,000 XP per node (import_adventure's maximum)
select tests.reset_role();
insert into public.adventures (id, title, is_published, created_by, start_node_id)
values ('00000000-0000-4000-8000-0000000fa001', 'Farm', true, :'seer', '00000000-0000-4000-8000-0000000fb001');
insert into public.adventure_nodes (id, adventure_id, node_type, title, xp_reward, position)
select ('00000000-0000-4000-8000-0000000fb00' || g)::uuid, '00000000-0000-4000-8000-0000000fa001',
       case when g = 3 then 'ending' else 'story' end, 'N' || g, 10000, g
from generate_series(1, 3) g;
create function pg_temp.farm(p_seer uuid, p_player uuid, p_char uuid) returns uuid language plpgsql as $$
declare v uuid;
begin
  perform tests.act_as(p_seer);
  v := (public.create_session('00000000-0000-4000-8000-0000000fa001', '{}', 6)::jsonb ->> 'id')::uuid;
  perform tests.reset_role();
  perform tests.join(v, p_player, p_char);
  perform tests.act_as(p_seer);
  perform public.start_session(v)::jsonb;
  perform tests.reset_role();
  update public.sessions set visited_node_ids = array(
    select ('00000000-0000-4000-8000-0000000fb00' || g)::uuid from generate_series(1, 3) g) where id = v;
  return v;
end $$;
grant execute on function pg_temp.farm(uuid, uuid, uuid) to public;

select tests.create_user('fseer') as fseer \gset
select tests.create_user('alt') as alt \gset
select tests.make_character(:'alt', 'Alt') as alt_char \gset
select pg_temp.farm(:'fseer', :'alt', :'alt_char') as f1 \gset
select tests.act_as(:'fseer');
select is((public.end_session(:'f1', 'completed')::jsonb -> 'stats' ->> 'experienceEarned')::int, 0,
  'a session ended at once earns nothing, whatever the adventure says (30,000 here)');
select tests.reset_role();
select is((select experience from public.characters where id = :'alt_char'), 0, 'and the character got nothing');

select pg_temp.farm(:'fseer', :'alt', :'alt_char') as f2 \gset
update public.sessions set started_at = started_at - interval '4 minutes 59 seconds' where id = :'f2';
select tests.act_as(:'fseer');
select is((public.end_session(:'f2', 'completed')::jsonb -> 'stats' ->> 'experienceEarned')::int, 800,
  'under 5 minutes of play: 200 XP per full minute (4 -> 800), at most 1,000');

select pg_temp.farm(:'fseer', :'alt', :'alt_char') as f3 \gset
update public.sessions set started_at = started_at - interval '62 minutes', paused_seconds = 3600 where id = :'f3';
select tests.act_as(:'fseer');
select is((public.end_session(:'f3', 'completed')::jsonb -> 'stats' ->> 'experienceEarned')::int, 400,
  'paused time does not count (62 minutes, 60 of them paused -> 2 minutes -> 400)');

select pg_temp.farm(:'fseer', :'alt', :'alt_char') as f4 \gset
update public.sessions set started_at = started_at - interval '5 hours' where id = :'f4';
select tests.act_as(:'fseer');
select is((public.end_session(:'f4', 'completed')::jsonb -> 'stats' ->> 'experienceEarned')::int, 10000,
  'a long session earns at most the per-session maximum (10,000 of the adventure''s 30,000)');
select tests.reset_role();
select is((select experience from public.characters where id = :'alt_char'), 800 + 400 + 10000, 'the character got exactly that');

select pg_temp.farm(:'fseer', :'alt', :'alt_char') as f5 \gset
update public.sessions set started_at = started_at - interval '10 minutes' where id = :'f5';
update public.characters set experience = 2147483600 where id = :'alt_char';
select tests.act_as(:'fseer');
select is(tests.err(format($$select public.end_session(%L, 'completed')::jsonb$$, :'f5')), 'ok',
  'a character near the int maximum does not make end_session fail (was 22003)');
select tests.reset_role();
select is((select array[experience::bigint, level::bigint] from public.characters where id = :'alt_char'),
  array[2147483647::bigint, 2147484::bigint], 'experience stops at the int maximum; level follows');
select is((select status from public.sessions where id = :'f5'), 'completed', 'and the session completed');

-- 5. Per-player rate limits and the event cap ----------------------------------------------
select tests.act_as(:'pia');
select is((select count(*)::int from generate_series(1, 30) g
           where public.submit_action(:'s', 'step ' || g) ? 'seq'), 30, '30 actions in a minute are fine');
select is(tests.err(format('select public.submit_action(%L, %L)', :'s', 'one more')), 'SESSION_028:429',
  'the 31st inside the minute -> SESSION_028 (429)');
create function pg_temp.raised(p_sql text) returns jsonb language plpgsql as $$
declare m text; d text;
begin
  execute p_sql;
  return null;
exception when others then
  get stacked diagnostics m = message_text, d = pg_exception_detail;
  return jsonb_build_object('body', m::jsonb, 'detail', d::jsonb);
end $$;
grant execute on function pg_temp.raised(text) to public;
select pg_temp.raised(format('select public.submit_action(%L, %L)', :'s', 'one more')) as lim \gset
select ok((:'lim'::jsonb -> 'body' ->> 'hint') ~ '^retry in ([1-9]|[1-5][0-9]|60) s$'
          and (:'lim'::jsonb -> 'detail' -> 'headers' ->> 'Retry-After')::int between 1 and 60
          and :'lim'::jsonb -> 'body' ->> 'details' = 'at most 30 actions per 00:01:00',
  'with a retry hint (HTTP Retry-After and the hint) and the limit in details');
select tests.reset_role();
select is((select cardinality(hits) from seer_private.rate_limit_hits where bucket = 'submit_action' and subject = 'user:' || :'pia'),
  30, 'refused actions are not counted: the window holds the 30');
-- the retry hint is when the oldest hit of the window leaves it
update seer_private.rate_limit_hits set hits = array(select t - interval '50 seconds' from unnest(hits) t)
where bucket = 'submit_action' and subject = 'user:' || :'pia';
select tests.act_as(:'pia');
select pg_temp.raised(format('select public.submit_action(%L, %L)', :'s', 'one more')) as lim2 \gset
select ok((:'lim2'::jsonb -> 'detail' -> 'headers' ->> 'Retry-After')::int between 1 and 10,
  'retry after the oldest hit leaves the window (~10 s once the hits are 50 s old)');
select tests.act_as(:'kim');
select ok(public.submit_action(:'s', 'I am not pia') ? 'seq', 'the limit is per player');
select is((select count(*)::int from generate_series(1, 60) g where public.roll_dice(:'s', '1d6') ? 'total'), 60,
  '60 rolls in a minute are fine');
select is(tests.err(format('select public.roll_dice(%L, %L)', :'s', '1d6')), 'SESSION_028:429', 'the 61st -> 028');

-- a join/leave loop in a lobby (each turn announced to everyone, the key rotated)
select tests.reset_role();
select tests.create_user('lobbyseer') as lseer \gset
select tests.create_user('looper') as looper \gset
select tests.make_character(:'looper', 'Loop') as loop_char \gset
select tests.new_session(:'lseer') as lobby \gset
create function pg_temp.join_leave(p_s uuid, p_uid uuid, p_char uuid) returns void language plpgsql as $$
begin
  perform tests.act_as(p_uid);
  perform public.join_session(p_s, p_char)::jsonb;
  perform public.leave_session(p_s);
  perform tests.reset_role();
end $$;
grant execute on function pg_temp.join_leave(uuid, uuid, uuid) to public;
select pg_temp.join_leave(:'lobby', :'looper', :'loop_char') from generate_series(1, 20) \g /dev/null
select tests.act_as(:'looper');
select is(tests.err(format('select public.join_session(%L, %L)::jsonb', :'lobby', :'loop_char')), 'SESSION_028:429',
  'the 21st join within 10 minutes -> SESSION_028 (a join/leave loop cannot flood a lobby)');
select tests.reset_role();

-- the per-session event cap: game writes refused with 029, ending still works
select tests.reset_role();
update public.sessions set last_seq = seer_private.session_event_limit() - 1 where id = :'s';
select tests.act_as(:'seer');
select public.roll_dice(:'s', '1d6') as last_roll \gset
select tests.reset_role();
select is((select seq from public.dice_rolls where id = (:'last_roll'::jsonb ->> 'rollId')::uuid), seer_private.session_event_limit(),
  'the last event a session may hold is still written (the lock''s allocation counts once)');
select tests.act_as(:'seer');
select is(array[tests.err(format('select public.roll_dice(%L, %L)', :'s', '1d6')),
                tests.err(format($$select public.update_game_state(%L, '{"setVariables": {"a": 1}}')$$, :'s'))],
  array['SESSION_029:422', 'SESSION_029:422'], 'a full session refuses game writes with SESSION_029 (never a silent drop)');
select is(tests.err(format($$select public.end_session(%L, 'completed')::jsonb$$, :'s')), 'ok', 'but can still be ended');

-- 7. Import storage quota and import rate limit --------------------------------------------
select tests.reset_role();
select tests.create_user('author') as author \gset
create temp table tiny(d jsonb) on commit drop;
insert into tiny values ('{"title": "Tiny", "nodes": [{"key": "a", "type": "ending", "title": "A", "body": "x"}]}');
grant select on tiny to public;
select tests.act_as(:'author');
select is((select count(*)::int from generate_series(1, 20) g where public.import_adventure((select d from tiny)) ? 'id'), 20,
  '20 imports in an hour are fine');
select is(tests.err('select public.import_adventure((select d from tiny))'), 'SESSION_028:429',
  'the 21st inside the hour -> SESSION_028 (429)');
select tests.reset_role();
-- an account that already stores 10 MiB of adventure text
update public.adventure_nodes set body = repeat('y', 10485760 - 200)
where id = (select n.id from public.adventure_nodes n join public.adventures a on a.id = n.adventure_id
            where a.created_by = :'author' limit 1);
delete from seer_private.rate_limit_hits where subject = 'user:' || :'author';
select tests.act_as(:'author');
select is(tests.err('select public.import_adventure((select d from tiny))'), 'ok', 'imports fit while under the quota');
select is(tests.err(format('select public.import_adventure(%L)', jsonb_build_object('title', 'Big', 'nodes',
    jsonb_build_array(jsonb_build_object('key', 'a', 'type', 'ending', 'title', 'A', 'body', repeat('z', 1000)))))),
  'SESSION_019:413', 'an import past the 10 MiB per-account storage quota -> SESSION_019 (413)');
select tests.reset_role();
select is((select count(*)::int from public.adventures where created_by = :'author'), 21, 'and stores nothing');

-- stale rate-limit rows are pruned (hourly by pg_cron where it exists)
select tests.reset_role();
insert into seer_private.rate_limit_hits (bucket, subject, hits)
values ('submit_action', 'user:stale', array[now() - interval '3 minutes', now() - interval '2 minutes']),
       ('roll_dice', 'user:stale', array[now() - interval '2 minutes', now() - interval '30 seconds']),
       ('code_lookup', 'user:stale', array[now() - interval '11 minutes']),
       ('import_adventure', 'user:stale', array[now() - interval '30 minutes']);
-- (other tests' committed rows may be stale too in a shared database: at least these two)
select ok(seer_private.prune_rate_limit_hits() >= 2, 'prune_rate_limit_hits returns the rows it dropped');
select is((select array_agg(bucket order by bucket) from seer_private.rate_limit_hits where subject = 'user:stale'),
  array['import_adventure', 'roll_dice'],
  'it drops the rows whose every hit left their bucket''s window (1 minute, 10 minutes), keeps a row with a hit inside it');
select ok(tests.cron_scheduled('select seer_private.prune_rate_limit_hits()', '17 * * * *'), 'scheduled hourly where pg_cron exists');

select * from finish();
rollback;
