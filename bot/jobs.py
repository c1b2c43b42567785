"""Scheduled jobs: one line each into the service (ARCHITECTURE: jobs are imperative verbs)."""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.service import IncidentService

log = logging.getLogger("firefighter.jobs")

INTENT_MEMORY = timedelta(days=30)
"""How long a handled intent (a view submitted, a reaction) is remembered: Slack redelivers within
minutes, a person re-submits a form within hours; a month is ample."""


async def forget_old_intents(service: IncidentService) -> None:
    forgotten = await service.forget_intents_before(service.clock.now() - INTENT_MEMORY)
    if forgotten:
        log.info("old intents forgotten", extra={"count": forgotten})


def add_jobs(scheduler: AsyncIOScheduler, service: IncidentService) -> None:
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
