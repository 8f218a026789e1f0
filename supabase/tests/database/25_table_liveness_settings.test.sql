-- Issue 22: the Seer's liveness (heartbeat, sweeper, events, the auto-pause), the inactive
-- player's return (readmit requested), update_session_settings (who may, bounds, one event),
-- and the game events carrying what a client's fold needs (version, server-made turns).
begin;
\ir _helpers.psql
select plan(45);

-- other suites' live sessions out of the way (see 05_sweeper)
select seer_private.sweep(now() + interval '100 years') \g /dev/null

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('quin') as quin \gset
select tests.create_user('stranger') as stranger \gset
select tests.make_character(:'pia', 'Pia') as pia_char \gset
select tests.make_character(:'quin', 'Quin') as quin_char \gset
select tests.make_character(:'pia', 'Pia II') as pia_char2 \gset
select tests.make_character(:'pia', 'Pia III') as pia_char3 \gset

-- the game events' fold fields -------------------------------------------------------------
select tests.new_session(:'seer') as g \gset
select tests.join(:'g', :'pia', :'pia_char') as pia_seat \gset
select tests.call_as(:'seer', format('select public.start_session(%L)::jsonb', :'g')) \g /dev/null
select tests.call_as(:'seer', format($q$select public.update_game_state(%L,
  '{"turn": {"text": "hi"}, "currentNodeId": "%s", "addInventory": [{"id": "r", "name": "  Rope  "}]}')$q$,
  :'g', tests.node(2))) \g /dev/null
select payload as gs from public.session_events where session_id = :'g' and type = 'game_state' \gset
select is((:'gs'::jsonb ->> 'version')::int, 1, 'game_state carries the version it produced');
select is(jsonb_path_query_array(:'gs'::jsonb, '$.turns[*].type'), '["note", "move"]'::jsonb,
  '... and the turn entries the server made (note, then move)');
select is(:'gs'::jsonb -> 'changes' -> 'addInventory' -> 0 ->> 'name', 'Rope',
  '... and the items as stored (cleaned), not as sent');
select is(:'gs'::jsonb -> 'turns', (select seer_private.game_state_json(s)::jsonb -> 'turnHistory' from public.sessions s where s.id = :'g'),
  'the turns are exactly the state''s new turnHistory entries');
select tests.call_as(:'seer', format($q$select public.roll_dice(%L, '1d6', 'x', null, true)$q$, :'g')) \g /dev/null
select payload as dr from public.session_events where session_id = :'g' and type = 'dice_rolled' \gset
select is((:'dr'::jsonb ->> 'version')::int, 2, 'dice_rolled carries the version');
select is(:'dr'::jsonb -> 'entry', (select seer_private.game_state_json(s)::jsonb -> 'turnHistory' -> -1 from public.sessions s where s.id = :'g'),
  '... and its turn entry (the players'' view: no total)');
select is(:'dr'::jsonb -> 'entry' -> 'total', 'null'::jsonb, 'a hidden roll''s entry has no total');
select tests.call_as(:'seer', format($q$select public.start_combat(%L, '[{"name": "Eel"}]')$q$, :'g')) \g /dev/null
select tests.call_as(:'seer', format('select public.next_turn(%L)', :'g')) \g /dev/null
select tests.call_as(:'seer', format($q$select public.end_combat(%L, 'victory')$q$, :'g')) \g /dev/null
select tests.call_as(:'pia', format($q$select public.submit_action(%L, 'I wave')$q$, :'g')) \g /dev/null
select is(
  array(select (payload ->> 'version')::int from public.session_events
        where session_id = :'g' and type in ('combat_started', 'combat_turn', 'combat_ended', 'player_action')
        order by seq),
  array[4, 5, 6, 7], 'combat and action events carry consecutive versions (initiative roll: 3)');
