-- US-01 create, US-04 start, US-05 pause/resume, US-06 end; every legal and illegal
-- transition of the state machine; stats and the XP rule.
begin;
\ir _helpers.psql
select plan(64);

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('stan') as stan \gset
select tests.make_character(:'pia', 'Pia the Bold') as pia_char \gset

-- US-01 -------------------------------------------------------------------------------------
select tests.act_as(:'seer');
select public.create_session(tests.adventure(), '{"allowLateJoin": true}', 4)::jsonb as created \gset
select is(:'created'::jsonb ->> 'status', 'waiting', 'US-01: a new session is waiting');
select ok(:'created'::jsonb ->> 'code' ~ '^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$', 'US-01: 6-character join code');
select is(:'created'::jsonb ->> 'seerId', :'seer', 'US-01: the creator is the Seer');
select is(:'created'::jsonb ->> 'seerName', 'Seer', 'US-01: seerName from the profile');
select is(:'created'::jsonb ->> 'adventureName', 'The Sunken Lantern', 'US-01: adventure name');
select is((:'created'::jsonb ->> 'maxPlayers')::int, 4, 'US-01: maxPlayers configured');
select is(:'created'::jsonb -> 'settings',
  '{"allowLateJoin": true, "showDiceRolls": true, "autoResolveSimpleCombat": false, "enableAISeer": true, "voiceChatEnabled": false}'::jsonb,
  'US-01: partial settings are merged over the defaults');
select is(:'created'::jsonb -> 'players', '[]'::jsonb, 'US-01: no players yet');
select is((:'created'::jsonb ->> 'estimatedDurationMinutes')::int, 90, 'US-01: duration from the adventure');
select is(
  (select array_agg(k order by k) from jsonb_object_keys(:'created'::jsonb) k),
  array['adventureDescription', 'adventureId', 'adventureName', 'code', 'completedAt', 'createdAt',
        'currentNode', 'currentNodeId', 'endedAt', 'estimatedDurationMinutes', 'gameState', 'id', 'lastSeq',
        'maxPlayers', 'minPlayers', 'notes', 'outcome', 'pausedAt', 'players', 'recommendedMaxPlayers',
        'recommendedMinPlayers', 'seerConnected', 'seerId', 'seerName', 'settings', 'startedAt', 'stats', 'status', 'topic', 'visitedNodeIds'],
  'Session JSON has exactly the contract keys');
select is(public.session_events_since((:'created'::jsonb ->> 'id')::uuid, 0)::jsonb -> 0 ->> 'type', 'session_created',
  'US-01: creation is event seq 1');
select is(public.create_session(tests.adventure())::jsonb -> 'settings' ->> 'allowLateJoin', 'false', 'default settings');
select is(tests.err($$select public.create_session('00000000-0000-4000-8000-000000000bad')::jsonb$$), 'SESSION_013:404',
  'unknown adventure -> 013');
select is(tests.err($$select public.create_session(null)::jsonb$$), 'SESSION_000:400', 'missing adventure -> 000');
select is(tests.err($$select public.create_session(tests.adventure(), '{}', 0)::jsonb$$), 'SESSION_000:400', 'maxPlayers 0 -> 000');
select is(tests.err($$select public.create_session(tests.adventure(), '{}', 7)::jsonb$$), 'SESSION_000:400', 'maxPlayers 7 -> 000');
select is(tests.err($$select public.create_session(tests.adventure(), '{}', null)::jsonb$$), 'SESSION_000:400', 'maxPlayers null -> 000');
select is(tests.err($$select public.create_session(tests.adventure(), '{"teleport": true}')::jsonb$$), 'SESSION_000:400',
  'unknown setting -> 000');
select is(tests.err($$select public.create_session(tests.adventure(), '{"allowLateJoin": "yes"}')::jsonb$$), 'SESSION_000:400',
  'non-boolean setting -> 000');
select is(tests.err($$select public.create_session(tests.adventure(), '[1,2]')::jsonb$$), 'SESSION_000:400',
  'settings must be an object -> 000');
select tests.reset_role();

-- An unpublished adventure is only usable by its author.
insert into public.adventures (id, title, is_published, created_by)
values ('00000000-0000-4000-8000-0000000000d1', 'Draft', false, :'stan');
select tests.act_as(:'seer');
select is(tests.err($$select public.create_session('00000000-0000-4000-8000-0000000000d1')::jsonb$$), 'SESSION_013:404',
  'someone else''s unpublished adventure -> 013');
