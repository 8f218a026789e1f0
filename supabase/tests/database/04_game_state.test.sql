-- get_game_state / update_game_state: every patch key, validation (nothing changes on a
-- bad patch), optimistic concurrency (SESSION_014), events.
begin;
\ir _helpers.psql
select plan(45);

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('stan') as stan \gset
select tests.make_character(:'pia') as pia_char \gset
select tests.new_session(:'seer') as s \gset
select tests.join(:'s', :'pia', :'pia_char') \g /dev/null

select tests.act_as(:'seer');
select is(tests.err(format($$select public.update_game_state(%L, '{"addFlags": ["x"]}')$$, :'s')), 'SESSION_010:422',
  'no state changes before the session starts');
select public.start_session(:'s')::jsonb \g /dev/null

select tests.act_as(:'pia');
select is(public.get_game_state(:'s')::jsonb ->> 'version', '0', 'players read the state; version starts at 0');
select is(
  (select array_agg(k order by k) from jsonb_object_keys(public.get_game_state(:'s')::jsonb) k),
  array['combatState', 'currentNodeId', 'flags', 'inventory', 'turnHistory', 'variables', 'version', 'visitedNodeIds'],
  'GameState has exactly the contract keys');
select is(tests.err(format($$select public.update_game_state(%L, '{"addFlags": ["x"]}')$$, :'s')), 'SESSION_007:403',
  'players cannot change the state');
select tests.act_as(:'stan');
select is(tests.err(format('select public.get_game_state(%L)', :'s')), 'SESSION_001:404', 'strangers cannot read it');
select is(tests.err(format($$select public.update_game_state(%L, '{"addFlags": ["x"]}')$$, :'s')), 'SESSION_001:404',
  'strangers cannot change it');

select tests.act_as(:'seer');
select public.update_game_state(:'s', '{"addInventory": [{"id": "rope", "name": "Rope", "quantity": 2}, {"id": "lamp", "name": "Lamp"}]}', 0)::jsonb as g1 \gset
select is(:'g1'::jsonb -> 'inventory', '[{"id": "rope", "name": "Rope", "quantity": 2}, {"id": "lamp", "name": "Lamp"}]'::jsonb, 'addInventory');
select is(:'g1'::jsonb ->> 'version', '1', 'version +1');
select is(public.update_game_state(:'s', '{"addInventory": [{"id": "rope", "name": "Rope", "quantity": 1}]}')::jsonb -> 'inventory',
  '[{"id": "lamp", "name": "Lamp"}, {"id": "rope", "name": "Rope", "quantity": 1}]'::jsonb, 'an item with the same id is replaced');
select is(public.update_game_state(:'s', '{"removeInventory": ["lamp", "nothing"]}')::jsonb -> 'inventory',
  '[{"id": "rope", "name": "Rope", "quantity": 1}]'::jsonb, 'removeInventory (unknown ids ignored)');
select is(public.update_game_state(:'s', '{"setVariables": {"tide": 3, "door": "open", "lit": true}}')::jsonb -> 'variables',
  '{"tide": 3, "door": "open", "lit": true}'::jsonb, 'setVariables');
select is(public.update_game_state(:'s', '{"setVariables": {"tide": 4}}')::jsonb -> 'variables',
  '{"tide": 4, "door": "open", "lit": true}'::jsonb, 'setVariables merges');
select is(public.update_game_state(:'s', '{"addFlags": ["a", "b", "a"]}')::jsonb -> 'flags', '["a", "b"]'::jsonb, 'addFlags (set semantics)');
select is(public.update_game_state(:'s', '{"addFlags": ["b", "c"], "removeFlags": ["a"]}')::jsonb -> 'flags', '["b", "c"]'::jsonb,
  'addFlags + removeFlags in one patch');
select is(
  (select jsonb_agg(t - 'at' - 'actorId') from jsonb_array_elements(
     public.update_game_state(:'s', '{"turn": {"actor": "pia", "text": "opens the door", "type": "roll"}}')::jsonb -> 'turnHistory') t),
  '[{"type": "note", "actor": "pia", "text": "opens the door"}]'::jsonb, 'turn appends a typed note to turnHistory');
-- the counters and combatState belong to roll_dice and the combat RPCs
select is(tests.err(format($$select public.update_game_state(%L, '{"combatState": {"round": 1}}')$$, :'s')),
  'SESSION_000:400', 'combatState cannot be patched');
select is(tests.err(format($$select public.update_game_state(%L, '{"combatState": null, "diceRolls": 5}')$$, :'s')),
  'SESSION_000:400', 'diceRolls cannot be patched');
