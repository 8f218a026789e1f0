from __future__ import annotations

from rich.console import Console

from seer_client import Session, SessionView
from seer_client.view import Row, session_text

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
