"""The outbox hands each due job to exactly one worker, retries, and survives crashed workers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from storage import db, outbox
from storage.outbox import OutboxStatus
from storage.repository import IncidentRepository
from tests.domain.test_incident import new_incident
from tests.storage.conftest import T0

pytestmark = pytest.mark.usefixtures("db")


async def _enqueue_many(count: int) -> list[int]:
    jobs = [
        await outbox.enqueue("slack.post", {"n": n}, idempotency_key=f"job-{n}", now=T0)
        for n in range(count)
    ]
    return [job.id for job in jobs]


async def test_an_enqueued_job_round_trips_and_is_claimed_once(
    incidents: IncidentRepository,
) -> None:
    incident = await incidents.create(new_incident())
    job = await outbox.enqueue(
        "jira.open_issue",
        {"incident": incident.id, "labels": ["ff"]},
        idempotency_key=f"jira:{incident.id}",
        incident_id=incident.id,
        now=T0,
    )
    assert job.status is OutboxStatus.PENDING
    assert job.payload == {"incident": incident.id, "labels": ["ff"]}
    assert job.incident_id == incident.id
    assert job.next_attempt_at == T0
    assert await outbox.get(job.id) == job

    [claimed] = await outbox.claim("w1", limit=10, lease_seconds=30, now=T0)
    assert claimed.id == job.id
    assert claimed.status is OutboxStatus.IN_PROGRESS
    assert claimed.locked_by == "w1"
    assert claimed.locked_until == T0 + timedelta(seconds=30)
    assert claimed.attempts == 1
    assert await outbox.claim("w2", now=T0) == []

    assert await outbox.complete(claimed, now=T0 + timedelta(seconds=1))
    done = await outbox.get(job.id)
    assert done is not None
    assert done.status is OutboxStatus.DONE
    assert done.done_at == T0 + timedelta(seconds=1)
    assert await outbox.claim("w2", now=T0 + timedelta(hours=1)) == []


async def test_enqueueing_the_same_intent_twice_is_a_no_op() -> None:
    first = await outbox.enqueue("pagerduty.page", {"a": 1}, idempotency_key="page:1:svc", now=T0)
    again = await outbox.enqueue("pagerduty.page", {"a": 2}, idempotency_key="page:1:svc", now=T0)
    assert again == first
    assert (await outbox.count_by_status())[OutboxStatus.PENDING] == 1


async def test_a_duplicate_enqueue_inside_a_transaction_keeps_the_transaction_usable(
    incidents: IncidentRepository,
) -> None:
    await outbox.enqueue("slack.post", {}, idempotency_key="dup", now=T0)
    async with db.transaction():
        await outbox.enqueue("slack.post", {}, idempotency_key="dup", now=T0)
        incident = await incidents.create(new_incident())
    assert await incidents.get(incident.id) == incident


async def test_an_enqueue_rolled_back_with_its_transaction_leaves_no_job() -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await outbox.enqueue("slack.post", {}, idempotency_key="gone", now=T0)
            raise RuntimeError("the state change failed")
    assert await outbox.get_by_key("gone") is None


async def test_a_job_is_not_claimed_before_it_is_due() -> None:
    job = await outbox.enqueue(
        "slack.archive", {}, idempotency_key="archive:1", not_before=T0 + timedelta(hours=24)
    )
    assert await outbox.claim("w1", now=T0) == []
    assert await outbox.next_due_at() == T0 + timedelta(hours=24)
    [claimed] = await outbox.claim("w1", now=T0 + timedelta(hours=24))
    assert claimed.id == job.id


async def test_a_retried_job_comes_back_after_its_delay_and_a_failed_one_never() -> None:
    await _enqueue_many(2)
    first, second = await outbox.claim("w1", limit=2, now=T0)
    assert await outbox.retry(first, "429 rate limited", timedelta(seconds=30), now=T0)
    assert await outbox.fail(second, "channel_not_found", now=T0)

    assert await outbox.claim("w1", now=T0 + timedelta(seconds=29)) == []
    [again] = await outbox.claim("w1", now=T0 + timedelta(seconds=30))
    assert again.id == first.id
    assert again.attempts == 2
    assert again.last_error == "429 rate limited"
    failed = await outbox.get(second.id)
    assert failed is not None
    assert failed.status is OutboxStatus.FAILED
    assert failed.last_error == "channel_not_found"


async def test_a_crashed_workers_jobs_are_claimed_again_once_the_lease_expires() -> None:
    [job_id] = await _enqueue_many(1)
    [crashed] = await outbox.claim("w1", lease_seconds=60, now=T0)
    assert await outbox.claim("w2", now=T0 + timedelta(seconds=59)) == []

    [reclaimed] = await outbox.claim("w2", lease_seconds=60, now=T0 + timedelta(seconds=60))
    assert reclaimed.id == job_id
    assert reclaimed.locked_by == "w2"
    assert reclaimed.attempts == 2
    # The first worker comes back too late: its result is refused, the new holder's is kept.
    assert not await outbox.complete(crashed)
    assert await outbox.complete(reclaimed)


async def test_concurrent_claimers_never_get_the_same_job() -> None:
    ids = await _enqueue_many(30)

    async def worker(name: str) -> list[int]:
        got: list[int] = []
        while batch := await outbox.claim(name, limit=3, now=T0):
            got.extend(job.id for job in batch)
            await asyncio.sleep(0)
        return got

    results = await asyncio.gather(*(worker(f"w{n}") for n in range(4)))
    claimed = [job_id for result in results for job_id in result]
    assert sorted(claimed) == sorted(ids)
    assert len(set(claimed)) == len(claimed)


async def test_a_claim_skips_rows_locked_by_a_claim_still_in_its_transaction() -> None:
    await _enqueue_many(4)
    first_claimed = asyncio.Event()
    release = asyncio.Event()

    async def slow_claimer() -> list[int]:
        async with db.transaction():  # its row locks last until this commits
            jobs = await outbox.claim("slow", limit=2, now=T0)
            first_claimed.set()
            await release.wait()
        return [job.id for job in jobs]

    slow = asyncio.create_task(slow_claimer())
    await first_claimed.wait()
    # Without SKIP LOCKED this claim would wait for the slow transaction (and time out here).
    fast = await asyncio.wait_for(outbox.claim("fast", limit=10, now=T0), timeout=5)
    release.set()
    slow_ids = await slow
    assert len(slow_ids) == 2
    assert len(fast) == 2
    assert not set(slow_ids) & {job.id for job in fast}


async def test_a_postponed_job_is_pending_again_without_an_attempt_counted(db):
    from datetime import UTC, datetime

    from storage import outbox

    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    await outbox.enqueue("slack.sync", {"n": 1}, idempotency_key="postpone-1", now=now)
    (job,) = await outbox.claim("w1", now=now)
    assert job.attempts == 1

    assert await outbox.postpone(job, 5, now=now)

    again = await outbox.get(job.id)
    assert again is not None
    assert again.status is outbox.OutboxStatus.PENDING and again.attempts == 0
    assert await outbox.claim("w2", now=now) == []
    assert [j.id for j in await outbox.claim("w2", now=now.replace(second=6))] == [job.id]
