"""Realtime (/realtime/v1) through realtime-py as the supabase package ships it (vsn 1.0.0)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest
from realtime import RealtimeSubscribeStates
from realtime.exceptions import RealtimeHTTPError

from seer_devstack.stack import DevStack

from .conftest import ADVENTURE_ID, Clients, Target, User, wait_for

pytestmark = pytest.mark.devstack


async def _session_with_player(clients: Clients) -> tuple[User, User, str]:
    seer = await clients.user("seer")
    player = await clients.user("player")
    sid = (await seer.client.rpc("create_session", {"p_adventure_id": ADVENTURE_ID}).execute()).data["id"]
    char = (
        await player.client.rpc("create_character", {"p_name": "Fen", "p_class": "ranger"}).execute()
    ).data
    await player.client.rpc("join_session", {"p_session_id": sid, "p_character_id": char["id"]}).execute()
    return seer, player, sid


async def _topic(user: User, sid: str) -> str:
    """The session's current keyed topic session:<id>:<key>, as a participant reads it."""
    reply = await user.client.rpc("session_topic", {"p_session_id": sid}).execute()
    topic: str = reply.data["topic"]
    return topic


class Probe:
    """Collects what a channel reports; callbacks stay synchronous and never raise."""

    def __init__(self) -> None:
        self.statuses: list[tuple[str, str | None]] = []
        self.broadcasts: list[dict[str, Any]] = []
        self.system: list[Any] = []

    def on_status(self, status: RealtimeSubscribeStates, err: Exception | None) -> None:
        self.statuses.append((str(status.value), str(err) if err else None))

    def on_broadcast(self, payload: Any) -> None:
        self.broadcasts.append(dict(payload))


async def _subscribe(user: User, topic: str, **config: Any) -> tuple[Any, Probe]:
    await user.client.realtime.set_auth(user.access_token)
    probe = Probe()
    cfg: dict[str, Any] = {
        "private": True,
        "broadcast": {"self": True, "ack": True},
        "presence": {"key": user.id, "enabled": True},
    }
    cfg.update(config)
    channel = user.client.channel(topic, {"config": cfg})  # type: ignore[typeddict-item]
    channel.on_broadcast("*", probe.on_broadcast)
    await channel.subscribe(probe.on_status)
    return channel, probe


async def test_private_channel_participants_join_strangers_are_refused(clients: Clients) -> None:
    seer, player, sid = await _session_with_player(clients)
    tp = await _topic(seer, sid)
    stranger = await clients.user("stranger")
    _, seer_probe = await _subscribe(seer, tp)
    _, player_probe = await _subscribe(player, tp)
    assert seer_probe.statuses == [("SUBSCRIBED", None)]
    assert player_probe.statuses == [("SUBSCRIBED", None)]

    channel, probe = await _subscribe(stranger, tp)
    assert probe.statuses[0][0] == "CHANNEL_ERROR"
    reason = json.loads(probe.statuses[0][1] or "{}")["reason"]
    assert reason == f"Unauthorized: You do not have permissions to read from this Channel topic: {tp}"
    await stranger.client.remove_channel(channel)  # stop realtime-py's endless rejoin


async def test_realtime_send_from_sql_reaches_both_clients_in_order(
    clients: Clients, db: asyncpg.Pool
) -> None:
    seer, player, sid = await _session_with_player(clients)
    tp = await _topic(seer, sid)
    _, a = await _subscribe(seer, tp)
    _, b = await _subscribe(player, tp)
    topic = tp
    async with db.acquire() as conn:
        for i in range(5):  # separate transactions
            await conn.execute(
                "select realtime.send($1::jsonb, 'tick', $2, true)", json.dumps({"n": i}), topic
            )
        async with conn.transaction():  # several in one transaction keep their order too
            for i in range(5, 10):
                await conn.execute(
                    "select realtime.send($1::jsonb, 'tick', $2, true)", json.dumps({"n": i}), topic
                )
        # A public send never reaches a private channel.
        await conn.execute("select realtime.send('{\"n\": -1}'::jsonb, 'tick', $1, false)", topic)
        await conn.execute("select realtime.send('{\"n\": 10}'::jsonb, 'tick', $1, true)", topic)
    await wait_for(lambda: len(a.broadcasts) >= 11 and len(b.broadcasts) >= 11, what="11 broadcasts each")
    for probe in (a, b):
        ticks = [m for m in probe.broadcasts if m["event"] == "tick"]
        assert [m["payload"]["n"] for m in ticks] == list(range(11))
        for m in ticks:
            assert m["meta"]["id"] == m["payload"]["id"]  # realtime.send adds payload.id = row id


