-- Issue 24, the game-state path: turnHistory is built from the entries' stored JSON texts
-- (session_events.turn_json) and update_game_state / get_game_state answer `json`, so the
-- derived history is never extracted, aggregated as jsonb and serialized again. What must not
-- change: the entries, their order and the rule (newest 100 entries of the newest 100 turn
-- events, cut at 128 KiB by the stored lengths, an event's entries kept or dropped together
-- for the byte bound), the replies' content, account deletion's anonymisation.
begin;
\ir _helpers.psql
select plan(21);

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('kim') as kim \gset
select tests.make_character(:'pia') as pia_char \gset
select tests.make_character(:'kim') as kim_char \gset
select tests.new_session(:'seer') as s \gset
select tests.join(:'s', :'pia', :'pia_char') as pia_seat \gset
select tests.call_as(:'seer', format('select public.start_session(%L)', :'s')) \g /dev/null

-- turnHistory as it was derived before the stored texts (jsonb from the payloads): the
-- reference the new derivation is compared with
create function tests.turn_history_ref(p_session_id uuid) returns jsonb language sql stable as $$
  with n as (
    select e.seq, e.type, e.payload, sum(e.turn_bytes + 2) over (order by e.seq desc) as bytes
    from (select ev.seq, ev.type, ev.payload, ev.turn_bytes from public.session_events ev
          where ev.session_id = p_session_id and ev.turn_bytes is not null
          order by ev.seq desc limit 100) e)
  select coalesce(jsonb_agg(z.turn order by z.seq, z.o), '[]'::jsonb)
  from (select k.seq, k.o, k.turn
        from (select n.seq, 1::bigint as o, n.payload -> 'entry' as turn from n
              where n.type <> 'game_state' and n.bytes <= 131072
              union all
              select n.seq, t.o, t.turn from n
              cross join lateral jsonb_array_elements(n.payload -> 'turns') with ordinality t(turn, o)
              where n.type = 'game_state' and n.bytes <= 131072) k
        order by k.seq desc, k.o desc limit 100) z
$$;

-- A note with a move (one event, two entries), a roll, an action, then 97 notes: 101 entries
-- in 100 turn events, so the 100-entry cut splits the oldest event (its note goes, its move stays)
select tests.call_as(:'seer', format($$select public.update_game_state(%L, %L)$$, :'s',
  jsonb_build_object('currentNodeId', tests.node(3), 'nodeOverride', true, 'turn', jsonb_build_object('text', 'we run')))) \g /dev/null
select tests.call_as(:'seer', format($$select public.roll_dice(%L, '2d6', 'door')$$, :'s')) \g /dev/null
select tests.call_as(:'pia', format($$select public.submit_action(%L, 'I open it')$$, :'s')) \g /dev/null
select tests.call_as(:'seer', format($$select public.update_game_state(%L, %L)$$, :'s',
  jsonb_build_object('turn', jsonb_build_object('n', g)))) from generate_series(1, 97) g \g /dev/null
select tests.call_as(:'seer', format($$select public.update_game_state(%L, '{"setVariables": {"hp": 1}}')$$, :'s')) as gs \gset

select is(pg_get_function_result('public.update_game_state(uuid,jsonb,int,boolean)'::regprocedure) || ' ' ||
          pg_get_function_result('public.get_game_state(uuid)'::regprocedure), 'json json',
  'update_game_state and get_game_state answer json (sent as built)');
select is((select count(*)::int from public.session_events e where e.session_id = :'s'
           and (e.turn_json is null) <> (e.turn_bytes is null)), 0,
  'an event has turn_json exactly when it carries turn entries');
select is((select count(*)::int from public.session_events e where e.session_id = :'s' and e.turn_bytes is not null
           and (case when json_typeof(e.turn_json) = 'array' then e.turn_json::text else '[' || e.turn_json::text || ']' end)
               is distinct from seer_private.turns_of_event(e.type, e.payload)::text), 0,
  'turn_json is the event''s entries in jsonb''s own text (the entry, or the array of several)');
select is((select array_agg(t order by seq) from (
             select json_typeof(e.turn_json) as t, e.seq from public.session_events e
             where e.session_id = :'s' and e.turn_bytes is not null order by e.seq limit 4) x),
  array['array', 'object', 'object', 'object'], '... an array only for the event with a note and a move');
select is((select count(*)::int from public.session_events e where e.session_id = :'s' and e.turn_bytes is not null
           and e.turn_bytes <> octet_length(e.turn_json::text) + case when json_typeof(e.turn_json) = 'array' then 0 else 2 end), 0,
  '... so turn_bytes is its length as an array');
select is(jsonb_array_length(:'gs'::jsonb -> 'turnHistory'), 100, 'turnHistory holds 100 entries');
select is(:'gs'::jsonb -> 'turnHistory', tests.turn_history_ref(:'s'),
  'turnHistory is the events'' entries by the same rule (the cut splits the oldest event)');
