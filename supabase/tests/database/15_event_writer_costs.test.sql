-- Issue 24 (half the database cost per live player): what the cheaper paths must still be.
-- * The event writer inserts the broadcast row itself instead of calling realtime.send: the
--   row must be exactly the one send writes, and a failed broadcast must not fail the write.
-- * Turns travel in the events (`entry`, `turns`) and turnHistory is derived from the log: a roll or an
--   action no longer rewrites the game state, and turnHistory is what it was.
-- * session_json's players: player_fields inlined, not one function call per seat.
-- * turnHistory reads a long game's newest 100 turns along the index, not all of its turns.
-- * The heartbeat's fast path commits asynchronously; nothing else does.
begin;
\ir _helpers.psql
select plan(23);

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('kim') as kim \gset
select tests.make_character(:'pia') as pia_char \gset
select tests.make_character(:'kim') as kim_char \gset
select tests.new_session(:'seer') as s \gset
select tests.join(:'s', :'pia', :'pia_char') as pia_seat \gset
select tests.join(:'s', :'kim', :'kim_char') \g /dev/null
select tests.call_as(:'seer', format('select public.start_session(%L)::jsonb', :'s')) \g /dev/null
select topic from seer_private.session_channels where session_id = :'s' \gset

-- The broadcast row: the columns and values realtime.send(event, type, topic, true) writes
select tests.call_as(:'seer', format($$select public.update_game_state(%L, '{"setVariables": {"hp": 7}}')$$, :'s')) \g /dev/null
select payload as ev, id as ev_id from realtime.messages where topic = :'topic' and event = 'game_state'
  order by inserted_at desc limit 1 \gset
select realtime.send((:'ev'::jsonb) - 'id', 'game_state', :'topic', true);
select is((select count(*)::int from realtime.messages where topic = :'topic' and event = 'game_state'
           and payload - 'id' = (:'ev'::jsonb) - 'id'), 2, 'the writer''s row and send''s row carry the same event');
select is((select array_agg(distinct (m.extension, m.private, m.event, m.topic)::text)
           from realtime.messages m where m.topic = :'topic' and m.event = 'game_state'),
  array[format('(broadcast,t,game_state,%s)', :'topic')], '... with the same extension, private flag, event and topic');
select is((select bool_and(m.payload ->> 'id' = m.id::text) from realtime.messages m
           where m.topic = :'topic' and m.event = 'game_state'), true, '... and payload.id = the row id (meta.id), as send sets it');
select is(:'ev'::jsonb - 'id',
  (select payload from public.session_events where session_id = :'s' and type = 'game_state' order by seq desc limit 1),
  'the broadcast is the stored event (plus id)');

-- A broadcast that cannot be written (no partition for today, as when Realtime's janitor has
-- not run) is a warning, as in realtime.send, and the change and its event still commit
select 'realtime.messages_' || to_char(now() at time zone 'utc', 'YYYY_MM_DD') as part,
       (now() at time zone 'utc')::date::text as d0, ((now() at time zone 'utc')::date + 1)::text as d1 \gset
alter table realtime.messages detach partition :part;
select lives_ok(format('select tests.call_as(%L, %L)', :'seer',
  format($$select public.update_game_state(%L, '{"setVariables": {"hp": 8}}')$$, :'s')),
  'update_game_state succeeds without a partition for the broadcast');
select is((select payload -> 'changes' from public.session_events where session_id = :'s' order by seq desc limit 1),
  '{"setVariables": {"hp": 8}}'::jsonb, '... and its event is in the log');
alter table realtime.messages attach partition :part for values from (:'d0') to (:'d1');

-- Turns: rolls and actions leave the stored game state alone
select game_state as gs_before from public.sessions where id = :'s' \gset
select tests.call_as(:'seer', format($$select public.roll_dice(%L, '2d6', 'door')$$, :'s')) as roll \gset
select is((select m.payload - 'id' from realtime.messages m where m.topic = :'topic' and m.event = 'dice_rolled'
           and (m.payload ->> 'seq')::bigint = (select max(seq) from public.session_events where session_id = :'s')),
  (select payload from public.session_events where session_id = :'s' and type = 'dice_rolled' order by seq desc limit 1),
  'a turn event''s broadcast is its stored event (plus id), with the version the turn produced');
