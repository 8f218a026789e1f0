-- The adventure graph and the spoiler rule: moves only along links (or a logged override);
-- a node is readable by its author and by participants of a session that visited it, by
-- nobody else, through the tables and the RPCs.
begin;
\ir _helpers.psql
select plan(27);

select tests.create_user('ada') as ada \gset
select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('kim') as kim \gset
select tests.create_user('stan') as stan \gset
select tests.make_character(:'pia') as pia_char \gset
select tests.make_character(:'kim') as kim_char \gset

select tests.call_as(:'ada', $$select public.import_adventure('{
  "title": "The Gloom Mill", "nodes": [
    {"key": "gate", "type": "story", "title": "The Gate", "body": "Rusted hinges.", "xpReward": 10},
    {"key": "wheel", "type": "combat", "title": "The Wheel", "body": "It turns by itself.", "xpReward": 40},
    {"key": "end", "type": "ending", "title": "Dawn", "body": "The mill stops at last.", "xpReward": 50}],
  "links": [{"from": "gate", "to": "wheel", "label": "Enter"}, {"from": "wheel", "to": "end", "label": "Stop it"}]}')$$) ->> 'id' as adv \gset
select tests.call_as(:'ada', format('select public.publish_adventure(%L, true)', :'adv')) \g /dev/null

-- what a role can read of this adventure's graph
create function tests.graph() returns text language sql as $$
  select format('nodes=%s links=%s bodies=%s',
    (select count(*) from public.adventure_nodes where adventure_id = current_setting('t.adv')::uuid),
    (select count(*) from public.adventure_links where adventure_id = current_setting('t.adv')::uuid),
    coalesce((select string_agg(body, '|' order by position) from public.adventure_nodes
              where adventure_id = current_setting('t.adv')::uuid), ''))
$$;
select set_config('t.adv', :'adv', true) \g /dev/null

select tests.act_as(:'ada');
select is(tests.graph(), 'nodes=3 links=2 bodies=Rusted hinges.|It turns by itself.|The mill stops at last.',
  'the author reads every node and link');
select tests.act_as(:'seer');
select is(tests.graph(), 'nodes=0 links=0 bodies=', 'a Seer who has not run it reads nothing');
select tests.act_as(:'stan');
select is(tests.graph(), 'nodes=0 links=0 bodies=', 'a stranger reads nothing');
select tests.act_as_anon();
select is(tests.err('select tests.graph()'), '42501', 'anon cannot read the tables at all');

select tests.act_as(:'seer');
select (public.create_session(:'adv')::jsonb ->> 'id') as s \gset
select tests.act_as(:'pia');
select public.join_session(:'s', :'pia_char')::jsonb \g /dev/null
select tests.act_as(:'kim');
select public.join_session(:'s', :'kim_char')::jsonb \g /dev/null
select tests.act_as(:'seer');
select is(tests.graph(), 'nodes=0 links=0 bodies=', 'Seer, session waiting: no node visited yet');
select public.start_session(:'s')::jsonb as started \gset
select is(tests.graph(), 'nodes=1 links=1 bodies=Rusted hinges.', 'Seer: the start node and its choices once visited');
select tests.act_as(:'pia');
select is(tests.graph(), 'nodes=1 links=1 bodies=Rusted hinges.', 'player: the visited start node');
select is(public.get_session(:'s')::jsonb -> 'currentNode',
  jsonb_build_object('id', (:'started'::jsonb -> 'session' ->> 'currentNodeId')::uuid, 'title', 'The Gate', 'type', 'story',
    'body', 'Rusted hinges.', 'choices', jsonb_build_array(jsonb_build_object('label', 'Enter',
      'nodeId', (select to_node_id from public.adventure_links where adventure_id = :'adv'::uuid and label = 'Enter')))),
  'get_session returns the current node as an object (id, title, type, body, choices)');
select tests.act_as(:'stan');
select is(tests.graph(), 'nodes=0 links=0 bodies=', 'stranger: still nothing while others play');

-- moves: along a link only
select tests.reset_role();
select id as wheel from public.adventure_nodes where adventure_id = :'adv' and title = 'The Wheel' \gset
select id as dawn from public.adventure_nodes where adventure_id = :'adv' and title = 'Dawn' \gset
select tests.act_as(:'seer');
select is(tests.err(format('select public.update_game_state(%L, %L)', :'s', jsonb_build_object('currentNodeId', :'dawn'))),
  'SESSION_000:400', 'jumping to a node that is not linked from the current one is refused');
select is(tests.err_details(format('select public.update_game_state(%L, %L)', :'s', jsonb_build_object('currentNodeId', :'dawn'))),
  'currentNodeId is not linked from the current node (set nodeOverride to move anyway)', 'and says why');
select tests.act_as(:'pia');
select is(tests.graph(), 'nodes=1 links=1 bodies=Rusted hinges.', 'a refused move reveals nothing');
select tests.act_as(:'seer');
select is(public.update_game_state(:'s', jsonb_build_object('currentNodeId', :'wheel'))::jsonb ->> 'currentNodeId', :'wheel',
  'moving along a link');
select tests.reset_role();
select is(
  (select payload - 'seq' - 'timestamp' - 'actor' - 'sessionId' from public.session_events
   where session_id = :'s' and type = 'node_change' order by seq desc limit 1),
  jsonb_build_object('type', 'node_change', 'nodeId', :'wheel', 'nodeType', 'combat', 'nodeTitle', 'The Wheel',
    'nodeBody', 'It turns by itself.', 'choices', jsonb_build_array(jsonb_build_object('label', 'Stop it', 'nodeId', :'dawn')),
    'override', false),
  'node_change carries title, type, body and the choices');
select tests.act_as(:'kim');
select is(tests.graph(), 'nodes=2 links=2 bodies=Rusted hinges.|It turns by itself.', 'players now read the visited nodes');
select tests.act_as(:'seer');
-- back to the gate is not a link either; the override is allowed and logged
select is(tests.err(format('select public.update_game_state(%L, %L)', :'s', jsonb_build_object(
  'currentNodeId', (:'started'::jsonb -> 'session' ->> 'currentNodeId')))), 'SESSION_000:400', 'no link back');
select public.update_game_state(:'s', jsonb_build_object('currentNodeId', (:'started'::jsonb -> 'session' ->> 'currentNodeId'),
  'nodeOverride', true))::jsonb as back \gset
select tests.reset_role();
select is((select payload ->> 'override' from public.session_events where session_id = :'s' and type = 'node_change'
           order by seq desc limit 1), 'true', 'an override move is logged in node_change');
select is((:'back'::jsonb -> 'turnHistory' -> -1) - 'at' - 'actorId',
  jsonb_build_object('type', 'move', 'nodeId', (:'started'::jsonb -> 'session' ->> 'currentNodeId'), 'nodeTitle', 'The Gate',
    'override', true), 'and in turnHistory as a typed move');
select is((:'back'::jsonb -> 'turnHistory' -> -1),
  (select payload -> 'turns' -> -1 from public.session_events where session_id = :'s' and type = 'game_state'
   order by seq desc limit 1), 'turnHistory''s move is the one the game_state event carries');

-- kicked and left players lose the graph with the session; Dawn stays unread by everyone
select tests.act_as(:'seer');
select public.kick_player(:'s', (select id from public.session_players where session_id = :'s' and user_id = :'kim')) \g /dev/null
select tests.act_as(:'kim');
select is(tests.graph(), 'nodes=0 links=0 bodies=', 'a kicked player reads nothing any more');
select tests.act_as(:'pia');
select ok(not exists (select 1 from public.adventure_nodes where id = :'dawn'), 'the unvisited ending stays hidden from players');
select ok(not exists (select 1 from jsonb_array_elements(public.session_events_since(:'s', 0)::jsonb) e
                      where e::text like '%The mill stops%'), 'no event carries an unvisited node''s body');
select ok(public.get_session(:'s')::jsonb::text not like '%The mill stops%', 'get_session does not either');
select ok(public.list_adventures('all', 'Gloom')::text not like '%The mill stops%', 'nor the library');
select tests.act_as(:'seer');
select ok(not exists (select 1 from public.adventure_nodes where id = :'dawn'), 'nor the Seer, before reaching it');
select tests.act_as(:'ada');
select ok(exists (select 1 from public.adventure_nodes where id = :'dawn'), 'the author always');
select tests.act_as(:'stan');
select is(tests.err(format('select public.get_session(%L)::jsonb', :'s')), 'SESSION_001:404', 'strangers cannot read the session');

select * from finish();
rollback;