select is(array[:'gs'::jsonb -> 'turnHistory' -> 0 ->> 'type', :'gs'::jsonb -> 'turnHistory' -> 1 ->> 'type',
                :'gs'::jsonb -> 'turnHistory' -> 2 ->> 'type', :'gs'::jsonb -> 'turnHistory' -> 99 ->> 'n'],
  array['move', 'roll', 'action', '97'], '... the move kept, its note dropped, newest last');
select is((tests.call_as(:'pia', format('select public.get_game_state(%L)', :'s')))::jsonb, :'gs'::jsonb,
  'get_game_state answers the same state');
select is((tests.call_as(:'pia', format('select public.get_session(%L)', :'s')))::jsonb -> 'gameState', :'gs'::jsonb,
  'get_session''s gameState is the same (turnHistory included)');
select is((tests.call_as(:'seer', format($$select public.update_game_state(%L, '{}')$$, :'s')))::jsonb, :'gs'::jsonb,
  'an empty patch answers the same state');

-- One entry per event (rolls, actions, single notes and moves) within 128 KiB: the one-pass case
select tests.new_session(:'seer') as s2 \gset
select tests.join(:'s2', :'kim', :'kim_char') \g /dev/null
select tests.call_as(:'seer', format('select public.start_session(%L)', :'s2')) \g /dev/null
select tests.call_as(:'seer', format($$select public.roll_dice(%L, '1d6', 'luck')$$, :'s2')) \g /dev/null
select tests.call_as(:'seer', format($$select public.update_game_state(%L, %L)$$, :'s2',
  jsonb_build_object('currentNodeId', tests.node(2), 'nodeOverride', true))) \g /dev/null
select tests.call_as(:'kim', format($$select public.submit_action(%L, 'I follow')$$, :'s2')) \g /dev/null
select tests.call_as(:'seer', format($$select public.update_game_state(%L, '{"turn": {"text": "dusk"}}')$$, :'s2')) as gs3 \gset
select is(:'gs3'::jsonb -> 'turnHistory', tests.turn_history_ref(:'s2'), 'one entry per event: the same entries');
select is((select array_agg(t ->> 'type') from jsonb_array_elements(:'gs3'::jsonb -> 'turnHistory') t),
  array['roll', 'move', 'action', 'note'], '... in seq order');

-- p_turn_history false (a client that folds the events has the turns): the same change and
-- event, the reply's turnHistory null, not read
select tests.call_as(:'seer', format($$select public.update_game_state(%L, '{"setVariables": {"hp": 2}, "turn": {"text": "night"}}', null, false)$$, :'s2')) as lean \gset
select tests.call_as(:'kim', format('select public.get_game_state(%L)', :'s2')) as after \gset
select is(:'lean'::jsonb -> 'turnHistory', 'null'::jsonb, 'p_turn_history false: turnHistory is null');
select is(:'lean'::jsonb - 'turnHistory', :'after'::jsonb - 'turnHistory', '... the rest is the new state');
select is((select array[e.type, e.payload ->> 'version', e.payload #>> '{turns,0,text}'] from public.session_events e
           where e.session_id = :'s2' order by e.seq desc limit 1),
  array['game_state', :'lean'::jsonb ->> 'version', 'night'], '... its event written as always, with its turn');
select is((tests.call_as(:'seer', format($$select public.update_game_state(%L, '{}', null, false)$$, :'s2')))::jsonb,
  :'lean'::jsonb, '... and an empty patch answers the same');

-- The 128 KiB bound: big notes, cut by the stored lengths exactly as before
select tests.call_as(:'seer', format($$select public.update_game_state(%L, %L)$$, :'s',
  jsonb_build_object('turn', jsonb_build_object('text', repeat('t', 7000 + g))))) from generate_series(1, 20) g \g /dev/null
select tests.call_as(:'seer', format('select public.get_game_state(%L)', :'s')) as gs2 \gset
select is(:'gs2'::jsonb -> 'turnHistory', tests.turn_history_ref(:'s'), 'the 128 KiB cut is the same');
select ok(octet_length((:'gs2'::jsonb -> 'turnHistory')::text) <= 131072
          and jsonb_array_length(:'gs2'::jsonb -> 'turnHistory') between 10 and 99,
  '... and cuts (fewer than 100 entries, at most 128 KiB)');

-- Account deletion: the stored texts follow the anonymised payloads
select tests.call_as(:'pia', format($$select public.submit_action(%L, 'I wave')$$, :'s')) \g /dev/null
delete from auth.users where id = :'pia';
select is((select count(*)::int from public.session_events e where e.session_id = :'s' and e.type = 'player_action'
           and (e.turn_json ->> 'actorId') is not null), 0,
  'a deleted account''s entries lose its id in turn_json too');
select ok((select seer_private.turn_history(:'s')::text) !~ :'pia',
  '... and turnHistory no longer names it');

select * from finish();
rollback;
