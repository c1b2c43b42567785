"""Timeline entries, role assignments and participants round-trip through PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.incident import (
    JIRA,
    Actor,
    BuiltinRole,
    Incident,
    Participant,
    RoleAssignment,
    TimelineKind,
)
from storage.errors import IncidentNotFound, TimelineEntryNotFound
from storage.repository import (
    IncidentRepository,
    ParticipantRepository,
    RoleRepository,
    TimelineRepository,
)
from tests.domain.test_incident import new_incident
from tests.storage.conftest import T0

pytestmark = pytest.mark.usefixtures("db")

ADA = Actor.user("U_ADA", "Ada")


@pytest.fixture
async def incident(incidents: IncidentRepository) -> Incident:
    return await incidents.create(new_incident())


async def test_a_timeline_entry_round_trips_with_its_source_and_actor(
    incident: Incident, timeline: TimelineRepository
) -> None:
    entry = await timeline.append(
        incident.id,
        TimelineKind.PINNED_MESSAGE,
        actor=ADA,
        happened_at=T0,
        created_at=T0 + timedelta(seconds=3),
        text="Rolled back the deploy",
        data={"reaction": "pushpin", "files": [1, 2]},
        source_permalink="https://example.slack.com/archives/C1/p1700000000000100",
        source_channel="C1",
        source_ts="1700000000.000100",
    )
    assert entry.id > 0
    assert await timeline.get(entry.id) == entry
    assert await timeline.list(incident.id) == [entry]
    assert await timeline.find_by_source("C1", "1700000000.000100") == [entry]


async def test_timeline_entries_list_in_the_order_they_happened(
    incident: Incident, timeline: TimelineRepository
) -> None:
    late = await timeline.append(
        incident.id, TimelineKind.NOTE, actor=ADA, happened_at=T0 + timedelta(minutes=5)
    )
    early = await timeline.append(
        incident.id, TimelineKind.EXTERNAL_EVENT, actor=JIRA, happened_at=T0
    )
    assert [e.id for e in await timeline.list(incident.id)] == [early.id, late.id]
    assert [e.id for e in await timeline.list(incident.id, limit=1, offset=1)] == [late.id]
    assert (await timeline.list(incident.id))[0].actor == JIRA
    assert (await timeline.list(incident.id))[0].created_at == T0


async def test_an_edited_source_updates_the_entry_and_a_deleted_one_strikes_it_out(
    incident: Incident, timeline: TimelineRepository
) -> None:
    entry = await timeline.append(
        incident.id, TimelineKind.PINNED_MESSAGE, actor=ADA, happened_at=T0, text="typo"
    )
    edited = await timeline.edit(entry.id, text="fixed", happened_at=T0 - timedelta(minutes=1))
    assert edited.edited
    assert edited.text == "fixed"
    assert edited.happened_at == T0 - timedelta(minutes=1)
    struck = await timeline.strike_out(entry.id)
    assert struck.struck_out
    assert await timeline.list(incident.id, include_struck_out=False) == []
    assert await timeline.list(incident.id) == [struck]


async def test_editing_a_missing_entry_says_it_does_not_exist(timeline: TimelineRepository) -> None:
    with pytest.raises(TimelineEntryNotFound):
        await timeline.strike_out(12345)
    with pytest.raises(TimelineEntryNotFound):
        await timeline.edit(12345, text="x")


async def test_a_role_has_one_holder_and_assigning_it_again_replaces_them(
    incident: Incident, roles: RoleRepository
) -> None:
    first = await roles.assign(incident.id, BuiltinRole.COMMANDER, "U_ADA", by=ADA, at=T0)
    assert first == RoleAssignment(
        incident_id=incident.id, role="commander", user_id="U_ADA", assigned_at=T0, assigned_by=ADA
    )
    later = T0 + timedelta(minutes=3)
    second = await roles.assign(incident.id, "commander", "U_BOB", by=ADA, at=later)
    await roles.assign(incident.id, "scribe", "U_CAT", by=Actor.system("scheduler"), at=later)

    assert await roles.holder(incident.id, BuiltinRole.COMMANDER) == second
    assert [(r.role, r.user_id) for r in await roles.list(incident.id)] == [
        ("commander", "U_BOB"),
        ("scribe", "U_CAT"),
    ]
    assert await roles.list_for_user("U_CAT") == [
        RoleAssignment(
            incident_id=incident.id,
            role="scribe",
            user_id="U_CAT",
            assigned_at=later,
            assigned_by=Actor.system("scheduler"),
        )
    ]
    assert await roles.unassign(incident.id, "scribe")
    assert not await roles.unassign(incident.id, "scribe")
    assert await roles.holder(incident.id, "scribe") is None


async def test_assigning_a_role_on_a_missing_incident_says_it_does_not_exist(
    roles: RoleRepository,
) -> None:
    with pytest.raises(IncidentNotFound):
        await roles.assign(999, "commander", "U_ADA", by=ADA, at=T0)


async def test_participants_record_when_they_joined_and_left(
    incident: Incident, participants: ParticipantRepository
) -> None:
    joined = await participants.joined(incident.id, "U_ADA", at=T0)
    assert joined == Participant(incident_id=incident.id, user_id="U_ADA", joined_at=T0)
    assert not await participants.has_left(incident.id, "U_ADA")

    left = await participants.left(incident.id, "U_ADA", at=T0 + timedelta(minutes=9))
    assert left.joined_at == T0
    assert left.left_at == T0 + timedelta(minutes=9)
    assert await participants.has_left(incident.id, "U_ADA")
    assert await participants.list(incident.id, present_only=True) == []

    back = await participants.joined(incident.id, "U_ADA", at=T0 + timedelta(minutes=20))
    assert back == Participant(incident_id=incident.id, user_id="U_ADA", joined_at=T0)
    assert not await participants.has_left(incident.id, "U_ADA")


async def test_someone_seen_only_leaving_is_recorded_as_having_left(
    incident: Incident, participants: ParticipantRepository
) -> None:
    gone = await participants.left(incident.id, "U_BOB", at=T0)
    assert gone.has_left
    assert await participants.list(incident.id) == [gone]
    assert not await participants.has_left(incident.id, "U_NOBODY")
    assert await participants.get(incident.id, "U_NOBODY") is None


async def test_joining_a_missing_incident_says_it_does_not_exist(
    participants: ParticipantRepository,
) -> None:
    with pytest.raises(IncidentNotFound):
        await participants.joined(999, "U_ADA", at=T0)
