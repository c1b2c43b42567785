"""The composition root: builds the service, the Bolt app and the scheduler from settings and the
catalog. Used by ``bot.main.run`` and by the tests, so both run the same wiring."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import AcceleratedClock, SystemClock
from bot.config import Catalog, Settings
from bot.effects import SlackEffects
from bot.home_publisher import HomePublisher
from bot.jobs import add_jira_pull, add_jobs, add_pagerduty_pull, add_postmortem_pull
from bot.page_effects import PageEffects
from bot.page_pull import PagePull
from bot.ports import Chat, Clock, Docs, IntegrationError, Pager, Tracker
from bot.postmortem_effects import PostmortemEffects
from bot.postmortem_pull import PostmortemPull
from bot.service import IncidentService
from bot.telemetry import Telemetry
from bot.ticket_effects import TicketEffects
from bot.ticket_pull import TicketPull
from bot.worker import OutboxWorker, lane_of
from handlers import (
    command,
    declare,
    errors,
    events,
    followup,
    home,
    incident_list,
    manage,
    oncall,
    postmortem,
    reminders,
    report,
    timeline,
    timeline_edit,
    usergroups,
)
from handlers.background import Background
from handlers.command import CommandRouter
from storage.outbox import OutboxJob

FEATURES: tuple[Any, ...] = (
    declare,
    timeline,
    manage,
    timeline_edit,
    followup,
    postmortem,
    oncall,
    reminders,
    report,
)
"""Feature modules (``register(app, service, router, background)``), in help order."""

log = logging.getLogger("firefighter.wiring")


def build_web_client(settings: Settings) -> AsyncWebClient:
    """The Web API client, pointed at ``SLACK_API_URL`` (Slack, or any Slack-compatible server).

    Call it on the running loop and close it with ``close_web_client``: it holds one aiohttp
    session, so calls reuse their connections (without one, slack_sdk opens a session and a new
    TCP and TLS connection for every call: a round trip or more before each request)."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = AsyncWebClient(token=token, base_url=settings.slack_api_url)
    client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout))
    # 429s are not retried by default (SLACK_NOTES §8.3); one short retry keeps interactive paths
    # snappy, longer backoff belongs to the outbox.
    client.retry_handlers.append(ShortRateLimitRetry())
    return client


RATE_LIMIT_WAIT_SECONDS = 2.0
"""The longest ``Retry-After`` the Web API client waits out itself (a channel's one message a
second); a longer one is raised at once."""


class ShortRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """One retry of a 429 whose ``Retry-After`` is short. slack_sdk's handler sleeps whatever
    Slack asks, up to a minute for a tier-2 method: inside an outbox job that held one of the
    worker's slots the whole time (in a storm of 100 declarations every slot slept while created
    channels waited for their pins and announcements), and no interactive path can wait that
    long. Longer waits raise ``ratelimited``: the outbox postpones the job without holding a
    slot, and a listener tells the user."""

    def __init__(self, max_wait: float = RATE_LIMIT_WAIT_SECONDS) -> None:
        super().__init__(max_retry_count=1)
        self.max_wait = max_wait

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        return retry_after(response) <= self.max_wait


def retry_after(response: HttpResponse) -> float:
    """The response's ``Retry-After`` in seconds (1 when absent or unreadable, as slack_sdk)."""
    for name, values in response.headers.items():
        if name.lower() == "retry-after":
            value = values[0] if isinstance(values, list) else values
            try:
                return float(value)
            except ValueError:
                return 1.0
    return 1.0


async def close_web_client(client: AsyncWebClient) -> None:
    """Close the aiohttp session the client holds (``build_web_client`` gives it one)."""
    session = client.session
    if session is not None and not session.closed:
        await session.close()


def build_clock(settings: Settings) -> Clock:
    """The system clock, or an accelerated one (``FIREFIGHTER_CLOCK_SPEEDUP``, from
    ``FIREFIGHTER_CLOCK_EPOCH``) for tests and demos that must live through hours in seconds."""
    if settings.clock_speedup == 1.0:
        return SystemClock()
    return AcceleratedClock(settings.clock_speedup, epoch=settings.clock_epoch)


def build_service(
    catalog: Catalog,
    clock: Clock | None = None,
    *,
    chat: Chat | None = None,
    wake: Callable[[], None] | None = None,
) -> IncidentService:
    service = IncidentService(catalog=catalog, clock=clock or SystemClock(), chat=chat)
    if wake is not None:
        service.wake = wake
    return service


JIRA_ATTEMPTS = 24
"""A Jira job's attempts: with the backoff capped at 5 minutes, about 1.5 hours of outage."""


