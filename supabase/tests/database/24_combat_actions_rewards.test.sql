-- Combat (server initiative, turns, end, auto-resolve, XP ceiling), player actions and Seer
-- control of disconnected characters, items and records at the end.
begin;
\ir _helpers.psql
select plan(41);

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('kim') as kim \gset
select tests.create_user('stan') as stan \gset
select tests.make_character(:'pia', 'Pia') as pia_char \gset
select tests.make_character(:'kim', 'Kim') as kim_char \gset
select tests.new_session(:'seer', 6, '{"autoResolveSimpleCombat": true}') as s \gset
select tests.join(:'s', :'pia', :'pia_char') as pia_seat \gset
select tests.join(:'s', :'kim', :'kim_char') as kim_seat \gset

select tests.act_as(:'seer');
select is(tests.err(format($$select public.start_combat(%L, '[{"name": "Eel"}]')$$, :'s')), 'SESSION_010:422',
  'no combat before the session starts');
select public.start_session(:'s')::jsonb \g /dev/null

-- who may fight
select tests.act_as(:'pia');
select is(tests.err(format($$select public.start_combat(%L, '[{"name": "Eel"}]')$$, :'s')), 'SESSION_007:403',
  'a player cannot start a combat');
select tests.act_as(:'stan');
select is(tests.err(format($$select public.start_combat(%L, '[{"name": "Eel"}]')$$, :'s')), 'SESSION_001:404',
  'a stranger cannot');
select tests.act_as_anon();
select is(tests.err(format($$select public.start_combat(%L, '[{"name": "Eel"}]')$$, :'s')), '42501', 'anon cannot');

select tests.act_as(:'seer');
select is(tests.err(format('select public.next_turn(%L)', :'s')), 'SESSION_027:409', 'no turn without a combat');
select is(tests.err(format($$select public.end_combat(%L, 'victory')$$, :'s')), 'SESSION_027:409', 'nothing to end');
select is(tests.err(format($$select public.start_combat(%L, '[]')$$, :'s')), 'SESSION_000:400', 'no combatants -> 000');
select is(tests.err(format($$select public.start_combat(%L, '[{"name": "Eel", "bonus": 99}]')$$, :'s')), 'SESSION_000:400',
  'bonus out of range -> 000');
select is(tests.err(format($$select public.start_combat(%L, '[{"characterId": "%s"}]')$$, :'s', gen_random_uuid())),
  'SESSION_000:400', 'a character not seated here -> 000');
select tests.reset_role();
select last_seq as seq_before, dice_rolled as dice_before from public.sessions where id = :'s' \gset
select tests.act_as(:'seer');

select public.start_combat(:'s', jsonb_build_array(jsonb_build_object('characterId', :'pia_char'),
  jsonb_build_object('characterId', :'kim_char', 'bonus', 2), '{"name": "Eel Warden", "bonus": -1}'::jsonb)) as c1 \gset
select is(jsonb_array_length(:'c1'::jsonb -> 'combatState' -> 'order'), 3, 'combatState holds the order');
select ok((select bool_and(a.i >= b.i) from
    (select (e ->> 'initiative')::int i, o from jsonb_array_elements(:'c1'::jsonb -> 'combatState' -> 'order') with ordinality t(e, o)) a
    join (select (e ->> 'initiative')::int i, o from jsonb_array_elements(:'c1'::jsonb -> 'combatState' -> 'order') with ordinality t(e, o)) b
      on b.o = a.o + 1), 'ordered by initiative, highest first');
select is(:'c1'::jsonb -> 'combatState' -> 'current', :'c1'::jsonb -> 'combatState' -> 'order' -> 0, 'the first in order acts first');
select is(:'c1'::jsonb -> 'combatState' ->> 'round', '1', 'round 1');
select tests.reset_role();
select is((select dice_rolled - :dice_before from public.sessions where id = :'s')::int, 3, 'initiative rolled on the server (3 d20)');
select is((select array_agg(type order by seq) from public.session_events where session_id = :'s' and seq > :seq_before),
  array['dice_rolled', 'dice_rolled', 'dice_rolled', 'combat_started'], 'initiative rolls, then combat_started');
select tests.act_as(:'seer');
select is(tests.err(format($$select public.start_combat(%L, '[{"name": "Eel"}]')$$, :'s')), 'SESSION_027:409',
  'one combat at a time');
select is(tests.err(format($$select public.update_game_state(%L, '{"combatState": null}')$$, :'s')), 'SESSION_000:400',
  'combatState cannot be patched away');
select is(public.next_turn(:'s') -> 'combatState' ->> 'turn', '1', 'next_turn advances');
select public.next_turn(:'s') \g /dev/null
select public.next_turn(:'s') as c2 \gset
select is(array[:'c2'::jsonb -> 'combatState' ->> 'round', :'c2'::jsonb -> 'combatState' ->> 'turn'], array['2', '0'],
  'after the last combatant a new round begins');
