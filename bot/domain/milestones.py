"""Milestone rules (PRODUCT.md §1): what order they must be in, how they are set and corrected, and
which ones closing needs so that every metric is computable.

Ordering is a partial order (``MUST_PRECEDE``): the impact starts, is detected, then declared; an
incident is acknowledged after it is declared; mitigated after it started, resolved after mitigated,
closed last. Only milestones that are both set are compared, so the transitive closure is used: with
``detected_at`` unset, ``started_at`` is still checked against ``declared_at``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.errors import UserFacingError
from bot.domain.events import TimelineEvent, iso
from bot.domain.incident import (
    Incident,
    JsonValue,
    Milestone,
    Milestones,
    Priority,
    Status,
    TimelineKind,
)
from bot.domain.metrics import METRIC_SPANS

MAX_CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a milestone may be set (clocks of people and systems disagree a little)."""

MILESTONE_LABELS: dict[Milestone, str] = {
    Milestone.STARTED: "Impact started",
    Milestone.DETECTED: "Detected",
    Milestone.DECLARED: "Declared",
    Milestone.ACKNOWLEDGED: "Acknowledged",
    Milestone.MITIGATED: "Mitigated",
    Milestone.RESOLVED: "Resolved",
    Milestone.CLOSED: "Closed",
}

_EDGES: tuple[tuple[Milestone, Milestone], ...] = (
    (Milestone.STARTED, Milestone.DETECTED),
    (Milestone.DETECTED, Milestone.DECLARED),
    (Milestone.STARTED, Milestone.DECLARED),
    (Milestone.DECLARED, Milestone.ACKNOWLEDGED),
    (Milestone.STARTED, Milestone.MITIGATED),
    (Milestone.MITIGATED, Milestone.RESOLVED),
    (Milestone.RESOLVED, Milestone.CLOSED),
    (Milestone.MITIGATED, Milestone.CLOSED),
    (Milestone.DECLARED, Milestone.CLOSED),
    (Milestone.ACKNOWLEDGED, Milestone.CLOSED),
)


def _closure(
    edges: Iterable[tuple[Milestone, Milestone]],
) -> frozenset[tuple[Milestone, Milestone]]:
    pairs = set(edges)
    while True:
        extra = {(a, d) for a, b in pairs for c, d in pairs if b is c} - pairs
        if not extra:
            return frozenset(pairs)
        pairs |= extra


MUST_PRECEDE: frozenset[tuple[Milestone, Milestone]] = _closure(_EDGES)
"""Every (earlier, later) pair that must hold when both milestones are set (``earlier <= later``)."""

METRIC_MILESTONES: tuple[Milestone, ...] = tuple(
    m for m in Milestone if any(m in span for span in METRIC_SPANS.values())
)
"""The milestones some metric needs (all but ``resolved_at``), in lifecycle order."""

UNCLEARABLE: frozenset[Milestone] = frozenset(METRIC_MILESTONES)
"""Milestones that may be corrected but never cleared: a metric would be left empty."""

SETTABLE_FROM: dict[Milestone, Status] = {
    Milestone.MITIGATED: Status.MITIGATED,
    Milestone.RESOLVED: Status.MITIGATED,
    Milestone.CLOSED: Status.CLOSED,
}
"""Milestones a person may only set once the incident reached a status (the others: any time)."""


class MilestoneRefused(UserFacingError):
    """A milestone value breaks a rule (future, order, status); the message names what and why."""


@dataclass(frozen=True, slots=True)
class MilestoneChange:
    """The incident with the milestone set, and the timeline event recording it."""

    incident: Incident
    event: TimelineEvent


def label(milestone: Milestone) -> str:
    return MILESTONE_LABELS[milestone]


def ordering_violations(milestones: Milestones) -> list[tuple[Milestone, Milestone]]:
    """The (earlier, later) pairs that are both set and out of order, in lifecycle order."""
    found = []
    for earlier in Milestone:
        for later in Milestone:
            if (earlier, later) not in MUST_PRECEDE:
                continue
            first, second = milestones.get(earlier), milestones.get(later)
            if first is not None and second is not None and second < first:
                found.append((earlier, later))
    return found


def describe_violation(milestones: Milestones, earlier: Milestone, later: Milestone) -> str:
    """``Detected (2025-…) cannot be before Impact started (2025-…).``"""
    return (
        f"{label(later)} ({iso(milestones.get(later))}) cannot be before "
        f"{label(earlier)} ({iso(milestones.get(earlier))})."
    )


