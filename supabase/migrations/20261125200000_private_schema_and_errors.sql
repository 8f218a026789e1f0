-- Private schema for internals, the error catalogue and the error/validation helpers.
--
-- seer_private is not in PostgREST's exposed schemas, so nothing here is reachable over
-- the API. Functions get EXECUTE for PUBLIC by default in Postgres; we take that away so
-- that the few helpers RLS policies need can be granted one by one (see the _rls
-- migration) without exposing internals such as write_event or sweep.

create schema if not exists seer_private;
revoke all on schema seer_private from public;
alter default privileges in schema seer_private revoke execute on functions from public;

-- The PRD's 13 codes plus two of ours (000 validation, 014 version conflict).
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
  -- the game (issue 11): adventure library, Seer control of characters, combat
  ('SESSION_025', 'NOT_ADVENTURE_AUTHOR', 403, 'Only the author can change this adventure'),
  ('SESSION_026', 'CHARACTER_CONNECTED', 409, 'This character''s player is connected and acts for themselves'),
  ('SESSION_027', 'COMBAT_STATE_CONFLICT', 409, 'A combat is already running, or none is');

-- PostgREST turns sqlstate PGRST into an HTTP response: message is the JSON body,
-- detail carries the status. Everything else about an error is decided here.
create function seer_private.raise_error(p_code text, p_details text default null)
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
    message = format('{"code":%s,"message":%s,"details":%s,"hint":null}',
      to_json(p_code), to_json(v_message), coalesce(to_json(left(p_details, 500))::text, 'null')),
    detail = format('{"status":%s,"headers":{}}', v_status);
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

-- Trimmed, length-checked text; raises SESSION_000 naming the field.
create function seer_private.clean_text(
  p_value text, p_field text, p_max int, p_required boolean default false)
returns text
language plpgsql
immutable
set search_path = ''
as $$
declare
  v text := nullif(btrim(p_value), '');
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
  return v;
end
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