async def test_client_broadcast_self_ack_and_presence_between_two_clients(clients: Clients) -> None:
    seer, player, sid = await _session_with_player(clients)
    tp = await _topic(seer, sid)
    seer_ch, a = await _subscribe(seer, tp)
    player_ch, b = await _subscribe(player, tp)

    await seer_ch.track({"role": "seer"})
    await player_ch.track({"role": "player"})
    await wait_for(
        lambda: (
            set(seer_ch.presence_state()) == {seer.id, player.id}
            and set(player_ch.presence_state()) == {seer.id, player.id}
        ),
        what="both presences",
    )
    assert seer_ch.presence_state()[player.id][0]["role"] == "player"

    # Broadcast on a public room: self and ack work between two clients.
    room = f"room-{sid}"
    pub_a, ra = await _subscribe(seer, room, private=False)
    pub_b, rb = await _subscribe(player, room, private=False)
    await pub_b.send_broadcast("move", {"to": "north"})
    await wait_for(lambda: any(m["event"] == "move" for m in ra.broadcasts), what="broadcast to the seer")
    await wait_for(lambda: any(m["event"] == "move" for m in rb.broadcasts), what="self broadcast")
    assert [m["payload"] for m in ra.broadcasts if m["event"] == "move"] == [{"to": "north"}]
    # ...but on the private session topic only the database broadcasts (no INSERT policy for
    # extension 'broadcast'): Realtime drops a participant's broadcast silently.
    await player_ch.send_broadcast("move", {"to": "south"})
    await seer_ch.send_broadcast("move", {"to": "west"})
    await asyncio.sleep(0.3)
    assert not [m for m in a.broadcasts + b.broadcasts if m["event"] == "move"]

    await player.client.remove_channel(player_ch)  # leaving drops the player's presence
    await wait_for(lambda: set(seer_ch.presence_state()) == {seer.id}, what="leave diff")
    for user, ch in ((seer, pub_a), (player, pub_b)):
        await user.client.remove_channel(ch)


async def test_dropped_socket_reconnects_and_presence_leaves(
    clients: Clients, devstack_only: DevStack, db: asyncpg.Pool
) -> None:
    seer, player, sid = await _session_with_player(clients)
    tp = await _topic(seer, sid)
    seer_ch, _a = await _subscribe(seer, tp)
    player_ch, b = await _subscribe(player, tp)
    await player_ch.track({"role": "player"})
    await wait_for(lambda: player.id in seer_ch.presence_state(), what="player presence")

    dropped = await devstack_only.realtime.drop_sockets(player.id)
    assert dropped == 1
    await wait_for(lambda: player.id not in seer_ch.presence_state(), what="leave diff after the drop")
    # realtime-py reconnects and rejoins on its own.
    await wait_for(lambda: b.statuses.count(("SUBSCRIBED", None)) >= 2, within=8, what="rejoin")
    async with db.acquire() as conn:
        await conn.execute("select realtime.send('{\"after\": true}'::jsonb, 'x', $1, true)", tp)
    await wait_for(lambda: any(m["event"] == "x" for m in b.broadcasts), what="broadcast after rejoin")


async def test_postgres_changes_get_a_clear_error(clients: Clients, devstack_only: DevStack) -> None:
    user = await clients.user("pg")
    await user.client.realtime.set_auth(user.access_token)
    probe = Probe()
    channel = user.client.channel("anything")
    channel.on_postgres_changes("*", lambda p: None, table="sessions")
    await channel.subscribe(probe.on_status)
    assert probe.statuses[0][0] == "CHANNEL_ERROR"
    assert "devstack does not support postgres_changes" in (probe.statuses[0][1] or "")
    await user.client.remove_channel(channel)


