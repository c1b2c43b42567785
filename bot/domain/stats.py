"""Reports (PRODUCT.md §2 "Reports in Slack"): the period of ``/incident stats [period]`` and
``/incident export [period]``, and the numbers of a period, computed from values only.

A period is ``7d``, ``30d`` (the default), ``90d``, ``12w`` (each ending now) or a calendar month
``YYYY-MM`` in the catalog's time zone. An incident belongs to the period it was declared in
(``created_at``). The trend compares with the period of the same length just before (for a month:
the month before).

Private incidents count in every aggregate; only the list of notable incidents, the one place that
names incidents, hides the titles the viewer may not see (``visible``).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from bot.domain.cost import add_totals
from bot.domain.errors import UserFacingError
from bot.domain.incident import Incident, JsonValue, Priority, Status
from bot.domain.metrics import IncidentMetrics, Metric, metrics_of

DEFAULT_PERIOD = "30d"
RELATIVE_PERIODS: dict[str, timedelta] = {
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "12w": timedelta(weeks=12),
}
PERIOD_USAGE = "Periods: `7d`, `30d` (the default), `90d`, `12w` or a month such as `2026-03`."
NOTABLE_PRIORITIES = frozenset({Priority.P1, Priority.P2})
NOTABLE_LIMIT = 10
_K = TypeVar("_K")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodInvalid(UserFacingError):
    def __init__(self, text: str, command: str = "stats") -> None:
        super().__init__(f"{text!r} is not a period. Usage: `{command} [period]`. {PERIOD_USAGE}")


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)``, tz-aware; ``label`` is what the user typed (or the default)."""

    start: datetime
    end: datetime
    label: str
    month: bool = False

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self, tz: ZoneInfo) -> Period:
        """The period of the same length just before (the month before, for a month)."""
        if self.month:
            local = self.start.astimezone(tz)
            year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
            start = datetime.combine(date(year, month, 1), time(0), tz)
            return Period(start, self.start, f"{year:04d}-{month:02d}", month=True)
        return Period(self.start - self.length, self.start, f"previous {self.label}")

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def parse_period(text: str, *, now: datetime, tz: ZoneInfo, command: str = "stats") -> Period:
    """``""`` → the default; ``PeriodInvalid`` for anything but the periods above."""
    raw = text.strip().lower() or DEFAULT_PERIOD
    length = RELATIVE_PERIODS.get(raw)
    if length is not None:
        return Period(now - length, now, raw)
    match = _MONTH.match(raw)
    if match is None:
        raise PeriodInvalid(text.strip(), command)
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < 2000:
        raise PeriodInvalid(text.strip(), command)
    start = datetime.combine(date(year, month, 1), time(0), tz)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return Period(start, datetime.combine(following, time(0), tz), raw, month=True)


def last_week(now: datetime, tz: ZoneInfo) -> tuple[str, Period]:
    """The ISO week before the one ``now`` is in (Monday 00:00 to Monday 00:00 in ``tz``) and
    its key (``2026-W23``): the weekly digest's period."""
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    start = datetime.combine(monday - timedelta(days=7), time(0), tz)
    end = datetime.combine(monday, time(0), tz)
    year, week, _ = start.date().isocalendar()
    key = f"{year}-W{week:02d}"
    return key, Period(start, end, f"week {key}")


# --- the numbers --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Medians:
    """Medians of the metrics over the incidents that have them (None when none has)."""

    count: int
    time_to_acknowledge: timedelta | None
    time_to_mitigate: timedelta | None
    time_to_close: timedelta | None


@dataclass(frozen=True, slots=True)
class Notable:
    """A P1/P2 of the period; ``title`` None when the viewer may not see it (private)."""

    id: int
    priority: Priority
    status: Status
    title: str | None
    time_to_mitigate: timedelta | None


@dataclass(frozen=True, slots=True)
class Week:
    """One week of the chart: incidents declared per priority, median time to mitigate."""

    start: date
    counts: Mapping[Priority, int]
    time_to_mitigate: timedelta | None


@dataclass(frozen=True, slots=True)
class FollowUpCounts:
    """Follow-ups of some incidents: how many, how many past due and not done (as of now), how
    many done."""

    total: int = 0
    overdue: int = 0
    done: int = 0

    def __add__(self, other: FollowUpCounts) -> FollowUpCounts:
        return FollowUpCounts(
            self.total + other.total, self.overdue + other.overdue, self.done + other.done
        )


def add_followups(counts: Iterable[FollowUpCounts]) -> FollowUpCounts:
    return sum(counts, FollowUpCounts())


@dataclass(frozen=True, slots=True)
class Stats:
    period: Period
    previous: Period
    overall: Medians
    previous_overall: Medians
    by_priority: Mapping[Priority, Medians]
    by_category: Mapping[str, Medians]
    costs: Mapping[str, Decimal]
    previous_costs: Mapping[str, Decimal]
    private_count: int
    open_count: int
    notable: tuple[Notable, ...]
    weeks: tuple[Week, ...]
    followups: FollowUpCounts | None = None
    """The follow-ups of the period's incidents (``None``: not tracked, Jira is not configured)."""
    previous_followups: FollowUpCounts | None = None

    @property
    def total(self) -> int:
        return self.overall.count

    @property
    def count_change(self) -> float | None:
        """Relative change of the count vs the previous period (None when it had none)."""
        before = self.previous_overall.count
        if before == 0:
            return None
        return (self.total - before) / before


