-- The adventure library (US-01): list and search adventures, import one from a JSON document,
-- publish or withdraw one's own. Reading nodes is governed by can_read_node (the _rls
-- migration): the library shows titles, descriptions and sizes, never a node.

-- The one row shape of the library.
create function seer_private.adventure_json(p_adventure public.adventures, p_author text, p_nodes int)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'id', (p_adventure).id, 'title', (p_adventure).title, 'description', (p_adventure).description,
    'minPlayers', (p_adventure).min_players, 'maxPlayers', (p_adventure).max_players,
    'recommendedMinPlayers', (p_adventure).recommended_min_players,
    'recommendedMaxPlayers', (p_adventure).recommended_max_players,
    'estimatedDurationMinutes', (p_adventure).estimated_duration_minutes,
    'nodeCount', p_nodes, 'authorName', p_author, 'isPublished', (p_adventure).is_published,
    'isMine', (p_adventure).created_by is not distinct from auth.uid())
$$;

-- scope: mine (created by me, published or not), community (published by anyone), all (both).
-- p_query matches title and description, case-insensitive, as a plain substring (LIKE
-- wildcards in it are escaped). Newest first is meaningless for seeded content, so by title.
-- Keyset-paged as the library grows: p_after is the last adventure of the previous page (one
-- the caller may read, else SESSION_000 'after'), the page holds the next p_limit by (title, id).
create function public.list_adventures(
  p_scope text default 'all', p_query text default null, p_limit int default 50,
  p_after uuid default null)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_scope text := lower(btrim(left(coalesce(p_scope, 'all'), 20)));
  v_query text := seer_private.clean_text(p_query, 'query', 100);
  v_limit int := coalesce(p_limit, 50);
  v_pattern text;
  -- Keyset cursor (title, id) of p_after; before every real row when there is none.
  v_title text := '';
  v_id uuid := '00000000-0000-0000-0000-000000000000'::uuid;
