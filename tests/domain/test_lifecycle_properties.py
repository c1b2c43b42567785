"""Property: whatever sequence of transitions (and milestone corrections) people try, the allowed
ones keep milestones in order, and every incident that reached Closed has every metric."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from hypothesis import event, given, settings
from hypothesis import strategies as st

from bot.domain.incident import (
    ClosureReason,
    Incident,
    Milestone,
    NewIncident,
    Priority,
    Status,
)
from bot.domain.lifecycle import (
    LifecycleRules,
    Move,
    TransitionRefused,
    allowed_targets,
    move_of,
    transition,
)
from bot.domain.metrics import Metric, metrics_of, missing_for_metrics
from bot.domain.milestones import (
    MilestoneRefused,
    declaration_milestones,
    ordering_violations,
    record_first_response,
    set_milestone,
)
from tests.domain.factories import COMMANDER, DECLARED


@dataclass(frozen=True)
class Attempt:
    to: Status | int
    """A status, or an index into the statuses the menu offers (keeps sequences going forward)."""
    minutes_later: int
    justification: str | None
    postmortem_ready: bool
    is_commander: bool
    closure_reason: ClosureReason | None
    closure_reference: str | None


@dataclass(frozen=True)
class Correction:
    milestone: Milestone
    minutes_from_now: int
    minutes_later: int


@dataclass(frozen=True)
class FirstResponse:
    minutes_later: int


attempts = st.builds(
    Attempt,
    to=st.one_of(st.sampled_from(Status), st.integers(0, 5), st.integers(0, 5)),
    minutes_later=st.integers(0, 600),
    justification=st.sampled_from([None, "short", *["Errors came back on checkout"] * 4]),
    postmortem_ready=st.sampled_from([False, True, True]),
    is_commander=st.sampled_from([False, True, True]),
    closure_reason=st.one_of(*[st.none()] * 4, st.sampled_from(ClosureReason)),
    closure_reference=st.sampled_from([None, "#7", "#1"]),
)
corrections = st.builds(
    Correction,
    milestone=st.sampled_from(Milestone),
    minutes_from_now=st.one_of(st.integers(-900, 0), st.integers(-2, 6)),
    minutes_later=st.integers(0, 60),
)
steps = st.lists(
    st.one_of(attempts, attempts, corrections, st.builds(FirstResponse, st.integers(0, 60))),
    max_size=40,
)


def declared(
    priority: Priority, minutes_before: int | None, detected_before: int | None
) -> Incident:
    started = None if minutes_before is None else DECLARED - timedelta(minutes=minutes_before)
    detected = None if detected_before is None else DECLARED - timedelta(minutes=detected_before)
    if started is not None and detected is not None and detected < started:
        detected = started
    milestones = declaration_milestones(
        DECLARED, now=DECLARED, started_at=started, detected_at=detected
    )
    draft = NewIncident(
        title="Checkout fails for every customer",
        summary="Payments return 500 since the last deploy",
        priority=priority,
        category="payments",
        environments=("PRD",),
        created_by=COMMANDER.id,
        created_at=DECLARED,
        milestones=milestones,
    )
    return draft.to_incident(1)


def check_invariants(incident: Incident) -> None:
    assert ordering_violations(incident.milestones) == []
    assert incident.milestones.declared_at is not None
    assert incident.milestones.started_at is not None
    if incident.status is not Status.OPEN:
        assert incident.milestones.acknowledged_at is not None
    if incident.status.is_mitigated_or_later:
        assert incident.milestones.mitigated_at is not None
    if incident.status is Status.CLOSED:
        assert missing_for_metrics(incident.milestones) == ()
        computed = metrics_of(incident.milestones)
        for metric in Metric:
            value = computed.get(metric)
            assert value is not None
            assert value >= timedelta(0)
    else:
        assert incident.milestones.closed_at is None
        assert incident.closure_reason is None


@settings(max_examples=500, deadline=None)
@given(
    priority=st.sampled_from(Priority),
    postmortem_required=st.booleans(),
    minutes_before=st.one_of(st.none(), st.integers(0, 600)),
    detected_before=st.one_of(st.none(), st.integers(0, 600)),
    plan=steps,
)
def test_allowed_transitions_keep_milestones_ordered_and_closed_incidents_measurable(
    priority: Priority,
    postmortem_required: bool,
    minutes_before: int | None,
    detected_before: int | None,
    plan: list[Attempt | Correction | FirstResponse],
) -> None:
    rules = LifecycleRules(postmortem_required=postmortem_required)
    incident = declared(priority, minutes_before, detected_before)
    now = DECLARED
    check_invariants(incident)
    for step in plan:
        now += timedelta(minutes=step.minutes_later)
        if isinstance(step, Attempt):
            before = incident.status
            offered = allowed_targets(incident, rules)
            to = step.to if isinstance(step.to, Status) else offered[step.to % len(offered)]
            try:
                result = transition(
                    incident,
                    to,
                    actor=COMMANDER,
                    now=now,
                    rules=rules,
                    justification=step.justification,
                    postmortem_ready=step.postmortem_ready,
                    is_commander=step.is_commander,
                    closure_reason=step.closure_reason,
                    closure_reference=step.closure_reference,
                )
            except TransitionRefused as refused:
                assert refused.reasons
                continue
            assert move_of(before, to) not in (Move.NOT_ALLOWED, Move.NO_OP)
            assert to in offered
            assert result.incident.status is to
            assert len(result.events) == 1
            incident = result.incident
            event(f"reached {result.move.value}")
        elif isinstance(step, Correction):
            value = now + timedelta(minutes=step.minutes_from_now)
            try:
                incident = set_milestone(incident, step.milestone, value, now=now).incident
            except MilestoneRefused:
                continue
        else:
            change = record_first_response(incident, at=now)
            if change is not None:
                incident = change.incident
        check_invariants(incident)
