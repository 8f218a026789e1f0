"""Session rendering: Jupyter (``_repr_html_``), rich (optional) and plain text.

A live connection renders its folded :class:`~seer_client._state.SessionState` for its role
(issue 22): the Seer's dashboard (node text and choices, pending actions, the dice log with
the hidden rolls' values, initiative and whose turn, inventory, party warnings, inactive
players with the kick-or-wait choice and the players back and asking) or the player's view
(node text and choices, their character, the dice they may see, the turn order). A player's
view is built only from what a player may read: a hidden roll shows as hidden there even if
its value were known, and the Seer's prompts are not part of it.
"""

from __future__ import annotations

import contextvars
import html
import importlib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from .models import SESSION_RENDERERS, InventoryItem

if TYPE_CHECKING:
    from ._connection import SessionConnection
    from ._lobby import LobbyState
    from ._state import SessionState
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


@dataclass(frozen=True)
class Section:
    """A titled list of lines under the players table (node, dice, combat, prompts...)."""

    title: str
    lines: list[str]


@dataclass(frozen=True, repr=False)
class SessionView:
    """A snapshot of a lobby or running session, renderable anywhere.

    ``role`` is whose view it is (``seer``: the dashboard; ``player``: the player's view;
    empty for a plain session snapshot); ``sections`` follow the players table.
    """

    title: str
    code: str
    status: str
    current_node: str | None
    seer: str
    connection: str | None = None
    rows: list[Row] = field(default_factory=list[Row])
    role: str = ""
    sections: list[Section] = field(default_factory=list[Section])

    def section(self, title: str) -> Section | None:
        """The section called ``title``, if the view has it."""
        return next((sec for sec in self.sections if sec.title == title), None)

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
        """Render a live connection for its role: its session state plus the link status."""
        return cls.from_state(conn.state, connection=str(conn.status))

    @classmethod
    def from_state(cls, state: SessionState, *, connection: str | None = None) -> SessionView:
        """The Seer's dashboard or a player's view of a :class:`~seer_client._state.SessionState`
        (its ``role`` decides)."""
        base = cls.from_lobby(state.lobby, connection=connection)
        seer = state.role == "seer"
        sections = _seer_sections(state) if seer else _player_sections(state)
        return cls(
            title=base.title,
            code=base.code,
            status=base.status,
            current_node=base.current_node,
            seer=base.seer,
            connection=connection,
            rows=base.rows,
            role="seer" if seer else "player",
            sections=[sec for sec in sections if sec.lines],
        )

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


# -- the sections of the two views --------------------------------------------------------------
def _node_section(state: SessionState) -> Section:
    node = state.current_node
    if node is None:
        return Section("Node", [])
    lines = [f"{node.title}" + (f" ({node.type})" if node.type else "")]
    lines += [line for line in node.body.splitlines() if line.strip()]
    lines += [f"→ {choice.label}" for choice in node.choices]
    return Section("Node", lines)


def _who(state: SessionState, user_id: str | None, character_id: str | None) -> str:
    for seat in state.seats.values():
        if character_id and seat.character_id == character_id:
            return seat.character_name or seat.display_name or "?"
    if user_id and user_id == state.lobby.seer_id:
        return "Seer"
    for seat in state.seats.values():
        if user_id and seat.user_id == user_id:
            return seat.character_name or seat.display_name or "?"
    return "?"


def _dice_section(state: SessionState, *, seer: bool, limit: int = 10) -> Section:
    lines: list[str] = []
    for entry in list(state.dice)[-limit:]:
        roll = entry.roll
        who = _who(state, roll.roller_id, roll.character_id)
        what = f"{who}: {roll.expression}" + (f" ({roll.reason})" if roll.reason else "")
        # a player's view shows a hidden roll as hidden, whatever the state holds
        if roll.hidden and not seer:
            result = "hidden"
        elif roll.total is None:
            result = "hidden (value not loaded)" if roll.hidden else "?"
        else:
            dice = ", ".join(str(d.value) if d.kept else f"({d.value})" for d in roll.dice or [])
            result = f"{roll.total}" + (f" [{dice}]" if dice else "")
            if roll.hidden:
                result = f"hidden: {result}"
        lines.append(f"{what} = {result}")
    return Section("Dice", lines)


def _combat_section(state: SessionState) -> Section:
    combat = state.combat
    if not combat:
        return Section("Combat", [])
    order = cast(list[dict[str, Any]], combat.get("order") or [])
    turn = combat.get("turn")
    lines = [f"round {combat.get('round')}"]
    for i, fighter in enumerate(order):
        mark = "▶" if i == turn else " "
        lines.append(f"{mark} {fighter.get('name')} (initiative {fighter.get('initiative')})")
    return Section("Combat", lines)