select is(
  (select array_agg(payload -> 'entry' order by seq) from public.session_events
   where session_id = :'g' and type in ('dice_rolled', 'combat_started', 'combat_turn', 'combat_ended', 'player_action')),
  (select array_agg(t order by o) from jsonb_array_elements((select seer_private.game_state_json(s)::jsonb -> 'turnHistory' from public.sessions s
     where s.id = :'g')) with ordinality x(t, o) where o > 2),
  'every game event''s entry, in order, is the state''s turnHistory after the first update');

-- the Seer's liveness ------------------------------------------------------------------------
select tests.new_session(:'seer') as s \gset
select tests.join(:'s', :'pia', :'pia_char2') as pia_seat \gset
select tests.call_as(:'seer', format('select public.start_session(%L)::jsonb', :'s')) \g /dev/null
select is((tests.call_as(:'seer', format('select public.get_session(%L)::jsonb', :'s')) ->> 'seerConnected')::boolean, true,
  'a new session''s Seer counts as connected');
select is(tests.call_as(:'seer', format('select public.heartbeat(%L)', :'s')) ->> 'status', 'seer',
  'the Seer heartbeats');
select is((select connected from seer_private.seer_liveness where session_id = :'s'), true,
  '... and has a liveness row');
select is(seer_private.sweep(now() + interval '30 seconds') ->> 'seerDisconnected', '0', 'not away after 30 s');
select is(seer_private.sweep(now() + interval '61 seconds') ->> 'seerDisconnected', '1', 'away after 60 s silent');
select is((select payload - 'seq' - 'timestamp' - 'sessionId' - 'disconnectedAt' from public.session_events
           where session_id = :'s' order by seq desc limit 1),
  jsonb_build_object('type', 'seer_connection', 'actor', null, 'seerId', :'seer', 'isConnected', false),
  'everyone gets seer_connection (isConnected false)');
select is((tests.call_as(:'pia', format('select public.get_session(%L)::jsonb', :'s')) ->> 'seerConnected')::boolean, false,
  'players read seerConnected false');
select is(tests.call_as(:'seer', format('select public.heartbeat(%L)', :'s')) ->> 'restored', 'true',
  'the Seer''s next heartbeat brings them back');
select is((select payload ->> 'isConnected' from public.session_events
           where session_id = :'s' order by seq desc limit 1), 'true', '... announced (seer_connection true)');
select is((select count(*)::int from public.session_events where session_id = :'s' and type = 'seer_connection'), 2,
  'a heartbeat of a connected Seer writes no event');
select is(seer_private.sweep(now() + interval '61 seconds') ->> 'seerDisconnected', '1', 'away again');
select is(seer_private.sweep(now() + interval '4 minutes') ->> 'seerAwayPaused', '0', 'not paused before 5 minutes away');
select is(seer_private.sweep(now() + interval '7 minutes') ->> 'seerAwayPaused', '1', 'an active game pauses itself after 5 minutes');
select is((select status from public.sessions where id = :'s'), 'paused', '... the session is paused');
select is((select payload ->> 'actor' from public.session_events
           where session_id = :'s' and type = 'session_status' order by seq desc limit 1), null,
  '... by the server (actor null)');
select is(seer_private.sweep(now() + interval '20 minutes') ->> 'seerAwayPaused', '0', 'a paused session is not paused twice');
select is(tests.call_as(:'seer', format('select public.heartbeat(%L)', :'s')) ->> 'sessionStatus', 'paused',
  'the Seer comes back to a paused game (resuming is their decision)');
select tests.call_as(:'seer', format($q$select public.end_session(%L, 'cancelled')::jsonb$q$, :'s')) \g /dev/null
select is((select count(*)::int from seer_private.seer_liveness where session_id = :'s'), 0,
  'an ended session''s Seer is no longer swept');
select is((select count(*)::int from seer_private.seer_liveness l
           where l.session_id = :'g'), 0, 'a Seer who never heartbeated has no row (counted connected)');

-- coming back after the window ---------------------------------------------------------------
select tests.new_session(:'seer') as r \gset
select tests.join(:'r', :'quin', :'quin_char') as quin_seat \gset
select tests.call_as(:'seer', format('select public.start_session(%L)::jsonb', :'r')) \g /dev/null
update public.session_players set status = 'inactive', disconnected_at = now() - interval '6 minutes',
  inactive_at = now() where id = :'quin_seat';
