-- Row level security for everything the REST API can read.
--
-- Participation is decided by security definer helpers in seer_private: a policy on
-- sessions that queried session_players (and vice versa) would recurse. The helpers are
-- the only seer_private objects the API role can execute; `usage` on the schema lets
-- policies call them and grants nothing else (every other function has EXECUTE revoked,
-- the error table has no grants). PostgREST does not expose seer_private at all.

-- Seer, or a seat that was never released (connected, disconnected, inactive; also after
-- the session ended, so participants keep their history).
-- plpgsql, not sql: a security definer sql function is never inlined, so every call ran
-- through the SQL-function executor, which parses and plans the body again in each new
-- transaction - and an RPC is one transaction (issue 24: get_session and
-- session_events_since paid that on every call). plpgsql keeps the plan for the connection.
create function seer_private.is_session_participant(p_session_id uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return exists (
      select 1 from public.sessions s
      where s.id = p_session_id and s.seer_id = auth.uid())
    or exists (
      select 1 from public.session_players sp
      where sp.session_id = p_session_id and sp.user_id = auth.uid() and sp.left_at is null);
end
$$;

-- A character is visible to the participants of a session it sits in.
create function seer_private.can_see_character(p_character_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.session_players sp
    where sp.character_id = p_character_id
      and sp.left_at is null
      and seer_private.is_session_participant(sp.session_id))
$$;

-- A profile is visible to people who share a session with its owner.
create function seer_private.shares_session_with(p_user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
      select 1 from public.sessions s
      where s.seer_id = p_user_id and seer_private.is_session_participant(s.id))
    or exists (
      select 1 from public.session_players sp
      where sp.user_id = p_user_id and sp.left_at is null
        and seer_private.is_session_participant(sp.session_id))
$$;

-- No spoilers: a node (its title and body, and the links leaving it) is readable by the
-- adventure's author, and by the Seer and live seats of a session of that adventure that has
-- visited the node; by nobody else. Each half starts from the caller's own sessions
-- (sessions_seer_idx, session_players_user_idx), so the cost depends on the caller's history,
-- not on how many sessions ever played the adventure. get_session, node_change events and
-- the adventure RPCs only ever hand out visited nodes, so this is the one rule for every read.
create function seer_private.can_read_node(p_adventure_id uuid, p_node_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
      select 1 from public.adventures a
      where a.id = p_adventure_id and a.created_by = auth.uid())
    or exists (
      select 1 from public.sessions s
      where s.seer_id = auth.uid() and s.adventure_id = p_adventure_id
        and p_node_id = any (s.visited_node_ids))
    or exists (
      select 1 from public.session_players sp
      join public.sessions s on s.id = sp.session_id
      where sp.user_id = auth.uid() and sp.left_at is null
        and s.adventure_id = p_adventure_id and p_node_id = any (s.visited_node_ids))
$$;

grant usage on schema seer_private to authenticated;
-- Functions are created executable by PUBLIC: take that away from everything in the schema,
-- then grant the helpers to authenticated directly. Later migrations revoke from PUBLIC only,
-- so these direct grants are the one list to keep.
revoke execute on all functions in schema seer_private from public;
grant execute on function
  seer_private.is_session_participant(uuid),
  seer_private.can_see_character(uuid),
  seer_private.shares_session_with(uuid),
  seer_private.can_read_node(uuid, uuid)
  to authenticated;

create policy "participants read their sessions" on public.sessions
  for select to authenticated
  using (seer_private.is_session_participant(id));

create policy "participants read the seats of their sessions" on public.session_players
  for select to authenticated
  using (seer_private.is_session_participant(session_id));

create policy "participants read the events of their sessions" on public.session_events
  for select to authenticated
  using (seer_private.is_session_participant(session_id));

create policy "players read their own feedback, the Seer reads all" on public.session_feedback
  for select to authenticated
  using (
    user_id = (select auth.uid())
    or exists (select 1 from public.sessions s
               where s.id = session_id and s.seer_id = (select auth.uid())));

create policy "owners and session companions read characters" on public.characters
  for select to authenticated
  using (owner_id = (select auth.uid()) or seer_private.can_see_character(id));

create policy "whoever reads the character reads its items" on public.character_items
  for select to authenticated
  using (exists (select 1 from public.characters c
                 where c.id = character_id
                   and (c.owner_id = (select auth.uid()) or seer_private.can_see_character(c.id))));

create policy "own profile and session companions" on public.profiles
  for select to authenticated
  using (id = (select auth.uid()) or seer_private.shares_session_with(id));

create policy "signed-in users read published adventures" on public.adventures
  for select to authenticated
  using (is_published or created_by = (select auth.uid()));

create policy "authors and visiting participants read nodes" on public.adventure_nodes
  for select to authenticated
  using (seer_private.can_read_node(adventure_id, id));

create policy "authors and visiting participants read a node's links" on public.adventure_links
  for select to authenticated
  using (seer_private.can_read_node(adventure_id, from_node_id));

-- Reads are allowed (and filtered by the policies above) for signed-in users; the service
-- role keeps full access as on any Supabase table. Explicit, rather than relying on the
-- platform's default privileges.
grant select on public.profiles, public.characters, public.character_items, public.adventures,
  public.adventure_nodes, public.adventure_links, public.sessions, public.session_players, public.session_events, public.session_feedback
  to authenticated;
grant all on public.profiles, public.characters, public.character_items, public.adventures,
  public.adventure_nodes, public.adventure_links, public.sessions, public.session_players, public.session_events, public.session_feedback
  to service_role;
