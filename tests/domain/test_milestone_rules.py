"""Setting and correcting milestones: future, order, status, clearing; declaration defaults."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from bot.domain.incident import Milestone, Milestones, Priority, Status, TimelineKind
from bot.domain.milestones import (
    MAX_CLOCK_SKEW,
    MUST_PRECEDE,
    MilestoneRefused,
    declaration_milestones,
    milestones_required_to_close,
    ordering_violations,
    record_first_response,
    set_milestone,
)
from tests.domain.factories import DECLARED, NOW, incident


def test_correcting_the_start_of_impact_records_old_and_new_values() -> None:
    current = incident(Status.INVESTIGATING)
    earlier = DECLARED - timedelta(hours=1)
    change = set_milestone(current, Milestone.STARTED, earlier, now=NOW, reason="Seen in logs")
    assert change.incident.milestones.started_at == earlier
    assert change.incident.updated_at == NOW
    event = change.event
    assert event.kind is TimelineKind.MILESTONE_SET
    assert event.data == {
        "milestone": "started_at",
        "value": earlier.isoformat(),
        "previous": current.milestones.started_at.isoformat(),  # type: ignore[union-attr]
        "reason": "Seen in logs",
        "automatic": False,
    }
    assert event.text.startswith("Impact started corrected from ")


def test_a_milestone_set_for_the_first_time_says_set() -> None:
    current = dataclasses.replace(
        incident(Status.INVESTIGATING),
        milestones=incident(Status.INVESTIGATING).milestones.with_(Milestone.DETECTED, None),
    )
    change = set_milestone(current, Milestone.DETECTED, DECLARED, now=NOW)
    assert change.event.text == f"Detected set to {DECLARED.isoformat()}"


def test_a_milestone_slightly_in_the_future_is_accepted_within_the_clock_skew() -> None:
    current = incident(Status.INVESTIGATING)
    soon = NOW + MAX_CLOCK_SKEW
    change = set_milestone(current, Milestone.ACKNOWLEDGED, soon, now=NOW)
    assert change.incident.milestones.acknowledged_at == soon


def test_a_milestone_in_the_future_is_refused_with_both_times() -> None:
    later = NOW + MAX_CLOCK_SKEW + timedelta(seconds=1)
    with pytest.raises(MilestoneRefused) as refused:
        set_milestone(incident(Status.INVESTIGATING), Milestone.ACKNOWLEDGED, later, now=NOW)
    assert refused.value.message == (
        f"Acknowledged ({later.isoformat()}) is in the future (it is now {NOW.isoformat()})."
    )


M = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("milestone", "value", "later", "later_at", "earlier", "earlier_at"),
    [
        (Milestone.DETECTED, -300 * M, "Detected", -300 * M, "Impact started", -30 * M),
        (Milestone.STARTED, 5 * M, "Detected", -10 * M, "Impact started", 5 * M),
        (Milestone.ACKNOWLEDGED, -60 * M, "Acknowledged", -60 * M, "Impact started", -30 * M),
        (Milestone.MITIGATED, -300 * M, "Mitigated", -300 * M, "Impact started", -30 * M),
        (Milestone.CLOSED, 45 * M, "Closed", 45 * M, "Resolved", 50 * M),
        (Milestone.DECLARED, 90 * M, "Acknowledged", 5 * M, "Declared", 90 * M),
    ],
)
def test_milestones_out_of_order_are_refused_naming_both_with_iso_times(
    milestone: Milestone,
    value: timedelta,
    later: str,
    later_at: timedelta,
    earlier: str,
    earlier_at: timedelta,
) -> None:
    with pytest.raises(MilestoneRefused) as refused:
        set_milestone(incident(Status.CLOSED), milestone, DECLARED + value, now=NOW)
    assert refused.value.message == (
        f"{later} ({(DECLARED + later_at).isoformat()}) cannot be before "
        f"{earlier} ({(DECLARED + earlier_at).isoformat()})."
    )


def test_the_order_is_checked_through_unset_milestones() -> None:
    assert (Milestone.STARTED, Milestone.CLOSED) in MUST_PRECEDE
    assert (Milestone.DETECTED, Milestone.ACKNOWLEDGED) in MUST_PRECEDE
    assert (Milestone.DETECTED, Milestone.MITIGATED) not in MUST_PRECEDE  # may self-heal unseen
    assert (Milestone.DECLARED, Milestone.MITIGATED) not in MUST_PRECEDE  # declared afterwards
    only_ends = Milestones(started_at=NOW, declared_at=NOW - timedelta(minutes=1))
    assert ordering_violations(only_ends) == [(Milestone.STARTED, Milestone.DECLARED)]


def test_a_metric_milestone_cannot_be_cleared_but_resolved_can() -> None:
    current = incident(Status.POSTMORTEM)
    with pytest.raises(MilestoneRefused, match="Impact started cannot be cleared"):
        set_milestone(current, Milestone.STARTED, None, now=NOW)
    change = set_milestone(current, Milestone.RESOLVED, None, now=NOW)
    assert change.incident.milestones.resolved_at is None
    assert change.event.text.startswith("Resolved cleared (was ")


@pytest.mark.parametrize(
    ("milestone", "status"),
    [
        (Milestone.MITIGATED, Status.MITIGATING),
        (Milestone.RESOLVED, Status.INVESTIGATING),
        (Milestone.CLOSED, Status.POSTMORTEM),
    ],
)
def test_a_milestone_cannot_be_set_before_its_status_is_reached(
    milestone: Milestone, status: Status
) -> None:
    with pytest.raises(MilestoneRefused, match="can only be set once the incident is"):
        set_milestone(incident(status), milestone, NOW - timedelta(minutes=1), now=NOW)


def test_setting_a_milestone_to_its_current_value_is_refused() -> None:
    current = incident(Status.INVESTIGATING)
    with pytest.raises(MilestoneRefused, match="is already"):
        set_milestone(current, Milestone.DECLARED, DECLARED, now=NOW)


def test_a_naive_time_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        set_milestone(incident(), Milestone.STARTED, datetime(2025, 1, 1), now=NOW)


def test_the_first_response_sets_acknowledged_once() -> None:
    opened = incident(Status.OPEN)
    change = record_first_response(opened, at=NOW)
    assert change is not None
    assert change.incident.milestones.acknowledged_at == NOW
    assert change.event.data["automatic"] is True
    assert record_first_response(change.incident, at=NOW + timedelta(hours=1)) is None


def test_an_acknowledgement_before_the_declaration_counts_from_the_declaration() -> None:
    change = record_first_response(incident(Status.OPEN), at=DECLARED - timedelta(minutes=3))
    assert change is not None
    assert change.incident.milestones.acknowledged_at == DECLARED


def test_a_declaration_always_sets_declared_and_defaults_started_to_it() -> None:
    milestones = declaration_milestones(DECLARED, now=NOW)
    assert milestones.declared_at == milestones.started_at == DECLARED
    assert milestones.detected_at is None


def test_a_declaration_with_only_a_detection_time_starts_the_impact_then() -> None:
    detected = DECLARED - timedelta(minutes=20)
    milestones = declaration_milestones(DECLARED, now=NOW, detected_at=detected)
    assert milestones.started_at == detected


def test_a_declaration_with_an_impact_starting_after_it_is_refused() -> None:
    with pytest.raises(MilestoneRefused, match=r"Declared \(.*\) cannot be before Impact started"):
        declaration_milestones(DECLARED, now=NOW, started_at=DECLARED + timedelta(minutes=1))


def test_a_declaration_with_a_future_start_is_refused() -> None:
    with pytest.raises(MilestoneRefused, match="in the future"):
        declaration_milestones(NOW, now=NOW, started_at=NOW + timedelta(hours=1))


@pytest.mark.parametrize("priority", [Priority.P1, Priority.P2, Priority.P3])
def test_p1_to_p3_must_have_every_metric_milestone_before_closing(priority: Priority) -> None:
    assert milestones_required_to_close(priority) == (
        Milestone.STARTED,
        Milestone.DETECTED,
        Milestone.DECLARED,
        Milestone.ACKNOWLEDGED,
        Milestone.MITIGATED,
    )
    assert Milestone.RESOLVED in milestones_required_to_close(priority, [Milestone.RESOLVED])
    assert Milestone.CLOSED not in milestones_required_to_close(priority, [Milestone.CLOSED])


@pytest.mark.parametrize("priority", [Priority.P4, Priority.P5])
def test_p4_and_p5_are_asked_for_no_milestone_closing_fills_the_gaps(priority: Priority) -> None:
    assert milestones_required_to_close(priority, [Milestone.RESOLVED]) == ()


def test_detecting_before_a_defaulted_impact_start_moves_the_start_back_with_it():
    from datetime import UTC, datetime, timedelta

    from bot.domain.milestones import declaration_milestones, set_milestone
    from tests.domain.factories import incident as make_incident

    declared = datetime(2026, 11, 27, 14, 2, 37, tzinfo=UTC)
    incident = make_incident(milestones=declaration_milestones(declared, now=declared))
    detected = declared - timedelta(minutes=12)

    change = set_milestone(incident, Milestone.DETECTED, detected, now=declared)

    assert change.incident.milestones.detected_at == detected
    assert change.incident.milestones.started_at == detected
    assert "moved back" in change.event.text


def test_a_known_impact_start_is_never_moved_by_a_later_detection():
    from datetime import UTC, datetime, timedelta

    from bot.domain.milestones import MilestoneRefused, declaration_milestones, set_milestone
    from tests.domain.factories import incident as make_incident

    declared = datetime(2026, 11, 27, 14, 2, 37, tzinfo=UTC)
    started = declared - timedelta(minutes=5)
    incident = make_incident(
        milestones=declaration_milestones(declared, now=declared, started_at=started)
    )

    with pytest.raises(MilestoneRefused):
        set_milestone(incident, Milestone.DETECTED, started - timedelta(minutes=1), now=declared)
