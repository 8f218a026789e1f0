# ruff: noqa: E501 - SQL text reads better unwrapped
"""An event's writes alone: the least an event RPC can cost on this schema.

``bench.event_writes(session, type[, hp])`` writes the rows an event of the benchmarks writes,
and nothing else: the session row's seq, state version and counters (and, for the Seer's
state patch, the new game state), the event row with its stored turn, the broadcast row on
the session's topic and, for a roll, its ``dice_rolls`` row. Each event row is a copy of the
newest real event of its type (``TEMPLATES``, so its payload and turn have the product's
sizes). No authentication, no seat or rule check, no rate limit, no reply: an RPC that writes
the same event can only cost more (tests/bench_suite/test_event_writes.py holds the rows it
writes to the RPCs' own). ``bench.join_writes(session, character)`` is the same for
join_session's new seat in a lobby: the seat (and the liveness row its trigger adds), the
joiner's rate-limit hit, the player_joined event and its broadcast.

Section 1 runs them in PostgREST's transaction shape beside the RPC and TPC-B-like; the cost
model runs the collector's mix with every event RPC but the join replaced by event_writes.
Together they say how far a target is from what the writes alone allow.
"""

from __future__ import annotations

import re

FUNCTION = """
create or replace function bench.event_writes(p_sid uuid, p_type text, p_hp int default null)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  t record;
  v_seq bigint;
  v_version int;
  v_event jsonb;
  v_id uuid := gen_random_uuid();
begin
  select * into strict t from bench.event_templates x where x.type = p_type;
  update public.sessions s
  set last_seq = s.last_seq + 1,
      state_version = s.state_version + 1,
      dice_rolled = s.dice_rolled + case when p_type = 'dice_rolled' then 1 else 0 end,
      game_state = case when p_hp is null then s.game_state
                        else s.game_state || jsonb_build_object('variables',
                               coalesce(s.game_state -> 'variables', '{}') || jsonb_build_object('hp', p_hp)) end
  where s.id = p_sid
  returning s.last_seq, s.state_version into v_seq, v_version;
  v_event := t.payload || jsonb_build_object('seq', v_seq, 'sessionId', p_sid, 'timestamp', now(),
                                             'version', v_version);
  insert into public.session_events (session_id, seq, type, payload, actor, turn_bytes, turn_json)
  values (p_sid, v_seq, p_type, v_event, t.actor, t.turn_bytes, t.turn_json);
  insert into realtime.messages (id, payload, event, topic, private, extension)
  select v_id, v_event || jsonb_build_object('id', v_id), p_type, c.topic, true, 'broadcast'
  from seer_private.session_channels c where c.session_id = p_sid;
  if p_type = 'dice_rolled' then
    insert into public.dice_rolls (session_id, seq, roller_id, expression, dice, total, reason, hidden)
    values (p_sid, v_seq, t.actor, '2d6+3', '[3, 4]', 10, 'bench', false);
  end if;
end
$$;
grant execute on function bench.event_writes(uuid, text, int) to authenticated;

-- join_session's writes alone, for a new seat in a lobby (section 1's joins): the session
-- row's seq, the seat (its indexes, foreign keys and the liveness row its trigger inserts),
-- the joiner's rate-limit hit, the player_joined event and its broadcast row. The event is a
-- copy of the newest real one, so its size is the product's.
create or replace function bench.join_writes(p_sid uuid, p_cid uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  t record;
  v_uid uuid := (current_setting('request.jwt.claims')::jsonb ->> 'sub')::uuid;
  v_seq bigint;
  v_event jsonb;
  v_id uuid := gen_random_uuid();
begin
  select * into strict t from bench.event_templates x where x.type = 'player_joined';
  update public.sessions s set last_seq = s.last_seq + 1 where s.id = p_sid
  returning s.last_seq into v_seq;
  insert into public.session_players (session_id, user_id, character_id) values (p_sid, v_uid, p_cid);
  insert into seer_private.rate_limit_hits (bucket, subject, hits)
  values ('join_session', 'user:' || v_uid, array[clock_timestamp()])
  on conflict (bucket, subject) do update set hits = excluded.hits;
  v_event := t.payload || jsonb_build_object('seq', v_seq, 'sessionId', p_sid, 'timestamp', now());
  insert into public.session_events (session_id, seq, type, payload, actor)
  values (p_sid, v_seq, 'player_joined', v_event, v_uid);
  insert into realtime.messages (id, payload, event, topic, private, extension)
  select v_id, v_event || jsonb_build_object('id', v_id), 'player_joined', c.topic, true, 'broadcast'
  from seer_private.session_channels c where c.session_id = p_sid;
end
$$;
grant execute on function bench.join_writes(uuid, uuid) to authenticated;
"""

# the newest real event of each type the benchmarks write (run again once the RPC has written one)
TEMPLATES = """
drop table if exists bench.event_templates;
create table bench.event_templates as
select distinct on (e.type) e.type, e.payload, e.actor, e.turn_bytes, e.turn_json
from public.session_events e
where e.type in ('game_state', 'dice_rolled', 'player_action', 'player_joined')
order by e.type, e.created_at desc, e.seq desc;
"""

# the event each RPC of the benchmarks writes
EVENT_TYPE = {"update_game_state": "game_state", "roll_dice": "dice_rolled", "submit_action": "player_action"}
# each event RPC's call in a script (its arguments up to `from bench.`), as its writes alone
CALLS = {
    rpc: f"bench.event_writes(sid, '{t}'" + (", (:hp)::int)" if rpc == "update_game_state" else ")")
    for rpc, t in EVENT_TYPE.items()
}
_CALL = re.compile(r"\b(?:public|bench_pre24)\.(" + "|".join(CALLS) + r")\((?:.|\n)*?\)(\s+from bench\.)")


# section 1's join (a new seat in a lobby) and its writes alone; the cost model's joins bring a
# seat back (restore_seat), which bench.join_writes does not write, so they stay the RPC
JOIN_CALL = "public.join_session(sid, cid)"
JOIN_WRITES = "bench.join_writes(sid, cid)"


def writes_only(script: str) -> str:
    """The pgbench script with every event RPC call replaced by its writes alone."""
    return _CALL.sub(lambda m: CALLS[m.group(1)] + m.group(2), script)
