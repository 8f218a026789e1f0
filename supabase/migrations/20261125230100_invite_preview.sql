-- Public preview of a join code, for the `invite` Edge Function (supabase/functions/invite).
--
-- An invite link can be opened by anyone, so this returns only what that page shows: adventure
-- title and description, the Seer's display name, seats left, status and whether a join would be
-- accepted. No session id, user ids, player names or character ids. Only service_role may call it:
-- the Edge Function holds that key and rate-limits lookups per client address, whereas granting
-- it to anon would let anyone enumerate codes through PostgREST at full speed.

-- Codes are unique among live sessions only (sessions_live_code_key); this index lets a stale
-- link to an ended session be recognised (410) without scanning every session ever played.
create index sessions_ended_code_idx on public.sessions (code, ended_at desc)
  where status in ('completed', 'cancelled');

-- p_client: the network the Edge Function saw the request come from (an IPv4 address or an
-- IPv6 /64, rate_limit.ts networkKey). Its unknown codes count toward the same failure budget as
-- get_session_by_code's (the rate limit bucket code_lookup, _code_lookup_rate_limit
-- migration): once a network has used it up, lookups are refused with SESSION_015 (the function
-- answers 429), so a code cannot be guessed through the invite link faster than through the RPC.
-- Volatile because a failure is recorded (and must commit: a failure returns null, never raises).
create function public.invite_preview(p_code text, p_client text default null)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_code text := seer_private.join_code(p_code);
  v_subject text := 'net:' || left(btrim(p_client), 90);
  v_s public.sessions%rowtype;
  v_seats_left int;
  v_reason_code text;
  v_refusal text;
begin
  if v_subject is not null then
    perform seer_private.require_rate_budget('code_lookup', v_subject);
  end if;
  select * into v_s from public.sessions s
  where s.code = v_code and s.status in ('waiting', 'active', 'paused');
  if not found then
    select * into v_s from public.sessions s
    where s.code = v_code and s.status in ('completed', 'cancelled')
    order by s.ended_at desc
    limit 1;
    if not found then
      if v_subject is not null then
        perform seer_private.record_rate_hit('code_lookup', v_subject);
      end if;
      return null;  -- no session ever had this code: 404
    end if;
    -- An ended session's link says only that it ended (410); nothing about what was played.
    return jsonb_build_object(
      'code', v_s.code, 'status', v_s.status,
      'adventureTitle', null, 'adventureDescription', null, 'seerName', null,
      'seatsLeft', null, 'maxPlayers', null,
      'canJoin', false, 'reasonCode', 'SESSION_005',
      'reason', (select e.message from seer_private.error_codes e where e.code = 'SESSION_005'));
  end if;

  v_seats_left := greatest(v_s.max_players - seer_private.live_seat_count(v_s.id), 0);
  -- join_session's own rule, for an anonymous visitor, so the page predicts what a join
  -- would answer.
  v_refusal := seer_private.join_refusal(v_s, null);
  v_reason_code := (select r.code from seer_private.join_refusals r where r.reason = v_refusal);
  return jsonb_build_object(
    'code', v_s.code,
    'status', v_s.status,
    'adventureTitle', v_s.adventure_name,
    'adventureDescription', (select nullif(a.description, '') from public.adventures a
                             where a.id = v_s.adventure_id),
    'seerName', v_s.seer_name,
    'seatsLeft', v_seats_left,
    'maxPlayers', v_s.max_players,
    'canJoin', v_reason_code is null,
    'reasonCode', v_reason_code,
    'reason', (select e.message from seer_private.error_codes e where e.code = v_reason_code));
end
$$;

revoke execute on function public.invite_preview(text, text) from public, anon, authenticated;
grant execute on function public.invite_preview(text, text) to service_role;
