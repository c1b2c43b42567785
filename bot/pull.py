"""What the scheduled pulls share (``bot.ticket_pull`` for Jira, ``bot.page_pull`` for PagerDuty,
``bot.postmortem_pull`` for Confluence): a named lease so that one replica pulls at a time, items
handled a few at a time, and a report of counts and time that ``bot.jobs.pull_changes`` logs.

What each pull reads, how it de-duplicates and what it applies stay in its own module (``cycle``);
how it is scheduled and logged is ``bot.jobs``'s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field, replace
from typing import ClassVar, Generic, NotRequired, TypedDict, TypeVar

from bot.ports import Clock
from storage import lock

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True, slots=True)
class Report:
    """What one cycle did: its counts (the subclass's fields, in log order), and its time."""

    seconds: float = field(default=0.0, kw_only=True)
    """How long the cycle took (``LeasedPull.pull`` measures it; the lease's round trips aside)."""

    @property
    def noteworthy(self) -> bool:
        """Whether the cycle changed something (only those cycles are logged: most change
        nothing, and a line a minute per replica would drown the rest)."""
        raise NotImplementedError

    def log_fields(self) -> dict[str, object]:
        fields = asdict(self)
        fields["seconds"] = round(fields.pop("seconds"), 3)  # last, after the counts
        return fields


R_co = TypeVar("R_co", bound=Report, covariant=True)


class LeaseTerms(TypedDict):
    """The constructor arguments every pull takes for its lease."""

    clock: Clock
    owner: str
    """Unique per process (``bot.wiring.owner_id``)."""
    lease_seconds: NotRequired[float]
    """Longer than a cycle normally takes (it is renewed while the cycle runs and given back when
    it ends)."""


MIN_LEASE_REAL_SECONDS = 2.0
"""A job's lease lasts at least this long in real time, whatever the pace of the clock."""


def lease_seconds(clock: Clock, seconds: float) -> float:
    """A job lease's ttl: ``seconds`` of ``clock``, and never less than
    ``MIN_LEASE_REAL_SECONDS`` of real time. A test's accelerated clock (``bot.clock``'s, its
    ``speedup``) shrinks clock seconds: 300 of them are under a real second at 360 times, less
    than a busy machine may take to answer the query that takes or renews the lease."""
    pace = float(getattr(clock, "speedup", 1.0))
    return max(seconds, MIN_LEASE_REAL_SECONDS * pace)


class LeasedPull(Generic[R_co]):
    """A pull whose ``cycle`` runs on one replica at a time (the others skip their turn)."""

    lease: ClassVar[str]
    """The ``job_lock`` name held while a cycle runs."""

    def __init__(self, *, clock: Clock, owner: str, lease_seconds: float = 300.0) -> None:
        self.clock = clock
        self.owner = owner
        self.lease_seconds = lease_seconds

    def leased(self) -> AbstractAsyncContextManager[lock.Lease]:
        """This pull's lease, renewed while a cycle runs (``bot.jobs`` logs each holding)."""
        ttl = lease_seconds(self.clock, self.lease_seconds)
        return lock.leased(self.lease, self.owner, ttl, clock=self.clock.now)

    async def pull(self) -> R_co | None:
        """One cycle; None when another replica holds the lease."""
        async with self.leased() as held:
            if not held:
                return None
            return await self.timed_cycle()

    async def timed_cycle(self) -> R_co:
        """``cycle``, its report carrying how long it took (the lease's round trips aside)."""
        started = time.perf_counter()
        report = await self.cycle()
        return replace(report, seconds=time.perf_counter() - started)

    async def cycle(self) -> R_co:
        """The pull itself (the subclass's: what it reads, de-duplicates and applies), run
        while the lease is held."""
        raise NotImplementedError


async def gather_bounded(
    items: Iterable[T], handle: Callable[[T], Awaitable[U]], *, at_once: int
) -> list[U]:
    """``handle`` each item concurrently, at most ``at_once`` at a time (each holds a database
    connection or a vendor request: stay below the pool's size and the vendor's patience);
    results in the items' order."""
    gate = asyncio.Semaphore(at_once)

    async def one(item: T) -> U:
        async with gate:
            return await handle(item)

    return await asyncio.gather(*(one(item) for item in items))