select tests.act_as(:'pia');
select is(tests.err(format('select public.next_turn(%L)', :'s')), 'SESSION_007:403', 'players cannot advance turns');
select tests.act_as(:'seer');
select is(tests.err(format($$select public.end_combat(%L, 'won')$$, :'s')), 'SESSION_000:400', 'unknown outcome -> 000');
select is(public.end_combat(:'s', 'victory') -> 'combatState', 'null'::jsonb, 'end_combat clears combatState');
select tests.reset_role();
select is((select combats_completed from public.sessions where id = :'s'), 1, 'combatsCompleted counts the ended combat');
select is((select payload ->> 'outcome' from public.session_events where session_id = :'s' and type = 'combat_ended'),
  'victory', 'combat_ended event');
select tests.act_as(:'seer');

-- autoResolveSimpleCombat: a simple combat ends at once, by dice
select is(public.start_combat(:'s', '[{"name": "Rat"}]'::jsonb, true) -> 'combatState', 'null'::jsonb,
  'a simple combat is resolved at once');
select tests.reset_role();
select is((select payload ->> 'autoResolved' from public.session_events where session_id = :'s' and type = 'combat_ended'
           order by seq desc limit 1), 'true', 'and logged as auto-resolved');
select is((select array_agg(payload ->> 'expression' order by seq) from public.session_events
           where session_id = :'s' and type = 'dice_rolled' and payload ->> 'reason' like 'auto-resolve%'),
  array['1d20'], 'by recorded rolls: 1d20 per foe against 1d20 per party member (none here)');

-- XP ceiling: 40 more combats cannot farm more than the adventure holds (550 + 25 x 1 = 575)
select tests.act_as(:'seer');
select public.start_combat(:'s', '[{"name": "Rat"}]'::jsonb, true) from generate_series(1, 40) \g /dev/null

-- player actions
select tests.act_as(:'pia');
select is(public.submit_action(:'s', 'I search the pier') ->> 'characterName', 'Pia', 'a player acts for their character');
select is(public.submit_action(:'s', null, 'Row out and dive') -> 'choice' ->> 'label', 'Row out and dive',
  'or picks one of the current node''s choices');
select is(tests.err(format($$select public.submit_action(%L, null, 'Fly away')$$, :'s')), 'SESSION_000:400',
  'a choice that the node does not offer -> 000');
select is(tests.err(format($$select public.submit_action(%L, 'x', null, %L)$$, :'s', :'kim_char')), 'SESSION_007:403',
  'not for another character');
select tests.act_as(:'seer');
select is(tests.err(format($$select public.submit_action(%L, 'Kim waves', null, %L)$$, :'s', :'kim_char')), 'SESSION_026:409',
  'the Seer may not act for a connected character');
select tests.reset_role();
update public.session_players set status = 'disconnected', disconnected_at = now() where id = :'kim_seat';
select tests.act_as(:'seer');
select is(public.submit_action(:'s', 'Kim waves', null, :'kim_char') ->> 'bySeer', 'true',
  'but for a disconnected one (Seer control)');
select tests.act_as(:'stan');
select is(tests.err(format($$select public.submit_action(%L, 'hello')$$, :'s')), 'SESSION_001:404', 'strangers cannot act');
select tests.act_as(:'pia');
select is((select array_agg(distinct t ->> 'type' order by t ->> 'type') from jsonb_array_elements(public.get_game_state(:'s')::jsonb -> 'turnHistory') t),
  array['action', 'combat', 'roll'], 'turnHistory holds typed action, combat and roll entries');

-- rewards and records
select tests.act_as(:'seer');
select public.update_game_state(:'s', jsonb_build_object('addInventory', jsonb_build_array(
  jsonb_build_object('id', 'lantern', 'name', 'Sunken Lantern', 'assignedTo', :'pia_char'),
  jsonb_build_object('id', 'rope', 'name', 'Rope')))) \g /dev/null
-- an hour of play, so the play-time bound (200 XP per unpaused minute, 26_fair_play) is not the limit
select tests.reset_role();
update public.sessions set started_at = started_at - interval '1 hour' where id = :'s';
select tests.act_as(:'seer');
select public.end_session(:'s', 'completed')::jsonb as ended \gset
-- uncapped this would be 50 (start node) + 25 x 42 combats = 1100
select is((:'ended'::jsonb -> 'stats' ->> 'experienceEarned')::int, 575,
  'XP stops at the session ceiling (575) however many combats ended');
select is((:'ended'::jsonb -> 'stats' ->> 'combatsCompleted')::int, 42, 'every ended combat is counted');
select tests.act_as(:'pia');
select is((select c -> 'items' from jsonb_array_elements(public.list_my_characters()) c where c ->> 'id' = :'pia_char'),
  ('[{"id": "lantern", "name": "Sunken Lantern", "assignedTo": "' || :'pia_char' || '"}]')::jsonb, 'assigned items become the character''s');
select is(public.get_session(:'s')::jsonb -> 'stats', :'ended'::jsonb -> 'stats', 'get_session returns the final stats after the end');
select public.submit_feedback(:'s', 4, 'Great eel') \g /dev/null
select is(tests.err(format('select public.list_feedback(%L)', :'s')), 'SESSION_007:403', 'players cannot list feedback');
select tests.act_as(:'seer');
select is((select array_agg(f ->> 'comment') from jsonb_array_elements(public.list_feedback(:'s')) f), array['Great eel'],
  'the Seer lists the feedback');

select * from finish();
rollback;
