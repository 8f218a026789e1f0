"""Realistic data for the SQL, gateway and fan-out benchmarks, made through the real RPCs.

Sessions i = 1..N are *active*, each with a Seer (user (i, 0)) and six seated players
(users (i, 1..6), one character each): created with create_session, join_session and
start_session called as those users (request.jwt.claims set exactly as PostgREST sets it).
A second pool of *waiting* sessions with free seats and not-yet-seated joiners feeds the
join benchmark. User/character/session ids are deterministic so any load tool can find them.
"""

from __future__ import annotations

import asyncpg

ADVENTURE_ID = "00000000-0000-4000-8000-00000000a001"

SCHEMA = """
create schema if not exists bench;
grant usage on schema bench to authenticated;

create or replace function bench.uid(i int, k int) returns uuid
language sql immutable as $$
  select (lpad(to_hex(i), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(k), 12, '0'))::uuid
$$;
create or replace function bench.cid(i int, k int) returns uuid
language sql immutable as $$
  select (lpad(to_hex(i), 8, '0') || '-0000-4000-9000-' || lpad(to_hex(k), 12, '0'))::uuid
$$;
create or replace function bench.claims(i int, k int) returns text
language sql immutable as $$
  select json_build_object('sub', bench.uid(i, k), 'role', 'authenticated', 'aud', 'authenticated',
                           'session_id', bench.uid(i, k + 100))::text
$$;

-- active sessions: i -> session id, Seer claims, the six players' claims
create table if not exists bench.map (
  i int primary key, sid uuid not null, code text not null,
  seer_claims text not null, player_claims text[] not null
);
-- the join benchmark consumes n = 1, 2, 3 ... (a sequence): joiner n takes the next free seat
create table if not exists bench.joins (
  n bigint primary key, sid uuid not null, claims text not null, cid uuid not null
);
create sequence if not exists bench.join_seq;
grant select on bench.map, bench.joins to authenticated;
grant usage on sequence bench.join_seq to authenticated;

create or replace function bench.users(lo int, hi int, kmax int) returns void
language sql as $$
  insert into auth.users (id, aud, role, email, raw_user_meta_data, raw_app_meta_data,
                          email_confirmed_at, created_at, updated_at)
  select bench.uid(i, k), 'authenticated', 'authenticated', format('b%s.%s@bench.invalid', i, k),
         jsonb_build_object('display_name', format('Bench %s.%s', i, k)), '{}', now(), now(), now()
  from generate_series(lo, hi) i, generate_series(0, kmax) k
  on conflict do nothing;
  insert into public.characters (id, owner_id, name, class)
  select bench.cid(i, k), bench.uid(i, k), format('Hero %s.%s', i, k), 'ranger'
  from generate_series(lo, hi) i, generate_series(1, kmax) k
  on conflict do nothing;
$$;

create or replace function bench.as_user(p_claims text) returns void
language sql as $$ select set_config('request.jwt.claims', p_claims, true) $$;

-- sessions lo..hi: created, filled with six players and started, all through the RPCs
create or replace function bench.active_sessions(lo int, hi int) returns void
language plpgsql as $$
declare
  v_s jsonb;
  k int;
begin
  perform bench.users(lo, hi, 6);
  for i in lo .. hi loop
    perform bench.as_user(bench.claims(i, 0));
    v_s := public.create_session('00000000-0000-4000-8000-00000000a001'::uuid);
    for k in 1 .. 6 loop
      perform bench.as_user(bench.claims(i, k));
      perform public.join_session((v_s ->> 'id')::uuid, bench.cid(i, k));
    end loop;
    perform bench.as_user(bench.claims(i, 0));
    perform public.start_session((v_s ->> 'id')::uuid);
    insert into bench.map values (i, (v_s ->> 'id')::uuid, v_s ->> 'code', bench.claims(i, 0),
      array(select bench.claims(i, kk) from generate_series(1, 6) kk));
  end loop;
end
$$;

-- waiting sessions lo..hi for the join benchmark (their joiners exist, nobody is seated)
create or replace function bench.waiting_sessions(lo int, hi int) returns void
language plpgsql as $$
declare
  v_s jsonb;
begin
  perform bench.users(lo, hi, 6);
  for i in lo .. hi loop
    perform bench.as_user(bench.claims(i, 0));
    v_s := public.create_session('00000000-0000-4000-8000-00000000a001'::uuid);
    insert into bench.joins_raw values (i, (v_s ->> 'id')::uuid);
  end loop;
end
$$;
create table if not exists bench.joins_raw (i int primary key, sid uuid not null);

-- Joiner n takes seat ((n - 1) / J) + 1 of session ((n - 1) % J): consecutive joins go to
-- different lobbies (concurrent joins to one lobby only serialise on its row lock, which
-- measures the lock, not the RPC), and no lobby is ever asked for a seventh seat.
create or replace function bench.number_joins() returns void
language sql as $$
  truncate bench.joins;
  with r as (select i, sid, row_number() over (order by i) - 1 as idx, count(*) over () as j
             from bench.joins_raw)
  insert into bench.joins
  select (kk - 1) * r.j + r.idx + 1, r.sid, bench.claims(r.i, kk), bench.cid(r.i, kk)
  from r, generate_series(1, 6) kk;
$$;
"""


async def populate(db_url: str, sessions: int, join_sessions: int, *, chunk: int = 100) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(SCHEMA)
        done = await conn.fetchval("select count(*) from bench.map")
        for lo in range(done + 1, sessions + 1, chunk):
            await conn.execute("select bench.active_sessions($1, $2)", lo, min(sessions, lo + chunk - 1))
        base = 10_000_000  # joiner users live far from the active ones
        have = await conn.fetchval("select count(*) from bench.joins_raw")
        for lo in range(base + have + 1, base + join_sessions + 1, chunk):
            await conn.execute(
                "select bench.waiting_sessions($1, $2)", lo, min(base + join_sessions, lo + chunk - 1)
            )
        await conn.execute("select bench.number_joins()")
        await conn.execute("analyze")
    finally:
        await conn.close()
