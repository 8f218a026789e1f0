"""``python -m seer_client._tools.demo`` (``make demo``): one full session on the local stack.

A Seer and three players sign up and make characters; the Seer opens a session of the seeded
adventure; players join by code while the lobby updates live; the Seer starts (with the
party-size warning), a third player joins late, the party moves through nodes with game-state
patches, the Seer pauses and resumes, one player's socket is cut server-side and comes back
inside the rejoin window (the others see "reconnecting"), Realtime loses a database broadcast
(the devstack's fault switch) and the next heartbeat recovers it, a player is kicked, the session
ends as completed with stats and XP, and players leave feedback.

Every participant prints what it saw. The demo exits 0 only if each participant received
every event of its time in the session exactly once and in order (checked against
``session_events_since``).

Options: ``--url URL --key ANON_KEY`` runs against an existing stack instead of starting the
devstack (it needs the seeded adventure; the socket cut uses a devstack hook and is skipped
elsewhere). ``--quiet`` prints only the summary.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from .._client import SeerClient
from .._connection import ConnectionStatus, PresenceEntry, SessionConnection
from ..errors import SeerError
from ..events import (
    BaseEvent,
    CombatEndedEvent,
    CombatStartedEvent,
    CombatTurnEvent,
    DiceRolledEvent,
    GameStateEvent,
    NodeChangeEvent,
    PlayerActionEvent,
    PlayerConnectionEvent,
    PlayerInactiveEvent,
    PlayerJoinedEvent,
    PlayerLeftEvent,
    SessionCreatedEvent,
    SessionEndedEvent,
    SessionStatusEvent,
)
from ..models import Character

ADVENTURE_ID = "00000000-0000-4000-8000-00000000a001"
NODES = {
    "b001": "00000000-0000-4000-8000-00000000b001",
    "b002": "00000000-0000-4000-8000-00000000b002",
    "b003": "00000000-0000-4000-8000-00000000b003",
    "b004": "00000000-0000-4000-8000-00000000b004",
    "b005": "00000000-0000-4000-8000-00000000b005",
}
PASSWORD = "demo-password-42"

#: short, so the lost-broadcast scene recovers quickly (the PRD default is 30 s)
HEARTBEAT_INTERVAL = 3.0


@dataclass
class Participant:
    name: str
    role: str
    client: SeerClient
    user_id: str = ""
    character: Character | None = None
    conn: SessionConnection | None = None
    start_seq: int = 0
    end_seq: int | None = None  # last seq this participant is entitled to (kicked players)
    presence_seen: dict[str, str] = field(default_factory=dict[str, str])
    lines: int = 0


class Demo:
    def __init__(self, url: str, key: str, *, stack: Any = None, quiet: bool = False) -> None:
        self.url = url
        self.key = key
        self.stack = stack
        self.quiet = quiet
        self.t0: float = time.monotonic()
        self.people: list[Participant] = []
        self.session_id: str = ""
        self.names: dict[str, str] = {}  # player id -> character name
        self.finished: bool = False

    # ------------------------------------------------------------------ output
    def say(self, who: str, text: str) -> None:
        if not self.quiet and not self.finished:
            print(f"{time.monotonic() - self.t0:6.2f}s  {who:<6}| {text}", flush=True)

    def banner(self, text: str) -> None:
        if not self.quiet:
            print(f"\n== {text} ==", flush=True)

    def describe(self, event: BaseEvent) -> str:
        name = self.names
        if isinstance(event, PlayerJoinedEvent):
            p = event.player
            self.names[p.id] = p.character_name or p.display_name or p.id[:8]
            klass = p.character.character_class if p.character else "?"
            return f"player_joined   {p.display_name} takes a seat as {p.character_name} the {klass}"
        if isinstance(event, PlayerLeftEvent):
            extra = f" ({event.kick_reason})" if event.kick_reason else ""
            return f"player_left     {name.get(event.player_id, event.player_id[:8])}: {event.reason}{extra}"
        if isinstance(event, PlayerConnectionEvent):
            state = "connected" if event.is_connected else "disconnected"
            return f"player_connection {name.get(event.player_id, event.player_id[:8])} {state}"
        if isinstance(event, PlayerInactiveEvent):
            return f"player_inactive {event.character_name}: Seer controls the character (kick or wait?)"
        if isinstance(event, SessionStatusEvent):
            return f"session_status  {event.old_status} -> {event.new_status}"
        if isinstance(event, NodeChangeEvent):
            choices = " | ".join(c.label for c in event.choices) or "the end"
            return f"node_change     -> {event.node_title} ({event.node_type}); choices: {choices}"
        if isinstance(event, DiceRolledEvent):
            shown = "hidden" if event.total is None else str(event.total)
            return f"dice_rolled     {event.expression} ({event.reason or '-'}): {shown}"
        if isinstance(event, PlayerActionEvent):
            what = event.choice.label if event.choice else event.text
            return f"player_action   {event.character_name}: {what}"
        if isinstance(event, CombatStartedEvent | CombatTurnEvent | CombatEndedEvent):
            detail = event.model_dump(include={"outcome", "round", "turn"}, exclude_none=True)
            return f"{event.type:<15} {detail}"
        if isinstance(event, GameStateEvent):
            return f"game_state      v{event.version} {sorted(event.changes)}"
        if isinstance(event, SessionEndedEvent):
            xp = event.stats.experience_earned if event.stats else "?"
            return f"session_ended   {event.outcome}, {xp} XP earned"
        if isinstance(event, SessionCreatedEvent):
            return f"session_created {event.status}"
        return f"{event.type}"

    # ------------------------------------------------------------------ participants
    async def participant(self, name: str, role: str, character_class: str | None) -> Participant:
        client = await SeerClient.create(self.url, self.key)
        person = Participant(name=name, role=role, client=client)
        email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@demo.seer.local"
        person.user_id = await client.sign_up(email, PASSWORD, display_name=name)
        if character_class:
            person.character = await client.create_character(name=name, character_class=character_class)
            self.say(name, f"signed up; created {person.character.name} the {character_class}")
        else:
            self.say(name, "signed up (Seer)")
        self.people.append(person)
        return person

    async def connect(self, person: Participant, *, since_seq: int | None = None) -> SessionConnection:
        def on_event(event: BaseEvent) -> None:
            self.say(person.name, f"#{event.seq:<3} {self.describe(event)}")

        def on_status(status: ConnectionStatus) -> None:
            self.say(person.name, f"link {status}")

        def on_presence(entries: list[PresenceEntry]) -> None:
            for entry in entries:
                if entry.role != "player" or entry.user_id == person.user_id:
                    continue
                label = entry.character_name or entry.user_id[:8]
                if person.presence_seen.get(label) != entry.state:
                    person.presence_seen[label] = entry.state
                    self.say(person.name, f"sees {label}: {entry.state}")

        conn = person.client.connect(
            self.session_id,
            on_event=on_event,
            on_status_change=on_status,
            on_presence_change=on_presence,
            heartbeat_interval=HEARTBEAT_INTERVAL,
            since_seq=since_seq,
        )
        await conn.open()
        person.conn = conn
        person.start_seq = conn.start_seq
        return conn

    @property
    def seer(self) -> Participant:
        return self.people[0]

    async def patch(self, **fields: Any) -> None:
        """The Seer's game-state change, through the Seer's connection when it is open: it folds
        the turn history from the events, so the request skips it (the server does not read
        and send the newest 100 turns) and the answer is the connection's state."""
        conn = self.seer.conn
        if conn is not None and not conn.closed:
            await conn.update_game_state(**fields)
        else:
            await self.seer.client.update_game_state(self.session_id, **fields)

    async def settle(self, timeout: float = 10.0) -> int:  # noqa: ASYNC109
        """Wait until every connected participant has delivered every event so far."""
        last = (await self.seer.client.get_session(self.session_id)).last_seq
        for person in self.people:
            conn = person.conn
            if conn is None or conn.closed:
                continue
            target = last if person.end_seq is None else min(last, person.end_seq)
            await conn.wait_for_seq(target, timeout=timeout)
        return last

    def lobby(self) -> None:
        conn = self.seer.conn
        if conn is not None and not self.quiet:
            print(str(conn.view()), flush=True)

    # ------------------------------------------------------------------ the story
    async def run(self) -> bool:
        self.banner("Sign up")
        seer = await self.participant("Sage", "seer", None)
        aria = await self.participant("Aria", "player", "ranger")
        bram = await self.participant("Bram", "player", "warrior")
        cora = await self.participant("Cora", "player", "mage")
        assert aria.character and bram.character and cora.character

        self.banner("Seer creates a session of the seeded adventure")
        created = await seer.client.create_session(
            ADVENTURE_ID, settings={"allowLateJoin": True}, max_players=4
        )
        session = created.session
        self.session_id = session.id
        self.say("Sage", f"'{session.adventure_name}' is {session.status}; code {session.code}")
        self.say("Sage", f"invite link: {created.join_url}")
        await self.connect(seer, since_seq=0)  # the Seer replays the log from the start

        self.banner("Players join by code; the lobby updates live")
        for person in (aria, bram):
            assert person.character is not None
            preview = await person.client.get_session_by_code(session.code.lower())
            self.say(
                person.name,
                f"code {session.code}: '{preview.session.adventure_name}' by {preview.session.seer_name}, "
                f"{preview.session.player_count}/{preview.session.max_players} seated, "
                f"can_join={preview.can_join}",
            )
            joined = await person.client.join_session(preview.session.id, character_id=person.character.id)
            self.names[joined.player.id] = person.character.name
            await self.connect(person)
            await self.settle()
        self.lobby()

        self.banner("Start")
        started = await seer.client.start_session(self.session_id)
        for warning in started.warnings:
            self.say("Sage", f"WARNING: {warning}")
        await self.settle()

        self.banner("A third player joins late (allowLateJoin)")
        preview = await cora.client.get_session_by_code(session.code)
        self.say("Cora", f"session is {preview.session.status}, can_join={preview.can_join}")
        cora_seat = await cora.client.join_session(self.session_id, character_id=cora.character.id)
        await self.connect(cora)
        await self.settle()
        self.lobby()

        self.banner("Through the adventure: choices, dice and one combat")
        assert aria.character and bram.character
        await aria.client.submit_action(
            self.session_id, "Let's row out to the green light", choice="Row out and dive"
        )
        await self.patch(
            current_node_id=NODES["b002"],
            turn={"actor": "Aria", "action": "rows out to the green light"},
        )
        await bram.client.submit_action(self.session_id, choice="Follow the kelp-choked stairwell")
        swim = await bram.client.roll_dice(self.session_id, "1d20+2", reason="swim down the stairwell")
        self.say("Bram", f"rolls {swim.expression} to swim: {swim.total}")
        await self.patch(set_variables={"route": "stairwell", "tide": 3})
        await self.patch(current_node_id=NODES["b003"])
        fight = await seer.client.start_combat(
            self.session_id,
            [
                {"characterId": aria.character.id},
                {"characterId": bram.character.id},
                {"name": "Eel Warden", "bonus": 2},
            ],
        )
        order = (fight.combat_state or {}).get("order", [])
        self.say("Sage", "initiative: " + ", ".join(f"{c['name']} {c['initiative']}" for c in order))
        await seer.client.next_turn(self.session_id)
        spear = await aria.client.roll_dice(self.session_id, "2d6+1", reason="spear the eel")
        self.say("Aria", f"spears the eel: {spear.total} damage")
        secret = await seer.client.roll_dice(self.session_id, "1d20", reason="the eel's cunning", hidden=True)
        self.say("Sage", f"rolls hidden: {secret.total} (players see only that a roll happened)")
        await seer.client.end_combat(self.session_id, "victory")
        state = await seer.client.get_game_state(self.session_id)
        await self.patch(
            add_inventory=[
                {"id": "brass-key", "name": "Brass key", "quantity": 1, "assignedTo": aria.character.id}
            ],
            add_flags=["warden_defeated"],
            expected_version=state.version,
        )
        await self.settle()

        self.banner("Pause and resume")
        paused = await seer.client.pause_session(self.session_id)
        self.say("Sage", f"paused at {paused.paused_at:%H:%M:%S}; node {paused.current_node_id}")
        await self.settle()
        resumed = await seer.client.resume_session(self.session_id)
        self.say("Sage", f"resumed at node {resumed.current_node_id} (state v{resumed.game_state.version})")
        await self.settle()

        self.banner("Bram's socket is cut by the server; the game goes on")
        if self.stack is not None:
            assert bram.conn is not None
            bram_conn = bram.conn
            reconnects = bram_conn.reconnects
            dropped = await self.stack.realtime.drop_sockets(bram.user_id)
            self.say("stack", f"dropped {dropped} socket(s) of Bram")
            await self.patch(current_node_id=NODES["b004"], set_variables={"dials": "3-1-4"})
            await _until(
                lambda: seer.presence_seen.get("Bram") == "reconnecting" or bram_conn.reconnects > reconnects,
                5.0,
            )
            await _until(lambda: bram_conn.reconnects > reconnects, 35.0)
            self.say("Bram", f"back after a reconnect; {bram.conn.recovered} missed event(s) fetched")
        else:
            self.say("demo", "not on the devstack: no server-side socket cut hook, skipping the drop")
            await self.patch(current_node_id=NODES["b004"])
        await self.settle()
        self.lobby()

        self.banner("Realtime loses a database broadcast; heartbeats recover it")
        if self.stack is not None:
            before = self.stack.realtime.dropped_db_broadcasts
            self.stack.realtime.set_drop_db_broadcasts(1.0)  # the fault switch, for one event
            try:
                await self.patch(set_variables={"lantern": "flickers"})
                stack = self.stack
                await _until(lambda: stack.realtime.dropped_db_broadcasts > before, 5.0)
            finally:
                self.stack.realtime.set_drop_db_broadcasts(0.0)
            lost = (await seer.client.get_session(self.session_id)).last_seq
            self.say(
                "stack", f"dropped {self.stack.realtime.dropped_db_broadcasts - before} broadcast(s): #{lost}"
            )
            t0 = time.monotonic()
            await self.settle(timeout=HEARTBEAT_INTERVAL + 5)
            self.say(
                "demo",
                f"#{lost} reached everyone from the log after {time.monotonic() - t0:.1f} s "
                f"(heartbeat every {HEARTBEAT_INTERVAL:g} s reports lastSeq {lost})",
            )
        else:
            self.say("demo", "not on the devstack: no fault switch, skipping the lost broadcast")

        self.banner("Cora went AFK: the Seer kicks her")
        await seer.client.kick_player(self.session_id, player_id=cora_seat.player.id, reason="went AFK")
        kick_seq = (await seer.client.get_session(self.session_id)).last_seq
        # A removed player reads nothing more from the log, not even her own kick event.
        cora.end_seq = kick_seq - 1
        if cora.conn is not None:
            await _until(lambda: cora.conn is not None and cora.conn.closed, 10.0)
            self.say("Cora", f"removed: her SDK closed with {type(cora.conn.error).__name__}")
        await self.settle()
        self.lobby()

        self.banner("The lantern goes out: end as completed")
        await self.patch(current_node_id=NODES["b005"])
        ended = await seer.client.end_session(self.session_id, outcome="completed", notes="Ships sail home.")
        stats = ended.stats
        self.say(
            "Sage",
            f"ended {ended.session.outcome}: {stats.duration_minutes} min, {stats.nodes_visited} nodes,"
            f" {stats.dice_rolled} dice, {stats.combats_completed} combat(s), {stats.experience_earned} XP",
        )
        if stats.experience_earned == 0:
            # Experience is bounded by real play (docs/server.md, "XP"): seconds of play earn none.
            self.say("Sage", "no XP: experience is earned per full minute of unpaused play (docs/server.md)")
        await self.settle()

        self.banner("Feedback and experience")
        for person, rating, comment in ((aria, 5, "Loved the eel!"), (bram, 4, "Lag aside, great.")):
            fb = await person.client.submit_feedback(self.session_id, rating=rating, comment=comment)
            self.say(person.name, f"feedback {fb.rating}/5: {fb.comment}")
        try:
            await cora.client.submit_feedback(self.session_id, rating=1)
            self.say("Cora", "feedback accepted (unexpected)")
        except SeerError as exc:
            self.say("Cora", f"feedback refused as expected: {type(exc).__name__} {exc.code}")
        for person in (aria, bram, cora):
            mine = await person.client.list_my_characters()
            for char in mine:
                self.say(person.name, f"{char.name}: level {char.level}, {char.experience} XP")
        return await self.verify()

    async def verify(self) -> bool:
        """Compare what each participant delivered with the server's event log."""
        everything = await self.seer.client.all_events_since(self.session_id, after_seq=0)
        ok = True
        self.finished = True
        print("\n== Delivery check (delivered vs session_events_since) ==")
        for person in self.people:
            conn = person.conn
            delivered = conn.delivered_seqs if conn else []
            expected = [
                e.seq
                for e in everything
                if e.seq > person.start_seq and (person.end_seq is None or e.seq <= person.end_seq)
            ]
            good = delivered == expected
            ok = ok and good
            span = f"#{expected[0]}..#{expected[-1]}" if expected else "-"
            extra = ""
            if conn is not None:
                extra = f", reconnects {conn.reconnects}, recovered {conn.recovered}, dupes dropped"
                extra += f" {conn.sequencer.duplicates}, callback errors {conn.callback_errors}"
            print(
                f"  {person.name:<5} {len(delivered):>2}/{len(expected):<2} events {span:<10} "
                f"{'in order, exactly once' if good else 'MISMATCH'}{extra}"
            )
            if not good:
                print(f"        delivered {delivered}\n        expected  {expected}")
        return ok

    async def close(self) -> None:
        for person in self.people:
            if person.conn is not None:
                await person.conn.close()
            await person.client.close()


