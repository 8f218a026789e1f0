# pyright: standard
"""``python -m seer_devstack start|stop|status|reset`` (also ``seer-devstack``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .config import DEFAULT_JWT_SECRET
from .postgres import PostgresCluster, PostgresError, project_root
from .stack import DevStack, DevStackError

DEFAULT_PORT = 54321
DEFAULT_DB_PORT = 54322


STATE_ENV = "SEER_DEVSTACK_STATE_DIR"


def state_root() -> Path:
    """Where background stacks keep their state: one folder per API port.

    ``$SEER_DEVSTACK_STATE_DIR`` when set, else the per-user state folder
    (``~/.local/state/seer-devstack`` on Linux, ``$XDG_STATE_HOME`` honoured). Never the current
    directory: ``status`` and ``stop`` find a stack from any directory (a Jupyter kernel's working
    directory is rarely the shell's).
    """
    env = os.environ.get(STATE_ENV)
    if env:
        return Path(env).expanduser().resolve()
    from platformdirs import user_state_dir

    return Path(user_state_dir("seer-devstack", appauthor=False))


def state_dir(port: int) -> Path:
    """The state folder of the stack on API port ``port`` (its ``state.json`` and ``devstack.log``)."""
    return state_root() / str(port)


def state_file(port: int) -> Path:
    return state_dir(port) / "state.json"


def read_state(port: int) -> dict[str, Any] | None:
    """The running stack on ``port`` (a stale file of a dead process is removed)."""
    path = state_file(port)
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not _alive(int(state.get("pid", 0))):
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return state


def running_stacks() -> list[dict[str, Any]]:
    """Every running background stack of this user, by port."""
    found: list[dict[str, Any]] = []
    root = state_root()
    if not root.is_dir():
        return found
    for child in sorted(root.iterdir()):
        if child.name.isdigit():
            state = read_state(int(child.name))
            if state is not None:
                found.append(state)
    return sorted(found, key=lambda st: int(st.get("port", 0)))


def _pick(port: int | None, verb: str) -> tuple[dict[str, Any] | None, str | None]:
    """The one stack a command means: ``--port``'s, else the only one running."""
    if port is not None:
        state = read_state(port)
        return state, None if state else f"no seer devstack is running on port {port}"
    stacks = running_stacks()
    if not stacks:
        return None, None
    if len(stacks) > 1:
        ports = ", ".join(str(st.get("port")) for st in stacks)
        return None, f"{len(stacks)} seer devstacks are running (ports {ports}); {verb} one with --port"
    return stacks[0], None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def format_status(info: dict[str, str]) -> str:
    width = max(len(k) for k in info)
    return "\n".join(f"{k.rjust(width)}: {v}" for k, v in info.items())


def env_keys(info: dict[str, str]) -> dict[str, str]:
    """The status with identifier keys (``API URL`` -> ``API_URL``), as ``supabase status -o env``
    names them, plus ``SUPABASE_URL`` and ``SUPABASE_ANON_KEY``, which the SDK reads."""
    out = {re.sub(r"\W+", "_", k).strip("_").upper(): v for k, v in info.items()}
    if "API_URL" in out:
        out["SUPABASE_URL"] = out["API_URL"]
    if "ANON_KEY" in out:
        out["SUPABASE_ANON_KEY"] = out["ANON_KEY"]
    return out


def database_note(data_dir: str | None) -> str:
    if data_dir:
        return f"kept in {data_dir} (survives stop and start)"
    return "throw-away: deleted on stop (keep it with --data-dir DIR)"


# -- start ------------------------------------------------------------------------------------
STARTED = "Started seer devstack."


def _summary(state: dict[str, Any], *, log: Path | None = None) -> str:
    info = dict(state["status"])
    info["Database"] = database_note(state.get("data_dir"))
    info["State"] = str(state_dir(int(state["port"])))
    if log is not None:
        info["Log"] = str(log)
    return format_status(info)


async def _serve(args: argparse.Namespace) -> int:
    where = state_dir(args.port)
    _say(f"Starting seer devstack on port {args.port} (state in {where})")
    stack = DevStack(
        data_dir=args.data_dir,
        port=args.port,
        db_port=args.db_port,
        jwt_secret=args.jwt_secret,
        jwt_expiry=args.jwt_expiry,
        drop_db_broadcasts=args.drop_db_broadcasts,
        realtime_outage=args.realtime_outage,
        realtime_max_events_per_second=args.realtime_max_events_per_second,
        realtime_max_presence_events_per_second=args.realtime_max_presence_events_per_second,
        realtime_max_joins_per_second=args.realtime_max_joins_per_second,
        check_api_key=not args.no_api_key_check,
        progress=lambda text: _say(f"  {text}"),
    )
    await stack.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    info = stack.status()
    state = {
        "pid": os.getpid(),
        "port": args.port,
        "data_dir": str(args.data_dir.resolve()) if args.data_dir else "",
        "status": info,
        "argv": sys.argv[1:],
        "started_at": time.time(),
    }
    where.mkdir(parents=True, exist_ok=True)
    path = state_file(args.port)
    path.write_text(json.dumps(state, indent=2))

    async def refresh_status() -> None:
        # `status` reads the state file: keep the limit and fault counts in it current.
        while True:
            await asyncio.sleep(1.0)
            state["status"] = stack.status()
            with contextlib.suppress(OSError):
                path.write_text(json.dumps(state, indent=2))

    refresher = asyncio.create_task(refresh_status())
    try:
        _say(STARTED + "\n")
        _say(_summary(state))
        if not args.child:
            _say("\nPress Ctrl-C to stop.")
        await stop.wait()
    finally:
        if refresher is not None:
            refresher.cancel()
        _say("Stopping seer devstack...")
        await stack.stop()
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
    _say("Stopped.")
    return 0


def _say(text: str) -> None:
    # A closed stdout (e.g. `| head`) must never keep the stack from shutting down.
    with contextlib.suppress(OSError, ValueError):
        print(text, flush=True)


def _start_detached(args: argparse.Namespace, argv: list[str]) -> int:
    where = state_dir(args.port)
    where.mkdir(parents=True, exist_ok=True)
    log_path = where / "devstack.log"
    child_argv = [a for a in argv if a not in ("--detach", "-d")] + ["--child"]
    if "--port" not in child_argv and not any(a.startswith("--port=") for a in child_argv):
        child_argv += ["--port", str(args.port)]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "seer_devstack", *child_argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=project_root(),
            # The child runs elsewhere: hand it the same state folder, absolute.
            env={**os.environ, STATE_ENV: str(state_root())} if os.environ.get(STATE_ENV) else None,
        )
    deadline = time.monotonic() + 120
    relayed = 0
    relaying = True
    while time.monotonic() < deadline:
        if relaying:
            # Pass the child's stages on as they happen, up to its "Started" line.
            with contextlib.suppress(OSError):
                lines = log_path.read_text().splitlines()
                for line in lines[relayed:]:
                    if line.startswith(STARTED):
                        relaying = False
                        break
                    _say(line)
                    relayed += 1
        if proc.poll() is not None:
            out = log_path.read_text().strip().splitlines()
            errors = [line for line in out[relayed:] if line.strip()]
            print(
                "\n".join(errors[-15:]) or f"error: devstack exited with {proc.returncode}", file=sys.stderr
            )
            return proc.returncode or 1
        state = read_state(args.port)
        if state and state.get("pid") == proc.pid:
            print(
                f"{STARTED} It runs in the background; stop it with `seer-devstack stop`"
                " (from any directory).\n"
            )
            print(_summary(state, log=log_path))
            return 0
        time.sleep(0.2)
    proc.terminate()
    print("error: devstack did not become ready within 120 s; see " + str(log_path), file=sys.stderr)
    return 1


