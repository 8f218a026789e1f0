-- Rate limits (the one limiter: every per-user or per-network budget of the project is a row of
-- seer_private.rate_limits and goes through require_rate_budget/record_rate_hit below), and
-- the join page's code lookup, get_session_by_code: a preview without player identities, plus
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

insert into seer_private.error_codes (code, name, status, message) values
  ('SESSION_015', 'TOO_MANY_ATTEMPTS', 429, 'Too many failed attempts; try again later'),
  ('SESSION_028', 'TOO_MANY_ACTIONS', 429, 'Too many actions; wait a moment and retry')
on conflict (code) do nothing;

-- The limits, as data (docs/security.md "Limits" lists each with its number): at most
-- max_hits hits per subject in any sliding window of `per`; the next one is refused with
-- error_code (a 429), a retry hint (HTTP Retry-After and the error's hint: the seconds until
-- the oldest hit in the window leaves it) and details naming the limit. Rows are changed only
-- by migrations (an operator may raise a limit for a load test: bench/ does).
--   code_lookup    unknown join codes, per user (get_session_by_code) or per network (the
--                  invite function's invite_preview): 10 per 10 minutes (see above)
--   submit_action  a seated player's actions: 30 per minute (one every 2 s on average)
--   roll_dice      a seated player's rolls: 60 per minute
--   import_adventure  an account's adventure imports: 20 per hour (with the per-account
--                  storage quota of the _adventure_library migration)
-- The game limits are per player (subject 'user:<uuid>', across sessions) and apply to
-- players only: the Seer runs the table (the monsters' rolls, initiative for 20 combatants)
-- and is bounded by the per-session event cap (seer_private.session_event_limit). Issue 20:
-- one player sent 401 actions in 5 s, each broadcast to the whole party.
create table seer_private.rate_limits (
  bucket text primary key,
  max_hits int not null check (max_hits > 0),
  per interval not null check (per > interval '0'),
  error_code text not null references seer_private.error_codes (code),
  -- what is counted, for the error's details ("at most 30 actions per 00:01:00")
  what text not null
);
revoke all on seer_private.rate_limits from public;
insert into seer_private.rate_limits (bucket, max_hits, per, error_code, what) values
  ('code_lookup', 10, interval '10 minutes', 'SESSION_015', 'unknown codes'),
  ('submit_action', 30, interval '1 minute', 'SESSION_028', 'actions'),
  ('roll_dice', 60, interval '1 minute', 'SESSION_028', 'rolls'),
  ('import_adventure', 20, interval '1 hour', 'SESSION_028', 'adventure imports');

-- One row per counted hit (for code_lookup: per failed lookup) inside its bucket's window;
-- rows older than the window are pruned by the subject's next hit (and by account deletion).
create table seer_private.rate_limit_hits (
  bucket text not null references seer_private.rate_limits (bucket),
  subject text not null check (length(subject) <= 100),
  hit_at timestamptz not null default clock_timestamp()
);
-- the only query: this subject's hits in this bucket inside the window
create index rate_limit_hits_subject_idx on seer_private.rate_limit_hits (bucket, subject, hit_at);
revoke all on seer_private.rate_limit_hits from public;

-- The bucket's error when p_subject has used up its hits in the window. Serialises one
-- subject's calls in the bucket (advisory lock, until the transaction ends) so parallel calls
-- cannot all pass the check at once.
create function seer_private.require_rate_budget(p_bucket text, p_subject text)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_limit seer_private.rate_limits%rowtype;
  v_count int;
  v_free_at timestamptz;
begin
  select * into strict v_limit from seer_private.rate_limits l where l.bucket = p_bucket;
  perform pg_advisory_xact_lock(hashtextextended('seer.rate:' || p_bucket || ':' || p_subject, 0));
  select count(*) into v_count from seer_private.rate_limit_hits h
  where h.bucket = p_bucket and h.subject = p_subject and h.hit_at > clock_timestamp() - v_limit.per;
  if v_count >= v_limit.max_hits then
    -- free again when the hit that makes the count too high leaves the window
    select h.hit_at + v_limit.per into v_free_at from seer_private.rate_limit_hits h
    where h.bucket = p_bucket and h.subject = p_subject and h.hit_at > clock_timestamp() - v_limit.per
    order by h.hit_at offset v_count - v_limit.max_hits limit 1;
    perform seer_private.raise_error(v_limit.error_code,
      'at most ' || v_limit.max_hits || ' ' || v_limit.what || ' per ' || v_limit.per::text,
      p_retry_after => greatest(1, ceil(extract(epoch from v_free_at - clock_timestamp())))::int);
  end if;
end
$$;

-- Records one hit of p_subject in the bucket (it commits with the caller's transaction, so a
-- caller that must refuse and still count, like get_session_by_code, returns instead of
-- raising), pruning this subject's rows that have left the window so the table stays small.
create function seer_private.record_rate_hit(p_bucket text, p_subject text)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  delete from seer_private.rate_limit_hits h
  where h.bucket = p_bucket and h.subject = p_subject
    and h.hit_at <= clock_timestamp() - (select l.per from seer_private.rate_limits l where l.bucket = p_bucket);
  insert into seer_private.rate_limit_hits (bucket, subject) values (p_bucket, p_subject);
end
$$;

-- A player-triggered write: refused past the bucket's limit, else counted. Callers pass the
-- caller's uid; counting happens in the write's transaction, so a write that fails for any
-- other reason is not counted.
create function seer_private.spend_rate_budget(p_bucket text, p_uid uuid)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  perform seer_private.require_rate_budget(p_bucket, 'user:' || p_uid::text);
  perform seer_private.record_rate_hit(p_bucket, 'user:' || p_uid::text);
end
$$;

-- Rows of subjects that stopped calling stay until their next hit prunes them; this drops
-- every row that has left its bucket's window, hourly where pg_cron exists (scheduled below,
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
  where l.bucket = h.bucket and h.hit_at <= clock_timestamp() - l.per;
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
revoke execute on function seer_private.require_rate_budget(text, text),
  seer_private.record_rate_hit(text, text), seer_private.spend_rate_budget(text, uuid),
  seer_private.prune_rate_limit_hits()
  from public, anon, authenticated;