async def _until(predicate: Any, limit: float) -> None:
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 - polling SDK state
            await asyncio.sleep(0.02)


@asynccontextmanager
async def _stack(args: argparse.Namespace) -> AsyncGenerator[tuple[str, str, Any], None]:
    if args.url:
        yield args.url, args.key, None
        return
    try:
        from seer_devstack.stack import DevStack
    except ImportError as exc:  # pragma: no cover - extra not installed
        raise SystemExit(
            f"the devstack extra is missing ({exc}); pip install 'seer-client[devstack]'"
        ) from exc
    stack = DevStack(bcrypt_rounds=4)
    await stack.start()
    try:
        print(f"devstack up at {stack.url} (Postgres {stack.db_url.rsplit('@', 1)[-1]})", flush=True)
        yield stack.url, stack.anon_key, stack
    finally:
        await stack.stop()


async def main_async(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    async with _stack(args) as (url, key, stack):
        demo = Demo(url, key, stack=stack, quiet=args.quiet)
        try:
            ok = await asyncio.wait_for(demo.run(), args.timeout)
        finally:
            await demo.close()
    print(f"\n{'PASS' if ok else 'FAIL'}: demo finished in {time.monotonic() - t0:.1f}s")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="seer-client demo",
        description="One full session on the local stack: a Seer and three players, checked for "
        "exactly-once, in-order delivery. Also `python -m seer_client._tools.demo` and `make demo`.",
        epilog="environment:\n  SUPABASE_ANON_KEY  the anon key for --url (default of --key)\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--url", default=None, help="run against this stack's API URL (default: start a throw-away devstack)"
    )
    parser.add_argument(
        "--key",
        default=os.environ.get("SUPABASE_ANON_KEY"),
        help="anon key for --url (default: $SUPABASE_ANON_KEY)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the delivery check")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="give up after this many seconds (default 120)"
    )
    args = parser.parse_args(argv)
    if args.url and not args.key:
        parser.error("--url needs --key (or SUPABASE_ANON_KEY)")
    try:
        return asyncio.run(main_async(args))
    except SeerError as exc:
        print(f"FAIL: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except TimeoutError:
        print("FAIL: the demo timed out", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
