"""The whole transition table: all 36 (from, to) pairs, their kind and their outcome."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from bot.domain.incident import Milestone, Priority, Status, TimelineKind
from bot.domain.lifecycle import (
    TRANSITIONS,
    LifecycleRules,
    Move,
    TransitionRefused,
    allowed_targets,
    transition,
)
from tests.domain.factories import COMMANDER, NOW, incident

OP, INV, MG, MD, PM, C = (
    Status.OPEN,
    Status.INVESTIGATING,
    Status.MITIGATING,
    Status.MITIGATED,
    Status.POSTMORTEM,
    Status.CLOSED,
)

# (from, to) -> (kind of move, allowed when every condition of that kind is met)
EXPECTED: dict[tuple[Status, Status], tuple[Move, bool]] = {
    (OP, OP): (Move.NO_OP, False),
    (OP, INV): (Move.FORWARD, True),
    (OP, MG): (Move.FORWARD, True),
    (OP, MD): (Move.FORWARD, True),
    (OP, PM): (Move.NOT_ALLOWED, False),
    (OP, C): (Move.CLOSE, False),  # not mitigated: only an early closure closes it
    (INV, OP): (Move.NOT_ALLOWED, False),
    (INV, INV): (Move.NO_OP, False),
    (INV, MG): (Move.FORWARD, True),
    (INV, MD): (Move.FORWARD, True),
    (INV, PM): (Move.NOT_ALLOWED, False),
    (INV, C): (Move.CLOSE, False),
    (MG, OP): (Move.NOT_ALLOWED, False),
    (MG, INV): (Move.STEP_BACK, True),
    (MG, MG): (Move.NO_OP, False),
    (MG, MD): (Move.FORWARD, True),
    (MG, PM): (Move.NOT_ALLOWED, False),
    (MG, C): (Move.CLOSE, False),
    (MD, OP): (Move.NOT_ALLOWED, False),
    (MD, INV): (Move.REOPEN_FROM_MITIGATED, True),
    (MD, MG): (Move.REOPEN_FROM_MITIGATED, True),
    (MD, MD): (Move.NO_OP, False),
    (MD, PM): (Move.TO_POSTMORTEM, True),
    (MD, C): (Move.CLOSE, True),
    (PM, OP): (Move.NOT_ALLOWED, False),
    (PM, INV): (Move.REOPEN_FROM_MITIGATED, True),
    (PM, MG): (Move.REOPEN_FROM_MITIGATED, True),
    (PM, MD): (Move.NOT_ALLOWED, False),
    (PM, PM): (Move.NO_OP, False),
    (PM, C): (Move.CLOSE, True),
    (C, OP): (Move.NOT_ALLOWED, False),
    (C, INV): (Move.REOPEN_AFTER_CLOSE, True),
    (C, MG): (Move.NOT_ALLOWED, False),
    (C, MD): (Move.NOT_ALLOWED, False),
    (C, PM): (Move.NOT_ALLOWED, False),
    (C, C): (Move.NO_OP, False),
}


def test_the_table_has_exactly_one_entry_per_pair_of_statuses() -> None:
    assert len(EXPECTED) == 36
    assert set(TRANSITIONS) == {(a, b) for a in Status for b in Status}
    assert set(EXPECTED) == set(TRANSITIONS)


PAIRS = [(source, target) for source in Status for target in Status]


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_every_pair_of_statuses_has_the_expected_kind_and_outcome(
    source: Status, target: Status
) -> None:
    move, allowed = EXPECTED[(source, target)]
    assert TRANSITIONS[(source, target)] is move
    # The most favourable conditions for the kind: a post-mortem is required (and ready) only when
    # Post-mortem is involved; a justification; the commander acting.
    needs_postmortem = Status.POSTMORTEM in (source, target)
    rules = LifecycleRules(postmortem_required=needs_postmortem)
    current = incident(source)
    if allowed:
        result = transition(
            current,
            target,
            actor=COMMANDER,
            now=NOW,
            rules=rules,
            justification="The error rate is back up",
            postmortem_ready=True,
            is_commander=True,
        )
        assert result.move is move
        assert result.incident.status is target
        assert result.incident.updated_at == NOW
        assert len(result.events) == 1
        assert result.events[0].data["from"] == source.value
        assert result.events[0].data["to"] == target.value
    else:
        with pytest.raises(TransitionRefused) as refused:
            transition(
                current,
                target,
                actor=COMMANDER,
                now=NOW,
                rules=rules,
                justification="The error rate is back up",
                postmortem_ready=True,
                is_commander=True,
            )
        assert refused.value.reasons
        assert refused.value.message


@pytest.mark.parametrize("status", list(Status))
def test_moving_to_the_same_status_is_refused_with_a_clear_message(status: Status) -> None:
    with pytest.raises(TransitionRefused, match=r"#42 is already"):
        transition(incident(status), status, actor=COMMANDER, now=NOW, rules=LifecycleRules())


def test_forward_moves_may_skip_steps_and_set_acknowledged_and_mitigated() -> None:
    opened = incident(Status.OPEN)
    assert opened.milestones.acknowledged_at is None

    result = transition(opened, Status.MITIGATED, actor=COMMANDER, now=NOW, rules=LifecycleRules())

    assert result.incident.status is Status.MITIGATED
    assert result.incident.milestones.acknowledged_at == NOW
    assert result.incident.milestones.mitigated_at == NOW
    event = result.events[0]
    assert event.kind is TimelineKind.STATUS_CHANGE
    assert event.text == "Status: Open → Mitigated"
    assert set(event.data["milestones"]) == {"acknowledged_at", "mitigated_at"}  # type: ignore[arg-type]


def test_a_forward_move_keeps_milestones_already_set() -> None:
    current = incident(Status.MITIGATING)
    result = transition(current, Status.MITIGATED, actor=COMMANDER, now=NOW, rules=LifecycleRules())
    assert result.incident.milestones.acknowledged_at == current.milestones.acknowledged_at
    assert result.incident.milestones.mitigated_at == NOW


def test_a_mitigated_time_already_known_is_kept_when_reaching_mitigated() -> None:
    known = NOW - timedelta(minutes=20)
    current = incident(Status.MITIGATING)
    current = dataclasses.replace(
        current, milestones=current.milestones.with_(Milestone.MITIGATED, known)
    )
    result = transition(current, Status.MITIGATED, actor=COMMANDER, now=NOW, rules=LifecycleRules())
    assert result.incident.milestones.mitigated_at == known


def test_going_back_to_open_is_refused() -> None:
    with pytest.raises(TransitionRefused, match="cannot go back to Open"):
        transition(
            incident(Status.INVESTIGATING),
            Status.OPEN,
            actor=COMMANDER,
            now=NOW,
            rules=LifecycleRules(),
        )


def test_mitigating_may_step_back_to_investigating_without_a_justification() -> None:
    result = transition(
        incident(Status.MITIGATING),
        Status.INVESTIGATING,
        actor=COMMANDER,
        now=NOW,
        rules=LifecycleRules(),
    )
    assert result.move is Move.STEP_BACK
    assert result.events[0].kind is TimelineKind.STATUS_CHANGE


@pytest.mark.parametrize("source", [OP, INV, MG])
def test_postmortem_is_only_reachable_from_mitigated(source: Status) -> None:
    with pytest.raises(TransitionRefused, match="only reachable from Mitigated"):
        transition(
            incident(source),
            Status.POSTMORTEM,
            actor=COMMANDER,
            now=NOW,
            rules=LifecycleRules(postmortem_required=True),
        )


def test_postmortem_is_refused_when_the_incident_does_not_need_one() -> None:
    with pytest.raises(TransitionRefused, match="does not need a post-mortem"):
        transition(
            incident(Status.MITIGATED, priority=Priority.P3),
            Status.POSTMORTEM,
            actor=COMMANDER,
            now=NOW,
            rules=LifecycleRules(postmortem_required=False),
        )


def test_moving_to_postmortem_sets_resolved_once() -> None:
    result = transition(
        incident(Status.MITIGATED),
        Status.POSTMORTEM,
        actor=COMMANDER,
        now=NOW,
        rules=LifecycleRules(postmortem_required=True),
    )
    assert result.incident.milestones.resolved_at == NOW
    assert result.move is Move.TO_POSTMORTEM


def test_postmortem_cannot_go_back_to_mitigated() -> None:
    with pytest.raises(TransitionRefused, match="Post-mortem cannot go back to Mitigated"):
        transition(
            incident(Status.POSTMORTEM),
            Status.MITIGATED,
            actor=COMMANDER,
            now=NOW,
            rules=LifecycleRules(postmortem_required=True),
        )


@pytest.mark.parametrize("target", [OP, MG, MD, PM])
def test_a_closed_incident_can_only_be_reopened_to_investigating(target: Status) -> None:
    with pytest.raises(TransitionRefused, match="only be reopened, to Investigating"):
        transition(
            incident(Status.CLOSED),
            target,
            actor=COMMANDER,
            now=NOW,
            rules=LifecycleRules(),
            justification="The error rate is back up",
            is_commander=True,
        )


def test_menus_offer_what_the_table_allows_and_postmortem_only_when_required() -> None:
    mitigated = incident(Status.MITIGATED)
    assert allowed_targets(mitigated, LifecycleRules()) == [INV, MG, C]
    assert allowed_targets(mitigated, LifecycleRules(postmortem_required=True)) == [INV, MG, PM, C]
    assert allowed_targets(incident(Status.OPEN), LifecycleRules()) == [INV, MG, MD, C]
    assert allowed_targets(incident(Status.CLOSED), LifecycleRules()) == [INV]


def test_an_automatic_milestone_is_never_before_one_that_must_precede_it() -> None:
    # Mitigated corrected a little into the future (within the clock skew), then Post-mortem now:
    # resolved_at is set no earlier than mitigated_at.
    current = incident(Status.MITIGATED)
    soon = NOW + timedelta(minutes=3)
    current = dataclasses.replace(
        current, milestones=current.milestones.with_(Milestone.MITIGATED, soon)
    )
    result = transition(
        current,
        Status.POSTMORTEM,
        actor=COMMANDER,
        now=NOW,
        rules=LifecycleRules(postmortem_required=True),
    )
    assert result.incident.milestones.resolved_at == soon
