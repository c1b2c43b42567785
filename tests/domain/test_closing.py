"""The close gate (every reason and its fix), early closure and reopening."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from bot.domain.events import TimelineEvent
from bot.domain.incident import (
    ClosureReason,
    Incident,
    JsonValue,
    Milestone,
    Priority,
    Status,
    TimelineKind,
)
from bot.domain.lifecycle import (
    Fix,
    LifecycleRules,
    Move,
    Reason,
    TransitionRefused,
    close_blockers,
    may_close,
    transition,
)
from bot.domain.metrics import missing_for_metrics
from tests.domain.factories import COMMANDER, NOW, SOMEONE, incident

NEEDS_POSTMORTEM = LifecycleRules(postmortem_required=True)
NO_POSTMORTEM = LifecycleRules()


def refusal(current: Incident, rules: LifecycleRules, **kwargs: Any) -> TransitionRefused:
    with pytest.raises(TransitionRefused) as refused:
        transition(current, Status.CLOSED, actor=COMMANDER, now=NOW, rules=rules, **kwargs)
    return refused.value


def milestone_record(event: TimelineEvent, name: str) -> dict[str, JsonValue]:
    """The ``{"from": ..., "to": ...}`` an event's data records for one milestone."""
    record = event.data["milestones"]
    assert isinstance(record, dict)
    change = record[name]
    assert isinstance(change, dict)
    return change


def without(status: Status, *milestones: Milestone, priority: Priority = Priority.P2) -> Incident:
    current = incident(status, priority=priority)
    cleared = current.milestones
    for milestone in milestones:
        cleared = cleared.with_(milestone, None)
    return dataclasses.replace(current, milestones=cleared)


# --- incidents needing a post-mortem -------------------------------------------------------------


def test_closing_a_p2_with_its_postmortem_ready_closes_it_and_sets_closed_at() -> None:
    result = transition(
        incident(Status.POSTMORTEM),
        Status.CLOSED,
        actor=COMMANDER,
        now=NOW,
        rules=NEEDS_POSTMORTEM,
        postmortem_ready=True,
    )
    closed = result.incident
    assert closed.status is Status.CLOSED
    assert closed.milestones.closed_at == NOW
    assert closed.closure_reason is None
    assert missing_for_metrics(closed.milestones) == ()
    assert result.move is Move.CLOSE
    assert result.events[0].kind is TimelineKind.CLOSED
    assert result.events[0].data["filled_milestones"] == []


def test_closing_a_p2_without_postmortem_lists_what_is_missing() -> None:
    refused = refusal(
        without(Status.MITIGATED, Milestone.DETECTED), NEEDS_POSTMORTEM, postmortem_ready=False
    )
    assert refused.fixes == [
        Fix.MOVE_TO_POSTMORTEM,
        Fix.MARK_POSTMORTEM_READY,
        "set_milestone:detected_at",
    ]
    assert "needs a post-mortem" in refused.message
    assert "Mark the post-mortem document as ready." in refused.message
    assert "Set the Detected time." in refused.message


def test_closing_a_p2_in_postmortem_needs_the_document_marked_ready() -> None:
    refused = refusal(incident(Status.POSTMORTEM), NEEDS_POSTMORTEM, postmortem_ready=False)
    assert refused.reasons == [
        Reason("Mark the post-mortem document as ready.", Fix.MARK_POSTMORTEM_READY)
    ]


def test_closing_a_p2_still_investigating_asks_to_mitigate_first_and_everything_else() -> None:
    refused = refusal(incident(Status.INVESTIGATING), NEEDS_POSTMORTEM, postmortem_ready=False)
    assert refused.fixes == [
        Fix.MITIGATE_FIRST,
        Fix.MOVE_TO_POSTMORTEM,
        Fix.MARK_POSTMORTEM_READY,
        "set_milestone:mitigated_at",
    ]
    assert "#42 is Investigating: mitigate it first." in refused.message