select tests.reset_role();
select is((select combats_completed from public.sessions where id = :'s'), 0, 'no combat counted by patches');
select is((select dice_rolled::int from public.sessions where id = :'s'), 0, 'no dice counted by patches');

select tests.act_as(:'seer');
select public.update_game_state(:'s', jsonb_build_object('currentNodeId', tests.node(2)))::jsonb as g3 \gset
select is(:'g3'::jsonb ->> 'currentNodeId', tests.node(2)::text, 'currentNodeId moves');
select is(:'g3'::jsonb -> 'visitedNodeIds', jsonb_build_array(tests.node(1), tests.node(2)), 'and is recorded as visited');
select is(public.update_game_state(:'s', jsonb_build_object('currentNodeId', tests.node(1), 'nodeOverride', true))::jsonb -> 'visitedNodeIds',
  jsonb_build_array(tests.node(1), tests.node(2)), 'revisiting (off the links, with nodeOverride) does not duplicate');
select is(public.get_session(:'s')::jsonb ->> 'currentNodeId', tests.node(1)::text, 'Session.currentNodeId follows');
select tests.reset_role();
select results_eq(
  format($$select type, payload ->> 'nodeTitle', payload ->> 'version' from public.session_events
           where session_id = %L and seq > (select max(seq) - 4 from public.session_events where session_id = %L) order by seq$$, :'s', :'s'),
  $$values ('game_state', null, '9'), ('node_change', 'Two Ways Down', null),
           ('game_state', null, '10'), ('node_change', 'The Drowned Shore', null)$$,
  'game_state events carry the version; node moves add node_change');
select is((select payload -> 'changes' from public.session_events where session_id = :'s' and type = 'game_state' order by seq limit 1),
  '{"addInventory": [{"id": "rope", "name": "Rope", "quantity": 2}, {"id": "lamp", "name": "Lamp"}]}'::jsonb,
  'game_state event carries the applied patch');

-- optimistic concurrency
select tests.act_as(:'seer');
select (public.get_game_state(:'s')::jsonb ->> 'version')::int as v \gset
select is(tests.err(format($$select public.update_game_state(%L, '{"addFlags": ["stale"]}', %s)$$, :'s', :v - 1)),
  'SESSION_014:409', 'a stale expected version -> 014');
select is(tests.err_details(format($$select public.update_game_state(%L, '{"addFlags": ["stale"]}', %s)$$, :'s', :v - 1)),
  'currentVersion=' || :v, 'details carry the current version');
select is(public.update_game_state(:'s', '{"addFlags": ["fresh"]}', :v)::jsonb ->> 'version', (:v + 1)::text,
  'the current expected version applies');
select tests.reset_role();
select is((select count(*)::int from public.sessions where id = :'s' and game_state -> 'flags' @> '["stale"]'), 0,
  'the stale patch changed nothing');

-- validation: every bad patch is 000 and changes nothing
select tests.reset_role();
select state_version as v0, last_seq as seq0, game_state::text as gs0 from public.sessions where id = :'s' \gset
select tests.act_as(:'seer');
create temp table bad(patch text, why text) on commit drop;
insert into bad values
  ('null', 'JSON null'), ('[]', 'an array'), ('"x"', 'a string'),
  ('{"teleport": 1}', 'unknown key'),
  ('{"currentNodeId": "not-a-uuid"}', 'bad node id'),
  ('{"currentNodeId": "00000000-0000-4000-8000-000000000bad"}', 'unknown node'),
  ('{"currentNodeId": 5}', 'node id not a string'),
  ('{"addInventory": {"id": "x"}}', 'inventory not an array'),
  ('{"addInventory": [{"id": "x"}]}', 'item without name'),
  ('{"addInventory": [{"name": "x"}]}', 'item without id'),
  ('{"addInventory": [{"id": "", "name": "x"}]}', 'empty id'),
  ('{"addInventory": [{"id": 1, "name": "x"}]}', 'numeric id'),
  ('{"addInventory": [{"id": "x", "name": "x", "quantity": -1}]}', 'negative quantity'),
  ('{"addInventory": [{"id": "x", "name": "x", "quantity": 1.5}]}', 'fractional quantity'),
  ('{"addInventory": ["x"]}', 'item not an object'),
  ('{"removeInventory": "x"}', 'removeInventory not an array'),
  ('{"removeInventory": [1]}', 'removeInventory numbers'),
  ('{"setVariables": {"a": {"b": 1}}}', 'nested variable'),
  ('{"setVariables": {"a": null}}', 'null variable'),
  ('{"setVariables": {"a": [1]}}', 'array variable'),
  ('{"setVariables": [1]}', 'variables not an object'),
  ('{"addFlags": [1]}', 'numeric flag'),
  ('{"addFlags": "a"}', 'flags not an array'),
  ('{"removeFlags": [null]}', 'null flag'),
  ('{"diceRolls": -1}', 'negative dice'),
  ('{"diceRolls": 1.5}', 'fractional dice'),
  ('{"diceRolls": "3"}', 'dice as string'),
  ('{"diceRolls": 1e300}', 'huge dice'),
  ('{"combatState": "fight"}', 'combatState string'),
  ('{"turn": [1]}', 'turn not an object'),
  ('{"currentNodeId": "00000000-0000-4000-8000-00000000b005"}', 'a node not linked from the current one'),
  ('{"currentNodeId": "00000000-0000-4000-8000-00000000b005", "nodeOverride": "yes"}', 'nodeOverride not a boolean'),
  ('{"addFlags": ["ok"], "teleport": 1}', 'one bad key spoils the whole patch');