select tests.call_as(:'pia', format($$select public.submit_action(%L, 'I open it')$$, :'s')) as act \gset
select tests.call_as(:'seer', format($$select public.update_game_state(%L, '{"turn": {"text": "it creaks"}}')$$, :'s')) as gs \gset
select is((select game_state - 'variables' from public.sessions where id = :'s'), (:'gs_before'::jsonb) - 'variables',
  'a roll, an action and a note do not write the stored game state (only the patch''s own keys)');
select ok(not (select game_state ? 'turnHistory' from public.sessions where id = :'s'), 'no turnHistory is stored while the log is whole');
select is(:'gs'::jsonb -> 'turnHistory',
  (select jsonb_agg(t order by e.seq, o) from public.session_events e
   cross join lateral jsonb_array_elements(seer_private.turns_of_event(e.type, e.payload)) with ordinality x(t, o)
   where e.session_id = :'s' and e.turn_bytes is not null),
  'turnHistory is the events'' entries in seq order');
select is((select array_agg(t ->> 'type') from jsonb_array_elements(:'gs'::jsonb -> 'turnHistory') t),
  array['roll', 'action', 'note'], '... a roll, an action and a note');
select is((:'act'::jsonb -> 'entry') - 'at' - 'actorId',
  ((:'act'::jsonb) - 'seq' - 'type' - 'sessionId' - 'timestamp' - 'actor' - 'entry' - 'version') || '{"type": "action"}',
  'submit_action''s reply is its event, with the action entry');
select is((select turn_bytes from public.session_events where session_id = :'s' and type = 'player_action'),
  octet_length(jsonb_build_array(:'act'::jsonb -> 'entry')::text), 'each turn event stores its entries'' JSON length');

-- Compaction keeps turnHistory on the row before the turn events go
select tests.call_as(:'seer', format($$select public.end_session(%L, 'completed')::jsonb$$, :'s')) \g /dev/null
select seer_private.game_state_json(s)::jsonb -> 'turnHistory' as th from public.sessions s where s.id = :'s' \gset
select seer_private.compact_event_logs(now() + interval '31 days') \g /dev/null
select is((select count(*)::int from public.session_events where session_id = :'s' and turn_bytes is not null), 0,
  'compaction deletes the turn events');
select is((select seer_private.game_state_json(s)::jsonb -> 'turnHistory' from public.sessions s where s.id = :'s'), :'th'::jsonb,
  '... and turnHistory stays the same (kept on the session row)');

-- Account deletion anonymises the entries the person made
select tests.new_session(:'seer') as s2 \gset
select tests.join(:'s2', :'kim', :'kim_char') \g /dev/null
select tests.call_as(:'seer', format('select public.start_session(%L)::jsonb', :'s2')) \g /dev/null
select tests.call_as(:'kim', format($$select public.submit_action(%L, 'I wave')$$, :'s2')) \g /dev/null
delete from auth.users where id = :'kim';
select is((select payload -> 'entry' -> 'actorId' from public.session_events where session_id = :'s2' and type = 'player_action'),
  'null'::jsonb, 'a deleted account''s turn entries lose its id');

-- session_json: player_fields is inlined into the players query (its plan shows the JSON
-- built in place), not run through the SQL-function executor once per seat
create function tests.plan_text(p_sql text) returns text language plpgsql as $$
declare
  r text;
  t text := '';
begin
  for r in execute 'explain (verbose, costs off) ' || p_sql loop
    t := t || r || E'\n';
  end loop;
  return t;
end $$;
select tests.plan_text(format($$
  select json_agg(seer_private.player_fields(sp, c, pr.display_name, l.last_heartbeat_at) order by sp.joined_at, sp.id)
  from public.session_players sp
  left join public.characters c on c.id = sp.character_id
  left join public.profiles pr on pr.id = sp.user_id
  left join seer_private.seat_liveness l on l.player_id = sp.id
  where sp.session_id = %L and sp.left_at is null$$, :'s2')) as players_plan \gset
