"""``seer-client`` (also ``python -m seer_client``): the schema, the demo and a live lobby.

* ``seer-client schema export DIR`` writes ``DIR/supabase/{migrations,seed.sql,config.toml,
  functions/invite}`` so ``supabase db push`` works from your own project.
* ``seer-client schema apply --db-url URL [--include-seed]`` applies the migrations to a Postgres
  that already has Supabase's platform schema, recording them as ``supabase db push`` does.
* ``seer-client demo`` runs the full demo on a throw-away devstack (extra ``devstack``).
* ``seer-client watch CODE_OR_ID`` shows a session live (``rich``) until interrupted - the
  Seer's dashboard for the Seer, the player's view for a player (issue 22);
  it signs in with ``--email``/``--password`` (or ``SEER_EMAIL``/``SEER_PASSWORD``) against
  ``--url``/``--key`` (or ``SUPABASE_URL``/``SUPABASE_ANON_KEY``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

from ..errors import SeerError
from . import schema

__all__ = ["main"]


def _export(args: argparse.Namespace) -> int:
    files = schema.export(args.dir)
    migrations = sum(1 for f in files if f.parent.name == "migrations")
    print(f"Wrote {len(files)} files ({migrations} migrations) under {Path(args.dir) / 'supabase'}.")
    print(f"Apply them with: supabase db push --workdir {args.dir} --db-url <postgres URL> --include-seed")
    return 0


def _apply(args: argparse.Namespace) -> int:
    try:
        result = asyncio.run(schema.apply(args.db_url, include_seed=args.include_seed))
    except (RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # asyncpg connection errors (bad URL, refused, auth)
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for name in result.applied:
        print(f"Applied migration {name}")
    for name in result.seeded:
        print(f"Seeded {name}")
    print(f"{len(result.applied)} applied, {len(result.skipped)} already applied.")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import main as demo_main

    return demo_main(args.demo_args)


async def _watch(args: argparse.Namespace) -> int:
    try:
        from rich.console import Console
        from rich.live import Live
    except ImportError:
        print("error: watch needs rich: pip install 'seer-client[notebook]'", file=sys.stderr)
        return 2

    from .._client import AsyncSeerClient
    from .._view import LiveDisplay, SessionView
    from ..events import SessionEndedEvent

    missing = [
        f"{flag} (or {var})"
        for flag, var, value in (
            ("--url", "SUPABASE_URL", args.url),
            ("--key", "SUPABASE_ANON_KEY", args.key),
            ("--email", "SEER_EMAIL", args.email),
            ("--password", "SEER_PASSWORD", args.password),
        )
        if not value
    ]
    if missing:
        print(f"error: watch needs {', '.join(missing)}", file=sys.stderr)
        return 2
    console = Console()
    async with AsyncSeerClient(args.url, args.key) as client:
        await client.sign_in(args.email, args.password)
        target = args.code_or_id
        try:
            session_id = str(uuid.UUID(target))
        except ValueError:
            session_id = (await client.get_session_by_code(target)).session.id
        async with client.connect(session_id) as conn:
            ended = asyncio.Event()
            previous = conn.on_session_ended

            def on_ended(event: SessionEndedEvent) -> object:
                ended.set()
                return previous(event) if previous is not None else None

            conn.on_session_ended = on_ended
            if console.is_terminal:
                with Live(conn.view(), console=console, auto_refresh=False) as live:

                    def update(view: SessionView) -> None:
                        live.update(view, refresh=True)

                    LiveDisplay(conn, update).attach()
                    await ended.wait()
            else:
                # Not a terminal (a pipe, a log): print each new state once, in full.
                def render(view: SessionView) -> None:
                    console.print(view)
                    console.print()
                    with contextlib.suppress(Exception):
                        sys.stdout.flush()

                LiveDisplay(conn, render).attach()
                await ended.wait()
    print("The session ended.")
    return 0


def _run_watch(args: argparse.Namespace) -> int:
    return asyncio.run(_watch(args))


ENVIRONMENT = """\
environment:
  SUPABASE_URL, SUPABASE_ANON_KEY  the project to talk to (watch: --url, --key; demo: --key)
  SEER_EMAIL, SEER_PASSWORD        the account watch signs in with (--email, --password)
  SEER_DEVSTACK_STATE_DIR          where `seer-devstack` keeps background stacks' state
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``seer-client`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="seer-client",
        description=(__doc__ or "").split("\n\n")[0],
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="cmd", required=True)

    sch = sub.add_parser("schema", help="export or apply the database schema this SDK needs")
    sch_sub = sch.add_subparsers(dest="schema_cmd", required=True)
    exp = sch_sub.add_parser("export", help="write DIR/supabase/... (a Supabase CLI project layout)")
    exp.add_argument("dir", type=Path)
    exp.set_defaults(func=_export)
    app = sch_sub.add_parser("apply", help="apply pending migrations like `supabase db push`")
    app.add_argument("--db-url", required=True, help="postgresql://... of a Postgres with Supabase's schema")
    app.add_argument("--include-seed", action="store_true", help="also run supabase/seed.sql once")
    app.set_defaults(func=_apply)

    # `seer-client demo ...` is handed to the demo's own parser (see main); this entry is for
    # the list of commands only.
    demo = sub.add_parser(
        "demo", help="run the demo on a throw-away devstack (needs the devstack extra); see demo --help"
    )
    demo.add_argument("demo_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    demo.set_defaults(func=_demo)

    watch = sub.add_parser(
        "watch",
        help="show a session live (the Seer's dashboard or your player view) until interrupted",
        description="Show a session live (rich): the Seer's dashboard or your player view, until the "
        "session ends or Ctrl-C.",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    watch.add_argument("code_or_id", help="join code (e.g. H7NK4B) or session id")
    watch.add_argument(
        "--url", default=os.environ.get("SUPABASE_URL"), help="project URL (default: $SUPABASE_URL)"
    )
    watch.add_argument(
        "--key", default=os.environ.get("SUPABASE_ANON_KEY"), help="anon key (default: $SUPABASE_ANON_KEY)"
    )
    watch.add_argument(
        "--email", default=os.environ.get("SEER_EMAIL"), help="account e-mail (default: $SEER_EMAIL)"
    )
    watch.add_argument(
        "--password",
        default=os.environ.get("SEER_PASSWORD"),
        help="account password (default: $SEER_PASSWORD)",
    )
    watch.set_defaults(func=_run_watch)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``seer-client`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["demo"]:
        # Everything after `demo` is the demo's own options (--quiet, --url, ..., --help).
        from .demo import main as demo_main

        return demo_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SeerError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
