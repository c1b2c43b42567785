"""``firefighter`` / ``python -m bot``: run, migrate, check, demo.

The only place ``Settings()`` is built. Each subcommand prints a plain sentence on failure and exits
non-zero; nothing here prints a token."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pydantic import ValidationError

from bot.config import Catalog, CatalogError, Settings, load_catalog
from bot.log import configure_logging


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="firefighter", description="FireFighter for Slack: incident management in Slack."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="connect to Slack over Socket Mode and serve")
    run.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not apply pending migrations at start (refuse to start if any are pending)",
    )
    migrate = sub.add_parser("migrate", help="apply pending database migrations")
    migrate.add_argument(
        "--check", action="store_true", help="only list pending migrations; exit 1 if any"
    )
    sub.add_parser(
        "check",
        help="validate the configuration; with tokens, call auth.test and list missing scopes",
    )
    demo = sub.add_parser(
        "demo", help="run the bot against the local Slack sandbox and print what Slack shows"
    )
    demo.add_argument("--report", type=Path, help="write a JSON report of the session here")
    demo.add_argument("--quiet", action="store_true", help="do not print the transcript")
    return parser


def _settings_and_catalog() -> tuple[Settings, Catalog]:
    try:
        settings = Settings()
    except ValidationError as exc:
        raise SystemExit(f"firefighter: invalid environment settings:\n{exc}") from None
    try:
        catalog = load_catalog(settings.firefighter_config)
    except CatalogError as exc:
        raise SystemExit(f"firefighter: invalid configuration:\n{exc}") from None
    return settings, catalog


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings, catalog = _settings_and_catalog()
    if args.command == "demo":
        from bot.demo import run_demo

        # The transcript is the demo's output; only problems are logged.
        configure_logging("WARNING", settings.log_format, settings.secrets())
        return asyncio.run(run_demo(settings, catalog, report=args.report, quiet=args.quiet))

    configure_logging(settings.log_level, settings.log_format, settings.secrets())
    if args.command == "run":
        from bot.main import StartupError, run

        try:
            auto_migrate = settings.auto_migrate and not args.no_migrate
            asyncio.run(run(settings, catalog, migrate=auto_migrate))
        except StartupError as exc:
            print(f"firefighter: cannot start: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.command == "migrate":
        from bot.operations import migrate

        return asyncio.run(migrate(settings, check_only=args.check))
    if args.command == "check":
        from bot.operations import check

        return asyncio.run(check(settings, catalog))
    return 2  # pragma: no cover - argparse refuses unknown commands


if __name__ == "__main__":
    sys.exit(main())