# --- other P1-P3 --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.MITIGATED, Status.POSTMORTEM])
def test_a_p3_closes_once_mitigated_or_later_with_its_milestones(status: Status) -> None:
    current = incident(status, priority=Priority.P3)
    assert may_close(current, NO_POSTMORTEM, postmortem_ready=False)
    result = transition(current, Status.CLOSED, actor=COMMANDER, now=NOW, rules=NO_POSTMORTEM)
    assert result.incident.status is Status.CLOSED


@pytest.mark.parametrize("status", [Status.OPEN, Status.INVESTIGATING, Status.MITIGATING])
def test_a_p3_cannot_close_before_it_is_mitigated(status: Status) -> None:
    refused = refusal(incident(status, priority=Priority.P3), NO_POSTMORTEM)
    assert refused.fixes[0] == Fix.MITIGATE_FIRST


@pytest.mark.parametrize(
    "milestone",
    [Milestone.STARTED, Milestone.DETECTED, Milestone.DECLARED, Milestone.ACKNOWLEDGED],
)
def test_closing_a_p3_asks_for_each_milestone_a_metric_needs(milestone: Milestone) -> None:
    refused = refusal(without(Status.MITIGATED, milestone, priority=Priority.P3), NO_POSTMORTEM)
    assert refused.fixes == [f"set_milestone:{milestone.value}"]


def test_closing_a_p3_lists_every_missing_milestone_in_lifecycle_order() -> None:
    current = without(
        Status.MITIGATED, Milestone.STARTED, Milestone.ACKNOWLEDGED, priority=Priority.P3
    )
    assert [r.fix for r in close_blockers(current, NO_POSTMORTEM, postmortem_ready=False)] == [
        "set_milestone:started_at",
        "set_milestone:acknowledged_at",
    ]


def test_configured_extra_milestones_are_required_for_p1_to_p3() -> None:
    rules = LifecycleRules(extra_required_milestones=(Milestone.RESOLVED,))
    current = without(Status.MITIGATED, Milestone.RESOLVED, priority=Priority.P3)
    assert refusal(current, rules).fixes == ["set_milestone:resolved_at"]
    p4 = without(Status.MITIGATED, Milestone.RESOLVED, priority=Priority.P4)
    assert may_close(p4, rules, postmortem_ready=False)


def test_milestones_out_of_order_block_closing_with_a_fix_for_the_later_one() -> None:
    current = incident(Status.MITIGATED, priority=Priority.P3)
    started = current.milestones.started_at
    assert started is not None
    broken = current.milestones.with_(Milestone.DETECTED, started - timedelta(minutes=1))
    refused = refusal(dataclasses.replace(current, milestones=broken), NO_POSTMORTEM)
    assert refused.fixes == ["set_milestone:detected_at"]
    assert "Detected (" in refused.message
    assert "cannot be before Impact started (" in refused.message


# --- P4/P5 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("priority", [Priority.P4, Priority.P5])
def test_a_p4_or_p5_closes_once_mitigated_and_its_gaps_are_filled(priority: Priority) -> None:
    current = without(Status.MITIGATED, Milestone.DETECTED, Milestone.STARTED, priority=priority)
    result = transition(current, Status.CLOSED, actor=COMMANDER, now=NOW, rules=NO_POSTMORTEM)
    milestones = result.incident.milestones
    assert missing_for_metrics(milestones) == ()
    assert milestones.detected_at == milestones.declared_at
    assert milestones.started_at == milestones.declared_at
    assert result.events[0].data["filled_milestones"] == [
        "started_at",
        "detected_at",
        "resolved_at",
    ]


@pytest.mark.parametrize("priority", [Priority.P4, Priority.P5])
def test_a_p4_or_p5_cannot_close_before_it_is_mitigated(priority: Priority) -> None:
    refused = refusal(incident(Status.MITIGATING, priority=priority), NO_POSTMORTEM)
    assert refused.fixes == [Fix.MITIGATE_FIRST]


