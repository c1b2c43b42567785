"""A job's lease is kept while the job runs, however long it takes, and a job that lost it anyway
is stopped: two replicas never run one scheduled job at once (``storage.lock.leased``)."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import AcceleratedClock, SystemClock
from bot.jobs import scheduled_run
from storage import lock, models


async def test_a_job_longer_than_its_ttl_keeps_the_lease_until_it_ends(db: object) -> None:
    clock = SystemClock()
    refused = []
    async with lock.leased("sweep:update", "replica-a", 0.3, clock=clock.now) as lease:
        assert lease
        for _ in range(8):  # 1.2 s: four times the ttl
            await asyncio.sleep(0.15)
            refused.append(
                not await lock.try_acquire("sweep:update", "replica-b", 0.3, now=clock.now())
            )

    assert all(refused)
    assert lease.renewals >= 3
    assert lease.started_at is not None and lease.ended_at is not None
    assert lease.started_at < lease.ended_at
    assert await lock.holder("sweep:update", now=clock.now()) is None


async def test_the_lease_is_kept_on_an_accelerated_clock_too(db: object) -> None:
    # 600 times faster: a 60 s lease lasts a tenth of a real second; the job takes half a second.
    clock = AcceleratedClock(600)
    taken_by_b = 0
    async with lock.leased("pull:jira", "replica-a", 60, clock=clock.now) as lease:
        assert lease
        for _ in range(10):
            await asyncio.sleep(0.05)
            taken_by_b += await lock.try_acquire("pull:jira", "replica-b", 60, now=clock.now())

    assert taken_by_b == 0
    assert lease.renewals >= 3


async def test_a_job_whose_lease_was_taken_meanwhile_is_stopped(db: object) -> None:
    clock = SystemClock()
    reached_the_end = False
    with pytest.raises(lock.LeaseLost):
        async with lock.leased("pull:jira", "replica-a", 0.3, clock=clock.now) as lease:
            # The process stalls past its lease and replica-b takes it (as try_acquire would).
            await models.JobLock.filter(name="pull:jira").update(
                owner="replica-b", expires_at=datetime.now(UTC) + timedelta(minutes=5)
            )
            await asyncio.sleep(2)
            reached_the_end = True

    assert not reached_the_end
    assert lease.lost
    assert await lock.holder("pull:jira", now=clock.now()) == "replica-b"  # not given back


async def test_a_job_cancelled_from_outside_is_cancelled_and_gives_the_lease_back(
    db: object,
) -> None:
    clock = SystemClock()

    async def job() -> None:
        async with lock.leased("pull:jira", "replica-a", 0.3, clock=clock.now):
            await asyncio.sleep(5)

    task = asyncio.create_task(job())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await lock.holder("pull:jira", now=clock.now()) is None


async def test_each_turn_of_a_job_is_one_line_held_at_info_skipped_at_debug(
    db: object, caplog: pytest.LogCaptureFixture
) -> None:
    clock = SystemClock()
    with caplog.at_level(logging.DEBUG, logger="firefighter.jobs.runs"):
        async with (
            scheduled_run(
                "send_update_reminders",
                lock.leased("sweep:update", "replica-a", 60, clock=clock.now),
            ) as held,
            scheduled_run(
                "send_update_reminders",
                lock.leased("sweep:update", "replica-b", 60, clock=clock.now),
            ) as skipped,
        ):
            assert held and not skipped

    skip, ran = caplog.records
    assert (skip.levelno, skip.held, skip.owner) == (logging.DEBUG, False, "replica-b")  # type: ignore[attr-defined]
    assert (ran.levelno, ran.getMessage()) == (logging.INFO, "scheduled job ran")
    assert (ran.job, ran.owner, ran.outcome, ran.pid) == (  # type: ignore[attr-defined]
        "send_update_reminders",
        "replica-a",
        "done",
        os.getpid(),
    )
    started = datetime.fromisoformat(ran.started_at)  # type: ignore[attr-defined]
    assert started <= datetime.fromisoformat(ran.ended_at)  # type: ignore[attr-defined]
