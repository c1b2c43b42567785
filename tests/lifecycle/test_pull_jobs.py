"""The scheduled pulls' shared machinery: one replica at a time (a lease given back however the
cycle ends), the vendor's errors logged and left to the next cycle, a cycle that changed something
logged with its counts and time, and each pull scheduled under its own job id."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.jobs import (
    JIRA_PULL,
    add_jira_pull,
    add_pagerduty_pull,
    add_postmortem_pull,
    pull_changes,
)
from bot.ports import TrackerError
from bot.pull import LeasedPull
from bot.ticket_pull import PullReport
from storage import lock

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW


class ScriptedPull(LeasedPull[PullReport]):
    """A pull whose cycle answers what the test says (the machinery is what is under test)."""

    lease = "pull:jira"

    def __init__(self, outcome: PullReport | Exception) -> None:
        super().__init__(clock=FixedClock(), owner="replica-a")
        self.outcome = outcome
        self.cycles = 0

    async def cycle(self) -> PullReport:
        self.cycles += 1
        assert await lock.holder(self.lease, now=NOW) == "replica-a"
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


async def test_a_cycle_that_changed_something_is_logged_with_its_counts_and_time(
    db: object, caplog: pytest.LogCaptureFixture
) -> None:
    pull = ScriptedPull(PullReport(issues=3, applied=2, followups=0))

    with caplog.at_level(logging.INFO, logger="firefighter.jobs"):
        await pull_changes(pull, JIRA_PULL)

    [record] = [r for r in caplog.records if r.getMessage() == "jira pulled"]
    assert (record.issues, record.applied, record.followups) == (3, 2, 0)  # type: ignore[attr-defined]
    assert isinstance(record.seconds, float)  # type: ignore[attr-defined]
    assert await lock.holder("pull:jira", now=NOW) is None


async def test_a_cycle_that_changed_nothing_is_not_logged(
    db: object, caplog: pytest.LogCaptureFixture
) -> None:
    pull = ScriptedPull(PullReport(issues=3, applied=0, followups=0))

    with caplog.at_level(logging.INFO, logger="firefighter.jobs"):
        await pull_changes(pull, JIRA_PULL)

    assert pull.cycles == 1
    assert not [r for r in caplog.records if r.name == "firefighter.jobs"]


async def test_a_vendor_that_refuses_is_logged_and_the_lease_given_back(
    db: object, caplog: pytest.LogCaptureFixture
) -> None:
    pull = ScriptedPull(TrackerError("Jira answered 503", transient=True))

    with caplog.at_level(logging.INFO, logger="firefighter.jobs"):
        await pull_changes(pull, JIRA_PULL)

    [record] = [r for r in caplog.records if r.name == "firefighter.jobs"]
    assert record.getMessage() == "jira pull failed; the next one retries"
    assert record.levelno == logging.WARNING
    assert await lock.holder("pull:jira", now=NOW) is None


async def test_a_replica_finds_the_lease_held_elsewhere_and_skips_its_turn(db: object) -> None:
    assert await lock.try_acquire("pull:jira", "replica-b", 300, now=NOW)
    pull = ScriptedPull(PullReport(issues=1, applied=1, followups=0))

    assert await pull.pull() is None

    assert pull.cycles == 0
    assert await lock.holder("pull:jira", now=NOW) == "replica-b"


def test_each_pull_is_scheduled_under_its_own_job_id() -> None:
    scheduler = AsyncIOScheduler()
    pull = ScriptedPull(PullReport(issues=0, applied=0, followups=0))

    add_jira_pull(scheduler, pull, every_seconds=60)
    add_pagerduty_pull(scheduler, pull, every_seconds=60)
    add_postmortem_pull(scheduler, pull, every_seconds=300)

    assert {job.id for job in scheduler.get_jobs()} == {
        "pull_jira_changes",
        "pull_pagerduty_changes",
        "pull_postmortems",
    }
