# pyright: standard
"""``python -m seer_devstack start|stop|status|reset`` (also ``seer-devstack``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
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


def state_dir() -> Path:
    """Where a background stack keeps its pid/state file and log (SEER_DEVSTACK_STATE_DIR overrides)."""
    env = os.environ.get("SEER_DEVSTACK_STATE_DIR")
    return Path(env) if env else project_root() / ".seer" / "devstack"


def state_file() -> Path:
    return state_dir() / "state.json"


def read_state() -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(state_file().read_text())
    except (OSError, ValueError):
        return None
    if not _alive(int(state.get("pid", 0))):
        with contextlib.suppress(OSError):
            state_file().unlink()
        return None
    return state


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


# -- start ------------------------------------------------------------------------------------
async def _serve(args: argparse.Namespace) -> int:
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
    )
    await stack.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    info = stack.status()
    state = {
        "pid": os.getpid(),
        "data_dir": str(args.data_dir or ""),
        "status": info,
        "argv": sys.argv[1:],
        "started_at": time.time(),
    }
    state_dir().mkdir(parents=True, exist_ok=True)
    state_file().write_text(json.dumps(state, indent=2))

    async def refresh_status() -> None:
        # `status` reads the state file: keep the limit and fault counts in it current.
        while True:
            await asyncio.sleep(1.0)
            state["status"] = stack.status()
            with contextlib.suppress(OSError):
                state_file().write_text(json.dumps(state, indent=2))

    refresher = asyncio.create_task(refresh_status())
    try:
        _say("Started seer devstack.\n")
        _say(format_status(info))
        if not args.child:
            _say("\nPress Ctrl-C to stop.")
        await stop.wait()
    finally:
        if refresher is not None:
            refresher.cancel()
        _say("Stopping seer devstack...")
        await stack.stop()
        with contextlib.suppress(OSError, ValueError):
            if json.loads(state_file().read_text()).get("pid") == os.getpid():
                state_file().unlink()
    _say("Stopped.")
    return 0


def _say(text: str) -> None:
    # A closed stdout (e.g. `| head`) must never keep the stack from shutting down.
    with contextlib.suppress(OSError, ValueError):
        print(text, flush=True)


def _start_detached(args: argparse.Namespace, argv: list[str]) -> int:
    state_dir().mkdir(parents=True, exist_ok=True)
    log_path = state_dir() / "devstack.log"
    child_argv = [a for a in argv if a not in ("--detach", "-d")] + ["--child"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "seer_devstack", *child_argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=project_root(),
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = log_path.read_text().strip().splitlines()
            print("\n".join(out[-15:]) or f"error: devstack exited with {proc.returncode}", file=sys.stderr)
            return proc.returncode or 1
        state = read_state()
        if state and state.get("pid") == proc.pid:
            print("Started seer devstack in the background (stop it with `python -m seer_devstack stop`).\n")
            print(format_status(state["status"]))
            print(f"\nLog: {log_path}")
            return 0
        time.sleep(0.2)
    proc.terminate()
    print("error: devstack did not become ready within 120 s; see " + str(log_path), file=sys.stderr)
    return 1


def cmd_start(args: argparse.Namespace, argv: list[str]) -> int:
    running = read_state()
    if running and not args.child:
        print(
            f"error: a devstack is already running (pid {running['pid']}); "
            "stop it with `python -m seer_devstack stop`",
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
    state = read_state()
    if state is None:
        print("seer devstack is not running.")
        return 0
    if not _stop_pid(int(state["pid"])):
        print(f"error: devstack (pid {state['pid']}) did not stop within 30 s", file=sys.stderr)
        return 1
    with contextlib.suppress(OSError):
        state_file().unlink()
    print("Stopped seer devstack.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = read_state()
    if state is None:
        print("seer devstack is not running. Start it with `python -m seer_devstack start`.")
        return 1
    if args.json:
        print(json.dumps(state["status"], indent=2))
    else:
        print(f"seer devstack is running (pid {state['pid']}).\n")
        print(format_status(state["status"]))
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    state = read_state()
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
        files = cluster.setup()
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m seer_devstack",
        description="A Docker-free local Supabase-compatible stack (Postgres + Auth, REST, Realtime).",
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    start = sub.add_parser(
        "start", help="start Postgres and the gateway; prints what `supabase status` prints"
    )
    start.add_argument("--port", type=int, default=DEFAULT_PORT, help="API port (default 54321)")
    start.add_argument("--db-port", type=int, default=DEFAULT_DB_PORT, help="Postgres port (default 54322)")
    start.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the database here and reuse it (default: a throw-away cluster)",
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
    sub.add_parser("stop", help="stop a background devstack")
    status = sub.add_parser("status", help="show URLs and keys of the running devstack")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    reset = sub.add_parser("reset", help="recreate the database and re-apply bootstrap, migrations and seed")
    reset.add_argument("--data-dir", type=Path, default=None, help="the data directory to reset")
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