def _check(milestones: Milestones, changed: Milestone, *, now: datetime) -> None:
    value = milestones.get(changed)
    if value is not None and value > now + MAX_CLOCK_SKEW:
        raise MilestoneRefused(
            f"{label(changed)} ({iso(value)}) is in the future (it is now {iso(now)})."
        )
    for earlier, later in ordering_violations(milestones):
        if changed in (earlier, later):
            raise MilestoneRefused(describe_violation(milestones, earlier, later))


def _require_aware(value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"milestones are timezone-aware datetimes, got naive {value!r}")


def set_milestone(
    incident: Incident,
    milestone: Milestone,
    value: datetime | None,
    *,
    now: datetime,
    reason: str | None = None,
) -> MilestoneChange:
    """Set or correct one milestone (``None`` clears it, for milestones no metric needs).

    Refused (``MilestoneRefused``) when the value is in the future beyond ``MAX_CLOCK_SKEW``, out of
    order with another set milestone, unchanged, or set before the incident reached the status the
    milestone belongs to (mitigated/resolved from Mitigated on, closed only when Closed).
    """
    if value is not None:
        _require_aware(value)
    previous = incident.milestones.get(milestone)
    if value is None and milestone in UNCLEARABLE:
        raise MilestoneRefused(
            f"{label(milestone)} cannot be cleared: a metric needs it. Correct it instead."
        )
    needed = SETTABLE_FROM.get(milestone)
    if value is not None and needed is not None and incident.status.order < needed.order:
        raise MilestoneRefused(
            f"{label(milestone)} can only be set once the incident is {needed.label} "
            f"(it is {incident.status.label})."
        )
    if value == previous:
        shown = iso(value) if value is not None else "empty"
        raise MilestoneRefused(f"{label(milestone)} is already {shown}.")
    milestones = incident.milestones.with_(milestone, value)
    started_default = incident.milestones.started_at == incident.milestones.declared_at
    pulled_start = (
        milestone is Milestone.DETECTED
        and value is not None
        and started_default
        and incident.milestones.started_at is not None
        and value < incident.milestones.started_at
    )
    if pulled_start:
        # The impact start was only the declaration time by default: it began no later than
        # it was detected, so it moves back with the detection.
        milestones = milestones.with_(Milestone.STARTED, value)
    _check(milestones, milestone, now=now)
    if previous is None:
        text = f"{label(milestone)} set to {iso(value)}"
    elif value is None:
        text = f"{label(milestone)} cleared (was {iso(previous)})"
    else:
        text = f"{label(milestone)} corrected from {iso(previous)} to {iso(value)}"
    if pulled_start:
        text += f"; {label(Milestone.STARTED)} moved back to it (it defaulted to the declaration)"
    data: dict[str, JsonValue] = {
        "milestone": milestone.value,
        "value": iso(value),
        "previous": iso(previous),
        "reason": reason.strip() if reason else None,
        "automatic": False,
    }
    if pulled_start:
        data["started_moved_from"] = iso(incident.milestones.started_at)
    event = TimelineEvent(TimelineKind.MILESTONE_SET, text, data)
    changed = dataclasses.replace(incident, milestones=milestones, updated_at=now)
    return MilestoneChange(changed, event)


class MilestoneBatchRefused(MilestoneRefused):
    """One milestone of a batch is refused; ``milestone`` says which (the modal shows it there)."""

    def __init__(self, message: str, milestone: Milestone) -> None:
        super().__init__(message)
        self.milestone = milestone


def set_milestones(
    incident: Incident,
    values: Mapping[Milestone, datetime | None],
    *,
    now: datetime,
    reason: str | None = None,
) -> tuple[Incident, list[TimelineEvent]]:
    """Set or correct several milestones at once (the milestones modal), each through
    ``set_milestone``'s rules; values equal to the current ones are skipped.

    Applied in rounds, in lifecycle order: a change refused only because another change of the
    same batch is not applied yet (moving Detected and Impact started earlier together) is tried
    again after the others. When a round makes no progress the whole batch is refused
    (``MilestoneBatchRefused`` naming the first refused milestone); nothing is half applied."""
    pending = [m for m in Milestone if m in values]
    current: Incident = incident
    events: list[TimelineEvent] = []
    while pending:
        refused: dict[Milestone, MilestoneRefused] = {}
        left: list[Milestone] = []
        for milestone in pending:
            if values[milestone] == current.milestones.get(milestone):
                continue
            try:
                change = set_milestone(
                    current, milestone, values[milestone], now=now, reason=reason
                )
            except MilestoneRefused as refusal:
                refused[milestone] = refusal
                left.append(milestone)
                continue
            current, events = change.incident, [*events, change.event]
        if left and len(left) == len(pending):
            first = left[0]
            raise MilestoneBatchRefused(refused[first].message, first)
        pending = left
    return current, events