def owner_id() -> str:
    """Who holds a lease or an outbox claim: this process."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def build_tracker(settings: Settings, catalog: Catalog) -> Tracker | None:
    """The Jira adapter, or None when Jira is not configured (switched off here, once)."""
    if not settings.jira_enabled or settings.jira_url is None:
        return None
    assert settings.jira_api_token is not None
    # Imported only when configured: atlassian-python-api and requests are ~12 MB of resident
    # memory a bot without Jira has no use for (docs/benchmarks.md, memory).
    from integrations.jira import JiraTracker

    return JiraTracker(
        settings.jira_url,
        user=settings.jira_user,
        token=settings.jira_api_token.get_secret_value(),
        cloud=settings.jira_cloud,
        sync_label=catalog.jira.sync_label,
        priority_field=catalog.jira.priority_field,
    )


PAGERDUTY_ATTEMPTS = 12
"""A PagerDuty job's attempts: with the backoff capped at 5 minutes, about 20 minutes of outage
before the page is reported as failed (people then know to call on-call another way)."""


def build_pager(settings: Settings) -> Pager | None:
    """The PagerDuty adapter, or None when PagerDuty is not configured (switched off here, once).
    ``PAGERDUTY_CA_BUNDLE`` adds a CA to trust; TLS is verified either way."""
    if not settings.pagerduty_enabled:
        return None
    assert settings.pagerduty_api_token is not None and settings.pagerduty_from_email is not None
    from integrations.pagerduty import PagerDutyPager  # only when configured, like Jira

    bundle = settings.pagerduty_ca_bundle
    return PagerDutyPager(
        settings.pagerduty_api_url,
        token=settings.pagerduty_api_token.get_secret_value(),
        from_email=settings.pagerduty_from_email,
        verify=str(bundle) if bundle is not None else True,
    )


def build_page_pull(service: IncidentService, pager: Pager) -> PagePull:
    return PagePull(pager, service, clock=service.clock, owner=owner_id())


def build_worker(
    service: IncidentService,
    chat: Chat,
    *,
    tracker: Tracker | None = None,
    pager: Pager | None = None,
    postmortems: PostmortemEffects | None = None,
    worker_id: str | None = None,
    lease_seconds: float = 60.0,
) -> tuple[OutboxWorker, SlackEffects]:
    """The outbox worker performing the service's side effects (Slack, and Jira when a
    ``tracker`` is given: the service then enqueues ticket jobs); the service wakes it."""
    effects = SlackEffects(chat, service.catalog, service.clock)
    effects.channel_ready = service.channel_ready
    performers: dict[str, Callable[[OutboxJob], Awaitable[None]]] = {"slack": effects.perform}
    if tracker is not None:
        performers["jira"] = TicketEffects(tracker, chat, service).perform
        service.jira = True
    if pager is not None:
        # Pages are recorded by the service (in the change's transaction) only when this is set.
        performers["pagerduty"] = PageEffects(pager, chat, service).perform
        service.pager = pager
    if postmortems is not None:
        # Post-mortems are Confluence pages (and the gate reads their label) only when set.
        performers["confluence"] = postmortems.perform
        service.confluence = True

    async def perform(job: OutboxJob) -> None:
        performer = performers.get(lane_of(job.kind))
        if performer is None:
            raise IntegrationError(f"no performer for {job.kind}", transient=False)
        await performer(job)

    worker = OutboxWorker(
        perform,
        service.record_failure,
        clock=service.clock,
        worker_id=worker_id or owner_id(),
        lease_seconds=lease_seconds,
        attempts_by_lane={
            "jira": JIRA_ATTEMPTS,
            "pagerduty": PAGERDUTY_ATTEMPTS,
            "confluence": CONFLUENCE_ATTEMPTS,
        },
    )
    service.wake = worker.wake
    return worker, effects


CONFLUENCE_ATTEMPTS = 24
"""A Confluence job's attempts: with the backoff capped at 5 minutes, about 1.5 hours of outage
before the post-mortem is reported as not written (``/incident postmortem`` asks again)."""


def build_docs(settings: Settings) -> Docs | None:
    """The Confluence adapter, or None when Confluence is not configured (switched off here)."""
    if not settings.confluence_enabled or settings.confluence_url is None:
        return None
    assert settings.confluence_user is not None and settings.confluence_api_token is not None
    from integrations.confluence import ConfluenceDocs  # only when configured, like Jira

    return ConfluenceDocs(
        settings.confluence_url,
        settings.confluence_user,
        settings.confluence_api_token.get_secret_value(),
    )


def build_postmortems(
    service: IncidentService, chat: Chat, docs: Docs, *, tracker: Tracker | None = None
) -> tuple[PostmortemEffects, PostmortemPull]:
    """The post-mortem performers (give them to ``build_worker``) and the readiness pull, which
    also serves as the close gate's fresh read (``service.postmortem_check``)."""
    effects = PostmortemEffects(docs, chat, service, tracker=tracker)
    pull = PostmortemPull(
        docs, service, effects, clock=service.clock, owner=owner_id(), tracker=tracker
    )
    service.postmortem_check = pull.refresh
    return effects, pull


def build_ticket_pull(service: IncidentService, tracker: Tracker) -> TicketPull:
    return TicketPull(tracker, service, clock=service.clock, owner=owner_id())


UNKNOWN_VIEWER = frozenset({"invalid_arguments", "user_not_found", "user_not_visible"})


