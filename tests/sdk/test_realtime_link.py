"""The realtime-py internals RealtimeLink relies on still exist (fails loudly on a rename)."""

from __future__ import annotations

import realtime
from realtime import AsyncRealtimeClient

from seer_client._realtime_link import PRIVATE_CHANNEL_ATTRS, PRIVATE_SOCKET_ATTRS, JoinRefused


def test_every_private_realtime_py_attribute_still_exists() -> None:
    # Constructing a client and a channel opens no socket.
    socket = AsyncRealtimeClient("http://127.0.0.1:9/realtime/v1", token="anon", auto_reconnect=False)
    channel = socket.channel("session:x", {"config": {"private": True}})
    missing = [f"AsyncRealtimeClient.{n}" for n in PRIVATE_SOCKET_ATTRS if not hasattr(socket, n)]
    missing += [f"AsyncRealtimeChannel.{n}" for n in PRIVATE_CHANNEL_ATTRS if not hasattr(channel, n)]
    assert not missing, (
        f"realtime-py {getattr(realtime, '__version__', '?')} renamed internals that "
        f"seer_client/_realtime_link.py uses: {missing}; adapt RealtimeLink before upgrading"
    )
    # The shapes the adapter relies on, not only the names.
    assert isinstance(socket.send_buffer, list)
    assert socket._listen_task is None and socket._heartbeat_task is None
    assert callable(socket._remove_channel)
    assert isinstance(channel.messages_waiting_for_ack, dict)
    assert isinstance(channel._push_buffer, list) and isinstance(channel._background_tasks, set)
    assert callable(channel.rejoin_timer.reset) and callable(channel.join_push.destroy)


def test_join_refusals_that_a_token_refresh_may_cure() -> None:
    assert JoinRefused("Unauthorized: You do not have permissions", "CHANNEL_ERROR").is_auth
    assert JoinRefused("InvalidJWTToken: Token has expired 3 seconds ago", "CHANNEL_ERROR").is_auth
    assert not JoinRefused("Client presence rate limit exceeded", "CHANNEL_ERROR").is_auth
