"""The outbox worker: performs the side effects the service recorded, after commit.

It is woken at once by the service (``wake()``) and otherwise polls, so a job is started within
milliseconds of its commit and a job enqueued by another replica within ``poll_seconds``. Jobs are
claimed with ``FOR UPDATE SKIP LOCKED`` (``storage.outbox.claim``) and run concurrently, except
jobs of the same incident and lane (Slack, Jira…), which run one at a time across every replica (a
lease per incident and lane), because they build on each other (the channel before its summary).

Failures: a 429 is a wait, not a failed attempt (the job is handed back until ``Retry-After``);
another transient one (the vendor unreachable, a bug) is retried with exponential backoff; a permanent one, or the last attempt, fails the job and is reported
(``on_failure``: the timeline, the channel and the actor). A crash leaves the job leased: once the
lease expires it is claimed again and resumes, the performers being idempotent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping

from bot.ports import Clock, IntegrationError
from storage import lock, outbox
from storage.outbox import OutboxJob

log = logging.getLogger("firefighter.outbox")

Perform = Callable[[OutboxJob], Awaitable[None]]
OnFailure = Callable[[OutboxJob, str], Awaitable[None]]

MAX_BACKOFF_SECONDS = 300.0
INCIDENT_BUSY_RETRY_SECONDS = 0.2


def lane_of(kind: str) -> str:
    """The vendor a job talks to (``slack.sync`` → ``slack``, ``jira.sync`` → ``jira``). Jobs of
    one incident run one at a time per lane: a slow Jira never holds up the incident's Slack
    messages, and the reverse."""
    return kind.partition(".")[0]


class OutboxWorker:
    def __init__(
        self,
        perform: Perform,
        on_failure: OnFailure,
        *,
        clock: Clock,
        worker_id: str,
        concurrency: int = 16,
        poll_seconds: float = 1.0,
        lease_seconds: float = 60.0,
        max_attempts: int = 6,
        base_backoff_seconds: float = 1.0,
        attempts_by_lane: Mapping[str, int] | None = None,
    ) -> None:
        self._perform = perform
        self._on_failure = on_failure
        self.clock = clock
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.base_backoff_seconds = base_backoff_seconds
        self.attempts_by_lane = dict(attempts_by_lane or {})
        """Attempts per lane where they differ from ``max_attempts`` (Jira: enough to ride out
        an outage of an hour, the backoff being capped at ``MAX_BACKOFF_SECONDS``)."""
        self._event = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._local_locks: dict[tuple[int, str], asyncio.Lock] = {}

    def wake(self) -> None:
        """Something was enqueued: look now rather than at the next poll."""
        self._event.set()

    async def run(self) -> None:
        """Claim and perform jobs until cancelled."""
        try:
            while True:
                self._event.clear()
                claimed = 0
                try:
                    claimed = await self._claim_and_start()
                except Exception:
                    log.exception("outbox claim failed; retrying at the next poll")
                if claimed and len(self._running) < self.concurrency:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._event.wait(), timeout=self.poll_seconds)
        finally:
            await self.stop()

    async def stop(self) -> None:
        for task in list(self._running):
            task.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def run_until_idle(self, limit_seconds: float = 10.0) -> None:
        """Perform every job due now and the ones they enqueue (tests, the demo, ``firefighter``
        commands that run without the loop)."""
        deadline = asyncio.get_running_loop().time() + limit_seconds
        while asyncio.get_running_loop().time() < deadline:
            claimed = await self._claim_and_start()
            if self._running:
                await asyncio.wait(set(self._running), timeout=0.5)
            elif not claimed:
                return

    async def _claim_and_start(self) -> int:
        free = self.concurrency - len(self._running)
        if free <= 0:
            return 0
        jobs = await outbox.claim(
            self.worker_id, limit=free, lease_seconds=self.lease_seconds, now=self.clock.now()
        )
        for job in jobs:
            task = asyncio.create_task(self._run_job(job), name=f"outbox-{job.id}")
            self._running.add(task)
            task.add_done_callback(self._finished)
        return len(jobs)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._event.set()

    async def _run_job(self, job: OutboxJob) -> None:
        try:
            await self._run_leased_job(job)
        except Exception:
            # The database failed us (gone longer than storage.db's reconnect patience): the
            # job keeps its lease and is claimed again once the lease ends, like after a crash.
            log.exception(
                "outbox job left to its lease: its outcome could not be recorded",
                extra={"job_id": job.id, "kind": job.kind, "incident_id": job.incident_id},
            )

    async def _run_leased_job(self, job: OutboxJob) -> None:
        incident_id = job.incident_id
        if incident_id is None:
            await self._attempt(job)
            return
        lane = lane_of(job.kind)
        local = self._local_locks.setdefault((incident_id, lane), asyncio.Lock())
        async with local:
            name = (
                f"incident:{incident_id}" if lane == "slack" else f"incident:{incident_id}:{lane}"
            )
            if not await lock.try_acquire(
                name, self.worker_id, self.lease_seconds, now=self.clock.now()
            ):
                # Another replica works on this incident: try again right after it (waiting is
                # not a failed attempt).
                await outbox.postpone(job, INCIDENT_BUSY_RETRY_SECONDS, now=self.clock.now())
                return
            try:
                await self._attempt(job)
            finally:
                await lock.release(name, self.worker_id)
        if not local.locked() and self._local_locks.get((incident_id, lane)) is local:
            self._local_locks.pop((incident_id, lane), None)

    async def _attempt(self, job: OutboxJob) -> None:
        context = {"job_id": job.id, "kind": job.kind, "incident_id": job.incident_id}
        max_attempts = self.attempts_by_lane.get(lane_of(job.kind), self.max_attempts)
        try:
            await self._perform(job)
        except asyncio.CancelledError:
            raise
        except IntegrationError as error:
            if error.transient and error.code == "ratelimited":
                # The vendor said "not now", not "failed": waiting for it is no attempt, or a
                # burst (100 announcements in a channel Slack lets post once a second) would
                # give up on work that only had to queue. A little jitter spreads the herd, added
                # rather than scaled: x1.5 of a minute's Retry-After left a freed slot idle 30 s.
                delay = (error.retry_after or self._backoff(job.attempts)) + random.uniform(0, 0.5)
                log.info(
                    "side effect rate-limited; waiting",
                    extra={**context, "error": str(error), "retry_in_s": round(delay, 2)},
                )
                await outbox.postpone(job, delay, now=self.clock.now())
                return
            if error.transient and job.attempts < max_attempts:
                delay = error.retry_after or self._backoff(job.attempts)
                log.warning(
                    "side effect will be retried",
                    extra={**context, "error": str(error), "retry_in_s": round(delay, 2)},
                )
                await outbox.retry(job, str(error), delay, now=self.clock.now())
                return
            await self._give_up(job, str(error), context)
            return
        except Exception as error:
            if job.attempts < max_attempts:
                delay = self._backoff(job.attempts)
                log.exception(
                    "side effect failed; will be retried",
                    extra={**context, "retry_in_s": round(delay, 2)},
                )
                await outbox.retry(job, repr(error), delay, now=self.clock.now())
                return
            log.exception("side effect failed for good", extra=context)
            await self._give_up(job, type(error).__name__, context)
            return
        await outbox.complete(job, now=self.clock.now())

    async def _give_up(self, job: OutboxJob, error: str, context: dict[str, object]) -> None:
        log.error("side effect failed permanently", extra={**context, "error": error})
        if await outbox.fail(job, error, now=self.clock.now()):
            try:
                await self._on_failure(job, error)
            except Exception:
                log.exception("reporting a failed side effect failed", extra=context)

    def _backoff(self, attempts: int) -> float:
        delay = min(self.base_backoff_seconds * 2.0 ** max(0, attempts - 1), MAX_BACKOFF_SECONDS)
        return float(delay * random.uniform(0.8, 1.2))