def build_home_publisher(service: IncidentService, client: AsyncWebClient) -> HomePublisher:
    """The App Home publisher (its ``run`` refreshes Homes after changes: start it as a task)."""

    async def publish(user_id: str, view: dict[str, Any]) -> None:
        try:
            try:
                await client.views_publish(user_id=user_id, view=view)
            except SlackApiError as error:
                if error.response.status_code != 429:
                    raise
                # The publisher has no queue of its own to put a Home back in: wait as asked
                # (ShortRateLimitRetry leaves long waits to the caller), then once more.
                wait = float(error.response.headers.get("Retry-After", 1))
                await asyncio.sleep(wait + random.random())
                await client.views_publish(user_id=user_id, view=view)
        except SlackApiError as error:
            # A Home event for someone Slack does not know (any more): nothing to show them.
            if error.response.get("error") not in UNKNOWN_VIEWER:
                raise
            log.warning("App Home not published: unknown user", extra={"user": user_id})

    return HomePublisher(service, publish)


def build_app(
    catalog: Catalog,
    *,
    client: AsyncWebClient,
    service: IncidentService,
    telemetry: Telemetry,
    background: Background | None = None,
    home_publisher: HomePublisher | None = None,
) -> AsyncApp:
    """The Bolt app with every listener registered. No network I/O happens here.

    ``process_before_response=True``: a listener's ack leaves as soon as the listener returns
    (Bolt otherwise polls for it every 10 ms); listeners hand slow work to ``background``."""
    background = background or Background()
    bolt_log = logging.getLogger("firefighter.bolt")
    bolt_log.addFilter(_drop_token_skipped_warning)
    app = AsyncApp(
        client=client,
        logger=bolt_log,
        # Socket Mode has no signing secret; Bolt would otherwise warn at start.
        request_verification_enabled=False,
        raise_error_for_unhandled_request=False,
        process_before_response=True,
    )
    app.middleware(_measure(telemetry))
    router = CommandRouter(catalog.slack.command, background)
    for feature in FEATURES:
        feature.register(app, service, router, background)
    incident_list.register(app, service, router, background)
    command.register(app, router)
    home.register(app, home_publisher or build_home_publisher(service, client), background)
    usergroups.register(app, service)
    events.register(app)  # last: acknowledges subscribed events no feature listens to
    errors.register(app)
    return app


def build_scheduler(
    service: IncidentService,
    catalog: Catalog,
    *,
    reminder_sweep_seconds: float = 30.0,
    ticket_pull: TicketPull | None = None,
    jira_pull_seconds: float | None = None,
    page_pull: PagePull | None = None,
    pagerduty_pull_seconds: float | None = None,
    postmortem_pull: PostmortemPull | None = None,
    confluence_pull_seconds: float | None = None,
) -> AsyncIOScheduler:
    """APScheduler on the running loop; jobs are one line each into the service."""
    logging.getLogger("apscheduler.scheduler").addFilter(_drop_overlap_skipped_warning)
    scheduler = AsyncIOScheduler(timezone=catalog.reminders.timezone)
    add_jobs(scheduler, service, reminder_sweep_seconds=reminder_sweep_seconds)
    if ticket_pull is not None:
        every = jira_pull_seconds or catalog.jira.sync_interval_seconds
        add_jira_pull(scheduler, ticket_pull, every_seconds=every)
    if page_pull is not None:
        every = pagerduty_pull_seconds or catalog.pagerduty.sync_interval_seconds
        add_pagerduty_pull(scheduler, page_pull, every_seconds=every)
    if postmortem_pull is not None:
        every = confluence_pull_seconds or catalog.confluence.sync_interval_seconds
        add_postmortem_pull(scheduler, postmortem_pull, every_seconds=every)
    return scheduler


def _drop_overlap_skipped_warning(record: logging.LogRecord) -> bool:
    """A sweep still running when its next turn comes is skipped (``max_instances=1``, on
    purpose): APScheduler's warning for it would only be noise."""
    return "maximum number of running instances reached" not in record.getMessage()


def _drop_token_skipped_warning(record: logging.LogRecord) -> bool:
    """Bolt warns that SLACK_BOT_TOKEN is unused whenever it is set and a client is given; the
    client carries that very token, so the warning only misleads operators."""
    return "`token` will be unused" not in record.getMessage()


def _measure(
    telemetry: Telemetry,
) -> Callable[..., Awaitable[BoltResponse | None]]:
    async def measure_requests(
        body: dict[str, Any], next: Callable[[], Awaitable[BoltResponse | None]]
    ) -> BoltResponse | None:
        kind = _payload_type(body)
        started = time.perf_counter()
        try:
            response = await next()
        except Exception:
            telemetry.requests.labels(kind, "error").inc()
            raise
        telemetry.handle_seconds.labels(kind).observe(time.perf_counter() - started)
        telemetry.requests.labels(kind, "ok").inc()
        return response

    return measure_requests


def _payload_type(body: dict[str, Any]) -> str:
    if "command" in body:
        return "slash_command"
    if body.get("type") == "event_callback":
        event = body.get("event") or {}
        return f"event:{event.get('type', 'unknown')}"
    return str(body.get("type") or "unknown")
