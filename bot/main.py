"""``run(settings)``: one AsyncExitStack owns the database, the Slack clients, the Socket Mode
connection, the scheduler and the health server, and unwinds them in reverse order on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from contextlib import AsyncExitStack

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.config import Catalog, Settings
from bot.health import health_app, start_health_server
from bot.telemetry import Telemetry
from bot.wiring import build_app, build_scheduler, build_service, build_web_client
from storage import db

log = logging.getLogger("firefighter.main")


class StartupError(Exception):
    """The bot cannot start; the message says what to fix."""


async def run(
    settings: Settings,
    catalog: Catalog,
    *,
    migrate: bool = True,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Run the bot until ``stop`` is set or the process gets SIGTERM/SIGINT."""
    if settings.slack_bot_token is None or settings.slack_app_token is None:
        raise StartupError(
            "SLACK_BOT_TOKEN (xoxb-…) and SLACK_APP_TOKEN (xapp-…, scope connections:write) "
            "must be set: see README, 'Connecting to a real Slack workspace'."
        )
    stop = stop or asyncio.Event()
    telemetry = Telemetry()
    async with AsyncExitStack() as stack:
        await db.open_database(settings.database_url)
        stack.push_async_callback(db.close_database)
        if migrate:
            applied = await db.apply_migrations(settings.database_url)
            if applied:
                log.info("database migrated", extra={"applied": applied})
        else:
            pending = await db.pending_migrations(settings.database_url)
            if pending:
                raise StartupError(
                    f"{len(pending)} database migration(s) pending ({', '.join(pending)}): "
                    "run `firefighter migrate` or start without --no-migrate."
                )

        client = build_web_client(settings)
        stack.push_async_callback(_close_client_session, client)
        service = build_service(catalog)
        app = build_app(catalog, client=client, service=service, telemetry=telemetry)

        handler = AsyncSocketModeHandler(
            app, app_token=settings.slack_app_token.get_secret_value(), web_client=client
        )
        await handler.connect_async()
        stack.push_async_callback(handler.close_async)
        log.info("connected to Slack over Socket Mode")

        scheduler = build_scheduler(service, catalog)
        scheduler.start()
        stack.callback(scheduler.shutdown, wait=False)

        async def socket_ok() -> bool:
            return bool(await handler.client.is_connected())

        health = health_app(database_ok=db.ping, socket_ok=socket_ok, telemetry=telemetry)
        runner = await start_health_server(health, settings.http_host, settings.http_port)
        stack.push_async_callback(runner.cleanup)
        log.info(
            "health server listening",
            extra={"host": settings.http_host, "port": settings.http_port},
        )

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
                stack.callback(loop.remove_signal_handler, signum)
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("shutting down")
    log.info("stopped")


async def _close_client_session(client: object) -> None:
    session = getattr(client, "session", None)
    if session is not None and not session.closed:
        await session.close()
