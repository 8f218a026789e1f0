-- Performance: list_my_sessions read every session ever played.
--
-- Its filter `seer_id = me OR exists (a live seat of mine)` cannot use an index (an OR across
-- two tables), so Postgres scanned the whole sessions table: 230 ms per call at 200k
-- sessions, growing linearly (bench/scale.py, docs/performance.md). The two halves each have
-- an index: sessions (seer_id, created_at desc) and session_players (user_id). Taking the
-- newest 200 of each half and then the newest 200 of their union gives exactly the same
-- answer (the newest 200 of a union are among the newest 200 of each part), in time that
-- depends on the caller's own history, not on the table. Result shape and order unchanged.

create or replace function public.list_my_sessions(p_status text[] default null)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
begin
  if p_status is not null and exists (
      select 1 from unnest(p_status) x
      where x is null or x not in ('waiting', 'active', 'paused', 'completed', 'cancelled')) then
    perform seer_private.raise_error('SESSION_000', 'status must be a list of session statuses');
  end if;
  return coalesce((
    select jsonb_agg(jsonb_build_object(
        'id', s.id, 'code', s.code, 'status', s.status,
        'role', case when s.seer_id = v_uid then 'seer' else 'player' end,
        'adventureName', s.adventure_name, 'seerName', s.seer_name,
        'playerCount', seer_private.live_seat_count(s.id), 'maxPlayers', s.max_players,
        'createdAt', s.created_at, 'startedAt', s.started_at, 'endedAt', s.ended_at)
      order by s.created_at desc, s.id)
    from (select s0.* from public.sessions s0
          where s0.id in (
              (select s1.id from public.sessions s1
               where s1.seer_id = v_uid and (p_status is null or s1.status = any (p_status))
               order by s1.created_at desc, s1.id
               limit 200)
              union
              (select s2.id from public.session_players sp
               join public.sessions s2 on s2.id = sp.session_id
               where sp.user_id = v_uid and sp.left_at is null
                 and (p_status is null or s2.status = any (p_status))
               order by s2.created_at desc, s2.id
               limit 200))
          order by s0.created_at desc, s0.id
          limit 200) s), '[]'::jsonb);
end
$$;

revoke execute on function public.list_my_sessions(text[]) from public, anon;
grant execute on function public.list_my_sessions(text[]) to authenticated, service_role;
