"""Scheduled jobs: one line each into the service (ARCHITECTURE: jobs are imperative verbs)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.domain.reminders import ReminderKind
from bot.page_pull import PagePull
from bot.ports import DocsError, PagerError, TrackerError
from bot.postmortem_pull import PostmortemPull
from bot.service import IncidentService
from bot.ticket_pull import TicketPull

log = logging.getLogger("firefighter.jobs")

INTENT_MEMORY = timedelta(days=30)
"""How long a handled intent (a view submitted, a reaction) is remembered: Slack redelivers within
minutes, a person re-submits a form within hours; a month is ample."""


REMINDER_SWEEP_SECONDS = 30.0
REMINDER_SWEEP_LEASE_SECONDS = 120.0
"""How long one replica holds a reminder sweep (in clock seconds; released when it ends)."""


async def send_reminders(service: IncidentService, kind: ReminderKind, owner: str) -> None:
    await service.sweep_reminders(kind, owner=owner, ttl=REMINDER_SWEEP_LEASE_SECONDS)


def add_reminder_sweeps(
    scheduler: AsyncIOScheduler, service: IncidentService, *, every_seconds: float
) -> None:
    """One sweep per reminder kind; a lease per kind makes one replica run it at a time."""
    owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    for kind in ReminderKind:
        scheduler.add_job(
            send_reminders,
            "interval",
            seconds=every_seconds,
            args=[service, kind, owner],
            id=f"send_{kind.value}_reminders",
            max_instances=1,
            coalesce=True,
        )


async def forget_old_intents(service: IncidentService) -> None:
    forgotten = await service.forget_intents_before(service.clock.now() - INTENT_MEMORY)
    if forgotten:
        log.info("old intents forgotten", extra={"count": forgotten})


async def post_weekly_digest(service: IncidentService, owner: str) -> None:
    week = await service.enqueue_weekly_digest(owner=owner)
    if week:
        log.info("weekly digest enqueued", extra={"week": week})


def add_weekly_digest(scheduler: AsyncIOScheduler, service: IncidentService) -> None:
    """Last week's digest at ``reminders.weekly_digest`` (day and time in the catalog's time
    zone); a lease and an outbox key per week make several replicas post it once."""
    reminders = service.catalog.reminders
    digest = reminders.weekly_digest
    if digest is None or not service.catalog.slack.announcement_channel:
        return
    owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    scheduler.add_job(
        post_weekly_digest,
        "cron",
        day_of_week=digest.day,
        hour=digest.time.hour,
        minute=digest.time.minute,
        timezone=reminders.tz,
        args=[service, owner],
        id="post_weekly_digest",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )


async def pull_jira_changes(pull: TicketPull) -> None:
    try:
        report = await pull.pull()
    except asyncio.CancelledError:
        # The scheduler cancels running jobs at shutdown; the next start pulls from the same
        # watermark, so nothing is lost (and this is no error).
        log.info("jira pull interrupted by shutdown")
        return
    except TrackerError as error:
        # Jira down or refusing: the watermark did not move, the next pull reads the same window.
        log.warning("jira pull failed; the next one retries", extra={"error": str(error)})
        return
    if report is not None and (report.applied or report.followups):
        log.info(
            "jira pulled",
            extra={
                "issues": report.issues,
                "applied": report.applied,
                "followups": report.followups,
                "seconds": round(report.seconds, 3),
            },
        )


def add_jira_pull(scheduler: AsyncIOScheduler, pull: TicketPull, *, every_seconds: float) -> None:
    """Changes people make in Jira, pulled every ``jira.sync_interval_seconds`` (a lease makes
    one replica pull at a time)."""
    scheduler.add_job(
        pull_jira_changes,
        "interval",
        seconds=every_seconds,
        args=[pull],
        id="pull_jira_changes",
        max_instances=1,
        coalesce=True,
    )


async def pull_pagerduty_changes(pull: PagePull) -> None:
    try:
        report = await pull.pull()
    except asyncio.CancelledError:
        # Cancelled at shutdown: the next start pulls from the same watermark.
        log.info("pagerduty pull interrupted by shutdown")
        return
    except PagerError as error:
        # PagerDuty down or refusing: the watermark did not move, the next pull reads it again.
        log.warning("pagerduty pull failed; the next one retries", extra={"error": str(error)})
        return
    if report is not None and report.applied:
        log.info(
            "pagerduty pulled",
            extra={
                "pages": report.pages,
                "events": report.events,
                "applied": report.applied,
                "seconds": round(report.seconds, 3),
            },
        )


def add_pagerduty_pull(
    scheduler: AsyncIOScheduler, pull: PagePull, *, every_seconds: float
) -> None:
    """Acknowledgements and resolutions made in PagerDuty, pulled every
    ``pagerduty.sync_interval_seconds`` (a lease makes one replica pull at a time)."""
    scheduler.add_job(
        pull_pagerduty_changes,
        "interval",
        seconds=every_seconds,
        args=[pull],
        id="pull_pagerduty_changes",
        max_instances=1,
        coalesce=True,
    )


async def pull_postmortems(pull: PostmortemPull) -> None:
    try:
        report = await pull.pull()
    except asyncio.CancelledError:
        # Cancelled at shutdown: readiness is a state, the next start reads it again.
        log.info("post-mortem pull interrupted by shutdown")
        return
    except (DocsError, TrackerError) as error:
        # Confluence (or Jira) down: the gate keeps what was last read; the next pull reads again.
        log.warning("post-mortem pull failed; the next one retries", extra={"error": str(error)})
        return
    if report is not None and (report.changed or report.resynced):
        log.info(
            "post-mortems pulled",
            extra={
                "pages": report.pages,
                "changed": report.changed,
                "resynced": report.resynced,
                "seconds": round(report.seconds, 3),
            },
        )


def add_postmortem_pull(
    scheduler: AsyncIOScheduler, pull: PostmortemPull, *, every_seconds: float
) -> None:
    """The post-mortems of open incidents read back every ``confluence.sync_interval_seconds``
    (their "ready" state; a lease makes one replica read at a time)."""
    scheduler.add_job(
        pull_postmortems,
        "interval",
        seconds=every_seconds,
        args=[pull],
        id="pull_postmortems",
        max_instances=1,
        coalesce=True,
    )


def add_jobs(
    scheduler: AsyncIOScheduler,
    service: IncidentService,
    *,
    reminder_sweep_seconds: float = REMINDER_SWEEP_SECONDS,
) -> None:
    """Every scheduled job. Each is safe on several replicas at once (idempotent deletes)."""
    scheduler.add_job(
        forget_old_intents,
        "interval",
        hours=6,
        args=[service],
        id="forget_old_intents",
        max_instances=1,
        coalesce=True,
    )
    add_reminder_sweeps(scheduler, service, every_seconds=reminder_sweep_seconds)
    add_weekly_digest(scheduler, service)