def _assigned_to(item: InventoryItem) -> str | None:
    extra = item.model_extra or {}
    value = extra.get("assignedTo")
    return value if isinstance(value, str) else None


def _item_line(state: SessionState, item: InventoryItem) -> str:
    line = item.name + (f" x{item.quantity}" if item.quantity is not None else "")
    holder = _assigned_to(item)
    if holder:
        seat = next((p for p in state.seats.values() if holder in (p.id, p.character_id)), None)
        line += f" → {(seat.character_name if seat else None) or holder[:8]}"
    return line


def _seer_sections(state: SessionState) -> list[Section]:
    game = state.game
    prompts: list[str] = []
    for request in state.readmit_requests.values():
        name = request.character_name or _who(state, request.user_id, request.character_id)
        prompts.append(f"{name} is back and asks to rejoin: readmit_player or kick_player")
    for seat in state.inactive_seats():
        if seat.id not in state.readmit_requests:
            name = seat.character_name or seat.display_name or seat.id[:8]
            prompts.append(
                f"{name} is inactive (you play the character): kick_player, or wait (readmit_player)"
            )
    pending = [
        f"{a.character_name or '?'}: "
        + (f"choice '{a.choice.label}'" if a.choice else (a.text or ""))
        + (" (by the Seer)" if a.by_seer else "")
        for a in state.pending_actions
    ]
    inventory = [_item_line(state, item) for item in game.inventory]
    warnings = list(state.party_warnings())
    if state.status == "paused" and state.paused_while_seer_away:
        warnings.append("paused while you were away: resume_session when ready")
    st = state.settings
    onoff = {True: "on", False: "off"}
    settings = [
        f"max {state.max_players} players, late join {onoff[st.allow_late_join]}, "
        f"dice shown {onoff[st.show_dice_rolls]}",
        f"auto-resolve {onoff[st.auto_resolve_simple_combat]}, AI Seer {onoff[st.enable_ai_seer]}, "
        f"voice chat {onoff[st.voice_chat_enabled]}",
    ]
    facts = [f"version {game.version}", f"seq {state.seq}"]
    if game.flags:
        facts.append("flags: " + ", ".join(game.flags))
    if game.variables:
        facts.append("variables: " + ", ".join(f"{k}={v}" for k, v in game.variables.items()))
    return [
        Section("Prompts", prompts),
        Section("Warnings", warnings),
        _node_section(state),
        Section("Pending actions", pending),
        _combat_section(state),
        _dice_section(state, seer=True),
        Section("Inventory", inventory),
        Section("State", facts),
        Section("Settings", settings),
    ]


def _player_sections(state: SessionState) -> list[Section]:
    me = state.my_seat()
    mine: list[str] = []
    if me is not None:
        char = me.character
        mine.append(
            f"{me.character_name or '?'}"
            + (f", {char.character_class}" if char and char.character_class else "")
            + (f", level {char.level}" if char else "")
            + f" ({me.status})"
        )
        for item in state.game.inventory:
            if _assigned_to(item) in (me.id, me.character_id):
                mine.append(
                    f"carries {item.name}" + (f" x{item.quantity}" if item.quantity is not None else "")
                )
    notices: list[str] = []
    if not state.seer_connected:
        notices.append("The Seer is away" + (": the game is paused" if state.status == "paused" else ""))
    elif state.status == "paused" and state.paused_while_seer_away:
        notices.append("The game paused while the Seer was away; the Seer is back")
    if me is not None and me.status == "inactive":
        notices.append("Your seat is inactive: the Seer decides whether you rejoin")
    return [
        Section("Notices", notices),
        _node_section(state),
        Section("You", mine),
        _combat_section(state),
        _dice_section(state, seer=False),
    ]


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
    sections = "".join(
        f"<div><b>{e(sec.title)}</b><ul>"
        + "".join(f"<li>{e(line)}</li>" for line in sec.lines)
        + "</ul></div>"
        for sec in view.sections
    )
    return (
        head
        + "<table><thead><tr><th>Player</th><th>Character</th><th>Class</th>"
        + "<th>Connection</th><th>Seat</th></tr></thead><tbody>"
        + body
        + "</tbody></table>"
        + sections
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
    for sec in view.sections:
        lines.append("")
        lines.append(f"{c(sec.title)}:")
        lines.extend(f"  {c(line)}" for line in sec.lines)
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
    if not view.sections:
        return table
    from rich.console import Group

    parts: list[Any] = [table]
    for sec in view.sections:
        parts.append(Text(c(sec.title), style="bold"))
        parts.extend(Text("  " + c(line)) for line in sec.lines)
    return Group(*parts)


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
