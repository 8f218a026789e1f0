-- Server-side dice: notation and bounds, an unbiased distribution, diceRolled, who may roll,
-- and hidden rolls per role in the event, the reads and the tables.
begin;
\ir _helpers.psql
select plan(42);

select tests.create_user('seer') as seer \gset
select tests.create_user('pia') as pia \gset
select tests.create_user('kim') as kim \gset
select tests.create_user('stan') as stan \gset
select tests.make_character(:'pia') as pia_char \gset
select tests.make_character(:'kim') as kim_char \gset
select tests.make_character(:'stan') as stan_char \gset
select tests.new_session(:'seer') as s \gset
select tests.join(:'s', :'pia', :'pia_char') \g /dev/null
select tests.join(:'s', :'kim', :'kim_char') \g /dev/null

select tests.act_as(:'seer');
select is(tests.err(format($$select public.roll_dice(%L, '1d6')$$, :'s')), 'SESSION_010:422', 'no rolls before the session starts');
select public.start_session(:'s')::jsonb \g /dev/null

-- notation and bounds
create temp table bad(expr text) on commit drop;
insert into bad values ('101d6'), ('60d6+41d6'), ('1d1001'), ('1d0'), ('0d6'), ('4d6kh5'), ('4d6kh0'), ('4d6kx1'),
  ('abc'), (''), ('   '), ('2d6 3'), ('d'), ('2d6++3'), ('+'), ('1d6*2'), ('9999d6'), (null), (repeat('1+', 60) || '1');
grant select on bad to public;
select is((select array_agg(coalesce(expr, 'null') || ' => ' || got) from (
    select expr, tests.err(format('select public.roll_dice(%L, %L)', :'s', expr)) got from bad) x
  where got <> 'SESSION_000:400'), null, 'every expression out of notation or bounds is SESSION_000 (19 cases)');
select is(tests.err_details(format($$select public.roll_dice(%L, '101d6')$$, :'s')), 'at most 100 dice per roll',
  'the error names the bound');
select tests.reset_role();
select is((select dice_rolled::int from public.sessions where id = :'s'), 0, 'refused rolls count nothing');
select tests.act_as(:'seer');

select public.roll_dice(:'s', '4d6kh3', 'stats') as r1 \gset
select is(jsonb_array_length(:'r1'::jsonb -> 'dice'), 4, '4d6kh3 rolls four dice');
select is((select count(*)::int from jsonb_array_elements(:'r1'::jsonb -> 'dice') d where (d ->> 'kept')::boolean), 3, 'keeps three');
select is((:'r1'::jsonb ->> 'total')::int,
  (select sum((d ->> 'value')::int)::int from jsonb_array_elements(:'r1'::jsonb -> 'dice') d where (d ->> 'kept')::boolean),
  'total = the kept dice');
select is((select min((d ->> 'value')::int) from jsonb_array_elements(:'r1'::jsonb -> 'dice') d where (d ->> 'kept')::boolean)
          >= (select max((d ->> 'value')::int) from jsonb_array_elements(:'r1'::jsonb -> 'dice') d where not (d ->> 'kept')::boolean),
  true, 'kh keeps the highest');
select public.roll_dice(:'s', '2d20kl1') as r2 \gset
select is((:'r2'::jsonb ->> 'total')::int,
  (select min((d ->> 'value')::int) from jsonb_array_elements(:'r2'::jsonb -> 'dice') d), 'kl keeps the lowest');
select public.roll_dice(:'s', ' 1d20 - 1 + 2 ') as r3 \gset
select is((:'r3'::jsonb ->> 'total')::int, (:'r3'::jsonb -> 'dice' -> 0 ->> 'value')::int + 1, 'constants add and subtract');
select public.roll_dice(:'s', '100d1000') as r4 \gset
select ok((select bool_and((d ->> 'value')::int between 1 and 1000) from jsonb_array_elements(:'r4'::jsonb -> 'dice') d),
  '100d1000: every die within 1..1000');
select is(public.roll_dice(:'s', '7') ->> 'total', '7', 'a constant alone is a roll of no dice');
select tests.reset_role();

-- every form of term at once (no count, kl in a subtracted term, a constant with a leading 0):
-- what each term's parts say, and the total they make
select seer_private.roll_expression(' D8 - 3d6KL2 + 10 - 2d4 + 012 ') as rx \gset
select is(:'rx'::jsonb ->> 'expression', 'd8-3d6kl2+10-2d4+012', 'the expression as parsed: lower case, no spaces');
select is((select jsonb_agg(jsonb_build_array((d ->> 'term')::int, (d ->> 'sides')::int) order by o)
           from jsonb_array_elements(:'rx'::jsonb -> 'dice') with ordinality t(d, o)),
  '[[1, 8], [2, 6], [2, 6], [2, 6], [4, 4], [4, 4]]'::jsonb, 'each die names its term and its sides');
