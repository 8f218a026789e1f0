"""Generates ``seer_client/_sync_api.py``: the typed blocking classes, one method per async method.

Run ``python -m seer_client._sync_gen`` after changing a public method of
:class:`seer_client.SeerClient` or :class:`seer_client.SessionConnection`;
tests/sdk/test_sync_api.py regenerates the module and fails when the checked-in copy differs.
Signatures (argument names, kinds, defaults, annotations) are copied from the async classes;
what the blocking side returns instead is decided by :data:`RETURNS`.
"""

from __future__ import annotations

import builtins
import collections.abc
import inspect
import re
import sys
import typing
from pathlib import Path

OUT = Path(__file__).with_name("_sync_api.py")

#: Async return annotation -> the blocking one, and how the value is wrapped.
RETURNS: dict[str, tuple[str, str]] = {
    "SessionConnection": ("SyncSessionConnection", "SyncSessionConnection({})"),
    "SeerClient": ("SyncSeerClient", "SyncSeerClient({})"),
    "AsyncSeerClient": ("SyncSeerClient", "SyncSeerClient({})"),
    "AsyncIterator[BaseEvent]": ("Iterator[BaseEvent]", "SyncIterator({})"),
    "AsyncIterator[SessionEvent]": ("Iterator[SessionEvent]", "SyncIterator({})"),
    "AsyncIterator[SessionSummary]": ("Iterator[SessionSummary]", "SyncIterator({})"),
    "AsyncIterator[DiceRoll]": ("Iterator[DiceRoll]", "SyncIterator({})"),
    "AsyncIterator[AdventureSummary]": ("Iterator[AdventureSummary]", "SyncIterator({})"),
}
#: Public instance attributes (not methods) that the blocking classes expose as properties.
#: Types come from the ``__init__`` parameter of the same name when there is one.
ATTRIBUTES: dict[str, dict[str, str | None]] = {
    "AsyncSeerClient": {
        "supabase": "AsyncClient",
        "url": "str",
        "join_url_base": "str",
    },
}
#: Classes whose public attributes are their class-level annotations (declared once, in the
#: class; tests/test_typing.py checks the blocking facade has every one of them). Callbacks
#: (settable) are the keys of :class:`seer_client.Handlers`.
DECLARED = {"SessionConnection"}
#: Settable attributes (callbacks): every ``on_*`` parameter of ``__init__``.
SETTABLE_PREFIX = "on_"
#: Methods the blocking classes define by hand (context managers, close, iteration).
SKIP = {"close", "open"}
_NAME = re.compile(r"(?<![.\w'\"])[A-Za-z_][\w.]*")


def _names(text: str) -> set[str]:
    """The top-level names an annotation refers to (``uuid.UUID`` -> ``uuid``)."""
    return {m.split(".")[0] for m in _NAME.findall(text)}


def _public_methods(cls: type) -> list[tuple[str, typing.Any]]:
    found: list[tuple[str, typing.Any]] = []
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") or name in SKIP:
            continue
        raw = inspect.getattr_static(cls, name)
        if isinstance(raw, property):
            found.append((name, raw))
        elif inspect.isfunction(member) or isinstance(raw, classmethod | staticmethod):
            found.append((name, typing.cast(typing.Any, raw)))
    return sorted(found)


def _sig(fn: typing.Any, *, drop_self: bool = True) -> inspect.Signature:
    sig = inspect.signature(fn, eval_str=False)
    params = list(sig.parameters.values())
    if drop_self and params and params[0].name in ("self", "cls"):
        params = params[1:]
    return sig.replace(parameters=params)


def _param_text(p: inspect.Parameter) -> str:
    text = p.name
    if p.kind is p.VAR_POSITIONAL:
        text = "*" + text
    elif p.kind is p.VAR_KEYWORD:
        text = "**" + text
    if p.annotation is not p.empty:
        text += f": {p.annotation}"
    if p.default is not p.empty:
        text += f" = {p.default!r}"
    return text


def _params(sig: inspect.Signature) -> str:
    out: list[str] = []
    star_done = False
    for p in sig.parameters.values():
        if p.kind is p.KEYWORD_ONLY and not star_done:
            out.append("*")
            star_done = True
        if p.kind is p.VAR_POSITIONAL:
            star_done = True
        out.append(_param_text(p))
    return ", ".join(["self", *out])