def _median(values: Iterable[timedelta | None]) -> timedelta | None:
    seconds = [v.total_seconds() for v in values if v is not None]
    if not seconds:
        return None
    return timedelta(seconds=statistics.median(seconds))


def medians(metrics: Sequence[IncidentMetrics]) -> Medians:
    return Medians(
        count=len(metrics),
        time_to_acknowledge=_median(m.get(Metric.TIME_TO_ACKNOWLEDGE) for m in metrics),
        time_to_mitigate=_median(m.get(Metric.TIME_TO_MITIGATE) for m in metrics),
        time_to_close=_median(m.get(Metric.TIME_TO_CLOSE) for m in metrics),
    )


def _grouped(
    incidents: Sequence[Incident],
    metrics: Mapping[int, IncidentMetrics],
    key: Callable[[Incident], _K],
) -> dict[_K, Medians]:
    groups: dict[_K, list[IncidentMetrics]] = {}
    for incident in incidents:
        groups.setdefault(key(incident), []).append(metrics[incident.id])
    return {k: medians(v) for k, v in groups.items()}


def weeks_of(
    period: Period,
    incidents: Sequence[Incident],
    metrics: Mapping[int, IncidentMetrics],
    tz: ZoneInfo,
) -> tuple[Week, ...]:
    """Every week (Monday in ``tz``) the period touches, oldest first, empty ones included."""
    first = period.start.astimezone(tz).date()
    first -= timedelta(days=first.weekday())
    last = (period.end - timedelta(microseconds=1)).astimezone(tz).date()
    by_week: dict[date, list[Incident]] = {}
    for incident in incidents:
        day = incident.created_at.astimezone(tz).date()
        by_week.setdefault(day - timedelta(days=day.weekday()), []).append(incident)
    weeks: list[Week] = []
    monday = first
    while monday <= last:
        members = by_week.get(monday, [])
        counts = {p: sum(1 for i in members if i.priority is p) for p in Priority}
        ttm = _median(metrics[i.id].time_to_mitigate for i in members)
        weeks.append(Week(monday, counts, ttm))
        monday += timedelta(days=7)
    return tuple(weeks)


def compute_stats(
    incidents: Iterable[Incident],
    *,
    period: Period,
    previous: Period,
    tz: ZoneInfo,
    cost_totals: Mapping[int, Mapping[str, Decimal]],
    visible: Callable[[Incident], bool],
    followups: Mapping[int, FollowUpCounts] | None = None,
) -> Stats:
    """The numbers of ``period`` (and of ``previous`` for the trend) from the incidents declared
    in either; ``cost_totals`` and ``followups`` per incident id (``followups`` ``None``: not
    tracked); ``visible`` tells which titles may be shown."""
    current = sorted(
        (i for i in incidents if period.contains(i.created_at)), key=lambda i: (i.created_at, i.id)
    )
    before = [i for i in incidents if previous.contains(i.created_at)]
    metrics = {i.id: metrics_of(i.milestones) for i in [*current, *before]}
    by_priority = _grouped(current, metrics, lambda i: i.priority)
    by_category = _grouped(current, metrics, lambda i: i.category)
    notable = [
        Notable(
            id=i.id,
            priority=i.priority,
            status=i.status,
            title=i.title if visible(i) else None,
            time_to_mitigate=metrics[i.id].time_to_mitigate,
        )
        for i in sorted(current, key=lambda i: (i.priority, -i.created_at.timestamp()))
        if i.priority in NOTABLE_PRIORITIES
    ]
    return Stats(
        period=period,
        previous=previous,
        overall=medians([metrics[i.id] for i in current]),
        previous_overall=medians([metrics[i.id] for i in before]),
        by_priority=dict(sorted(by_priority.items())),
        by_category=dict(sorted(by_category.items())),
        costs=add_totals(*(cost_totals.get(i.id, {}) for i in current)),
        previous_costs=add_totals(*(cost_totals.get(i.id, {}) for i in before)),
        private_count=sum(1 for i in current if i.private),
        open_count=sum(1 for i in current if i.is_open),
        notable=tuple(notable[:NOTABLE_LIMIT]),
        weeks=weeks_of(period, current, metrics, tz),
        followups=None
        if followups is None
        else add_followups(followups.get(i.id, FollowUpCounts()) for i in current),
        previous_followups=None
        if followups is None
        else add_followups(followups.get(i.id, FollowUpCounts()) for i in before),
    )


def weeks_to_json(weeks: Iterable[Week]) -> list[JsonValue]:
    """The chart's data as JSON (the weekly digest carries it in its outbox job)."""
    data: list[JsonValue] = [
        {
            "start": week.start.isoformat(),
            "counts": {p.label: n for p, n in week.counts.items() if n},
            "ttm_s": week.time_to_mitigate.total_seconds() if week.time_to_mitigate else None,
        }
        for week in weeks
    ]
    return data


def weeks_from_json(data: object) -> tuple[Week, ...]:
    weeks: list[Week] = []
    for item in data if isinstance(data, list) else []:
        counts_raw = item.get("counts") or {}
        counts = {Priority.parse(k): int(v) for k, v in counts_raw.items()}
        ttm = item.get("ttm_s")
        weeks.append(
            Week(
                date.fromisoformat(str(item["start"])),
                {p: counts.get(p, 0) for p in Priority},
                timedelta(seconds=float(ttm)) if ttm is not None else None,
            )
        )
    return tuple(weeks)