select is((select array_agg((d ->> 'kept')::boolean order by (d ->> 'value')::int, o)
           from jsonb_array_elements(:'rx'::jsonb -> 'dice') with ordinality t(d, o) where (d ->> 'term')::int = 2),
  array[true, true, false], '3d6kl2 keeps its two lowest');
select is((:'rx'::jsonb ->> 'total')::int,
  (select sum(case when (d ->> 'term')::int in (2, 4) then -1 else 1 end * (d ->> 'value')::int)::int + 10 + 12
   from jsonb_array_elements(:'rx'::jsonb -> 'dice') d where (d ->> 'kept')::boolean),
  'the total: the kept dice with their terms'' signs, and the constants');
select is((select dice_rolled::int from public.sessions where id = :'s'), 4 + 2 + 1 + 100, 'diceRolled counts the dice really rolled');

-- die_face: two random bytes to a face, refusing the values past the last whole multiple
select is(array[seer_private.die_face(0, 6), seer_private.die_face(65531, 6), seer_private.die_face(65532, 6),
                seer_private.die_face(64999, 1000), seer_private.die_face(65000, 1000), seer_private.die_face(65535, 1)],
  array[1, 6, null, 1000, null, 1], 'die_face maps 0..65535 onto the faces and refuses the remainder (no modulo bias)');
select is((select count(*)::int from generate_series(0, 65535) v where seer_private.die_face(v, 6) is not null) % 6, 0,
  'every face of a d6 has as many byte values');
select is((select array_agg(n order by f) from (select seer_private.die_face(v, 1000) f, count(*)::int n
           from generate_series(0, 65535) v group by 1) x where f is not null and n <> 65),
  null, 'and of a d1000 (65 values each)');

-- distribution: 6,000 d6 through the RPC, chi-square with 5 degrees of freedom; the
-- critical value at p = 0.001 is 20.515
select tests.act_as(:'seer');
select public.roll_dice(:'s', '100d6') from generate_series(1, 60) \g /dev/null
select tests.reset_role();
select ok(
  (select sum((n - 1000.0) ^ 2 / 1000.0) from (
     select count(*) n from public.dice_rolls r, jsonb_array_elements(r.dice) d
     where r.session_id = :'s' and r.expression = '100d6' group by d ->> 'value') x) < 20.515
  and (select count(distinct d ->> 'value') from public.dice_rolls r, jsonb_array_elements(r.dice) d
       where r.session_id = :'s' and r.expression = '100d6') = 6,
  'chi-square over 6,000 d6 is below the p = 0.001 critical value (uniform faces)');

-- who may roll
select tests.act_as(:'pia');
select is(public.roll_dice(:'s', '1d20', 'sneak') ->> 'characterId', :'pia_char', 'a player rolls for their own character');
select is(tests.err(format($$select public.roll_dice(%L, '1d20', null, %L)$$, :'s', :'kim_char')), 'SESSION_007:403',
  'but not for another character');
select is(tests.err(format($$select public.roll_dice(%L, '1d20', null, null, true)$$, :'s')), 'SESSION_007:403',
  'and never hidden');
select tests.act_as(:'seer');
select is(public.roll_dice(:'s', '1d20', null, :'kim_char') ->> 'characterId', :'kim_char', 'the Seer rolls for anyone');
select is(tests.err(format($$select public.roll_dice(%L, '1d20', null, %L)$$, :'s', :'stan_char')), 'SESSION_000:400',
  'a character not seated here is refused');
select tests.reset_role();
select last_seq, state_version, dice_rolled from public.sessions where id = :'s' \gset before_
select tests.act_as(:'stan');
select is(tests.err(format($$select public.roll_dice(%L, '1d20')$$, :'s')), 'SESSION_001:404', 'strangers cannot roll');
select tests.reset_role();
-- the lock allocates the roll's seq, state version and dice (lock_game's p_turn): a refusal after it undoes them
select is((select array[last_seq, state_version, dice_rolled] from public.sessions where id = :'s'),
  array[:before_last_seq, :before_state_version, :before_dice_rolled]::bigint[],
  'a refused roll leaves the seq, the state version and diceRolled as they were');
