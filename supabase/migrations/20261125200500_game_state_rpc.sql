-- update_game_state: the PRD's PATCH /sessions/:id/state with optimistic concurrency.
-- The whole patch is validated while it is applied to local copies; any invalid key raises
-- before the single UPDATE, so a bad patch (or a stale version) changes nothing.
--
-- That UPDATE also allocates the seqs of the events the patch causes, and the events are
-- written with those seqs by write_event_at (not write_event). Bumping last_seq in a second
-- UPDATE of the same row, as write_event does, wrote a second full version of a row that
-- carries the whole game state, and since the row had already been changed in this
-- transaction Postgres re-ran the three foreign key checks of sessions on it: ~0.15 ms of
-- the ~0.66 ms the RPC took (pg_stat_statements, bench/, docs/performance.md). Seqs stay
-- gap-free: the UPDATE runs under lock_session's row lock.

-- The two pure validators below have no SET clause (unlike every other function here) so
-- that the planner inlines them into the calling expression instead of running them through
-- the SQL-function executor, which re-plans the body on every call. That is safe: they call
-- only pg_catalog functions on their arguments, and an inlined body is parsed in the caller's
-- context, which has search_path = ''.
create function seer_private.jtype(p_value jsonb)
returns text
language sql
immutable
as $$
  select coalesce(jsonb_typeof(p_value), 'missing')
$$;

