"""``run(settings)``: one AsyncExitStack owns the database, the Slack clients, the Socket Mode
connection, the scheduler and the health server, and unwinds them in reverse order on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.config import Catalog, Settings
from bot.health import health_app, start_health_server
from bot.home_publisher import HomePublisher
from bot.page_pull import PagePull
from bot.ports import Clock, Docs, Pager, Tracker
from bot.postmortem_pull import PostmortemPull
from bot.service import IncidentService
from bot.telemetry import Telemetry
from bot.ticket_pull import TicketPull
from bot.wiring import (
    build_app,
    build_clock,
    build_docs,
    build_home_publisher,
    build_page_pull,
    build_pager,
    build_postmortems,
    build_scheduler,
    build_service,
    build_ticket_pull,
    build_tracker,
    build_web_client,
    build_worker,
    close_web_client,
)
from bot.worker import OutboxWorker
from handlers.background import Background
from integrations.slack import SlackChat
from storage import db

log = logging.getLogger("firefighter.main")


class StartupError(Exception):
    """The bot cannot start; the message says what to fix."""


@dataclass(frozen=True)
class RunningBot:
    """Everything ``start_bot`` started; the exit stack it was given stops it all."""

    app: AsyncApp
    client: AsyncWebClient
    handler: AsyncSocketModeHandler
    service: IncidentService
    scheduler: AsyncIOScheduler
    telemetry: Telemetry
    health_port: int
    worker: OutboxWorker
    chat: SlackChat
    background: Background
    home_publisher: HomePublisher | None = None
    tracker: Tracker | None = None
    ticket_pull: TicketPull | None = None
    pager: Pager | None = None
    page_pull: PagePull | None = None
    docs: Docs | None = None
    postmortem_pull: PostmortemPull | None = None


async def run(
    settings: Settings,
    catalog: Catalog,
    *,
    migrate: bool = True,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
    clock: Clock | None = None,
) -> None:
    """Open the database, migrate, connect to Slack and serve until SIGTERM/SIGINT or ``stop``
    (``clock``: the demo's, which it speeds up; else the settings' clock)."""
    _require_tokens(settings)
    stop = stop or asyncio.Event()
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(
            db.database(settings.database_url, pool_size=settings.db_pool_size)
        )
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
        await start_bot(settings, catalog, stack, clock=clock)
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


async def start_bot(
    settings: Settings, catalog: Catalog, stack: AsyncExitStack, *, clock: Clock | None = None
) -> RunningBot:
    """Connect to Slack and start the scheduler and the health server on an open database.

    Everything started is registered on ``stack``; tests use this with their own database."""
    slack_app_token = _require_tokens(settings)
    telemetry = Telemetry()
    client = build_web_client(settings)
    stack.push_async_callback(close_web_client, client)
    try:
        identity = await client.auth_test()
    except SlackApiError as exc:
        raise StartupError(
            f"Slack refused the bot token ({exc.response.get('error')}): check SLACK_BOT_TOKEN."
        ) from exc
    chat = SlackChat(client, str(identity["user_id"]))
    service = build_service(catalog, clock or build_clock(settings), chat=chat)
    tracker = build_tracker(settings, catalog)
    if tracker is not None:
        stack.push_async_callback(tracker.close)
    pager = build_pager(settings)
    if pager is not None:
        stack.push_async_callback(pager.close)
    docs = build_docs(settings)
    postmortems, postmortem_pull = None, None
    if docs is not None:
        _require_confluence_catalog(catalog, tracker)
        stack.push_async_callback(docs.close)
        postmortems, postmortem_pull = build_postmortems(service, chat, docs, tracker=tracker)
    worker, _effects = build_worker(
        service,
        chat,
        tracker=tracker,
        pager=pager,
        postmortems=postmortems,
        lease_seconds=settings.outbox_lease_seconds,
    )
    ticket_pull = build_ticket_pull(service, tracker) if tracker is not None else None
    page_pull = build_page_pull(service, pager) if pager is not None else None
    warm_up = asyncio.create_task(chat.warm_up(catalog_references(catalog)), name="warm-up")
    stack.push_async_callback(_cancel, warm_up)
    worker_task = asyncio.create_task(worker.run(), name="outbox-worker")
    stack.push_async_callback(_cancel, worker_task)
    background = Background()
    stack.push_async_callback(background.drain)
    home_publisher = build_home_publisher(service, client)
    _effects.after_sync = home_publisher.incident_changed
    home_task = asyncio.create_task(home_publisher.run(), name="home-publisher")
    stack.push_async_callback(_cancel, home_task)
    app = build_app(
        catalog,
        client=client,
        service=service,
        telemetry=telemetry,
        background=background,
        home_publisher=home_publisher,
    )

    _prime_authorization(app, identity)

    handler = _SocketModeHandler(app, app_token=slack_app_token, web_client=client)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    stack.push_async_callback(_within, "socket mode close", handler.close_async)
    log.info("connected to Slack over Socket Mode")

    scheduler = build_scheduler(
        service,
        catalog,
        reminder_sweep_seconds=settings.reminder_sweep_seconds,
        ticket_pull=ticket_pull,
        jira_pull_seconds=settings.jira_pull_seconds,
        page_pull=page_pull,
        pagerduty_pull_seconds=settings.pagerduty_pull_seconds,
        postmortem_pull=postmortem_pull,
        confluence_pull_seconds=settings.confluence_pull_seconds,
    )
    scheduler.start()
    stack.callback(scheduler.shutdown, wait=False)

    async def socket_ok() -> bool:
        return bool(await handler.client.is_connected())

    health = health_app(database_ok=db.ping, socket_ok=socket_ok, telemetry=telemetry)
    runner = await start_health_server(health, settings.http_host, settings.http_port)
    stack.push_async_callback(_within, "health server cleanup", runner.cleanup)
    port = _bound_port(runner, settings.http_port)
    log.info("health server listening", extra={"host": settings.http_host, "port": port})
    return RunningBot(
        app=app,
        client=client,
        handler=handler,
        service=service,
        scheduler=scheduler,
        telemetry=telemetry,
        health_port=port,
        worker=worker,
        chat=chat,
        background=background,
        home_publisher=home_publisher,
        tracker=tracker,
        ticket_pull=ticket_pull,
        pager=pager,
        page_pull=page_pull,
        docs=docs,
        postmortem_pull=postmortem_pull,
    )


def catalog_references(catalog: Catalog) -> tuple[list[str], list[str], list[str]]:
    """The channels, user groups and users the catalog names (resolved once at start)."""
    slack = catalog.slack
    channels = [
        c
        for c in (
            slack.announcement_channel,
            slack.deploy_warning_channel,
            slack.private_digest_channel,
            *slack.announcement_overrides.values(),
        )
        if c
    ]
    groups = [g for g in (slack.incident_managers_usergroup, slack.all_hands_usergroup) if g]
    users: list[str] = []
    for category in catalog.categories:
        groups += category.responders.usergroups
        users += category.responders.users
    return channels, groups, users


class _SocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler; while a request's listener runs and its ack is sent, the
    database is not waited for if it is away (``db.failing_fast``): the listener fails within
    Slack's 3 s and the error handler tells the user, instead of an ack too late. The work the
    listener hands to the background waits for the database as usual."""

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        with db.failing_fast():
            await super().handle(client, req)


