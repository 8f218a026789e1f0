"""A short session through the blocking client (``SyncSeerClient``).

Run against the local devstack (started here) or a real project::

    python examples/quickstart.py
    SUPABASE_URL=https://<ref>.supabase.co SUPABASE_ANON_KEY=<anon key> python examples/quickstart.py

The Seer opens a session of the seeded adventure, a player joins by code, both watch events
live, the Seer starts, moves to the next node, and ends the session; the player leaves
feedback.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

from seer_client import SyncSeerClient

ADVENTURE_ID = "00000000-0000-4000-8000-00000000a001"  # supabase/seed.sql
SECOND_NODE = "00000000-0000-4000-8000-00000000b002"


@contextlib.contextmanager
def stack() -> Iterator[tuple[str, str]]:
    url, key = os.environ.get("SUPABASE_URL"), os.environ.get("SUPABASE_ANON_KEY")
    if url and key:
        yield url, key
        return
    from seer_devstack.stack import DevStack

    with DevStack() as local:
        yield local.url, local.anon_key


def main() -> None:
    with stack() as (url, key), SyncSeerClient(url, key) as seer, SyncSeerClient(url, key) as player:
        tag = uuid.uuid4().hex[:6]
        seer.sign_up(f"seer-{tag}@example.com", "a-long-password", display_name="Sage")
        player.sign_up(f"aria-{tag}@example.com", "a-long-password", display_name="Aria")
        aria = player.create_character(name="Aria", character_class="ranger")

        created = seer.create_session(ADVENTURE_ID, max_players=4)
        session = created.session
        print(f"Session {session.code} ({session.adventure_name}) - invite: {created.join_url}")

        with seer.connect(session.id, on_event=lambda e: print(f"  [seer] #{e.seq} {e.type}")) as lobby:
            preview = player.get_session_by_code(session.code)
            print(f"Aria sees '{preview.session.adventure_name}', can join: {preview.can_join}")
            player.join_session(session.id, character_id=aria.id)
            with player.connect(session.id, on_event=lambda e: print(f"  [aria] #{e.seq} {e.type}")) as conn:
                lobby.wait_for(lambda e: e.type == "player_joined")
                print(lobby.view())

                started = seer.start_session(session.id)
                for warning in started.warnings:
                    print("warning:", warning)
                # through the Seer's connection: it has the turns, so the reply need not re-send them
                lobby.update_game_state(current_node_id=SECOND_NODE, add_flags=["rowed_out"])
                ended = seer.end_session(session.id, outcome="completed")
                conn.wait_for_seq(seer.get_session(session.id).last_seq)
                print(f"Ended: {ended.stats.nodes_visited} nodes, {ended.stats.experience_earned} XP each")

        player.submit_feedback(session.id, rating=5, comment="More eels, please")
        print("Aria now has", player.list_my_characters()[0].experience, "XP")
        for summary in seer.iter_my_sessions():  # every page of the Seer's history, newest first
            print(f"History: {summary.code} {summary.status} ({summary.role})")


if __name__ == "__main__":
    main()