def cmd_start(args: argparse.Namespace, argv: list[str]) -> int:
    running = read_state(args.port)
    if running and not args.child:
        print(
            f"error: a seer devstack is already running on port {args.port} (pid {running['pid']}); "
            f"stop it with `seer-devstack stop --port {args.port}` or pick another --port",
            file=sys.stderr,
        )
        return 1
    if args.detach:
        return _start_detached(args, argv)
    try:
        return asyncio.run(_serve(args))
    except DevStackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


# -- stop / status / reset ------------------------------------------------------------------------
def _stop_pid(pid: int, timeout: float = 30) -> bool:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def cmd_stop(args: argparse.Namespace) -> int:
    state, problem = _pick(args.port, "stop")
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    if state is None:
        print(f"No seer devstack is running (looked in {state_root()}).")
        return 0
    if not _stop_pid(int(state["pid"])):
        print(f"error: devstack (pid {state['pid']}) did not stop within 30 s", file=sys.stderr)
        return 1
    with contextlib.suppress(OSError):
        state_file(int(state["port"])).unlink()
    note = "" if state.get("data_dir") else " Its throw-away database is gone."
    print(f"Stopped seer devstack on port {state['port']}.{note}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    if args.port is not None:
        one = read_state(args.port)
        stacks = [one] if one else []
    else:
        stacks = running_stacks()
    output = "json" if args.json else args.output
    if not stacks:
        where = f" on port {args.port}" if args.port is not None else ""
        print(
            f"No seer devstack is running{where} (looked in {state_root()}). "
            "Start one with `seer-devstack start`.",
            file=sys.stderr if output != "pretty" else sys.stdout,
        )
        return 1
    if output != "pretty" and len(stacks) > 1:
        ports = ", ".join(str(st["port"]) for st in stacks)
        print(
            f"error: {len(stacks)} seer devstacks are running (ports {ports}); pick one with --port",
            file=sys.stderr,
        )
        return 1
    if output == "env":
        for key, value in env_keys(stacks[0]["status"]).items():
            print(f"{key}={json.dumps(value)}")
        return 0
    if output == "json":
        state = stacks[0]
        doc: dict[str, Any] = {
            **env_keys(state["status"]),
            "PID": state["pid"],
            "DATA_DIR": state.get("data_dir") or None,
            "STATE_DIR": str(state_dir(int(state["port"]))),
        }
        print(json.dumps(doc, indent=2))
        return 0
    for i, state in enumerate(stacks):
        if i:
            print()
        print(f"seer devstack is running on port {state['port']} (pid {state['pid']}).\n")
        print(_summary(state))
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    state, problem = _pick(args.port, "reset")
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    restart_argv: list[str] | None = None
    data_dir = args.data_dir
    if state is not None:
        restart_argv = [a for a in state.get("argv", []) if a != "--child"]
        data_dir = data_dir or (Path(state["data_dir"]) if state.get("data_dir") else None)
        print(f"Stopping the running devstack (pid {state['pid']})...")
        if not _stop_pid(int(state["pid"])):
            print("error: the running devstack did not stop", file=sys.stderr)
            return 1
    if data_dir is not None and Path(data_dir).exists():
        shutil.rmtree(data_dir)
        print(f"Removed {data_dir}.")
    try:
        cluster = PostgresCluster(data_dir=Path(data_dir) if data_dir else None)
        cluster.start()
    except PostgresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        files = cluster.setup(progress=lambda text: print(f"  {text}", flush=True))
    except PostgresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()
    print(f"Applied {len(files)} files (bootstrap, migrations, seed) on a fresh database.")
    if restart_argv is not None:
        args2 = build_parser().parse_args(restart_argv)
        return _start_detached(args2, restart_argv)
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _outage(text: str) -> tuple[float, float | None]:
    seconds, _, every = text.partition("/")
    try:
        duration, period = float(seconds), float(every) if every else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected SECONDS or SECONDS/EVERY, not {text!r}") from None
    if duration <= 0 or (period is not None and period <= duration):
        raise argparse.ArgumentTypeError("the outage must last over 0 s, and EVERY longer than the outage")
    return duration, period


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value:g}")
    return value


