-- The seed: one demo adventure, nothing user-specific.
begin;
\ir _helpers.psql
select plan(7);

select is((select title from public.adventures where id = tests.adventure()), 'The Sunken Lantern', 'the demo adventure exists');
select ok((select length(description) > 40 from public.adventures where id = tests.adventure()), 'it has a description');
select is(
  (select array[min_players, max_players, recommended_min_players, recommended_max_players, estimated_duration_minutes]
   from public.adventures where id = tests.adventure()),
  array[1, 6, 3, 5, 90], 'party size 1-6, recommended 3-5, 90 minutes');
select ok((select count(*) >= 5 from public.adventure_nodes where adventure_id = tests.adventure()), 'at least 5 nodes');
select is(
  (select array_agg(distinct node_type order by node_type) from public.adventure_nodes where adventure_id = tests.adventure()),
  array['choice', 'combat', 'ending', 'puzzle', 'story'], 'every node type, each with an XP reward');
select is((select start_node_id from public.adventures where id = tests.adventure()), tests.node(1), 'the start node is set');
select is(
  (select count(*)::int from public.adventures where created_by is not null
     and id = tests.adventure()), 0, 'nothing user-specific');

select * from finish();
rollback;