def earliest_allowed(milestones: Milestones, milestone: Milestone, at: datetime) -> datetime:
    """``at``, moved later if needed so it is not before any set milestone that must precede."""
    earlier = [
        value
        for (first, second) in MUST_PRECEDE
        if second is milestone and (value := milestones.get(first)) is not None
    ]
    return max([at, *earlier])


def record_first_response(incident: Incident, *, at: datetime) -> MilestoneChange | None:
    """Set ``acknowledged_at`` on the first responder action (or a PagerDuty acknowledgement);
    ``None`` when it is already set. Never earlier than ``declared_at``: an alert acknowledged
    before the incident was declared counts as acknowledged at declaration."""
    if incident.milestones.acknowledged_at is not None:
        return None
    _require_aware(at)
    when = earliest_allowed(incident.milestones, Milestone.ACKNOWLEDGED, at)
    milestones = incident.milestones.with_(Milestone.ACKNOWLEDGED, when)
    event = TimelineEvent(
        TimelineKind.MILESTONE_SET,
        f"{label(Milestone.ACKNOWLEDGED)} set to {iso(when)}",
        {
            "milestone": Milestone.ACKNOWLEDGED.value,
            "value": iso(when),
            "previous": None,
            "reason": "first response",
            "automatic": True,
        },
    )
    return MilestoneChange(dataclasses.replace(incident, milestones=milestones), event)


def declaration_milestones(
    declared_at: datetime,
    *,
    now: datetime,
    started_at: datetime | None = None,
    detected_at: datetime | None = None,
) -> Milestones:
    """The milestones of a new incident: ``declared_at`` always set; ``started_at`` defaulting to
    the earliest of ``detected_at`` and ``declared_at`` (the impact began no later than that);
    ``detected_at`` as given. Refused (``MilestoneRefused``) when given times are in the future or
    out of order."""
    for value in (declared_at, started_at, detected_at):
        if value is not None:
            _require_aware(value)
    if started_at is None:
        started_at = min(declared_at, detected_at) if detected_at is not None else declared_at
    milestones = Milestones(started_at=started_at, detected_at=detected_at, declared_at=declared_at)
    for milestone in (Milestone.STARTED, Milestone.DETECTED, Milestone.DECLARED):
        _check(milestones, milestone, now=now)
    return milestones


def milestones_required_to_close(
    priority: Priority, extra: Iterable[Milestone] = ()
) -> tuple[Milestone, ...]:
    """What closing asks the user to set. For P1-P3: every milestone a metric needs (but
    ``closed_at``, which closing sets) plus the configured ``extra`` ones. For P4/P5: nothing is
    asked; closing fills any gap with its documented default (``fill_for_close``). Lifecycle order."""
    if priority > Priority.P3:
        return ()
    wanted = {m for m in METRIC_MILESTONES if m is not Milestone.CLOSED} | set(extra)
    wanted.discard(Milestone.CLOSED)
    return tuple(m for m in Milestone if m in wanted)


def fill_for_close(
    milestones: Milestones, *, closed_at: datetime, declared_fallback: datetime
) -> tuple[Milestones, tuple[Milestone, ...]]:
    """The milestones of an incident being closed at ``closed_at`` with every metric computable.

    Gaps are filled with defaults that keep the order: ``declared_at`` ← ``declared_fallback``
    (the creation time), ``started_at`` ← the earliest set milestone after it, ``detected_at`` ←
    ``declared_at`` (detection happened no later than the declaration), ``acknowledged_at``,
    ``mitigated_at`` and ``resolved_at`` ← the closing time (closing is a response, and ends the
    impact), ``closed_at`` ← the closing time (never before a milestone that must precede it).
    Returns the milestones and the ones that were filled (not including ``closed_at``)."""
    filled: list[Milestone] = []

    def fill(milestone: Milestone, value: datetime) -> None:
        nonlocal milestones
        if milestones.get(milestone) is None:
            milestones = milestones.with_(milestone, value)
            filled.append(milestone)

    fill(Milestone.DECLARED, declared_fallback)
    later_than_start = [
        value
        for (first, second) in MUST_PRECEDE
        if first is Milestone.STARTED and (value := milestones.get(second)) is not None
    ]
    fill(Milestone.STARTED, min(later_than_start))
    declared = milestones.declared_at
    assert declared is not None
    fill(Milestone.DETECTED, declared)
    for milestone in (Milestone.ACKNOWLEDGED, Milestone.MITIGATED, Milestone.RESOLVED):
        fill(milestone, earliest_allowed(milestones, milestone, closed_at))
    when = earliest_allowed(milestones, Milestone.CLOSED, closed_at)
    return milestones.with_(Milestone.CLOSED, when), tuple(filled)