select tests.act_as(:'stan');
select is(tests.err($$select public.create_session('00000000-0000-4000-8000-0000000000d1')::jsonb$$), 'ok',
  'the author can run their unpublished adventure');
select tests.reset_role();

-- Transition matrix ---------------------------------------------------------------------------
-- A session in each status (with one seated player), then every action on a fresh one.
create function tests.session_in(p_seer uuid, p_status text) returns uuid language plpgsql as $$
declare
  v_user uuid := tests.create_user('p' || substr(md5(random()::text), 1, 8));
  -- created by a fresh Seer and handed to p_seer: one Seer may create only 10 live sessions
  -- (SESSION_016), and the matrix needs 25
  v_sid uuid := tests.new_session(tests.create_user('s' || substr(md5(random()::text), 1, 8)));
begin
  update public.sessions set seer_id = p_seer where id = v_sid;
  perform tests.join(v_sid, v_user, tests.make_character(v_user));
  perform tests.act_as(p_seer);
  if p_status in ('active', 'paused', 'completed') then perform public.start_session(v_sid)::jsonb; end if;
  if p_status = 'paused' then perform public.pause_session(v_sid)::jsonb; end if;
  if p_status = 'completed' then perform public.end_session(v_sid, 'completed')::jsonb; end if;
  if p_status = 'cancelled' then perform public.end_session(v_sid, 'cancelled')::jsonb; end if;
  perform tests.reset_role();
  return v_sid;
end $$;

create temp table matrix on commit drop as
select st.status, a.action, a.sql_tpl, tests.session_in(:'seer', st.status) as sid,
  case
    when a.action = 'start' and st.status = 'waiting' then 'ok'
    when a.action = 'pause' and st.status = 'active' then 'ok'
    when a.action = 'resume' and st.status = 'paused' then 'ok'
    when a.action = 'complete' and st.status in ('active', 'paused') then 'ok'
    when a.action = 'cancel' and st.status in ('waiting', 'active', 'paused') then 'ok'
    else 'SESSION_010:422'
  end as expected,
  case
    when a.action = 'start' then 'active' when a.action = 'pause' then 'paused'
    when a.action = 'resume' then 'active' when a.action = 'complete' then 'completed'
    else 'cancelled'
  end as target
from (values ('waiting'), ('active'), ('paused'), ('completed'), ('cancelled')) st(status)
cross join (values
  ('start', 'select public.start_session(%L)::jsonb'),
  ('pause', 'select public.pause_session(%L)::jsonb'),
  ('resume', 'select public.resume_session(%L)::jsonb'),
  ('complete', $t$select public.end_session(%L, 'completed')::jsonb$t$),
  ('cancel', $t$select public.end_session(%L, 'cancelled')::jsonb$t$)) a(action, sql_tpl);

grant select on matrix to public;
select tests.act_as(:'seer');
create temp table matrix_result on commit drop as
  select m.*, tests.err(format(m.sql_tpl, m.sid)) as got from matrix m;
select tests.reset_role();

select is(
  (select array_agg(status || ' --' || action || '--> ' || got order by status, action) from matrix_result where got <> expected),
  null, 'all 25 (status x action) combinations: legal ones succeed, every other one is SESSION_010');
select is(
  (select count(*)::int from matrix_result r join public.sessions s on s.id = r.sid
   where (r.expected = 'ok' and s.status <> r.target) or (r.expected <> 'ok' and s.status <> r.status)),
  0, 'legal transitions reach their target status, illegal ones leave the status unchanged');
select is(
  (select count(*)::int from matrix_result r join public.session_events e on e.session_id = r.sid
   where e.type = 'session_status' and e.payload ->> 'oldStatus' = r.status and e.payload ->> 'newStatus' = r.target
     and r.expected = 'ok'),
  (select count(*)::int from matrix_result where expected = 'ok'),
  'every legal transition wrote a session_status event');
select is((select count(*)::int from matrix_result where expected = 'ok'), 8, '8 legal transitions');
-- the matrix's sessions leave the Seer's live-session quota (SESSION_016) for the rest
select tests.create_user('matrix-owner') as matrix_owner \gset
update public.sessions set seer_id = :'matrix_owner' where id in (select sid from matrix);

-- US-04 start -------------------------------------------------------------------------------
select tests.new_session(:'seer') as s4 \gset
select tests.act_as(:'seer');
select is(tests.err(format('select public.start_session(%L)::jsonb', :'s4')), 'SESSION_011:422',
  'US-04: cannot start below the minimum of 1 player');
