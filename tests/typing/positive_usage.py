"""POSITIVE type-check fixture: must pass mypy --strict and pyright strict (tests/test_typing.py).

It is type-checked, never run: the blocking and async clients are typed method by method,
events narrow on ``type``, statuses are literals or ``Unknown``.
"""

from __future__ import annotations

from seer_client import (
    PlayerJoinedEvent,
    SeerClient,
    SessionEvent,
    SessionPlayer,
    Unknown,
)
from seer_client.models import SessionStatus
from seer_client.sync import SeerClient as SyncSeerClient
from seer_client.sync import SyncSessionConnection


def player_of(event: SessionEvent) -> SessionPlayer | None:
    if event.type == "player_joined":
        return event.player  # narrowed to PlayerJoinedEvent
    if isinstance(event, PlayerJoinedEvent):
        return event.player
    return None


def status_text(status: SessionStatus | Unknown) -> str:
    if isinstance(status, Unknown):
        return f"unknown status {status}"
    if status == "waiting":
        return "lobby"
    return status


def blocking(client: SyncSeerClient, adventure_id: str) -> str:
    created = client.create_session(adventure_id, max_players=4)
    code: str = created.session.code
    conn: SyncSessionConnection = client.connect(created.session.id)
    with conn:
        for event in conn.events():
            player_of(event)
            break
        last: int = conn.last_seq
    return f"{code}:{last}"


async def asynchronous(client: SeerClient, session_id: str) -> int:
    session = await client.get_session(session_id)
    async with client.connect(session.id) as conn:
        async for event in conn.events():
            return event.seq
    return 0
