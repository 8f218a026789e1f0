-- Sessions, seats, the per-session event log and feedback.
-- Defects of the PRD schema fixed here: codes are unique among live sessions only (so the
-- 887M code space is reusable), "one live seat per character" and "one live seat per user
-- and session" are partial unique indexes (the PRD's UNIQUE ... WHERE is not valid SQL and
-- its table-wide (session_id, user_id) unique would forbid rejoining after leaving).

-- The session row's rules, kept off the event path (issue 24). Every event a session writes
-- bumps its last_seq in this row, and Postgres evaluates a table's CHECK constraints on every
-- UPDATE of a row, whatever the UPDATE sets: it reads each one back from its stored text and
-- prepares it again in each statement (ExecRelCheck; nine CHECKs, one a regex, were 7-15% of
-- a roll's, an action's and a state patch's throughput). So the rules live where Postgres
-- evaluates them only when a write sets the columns they are about:
--   * a column's own rule is its domain: a domain's CHECK runs when a value is assigned to
--     the column (an INSERT, an UPDATE that sets it), never for the columns an UPDATE leaves;
--   * the rules between columns are one trigger, `before ... update of` exactly the columns
--     they read (sessions_check_rules below), so an UPDATE that sets none of them does not
--     fire it. Each rule once, as data the trigger names in its error.
create domain seer_private.session_code as text
  check (value ~ '^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$');
create domain seer_private.session_status as text
  check (value in ('waiting', 'active', 'paused', 'completed', 'cancelled'));
create domain seer_private.session_outcome as text
  check (value in ('completed', 'cancelled'));
-- max_players (1-6), and min_players, which the rules below keep at most max_players
create domain seer_private.party_size as int
  check (value between 1 and 6);

create table public.sessions (
  id uuid primary key default gen_random_uuid(),
  code seer_private.session_code not null,
  -- null once the Seer's account is deleted (20261201130000_account_deletion: their live
  -- sessions are cancelled first, the history stays with seer_name 'Deleted user')
  seer_id uuid references auth.users (id) on delete set null,
  seer_name text not null,
  adventure_id uuid not null references public.adventures (id),
  adventure_name text not null,

  status seer_private.session_status not null default 'waiting',
  max_players seer_private.party_size not null default 6,
  min_players seer_private.party_size not null default 1,

  current_node_id uuid references public.adventure_nodes (id),
  visited_node_ids uuid[] not null default '{}',
  -- no turnHistory while the session's event log is whole: it is derived from the log
  -- (seer_private.turn_history); log compaction stores it here (20261201140000)
  game_state jsonb not null
    default '{"inventory": [], "variables": {}, "flags": [], "combatState": null}',
  state_version int not null default 0,
  dice_rolled bigint not null default 0,
  combats_completed int not null default 0,

  created_at timestamptz not null default now(),
  started_at timestamptz,
  paused_at timestamptz,
  completed_at timestamptz,
  ended_at timestamptz,
  -- total time spent paused, so durationMinutes counts play time only
  paused_seconds double precision not null default 0,
  outcome seer_private.session_outcome,
  notes text,
  stats jsonb,
  estimated_duration_minutes int not null default 60,
  settings jsonb not null default
    '{"allowLateJoin": false, "showDiceRolls": true, "autoResolveSimpleCombat": false, "enableAISeer": true, "voiceChatEnabled": false}',

  -- last allocated event seq; bumped under this row's lock, so seqs are gap-free
  last_seq bigint not null default 0
);

-- The rules between the lifecycle columns (see the domains above): the one check, run by an
-- INSERT and by an UPDATE that sets any column a rule reads. Violations are what a CHECK
-- constraint's would be: SQLSTATE 23514 naming the rule.
create function seer_private.check_session_rules()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_broken text := case
    when new.min_players > new.max_players then 'min_players <= max_players'
    when (new.status in ('completed', 'cancelled')) <> (new.ended_at is not null)
      then 'ended_at is set exactly when the session has ended'
    when (new.status = 'paused') <> (new.paused_at is not null)
      then 'paused_at is set exactly when the session is paused'
    when new.seer_id is null and new.status not in ('completed', 'cancelled')
      then 'only an ended session may lose its Seer'
  end;
begin
  if v_broken is not null then
    raise exception 'new row for relation "sessions" violates sessions_rules: %', v_broken
      using errcode = 'check_violation', constraint = 'sessions_rules', schema = 'public',
            table = 'sessions';
  end if;
  return new;
end
$$;

create trigger sessions_check_rules
  before insert or update of status, ended_at, paused_at, seer_id, min_players, max_players
  on public.sessions
  for each row execute function seer_private.check_session_rules();

create unique index sessions_live_code_key on public.sessions (code)
  where status in ('waiting', 'active', 'paused');
create index sessions_seer_idx on public.sessions (seer_id, created_at desc, id desc);
create index sessions_adventure_idx on public.sessions (adventure_id);
-- the sweeper's two session timeouts only ever look at these rows
create index sessions_waiting_created_idx on public.sessions (created_at) where status = 'waiting';
create index sessions_paused_at_idx on public.sessions (paused_at) where status = 'paused';