-- A JSON number that is a whole number in [p_min, p_max].
create function seer_private.is_int_between(p_value jsonb, p_min numeric, p_max numeric)
returns boolean
language sql
immutable
as $$
  select seer_private.jtype(p_value) = 'number'
    and (p_value #>> '{}')::numeric between p_min and p_max
    and (p_value #>> '{}')::numeric = trunc((p_value #>> '{}')::numeric)
$$;

create function seer_private.is_string_array(p_value jsonb, p_max_len int)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select seer_private.jtype(p_value) = 'array'
    and not exists (
      select 1 from jsonb_array_elements(p_value) e
      where jsonb_typeof(e) <> 'string' or length(e #>> '{}') not between 1 and p_max_len)
$$;

-- Bounds of the game state (docs/contract.md "Limits"). Each rule is one function here;
-- update_game_state only calls them.

-- One inventory item, validated and normalised: exactly the keys id (1-100 characters),
-- name (1-100), quantity (optional integer 0..1,000,000), description (optional, up to 500,
-- may span lines) and assignedTo (optional: null or a player id, a uuid). Any other key is
-- refused, so an item cannot carry arbitrary payload. Texts go through clean_text.
create function seer_private.inventory_item(p_item jsonb)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_bad text;
  v_assigned text;
begin
  if seer_private.jtype(p_item) <> 'object' then
    perform seer_private.raise_error('SESSION_000', 'addInventory items must be objects');
  end if;
  select k into v_bad from jsonb_object_keys(p_item) k
  where k not in ('id', 'name', 'quantity', 'description', 'assignedTo') limit 1;
  if v_bad is not null then
    perform seer_private.raise_error('SESSION_000', 'inventory items have only id, name, quantity, '
      || 'description and assignedTo, not ' || left(v_bad, 60));
  end if;
  if seer_private.jtype(p_item -> 'id') <> 'string' or seer_private.jtype(p_item -> 'name') <> 'string' then
    perform seer_private.raise_error('SESSION_000', 'addInventory items need a string id and name');
  end if;
  if p_item ? 'quantity' and not seer_private.is_int_between(p_item -> 'quantity', 0, 1000000) then
    perform seer_private.raise_error('SESSION_000', 'addInventory quantity must be an integer 0-1000000');
  end if;
  if seer_private.jtype(p_item -> 'description') not in ('missing', 'null', 'string') then
    perform seer_private.raise_error('SESSION_000', 'inventory description must be a string');
  end if;
  if seer_private.jtype(p_item -> 'assignedTo') not in ('missing', 'null', 'string') or (
      seer_private.jtype(p_item -> 'assignedTo') = 'string'
      and seer_private.try_uuid(p_item ->> 'assignedTo') is null) then
    perform seer_private.raise_error('SESSION_000', 'inventory assignedTo must be a player id or null');
  end if;
  v_assigned := seer_private.try_uuid(p_item ->> 'assignedTo')::text;
  -- absent and null optional keys are left out, as an item without them was always stored
  return jsonb_strip_nulls(jsonb_build_object(
    'id', seer_private.clean_text(p_item ->> 'id', 'inventory id', 100, true),
    'name', seer_private.clean_text(p_item ->> 'name', 'inventory name', 100, true),
    'quantity', p_item -> 'quantity',
    'description', to_jsonb(seer_private.clean_text(p_item ->> 'description', 'inventory description',
                                                    500, false, true)),
    'assignedTo', to_jsonb(v_assigned)));
end
$$;

-- turnHistory: typed entries {type, actorId, at, ...}; type is one of note (the Seer's `turn`
-- patch), move, roll, combat, action. Each is made here and carried by the event it belongs to
-- (`entry` of a roll, action or combat event, `turns` of a game_state event: issue 22);
-- turnHistory is derived from those (seer_private.turn_history, the _session_kernel
-- migration), newest 100 / 128 KiB.
create function seer_private.turn_entry(p_type text, p_actor uuid, p_fields jsonb)
returns jsonb
language sql
stable
as $$
  select coalesce(p_fields, '{}'::jsonb)
    || jsonb_build_object('type', p_type, 'actorId', p_actor, 'at', now())
$$;

-- p_turn_history false: the reply's turnHistory is null instead of the newest 100 turns (for a
-- client that folds the events and so has them: the SDK's SessionConnection); the default is
-- the PRD's GameState.
create function public.update_game_state(
  p_session_id uuid, p_patch jsonb, p_expected_version int default null,
  p_turn_history boolean default true)
returns json
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
  v_key text;
  v_val jsonb;
  v_elem jsonb;
  v_node public.adventure_nodes%rowtype;
  v_node_id uuid;
  v_override boolean := false;
  v_visited uuid[];
  v_inv jsonb;
  v_vars jsonb;
  v_flags jsonb;
  -- what the game_state event carries for a client's fold: the items as stored, the turns
  -- added (turnHistory is derived from these, issue 24)
  v_added jsonb := '[]'::jsonb;
  v_new_turns jsonb := '[]'::jsonb;
  v_combat jsonb;
  v_state jsonb;
  v_version int;
  v_events int;
  v_last bigint;
  v_keys text[];
  v_bad boolean;
  v_unsafe boolean;
  v_nvars bigint;
begin
  if p_patch is null or jsonb_typeof(p_patch) <> 'object' then
    perform seer_private.raise_error('SESSION_000', 'patch must be a JSON object');
  end if;
  if octet_length(p_patch::text) > 65536 then
    perform seer_private.raise_error('SESSION_000', 'patch is larger than 64 KiB');
  end if;
  v_s := seer_private.lock_session(p_session_id);
  perform seer_private.require_seer(v_s, v_uid);
  if v_s.status <> 'active' then
    perform seer_private.raise_error('SESSION_010', 'game state changes need an active session');
  end if;
  perform seer_private.require_event_room(v_s);
  if p_expected_version is not null and p_expected_version <> v_s.state_version then
    perform seer_private.raise_error('SESSION_014', 'currentVersion=' || v_s.state_version);
  end if;
  if p_patch = '{}'::jsonb then
    return seer_private.game_state_json(v_s, p_turn_history);
  end if;

  v_node_id := v_s.current_node_id;
  v_visited := v_s.visited_node_ids;
  v_inv := coalesce(v_s.game_state -> 'inventory', '[]'::jsonb);
  v_vars := coalesce(v_s.game_state -> 'variables', '{}'::jsonb);
  v_flags := coalesce(v_s.game_state -> 'flags', '[]'::jsonb);
  -- written by the combat RPCs only
  v_combat := coalesce(v_s.game_state -> 'combatState', 'null'::jsonb);
  if p_patch ? 'nodeOverride' then
    if seer_private.jtype(p_patch -> 'nodeOverride') <> 'boolean' then
      perform seer_private.raise_error('SESSION_000', 'nodeOverride must be a boolean');
    end if;
    v_override := (p_patch ->> 'nodeOverride')::boolean;
  end if;

  -- the keys in one statement, then plain assignments: a FOR over a query keeps a cursor open
  -- for the whole loop (jsonb_object_keys has jsonb_each's order)
  v_keys := array(select jsonb_object_keys(p_patch));
  foreach v_key in array v_keys loop
    v_val := p_patch -> v_key;
    case v_key
    when 'currentNodeId' then
      v_node_id := seer_private.try_uuid(case when jsonb_typeof(v_val) = 'string' then v_val #>> '{}' end);
      select * into v_node from public.adventure_nodes n
      where n.id = v_node_id and n.adventure_id = v_s.adventure_id;
      if not found then
        perform seer_private.raise_error('SESSION_000', 'currentNodeId must be a node of this adventure');
      end if;
      -- the graph: only along a link of the current node, unless the Seer overrides (logged)
      if v_node_id is distinct from v_s.current_node_id and not v_override and not exists (
          select 1 from public.adventure_links l
          where l.from_node_id = v_s.current_node_id and l.to_node_id = v_node_id) then
        perform seer_private.raise_error('SESSION_000',
          'currentNodeId is not linked from the current node (set nodeOverride to move anyway)');
      end if;
      if not (v_node_id = any (v_visited)) then
        v_visited := v_visited || v_node_id;
      end if;
    when 'nodeOverride' then
      null;  -- read above, before the loop
    when 'addInventory' then
      if seer_private.jtype(v_val) <> 'array' then
        perform seer_private.raise_error('SESSION_000', 'addInventory must be an array');
      end if;
      for v_elem in select seer_private.inventory_item(e) from jsonb_array_elements(v_val) e loop
        -- an item with the same id is replaced
        v_inv := coalesce((select jsonb_agg(i order by o) from jsonb_array_elements(v_inv) with ordinality t(i, o)
                           where i ->> 'id' <> v_elem ->> 'id'), '[]'::jsonb) || jsonb_build_array(v_elem);
        v_added := v_added || jsonb_build_array(v_elem);
      end loop;
    when 'removeInventory' then
      if not seer_private.is_string_array(v_val, 100) then
        perform seer_private.raise_error('SESSION_000', 'removeInventory must be an array of item ids');
      end if;
      v_inv := coalesce((select jsonb_agg(i order by o) from jsonb_array_elements(v_inv) with ordinality t(i, o)
                         where not (v_val @> jsonb_build_array(i -> 'id'))), '[]'::jsonb);
    when 'setVariables' then
      -- one statement: the shape, the characters (every player sees them: clean_text's
      -- character rule, names one line, values may span lines) and the merged count
      if seer_private.jtype(v_val) = 'object' then
        select bool_or(length(e.key) not between 1 and 100
                       or jsonb_typeof(e.value) not in ('string', 'number', 'boolean')
                       or (jsonb_typeof(e.value) = 'string' and length(e.value #>> '{}') > 2000)),
               bool_or(e.key ~ seer_private.unsafe_text_chars(false)
                       or (jsonb_typeof(e.value) = 'string'
                           and (e.value #>> '{}') ~ seer_private.unsafe_text_chars(true))),
               (select count(*) from jsonb_object_keys(v_vars || v_val))
          into v_bad, v_unsafe, v_nvars
        from jsonb_each(v_val) e;
      end if;
      if seer_private.jtype(v_val) <> 'object' or v_bad then
        perform seer_private.raise_error('SESSION_000',
          'setVariables must map names (1-100) to strings (<= 2000), numbers or booleans');
      end if;
      if v_unsafe then
        perform seer_private.raise_error('SESSION_000', 'setVariables contains control, bidi or escape characters');
      end if;
      v_vars := v_vars || v_val;
    when 'addFlags' then
      if not seer_private.is_string_array(v_val, 100) then
        perform seer_private.raise_error('SESSION_000', 'addFlags must be an array of strings (1-100)');
      end if;
      if exists (select 1 from jsonb_array_elements_text(v_val) f where f ~ seer_private.unsafe_text_chars(false)) then
        perform seer_private.raise_error('SESSION_000', 'addFlags contains control, bidi or escape characters');
      end if;
      for v_elem in select e from jsonb_array_elements(v_val) e loop
        if not (v_flags @> jsonb_build_array(v_elem)) then
          v_flags := v_flags || jsonb_build_array(v_elem);
        end if;
      end loop;
    when 'removeFlags' then
      if not seer_private.is_string_array(v_val, 100) then
        perform seer_private.raise_error('SESSION_000', 'removeFlags must be an array of strings (1-100)');
      end if;
      v_flags := coalesce((select jsonb_agg(f order by o) from jsonb_array_elements(v_flags) with ordinality t(f, o)
                           where not (v_val @> jsonb_build_array(f))), '[]'::jsonb);
    -- diceRolled and combatsCompleted are counted by roll_dice and end_combat, and combatState
    -- is written by the combat RPCs only: they are not patch keys (unknown key below).
    when 'turn' then
      if seer_private.jtype(v_val) <> 'object' or octet_length(v_val::text) > 8192 then
        perform seer_private.raise_error('SESSION_000', 'turn must be an object of at most 8 KiB');
      end if;
      -- every string in the turn (at any depth, keys too) follows clean_text's character rule
      if exists (select 1 from jsonb_path_query(v_val, 'strict $.**') j
                 where jsonb_typeof(j) = 'string' and (j #>> '{}') ~ seer_private.unsafe_text_chars(true))
         or exists (select 1 from jsonb_path_query(v_val, 'strict $.**') j
                    cross join lateral jsonb_object_keys(case when jsonb_typeof(j) = 'object' then j else '{}' end) k
                    where k ~ seer_private.unsafe_text_chars(false)) then
        perform seer_private.raise_error('SESSION_000', 'turn contains control, bidi or escape characters');
      end if;
      v_new_turns := v_new_turns || jsonb_build_array(
        seer_private.turn_entry('note', v_uid, v_val - 'type' - 'actorId' - 'at'));
    else
      perform seer_private.raise_error('SESSION_000', 'unknown patch key ' || left(v_key, 60));
    end case;
  end loop;

  if jsonb_array_length(v_inv) > 200 then
    perform seer_private.raise_error('SESSION_000', 'inventory holds at most 200 items');
  end if;
  -- the variables only grow by setVariables (counted there; every stored state passed this)
  if jsonb_array_length(v_flags) > 500 or v_nvars > 500 then
    perform seer_private.raise_error('SESSION_000', 'flags and variables hold at most 500 entries');
  end if;
  if v_node_id is distinct from v_s.current_node_id then
    v_new_turns := v_new_turns || jsonb_build_array(seer_private.turn_entry('move', v_uid,
      jsonb_build_object('nodeId', v_node.id, 'nodeTitle', v_node.title, 'override', v_override)));
  end if;
  -- turnHistory is not part of the stored state: the note and the move are the game_state
  -- event's `turns`, and turnHistory is derived from the log
  v_state := jsonb_build_object('inventory', v_inv, 'variables', v_vars, 'flags', v_flags,
                                'combatState', v_combat);
  perform seer_private.require_size(v_state, 'the game state', 262144);

  -- One UPDATE writes the state and allocates the seqs of the events it causes (1, or 2 with
  -- a node change), instead of write_event bumping last_seq in a second UPDATE of the same row.
  v_events := case when v_node_id is distinct from v_s.current_node_id then 2 else 1 end;
  update public.sessions
  set game_state = v_state,
      state_version = state_version + 1,
      current_node_id = v_node_id,
      visited_node_ids = v_visited,
      last_seq = last_seq + v_events
  where id = v_s.id
  returning * into v_s;
  v_version := v_s.state_version;
  v_last := v_s.last_seq;

  perform seer_private.write_event_at(v_s.id, v_last - v_events + 1, 'game_state', v_uid,
    seer_private.event_game_state(
      case when p_patch ? 'addInventory' then jsonb_set(p_patch, '{addInventory}', v_added) else p_patch end,
      v_version, v_new_turns));
  if v_events = 2 then
    perform seer_private.write_event_at(v_s.id, v_last, 'node_change', v_uid,
      seer_private.event_node_change(seer_private.node_json(v_node.id), v_override));
  end if;
  return seer_private.game_state_json(v_s, p_turn_history);
end
$$;

create function public.get_game_state(p_session_id uuid)
returns json
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
begin
  v_s := seer_private.read_session(p_session_id);
  perform seer_private.require_participant(v_s, v_uid);
  return seer_private.game_state_json(v_s);
end
$$;

-- New functions are executable through PUBLIC only; revoking that keeps the internals
-- private and leaves the RLS helpers' direct grants to authenticated (20261125200300_rls) alone.
revoke execute on all functions in schema seer_private from public;
revoke execute on function public.update_game_state(uuid, jsonb, int, boolean), public.get_game_state(uuid)
  from public, anon;
grant execute on function public.update_game_state(uuid, jsonb, int, boolean), public.get_game_state(uuid)
  to authenticated, service_role;