select tests.act_as(:'seer');
select public.roll_dice(:'s', '3d4') as r5 \gset
select tests.reset_role();
select is((select array[last_seq, state_version, dice_rolled] from public.sessions where id = :'s'),
  array[:before_last_seq + 1, :before_state_version + 1, :before_dice_rolled + 3]::bigint[],
  'a roll takes one seq and one state version and counts its dice, once');
select is((select array[e.seq, (e.payload ->> 'version')::bigint, r.seq] from public.session_events e
           join public.dice_rolls r on r.id = (:'r5'::jsonb ->> 'rollId')::uuid
           where e.session_id = :'s' and e.payload ->> 'rollId' = :'r5'::jsonb ->> 'rollId'),
  array[:before_last_seq + 1, :before_state_version + 1, :before_last_seq + 1]::bigint[],
  'its event has that seq and version, and its row names the event');
select tests.act_as_anon();
select is(tests.err(format($$select public.roll_dice(%L, '1d20')$$, :'s')), '42501', 'anon cannot roll');

-- hidden roll: players see that it happened, never dice or total
select tests.act_as(:'seer');
select public.roll_dice(:'s', '3d6', 'ambush check', null, true) as h \gset
select ok(:'h'::jsonb -> 'dice' <> 'null'::jsonb and :'h'::jsonb ->> 'total' is not null, 'the Seer''s reply has the dice');
select tests.act_as(:'pia');
select is((select e - 'seq' - 'timestamp' - 'actor' - 'sessionId' - 'rollId' - 'rollerId' - 'version' - 'entry'
           from jsonb_array_elements(public.session_events_since(:'s', 0)::jsonb) e
           where e ->> 'rollId' = :'h'::jsonb ->> 'rollId'),
  '{"type": "dice_rolled", "characterId": null, "expression": "3d6", "reason": "ambush check", "hidden": true, "dice": null, "total": null}'::jsonb,
  'player: the event says a roll happened, without dice or total');
select is((select e -> 'entry' -> 'total' from jsonb_array_elements(public.session_events_since(:'s', 0)::jsonb) e
           where e ->> 'rollId' = :'h'::jsonb ->> 'rollId'), 'null'::jsonb,
  'player: nor does its turnHistory entry');
select is((select count(*)::int from public.dice_rolls where id = (:'h'::jsonb ->> 'rollId')::uuid), 0,
  'player: the hidden row is not readable in dice_rolls');
select is((select r -> 'total' from jsonb_array_elements(public.list_dice_rolls(:'s')) r
           where r ->> 'rollId' = :'h'::jsonb ->> 'rollId'), 'null'::jsonb, 'player: list_dice_rolls hides the total');
select ok(public.get_session(:'s')::jsonb::text not like '%"total": ' || (:'h'::jsonb ->> 'total') || ', "reason": "ambush check"%'
  and (select t -> 'total' from jsonb_array_elements(public.get_game_state(:'s')::jsonb -> 'turnHistory') t
       where t ->> 'rollId' = :'h'::jsonb ->> 'rollId') = 'null'::jsonb, 'player: turnHistory has the roll without its total');
select ok(not exists (select 1 from public.session_events e where e.session_id = :'s' and e.payload ->> 'rollId' = :'h'::jsonb ->> 'rollId'
                      and e.payload -> 'dice' <> 'null'::jsonb), 'player: nor does the session_events table');
select tests.act_as(:'seer');
select is((select r -> 'total' from jsonb_array_elements(public.list_dice_rolls(:'s')) r
           where r ->> 'rollId' = :'h'::jsonb ->> 'rollId'), :'h'::jsonb -> 'total', 'Seer: list_dice_rolls has everything');
select is((select total from public.dice_rolls where id = (:'h'::jsonb ->> 'rollId')::uuid), (:'h'::jsonb ->> 'total')::int,
  'Seer: the dice_rolls row too');

-- showDiceRolls = false hides every roll from players, their own included
select tests.new_session(:'seer', 6, '{"showDiceRolls": false}') as q \gset
select tests.create_user('lou') as lou \gset
select tests.join(:'q', :'lou', tests.make_character(:'lou')) \g /dev/null
select tests.call_as(:'seer', format('select public.start_session(%L)::jsonb', :'q')) \g /dev/null
select tests.act_as(:'lou');
select is(public.roll_dice(:'q', '1d20') -> 'total', 'null'::jsonb, 'showDiceRolls false: a player''s own roll shows no total');
select is((select e -> 'dice' from jsonb_array_elements(public.session_events_since(:'q', 0)::jsonb) e where e ->> 'type' = 'dice_rolled'),
  'null'::jsonb, 'nor its event');

select * from finish();
rollback;