select ok(:'players_plan' !~ 'player_fields' and :'players_plan' ~ 'json_build_object',
  'session_json''s players query inlines player_fields');

-- The event writer measures each event's turn entries with turns_of_event: stable, so it
-- inlines (an immutable SQL function with a stable body, jsonb_build_array, never inlines and
-- was parsed and planned again in every transaction)
select tests.plan_text($$select octet_length(seer_private.turns_of_event(e.type, e.payload)::text)
  from public.session_events e$$) as turns_plan \gset
select ok(:'turns_plan' !~ 'turns_of_event' and :'turns_plan' ~ 'jsonb_build_array',
  'turns_of_event inlines into the writer''s statement');

-- The rate limiter's hits have no foreign key to rate_limits: every hit took a KEY SHARE lock
-- on its bucket's one row, so concurrent players made a MultiXact per call (the limiter reads
-- the bucket row itself, strictly, before it counts or records)
select is((select count(*)::int from pg_constraint
           where conrelid = 'seer_private.rate_limit_hits'::regclass and contype = 'f'), 0,
  'rate_limit_hits has no foreign key (no shared row lock per hit)');

-- turnHistory reads the newest 100 turns of a long game, not all of them: with the planner's
-- estimate for a session (the table's average, below 100 here as in production) and plpgsql's
-- cached generic plan, a bitmap scan plus a sort of every turn event of the session was the
-- cheaper plan on paper. 300 turn events; each read may fetch at most 100 of them. The
-- sequential scan is off as in a table of production size (this one is too small for any
-- index to pay), and every read uses the generic plan.
select tests.new_session(:'seer') as s4 \gset
-- (turn_bytes and turn_json derived by the writer's own functions, as bench/history.py fills)
insert into public.session_events (session_id, seq, type, payload, actor, turn_bytes, turn_json)
select :'s4', 1000 + g, 'dice_rolled', ev.payload, :'seer'::uuid,
       octet_length(t.turns::text), seer_private.turn_json(t.turns)
from generate_series(1, 300) g,
     lateral (select jsonb_build_object('seq', 1000 + g, 'entry',
                jsonb_build_object('type', 'roll', 'actorId', :'seer'::uuid, 'total', g)) as payload) ev,
     lateral (select seer_private.turns_of_event('dice_rolled', ev.payload) as turns) t;
analyze public.session_events;
set local plan_cache_mode = force_generic_plan;
set local enable_seqscan = off;
select idx_tup_fetch + seq_tup_read as fetched_before from pg_stat_xact_user_tables
  where relid = 'public.session_events'::regclass \gset
select seer_private.turn_history(:'s4') \g /dev/null
select seer_private.turn_history(:'s4') \g /dev/null
select array_agg((t ->> 'total')::int) as totals from json_array_elements(seer_private.turn_history(:'s4')) t \gset
select is((select idx_tup_fetch + seq_tup_read - :fetched_before from pg_stat_xact_user_tables
           where relid = 'public.session_events'::regclass), 300::bigint,
  'three reads of a 300-turn history fetch 100 event rows each (the newest, along the index)');
select is(:'totals'::int[], (select array_agg(g) from generate_series(201, 300) g),
  '... which are its newest 100 turns in order');
reset enable_seqscan;
reset plan_cache_mode;

-- The heartbeat: the fast path (a connected seat) commits asynchronously, the rest does not
select tests.new_session(:'seer') as s3 \gset
select tests.join(:'s3', :'pia', :'pia_char') \g /dev/null
set local synchronous_commit = on;
select tests.call_as(:'seer', format('select public.heartbeat(%L)', :'s3')) \g /dev/null
select is(current_setting('synchronous_commit'), 'on', 'the Seer''s heartbeat (slow path) keeps synchronous commit');
select tests.call_as(:'pia', format('select public.heartbeat(%L)', :'s3')) \g /dev/null
select is(current_setting('synchronous_commit'), 'off', 'a connected seat''s heartbeat commits asynchronously');

select * from finish();
rollback;