create table public.session_players (
  id uuid primary key default gen_random_uuid(),
  session_id uuid not null references public.sessions (id) on delete cascade,
  -- Both null once the player's account is deleted: the seat is released first and stays
  -- as anonymous history (20261201130000_account_deletion).
  user_id uuid references auth.users (id) on delete set null,
  character_id uuid references public.characters (id) on delete set null,

  joined_at timestamptz not null default now(),
  -- the last state change, and for a seat that is no longer connected its last heartbeat
  -- ("last seen"). While the seat is connected its heartbeats go to seer_private.seat_liveness
  -- instead (below): a heartbeat never writes this table. A write to this column of a
  -- connected seat (start_session, a test travelling in time) is copied there.
  last_activity_at timestamptz not null default now(),
  -- connected/disconnected/inactive: live seat (left_at null); left/kicked: seat released
  status text not null default 'connected'
    check (status in ('connected', 'disconnected', 'inactive', 'left', 'kicked')),
  disconnected_at timestamptz,
  inactive_at timestamptz,
  left_at timestamptz,
  left_reason text check (left_reason in ('left', 'kicked')),
  kick_reason text,
  -- an inactive seat's player came back after the 5-minute window and asked to be let in
  -- (heartbeat/join_session answer `readmit: 'requested'`, the Seer gets readmit_requested
  -- once); cleared when the seat is restored, readmitted or released
  readmit_requested_at timestamptz,
  -- set when the session ends: the seat stays as history but no longer holds the character
  session_ended boolean not null default false,
  -- true while the seat's session is running (active or paused): set by start_session for the
  -- seated party and by join_session for a late joiner, cleared when the session ends. Only
  -- these seats are swept for presence (lobby presence is Realtime's), and an index
  -- predicate cannot look at sessions.status: without this copy the sweeper's index held
  -- every lobby seat whose last heartbeat was over a minute old, and each idle sweep read
  -- them all, a cost growing with abandoned lobbies (docs/performance.md).
  session_running boolean not null default false,

  check ((status in ('left', 'kicked')) = (left_at is not null)),
  check ((status = 'kicked') = (coalesce(left_reason, '') = 'kicked')),
  check (not (session_running and session_ended))
)
-- room on each page for the heartbeat's new row version (HOT needs the same page); pruning
-- reclaims the dead versions as the page fills
with (fillfactor = 70);

create unique index session_players_live_user_key on public.session_players (session_id, user_id)
  where left_at is null;
create unique index session_players_live_character_key on public.session_players (character_id)
  where left_at is null and not session_ended;
create index session_players_session_idx on public.session_players (session_id, joined_at);
create index session_players_user_idx on public.session_players (user_id);
-- sweeper: disconnected seats that can become due for "inactive" (running sessions) or be
-- freed (lobbies). Connected seats are found through seer_private.seat_liveness (below).
create index session_players_disconnected_due_idx on public.session_players (disconnected_at)
  where status = 'disconnected' and session_running;
create index session_players_lobby_disconnected_idx on public.session_players (disconnected_at)
  where status = 'disconnected' and not session_running and left_at is null and not session_ended;

-- Liveness of the connected seats: one narrow row per seat that is connected, live (left_at
-- null) and in a session that has not ended, and no other rows. It exists so that the
-- hottest write of the product, a connected player's heartbeat every 30 s, is one HOT update
-- of a 4-column row found by its primary key: it writes nothing in session_players (wide,
-- eight indexes, the seat's history), locks nothing else and never waits behind the seat's
-- state changes. last_heartbeat_at is in no index, so every heartbeat is a HOT update; the
-- sweeper reads the whole table, which holds only connected live seats, to find the ones
-- due (docs/performance.md, "heartbeat"; docs/scaling.md).
--
-- One writer besides the heartbeat: the trigger below keeps the set of rows equal to the
-- connected live seats on every insert, update and delete of session_players, so no RPC has
-- to remember it. No foreign key: the trigger removes the row before its seat goes (a
-- BEFORE INSERT trigger could not satisfy one either).
create table seer_private.seat_liveness (
  session_id uuid not null,
  user_id uuid not null,
  player_id uuid not null unique,
  last_heartbeat_at timestamptz not null,
  -- the heartbeat's key: the caller's seat in the session
  primary key (session_id, user_id)
)
-- room on each page for the heartbeats' new row versions (HOT needs the same page)
with (fillfactor = 50);
alter table seer_private.seat_liveness enable row level security;
revoke all on seer_private.seat_liveness from public, anon, authenticated;

-- The one definition of a seat that has a liveness row: connected, live, in a session that
-- has not ended (user_id goes null only for a deleted account, whose seats are released first).
-- No SET clause: inlined into the trigger below (a SET clause would run it through the
-- SQL-function executor, re-planned in every transaction that changes a seat; issue 24).
-- Safe: it only compares the row's fields.
create function seer_private.seat_has_liveness(p_seat public.session_players)
returns boolean
language sql
immutable
as $$
  select (p_seat).status = 'connected' and (p_seat).left_at is null and not (p_seat).session_ended
    and (p_seat).user_id is not null
$$;

create function seer_private.sync_seat_liveness()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_was_live boolean := tg_op <> 'INSERT' and seer_private.seat_has_liveness(old);
  v_is_live boolean := tg_op <> 'DELETE' and seer_private.seat_has_liveness(new);
  v_last timestamptz;
begin
  if v_was_live and not v_is_live then
    delete from seer_private.seat_liveness l where l.player_id = old.id
    returning l.last_heartbeat_at into v_last;
    if tg_op = 'DELETE' then
      return old;
    end if;
    -- the seat keeps its last heartbeat as "last seen", unless this update sets its own time
    if new.last_activity_at is not distinct from old.last_activity_at and v_last is not null then
      new.last_activity_at := v_last;
    end if;
  elsif v_is_live and not v_was_live then
    insert into seer_private.seat_liveness (session_id, user_id, player_id, last_heartbeat_at)
    values (new.session_id, new.user_id, new.id, new.last_activity_at);
  elsif v_is_live and new.last_activity_at is distinct from old.last_activity_at then
    update seer_private.seat_liveness l set last_heartbeat_at = new.last_activity_at
    where l.player_id = new.id;
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end
$$;

create trigger session_players_sync_liveness
  before insert or update or delete on public.session_players
  for each row execute function seer_private.sync_seat_liveness();

-- The Seer's liveness, the Seer's counterpart of seat_liveness (issue 22): one row per session
-- whose Seer has heartbeated at least once. No row: the Seer counts as connected (creating the
-- session was their last sign of life, as joining is a player's). The heartbeat keeps
-- last_heartbeat_at (a HOT update by primary key while connected); the sweeper marks the Seer
-- disconnected after 60 s of silence (seer_connection event) and pauses an active game whose
-- Seer has been away for 5 minutes (docs/contract.md "The Seer's connection").
create table seer_private.seer_liveness (
  session_id uuid primary key references public.sessions (id) on delete cascade,
  seer_id uuid not null,
  last_heartbeat_at timestamptz not null,
  connected boolean not null default true,
  disconnected_at timestamptz,
  check (connected = (disconnected_at is null))
)
with (fillfactor = 50);
alter table seer_private.seer_liveness enable row level security;
revoke all on seer_private.seer_liveness from public, anon, authenticated;

create table public.session_events (
  session_id uuid not null references public.sessions (id) on delete cascade,
  seq bigint not null check (seq >= 1),
  type text not null,
  -- the full event JSON exactly as broadcast: {seq, type, sessionId, timestamp, actor, ...}
  payload jsonb not null,
  actor uuid,
  created_at timestamptz not null default now(),
  -- the length of the turnHistory entries the event carries as JSON text
  -- (seer_private.turns_of_event: a roll's, action's or combat step's `entry`, a state
  -- patch's `turns`), null for an event without any: the
  -- 128 KiB bound of turnHistory is summed from these instead of serializing the entries on
  -- every read (seer_private.turn_history)
  turn_bytes int check (turn_bytes > 0),
  -- the same entries as ready JSON text (json keeps the text as written: jsonb's canonical
  -- output), so turnHistory is an aggregation of stored texts instead of a jsonb_agg of
  -- extracted values and a serialization of the result on every read (issue 24: that was
  -- ~0.35 ms of update_game_state's reply with a 100-turn history): the entry itself when the
  -- event carries one (a roll's, action's or combat step's `entry`, a state patch's only turn),
  -- the array when it carries several (a patch's note and move), so a history of single
  -- entries is one json_agg of this column (seer_private.turn_history). Derived from the
  -- payload by seer_private.turn_json, which its two writers call: the event writer and
  -- account deletion, which anonymises the payload. Not a generated column: Postgres reads a
  -- generated column's expression back from its stored text and prepares it again in every
  -- INSERT statement (ExecInitStoredGenerated, ~2% of a roll; issue 24).
  turn_json json,
  primary key (session_id, seq)
);
-- the events that carry a TurnEntry: turnHistory reads the newest 100 of a session
create index session_events_turn_idx on public.session_events (session_id, seq) where turn_bytes is not null;

create table public.session_feedback (
  session_id uuid not null references public.sessions (id) on delete cascade,
  -- feedback is the person's own words: it goes with their account
  user_id uuid not null references auth.users (id) on delete cascade,
  player_id uuid not null references public.session_players (id) on delete cascade,
  rating int not null check (rating between 1 and 5),
  comment text check (length(comment) <= 2000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (session_id, user_id)
);

-- All writes go through the RPCs (security definer); API roles may at most read under RLS.
revoke all on public.sessions, public.session_players, public.session_events, public.session_feedback
  from anon;
revoke insert, update, delete, truncate, references, trigger
  on public.sessions, public.session_players, public.session_events, public.session_feedback
  from authenticated;

alter table public.sessions enable row level security;
alter table public.session_players enable row level security;
alter table public.session_events enable row level security;
alter table public.session_feedback enable row level security;
