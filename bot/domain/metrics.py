"""Derived incident metrics (PRODUCT.md §1): durations between two milestones.

A metric is ``None`` while one of its milestones is unset. A negative duration (milestones corrected
into an impossible order) is returned as is, so reports show the data problem instead of hiding it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.incident import Milestone, Milestones, Priority, Status


class Metric(StrEnum):
    TIME_TO_DETECT = "time_to_detect"
    TIME_TO_ACKNOWLEDGE = "time_to_acknowledge"
    TIME_TO_MITIGATE = "time_to_mitigate"
    TIME_TO_CLOSE = "time_to_close"


METRIC_SPANS: dict[Metric, tuple[Milestone, Milestone]] = {
    Metric.TIME_TO_DETECT: (Milestone.STARTED, Milestone.DETECTED),
    Metric.TIME_TO_ACKNOWLEDGE: (Milestone.DECLARED, Milestone.ACKNOWLEDGED),
    Metric.TIME_TO_MITIGATE: (Milestone.STARTED, Milestone.MITIGATED),
    Metric.TIME_TO_CLOSE: (Milestone.DECLARED, Milestone.CLOSED),
}
"""Each metric as (from, to) milestones."""


def span(milestones: Milestones, start: Milestone, end: Milestone) -> timedelta | None:
    """``end - start``, or ``None`` when either is unset."""
    begin, finish = milestones.get(start), milestones.get(end)
    if begin is None or finish is None:
        return None
    return finish - begin


def metric(milestones: Milestones, which: Metric) -> timedelta | None:
    start, end = METRIC_SPANS[which]
    return span(milestones, start, end)


def time_to_detect(milestones: Milestones) -> timedelta | None:
    """detected - started."""
    return metric(milestones, Metric.TIME_TO_DETECT)


def time_to_acknowledge(milestones: Milestones) -> timedelta | None:
    """acknowledged - declared."""
    return metric(milestones, Metric.TIME_TO_ACKNOWLEDGE)


def time_to_mitigate(milestones: Milestones) -> timedelta | None:
    """mitigated - started."""
    return metric(milestones, Metric.TIME_TO_MITIGATE)


def time_to_close(milestones: Milestones) -> timedelta | None:
    """closed - declared."""
    return metric(milestones, Metric.TIME_TO_CLOSE)


@dataclass(frozen=True, slots=True)
class IncidentMetrics:
    time_to_detect: timedelta | None
    time_to_acknowledge: timedelta | None
    time_to_mitigate: timedelta | None
    time_to_close: timedelta | None

    def get(self, which: Metric) -> timedelta | None:
        value: timedelta | None = getattr(self, which.value)
        return value


def metrics_of(milestones: Milestones) -> IncidentMetrics:
    """All four metrics at once."""
    return IncidentMetrics(
        time_to_detect=time_to_detect(milestones),
        time_to_acknowledge=time_to_acknowledge(milestones),
        time_to_mitigate=time_to_mitigate(milestones),
        time_to_close=time_to_close(milestones),
    )


def missing_for_metrics(milestones: Milestones) -> tuple[Milestone, ...]:
    """The unset milestones that leave at least one metric empty, in lifecycle order."""
    needed = {m for pair in METRIC_SPANS.values() for m in pair}
    return tuple(m for m in Milestone if m in needed and milestones.get(m) is None)


# --- the App Home's last-30-days panel ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One incident as the period panel needs it: its priority and status, when it was declared,
    and its two spans (computed by the database: the panel reads a thousand of these)."""

    priority: Priority
    status: Status
    created_at: datetime
    time_to_acknowledge: timedelta | None
    time_to_mitigate: timedelta | None

    @classmethod
    def of(
        cls, priority: Priority, status: Status, created_at: datetime, milestones: Milestones
    ) -> MetricSample:
        """From an incident's milestones (the spans of ``metrics_of``)."""
        return cls(
            priority,
            status,
            created_at,
            time_to_acknowledge(milestones),
            time_to_mitigate(milestones),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PeriodSummary:
    """Incidents declared since ``since``: how many per priority, the median time to acknowledge
    and to mitigate; plus, as of now whenever their incident was declared, the post-mortems open
    and the follow-ups overdue. ``overdue_followups`` is ``None`` when follow-ups are not tracked
    (they are Jira issues, and Jira is not configured): shown as "—" with that reason."""

    since: datetime
    count_by_priority: Mapping[Priority, int]
    median_time_to_acknowledge: timedelta | None
    median_time_to_mitigate: timedelta | None
    open_postmortems: int
    overdue_followups: int | None = None
    partial: bool = False
    """True when the window held more incidents than were read (the figures are of the newest)."""

    @property
    def total(self) -> int:
        return sum(self.count_by_priority.values())


def _median(values: list[timedelta]) -> timedelta | None:
    return statistics.median_low(sorted(values)) if values else None


def summarize_period(
    samples: Iterable[MetricSample],
    *,
    since: datetime,
    partial: bool = False,
    overdue_followups: int | None = None,
) -> PeriodSummary:
    """The panel's figures from ``samples`` (incidents declared since ``since`` and every open
    post-mortem) and the count of overdue follow-ups (``None``: not tracked). Negative durations
    (corrected milestones) are left out of the medians."""
    counts = dict.fromkeys(Priority, 0)
    acknowledge: list[timedelta] = []
    mitigate: list[timedelta] = []
    postmortems = 0
    for sample in samples:
        if sample.status is Status.POSTMORTEM:
            postmortems += 1
        if sample.created_at < since:
            continue
        counts[sample.priority] += 1
        ack = sample.time_to_acknowledge
        if ack is not None and ack >= timedelta(0):
            acknowledge.append(ack)
        mitigated = sample.time_to_mitigate
        if mitigated is not None and mitigated >= timedelta(0):
            mitigate.append(mitigated)
    return PeriodSummary(
        since=since,
        count_by_priority=counts,
        median_time_to_acknowledge=_median(acknowledge),
        median_time_to_mitigate=_median(mitigate),
        open_postmortems=postmortems,
        overdue_followups=overdue_followups,
        partial=partial,
    )
