"""Scheduled jobs: one line each into the service (ARCHITECTURE: jobs are imperative verbs).

Every job runs on one replica at a time: each turn takes the job's lease (``storage.lock``, renewed
while the turn runs) and a replica that finds it held skips its turn. Each turn is logged on
``firefighter.jobs.runs``: a turn that held the lease at INFO ("scheduled job ran": the job, the
process, the wall-clock times it started and ended inside its holding, its outcome), a turn skipped
at DEBUG; laid side by side, the lines of all replicas show who ran what when.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.domain.reminders import ReminderKind
from bot.ports import DocsError, PagerError, TrackerError
from bot.pull import LeasedPull, Report, lease_seconds
from bot.service import IncidentService
from storage import lock

log = logging.getLogger("firefighter.jobs")
runs_log = logging.getLogger("firefighter.jobs.runs")

INTENT_MEMORY = timedelta(days=30)
"""How long a handled intent (a view submitted, a reaction) is remembered: Slack redelivers within
minutes, a person re-submits a form within hours; a month is ample."""


REMINDER_SWEEP_SECONDS = 30.0
REMINDER_SWEEP_LEASE_SECONDS = 120.0
"""How long one replica holds a reminder sweep (in clock seconds; renewed while it runs, released
when it ends): how long a replica that died in a sweep holds up that kind's reminders."""
FORGET_INTENTS_LEASE_SECONDS = 600.0


def owner_id() -> str:
    """Who holds this process's job leases (host, process, and a random part for a pid reused)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@asynccontextmanager
async def scheduled_run(
    job: str, leasing: AbstractAsyncContextManager[lock.Lease]
) -> AsyncIterator[lock.Lease]:
    """``async with scheduled_run(job id, lock.leased(...)) as lease:`` one turn of a scheduled
    job under its lease (the body runs the job when ``lease`` is true), logged when it ends."""
    lease: lock.Lease | None = None
    outcome = "done"
    try:
        async with leasing as lease:
            yield lease
    except asyncio.CancelledError:
        outcome = "cancelled"
        raise
    except Exception:
        outcome = "failed"
        raise
    finally:
        if lease is not None:
            log_run(job, lease, outcome)


def log_run(job: str, lease: lock.Lease, outcome: str) -> None:
    """One line per turn of a scheduled job (see the module's docstring)."""
    fields: dict[str, object] = {
        "job": job,
        "lease": lease.name,
        "pid": os.getpid(),
        "owner": lease.owner,
        "held": lease.held,
    }
    if not lease.held or lease.started_at is None or lease.ended_at is None:
        runs_log.debug("scheduled job skipped: another replica holds it", extra=fields)
        return
    runs_log.info(
        "scheduled job ran",
        extra={
            **fields,
            "outcome": outcome,
            "started_at": lease.started_at.isoformat(),
            "ended_at": lease.ended_at.isoformat(),
            "seconds": round((lease.ended_at - lease.started_at).total_seconds(), 4),
            "renewals": lease.renewals,
        },
    )


async def send_reminders(service: IncidentService, kind: ReminderKind, owner: str) -> None:
    ttl = lease_seconds(service.clock, REMINDER_SWEEP_LEASE_SECONDS)
    leasing = lock.leased(f"sweep:{kind.value}", owner, ttl, clock=service.clock.now)
    try:
        async with scheduled_run(f"send_{kind.value}_reminders", leasing) as lease:
            if lease:
                await service.send_due_reminders(kind, service.clock.now())
    except asyncio.CancelledError:
        # Stopped at shutdown: what was sent is recorded (each due time in its own transaction),
        # the next start sends the rest.
        log.info(f"{kind.value} reminder sweep interrupted by shutdown")
    except lock.LeaseLost as lost:
        # Stalled past the lease while another replica took it: that one sweeps now.
        log.warning(f"{kind.value} reminder sweep stopped", extra={"error": str(lost)})


def add_reminder_sweeps(
    scheduler: AsyncIOScheduler, service: IncidentService, *, every_seconds: float, owner: str
) -> None:
    """One sweep per reminder kind; a lease per kind makes one replica run it at a time."""
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


async def forget_old_intents(service: IncidentService, owner: str | None = None) -> None:
    ttl = lease_seconds(service.clock, FORGET_INTENTS_LEASE_SECONDS)
    leasing = lock.leased("forget_old_intents", owner or owner_id(), ttl, clock=service.clock.now)
    try:
        async with scheduled_run("forget_old_intents", leasing) as lease:
            if not lease:
                return
            forgotten = await service.forget_intents_before(service.clock.now() - INTENT_MEMORY)
    except (asyncio.CancelledError, lock.LeaseLost):
        log.info("forgetting old intents interrupted")  # the next turn goes on
        return
    if forgotten:
        log.info("old intents forgotten", extra={"count": forgotten})


async def post_weekly_digest(service: IncidentService, owner: str) -> None:
    # The service takes the week's lease itself and keeps it (its outbox key guards the week
    # after): a turn that got no week found it taken.
    started = datetime.now(UTC)
    week = await service.enqueue_weekly_digest(owner=owner)
    held = lock.Lease(f"digest:{week}", owner, week is not None, started, datetime.now(UTC))
    log_run("post_weekly_digest", held, "done")
    if week:
        log.info("weekly digest enqueued", extra={"week": week})


def add_weekly_digest(scheduler: AsyncIOScheduler, service: IncidentService, *, owner: str) -> None:
    """Last week's digest at ``reminders.weekly_digest`` (day and time in the catalog's time
    zone); a lease and an outbox key per week make several replicas post it once."""
    reminders = service.catalog.reminders
    digest = reminders.weekly_digest
    if digest is None or not service.catalog.slack.announcement_channel:
        return
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
        async with scheduled_run(job.id, pull.leased()) as lease:
            if not lease:
                return
            report = await pull.timed_cycle()
    except asyncio.CancelledError:
        # The scheduler cancels running jobs at shutdown; the next start pulls from the same
        # watermark (or reads the same state again), so nothing is lost (and this is no error).
        log.info(f"{job.subject} pull interrupted by shutdown")
        return
    except lock.LeaseLost as lost:
        # Stalled past the lease while another replica took it: that one pulls now.
        log.warning(f"{job.subject} pull stopped", extra={"error": str(lost)})
        return
    except job.errors as error:
        # The vendor down or refusing: the watermark did not move, the next pull reads it again.
        log.warning(f"{job.subject} pull failed; the next one retries", extra={"error": str(error)})
        return
    if report.noteworthy:
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
    """Every scheduled job of the service (the pulls are added by ``add_pull``), each under a
    lease held by this process while it runs."""
    # Each turn has its line on ``runs_log``; APScheduler's two (running, executed) per turn of
    # every job on every replica only drowned it. Its warnings and errors stay.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    owner = owner_id()
    scheduler.add_job(
        forget_old_intents,
        "interval",
        hours=6,
        args=[service, owner],
        id="forget_old_intents",
        max_instances=1,
        coalesce=True,
    )
    add_reminder_sweeps(scheduler, service, every_seconds=reminder_sweep_seconds, owner=owner)
    add_weekly_digest(scheduler, service, owner=owner)
