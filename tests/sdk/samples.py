"""Contract-shaped JSON (docs/contract.md) used by the SDK unit tests."""

from __future__ import annotations

import uuid
from typing import Any

SESSION_ID = "7b0f7e2c-1d2e-4a7e-9a55-0c8f4f2d9a10"
SEER_ID = "11111111-1111-4111-8111-111111111111"
ADVENTURE_ID = "22222222-2222-4222-8222-222222222222"
NODE_ID = "33333333-3333-4333-8333-333333333333"
TS = "2026-11-25T20:09:04.123456+00:00"


def character(owner: str, name: str = "Aria", cls: str = "ranger") -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "ownerId": owner,
        "name": name,
        "class": cls,
        "level": 1,
        "experience": 0,
    }


def player(user_id: str | None = None, name: str = "Aria", status: str = "connected") -> dict[str, Any]:
    uid = user_id or str(uuid.uuid4())
    char = character(uid, name)
    return {
        "id": str(uuid.uuid4()),
        "sessionId": SESSION_ID,
        "userId": uid,
        "characterId": char["id"],
        "character": char,
        "displayName": f"{name}'s player",
        "joinedAt": TS,
        "lastActivityAt": TS,
        "leftAt": None,
        "status": status,
        "isConnected": status == "connected",
        "controlledBySeer": status == "inactive",
        "leftReason": None,
        "kickReason": None,
    }


def game_state(version: int = 0) -> dict[str, Any]:
    return {
        "inventory": [{"id": "torch", "name": "Torch", "quantity": 2, "weight": 1}],
        "variables": {"gold": 5, "door_open": False, "npc": "Mira"},
        "flags": ["met_mira"],
        "turnHistory": [],
        "combatState": None,
        "version": version,
        "currentNodeId": None,
        "visitedNodeIds": [],
    }


def session(
    status: str = "waiting", players: list[dict[str, Any]] | None = None, last_seq: int = 1
) -> dict[str, Any]:
    return {
        "id": SESSION_ID,
        "code": "H7NK4B",
        "seerId": SEER_ID,
        "seerName": "The Seer",
        "adventureId": ADVENTURE_ID,
        "adventureName": "The Sunken Lantern",
        "adventureDescription": "A short dive.",
        "status": status,
        "players": players or [],
        "maxPlayers": 6,
        "minPlayers": 1,
        "recommendedMinPlayers": 3,
        "recommendedMaxPlayers": 5,
        "currentNodeId": None,
        "visitedNodeIds": [],
        "gameState": game_state(),
        "createdAt": TS,
        "startedAt": None,
        "pausedAt": None,
        "completedAt": None,
        "endedAt": None,
        "outcome": None,
        "notes": None,
        "estimatedDurationMinutes": 60,
        "settings": {
            "allowLateJoin": False,
            "showDiceRolls": True,
            "autoResolveSimpleCombat": False,
            "enableAISeer": True,
            "voiceChatEnabled": False,
        },
        "lastSeq": last_seq,
    }


def event(seq: int, type_: str = "game_state", **fields: Any) -> dict[str, Any]:
    base = {"seq": seq, "type": type_, "sessionId": SESSION_ID, "timestamp": TS, "actor": SEER_ID}
    if type_ == "game_state" and not fields:
        fields = {"changes": {"setVariables": {"gold": seq}}, "version": seq}
    base.update(fields)
    return base
