-- The join page's code lookup, get_session_by_code (a bucket of the project's one rate limiter,
-- _private_schema_and_errors migration): a preview without player identities, plus
-- whether the caller could join right now and why not - and its defence against join-code
-- guessing: a user who keeps looking up codes that do not exist is refused for a while
-- (SESSION_015 TOO_MANY_ATTEMPTS, HTTP 429). The function is defined only here (not in the
-- _session_lobby migration) because its body is mostly the rate limit, which needs the table
-- and helpers below.
--
-- Limit: 10 failed lookups (unknown code, SESSION_001) per user in a sliding 10-minute
-- window. The 11th lookup inside the window is refused before the code is even looked at,
-- so a refused attacker learns nothing; it is allowed again once the oldest failure is
-- older than 10 minutes. Successful lookups are never counted and never reset the window
-- (otherwise an attacker could interleave lookups of their own session's code). Badly
-- formatted codes (SESSION_002) are not counted: they cannot match a session, and a user
-- mistyping a code must not be locked out by format slips. 887M codes / 10 guesses per
-- 10 minutes makes enumerating codes by one account hopeless; many accounts are a matter
-- for sign-up abuse controls (GoTrue's captcha / rate limits), not this function.
--
-- Why the failure path does not raise: an error rolls back the whole transaction, including
-- the failure we just recorded. So when called through the API (PostgREST sets the
-- `request.method` setting on every request) an unknown code records the failure, sets
-- PostgREST's `response.status` to 404 and *returns* the very body the SESSION_001 error
-- would have produced; the client sees exactly the same HTTP answer as before, and the
-- failure row commits. Plain SQL callers (no request context: psql, pgTAP, cron) keep the
-- raised SESSION_001 and are not counted - they are not the attack surface.
--
-- GET /rpc runs in a read-only transaction where the failure cannot be recorded; rather than
-- leave an uncounted side door, lookups through a read-only API transaction are refused
-- with PostgREST's 405 (use POST, as supabase-js/supabase-py do by default).

-- The limiter itself (seer_private.rate_limits, rate_limit_hits, require_rate_budget,
-- record_rate_hit, spend_rate_budget) and SESSION_015 are in the _private_schema_and_errors
-- migration, so that every RPC can use it; the code lookups are its bucket `code_lookup`.

-- Rows of subjects that stopped calling stay until their next hit; this drops every row whose
-- hits have all left its bucket's window (its newest, the array's last, included), and
-- returns how many, hourly where pg_cron exists (scheduled below,
-- as the sweeper is: 20261125200800_cron_schedule), so the table holds only live windows.
create function seer_private.prune_rate_limit_hits()
returns int
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_count int;
begin
  delete from seer_private.rate_limit_hits h
  using seer_private.rate_limits l
  where l.bucket = h.bucket and coalesce(h.hits[cardinality(h.hits)], '-infinity') <= clock_timestamp() - l.per;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron') then
    execute $sql$select cron.schedule('seer-prune-rate-limits', '17 * * * *', 'select seer_private.prune_rate_limit_hits()')$sql$;
  end if;
exception when others then
  raise notice 'pg_cron could not schedule the rate limit pruning (%); schedule seer_private.prune_rate_limit_hits() yourself', sqlerrm;
end
$$;

create function public.get_session_by_code(p_code text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_account();
  v_code text := seer_private.join_code(p_code);
  v_via_api boolean := coalesce(current_setting('request.method', true), '') <> '';
  v_s public.sessions%rowtype;
  v_reason text;
begin
  if v_via_api and current_setting('transaction_read_only') = 'on' then
    raise sqlstate 'PGRST' using
      message = '{"code":"PGRST101","message":"get_session_by_code must be called with POST","details":null,"hint":null}',
      detail = '{"status":405,"headers":{}}';
  end if;
  if v_via_api then
    perform seer_private.require_rate_budget('code_lookup', 'user:' || v_uid::text);
  end if;

  select * into v_s from public.sessions s
  where s.code = v_code and s.status in ('waiting', 'active', 'paused');
  if not found then
    if not v_via_api then
      perform seer_private.raise_error('SESSION_001');
    end if;
    perform seer_private.record_rate_hit('code_lookup', 'user:' || v_uid::text);
    perform set_config('response.status', '404', true);
    return (select jsonb_build_object('code', e.code, 'message', e.message, 'details', null, 'hint', null)
            from seer_private.error_codes e where e.code = 'SESSION_001');
  end if;
  -- join_session's own rule (seer_private.join_refusal) in the join page's words
  v_reason := (select r.message from seer_private.join_refusals r
               where r.reason = seer_private.join_refusal(v_s, v_uid));
  return jsonb_build_object(
    'session', seer_private.preview_json(v_s), 'canJoin', v_reason is null, 'reason', v_reason);
end
$$;

-- new seer_private functions are not executable by API roles (default privileges of the
-- _private_schema migration); the RPC is for signed-in users, like the other session RPCs.
revoke execute on function public.get_session_by_code(text) from public, anon;
grant execute on function public.get_session_by_code(text) to authenticated, service_role;
revoke execute on function seer_private.prune_rate_limit_hits() from public, anon, authenticated;