ENVIRONMENT = """\
environment:
  SEER_DEVSTACK_STATE_DIR  where background stacks keep their state, one folder per API port
                           (default: the per-user state folder, ~/.local/state/seer-devstack on
                           Linux); `start` prints it, `status` and `stop` read it from any directory
  SEER_PROJECT_ROOT        a Supabase CLI project (holding supabase/) whose migrations to apply
                           (default: the checkout, else the copy inside the installed package)
"""


STATUS_EXAMPLE = """
example (export SUPABASE_URL, SUPABASE_ANON_KEY, API_URL, ... to the programs you run next):
  set -a; eval "$(seer-devstack status -o env)"; set +a
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seer-devstack",
        description="A Docker-free local Supabase-compatible stack (Postgres + Auth, REST, Realtime). "
        "Also `python -m seer_devstack`.",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    start = sub.add_parser(
        "start",
        help="start Postgres and the gateway; prints its stages, then what `supabase status` prints",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    start.add_argument("--port", type=int, default=DEFAULT_PORT, help="API port (default 54321)")
    start.add_argument("--db-port", type=int, default=DEFAULT_DB_PORT, help="Postgres port (default 54322)")
    start.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the database here and reuse it, so users and sessions survive a stop "
        "(default: a throw-away cluster, deleted on stop)",
    )
    start.add_argument("--detach", "-d", action="store_true", help="run in the background")
    start.add_argument(
        "--jwt-secret",
        default=DEFAULT_JWT_SECRET,
        help="JWT secret (default: the Supabase CLI's local secret)",
    )
    start.add_argument(
        "--jwt-expiry",
        type=int,
        default=None,
        help="access token lifetime in seconds (default: supabase/config.toml [auth] jwt_expiry, or 3600)",
    )
    start.add_argument(
        "--drop-db-broadcasts",
        type=_rate,
        default=0.0,
        metavar="RATE",
        help="fault switch: drop this fraction (0 to 1) of database broadcasts at random, as real "
        "Realtime may (the count shows in `status`); SDK connections recover through the event log",
    )
    start.add_argument(
        "--realtime-outage",
        type=_outage,
        default=None,
        metavar="SECONDS[/EVERY]",
        help="outage mode: every database broadcast is lost for SECONDS after start (and again every "
        "EVERY seconds), for every subscriber, as while Realtime's replication connection is down",
    )
    start.add_argument(
        "--realtime-max-events-per-second",
        type=_positive_int,
        default=100,
        metavar="N",
        help="tenant messages/s limit, counted as Realtime counts it (1 + subscribers per event); above "
        "it channels close with 'Too many messages per second' (default 100, the local CLI's)",
    )
    start.add_argument(
        "--realtime-max-presence-events-per-second",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="tenant presence messages/s limit; above it channels close with 'Too many presence messages "
        "per second' (default 1000, the local CLI's)",
    )
    start.add_argument(
        "--realtime-max-joins-per-second",
        type=_positive_int,
        default=100,
        metavar="N",
        help="tenant channel joins/s limit (default 100, the local CLI's)",
    )
    start.add_argument(
        "--no-api-key-check",
        action="store_true",
        help="accept requests without a valid apikey, as `supabase start`'s gateway does "
        "(default: check it as hosted Supabase does: 401 without the anon or service_role key)",
    )
    start.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    port_help = "the stack's API port (needed only when several run)"
    stop = sub.add_parser(
        "stop",
        help="stop a background devstack (from any directory)",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    stop.add_argument("--port", type=int, default=None, help=port_help)
    status = sub.add_parser(
        "status",
        help="show URLs and keys of the running devstack(s)",
        epilog=ENVIRONMENT + STATUS_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    status.add_argument("--port", type=int, default=None, help="show only the stack on this API port")
    status.add_argument(
        "-o",
        "--output",
        choices=("pretty", "env", "json"),
        default="pretty",
        help='pretty (default); env: KEY="value" lines (API_URL, ANON_KEY, ..., SUPABASE_URL, '
        "SUPABASE_ANON_KEY) for scripts and eval; json: the same keys as JSON",
    )
    status.add_argument("--json", action="store_true", help="the same as -o json")
    reset = sub.add_parser("reset", help="recreate the database and re-apply bootstrap, migrations and seed")
    reset.add_argument("--data-dir", type=Path, default=None, help="the data directory to reset")
    reset.add_argument("--port", type=int, default=None, help=port_help)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `... status | head`
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        return 0


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.cmd == "start":
        return cmd_start(args, argv)
    if args.cmd == "stop":
        return cmd_stop(args)
    if args.cmd == "status":
        return cmd_status(args)
    return cmd_reset(args)


if __name__ == "__main__":
    sys.exit(main())
