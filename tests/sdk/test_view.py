from __future__ import annotations

from rich.console import Console

from seer_client import Session, SessionView
from seer_client._view import Row, session_text

from . import samples as s


def _session() -> Session:
    players = [s.player(name="Aria"), s.player(name="Bram <b>", status="disconnected")]
    return Session.model_validate(s.session(status="active", players=players))


def test_session_renders_as_html_table_with_escaping() -> None:
    html = _session()._repr_html_()
    assert "<table>" in html and "Aria" in html and "ranger" in html
    assert "Bram &lt;b&gt;" in html and "Bram <b>" not in html
    assert "reconnecting" in html  # a disconnected seat inside the window
    assert "H7NK4B" in html and "active" in html


def test_session_renders_as_plain_text() -> None:
    text = session_text(_session())
    lines = text.splitlines()
    assert lines[0].startswith("The Sunken Lantern  [code H7NK4B]  status=active")
    assert lines[1].split() == ["Player", "Character", "Class", "Connection", "Seat"]
    assert any("Aria" in line and "connected" in line for line in lines[3:])


def test_session_renders_with_rich() -> None:
    console = Console(width=120, record=True, color_system=None)
    console.print(_session())
    out = console.export_text()
    assert "The Sunken Lantern [H7NK4B]" in out and "Aria" in out and "reconnecting" in out


def test_empty_lobby() -> None:
    view = SessionView(title="T", code="ABCDEF", status="waiting", current_node=None, seer="Sage")
    assert "no players yet" in view._repr_html_() and "(no players yet)" in str(view)
    full = SessionView(
        title="T",
        code="C",
        status="s",
        current_node="n",
        seer="x",
        rows=[Row("a", "b", "c", "online", "connected")],
    )
    assert repr(full) == str(full)


# -- hostile names: rendered text is escaped, never interpreted (issue 13) -------------------
HOSTILE = "[/bold]\x1b[31mRed\x1b[0m\x07[link=http://x]"


def _hostile_view() -> SessionView:
    row = Row(
        name=HOSTILE, character="[bold]Bad", character_class="\x1b]0;title\x07", connection="online", seat="x"
    )
    return SessionView(
        title="[red]Lobby", code="ABCDEF", status="waiting", current_node=None, seer="[/]", rows=[row]
    )


def test_rich_view_escapes_markup_in_names() -> None:
    console = Console(width=160, record=True, color_system=None)
    console.print(_hostile_view())  # a name like "[/bold]" must not raise MarkupError
    out = console.export_text()
    assert "[/bold]" in out and "[bold]Bad" in out and "[red]Lobby" in out
    assert "\x1b" not in out and "\x07" not in out


def test_text_view_does_not_print_control_characters() -> None:
    text = str(_hostile_view())
    assert "\x1b" not in text and "\x07" not in text
    assert "[/bold]" in text and "Red" in text


def test_html_view_drops_control_characters() -> None:
    html = _hostile_view()._repr_html_()
    assert "\x1b" not in html and "\x07" not in html