begin
  if v_scope not in ('mine', 'community', 'all') then
    perform seer_private.raise_error('SESSION_000', 'scope must be mine, community or all');
  end if;
  if v_limit not between 1 and 200 then
    perform seer_private.raise_error('SESSION_000', 'limit must be between 1 and 200');
  end if;
  if p_after is not null then
    -- The cursor must be an adventure the caller may read (a published one, or their own).
    select a.title, a.id into v_title, v_id from public.adventures a
    where a.id = p_after and (a.is_published or a.created_by = v_uid);
    if not found then
      perform seer_private.raise_error('SESSION_000', 'after');
    end if;
  end if;
  v_pattern := case when v_query is not null
    then '%' || replace(replace(replace(v_query, '\', '\\'), '%', '\%'), '_', '\_') || '%' end;
  return coalesce((
    select jsonb_agg(seer_private.adventure_json(a, pr.display_name,
        (select count(*)::int from public.adventure_nodes n where n.adventure_id = a.id))
      order by a.title, a.id)
    from (select a0.* from public.adventures a0
          where case v_scope
                  when 'mine' then a0.created_by = v_uid
                  when 'community' then a0.is_published
                  else a0.is_published or a0.created_by = v_uid end
            and (v_pattern is null or a0.title ilike v_pattern or a0.description ilike v_pattern)
            and (a0.title, a0.id) > (v_title, v_id)
          order by a0.title, a0.id
          limit v_limit) a
    left join public.profiles pr on pr.id = a.created_by), '[]'::jsonb);
end
$$;

-- An integer field of an import document: absent -> p_default; else a whole number in range.
create function seer_private.doc_int(p_doc jsonb, p_key text, p_min int, p_max int, p_default int)
returns int
language plpgsql
immutable
set search_path = ''
as $$
begin
  if not (p_doc ? p_key) or p_doc -> p_key = 'null'::jsonb then
    return p_default;
  end if;
  if not seer_private.is_int_between(p_doc -> p_key, p_min, p_max) then
    perform seer_private.raise_error('SESSION_000', p_key || ' must be an integer between ' || p_min || ' and ' || p_max);
  end if;
  return (p_doc ->> p_key)::int;
end
$$;

-- The text an account stores in its adventures, in bytes: titles, descriptions, node bodies
-- and link labels. At most 10 MiB per account (adventure_storage_quota; a long adventure is
-- 100-300 kB): with the 200-adventure cap alone, issue 20 stored 19 MB in 20 imports in
-- 3.7 s and could have stored ~200 MiB. Imports are also rate-limited (import_adventure
-- bucket: 20 per hour, SESSION_028).
create function seer_private.adventure_storage_quota()
returns bigint
language sql
immutable
set search_path = ''
as $$ select 10485760::bigint $$;

create function seer_private.adventure_storage_used(p_uid uuid)
returns bigint
language sql
stable
set search_path = ''
as $$
  select coalesce((select sum(octet_length(a.title) + octet_length(a.description))
                   from public.adventures a where a.created_by = p_uid), 0)
       + coalesce((select sum(octet_length(n.title) + octet_length(n.body))
                   from public.adventures a join public.adventure_nodes n on n.adventure_id = a.id
                   where a.created_by = p_uid), 0)
       + coalesce((select sum(octet_length(l.label))
                   from public.adventures a join public.adventure_links l on l.adventure_id = a.id
                   where a.created_by = p_uid), 0)
$$;

-- Creates an unpublished adventure of mine from one document:
--   {title, description?, minPlayers?, maxPlayers?, recommendedMinPlayers?, recommendedMaxPlayers?,
--    estimatedDurationMinutes?, nodes: [{key, type, title, body?, xpReward?, start?}],
--    links: [{from, to, label}]}
-- validated whole before anything is written: exactly one start node (the node with
-- "start": true, or the first node if none says so), unique keys, every link between its own
-- nodes, and an ending reachable from the start. Any problem is SESSION_000 naming it.
create function public.import_adventure(p_document jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_doc jsonb := p_document;
  v_node jsonb;
  v_link jsonb;
  v_keys text[] := '{}'::text[];
  v_ids uuid[] := '{}'::uuid[];
  v_starts int;
  v_start_key text;
  v_adv public.adventures%rowtype;
  v_reach text[];
  v_size int;
begin
  if v_doc is null or jsonb_typeof(v_doc) <> 'object' then
    perform seer_private.raise_error('SESSION_000', 'document must be a JSON object');
  end if;
  if octet_length(v_doc::text) > 1048576 then
    perform seer_private.raise_error('SESSION_000', 'document is larger than 1 MiB');
  end if;
  if (select count(*) from public.adventures a where a.created_by = v_uid) >= 200 then
    perform seer_private.raise_error('SESSION_000', 'at most 200 adventures per user');
  end if;
  perform seer_private.spend_rate_budget('import_adventure', v_uid);
  if seer_private.jtype(v_doc -> 'nodes') <> 'array' or jsonb_array_length(v_doc -> 'nodes') not between 1 and 500 then
    perform seer_private.raise_error('SESSION_000', 'nodes must be an array of 1-500 nodes');
  end if;
  if seer_private.jtype(v_doc -> 'links') not in ('array', 'missing')
     or jsonb_array_length(coalesce(v_doc -> 'links', '[]')) > 2000 then
    perform seer_private.raise_error('SESSION_000', 'links must be an array of at most 2000 links');
  end if;
  -- the adventure row: column checks name the problem, constraint violations are mapped below
  v_adv.id := gen_random_uuid();
  v_adv.title := seer_private.clean_text(v_doc ->> 'title', 'title', 200, true);
  v_adv.description := coalesce(seer_private.clean_text(v_doc ->> 'description', 'description', 4000), '');
  v_adv.min_players := seer_private.doc_int(v_doc, 'minPlayers', 1, 6, 1);
  v_adv.max_players := seer_private.doc_int(v_doc, 'maxPlayers', 1, 6, 6);
  v_adv.recommended_min_players := seer_private.doc_int(v_doc, 'recommendedMinPlayers', 1, 6, v_adv.min_players);
  v_adv.recommended_max_players := seer_private.doc_int(v_doc, 'recommendedMaxPlayers', 1, 6, v_adv.max_players);
  v_adv.estimated_duration_minutes := seer_private.doc_int(v_doc, 'estimatedDurationMinutes', 1, 1440, 60);
  if not (v_adv.min_players <= v_adv.recommended_min_players
          and v_adv.recommended_min_players <= v_adv.recommended_max_players
          and v_adv.recommended_max_players <= v_adv.max_players) then
    perform seer_private.raise_error('SESSION_000',
      'party sizes must satisfy minPlayers <= recommendedMinPlayers <= recommendedMaxPlayers <= maxPlayers');
  end if;

  -- nodes
  for v_node in select e from jsonb_array_elements(v_doc -> 'nodes') e loop
    if seer_private.jtype(v_node) <> 'object' or seer_private.jtype(v_node -> 'key') <> 'string'
       or length(v_node ->> 'key') not between 1 and 100 then
      perform seer_private.raise_error('SESSION_000', 'every node needs a string key (1-100)');
    end if;
    if v_node ->> 'key' = any (v_keys) then
      perform seer_private.raise_error('SESSION_000', 'duplicate node key ' || (v_node ->> 'key'));
    end if;
    if coalesce(v_node ->> 'type', '') not in ('story', 'choice', 'combat', 'puzzle', 'ending') then
      perform seer_private.raise_error('SESSION_000',
        'node ' || (v_node ->> 'key') || ': type must be story, choice, combat, puzzle or ending');
    end if;
    perform seer_private.clean_text(v_node ->> 'title', 'node ' || (v_node ->> 'key') || ' title', 200, true);
    perform seer_private.clean_text(v_node ->> 'body', 'node ' || (v_node ->> 'key') || ' body', 20000);
    perform seer_private.doc_int(v_node, 'xpReward', 0, 10000, 0);
    if seer_private.jtype(v_node -> 'start') not in ('boolean', 'missing') then
      perform seer_private.raise_error('SESSION_000', 'node ' || (v_node ->> 'key') || ': start must be a boolean');
    end if;
    v_keys := v_keys || (v_node ->> 'key');
    v_ids := v_ids || gen_random_uuid();
  end loop;
  select count(*) into v_starts from jsonb_array_elements(v_doc -> 'nodes') e where (e ->> 'start')::boolean;
  if v_starts > 1 then
    perform seer_private.raise_error('SESSION_000', 'more than one start node');
  end if;
  v_start_key := coalesce(
    (select e ->> 'key' from jsonb_array_elements(v_doc -> 'nodes') e where (e ->> 'start')::boolean),
    v_doc -> 'nodes' -> 0 ->> 'key');

  -- links
  for v_link in select e from jsonb_array_elements(coalesce(v_doc -> 'links', '[]')) e loop
    if seer_private.jtype(v_link) <> 'object'
       or not (v_link ->> 'from' = any (v_keys)) or not (v_link ->> 'to' = any (v_keys)) then
      perform seer_private.raise_error('SESSION_000',
        'link ' || left(coalesce(v_link::text, 'null'), 120) || ' must join two nodes of this document (from, to)');
    end if;
    perform seer_private.clean_text(v_link ->> 'label', 'link label', 200, true);
  end loop;
  if (select count(*) from jsonb_array_elements(coalesce(v_doc -> 'links', '[]')) e)
     <> (select count(distinct (e ->> 'from', e ->> 'to')) from jsonb_array_elements(coalesce(v_doc -> 'links', '[]')) e) then
    perform seer_private.raise_error('SESSION_000', 'duplicate link');
  end if;

  -- an ending must be reachable from the start
  v_reach := array[v_start_key];
  loop
    v_size := cardinality(v_reach);
    v_reach := v_reach || array(
      select distinct e ->> 'to' from jsonb_array_elements(coalesce(v_doc -> 'links', '[]')) e
      where e ->> 'from' = any (v_reach) and not (e ->> 'to' = any (v_reach)));
    exit when cardinality(v_reach) = v_size;
  end loop;
  if not exists (select 1 from jsonb_array_elements(v_doc -> 'nodes') e
                 where e ->> 'type' = 'ending' and e ->> 'key' = any (v_reach)) then
    perform seer_private.raise_error('SESSION_000', 'no ending is reachable from the start node');
  end if;

  -- write: adventure, nodes, links (the start node FK is deferred to commit)
  insert into public.adventures (id, title, description, min_players, max_players,
    recommended_min_players, recommended_max_players, start_node_id, estimated_duration_minutes,
    is_published, created_by)
  values (v_adv.id, v_adv.title, v_adv.description, v_adv.min_players, v_adv.max_players,
    v_adv.recommended_min_players, v_adv.recommended_max_players,
    v_ids[array_position(v_keys, v_start_key)], v_adv.estimated_duration_minutes, false, v_uid);
  insert into public.adventure_nodes (id, adventure_id, node_type, title, body, xp_reward, position)
  select v_ids[o], v_adv.id, e ->> 'type', seer_private.clean_text(e ->> 'title', 'node title', 200, true),
         coalesce(seer_private.clean_text(e ->> 'body', 'node body', 20000), ''),
         coalesce((e ->> 'xpReward')::int, 0), o::int
  from jsonb_array_elements(v_doc -> 'nodes') with ordinality t(e, o);
  insert into public.adventure_links (adventure_id, from_node_id, to_node_id, label, position)
  select v_adv.id, v_ids[array_position(v_keys, e ->> 'from')], v_ids[array_position(v_keys, e ->> 'to')],
         seer_private.clean_text(e ->> 'label', 'link label', 200, true), o::int
  from jsonb_array_elements(coalesce(v_doc -> 'links', '[]')) with ordinality t(e, o);
  -- the quota counts what is stored, this import included (an error rolls it back)
  if seer_private.adventure_storage_used(v_uid) > seer_private.adventure_storage_quota() then
    perform seer_private.raise_error('SESSION_019',
      'adventures may store at most ' || seer_private.adventure_storage_quota() / 1048576 || ' MiB of text per account');
  end if;

  select * into v_adv from public.adventures a where a.id = v_adv.id;
  return seer_private.adventure_json(v_adv,
    (select pr.display_name from public.profiles pr where pr.id = v_uid), cardinality(v_ids));
end
$$;

create function public.publish_adventure(p_adventure_id uuid, p_published boolean)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_adv public.adventures%rowtype;
begin
  if p_adventure_id is null or p_published is null then
    perform seer_private.raise_error('SESSION_000', 'adventureId and published are required');
  end if;
  select * into v_adv from public.adventures a where a.id = p_adventure_id for update;
  if not found or not (v_adv.is_published or v_adv.created_by = v_uid) then
    perform seer_private.raise_error('SESSION_013');
  end if;
  if v_adv.created_by is distinct from v_uid then
    perform seer_private.raise_error('SESSION_025');
  end if;
  update public.adventures set is_published = p_published where id = v_adv.id returning * into v_adv;
  return seer_private.adventure_json(v_adv,
    (select pr.display_name from public.profiles pr where pr.id = v_uid),
    (select count(*)::int from public.adventure_nodes n where n.adventure_id = v_adv.id));
end
$$;

revoke execute on all functions in schema seer_private from public;
revoke execute on function public.list_adventures(text, text, int, uuid), public.import_adventure(jsonb),
  public.publish_adventure(uuid, boolean) from public, anon;
grant execute on function public.list_adventures(text, text, int, uuid), public.import_adventure(jsonb),
  public.publish_adventure(uuid, boolean) to authenticated, service_role;
