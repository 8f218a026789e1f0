"""The cost model's decomposition (bench/costmodel.py): the floor mix must replace every RPC
call of the mix and nothing else (same transactions, same claims, same bookkeeping), and the
per-process CPU sampler must attribute a child's CPU to its role, and a step's slots must start
after its offset."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

from bench import costmodel
from bench.common import DbCpu, cpu_by_role
from bench.sqlpath import pgbench_run

RPC = re.compile(r"^select (public|bench_pre24)\.\w+\(", re.M)
READS = {"select sid from bench.cmap where i = :s;", "select sid as nsid from bench.cmap where i = :s"}


def test_floor_replaces_every_rpc_call_and_keeps_the_transactions() -> None:
    for schema in costmodel.PATHS.values():
        real = costmodel.scripts(schema)
        floor = costmodel.floor_scripts(schema)
        assert set(floor) == set(real)
        for name, text in floor.items():
            assert RPC.search(real[name]), f"{name} calls no RPC: the pattern would test nothing"
            assert not RPC.search(text), f"{name} still calls an RPC in the floor mix"
            # independent of the pattern: every statement but the claims reads the slot's row
            for line in text.splitlines():
                if line.startswith("select ") and not line.startswith("select set_config("):
                    assert line in READS, (name, line)
            assert "create_session" not in text
            # the same transactions with the same claims, and the map's bookkeeping
            for kept in ("begin;", "commit;", "set_config('request.jwt.claims'", "update bench.cmap"):
                assert text.count(kept) == real[name].count(kept), (name, kept)
            assert text.count("\n") == real[name].count("\n")


def test_heartbeat_only_mix_keeps_exactly_the_heartbeats_real() -> None:
    for schema in costmodel.PATHS.values():
        mix = costmodel.floor_scripts(schema, costmodel.HEARTBEATS)
        for name, text in mix.items():
            calls = RPC.findall(text)
            if name in costmodel.HEARTBEATS:
                assert f"select {schema}.heartbeat(sid)" in text
            else:
                assert not calls, name


def test_slow_heartbeats_halve_only_the_heartbeats() -> None:
    slow, base = costmodel.SLOW_HEARTBEATS, costmodel.PER_SESSION_HOUR
    assert set(slow) == set(base)
    for name in base:
        assert slow[name] == (base[name] // 2 if name in costmodel.HEARTBEATS else base[name]), name


def test_cpu_by_role_counts_a_childs_cpu(tmp_path: Path) -> None:
    # this process stands in for the postmaster: DbCpu reads its pid from postmaster.pid
    (tmp_path / "postmaster.pid").write_text(f"{Path('/proc/self').resolve().name}\n")
    cpu = DbCpu(tmp_path)
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass\n"
    with cpu_by_role(cpu, every=0.05) as roles:
        child = subprocess.Popen([sys.executable, "-c", burn])
        # the sampler keeps the last reading of a child: let it see the child near its end
        while child.poll() is None:
            time.sleep(0.02)
    assert 0.25 <= roles.get("backends", 0.0) <= 1.0, roles
    assert set(roles) <= {
        "backends",
        "autovacuum",
        "walsender",
        "wal, checkpoints",
        "other background",
        "gone",
    }


async def test_a_steps_slots_start_after_its_offset(database_url: str, tmp_path: Path) -> None:
    """The paired A/B gives each side its own half of the slots: with off=N a client's slots
    are N + its own per, and no other (pgbench evaluates the scripts' SLOT line itself)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("create schema slot_test; create table slot_test.hits (c int, s int)")
        script = tmp_path / "slot.sql"
        script.write_text(costmodel.SLOT + "insert into slot_test.hits values (:client_id, :s);\n")
        for off in (0, 10):
            await conn.execute("truncate slot_test.hits")
            res, errors = pgbench_run(
                database_url,
                ["-c", "2", "-j", "2", "-t", "60", "-D", "per=3", "-D", f"off={off}", "-f", str(script)],
            )
            assert not errors and res.transactions == 120
            got = {(r["c"], r["s"]) for r in await conn.fetch("select distinct c, s from slot_test.hits")}
            assert got == {(c, off + c * 3 + i) for c in (0, 1) for i in (1, 2, 3)}, (off, sorted(got))
    finally:
        await conn.execute("drop schema if exists slot_test cascade")
        await conn.close()


def test_the_collector_mix_sends_every_beat_in_batches() -> None:
    mix, weights = costmodel.side_mix("collector")
    base = costmodel.PER_SESSION_HOUR
    assert set(mix) == set(weights) == (set(base) - set(costmodel.HEARTBEATS)) | {"heartbeat_batch"}
    beats = sum(base[name] for name in costmodel.HEARTBEATS)
    # 7 connections per session: each batch carries the beats of BATCH_SESSIONS sessions
    assert weights["heartbeat_batch"] * 7 * costmodel.BATCH_SESSIONS == beats
    assert all(weights[name] == base[name] for name in base if name not in costmodel.HEARTBEATS)
    assert "heartbeat(" not in "".join(t for n, t in mix.items() if n != "heartbeat_batch")


def test_only_the_live_sessions_seer_skips_the_turn_history() -> None:
    """The collector's side sends the Seer's change as SessionConnection.update_game_state does
    (p_turn_history false); today's and the pre-24 sides send the PRD's request; every other
    script of the live side is today's."""
    live, _ = costmodel.side_mix("collector")
    today, _ = costmodel.side_mix("today")
    pre, _ = costmodel.side_mix("pre-24")
    assert "public.update_game_state(" in live["seer_action"]
    assert live["seer_action"].count("p_turn_history => false") == 1
    assert "p_turn_history" not in "".join(today.values()) + "".join(pre.values())
    assert live["seer_action"].replace(", p_turn_history => false", "") == today["seer_action"]
    assert all(live[n] == today[n] for n in live if n not in ("seer_action", "heartbeat_batch"))


async def test_a_collector_batch_holds_distinct_slots(database_url: str, tmp_path: Path) -> None:
    """pgbench evaluates the batch's slot lines: BATCH_SESSIONS distinct slots, all the
    client's own (after the offset), and over many batches every slot of it."""
    conn = await asyncpg.connect(database_url)
    n = costmodel.BATCH_SESSIONS
    try:
        await conn.execute("create schema batch_test; create table batch_test.hits (c int, s int[])")
        script = tmp_path / "batch.sql"
        sets = "".join(line + "\n" for line in costmodel.COLLECTOR.splitlines() if line.startswith("\\set"))
        slots = ", ".join(f":i{j}" for j in range(n))
        script.write_text(sets + f"insert into batch_test.hits values (:client_id, array[{slots}]::int[]);\n")
        res, errors = pgbench_run(
            database_url, ["-c", "2", "-j", "2", "-t", "60", "-D", "per=6", "-D", "off=10", "-f", str(script)]
        )
        assert not errors and res.transactions == 120
        seen: dict[int, set[int]] = {0: set(), 1: set()}
        for r in await conn.fetch("select c, s from batch_test.hits"):
            own = {10 + r["c"] * 6 + i for i in range(1, 7)}
            assert len(set(r["s"])) == n and set(r["s"]) <= own, (r["c"], r["s"])
            seen[r["c"]] |= set(r["s"])
        assert seen == {c: {10 + c * 6 + i for i in range(1, 7)} for c in (0, 1)}
    finally:
        await conn.execute("drop schema if exists batch_test cascade")
        await conn.close()


def test_players_held_is_a_bound_when_a_side_held_every_step() -> None:
    hv = costmodel.held_verdict
    assert hv(192, False, 96, False) == ("2.0x", "ok")
    assert hv(96, False, 96, False) == ("1.0x", "BELOW")
    # today held its ramp's top: at least this ratio
    assert hv(192, True, 96, False) == (">= 2.0x", "ok")
    assert hv(192, True, 192, False) == (">= 1.0x", "UNDECIDED (today held every step)")
    # the pre-24 paths held their top: at most this ratio
    assert hv(192, False, 192, True) == ("<= 1.0x", "BELOW")
    assert hv(384, False, 192, True) == ("<= 2.0x", "UNDECIDED (pre-24 held every step)")
    assert hv(192, True, 192, True) == ("1.0x?", "UNDECIDED (both held every step)")
    assert hv(192, False, 0, False) == ("", "")


def test_the_step_between_held_and_not_held() -> None:
    """bench-full's bisection step: strictly between the two, a multiple of the clients."""
    assert costmodel.between(192, 384, 8) == 288
    assert costmodel.between(96, 192, 8) == 144
    assert costmodel.between(8, 16, 8) is None  # no multiple of 8 strictly between
    assert costmodel.between(16, 24, 8) is None
    assert costmodel.between(0, 96, 8) is None  # nothing held: the ramp steps down instead
    assert costmodel.between(96, 96, 8) is None
    assert costmodel.between(192, 384, 7) == 287


def test_a_step_keeps_its_rate_within_the_schedules_own_noise() -> None:
    """pgbench -R's Poisson schedule: 3 standard deviations at low counts, 5% at high ones."""
    assert costmodel.kept_rate(81.0, 85.0, 8)  # 680 expected: the bar is 11.5% below
    assert not costmodel.kept_rate(74.0, 85.0, 8)
    assert costmodel.kept_rate(2900.0, 3000.0, 30)  # 90,000 expected: the 5% bar
    assert not costmodel.kept_rate(2800.0, 3000.0, 30)
    assert costmodel.kept_rate(0.0, 0.0, 8)
