"""The system clock: the only ``datetime.now`` of the application."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class AcceleratedClock:
    """Time running ``speedup`` times faster from ``epoch`` (default: its creation). Processes
    given the same epoch and speedup agree on the time (tests with several replicas)."""

    def __init__(self, speedup: float, *, epoch: datetime | None = None) -> None:
        self.speedup = speedup
        self.epoch = epoch or datetime.now(UTC)

    def now(self) -> datetime:
        return self.epoch + (datetime.now(UTC) - self.epoch) * self.speedup