select tests.reset_role();
select tests.join(:'s4', :'pia', :'pia_char') as pia_seat \gset
select tests.act_as(:'pia');
select is(tests.err(format('select public.start_session(%L)::jsonb', :'s4')), 'SESSION_007:403', 'US-04: a player cannot start');
select tests.act_as(:'stan');
select is(tests.err(format('select public.start_session(%L)::jsonb', :'s4')), 'SESSION_001:404', 'a stranger cannot see it');
select tests.act_as(:'seer');
select public.start_session(:'s4')::jsonb as started \gset
select is(:'started'::jsonb -> 'session' ->> 'status', 'active', 'US-04: status becomes active');
select isnt(:'started'::jsonb -> 'session' ->> 'startedAt', null, 'US-04: startedAt set');
select is(:'started'::jsonb -> 'session' ->> 'currentNodeId', tests.node(1)::text, 'US-04: first node of the adventure');
select is(:'started'::jsonb -> 'session' -> 'visitedNodeIds', jsonb_build_array(tests.node(1)), 'US-04: start node visited');
select is(:'started'::jsonb -> 'warnings', '["Party of 1 is below the recommended 3-5 players"]'::jsonb,
  'US-04: warning for a party below the recommended size');
select results_eq(
  format($$select e ->> 'type', e ->> 'newStatus', e ->> 'nodeTitle'
           from jsonb_array_elements(public.session_events_since(%L, 2)::jsonb) e$$, :'s4'),
  $$values ('session_status', 'active', null), ('node_change', null, 'The Drowned Shore')$$,
  'US-04: players are notified (session_status then node_change)');
select tests.reset_role();

-- party size warnings at 3 (in range) and 6 (above)
select tests.new_session(:'seer') as s5 \gset
select tests.new_session(:'seer') as s6 \gset
select tests.join(:'s5', u, tests.make_character(u)) from (select tests.create_user('a' || i) u from generate_series(1, 3) i) x \g /dev/null
select tests.join(:'s6', u, tests.make_character(u)) from (select tests.create_user('b' || i) u from generate_series(1, 6) i) x \g /dev/null
select tests.act_as(:'seer');
select is(public.start_session(:'s5')::jsonb -> 'warnings', '[]'::jsonb, 'no warning for 3 players');
select is(public.start_session(:'s6')::jsonb -> 'warnings', '["Party of 6 is above the recommended 3-5 players"]'::jsonb,
  'warning for 6 players');

-- US-05 pause/resume --------------------------------------------------------------------------
select public.update_game_state(:'s4', jsonb_build_object(
  'currentNodeId', tests.node(2), 'addInventory', '[{"id":"rope","name":"Rope","quantity":2}]'::jsonb,
  'setVariables', '{"tide":3}'::jsonb, 'addFlags', '["met-keeper"]'::jsonb))::jsonb as before_pause \gset
select public.pause_session(:'s4')::jsonb as paused \gset
select is(:'paused'::jsonb ->> 'status', 'paused', 'US-05: paused');
select isnt(:'paused'::jsonb ->> 'pausedAt', null, 'US-05: pausedAt set');
select is(public.get_game_state(:'s4')::jsonb, :'before_pause'::jsonb, 'US-05: game state fully preserved while paused');
select is(tests.err(format($$select public.update_game_state(%L, '{"addFlags": ["x"]}')$$, :'s4')), 'SESSION_010:422',
  'US-05: no state changes while paused');
select tests.act_as(:'pia');
select is(tests.err(format('select public.pause_session(%L)::jsonb', :'s4')), 'SESSION_007:403', 'a player cannot pause/resume');
select is(tests.err(format('select public.resume_session(%L)::jsonb', :'s4')), 'SESSION_007:403', 'a player cannot resume');
select tests.act_as(:'seer');
-- pretend the pause began ten minutes ago
select tests.reset_role();
update public.sessions set paused_at = now() - interval '10 minutes' where id = :'s4';
select tests.act_as(:'seer');
select public.resume_session(:'s4')::jsonb as resumed \gset
select is(:'resumed'::jsonb ->> 'status', 'active', 'US-05: resumed');
select is(:'resumed'::jsonb -> 'gameState', :'before_pause'::jsonb, 'US-05: resumes from the exact position');
select is((select paused_seconds from public.sessions where id = :'s4')::int, 600, 'paused time is accounted');
select is(
  (select array_agg(e ->> 'newStatus') from jsonb_array_elements(public.session_events_since(:'s4', 0)::jsonb) e
   where e ->> 'type' = 'session_status'),
  array['active', 'paused', 'active'], 'US-05: players notified of pause and resume');

