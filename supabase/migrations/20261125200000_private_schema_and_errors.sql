-- Private schema for internals, the error catalogue and the error/validation helpers.
--
-- seer_private is not in PostgREST's exposed schemas, so nothing here is reachable over
-- the API. Functions get EXECUTE for PUBLIC by default in Postgres; we take that away so
-- that the few helpers RLS policies need can be granted one by one (see the _rls
-- migration) without exposing internals such as write_event or sweep.
--
-- `authenticated` has USAGE on seer_private (RLS policies call its helpers), so a function
-- created here later without its own revoke would be callable by any signed-in user if it
-- kept PUBLIC's EXECUTE. `alter default privileges IN SCHEMA seer_private revoke ... from
-- public` cannot prevent that: per-schema default privileges are only ADDED to the global
-- ones, and PUBLIC's EXECUTE on functions is a global default (Postgres docs, ALTER DEFAULT
-- PRIVILEGES: "you cannot revoke privileges per-schema if they are granted globally"). So
-- the global default is revoked for the role that runs the migrations (no FOR ROLE: the
-- current role, `postgres` on Supabase and in the devstack). Functions that role creates in
-- public still get EXECUTE for anon/authenticated/service_role from the platform's own
-- per-schema defaults, and every public RPC here grants and revokes explicitly anyway.
-- Checked by supabase/tests/database/11_limits_privileges.test.sql.

create schema if not exists seer_private;
revoke all on schema seer_private from public;
alter default privileges revoke execute on functions from public;

-- The PRD's 13 codes (001-013) and ours: 000 validation, 014 version conflict, 015-019 limits
-- and abuse, 025-027 the game, 028 the rate limits, 029 the per-session event cap: 25 codes
-- in all (supabase/tests/database/00_schema.test.sql lists them).
create table seer_private.error_codes (
  code text primary key check (code ~ '^SESSION_[0-9]{3}$'),
  name text not null unique,
  status int not null check (status between 400 and 599),
  message text not null
);
revoke all on seer_private.error_codes from public;

insert into seer_private.error_codes (code, name, status, message) values
  ('SESSION_000', 'VALIDATION_ERROR', 400, 'Invalid input'),
  ('SESSION_001', 'SESSION_NOT_FOUND', 404, 'Session not found'),
  ('SESSION_002', 'INVALID_JOIN_CODE', 400, 'Invalid session code format'),
  ('SESSION_003', 'SESSION_FULL', 422, 'Session is full'),
  ('SESSION_004', 'SESSION_STARTED', 422, 'Session has already started'),
  ('SESSION_005', 'SESSION_NOT_WAITING', 422, 'Session is not in waiting state'),
  ('SESSION_006', 'NOT_IN_SESSION', 403, 'You are not in this session'),
  ('SESSION_007', 'NOT_SEER', 403, 'Only the Seer can perform this action'),
  ('SESSION_008', 'ALREADY_IN_SESSION', 409, 'You are already in this session'),
  ('SESSION_009', 'CHARACTER_IN_SESSION', 409, 'This character is already in another session'),
  ('SESSION_010', 'INVALID_STATUS_TRANSITION', 422, 'Invalid session status transition'),
  ('SESSION_011', 'MIN_PLAYERS_NOT_MET', 422, 'Minimum player count not met'),
  ('SESSION_012', 'SEER_CANNOT_LEAVE', 422, 'Seer cannot leave session. End it instead.'),
  ('SESSION_013', 'ADVENTURE_NOT_FOUND', 404, 'Adventure not found'),
  ('SESSION_014', 'STATE_VERSION_CONFLICT', 409, 'Game state has changed; reload and retry'),
  -- limits and abuse (docs/contract.md "Limits")
  ('SESSION_016', 'TOO_MANY_LIVE_SESSIONS', 422, 'Too many live sessions; end one first'),
  ('SESSION_017', 'SESSION_RATE_LIMITED', 429, 'Too many sessions created; try again later'),
  ('SESSION_018', 'ANONYMOUS_NOT_ALLOWED', 403, 'Sign in with an account to do this'),
  ('SESSION_019', 'PAYLOAD_TOO_LARGE', 413, 'Game state or event is too large'),
  -- the game (issue 11): adventure library, Seer control of characters, combat
  ('SESSION_025', 'NOT_ADVENTURE_AUTHOR', 403, 'Only the author can change this adventure'),
  ('SESSION_026', 'CHARACTER_CONNECTED', 409, 'This character''s player is connected and acts for themselves'),
  ('SESSION_027', 'COMBAT_STATE_CONFLICT', 409, 'A combat is already running, or none is'),
  -- the rate limits (below) and the per-session event cap (_session_kernel)
  ('SESSION_015', 'TOO_MANY_ATTEMPTS', 429, 'Too many failed attempts; try again later'),
  ('SESSION_028', 'TOO_MANY_ACTIONS', 429, 'Too many actions; wait a moment and retry'),
  ('SESSION_029', 'SESSION_EVENT_LIMIT', 422, 'This session has reached its event limit; end it and start a new one');

-- PostgREST turns sqlstate PGRST into an HTTP response: message is the JSON body,
-- detail carries the status and headers. Everything else about an error is decided here.
-- p_retry_after (seconds, for the 429s of the rate limits) becomes the HTTP Retry-After
-- header and the error's hint ("retry in N s"), so every client sees when to try again.
create function seer_private.raise_error(p_code text, p_details text default null, p_retry_after int default null)
returns void
language plpgsql
stable
set search_path = ''
as $$
declare
  v_status int;
  v_message text;
begin
  select e.status, e.message into v_status, v_message
  from seer_private.error_codes e
  where e.code = p_code;
  if not found then
    -- A typo in our own code must still be an error, and a loud one.
    raise exception 'unknown error code %', p_code;
  end if;
  -- compact JSON exactly as in docs/contract.md
  raise sqlstate 'PGRST' using
    message = format('{"code":%s,"message":%s,"details":%s,"hint":%s}',
      to_json(p_code), to_json(v_message), coalesce(to_json(left(p_details, 500))::text, 'null'),
      case when p_retry_after is null then 'null'
           else to_json('retry in ' || p_retry_after || ' s')::text end),
    detail = format('{"status":%s,"headers":%s}', v_status,
      case when p_retry_after is null then '{}'
           else json_build_object('Retry-After', p_retry_after::text)::text end);
end
$$;

-- The caller's user id, or a 401 (an `authenticated` request without `sub` is a broken token).
create function seer_private.require_uid()
returns uuid
language plpgsql
stable
set search_path = ''
as $$
declare
  v_uid uuid;
begin
  begin
    v_uid := auth.uid();
  exception when others then
    v_uid := null;
  end;
  if v_uid is null then
    raise sqlstate 'PGRST' using
      message = '{"code":"PGRST301","message":"Not signed in","details":null,"hint":null}',
      detail = '{"status":401,"headers":{}}';
  end if;
  return v_uid;
end
$$;

-- Whether anonymous users (GoTrue's signInAnonymously: a JWT with is_anonymous = true) may
-- create, join or look up sessions. Off: a throw-away anonymous account per guess would make
-- every per-user limit (code guessing, session creation) per-nothing. A project that enables
-- `[auth] enable_anonymous_sign_ins` and wants anonymous players redefines this function in a
-- later migration to return true (docs/security.md).
create function seer_private.anonymous_play_allowed()
returns boolean
language sql
immutable
set search_path = ''
as $$ select false $$;

-- The caller's user id, refusing anonymous users (SESSION_018) unless anonymous_play_allowed().
-- Called by the RPCs that create or join sessions or look up join codes.
create function seer_private.require_account()
returns uuid
language plpgsql
stable
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
begin
  if coalesce(auth.jwt() ->> 'is_anonymous', 'false') = 'true'
     and not seer_private.anonymous_play_allowed() then
    perform seer_private.raise_error('SESSION_018');
  end if;
  -- a soft-deleted account (GoTrue's should_soft_delete; its token stays valid until it
  -- expires) neither creates, joins nor looks up sessions (_account_deletion migration)
  if exists (select 1 from auth.users u where u.id = v_uid and u.deleted_at is not null) then
    perform seer_private.raise_error('SESSION_018', 'this account was deleted');
  end if;
  return v_uid;
end
$$;

-- The characters no user-entered text may contain (a regular-expression bracket class):
-- C0/C1 controls (ANSI escapes start with ESC, U+001B), DEL, bidi embeddings/overrides/
-- isolates and marks (U+202A-202E, U+2066-2069, U+200E/F, U+061C: they reorder what others
-- see), line/paragraph separators and the interlinear annotation controls. Multi-line free
-- text (notes, comments) may also hold \n and \t. Zero-width characters (U+200B-200D,
-- U+2060, U+FEFF, U+00AD) are allowed inside text (emoji sequences join with U+200D) but
-- text made only of them and spaces counts as empty (see clean_text). The one definition:
-- clean_text raises on it, handle_new_user strips it from sign-up names.
-- No SET clause, so the planner inlines it into clean_text's check instead of running it
-- through the SQL-function executor, which re-plans the body in every new transaction (issue
-- 24); safe, as it holds only literals.
create function seer_private.unsafe_text_chars(p_multiline boolean)
returns text
language sql
immutable
as $$
  select case when p_multiline
    then '[\x01-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufff9-\ufffb]'
    else '[\x01-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufff9-\ufffb]' end
$$;

-- Trimmed, length-checked, clean text; raises SESSION_000 naming the field. Whitespace and
-- zero-width characters around the text are trimmed, so zero-width-only text is empty.
create function seer_private.clean_text(
  p_value text, p_field text, p_max int, p_required boolean default false,
  p_multiline boolean default false)
returns text
language plpgsql
immutable
set search_path = ''
as $$
declare
  v text := nullif(regexp_replace(p_value,
    '^[\s\u200b-\u200d\u2060\ufeff\u00ad\u3000]+|[\s\u200b-\u200d\u2060\ufeff\u00ad\u3000]+$', '', 'g'), '');
begin
  if v is null then
    if p_required then
      perform seer_private.raise_error('SESSION_000', p_field || ' is required');
    end if;
    return null;
  end if;
  if length(v) > p_max then
    perform seer_private.raise_error('SESSION_000', p_field || ' is longer than ' || p_max || ' characters');
  end if;
  if v ~ seer_private.unsafe_text_chars(p_multiline) then
    perform seer_private.raise_error('SESSION_000',
      p_field || ' contains control, bidi or escape characters');
  end if;
  return v;
end
$$;

-- A size ceiling on JSON (the whole game state, one event): SESSION_019 (413). Returns the
-- value, so a statement can check what it builds in place (the event writer) instead of in a
-- PERFORM of its own (a query: a full executor run).
create function seer_private.require_size(p_value jsonb, p_what text, p_max_bytes int)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
begin
  if octet_length(p_value::text) > p_max_bytes then
    perform seer_private.raise_error('SESSION_019',
      p_what || ' would be larger than ' || (p_max_bytes / 1024) || ' KiB');
  end if;
  return p_value;
end
$$;

-- Rate limits -----------------------------------------------------------------------------
-- The project's one limiter (docs/security.md "Fair play and hard limits"): every per-user or
-- per-network budget is a row of seer_private.rate_limits and goes through rate_budget
-- (require_rate_budget / record_rate_hit / spend_rate_budget); pruning is scheduled by the
-- _code_lookup_rate_limit migration (prune_rate_limit_hits).

-- The limits, as data (docs/security.md "Limits" lists each with its number): at most
-- max_hits hits per subject in any sliding window of `per`; the next one is refused with
-- error_code (a 429), a retry hint (HTTP Retry-After and the error's hint: the seconds until
-- the oldest hit in the window leaves it) and details naming the limit. Rows are changed only
-- by migrations (an operator may raise a limit, e.g. for a load test, as the migration role).
--   code_lookup    unknown join codes, per user (get_session_by_code) or per network (the
--                  invite function's invite_preview): 10 per 10 minutes (the
--                  _code_lookup_rate_limit migration)
--   join_session   a user's new seats (joins that take a seat; a refused join or a seat
--                  restored is not counted): 20 per 10 minutes - a join/leave loop in a
--                  lobby announces player_joined/player_left and rotates the channel key
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
  ('join_session', 20, interval '10 minutes', 'SESSION_028', 'joins'),
  ('submit_action', 30, interval '1 minute', 'SESSION_028', 'actions'),
  ('roll_dice', 60, interval '1 minute', 'SESSION_028', 'rolls'),
  ('import_adventure', 20, interval '1 hour', 'SESSION_028', 'adventure imports');

-- One row per subject and bucket: its counted hits (for code_lookup: its failed lookups) inside
-- the bucket's window, oldest first, as an array. The limiter reads and writes that one row
-- (issue 24: with a row per hit, every check counted the subject's rows in the window through
-- the index and the heap and deleted the expired ones, a quarter of a player action's database
-- time in the bench); hits older than the window are dropped by the subject's next hit, rows
-- whose every hit has left it by prune_rate_limit_hits (hourly) and account deletion.
-- No foreign key to rate_limits: only rate_budget below writes, with a bucket it has just read
-- from rate_limits (strict: an unknown bucket is an error), and rate_limits rows change only in
-- migrations. The key check cost more than the write: every hit of a bucket took a KEY SHARE
-- lock on the same rate_limits row, so concurrent players' hits made a MultiXact per call.
create table seer_private.rate_limit_hits (
  bucket text not null,
  subject text not null check (length(subject) <= 100),
  hits timestamptz[] not null,
  primary key (bucket, subject)
);
revoke all on seer_private.rate_limit_hits from public;

-- The limiter's one body. p_check: the bucket's error when p_subject has used up its hits in
-- the window. p_record: counts this hit (unless p_check refuses it); it commits with the
-- caller's transaction, so a caller that must refuse and still count, like
-- get_session_by_code, records instead of raising. Serialises one subject's calls in the
-- bucket (advisory lock, until the transaction ends) so parallel calls cannot all pass the
-- check at once: the window is read after the lock was granted, so it holds every hit
-- committed before. Three single-row statements: the limit with the lock, the subject's
-- hits inside the window, and with p_record the row written back with this hit.
create function seer_private.rate_budget(
  p_bucket text, p_subject text, p_check boolean, p_record boolean)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_limit seer_private.rate_limits%rowtype;
  v_now timestamptz;
  v_hits timestamptz[];
  v_count int;
begin
  -- pg_advisory_xact_lock returns void, which is not null: the lock is taken once, for the
  -- bucket's row
  select * into strict v_limit from seer_private.rate_limits l
  where l.bucket = p_bucket
    and pg_advisory_xact_lock(hashtextextended('seer.rate:' || p_bucket || ':' || p_subject, 0)) is not null;
  -- the time of this hit, taken under the lock: a subject's hits are appended in time order
  v_now := clock_timestamp();
  select array(select t from unnest(h.hits) t where t > v_now - v_limit.per order by t) into v_hits
  from seer_private.rate_limit_hits h
  where h.bucket = p_bucket and h.subject = p_subject;
  v_count := coalesce(cardinality(v_hits), 0);
  if p_check and v_count >= v_limit.max_hits then
    -- free again when the hit that makes the count too high leaves the window
    perform seer_private.raise_error(v_limit.error_code,
      'at most ' || v_limit.max_hits || ' ' || v_limit.what || ' per ' || v_limit.per::text,
      p_retry_after => greatest(1, ceil(extract(epoch from
        v_hits[v_count - v_limit.max_hits + 1] + v_limit.per - clock_timestamp())))::int);
  end if;
  if p_record then
    -- an UPDATE of the row read above (cheaper than INSERT ... ON CONFLICT); the first hit of a
    -- subject, or one whose row prune_rate_limit_hits has just dropped, inserts it (the
    -- advisory lock keeps two of its calls from both inserting)
    if v_hits is not null then
      update seer_private.rate_limit_hits h set hits = v_hits || v_now
      where h.bucket = p_bucket and h.subject = p_subject;
    end if;
    if v_hits is null or not found then
      insert into seer_private.rate_limit_hits (bucket, subject, hits) values (p_bucket, p_subject, array[v_now]);
    end if;
  end if;
end
$$;

-- The three uses, as plain SQL wrappers (no SET clause: they only call rate_budget), so a
-- call inlines into rate_budget's call instead of nesting a second function.
-- The bucket's error when p_subject has used up its hits in the window (counts nothing).
create function seer_private.require_rate_budget(p_bucket text, p_subject text)
returns void
language sql
volatile
as $$
  select seer_private.rate_budget(p_bucket, p_subject, true, false)
$$;

-- Records one hit of p_subject in the bucket, whatever the count.
create function seer_private.record_rate_hit(p_bucket text, p_subject text)
returns void
language sql
volatile
as $$
  select seer_private.rate_budget(p_bucket, p_subject, false, true)
$$;

-- A player-triggered write: refused past the bucket's limit, else counted. Callers pass the
-- caller's uid; counting happens in the write's transaction, so a write that fails for any
-- other reason is not counted.
create function seer_private.spend_rate_budget(p_bucket text, p_uid uuid)
returns void
language sql
volatile
as $$
  select seer_private.rate_budget(p_bucket, 'user:' || p_uid::text, true, true)
$$;

-- Text -> uuid without a 22P02 escaping as an HTTP 400 with a Postgres code.
create function seer_private.try_uuid(p_value text)
returns uuid
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_value is null or p_value !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    return null;
  end if;
  return p_value::uuid;
end
$$;

-- A join code as typed by a person (any case, surrounding spaces) -> the stored form, or
-- SESSION_002. Capped before upper() so a huge argument costs nothing.
create function seer_private.join_code(p_code text)
returns text
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_code text := upper(btrim(left(p_code, 64)));
begin
  if v_code is null or v_code !~ '^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$' then
    perform seer_private.raise_error('SESSION_002');
  end if;
  return v_code;
end
$$;

revoke execute on all functions in schema seer_private from public, anon, authenticated;
