"""Scheduled jobs: old handled intents are forgotten, recent ones kept (redeliveries still dedup)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import Catalog
from bot.jobs import INTENT_MEMORY, forget_old_intents
from bot.wiring import build_scheduler, build_service
from storage import idempotency

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW


async def test_old_intents_are_forgotten_and_recent_ones_kept(db: object, catalog: Catalog):
    service = build_service(catalog, FixedClock())
    await idempotency.remember("view:old", now=NOW - INTENT_MEMORY - timedelta(minutes=1))
    await idempotency.remember("view:recent", now=NOW - timedelta(hours=1))

    await forget_old_intents(service)

    assert await idempotency.recall("view:old") is None
    assert await idempotency.recall("view:recent") is not None


def test_the_scheduler_carries_the_clean_up_job(catalog: Catalog):
    scheduler = build_scheduler(build_service(catalog, FixedClock()), catalog)

    assert {job.id for job in scheduler.get_jobs()} >= {
        "forget_old_intents",
        "send_update_reminders",
        "send_stale_mitigated_reminders",
        "send_postmortem_due_reminders",
        "send_role_gap_reminders",
    }