# --- early closure --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.CLOSED])
@pytest.mark.parametrize("reason", [r for r in ClosureReason if r is not ClosureReason.DUPLICATE])
def test_early_closure_from_any_status_bypasses_the_gate(
    status: Status, reason: ClosureReason
) -> None:
    result = transition(
        incident(status),
        Status.CLOSED,
        actor=SOMEONE,
        now=NOW,
        rules=NEEDS_POSTMORTEM,
        closure_reason=reason,
    )
    closed = result.incident
    assert closed.status is Status.CLOSED
    assert closed.closure_reason is reason
    assert closed.closure_reference is None
    assert missing_for_metrics(closed.milestones) == ()
    event = result.events[0]
    assert event.kind is TimelineKind.CLOSED
    assert event.data["closure_reason"] == reason.value
    assert event.text.startswith("Closed early: ")


def test_early_closure_of_an_open_incident_fills_acknowledged_and_mitigated_with_the_close_time() -> (
    None
):
    result = transition(
        incident(Status.OPEN),
        Status.CLOSED,
        actor=SOMEONE,
        now=NOW,
        rules=NO_POSTMORTEM,
        closure_reason=ClosureReason.FALSE_ALARM,
    )
    milestones = result.incident.milestones
    assert milestones.acknowledged_at == milestones.mitigated_at == milestones.closed_at == NOW
    assert result.events[0].data["filled_milestones"] == [
        "acknowledged_at",
        "mitigated_at",
        "resolved_at",
    ]


@pytest.mark.parametrize("reference", ["#7", "7", " #7 "])
def test_closing_as_a_duplicate_records_the_kept_incident(reference: str) -> None:
    result = transition(
        incident(Status.INVESTIGATING),
        Status.CLOSED,
        actor=SOMEONE,
        now=NOW,
        rules=NEEDS_POSTMORTEM,
        closure_reason=ClosureReason.DUPLICATE,
        closure_reference=reference,
    )
    assert result.incident.closure_reason is ClosureReason.DUPLICATE
    assert result.incident.closure_reference == "#7"
    assert result.events[0].text == "Closed early: duplicate (#7)"


@pytest.mark.parametrize("reference", [None, "", "abc", "#0", "#-3"])
def test_closing_as_a_duplicate_needs_the_kept_incident(reference: str | None) -> None:
    refused = refusal(
        incident(Status.INVESTIGATING),
        NO_POSTMORTEM,
        closure_reason=ClosureReason.DUPLICATE,
        closure_reference=reference,
    )
    assert refused.fixes == [Fix.CHOOSE_KEPT_INCIDENT]
    assert "the incident you keep" in refused.message


def test_an_incident_cannot_be_a_duplicate_of_itself() -> None:
    refused = refusal(
        incident(Status.INVESTIGATING),
        NO_POSTMORTEM,
        closure_reason=ClosureReason.DUPLICATE,
        closure_reference="#42",
    )
    assert "#42 cannot be a duplicate of itself" in refused.message


def test_other_closure_reasons_keep_an_optional_reference() -> None:
    result = transition(
        incident(Status.INVESTIGATING),
        Status.CLOSED,
        actor=SOMEONE,
        now=NOW,
        rules=NO_POSTMORTEM,
        closure_reason=ClosureReason.SUPERSEDED,
        closure_reference=" #9 ",
    )
    assert result.incident.closure_reference == "#9"


def test_a_closure_reason_is_refused_when_not_closing() -> None:
    with pytest.raises(TransitionRefused, match="only applies when closing"):
        transition(
            incident(Status.INVESTIGATING),
            Status.MITIGATED,
            actor=SOMEONE,
            now=NOW,
            rules=NO_POSTMORTEM,
            closure_reason=ClosureReason.CANCELLED,
        )


def test_a_closed_incident_cannot_be_closed_again_even_early() -> None:
    refused = refusal(
        incident(Status.CLOSED), NO_POSTMORTEM, closure_reason=ClosureReason.CANCELLED
    )
    assert refused.message == "#42 is already Closed."


