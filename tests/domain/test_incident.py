"""The incident value types: ordering, defaults and the tz-aware guarantee."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.incident import (
    OPEN_STATUSES,
    Actor,
    ActorKind,
    Incident,
    Milestone,
    Milestones,
    NewIncident,
    Participant,
    Priority,
    ResponseType,
    Status,
)

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def new_incident(**changes: object) -> NewIncident:
    draft = NewIncident(
        title="Checkout fails for every customer",
        summary="Payments return 500 since the last deploy",
        priority=Priority.P2,
        category="payments",
        environments=("PRD", "STG"),
        created_by="U1",
        created_at=NOW,
    )
    return dataclasses.replace(draft, **changes)  # type: ignore[arg-type]


def test_statuses_are_ordered_along_the_lifecycle() -> None:
    orders = [status.order for status in Status]
    assert orders == sorted(orders)
    assert Status.OPEN.order < Status.MITIGATED.order < Status.CLOSED.order
    assert Status.POSTMORTEM.label == "Post-mortem"


def test_only_postmortem_and_closed_are_past_mitigated() -> None:
    assert {s for s in Status if s.is_past_mitigated} == {Status.POSTMORTEM, Status.CLOSED}
    assert Status.CLOSED not in OPEN_STATUSES
    assert len(OPEN_STATUSES) == 5


def test_p1_to_p3_are_critical_and_p4_p5_normal_by_default() -> None:
    assert [p.default_response_type for p in Priority] == [
        ResponseType.CRITICAL,
        ResponseType.CRITICAL,
        ResponseType.CRITICAL,
        ResponseType.NORMAL,
        ResponseType.NORMAL,
    ]
    assert Priority.P1 < Priority.P4
    assert Priority.P3.label == "P3"


@pytest.mark.parametrize("text", ["P2", "p2", " 2 ", 2])
def test_a_priority_is_parsed_from_its_label_or_number(text: str | int) -> None:
    assert Priority.parse(text) is Priority.P2


@pytest.mark.parametrize("text", ["P0", "P6", "high", ""])
def test_an_unknown_priority_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a priority"):
        Priority.parse(text)


def test_a_new_incident_is_declared_at_creation_with_its_priority_response_type() -> None:
    incident = new_incident(priority=Priority.P4).to_incident(42)
    assert incident.id == 42
    assert incident.reference == "#42"
    assert incident.version == 1
    assert incident.milestones.declared_at == NOW
    assert incident.updated_at == NOW
    assert incident.response_type is ResponseType.NORMAL
    assert incident.primary_environment == "PRD"
    assert incident.is_open


def test_an_explicit_declared_at_and_response_type_are_kept() -> None:
    earlier = NOW - timedelta(minutes=5)
    draft = new_incident(
        milestones=Milestones(declared_at=earlier), response_type=ResponseType.NORMAL
    )
    incident = draft.to_incident(1)
    assert incident.milestones.declared_at == earlier
    assert incident.response_type is ResponseType.NORMAL


def test_the_dedup_key_is_released_once_past_mitigated() -> None:
    incident = new_incident(dedup_key="alert-17").to_incident(1)
    assert incident.active_dedup_key == "alert-17"
    mitigated = dataclasses.replace(incident, status=Status.MITIGATED)
    assert mitigated.active_dedup_key == "alert-17"
    closed = dataclasses.replace(incident, status=Status.CLOSED)
    assert closed.active_dedup_key is None
    assert closed.dedup_key == "alert-17"


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2025, 3, 4, 10, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        Milestones(started_at=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        new_incident(created_at=naive).to_incident(1)
    with pytest.raises(ValueError, match="timezone-aware"):
        Participant(incident_id=1, user_id="U1", joined_at=NOW, left_at=naive)


def test_an_incident_needs_an_environment() -> None:
    with pytest.raises(ValueError, match="environment"):
        new_incident(environments=()).to_incident(1)


def test_an_incident_owns_a_copy_of_its_custom_fields() -> None:
    fields: dict[str, object] = {"customer": "ACME"}
    incident = new_incident(custom_fields=fields).to_incident(1)
    fields["customer"] = "changed"
    assert incident.custom_fields == {"customer": "ACME"}
    assert isinstance(incident, Incident)


def test_milestones_are_set_one_at_a_time_and_report_what_is_missing() -> None:
    milestones = Milestones().with_(Milestone.STARTED, NOW)
    assert milestones.get(Milestone.STARTED) == NOW
    assert Milestone.STARTED not in milestones.missing()
    assert milestones.missing((Milestone.STARTED, Milestone.MITIGATED)) == (Milestone.MITIGATED,)
    assert milestones.with_(Milestone.STARTED, None).started_at is None
    assert milestones.as_dict()[Milestone.STARTED] == NOW


def test_actors_are_users_or_system_actors() -> None:
    assert Actor.user("U1", "Ada").is_user
    jira = Actor.system("jira")
    assert jira.kind is ActorKind.SYSTEM
    assert not jira.is_user


def test_a_form_is_stale_only_when_what_forms_decide_on_changed() -> None:
    from tests.domain.factories import incident

    opened = incident()
    state = opened.form_state
    bookkeeping = dataclasses.replace(
        opened,
        version=opened.version + 1,
        channel_id="C99",
        channel_name="inc-42-renamed",
        updated_at=NOW,
        milestones=opened.milestones.with_(Milestone.ACKNOWLEDGED, NOW),
    )
    assert bookkeeping.form_state == state
    assert not bookkeeping.form_is_stale(version=opened.version, state=state)
    # A form built before its state was recorded knows only the version.
    assert bookkeeping.form_is_stale(version=opened.version, state=None)

    for changed in (
        dataclasses.replace(bookkeeping, title="Another title"),
        dataclasses.replace(bookkeeping, status=Status.MITIGATED),
        dataclasses.replace(bookkeeping, priority=Priority.P1),
        dataclasses.replace(bookkeeping, custom_fields={"customer": "ACME"}),
        dataclasses.replace(
            bookkeeping, milestones=bookkeeping.milestones.with_(Milestone.STARTED, NOW)
        ),
    ):
        assert changed.form_is_stale(version=opened.version, state=state), changed
