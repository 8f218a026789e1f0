-- Server-side dice: roll_dice parses standard notation, rolls with the database's
-- cryptographic generator (pgcrypto's gen_random_bytes, installed in schema `extensions` on
-- Supabase as in the devstack), stores the roll and announces it.
--
-- Visibility: a roll is hidden when the Seer rolls with p_hidden or the session's
-- showDiceRolls is false. Players then see that a roll happened (who, for whom, the
-- expression, the reason) but neither the dice nor the total - in the dice_rolled event, in
-- turnHistory and in every read (session_events_since, the session_events and dice_rolls
-- tables, list_dice_rolls). The event and turnHistory are shared by everyone on the session's
-- channel, so they always carry the players' view; the Seer sees every die through roll_dice's
-- reply, list_dice_rolls and the dice_rolls table (RLS: hidden rows are the Seer's only).

create table public.dice_rolls (
  id uuid primary key default gen_random_uuid(),
  session_id uuid not null references public.sessions (id) on delete cascade,
  -- the dice_rolled event of this roll
  seq bigint not null,
  -- null once the roller deleted their account (the roll stays in the history)
  roller_id uuid references auth.users (id) on delete set null,
  character_id uuid references public.characters (id) on delete set null,
  expression text not null,
  dice jsonb not null,
  total int not null,
  reason text,
  hidden boolean not null,
  created_at timestamptz not null default now()
);
create index dice_rolls_session_idx on public.dice_rolls (session_id, seq);

revoke all on public.dice_rolls from anon;
revoke insert, update, delete, truncate, references, trigger on public.dice_rolls from authenticated;
grant select on public.dice_rolls to authenticated;
grant all on public.dice_rolls to service_role;
alter table public.dice_rolls enable row level security;

-- The Seer reads every roll of their sessions; other participants only rolls that are not hidden.
create policy "participants read visible rolls, the Seer all" on public.dice_rolls
  for select to authenticated
  using (seer_private.is_session_participant(session_id)
         and (not hidden or exists (select 1 from public.sessions s
                                    where s.id = session_id and s.seer_id = (select auth.uid()))));

-- A die's face in 1..p_sides (1 <= p_sides <= 65536) from two random bytes (p_raw in
-- 0..65535), or null for a value at or above the largest multiple of p_sides, which must be
-- drawn again: so `% p_sides` has no modulo bias. The one reading of that rule (random_die and
-- roll_expression); inlines (no SET clause, immutable like its body).
create function seer_private.die_face(p_raw int, p_sides int)
returns int
language sql
immutable
as $$
  select case when p_raw < 65536 - 65536 % p_sides then 1 + p_raw % p_sides end
$$;

-- Uniform integer in 1..p_sides: two random bytes at a time until die_face takes them.
create function seer_private.random_die(p_sides int)
returns int
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_bytes bytea;
  v int;
begin
  loop
    v_bytes := extensions.gen_random_bytes(2);
    v := seer_private.die_face(get_byte(v_bytes, 0) * 256 + get_byte(v_bytes, 1), p_sides);
    if v is not null then
      return v;
    end if;
  end loop;
  return null; -- not reached (the loop only ends by returning); says so to plpgsql_check
end
$$;

-- Parses and rolls `NdM`, `dM`, `NdMkhK`, `NdMklK` and constants, joined by + and -
-- (e.g. `4d6kh3 + 1d4 - 2`). At most 100 dice in all, 1..1000 sides, keep 1..N; anything else
-- is SESSION_000 naming the problem. The WHOLE text must be notation: at most 100 characters
-- as sent (nothing is cut off and ignored: issue 20 smuggled 20 kB of escape codes and a
-- lying "+1000" behind 200 parsed characters), spaces only around + and -. Returns
-- {expression, dice: [{term, sides, value, kept}], total, count}, where expression is the
-- normalised text that was parsed (lower case, no spaces: `4d6kh3+1d4-2`): the only form
-- that is stored and broadcast.
create function seer_private.roll_expression(p_expression text)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  -- the grammar, written once: a term is NdM (N optional), NdMkhK / NdMklK, or a constant.
  -- No capture groups: `~` with them is as fast, but regexp_match's captures ran Postgres's
  -- backtracking matcher, 35-55 us on this pattern's first term (issue 24: this function now
  -- at 0.6x its CPU, a roll at 0.96x)
  c_body constant text := '(?:[0-9]{0,3}d[0-9]{1,4}(?:k[hl][0-9]{1,3})?|[0-9]{1,6})';
  c_term constant text := '[+-]?' || c_body;
  -- spaces are allowed around + and - only ("2d6 3" is not "2d63")
  v_expr text;
  v_terms text[];
  v_term text;
  v_d int;
  v_k int;
  v_low boolean;
  v_sign int;
  v_n int;
  v_sides int;
  v_keep int;
  v_bytes bytea;
  v_values int[];
  v_kept boolean[];
  v_order int[];
  v_dice jsonb[] := '{}'::jsonb[];
  v_total int := 0;
  v_count int := 0;
