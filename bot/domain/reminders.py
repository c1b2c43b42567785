"""When each reminder of an incident is next due (PRODUCT.md §3): pure, no I/O, no clock.

Four kinds, one due time each (``None``: not due at all):

- ``update``: the last update (declared, status change, 📣 broadcast, note) plus the priority's
  cadence; moved to the next office-hours start for priorities reminded in office hours only;
  none without a cadence, for P4/P5, or once Mitigated or later. It repeats every cadence while
  the incident stays without an update (``next_update_due``).
- ``stale_mitigated``: ``mitigated_at`` plus N days, while Mitigated.
- ``postmortem_due``: ``mitigated_at`` plus N business days (office-hours days, in the configured
  zone, same wall-clock time), when a post-mortem is required and not ready, while Mitigated or
  Post-mortem.
- ``role_gap``: declared plus M minutes, while a role suggested for the priority is unfilled and
  the incident is not yet mitigated.

Every due time returned is UTC (storage keys and idempotency keys are built from it).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain.incident import Incident, Priority, Status, TimelineKind

LAST_UPDATE_PRIORITY = Priority.P3
"""Update reminders stop below this priority (P4/P5 are never reminded)."""


UPDATE_TIMELINE_KINDS: tuple[TimelineKind, ...] = (
    TimelineKind.DECLARED,
    TimelineKind.STATUS_CHANGE,
    TimelineKind.STATUS_UPDATE,
    TimelineKind.NOTE,
    TimelineKind.REOPENED,
)
"""What counts as an update for the update reminder (its cadence restarts from the latest)."""


class ReminderKind(StrEnum):
    UPDATE = "update"
    STALE_MITIGATED = "stale_mitigated"
    POSTMORTEM_DUE = "postmortem_due"
    ROLE_GAP = "role_gap"


WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class OfficeHours:
    """Working hours in ``tz``: ``start`` to ``end`` on ``days`` (0 is Monday)."""

    start: time
    end: time
    days: frozenset[int]
    tz: ZoneInfo

    @classmethod
    def of(cls, start: time, end: time, days: Collection[str], tz: ZoneInfo) -> OfficeHours:
        return cls(start, end, frozenset(WEEKDAYS.index(d) for d in days), tz)

    def _at(self, day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, tzinfo=self.tz)

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz)
        return local.weekday() in self.days and self._at(
            local.date(), self.start
        ) <= local < self._at(local.date(), self.end)

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` itself when within office hours, else the next office-hours start (UTC)."""
        if self.contains(moment):
            return moment.astimezone(UTC)
        local = moment.astimezone(self.tz)
        day = local.date()
        if local >= self._at(day, self.start):
            day += timedelta(days=1)
        while day.weekday() not in self.days:
            day += timedelta(days=1)
        return self._at(day, self.start).astimezone(UTC)

    def add_business_days(self, moment: datetime, count: int) -> datetime:
        """``count`` office-hours days after ``moment``, at the same local wall-clock time."""
        local = moment.astimezone(self.tz)
        day = local.date()
        remaining = count
        while remaining > 0:
            day += timedelta(days=1)
            if day.weekday() in self.days:
                remaining -= 1
        return self._at(day, local.time().replace(tzinfo=None)).astimezone(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReminderPolicy:
    """The settings that apply to one incident (its priority's, the catalog's)."""

    office_hours: OfficeHours
    update_minutes: int | None = None
    office_hours_only: bool = False
    needs_postmortem: bool = False
    stale_mitigated_days: int = 3
    postmortem_due_business_days: int = 5
    role_gap_minutes: int = 15
    suggested_roles: tuple[str, ...] = field(default_factory=tuple)
    """Roles whose ``suggest_for`` lists the incident's priority."""

    @property
    def cadence(self) -> timedelta | None:
        return timedelta(minutes=self.update_minutes) if self.update_minutes else None


def update_due(
    incident: Incident, policy: ReminderPolicy, last_update: datetime
) -> datetime | None:
    cadence = policy.cadence
    if (
        cadence is None
        or incident.priority > LAST_UPDATE_PRIORITY
        or incident.status.is_mitigated_or_later
    ):
        return None
    due = last_update + cadence
    return policy.office_hours.next_open(due) if policy.office_hours_only else due.astimezone(UTC)


def next_update_due(sent_for: datetime, now: datetime, policy: ReminderPolicy) -> datetime | None:
    """After the update reminder due at ``sent_for`` is sent, while still no update: one cadence
    later (or one cadence from ``now`` when the bot was away longer than a cadence)."""
    cadence = policy.cadence
    if cadence is None:
        return None
    due = sent_for + cadence
    if due <= now:
        due = now + cadence
    return policy.office_hours.next_open(due) if policy.office_hours_only else due.astimezone(UTC)


def stale_mitigated_due(incident: Incident, policy: ReminderPolicy) -> datetime | None:
    mitigated = incident.milestones.mitigated_at
    if incident.status is not Status.MITIGATED or mitigated is None:
        return None
    return (mitigated + timedelta(days=policy.stale_mitigated_days)).astimezone(UTC)


def postmortem_due(
    incident: Incident, policy: ReminderPolicy, *, postmortem_ready: bool = False
) -> datetime | None:
    mitigated = incident.milestones.mitigated_at
    if (
        not policy.needs_postmortem
        or postmortem_ready
        or mitigated is None
        or incident.status not in (Status.MITIGATED, Status.POSTMORTEM)
    ):
        return None
    return policy.office_hours.add_business_days(mitigated, policy.postmortem_due_business_days)


def missing_roles(policy: ReminderPolicy, filled_roles: Collection[str]) -> tuple[str, ...]:
    return tuple(role for role in policy.suggested_roles if role not in filled_roles)


def role_gap_due(
    incident: Incident, policy: ReminderPolicy, filled_roles: Collection[str]
) -> datetime | None:
    if incident.status.is_mitigated_or_later or not missing_roles(policy, filled_roles):
        return None
    declared = incident.milestones.declared_at or incident.created_at
    return (declared + timedelta(minutes=policy.role_gap_minutes)).astimezone(UTC)


def due_times(
    incident: Incident,
    policy: ReminderPolicy,
    *,
    last_update: datetime,
    filled_roles: Collection[str] = (),
    postmortem_ready: bool = False,
) -> dict[ReminderKind, datetime | None]:
    """The next due time of every kind (``None``: none due) for the incident as it is now."""
    if incident.status is Status.CLOSED:
        return dict.fromkeys(ReminderKind)
    return {
        ReminderKind.UPDATE: update_due(incident, policy, last_update),
        ReminderKind.STALE_MITIGATED: stale_mitigated_due(incident, policy),
        ReminderKind.POSTMORTEM_DUE: postmortem_due(
            incident, policy, postmortem_ready=postmortem_ready
        ),
        ReminderKind.ROLE_GAP: role_gap_due(incident, policy, filled_roles),
    }
