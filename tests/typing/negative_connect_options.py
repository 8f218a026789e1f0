"""NEGATIVE type-check fixture: every marked line must FAIL mypy --strict and pyright
(tests/test_typing.py checks each one is reported, on its line, by both).

connect() and SessionConnection() take typed options and handlers (ConnectionOptions):
a misspelt option, a handler of the wrong event type and a wrongly typed value are errors,
on the async client and the blocking one alike.
"""

from __future__ import annotations

from seer_client import NodeChangeEvent, SeerClient, SessionConnection
from seer_client.sync import SeerClient as SyncSeerClient


def on_node(event: NodeChangeEvent) -> None:
    print(event.node_id)


def use(client: SeerClient, blocking: SyncSeerClient, sid: str) -> None:
    client.connect(sid, on_player_join=print)  # ERROR: misspelt handler
    client.connect(sid, on_player_joined=on_node)  # ERROR: handler of the wrong event type
    client.connect(sid, backoff_max="30")  # ERROR: a string for a float
    client.connect(sid, heartbeat_intervall=5)  # ERROR: misspelt option
    blocking.connect(sid, on_player_join=print)  # ERROR: misspelt handler (blocking)
    blocking.connect(sid, on_game_state=on_node)  # ERROR: wrong event type (blocking)
    blocking.connect(sid, max_reconnect_attempts="5")  # ERROR: a string for an int (blocking)
    SessionConnection(client, sid, on_session_ended=on_node)  # ERROR: wrong event type
    SessionConnection(client, sid, rekey_spred=1.0)  # ERROR: misspelt option