begin
  -- the length of what was sent, before any normalisation (a bound on the work, too)
  if p_expression is null or length(p_expression) > 100 then
    perform seer_private.raise_error('SESSION_000', 'expression must be 1-100 characters of dice notation');
  end if;
  v_expr := lower(btrim(regexp_replace(p_expression, '[ ]*([+-])[ ]*', '\1', 'g'), ' '));
  if v_expr = '' then
    perform seer_private.raise_error('SESSION_000', 'expression must be 1-100 characters of dice notation');
  end if;
  -- the whole text is terms, every term after the first with its sign
  if v_expr !~ ('^' || c_term || '(?:[+-]' || c_body || ')*$') then
    perform seer_private.raise_error('SESSION_000', 'expression is not dice notation (e.g. 2d6+3, 4d6kh3, 1d20-1)');
  end if;
  -- the validated text split before each sign is its terms, and a term's parts are where
  -- its `d` and `k` are (plain expressions: a FOR over regexp_matches(..., 'g') was a query
  -- with a cursor per roll, and regexp_match's captures the backtracking matcher, issue 24)
  v_terms := regexp_split_to_array(v_expr, '(?=[+-])');
  for t in 1 .. cardinality(v_terms) loop
    v_term := v_terms[t];
    v_sign := case when left(v_term, 1) = '-' then -1 else 1 end;
    v_term := ltrim(v_term, '+-');
    v_d := strpos(v_term, 'd');
    if v_d = 0 then
      v_total := v_total + v_sign * v_term::int;
      continue;
    end if;
    v_k := strpos(v_term, 'k');
    v_n := coalesce(nullif(left(v_term, v_d - 1), '')::int, 1);
    v_sides := (case when v_k = 0 then substr(v_term, v_d + 1)
                     else substr(v_term, v_d + 1, v_k - v_d - 1) end)::int;
    v_low := v_k > 0 and substr(v_term, v_k + 1, 1) = 'l';
    if v_n < 1 or v_sides not between 1 and 1000 then
      perform seer_private.raise_error('SESSION_000', 'dice need 1-100 dice of 1-1000 sides');
    end if;
    v_count := v_count + v_n;
    if v_count > 100 then
      perform seer_private.raise_error('SESSION_000', 'at most 100 dice per roll');
    end if;
    v_keep := case when v_k = 0 then v_n else substr(v_term, v_k + 2)::int end;
    if v_keep not between 1 and v_n then
      perform seer_private.raise_error('SESSION_000', 'keep must be between 1 and the number of dice');
    end if;
    -- every die of the term from one call of the generator, two bytes a die; a value die_face
    -- refuses (under 1.6% of them) is drawn again by random_die, so no face is favoured
    v_bytes := extensions.gen_random_bytes(2 * v_n);
    v_values := array_fill(0, array[v_n]);
    for i in 1 .. v_n loop
      v_values[i] := coalesce(
        seer_private.die_face(get_byte(v_bytes, 2 * i - 2) * 256 + get_byte(v_bytes, 2 * i - 1), v_sides),
        seer_private.random_die(v_sides));
    end loop;
    if v_keep = v_n then
      v_kept := array_fill(true, array[v_n]);
    else
      -- kept: the K highest (kh) or lowest (kl), ties broken by position
      v_order := array(select o from unnest(v_values) with ordinality u(v, o)
                       order by case when v_low then v else -v end, o limit v_keep);
      v_kept := array(select o = any (v_order) from generate_series(1, v_n) o);
    end if;
    -- appended to a jsonb[] (in place) and turned into the JSON array once at the end
    for i in 1 .. v_n loop
      v_dice := v_dice || jsonb_build_object('term', t, 'sides', v_sides, 'value', v_values[i], 'kept', v_kept[i]);
      if v_kept[i] then
        v_total := v_total + v_sign * v_values[i];
      end if;
    end loop;
  end loop;
  return jsonb_build_object('expression', v_expr, 'dice', to_jsonb(v_dice), 'total', v_total, 'count', v_count);
end
$$;

-- The one view of a roll: p_full false hides dice and total of a hidden roll.
create function seer_private.roll_json(p_roll public.dice_rolls, p_full boolean)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'rollId', (p_roll).id, 'rollerId', (p_roll).roller_id, 'characterId', (p_roll).character_id,
    'expression', (p_roll).expression, 'reason', (p_roll).reason, 'hidden', (p_roll).hidden,
    'dice', case when p_full or not (p_roll).hidden then (p_roll).dice end,
    'total', case when p_full or not (p_roll).hidden then (p_roll).total end)