select tests.act_as(:'quin');
select is(public.heartbeat(:'r') - 'serverTime' - 'sessionId' - 'playerId' - 'lastSeq' - 'channelGeneration',
  '{"status": "inactive", "readmit": "requested", "restored": false, "sessionStatus": "active"}'::jsonb,
  'an inactive seat''s heartbeat says the Seer must let them back');
select is(public.join_session(:'r', :'quin_char')::jsonb ->> 'readmit', 'requested', '... and so does join_session');
select is(public.heartbeat(:'r') ->> 'readmit', 'requested', '... every time');
select tests.reset_role();
select is((select count(*)::int from public.session_events where session_id = :'r' and type = 'readmit_requested'), 1,
  'the Seer is asked once');
select is((select payload ->> 'characterName' from public.session_events where session_id = :'r' and type = 'readmit_requested'),
  'Quin', '... naming the character');
select isnt((tests.call_as(:'seer', format('select public.get_session(%L)::jsonb', :'r')) -> 'players' -> 0 ->> 'readmitRequestedAt'),
  null, 'the seat shows the request');
select tests.call_as(:'seer', format('select public.readmit_player(%L, %L)', :'r', :'quin_seat')) \g /dev/null
select is((select readmit_requested_at from public.session_players where id = :'quin_seat'), null,
  'readmit_player answers it');
select is(tests.call_as(:'quin', format('select public.heartbeat(%L)', :'r')) ->> 'restored', 'true',
  'then the player''s heartbeat restores the seat');

-- update_session_settings ----------------------------------------------------------------------
select tests.new_session(:'seer') as w \gset
select tests.join(:'w', :'pia', :'pia_char3') as pia_w \gset
select tests.act_as(:'pia');
select is(tests.err(format($q$select public.update_session_settings(%L, '{"allowLateJoin": true}')::jsonb$q$, :'w')),
  'SESSION_007:403', 'a player may not change settings');
select tests.act_as(:'stranger');
select is(tests.err(format($q$select public.update_session_settings(%L, '{"allowLateJoin": true}')::jsonb$q$, :'w')),
  'SESSION_001:404', 'a stranger learns nothing');
select tests.act_as(:'seer');
select is(public.update_session_settings(:'w', '{"allowLateJoin": true, "voiceChatEnabled": true}', 4)::jsonb
            -> 'settings' ->> 'allowLateJoin', 'true', 'the Seer may, in the lobby');
select is(tests.err(format($q$select public.update_session_settings(%L, '{"bogus": true}')::jsonb$q$, :'w')),
  'SESSION_000:400', 'an unknown setting is refused');
select is(tests.err(format($q$select public.update_session_settings(%L, '{"showDiceRolls": 1}')::jsonb$q$, :'w')),
  'SESSION_000:400', 'a non-boolean is refused');
select is(tests.err(format($q$select public.update_session_settings(%L, '{}', 0)::jsonb$q$, :'w')),
  'SESSION_000:400', 'maxPlayers below 1 is refused');
select is(tests.err(format($q$select public.update_session_settings(%L, '{}', 7)::jsonb$q$, :'w')),
  'SESSION_000:400', 'maxPlayers above 6 is refused');
select tests.reset_role();
select is((select settings ->> 'showDiceRolls' from public.sessions where id = :'w'), 'true', 'refusals change nothing');
select is((select payload - 'seq' - 'timestamp' - 'sessionId' - 'actor' from public.session_events
           where session_id = :'w' and type = 'session_settings'),
  jsonb_build_object('type', 'session_settings', 'maxPlayers', 4, 'settings',
    '{"allowLateJoin": true, "showDiceRolls": true, "autoResolveSimpleCombat": false, "enableAISeer": true, "voiceChatEnabled": true}'::jsonb),
  'one session_settings event with the whole new settings');

select * from finish();
rollback;