def _call_args(sig: inspect.Signature) -> str:
    out: list[str] = []
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            out.append(f"*{p.name}")
        elif p.kind is p.VAR_KEYWORD:
            out.append(f"**{p.name}")
        elif p.kind is p.KEYWORD_ONLY:
            out.append(f"{p.name}={p.name}")
        else:
            out.append(p.name)
    return ", ".join(out)


def _doc(fn: typing.Any, fallback: str) -> str:
    doc = inspect.getdoc(fn) or fallback
    first = doc.strip().split("\n\n")[0].replace("\n", " ").replace('"""', "'''")
    return first


def _method(name: str, fn: typing.Any, used: set[str]) -> list[str]:
    sig = _sig(fn)
    ret = str(sig.return_annotation) if sig.return_annotation is not sig.empty else "None"
    blocking_ret, wrap = RETURNS.get(ret, (ret, "{}"))
    for p in sig.parameters.values():
        if p.annotation is not p.empty:
            used.update(_names(str(p.annotation)))
    used.update(_names(blocking_ret))
    args = _call_args(sig.replace(return_annotation=sig.empty))
    is_async = inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)
    target = f"self._target.{name}({args})"
    if inspect.isasyncgenfunction(fn):
        value = wrap.format(target)
    elif is_async:
        value = wrap.format(f"self._await(lambda: {target})")
    else:
        value = wrap.format(f"self._call(lambda: {target})")
    # The blocking twin is used with `with`, `conn.open()` and no `await`.
    doc = _doc(fn, f"Blocking ``{name}``.").replace("``async with ", "``with ").replace("``await ", "``")
    lines = [
        f"    def {name}({_params(sig.replace(return_annotation=sig.empty))}) -> {blocking_ret}:",
        *_docstring(doc),
    ]
    if blocking_ret == "None":
        lines.append(f"        {value}")
    else:
        lines.append(f"        return {value}")
    return lines


def _docstring(doc: str) -> list[str]:
    """A method docstring at 8 spaces, wrapped to the project's line length."""
    import textwrap

    if len(doc) + 14 <= 110:
        return [f'        """{doc}"""']
    wrapped = textwrap.wrap(doc, width=96)
    return [f'        """{wrapped[0]}', *(f"        {line}" for line in wrapped[1:]), '        """']


def _property(name: str, annotation: str, doc: str, *, settable: bool, used: set[str]) -> list[str]:
    used.update(_names(annotation))
    lines = [
        "    @property",
        f"    def {name}(self) -> {annotation}:",
        f'        """{doc}"""',
        # Through a typed local: some async attributes are untyped properties.
        f"        value: {annotation} = self._target.{name}",
        "        return value",
    ]
    if settable:
        lines += [
            "",
            f"    @{name}.setter",
            f"    def {name}(self, value: {annotation}) -> None:",
            f"        self._target.{name} = value",
        ]
    return lines


def declared_attributes(cls: type) -> dict[str, str]:
    """The public attributes ``cls`` declares as class-level annotations, with their types
    (descriptors such as the lobby fields and the core's counters included: their type is
    the ``T`` of ``_LobbyField[T]``, ``int`` for ``_CoreCount``)."""
    found: dict[str, str] = {}
    for name, annotation in vars(cls).get("__annotations__", {}).items():
        if name.startswith("_") or name.startswith(SETTABLE_PREFIX):
            continue
        text = str(annotation)
        if text.startswith("_LobbyField[") and text.endswith("]"):
            text = text[len("_LobbyField[") : -1]
        elif text == "_CoreCount":
            text = "int"
        found[name] = text
    return found


def handler_annotations() -> dict[str, str]:
    """The callbacks (settable attributes): the keys of :class:`seer_client.Handlers`."""
    from ._connection import Handlers

    def text(ann: object) -> str:  # TypedDict keeps string annotations as ForwardRefs
        return str(getattr(ann, "__forward_arg__", ann))

    return {name: text(ann) for name, ann in Handlers.__annotations__.items()}