async def test_token_refresh_on_an_open_socket(clients: Clients, database_url: str, target: Target) -> None:
    if not target.is_devstack:
        pytest.skip("needs a stack with a short JWT expiry")
    # Tokens live 12 s here; supabase-py refreshes 10 s before expiry and pushes the new
    # token to joined channels. Without that push the server would close the channel at exp.
    async with DevStack(database_url=database_url, jwt_expiry=12, bcrypt_rounds=4) as short:
        short_clients = Clients(
            Target(short.url, short.anon_key, short.service_role_key, short.jwt_secret, short.db_url, short)
        )
        try:
            _seer, player, sid = await _session_with_player(short_clients)
            tp = await _topic(_seer, sid)
            channel, probe = await _subscribe(player, tp)
            hub = short._gateway.realtime  # type: ignore[union-attr]
            first_token = player.access_token
            await asyncio.sleep(13.5)  # past the first token's expiry
            server_ch = next(ch for c in hub.connections for ch in c.channels.values())
            assert server_ch.token != first_token
            assert probe.statuses == [("SUBSCRIBED", None)]
            async with short._gateway.pool.acquire() as conn:  # type: ignore[union-attr]
                await conn.execute("select realtime.send('{\"k\": 1}'::jsonb, 'late', $1, true)", tp)
            await wait_for(lambda: any(m["event"] == "late" for m in probe.broadcasts), what="late broadcast")
            assert channel.is_joined
        finally:
            await short_clients.close()


async def test_broadcast_replay_on_private_channels(clients: Clients, db: asyncpg.Pool) -> None:
    seer, _player, sid = await _session_with_player(clients)
    tp = await _topic(seer, sid)
    topic = tp
    async with db.acquire() as conn:
        since = int((await conn.fetchval("select extract(epoch from now())")) * 1000) - 1000
        for i in range(30):
            await conn.execute(
                "select realtime.send($1::jsonb, 'old', $2, true)", json.dumps({"n": i}), topic
            )
    _, probe = await _subscribe(
        seer, topic, broadcast={"self": False, "ack": False, "replay": {"since": since, "limit": 100}}
    )
    await wait_for(lambda: len([m for m in probe.broadcasts if m["event"] == "old"]) >= 25, what="replay")
    old = [m for m in probe.broadcasts if m["event"] == "old"]
    assert [m["payload"]["n"] for m in old] == list(range(5, 30))  # the newest 25, oldest first
    assert all(m["meta"]["replayed"] is True and m["meta"]["id"] == m["payload"]["id"] for m in old)
    async with db.acquire() as conn:
        await conn.execute("select realtime.send('{\"n\": 99}'::jsonb, 'new', $1, true)", topic)
    await wait_for(lambda: any(m["event"] == "new" for m in probe.broadcasts), what="live after replay")
    live = next(m for m in probe.broadcasts if m["event"] == "new")
    assert "replayed" not in live["meta"]

    public = seer.client.channel(f"room-{sid}", {"config": {"broadcast": {"replay": {"since": since}}}})  # type: ignore[typeddict-item]
    p2 = Probe()
    await public.subscribe(p2.on_status)
    assert p2.statuses[0][0] == "CHANNEL_ERROR"
    assert "UnableToReplayMessages: Replay is not allowed for public channels" in (p2.statuses[0][1] or "")
    await seer.client.remove_channel(public)


async def test_http_send_rest_broadcast(clients: Clients) -> None:
    seer, player, sid = await _session_with_player(clients)
    tp = await _topic(seer, sid)
    stranger = await clients.user("stranger")
    seer_ch, a = await _subscribe(seer, tp)
    player_ch, _b = await _subscribe(player, tp)
    room_ch, r = await _subscribe(seer, f"room-{sid}", private=False)
    player_room = player.client.channel(f"room-{sid}", {"config": {"private": False}})  # type: ignore[typeddict-item]
    await player_room.http_send("shout", {"via": "http"})
    await wait_for(lambda: any(m["event"] == "shout" for m in r.broadcasts), what="http_send broadcast")
    assert next(m for m in r.broadcasts if m["event"] == "shout")["payload"] == {"via": "http"}
    # A participant may not write broadcasts to the private session topic (checked per request).
    with pytest.raises(RealtimeHTTPError) as refused:
        await player_ch.http_send("shout", {"via": "participant"})
    assert refused.value.status == 403
    await seer.client.remove_channel(room_ch)

    await stranger.client.realtime.set_auth(stranger.access_token)
    stranger_ch = stranger.client.channel(tp, {"config": {"private": True}})  # type: ignore[typeddict-item]
    with pytest.raises(RealtimeHTTPError) as err:
        await stranger_ch.http_send("shout", {"via": "stranger"})
    assert err.value.status == 403
    await asyncio.sleep(0.2)
    assert not any(m["payload"].get("via") in ("stranger", "participant") for m in a.broadcasts)
    assert seer_ch.is_joined
