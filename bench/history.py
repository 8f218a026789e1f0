"""100 typical roll turns per bench session, in the form each side of an A/B keeps them.

The pre-24 paths (bench/old_paths.sql) keep turnHistory in the session's game_state; today's
derive it from the event log (`dice_rolled` events with their entry, `turn_bytes` and
`turn_json` as the event writer stores them: seer_private.turns_of_event and
seer_private.turn_json, the writer's own rule). Each fill takes a query of the sessions to
fill with columns ``sid`` (the session id) and ``seer`` (its Seer) and returns one SQL
statement; ``unfill`` takes the pre-24 form away again.
"""

from __future__ import annotations

# one turn entry, the g-th of its session (m: the session, g: generate_series)
ENTRY = """jsonb_build_object('type', 'roll', 'actorId', m.seer, 'at', now(), 'rollId', gen_random_uuid(),
  'rollerId', m.seer, 'characterId', null, 'expression', '2d6+3', 'reason', 'history ' || g,
  'hidden', false, 'total', 10)"""


def fill_pre24(sessions: str) -> str:
    """turnHistory in game_state, as the pre-24 code keeps it."""
    return f"""
with m as ({sessions})
update public.sessions s
set game_state = jsonb_set(s.game_state, '{{turnHistory}}',
      (select jsonb_agg({ENTRY} order by g) from generate_series(1, 100) g))
from m where s.id = m.sid
"""


def fill_today(sessions: str) -> str:
    """100 dice_rolled events after each session's last_seq, stored as the event writer stores
    them (the entry in the payload, turn_bytes and turn_json derived from it by the writer's
    functions), and last_seq moved past them."""
    return f"""
with m as (select f.sid, f.seer, s.last_seq from ({sessions}) f join public.sessions s on s.id = f.sid),
ev as (
  select m.sid, m.seer, m.last_seq + g as seq,
         ({ENTRY} - 'type' - 'actorId' - 'at') || jsonb_build_object('dice', null, 'seq', m.last_seq + g,
           'type', 'dice_rolled', 'sessionId', m.sid, 'timestamp', now(), 'actor', m.seer, 'version', 0,
           'entry', {ENTRY}) as payload
  from m, generate_series(1, 100) g),
ins as (
  insert into public.session_events (session_id, seq, type, payload, actor, created_at, turn_bytes, turn_json)
  select ev.sid, ev.seq, 'dice_rolled', ev.payload, ev.seer, now(), octet_length(t.turns::text),
         seer_private.turn_json(t.turns)
  from ev cross join lateral (select seer_private.turns_of_event('dice_rolled', ev.payload) as turns) t
  returning 1)
update public.sessions s set last_seq = s.last_seq + 100 from m where s.id = m.sid
"""


def unfill_pre24(sessions: str | None = None) -> str:
    """Back to today's form: no turnHistory in game_state (of the given sessions, or all)."""
    only = f" and s.id in (select f.sid from ({sessions}) f)" if sessions else ""
    return (
        "update public.sessions s set game_state = s.game_state - 'turnHistory'"
        f" where s.game_state ? 'turnHistory'{only}"
    )
