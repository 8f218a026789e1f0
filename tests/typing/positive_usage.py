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


def typed_handlers(client: SeerClient, blocking: SyncSeerClient, session_id: str) -> None:
    """on_event takes a SessionEvent handler; options and handlers are typed (ConnectionOptions)."""
    from seer_client import BaseEvent, ConnectionOptions, NodeChangeEvent

    def on_event(event: SessionEvent) -> None:
        player_of(event)

    def on_any(event: BaseEvent) -> None:  # a broader handler is fine too
        print(event.seq)

    def on_node(event: NodeChangeEvent) -> None:
        print(event.node_id)

    options: ConnectionOptions = {"heartbeat_interval": 5.0, "on_node_change": on_node}
    client.connect(session_id, **options)
    client.connect(session_id, on_event=on_event, backoff_max=30.0)
    client.connect(session_id, on_event=on_any, since_seq=None, rekey_spread=0.5)
    conn = blocking.connect(session_id, on_event=on_event, on_node_change=on_node)
    conn.on_event = on_any
    conn.reconnect()
    discarded: int = conn.discarded_broadcasts + conn.rekeys + conn.conflicts
    print(discarded, conn.lobby.session_id, conn.core.last_seq)