# --- reopening ------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", [Status.MITIGATED, Status.POSTMORTEM])
@pytest.mark.parametrize("target", [Status.INVESTIGATING, Status.MITIGATING])
def test_reopening_a_mitigated_incident_needs_a_justification(
    source: Status, target: Status
) -> None:
    for justification in (None, "", "too short", "         x         "):
        with pytest.raises(TransitionRefused) as refused:
            transition(
                incident(source),
                target,
                actor=SOMEONE,
                now=NOW,
                rules=NEEDS_POSTMORTEM,
                justification=justification,
            )
        assert refused.value.fixes == [Fix.ADD_JUSTIFICATION]
        assert "at least 10 characters" in refused.value.message


def test_reopening_a_mitigated_incident_clears_mitigated_and_keeps_it_in_the_event() -> None:
    current = incident(Status.POSTMORTEM)
    result = transition(
        current,
        Status.MITIGATING,
        actor=SOMEONE,
        now=NOW,
        rules=NEEDS_POSTMORTEM,
        justification="  errors are back on checkout  ",
    )
    assert result.move is Move.REOPEN_FROM_MITIGATED
    assert result.incident.milestones.mitigated_at is None
    assert result.incident.milestones.resolved_at is None
    event = result.events[0]
    assert event.kind is TimelineKind.REOPENED
    assert event.data["justification"] == "errors are back on checkout"
    previous = current.milestones.mitigated_at
    assert previous is not None
    assert milestone_record(event, "mitigated_at") == {"from": previous.isoformat(), "to": None}
    mitigated_again = transition(
        result.incident,
        Status.MITIGATED,
        actor=SOMEONE,
        now=NOW + timedelta(hours=1),
        rules=NEEDS_POSTMORTEM,
    ).incident
    assert mitigated_again.milestones.mitigated_at == NOW + timedelta(hours=1)


def test_the_commander_reopens_a_closed_incident_to_investigating() -> None:
    closed = transition(
        incident(Status.INVESTIGATING),
        Status.CLOSED,
        actor=SOMEONE,
        now=NOW,
        rules=NO_POSTMORTEM,
        closure_reason=ClosureReason.DUPLICATE,
        closure_reference="#7",
    ).incident
    later = NOW + timedelta(days=1)
    result = transition(
        closed,
        Status.INVESTIGATING,
        actor=COMMANDER,
        now=later,
        rules=NO_POSTMORTEM,
        justification="Not a duplicate after all",
        is_commander=True,
    )
    reopened = result.incident
    assert result.move is Move.REOPEN_AFTER_CLOSE
    assert reopened.status is Status.INVESTIGATING
    assert reopened.milestones.closed_at is None
    assert reopened.milestones.mitigated_at is None
    assert reopened.closure_reason is None
    assert reopened.closure_reference is None
    assert reopened.milestones.acknowledged_at == closed.milestones.acknowledged_at
    event = result.events[0]
    assert event.kind is TimelineKind.REOPENED
    assert event.data["closure_reason"] == "duplicate"
    assert event.data["closure_reference"] == "#7"
    assert milestone_record(event, "closed_at") == {"from": NOW.isoformat(), "to": None}


def test_an_incident_manager_may_reopen_a_closed_incident() -> None:
    result = transition(
        incident(Status.CLOSED),
        Status.INVESTIGATING,
        actor=SOMEONE,
        now=NOW,
        rules=NO_POSTMORTEM,
        justification="Customers report it again",
        is_incident_manager=True,
    )
    assert result.incident.status is Status.INVESTIGATING


def test_someone_else_cannot_reopen_a_closed_incident_and_learns_every_reason() -> None:
    with pytest.raises(TransitionRefused) as refused:
        transition(
            incident(Status.CLOSED),
            Status.INVESTIGATING,
            actor=SOMEONE,
            now=NOW,
            rules=NO_POSTMORTEM,
            justification="short",
        )
    texts = [reason.text for reason in refused.value.reasons]
    assert texts[0] == "Only the incident commander or an incident manager can reopen it."
    assert "at least 10 characters" in texts[1]
    assert refused.value.fixes == [Fix.ADD_JUSTIFICATION]