def _class_body(cls: type, used: set[str]) -> list[str]:
    init = _sig(cls.__init__)  # type: ignore[misc]
    out: list[str] = []
    if cls.__name__ in DECLARED:
        attrs: dict[str, str | None] = dict(declared_attributes(cls))
        handlers = handler_annotations()
    else:
        attrs = ATTRIBUTES.get(cls.__name__, {})
        params = init.parameters.values()
        handlers = {p.name: str(p.annotation) for p in params if p.name.startswith(SETTABLE_PREFIX)}
    for name, annotation in sorted(attrs.items()):
        ann = annotation or str(init.parameters[name].annotation)
        out += [*_property(name, ann, f"``{cls.__name__}.{name}``.", settable=False, used=used), ""]
    for name, annotation in handlers.items():
        doc = f"The ``{name}`` callback (runs on the client's event loop thread)."
        out += [*_property(name, annotation, doc, settable=True, used=used), ""]
    for name, raw in _public_methods(cls):
        if isinstance(raw, property) and name in attrs:
            continue  # typed by ATTRIBUTES (e.g. connection fields that live in its LobbyState)
        if isinstance(raw, property):
            ann = str(inspect.signature(raw.fget, eval_str=False).return_annotation)  # type: ignore[arg-type]
            out += [*_property(name, ann, _doc(raw.fget, f"``{name}``."), settable=False, used=used), ""]
        elif isinstance(raw, classmethod | staticmethod):
            continue  # constructors are written by hand on the blocking classes
        else:
            out += [*_method(name, raw, used), ""]
    return out


def _imports(used: set[str], defined: set[str]) -> list[str]:
    from . import _client as client
    from . import _connection as connection
    from . import _delivery as delivery
    from . import _lobby as lobby
    from . import _sequencer as sequencer
    from . import _state as state
    from . import _view as view
    from . import errors, events, models

    modules = [models, events, errors, view, delivery, lobby, sequencer, state, connection, client]
    by_module: dict[str, set[str]] = {}
    plain: set[str] = set()
    for name in sorted(used - defined):
        if hasattr(builtins, name) or name in ("None", "self"):
            continue
        if name == "uuid":
            plain.add("import uuid")
            continue
        if name == "Path":
            by_module.setdefault("pathlib", set()).add(name)
            continue
        if name == "deque":
            by_module.setdefault("collections", set()).add(name)
            continue
        if name == "AsyncClient":
            by_module.setdefault("supabase", set()).add(name)
            continue
        if hasattr(typing, name) and name not in ("Sequence", "Callable", "Iterator", "Awaitable", "Mapping"):
            by_module.setdefault("typing", set()).add(name)
            continue
        if hasattr(collections.abc, name):
            by_module.setdefault("collections.abc", set()).add(name)
            continue
        for source in modules:
            if name in vars(source):
                by_module.setdefault("." + source.__name__.rsplit(".", 1)[1], set()).add(name)
                break
        else:
            if hasattr(typing, name):
                by_module.setdefault("typing", set()).add(name)
                continue
            raise SystemExit(f"_sync_gen: cannot resolve annotation name {name!r}")
    lines = sorted(plain)
    std = [m for m in by_module if not m.startswith(".") and m != "supabase"]
    for mod in sorted(std):
        lines.append(f"from {mod} import {', '.join(sorted(by_module[mod]))}")
    lines.append("")
    for mod in sorted(m for m in by_module if m.startswith(".")):
        lines.append(f"from {mod} import {', '.join(sorted(by_module[mod]))}")
    if "supabase" in by_module:
        # Annotations only: `import seer_client` (which exports SyncSeerClient) stays free of
        # supabase's import time until a client is built.
        lines += ["", "if TYPE_CHECKING:", "    from supabase import AsyncClient"]
    return lines


HEADER = '''"""GENERATED by ``python -m seer_client._sync_gen`` from the async classes: do not edit.

The typed blocking classes behind :mod:`seer_client.sync`. Every public method of
:class:`seer_client.SeerClient` and :class:`seer_client.SessionConnection` appears here with
the same arguments and return type, blocking instead of returning a coroutine.
"""

from __future__ import annotations

'''