$$;

-- dice_rolled: always the players' view (broadcast to the whole session channel), with the
-- state version the roll produced and its turnHistory entry (a client's fold needs both).
create function seer_private.event_dice_rolled(p_roll public.dice_rolls, p_version int, p_turn jsonb)
returns jsonb
language sql
stable
as $$
  select seer_private.roll_json(p_roll, false) || jsonb_build_object('version', p_version, 'entry', p_turn)
$$;

-- Records a roll (roll_expression's result, p_roll) for a locked, active session: its row and
-- its event with its turn entry. Shared by roll_dice and the combat RPCs (initiative,
-- auto-resolve). p_allocated: p_session's lock allocated the event's seq and state version
-- and counted the dice (lock_game's p_turn: roll_dice, one event per call); without it the
-- writer's UPDATE allocates them and counts the dice (the combat RPCs roll several times).
create function seer_private.record_roll(
  p_session public.sessions, p_actor uuid, p_roll jsonb, p_reason text,
  p_character_id uuid, p_hidden boolean, p_allocated boolean default false)
returns public.dice_rolls
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_roll public.dice_rolls%rowtype;
  v_entry jsonb;
  v_fields jsonb;
begin
  v_roll.id := gen_random_uuid();
  v_roll.session_id := (p_session).id;
  v_roll.roller_id := p_actor;
  v_roll.character_id := p_character_id;
  -- the normalised text that was parsed, never the caller's text
  v_roll.expression := p_roll ->> 'expression';
  v_roll.dice := p_roll -> 'dice';
  v_roll.total := (p_roll ->> 'total')::int;
  v_roll.reason := p_reason;
  v_roll.hidden := coalesce(p_hidden, false)
    or not coalesce(((p_session).settings ->> 'showDiceRolls')::boolean, true);
  v_roll.created_at := now();
  -- the event with the turn's seq and state version (the writer sets the event's version);
  -- the turn entry travels in the event (turnHistory is derived from it), and the roll's row
  -- names the event's seq
  v_entry := seer_private.turn_entry('roll', p_actor, seer_private.roll_json(v_roll, false) - 'dice');
  v_fields := seer_private.event_dice_rolled(v_roll, null, v_entry);
  if p_allocated then
    v_roll.seq := (seer_private.write_locked_turn_event(p_session, 'dice_rolled', p_actor, v_fields)
                   ->> 'seq')::bigint;
  else
    v_roll.seq := (seer_private.write_turn_event((p_session).id, 'dice_rolled', p_actor, v_fields,
                     p_dice => (p_roll ->> 'count')::int) ->> 'seq')::bigint;
  end if;
  insert into public.dice_rolls values (v_roll.*);
  return v_roll;
end
$$;

-- The game RPCs' prologue: the locked active session, the caller a participant (or with
-- p_seer_only the Seer; else the usual 001/007). Game actions need an active session with
-- room for events (the per-session event cap, SESSION_029). p_turn: the caller writes one
-- turn event, and the lock allocates its seq and state version and counts p_dice dice
-- (lock_session's p_turn; the returned row's last_seq and state_version are the event's).
create function seer_private.lock_game(
  p_session_id uuid, p_uid uuid, p_seer_only boolean default false, p_turn boolean default false,
  p_dice int default 0)
returns public.sessions
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_s public.sessions%rowtype := seer_private.lock_session(p_session_id, p_turn => p_turn, p_dice => p_dice);
begin
  if p_seer_only then
    perform seer_private.require_seer(v_s, p_uid);
  else
    perform seer_private.require_participant(v_s, p_uid);
  end if;
  if v_s.status <> 'active' then
    perform seer_private.raise_error('SESSION_010', 'the game needs an active session');
  end if;
  perform seer_private.require_event_room(v_s, case when p_turn then 1 else 0 end);
  return v_s;
end
$$;

-- A live seat of the session holding p_character_id, or SESSION_000.
create function seer_private.character_seat(p_session_id uuid, p_character_id uuid)
returns public.session_players
language plpgsql
stable
set search_path = ''
as $$
declare
  v_seat public.session_players%rowtype;
begin
  select * into v_seat from public.session_players sp
  where sp.session_id = p_session_id and sp.character_id = p_character_id and sp.left_at is null;
  if not found then
    perform seer_private.raise_error('SESSION_000', 'characterId is not a seated character of this session');
  end if;
  return v_seat;
end
$$;

-- A seated player rolls for their own character (never hidden); the Seer for anyone.
create function public.roll_dice(
  p_session_id uuid, p_expression text, p_reason text default null,
  p_character_id uuid default null, p_hidden boolean default false)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_reason text := seer_private.clean_text(p_reason, 'reason', 200);
  -- parsed and rolled before the lock: bad notation is refused without taking it, and the
  -- lock counts the dice with the turn (issue 24: one UPDATE of the session row per roll)
  v_result jsonb := seer_private.roll_expression(p_expression);
  v_s public.sessions%rowtype;
  v_seat public.session_players%rowtype;
  v_char uuid := p_character_id;
  v_roll public.dice_rolls%rowtype;
begin
  v_s := seer_private.lock_game(p_session_id, v_uid, p_turn => true, p_dice => (v_result ->> 'count')::int);
  if v_s.seer_id = v_uid then
    if v_char is not null then
      perform seer_private.character_seat(v_s.id, v_char);
    end if;
  else
    v_seat := seer_private.caller_seat(v_s, v_uid);
    if coalesce(p_hidden, false) or (v_char is not null and v_char <> v_seat.character_id) then
      perform seer_private.raise_error('SESSION_007', 'players roll openly, for their own character');
    end if;
    v_char := v_seat.character_id;
    -- a player's rolls are rate-limited (SESSION_028, the roll_dice bucket); the Seer's are not
    perform seer_private.spend_rate_budget('roll_dice', v_uid);
  end if;
  v_roll := seer_private.record_roll(v_s, v_uid, v_result, v_reason, v_char, p_hidden, p_allocated => true);
  return seer_private.roll_json(v_roll, v_s.seer_id = v_uid);
end
$$;

-- One page of a session's rolls as the caller may see them (the Seer: everything): the newest
-- p_limit rolls, oldest first; with p_before (a roll id of this session, e.g. the first of the
-- previous page), the newest p_limit before that roll: keyset paging back through a long game
-- on dice_rolls_session_idx (session_id, seq), so a page reads only itself.
create function public.list_dice_rolls(
  p_session_id uuid, p_limit int default 200, p_before uuid default null)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
  -- Past every roll when there is no cursor.
  v_before bigint := 9223372036854775807::bigint;
begin
  v_s := seer_private.read_session(p_session_id);
  perform seer_private.require_participant(v_s, v_uid);
  if coalesce(p_limit, 200) not between 1 and 1000 then
    perform seer_private.raise_error('SESSION_000', 'limit must be between 1 and 1000');
  end if;
  if p_before is not null then
    select d.seq into v_before from public.dice_rolls d
    where d.id = p_before and d.session_id = v_s.id;
    if not found then
      perform seer_private.raise_error('SESSION_000', 'before');
    end if;
  end if;
  return coalesce((
    select jsonb_agg(seer_private.roll_json(r, v_s.seer_id = v_uid) order by r.seq)
    from (select * from public.dice_rolls d
          where d.session_id = v_s.id and d.seq < v_before
          order by d.seq desc limit coalesce(p_limit, 200)) r), '[]'::jsonb);
end
$$;

revoke execute on all functions in schema seer_private from public;
revoke execute on function public.roll_dice(uuid, text, text, uuid, boolean),
  public.list_dice_rolls(uuid, int, uuid) from public, anon;
grant execute on function public.roll_dice(uuid, text, text, uuid, boolean),
  public.list_dice_rolls(uuid, int, uuid) to authenticated, service_role;
