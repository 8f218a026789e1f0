"""Lobby/session rendering: Jupyter (``_repr_html_``), rich (optional) and plain text."""

from __future__ import annotations

import contextvars
import html
import importlib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .models import SESSION_RENDERERS

if TYPE_CHECKING:
    from ._connection import SessionConnection
    from ._lobby import LobbyState
    from .models import Session

__all__ = ["LiveDisplay", "SessionView", "clean", "display", "session_html", "session_rich", "session_text"]


@dataclass(frozen=True)
class Row:
    """One player row of a :class:`SessionView`."""

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
    rows: list[Row] = field(default_factory=list[Row])

    @classmethod
    def from_session(cls, session: Session) -> SessionView:
        """A snapshot of ``session`` as ``get_session`` returned it."""
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
        """Render a :class:`~seer_client._lobby.LobbyState` (no connection needed)."""
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


def clean(text: str | None) -> str:
    """``text`` safe to print: control and format characters (ANSI escapes, BEL, bidi
    overrides) become U+FFFD, so a name can neither drive the terminal nor reorder a line."""
    if not text:
        return ""
    return "".join("\ufffd" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text)


_BADGE = {
    "online": "#2e7d32",
    "connected": "#2e7d32",
    "reconnecting": "#ef6c00",
    "disconnected": "#ef6c00",
    "inactive": "#757575",
    "offline": "#9e9e9e",
}


def _html(view: SessionView) -> str:
    def e(text: str | None) -> str:
        return html.escape(clean(text))

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
    c = clean
    lines = [
        f"{c(view.title)}  [code {c(view.code)}]  status={c(view.status)}  node={c(view.current_node) or '-'}"
        f"  seer={c(view.seer)}" + (f"  link={c(view.connection)}" if view.connection else "")
    ]
    headers = ("Player", "Character", "Class", "Connection", "Seat")
    table = [headers] + [
        (c(r.name), c(r.character), c(r.character_class), c(r.connection), c(r.seat)) for r in view.rows
    ]
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
        from rich.text import Text
    except ImportError:  # rich is optional (extra "notebook")
        return _text(view)
    # Text objects, never markup strings: a name such as "[/bold]" is shown as typed.
    c = clean
    caption = f"status {c(view.status)} · node {c(view.current_node) or '-'} · Seer {c(view.seer)}"
    if view.connection:
        caption += f" · link {c(view.connection)}"
    table = Table(title=Text(f"{c(view.title)} [{c(view.code)}]"), caption=Text(caption))
    for header in ("Player", "Character", "Class", "Connection", "Seat"):
        table.add_column(header)
    for r in view.rows:
        color = _BADGE.get(r.connection, "white")
        table.add_row(
            Text(c(r.name)),
            Text(c(r.character)),
            Text(c(r.character_class)),
            Text.assemble(("●", color), " ", c(r.connection)),
            Text(c(r.seat)),
        )
    if not view.rows:
        table.add_row(Text("no players yet", style="italic"), "", "", "", "")
    return table


def session_html(session: Session) -> str:
    """``session`` as an HTML table (what Jupyter shows for a :class:`Session`)."""
    return _html(SessionView.from_session(session))


def session_rich(session: Session) -> Any:
    """``session`` as a rich renderable (a table; plain text when rich is missing)."""
    return _rich(SessionView.from_session(session))


def session_text(session: Session) -> str:
    """``session`` as a plain-text table."""
    return _text(SessionView.from_session(session))


# A Session renders itself through these (models.SESSION_RENDERERS): the view layer registers
# them, so the models never import the view.
SESSION_RENDERERS.update(html=session_html, rich=session_rich)


# -- live views ---------------------------------------------------------------------------------
class LiveDisplay:
    """Keeps a rendering of a connection's lobby current.

    ``update(view)`` is called with a fresh :class:`SessionView` now and after every delivered
    event, presence change and connection-status change (on the connection's event loop, after
    the callbacks already registered, which keep working). :meth:`detach` stops it.
    """

    _HOOKS = ("on_event", "on_presence_change", "on_status_change")

    def __init__(self, conn: SessionConnection, update: Callable[[SessionView], object]) -> None:
        self.conn = conn
        self._update = update
        self._previous: dict[str, Any] = {}
        self.updates: int = 0

    def attach(self) -> LiveDisplay:
        """Hook into the connection's callbacks and render once."""
        for hook in self._HOOKS:
            previous = getattr(self.conn, hook)
            self._previous[hook] = previous
            setattr(self.conn, hook, self._chain(previous))
        self.refresh()
        return self

    def detach(self) -> None:
        """Give the connection its own callbacks back; the last rendering stays as it is."""
        for hook, previous in self._previous.items():
            setattr(self.conn, hook, previous)
        self._previous.clear()

    def refresh(self) -> None:
        """Render the connection's current state now."""
        self.updates += 1
        self._update(self.conn.view())

    def _chain(self, previous: Callable[..., Any] | None) -> Callable[..., Any]:
        def hook(*args: Any) -> Any:
            result = previous(*args) if previous is not None else None
            self.refresh()
            return result

        return hook


def display(conn: SessionConnection) -> LiveDisplay:
    """In Jupyter: show the lobby and keep it updated in place (an IPython display handle).

    Needs IPython (the ``notebook`` extra); outside a notebook it prints the text view once.
    """
    try:
        ipython = importlib.import_module("IPython.display")
    except ImportError as exc:  # pragma: no cover - the notebook extra is missing
        raise RuntimeError("conn.display() needs IPython: pip install 'seer-client[notebook]'") from exc
    handle: Any = None

    def update(view: SessionView) -> None:
        nonlocal handle
        if handle is None:
            show: Callable[..., Any] = vars(ipython)["display"]
            handle = show(view, display_id=True)
        else:
            # Updates come from the SDK's thread, whose tasks inherited the context of the cell
            # that connected; an empty context makes ipykernel attribute the message to the cell
            # running now (the display id still targets the original output), which is what
            # frontends and nbclient expect.
            contextvars.Context().run(handle.update, view)

    return LiveDisplay(conn, update).attach()