CLIENT_EXTRA = '''
class SyncSeerClient(_BlockingClient["AsyncSeerClient"]):
    """Blocking Seer client: the methods of :class:`seer_client.AsyncSeerClient`, without ``await``.

    ``SyncSeerClient()`` reads ``SUPABASE_URL``/``SUPABASE_ANON_KEY``; ``SyncSeerClient(url, key)``,
    ``SyncSeerClient(supabase_async_client)`` and ``SyncSeerClient(async_seer_client)`` work too
    (``SyncSeerClient.create(...)`` is the same as the constructor). ``with SyncSeerClient() as
    client:`` closes its sockets at the end; ``with client.connect(sid) as conn:``.
    """

    __slots__ = ()

    def __init__(
        self,
        target: AsyncSeerClient | AsyncClient | str | None = None,
        key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        join_url_base: str | None = None,
        retries: int | None = None,
    ) -> None:
        if retries is not None:
            warnings.warn(
                "SyncSeerClient(retries=N) is deprecated: N counted attempts; use max_retries=N-1",
                DeprecationWarning,
                stacklevel=2,
            )
            max_retries = max(0, retries - 1)
        if isinstance(target, AsyncSeerClient):
            client = target
        elif target is None or isinstance(target, str):
            client = AsyncSeerClient(
                target, key, timeout=timeout, max_retries=max_retries, join_url_base=join_url_base
            )
        else:
            client = AsyncSeerClient(
                supabase=target, timeout=timeout, max_retries=max_retries, join_url_base=join_url_base
            )
        super().__init__(client)

    @classmethod
    def create(
        cls,
        url: str | None = None,
        key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        join_url_base: str | None = None,
        retries: int | None = None,
    ) -> SyncSeerClient:
        """Connect to a Supabase project (the same as the constructor)."""
        return cls(
            url, key, timeout=timeout, max_retries=max_retries, join_url_base=join_url_base, retries=retries
        )

    @property
    def aio(self) -> AsyncSeerClient:
        """The async client underneath (use it from async code on the facade's loop)."""
        return self._target

    def close(self) -> None:
        """Close open connections and the sockets this client created."""
        self._await(lambda: self._target.close())

    def __enter__(self) -> SyncSeerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

'''

CONNECTION_EXTRA = '''
class SyncSessionConnection(_BlockingClient["SessionConnection"]):
    """Blocking :class:`seer_client.SessionConnection`: ``with client.connect(sid) as conn:``.

    Callbacks run on the facade's event-loop thread; the plain methods (``view``,
    ``presence``, properties) work there too, the blocking ones (RPCs, ``wait_for``) do not.
    """

    __slots__ = ()

    def __init__(self, target: SessionConnection) -> None:
        super().__init__(target)

    @property
    def aio(self) -> SessionConnection:
        """The async connection underneath."""
        return self._target

    def open(self) -> None:
        """Connect; returns once subscribed and caught up."""
        self._await(lambda: self._target.open())

    def close(self) -> None:
        """Leave the channel and stop the connection's tasks."""
        self._await(lambda: self._target.close())

    def display(self) -> LiveDisplay:
        """Show the lobby in Jupyter and keep it updated in place (see :func:`seer_client._view.display`)."""
        return self._call(lambda: live_display(self._target))

    def __enter__(self) -> SyncSessionConnection:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[BaseEvent]:
        return self.events()

    def _repr_html_(self) -> str:
        return self._call(lambda: self._target._repr_html_())

'''


def render() -> str:
    """The text of ``_sync_api.py`` for the async classes as they are now."""
    from ._client import AsyncSeerClient
    from ._connection import SessionConnection

    used: set[str] = {"Iterator", "BaseEvent", "AsyncClient", "SessionConnection", "TYPE_CHECKING"}
    client_body = _class_body(AsyncSeerClient, used)
    conn_body = _class_body(SessionConnection, used)
    defined = {"SyncSeerClient", "SyncSessionConnection", "SyncIterator", "AsyncSeerClient"}
    imports = _imports(used, defined)
    text = HEADER + "\n".join(imports)
    text += "\nfrom ._sync_runtime import BlockingObject as _BlockingClient\n"
    text += "from ._sync_runtime import SyncIterator\n"
    text += "import warnings\n\nfrom ._client import AsyncSeerClient\n"
    text += "from ._transport import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT\n"
    text += "from ._view import LiveDisplay\nfrom ._view import display as live_display\n"
    text += '\n__all__ = ["SyncSeerClient", "SyncSessionConnection"]\n\n'
    text += CLIENT_EXTRA + "\n".join(client_body).rstrip() + "\n\n"
    text += CONNECTION_EXTRA + "\n".join(conn_body).rstrip() + "\n"
    return text


def formatted() -> str:
    """:func:`render`, formatted by ``ruff format`` as the checked-in file is."""
    import subprocess

    text = render()
    for argv in (["check", "--select", "I", "--fix", "--quiet"], ["format"]):
        res = subprocess.run(
            [sys.executable, "-m", "ruff", *argv, "--stdin-filename", str(OUT), "-"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
        )
        text = res.stdout
    return text


def main() -> int:
    """Write ``_sync_api.py``."""
    OUT.write_text(formatted())
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