def _prime_authorization(app: AsyncApp, identity: AsyncSlackResponse) -> None:
    """Bolt's single-workspace authorization calls ``auth.test`` on the first request, before
    that request's listener runs, hence before its ack (and once per request in flight until
    one answers): with a slow Slack the first interaction after a start was acked late and its
    form's trigger expired. It gets the answer ``start_bot`` already has instead."""
    for middleware in app._async_middleware_list:
        if isinstance(middleware, AsyncSingleTeamAuthorization):
            middleware.auth_test_result = identity


SHUTDOWN_STEP_SECONDS = 5.0
"""How long one step of the shutdown may take before the next one goes ahead anyway."""


async def _within(step: str, close: Callable[[], Awaitable[object]]) -> None:
    """Run one shutdown step for at most ``SHUTDOWN_STEP_SECONDS``: slack_sdk's aiohttp Socket
    Mode ``close`` can wait for ever on a connection being replaced (slack-sdk #1913), which
    left a stopping bot (and a test's teardown) hanging with its outbox still running."""
    try:
        await asyncio.wait_for(close(), SHUTDOWN_STEP_SECONDS)
    except TimeoutError:
        log.warning(
            "shutdown step did not finish in time; going on",
            extra={"step": step, "seconds": SHUTDOWN_STEP_SECONDS},
        )


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await _within(task.get_name(), lambda: asyncio.wait({task}))


def _require_confluence_catalog(catalog: Catalog, tracker: Tracker | None) -> None:
    """Confluence is configured: the catalog must say where post-mortems go and how their
    readiness is known, before any incident needs one."""
    section = catalog.confluence
    if not section.space_key:
        raise StartupError(
            "Confluence is configured (CONFLUENCE_URL…) but the catalog's confluence.space_key "
            "is not set: say which space post-mortems go to."
        )
    if section.ready_via == "jira_status" and tracker is None:
        raise StartupError(
            "confluence.ready_via is jira_status, but Jira is not configured: set JIRA_URL… "
            "or use ready_via: label."
        )


def _require_tokens(settings: Settings) -> str:
    if settings.slack_bot_token is None or settings.slack_app_token is None:
        raise StartupError(
            "SLACK_BOT_TOKEN (xoxb-…) and SLACK_APP_TOKEN (xapp-…, scope connections:write) "
            "must be set: see README, 'Connecting to a real Slack workspace'."
        )
    return settings.slack_app_token.get_secret_value()


def _bound_port(runner: object, configured: int) -> int:
    addresses = getattr(runner, "addresses", [])
    for address in addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return configured