insert into bad select jsonb_build_object('setVariables', jsonb_build_object('long', repeat('x', 2001)))::text, 'long string variable';
insert into bad select jsonb_build_object('turn', jsonb_build_object('text', repeat('x', 9000)))::text, 'turn over 8 KiB';
insert into bad select jsonb_build_object('addFlags', jsonb_build_array(repeat('x', 70000)))::text, 'patch over 64 KiB';
insert into bad select jsonb_build_object('addFlags', (select jsonb_agg('f' || i) from generate_series(1, 600) i))::text, 'over 500 flags';
grant select on bad to public;
select is(
  (select array_agg(why || ' => ' || got) from (
     select why, tests.err(format('select public.update_game_state(%L, %L::jsonb)', :'s', patch)) got from bad) x
   where got <> 'SESSION_000:400'),
  null, 'every malformed patch is SESSION_000 (37 cases)');
select is(tests.err(format('select public.update_game_state(%L, null)', :'s')), 'SESSION_000:400', 'SQL null patch -> 000');
select tests.reset_role();
select is((select state_version from public.sessions where id = :'s'), :v0, 'rejected patches did not bump the version');
select is((select last_seq from public.sessions where id = :'s'), :seq0::bigint, 'rejected patches wrote no events');
select is((select game_state::text from public.sessions where id = :'s'), :'gs0', 'rejected patches changed no state');

select tests.act_as(:'seer');
select is(public.update_game_state(:'s', '{}')::jsonb ->> 'version', :'v0', 'an empty patch is a no-op');
select is(tests.err(format($$select public.update_game_state(%L, '{}', %s)$$, :'s', :v0 + 5)), 'SESSION_014:409',
  'even an empty patch checks the version');

-- other node types are counted for XP; node of another adventure is refused
select tests.reset_role();
insert into public.adventures (id, title) values ('00000000-0000-4000-8000-0000000000e1', 'Other');
insert into public.adventure_nodes (id, adventure_id, node_type, title, xp_reward)
values ('00000000-0000-4000-8000-0000000000e2', '00000000-0000-4000-8000-0000000000e1', 'story', 'Elsewhere', 999);
select tests.act_as(:'seer');
select is(tests.err(format($$select public.update_game_state(%L, '{"currentNodeId": "00000000-0000-4000-8000-0000000000e2"}')$$, :'s')),
  'SESSION_000:400', 'a node of another adventure is refused');

-- session_events_since
select tests.act_as(:'pia');
select is(jsonb_array_length(public.session_events_since(:'s', 0)::jsonb), :seq0::int, 'all events since 0');
select is(public.session_events_since(:'s', 0, 3)::jsonb -> 2 ->> 'seq', '3', 'limit and order by seq');
select is(jsonb_array_length(public.session_events_since(:'s', 0, 100000)::jsonb), :seq0::int, 'huge limit is capped, not an error');
select is(public.session_events_since(:'s', :seq0)::jsonb, '[]'::jsonb, 'nothing after the last seq');
select is(public.session_events_since(:'s', null, null)::jsonb -> 0 ->> 'type', 'session_created', 'null afterSeq/limit use defaults');
select is(tests.err(format('select public.session_events_since(%L, -1)::jsonb', :'s')), 'SESSION_000:400', 'negative afterSeq -> 000');
select is(tests.err(format('select public.session_events_since(%L, 0, 0)::jsonb', :'s')), 'SESSION_000:400', 'limit 0 -> 000');
select is(
  (select array_agg(k order by k) from jsonb_object_keys(public.session_events_since(:'s', 0, 1)::jsonb -> 0) k),
  array['actor', 'seq', 'sessionId', 'status', 'timestamp', 'type'], 'event JSON: seq, type, sessionId, timestamp, actor + fields');

select * from finish();
rollback;
