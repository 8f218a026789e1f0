"""The package's shape is a contract: what a user may import, and which way imports point.

- ``seer_client.__all__`` is the public API (httpx's convention): changing it is a deliberate act,
  so it is spelled out here; implementation modules are underscored, and the only public
  submodules are the namespaces ``errors``, ``events``, ``models``, ``sync`` (and the deprecated
  ``devstack`` alias).
- The run-time import graph of ``seer_client`` has no circle (type-only imports under
  ``if TYPE_CHECKING:`` do not count; imports inside functions do); the models never import
  the view.
- ``seer_devstack`` (a server emulator, its own product) imports nothing of the SDK but the
  packaged schema.
"""

from __future__ import annotations

import ast
import pkgutil
import warnings
from pathlib import Path

import seer_client

ROOT = Path(__file__).resolve().parent.parent

PUBLIC_SUBMODULES = {"errors", "events", "models", "sync", "devstack"}

# The public API, in one place. Adding or removing a name here is a decision about the API.
PUBLIC_API = {
    "AdventureNotFound",
    "AdventureSummary",
    "AlreadyInSession",
    "AnonymousNotAllowed",
    "ApiError",
    "AsyncSeerClient",
    "AuthError",
    "BaseEvent",
    "Character",
    "CharacterConnected",
    "CharacterInSession",
    "Choice",
    "CombatEndedEvent",
    "CombatStartedEvent",
    "CombatStateConflict",
    "CombatTurnEvent",
    "ConfigError",
    "ConnectionOptions",
    "ConnectionStatus",
    "CreateSessionResult",
    "DiceRoll",
    "DiceRolledEvent",
    "Die",
    "EndResult",
    "EventSequencer",
    "Feedback",
    "GameState",
    "GameStateEvent",
    "GameStatePatch",
    "Handlers",
    "HeartbeatResult",
    "InvalidJoinCode",
    "InvalidStatusTransition",
    "InventoryItem",
    "JoinPreview",
    "JoinResult",
    "KickResult",
    "LeaveResult",
    "LiveDisplay",
    "MinPlayersNotMet",
    "MyCharacter",
    "Node",
    "NodeChangeEvent",
    "NotAdventureAuthor",
    "NotInSession",
    "NotSeer",
    "PayloadTooLarge",
    "PlayerActionEvent",
    "PlayerConnectionEvent",
    "PlayerInactiveEvent",
    "PlayerJoinedEvent",
    "PlayerLeftEvent",
    "ReadmitRequestedEvent",
    "SeerConnectionEvent",
    "PresenceEntry",
    "RealtimeError",
    "SeerCannotLeave",
    "SeerClient",
    "SeerError",
    "SeerFeedback",
    "Session",
    "SessionConnection",
    "SessionCreatedEvent",
    "SessionEndedEvent",
    "SessionError",
    "SessionErrorCode",
    "SessionEvent",
    "SessionSettingsEvent",
    "SessionState",
    "SessionFull",
    "SessionNotFound",
    "SessionNotWaiting",
    "SessionPlayer",
    "SessionPreview",
    "SessionEventLimit",
    "SessionRateLimited",
    "SessionSettings",
    "SessionStarted",
    "SessionStats",
    "SessionStatusEvent",
    "SessionSummary",
    "SessionView",
    "StartResult",
    "StateVersionConflict",
    "SyncSeerClient",
    "TimeoutError",
    "TooManyActions",
    "TooManyAttempts",
    "TooManyLiveSessions",
    "TransportError",
    "Unknown",
    "UnknownEvent",
    "ValidationError",
    "__version__",
    "parse_event",
}


def test_all_is_the_contract() -> None:
    assert set(seer_client.__all__) == PUBLIC_API
    assert len(seer_client.__all__) == len(set(seer_client.__all__)), "a name twice in __all__"
    for name in seer_client.__all__:
        assert hasattr(seer_client, name), name


def test_only_the_namespaces_are_public_modules() -> None:
    names = {m.name for m in pkgutil.iter_modules(seer_client.__path__)}
    public = {n for n in names if not n.startswith("_")}
    assert public == PUBLIC_SUBMODULES
    # the implementation modules exist under their private names
    assert {"_client", "_connection", "_delivery", "_realtime_link", "_lobby", "_sequencer", "_view"} <= names


def test_deprecated_devstack_alias_still_works() -> None:
    import importlib

    import seer_devstack

    alias = importlib.import_module("seer_client.devstack")
    vars(alias).pop("DevStack", None)  # forget an earlier access, so the warning shows again
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dev_stack = alias.DevStack
    assert dev_stack is seer_devstack.DevStack
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def _runtime_imports(path: Path, module: str, package: str) -> set[str]:
    """The modules ``path`` imports when it runs: every import statement except those under
    ``if TYPE_CHECKING:``, resolved to absolute dotted names."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join([*base, child.module] if child.module else base)
                else:
                    target = child.module or ""
                found.add(target)
                # `from pkg import submodule` imports the submodule too
                for alias in child.names:
                    found.add(f"{target}.{alias.name}")
            visit(child)

    visit(tree)
    return found


def _graph(top: str) -> dict[str, set[str]]:
    base = ROOT / top
    modules: dict[str, Path] = {}
    for path in base.rglob("*.py"):
        if "_schema" in path.parts:
            continue
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imports = _runtime_imports(path, name, package)
        # an import of a.b.c also runs a and a.b
        closure = set()
        for imp in imports:
            parts = imp.split(".")
            closure.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        graph[name] = {m for m in closure if m in modules and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    # Tarjan's strongly connected components: any component of more than one module is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def strong(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            strong(v)
    return out


def _without_package_inits(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # A package's __init__ importing its own submodules is how packages work; a submodule
    # importing its parent package back (`from seer_client import X`) is a circle and is kept.
    return {
        name: {m for m in deps if not (m.startswith(name + ".") and name in graph)}
        for name, deps in graph.items()
    }


def test_runtime_import_graph_has_no_circle() -> None:
    graph = _without_package_inits(_graph("seer_client"))
    assert "seer_client._client" in graph and "seer_client._connection" in graph
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_circle() -> None:
    # the check above can fail: a planted circle is found
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


def test_models_do_not_import_the_view() -> None:
    graph = _graph("seer_client")
    assert "seer_client._view" not in graph["seer_client.models"]
    assert "seer_client._view" not in graph["seer_client.events"]


def test_devstack_imports_only_the_schema_from_the_sdk() -> None:
    sdk_modules = set(_graph("seer_client"))
    devstack = _graph("seer_devstack")
    assert "seer_devstack.stack" in devstack
    for name in devstack:
        package_dir = ROOT / name.replace(".", "/")
        path = package_dir / "__init__.py" if package_dir.is_dir() else package_dir.with_suffix(".py")
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        sdk = _runtime_imports(path, name, package) & sdk_modules
        # importing seer_client._tools.schema runs the packages above it, nothing else of the SDK
        assert sdk <= {"seer_client._tools.schema", "seer_client._tools", "seer_client"}, (name, sdk)
