-- Demo content: one published adventure with its nodes. Nothing user-specific; fixed ids so
-- docs, the SDK demo and tests can refer to it. Idempotent, and correct whether or not the
-- seed runs in one transaction (the start node is set after the nodes exist).

insert into public.adventures (id, title, description, min_players, max_players,
  recommended_min_players, recommended_max_players, start_node_id, estimated_duration_minutes)
values (
  '00000000-0000-4000-8000-00000000a001',
  'The Sunken Lantern',
  'A drowned lighthouse still burns beneath the bay, and ships vanish wherever its light falls. '
    || 'Dive into the flooded tower, outwit its keeper and put the lantern out before the tide turns.',
  1, 6, 3, 5,
  null,
  90)
on conflict (id) do nothing;

insert into public.adventure_nodes (id, adventure_id, node_type, title, body, xp_reward, position) values
  ('00000000-0000-4000-8000-00000000b001', '00000000-0000-4000-8000-00000000a001', 'story',
   'The Drowned Shore', 'Fishermen whisper about a green light under the waves. A rowboat waits at the pier.', 50, 1),
  ('00000000-0000-4000-8000-00000000b002', '00000000-0000-4000-8000-00000000a001', 'choice',
   'Two Ways Down', 'Dive through the shattered window, or follow the kelp-choked stairwell?', 50, 2),
  ('00000000-0000-4000-8000-00000000b003', '00000000-0000-4000-8000-00000000a001', 'combat',
   'The Eel Warden', 'A lantern-eyed eel coils around the stair, guarding the keeper''s door.', 150, 3),
  ('00000000-0000-4000-8000-00000000b004', '00000000-0000-4000-8000-00000000a001', 'puzzle',
   'The Keeper''s Lock', 'Three brass dials, tide tables etched beside them, and the water rising.', 100, 4),
  ('00000000-0000-4000-8000-00000000b005', '00000000-0000-4000-8000-00000000a001', 'ending',
   'Lights Out', 'The lantern gutters and dies. Above, the bay is dark and the ships sail home.', 200, 5)
on conflict (id) do nothing;

update public.adventures
set start_node_id = '00000000-0000-4000-8000-00000000b001'
where id = '00000000-0000-4000-8000-00000000a001' and start_node_id is null;

-- The graph: the choices of each node, in order (the Seer moves only along these).
insert into public.adventure_links (id, adventure_id, from_node_id, to_node_id, label, position) values
  ('00000000-0000-4000-8000-00000000c001', '00000000-0000-4000-8000-00000000a001',
   '00000000-0000-4000-8000-00000000b001', '00000000-0000-4000-8000-00000000b002', 'Row out and dive', 1),
  ('00000000-0000-4000-8000-00000000c002', '00000000-0000-4000-8000-00000000a001',
   '00000000-0000-4000-8000-00000000b002', '00000000-0000-4000-8000-00000000b004', 'Dive through the shattered window', 1),
  ('00000000-0000-4000-8000-00000000c003', '00000000-0000-4000-8000-00000000a001',
   '00000000-0000-4000-8000-00000000b002', '00000000-0000-4000-8000-00000000b003', 'Follow the kelp-choked stairwell', 2),
  ('00000000-0000-4000-8000-00000000c004', '00000000-0000-4000-8000-00000000a001',
   '00000000-0000-4000-8000-00000000b003', '00000000-0000-4000-8000-00000000b004', 'Slip past the coils to the keeper''s door', 1),
  ('00000000-0000-4000-8000-00000000c005', '00000000-0000-4000-8000-00000000a001',
   '00000000-0000-4000-8000-00000000b004', '00000000-0000-4000-8000-00000000b005', 'Set the dials to the turning tide', 1)
on conflict (id) do nothing;
