"""Scheduled jobs: one line each into the service (ARCHITECTURE: jobs are imperative verbs)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.domain.reminders import ReminderKind
from bot.ports import DocsError, PagerError, TrackerError
from bot.pull import LeasedPull, Report
from bot.service import IncidentService

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


@dataclass(frozen=True, slots=True)
class PullJob:
    """A scheduled pull: its job id (an imperative verb), what its log lines call it, the line
    after a cycle that changed something, and its vendor's errors (the vendor down or refusing:
    logged, and the next cycle reads again)."""

    id: str
    subject: str
    done: str
    errors: tuple[type[Exception], ...]


JIRA_PULL = PullJob("pull_jira_changes", "jira", "jira pulled", (TrackerError,))
PAGERDUTY_PULL = PullJob("pull_pagerduty_changes", "pagerduty", "pagerduty pulled", (PagerError,))
# Confluence (or Jira, for ``ready_via: jira_status``) down: the gate keeps what was last read.
POSTMORTEM_PULL = PullJob(
    "pull_postmortems", "post-mortem", "post-mortems pulled", (DocsError, TrackerError)
)


async def pull_changes(pull: LeasedPull[Report], job: PullJob) -> None:
    """One cycle of a scheduled pull; one that changed something is logged with its report."""
    try:
        report = await pull.pull()
    except asyncio.CancelledError:
        # The scheduler cancels running jobs at shutdown; the next start pulls from the same
        # watermark (or reads the same state again), so nothing is lost (and this is no error).
        log.info(f"{job.subject} pull interrupted by shutdown")
        return
    except job.errors as error:
        # The vendor down or refusing: the watermark did not move, the next pull reads it again.
        log.warning(f"{job.subject} pull failed; the next one retries", extra={"error": str(error)})
        return
    if report is not None and report.noteworthy:
        log.info(job.done, extra=report.log_fields())


def add_pull(
    scheduler: AsyncIOScheduler, pull: LeasedPull[Report], job: PullJob, *, every_seconds: float
) -> None:
    """A pull of what people change in a vendor (Jira, PagerDuty, Confluence), every
    ``<vendor>.sync_interval_seconds``; its lease makes one replica pull at a time."""
    scheduler.add_job(
        pull_changes,
        "interval",
        seconds=every_seconds,
        args=[pull, job],
        id=job.id,
        max_instances=1,
        coalesce=True,
    )


# What ``bot.wiring`` schedules each pull by.
add_jira_pull = partial(add_pull, job=JIRA_PULL)
add_pagerduty_pull = partial(add_pull, job=PAGERDUTY_PULL)
add_postmortem_pull = partial(add_pull, job=POSTMORTEM_PULL)


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