-- US-06 end -----------------------------------------------------------------------------------
-- visit node 3 (combat), fight (2 initiative dice), finish it, roll 4 dice; then end 90
-- minutes after start
select public.update_game_state(:'s4', jsonb_build_object('currentNodeId', tests.node(3))) \g /dev/null
select public.start_combat(:'s4', jsonb_build_array(jsonb_build_object('characterId', :'pia_char'),
  '{"name": "Eel Warden"}'::jsonb)) \g /dev/null
select public.end_combat(:'s4', 'victory') \g /dev/null
select public.roll_dice(:'s4', '4d6') \g /dev/null
select tests.reset_role();
update public.sessions set started_at = now() - interval '90 minutes' where id = :'s4';
update public.characters set experience = 900 where id = :'pia_char';
select tests.act_as(:'pia');
select is(tests.err(format($$select public.end_session(%L, 'completed')::jsonb$$, :'s4')), 'SESSION_007:403', 'a player cannot end');
select tests.act_as(:'seer');
select is(tests.err(format($$select public.end_session(%L, 'finished')::jsonb$$, :'s4')), 'SESSION_000:400', 'unknown outcome -> 000');
select is(tests.err(format($$select public.end_session(%L, null)::jsonb$$, :'s4')), 'SESSION_000:400', 'missing outcome -> 000');
select is(tests.err(format($$select public.end_session(%L, 'completed', repeat('x', 2001))::jsonb$$, :'s4')), 'SESSION_000:400',
  'notes over 2000 characters -> 000');
select public.end_session(:'s4', 'completed', 'Well played')::jsonb as ended \gset
-- XP: nodes 1, 2, 3 = 50 + 50 + 150 = 250, plus 25 for one combat = 275
select is(:'ended'::jsonb -> 'stats',
  '{"durationMinutes": 80, "nodesVisited": 3, "diceRolled": 6, "combatsCompleted": 1, "experienceEarned": 275}'::jsonb,
  'US-06: stats (80 min = 90 min since start minus 10 min paused)');
select is(:'ended'::jsonb -> 'session' ->> 'status', 'completed', 'US-06: completed');
select is(:'ended'::jsonb -> 'session' ->> 'notes', 'Well played', 'US-06: notes kept');
select isnt(:'ended'::jsonb -> 'session' ->> 'completedAt', null, 'US-06: completedAt set');
select tests.reset_role();
select is((select experience from public.characters where id = :'pia_char'), 1175, 'US-06: experience distributed');
select is((select level from public.characters where id = :'pia_char'), 2, 'US-06: level = 1 + experience / 1000');
select tests.act_as(:'pia');
select is(public.get_session(:'s4')::jsonb ->> 'status', 'completed', 'US-06: archived session stays readable by its players');
select is(
  (select e -> 'stats' from jsonb_array_elements(public.session_events_since(:'s4', 0)::jsonb) e where e ->> 'type' = 'session_ended'),
  :'ended'::jsonb -> 'stats', 'US-06: final stats are broadcast to all players');
select is(public.submit_feedback(:'s4', 5, 'Loved the eel') ->> 'rating', '5', 'US-06: players can leave feedback');
select is(public.submit_feedback(:'s4', 4) ->> 'rating', '4', 'feedback is one per player (upsert)');
select is((select count(*)::int from public.session_feedback where session_id = :'s4'), 1, 'one feedback row');
select tests.reset_role();

-- cancelled gives no experience
select tests.create_user('cara') as cara \gset
select tests.make_character(:'cara') as cara_char \gset
select tests.new_session(:'seer') as s7 \gset
select tests.join(:'s7', :'cara', :'cara_char') \g /dev/null
select tests.act_as(:'seer');
select public.start_session(:'s7')::jsonb \g /dev/null
select public.update_game_state(:'s7', jsonb_build_object('currentNodeId', tests.node(5), 'nodeOverride', true)) \g /dev/null
select is((public.end_session(:'s7', 'cancelled')::jsonb -> 'stats' ->> 'experienceEarned')::int, 0, 'cancelled earns no experience');
select tests.reset_role();
select is((select experience from public.characters where id = :'cara_char'), 0, 'cancelled: character unchanged');

select * from finish();
rollback;
