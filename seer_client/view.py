"""Lobby/session rendering: Jupyter (``_repr_html_``), rich (optional) and plain text."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .connection import SessionConnection
    from .lobby import LobbyState
    from .models import Session

__all__ = ["SessionView", "session_html", "session_rich", "session_text"]


@dataclass(frozen=True)
class Row:
    name: str
    character: str
    character_class: str
    connection: str
    seat: str


@dataclass(frozen=True, repr=False)
class SessionView:
    """A snapshot of a lobby or running session, renderable anywhere."""

    title: str
    code: str
    status: str
    current_node: str | None
    seer: str
    connection: str | None = None
    rows: list[Row] = field(default_factory=list)

    @classmethod
    def from_session(cls, session: Session) -> SessionView:
        rows = [
            Row(
                name=p.display_name or p.user_id[:8],
                character=p.character_name or p.character_id[:8],
                character_class=(p.character.character_class if p.character else None) or "",
                connection={"connected": "connected", "disconnected": "reconnecting"}.get(p.status, p.status),
                seat=p.status,
            )
            for p in session.players
        ]
        return cls(
            title=session.adventure_name or session.adventure_id,
            code=session.code,
            status=str(session.status),
            current_node=session.current_node.title if session.current_node else session.current_node_id,
            seer=session.seer_name or session.seer_id[:8],
            rows=rows,
        )

    @classmethod
    def from_connection(cls, conn: SessionConnection) -> SessionView:
        """Render a live connection: its lobby state plus the link status."""
        return cls.from_lobby(conn.lobby, connection=str(conn.status))

    @classmethod
    def from_lobby(cls, lobby: LobbyState, *, connection: str | None = None) -> SessionView:
        """Render a :class:`~seer_client.lobby.LobbyState` (no connection needed)."""
        rows: list[Row] = []
        seer_state = "offline"
        for entry in lobby.presence():
            if entry.role == "seer":
                seer_state = entry.state
                continue
            seat = lobby.seats.get(entry.player_id or "")
            rows.append(
                Row(
                    name=entry.display_name or entry.user_id[:8],
                    character=entry.character_name or (entry.character_id or "")[:8],
                    character_class=(seat.character.character_class if seat and seat.character else None)
                    or "",
                    connection=entry.state,
                    seat=entry.seat_status or "",
                )
            )
        return cls(
            title=lobby.adventure_name or lobby.session_id,
            code=lobby.code or "",
            status=lobby.session_status or "",
            current_node=lobby.current_node_title or lobby.current_node_id,
            seer=f"{lobby.seer_name or (lobby.seer_id or '')[:8]} ({seer_state})",
            connection=connection,
            rows=rows,
        )

    def _repr_html_(self) -> str:
        return _html(self)

    def __rich__(self) -> Any:
        return _rich(self)

    def __str__(self) -> str:
        return _text(self)

    def __repr__(self) -> str:
        return _text(self)


_BADGE = {
    "online": "#2e7d32",
    "connected": "#2e7d32",
    "reconnecting": "#ef6c00",
    "disconnected": "#ef6c00",
    "inactive": "#757575",
    "offline": "#9e9e9e",
}


def _html(view: SessionView) -> str:
    e = html.escape
    head = (
        f"<div><b>{e(view.title)}</b> &middot; code <code>{e(view.code)}</code> &middot; "
        f"status <b>{e(view.status)}</b> &middot; node <code>{e(view.current_node or '-')}</code>"
        f" &middot; Seer {e(view.seer)}"
        + (f" &middot; link <i>{e(view.connection)}</i>" if view.connection else "")
        + "</div>"
    )
    body = "".join(
        "<tr>"
        f"<td>{e(r.name)}</td><td>{e(r.character)}</td><td>{e(r.character_class)}</td>"
        f"<td><span style='color:{_BADGE.get(r.connection, '#000')}'>&#9679;</span> {e(r.connection)}</td>"
        f"<td>{e(r.seat)}</td></tr>"
        for r in view.rows
    )
    if not view.rows:
        body = "<tr><td colspan='5'><i>no players yet</i></td></tr>"
    return (
        head
        + "<table><thead><tr><th>Player</th><th>Character</th><th>Class</th>"
        + "<th>Connection</th><th>Seat</th></tr></thead><tbody>"
        + body
        + "</tbody></table>"
    )


def _text(view: SessionView) -> str:
    lines = [
        f"{view.title}  [code {view.code}]  status={view.status}  node={view.current_node or '-'}"
        f"  seer={view.seer}" + (f"  link={view.connection}" if view.connection else "")
    ]
    headers = ("Player", "Character", "Class", "Connection", "Seat")
    table = [headers] + [(r.name, r.character, r.character_class, r.connection, r.seat) for r in view.rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(headers))]
    for n, row in enumerate(table):
        lines.append("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    if not view.rows:
        lines.append("(no players yet)")
    return "\n".join(lines)


def _rich(view: SessionView) -> Any:
    try:
        from rich.table import Table
    except ImportError:  # rich is optional (extra "notebook")
        return _text(view)
    caption = f"status {view.status} · node {view.current_node or '-'} · Seer {view.seer}"
    if view.connection:
        caption += f" · link {view.connection}"
    table = Table(title=f"{view.title} [{view.code}]", caption=caption)
    for header in ("Player", "Character", "Class", "Connection", "Seat"):
        table.add_column(header)
    for r in view.rows:
        color = _BADGE.get(r.connection, "white")
        table.add_row(r.name, r.character, r.character_class, f"[{color}]●[/] {r.connection}", r.seat)
    return table


def session_html(session: Session) -> str:
    return _html(SessionView.from_session(session))


def session_rich(session: Session) -> Any:
    return _rich(SessionView.from_session(session))


def session_text(session: Session) -> str:
    return _text(SessionView.from_session(session))
