"""Incidents round-trip through PostgreSQL; writes are conditional on the version read."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from bot.domain.incident import (
    Actor,
    ClosureReason,
    Milestone,
    Milestones,
    Priority,
    ResponseType,
    Status,
)
from storage import db
from storage.errors import ConcurrentUpdate, DedupKeyInUse, IncidentNotFound
from storage.repository import IncidentRepository, ParticipantRepository, RoleRepository
from tests.domain.test_incident import new_incident
from tests.storage.conftest import T0

pytestmark = pytest.mark.usefixtures("db")


async def test_an_incident_round_trips_with_every_field(incidents: IncidentRepository) -> None:
    draft = new_incident(
        private=True,
        custom_fields={"customer": "ACME", "orders": 12, "regions": ["eu", "us"], "vip": True},
        channel_id="C0123",
        channel_name="inc-20250304-1-checkout",
        dedup_key="pd:alert-17",
        milestones=Milestones(started_at=T0 - timedelta(minutes=30), detected_at=T0),
    )
    created = await incidents.create(draft)
    assert created.id > 0
    assert await incidents.get(created.id) == created

    closed = dataclasses.replace(
        created,
        status=Status.CLOSED,
        priority=Priority.P4,
        response_type=ResponseType.NORMAL,
        environments=("STG",),
        closure_reason=ClosureReason.DUPLICATE,
        closure_reference="#7",
        updated_at=T0 + timedelta(hours=1),
        milestones=Milestones(
            started_at=T0 - timedelta(minutes=30),
            detected_at=T0,
            declared_at=T0 + timedelta(minutes=1),
            acknowledged_at=T0 + timedelta(minutes=2),
            mitigated_at=T0 + timedelta(minutes=20),
            resolved_at=T0 + timedelta(minutes=40),
            closed_at=T0 + timedelta(hours=1),
        ),
    )
    saved = await incidents.update(closed, expected_version=created.version)
    assert saved.version == created.version + 1
    fetched = await incidents.get(created.id)
    assert fetched == saved
    assert fetched is not None
    assert fetched.milestones.closed_at is not None
    assert fetched.milestones.closed_at.utcoffset() == timedelta(0)


async def test_incident_ids_are_sequential(incidents: IncidentRepository) -> None:
    first = await incidents.create(new_incident())
    second = await incidents.create(new_incident())
    assert second.id == first.id + 1


async def test_a_stale_version_update_is_refused(incidents: IncidentRepository) -> None:
    incident = await incidents.create(new_incident())
    await incidents.update(
        dataclasses.replace(incident, status=Status.INVESTIGATING), expected_version=1
    )
    with pytest.raises(ConcurrentUpdate):
        await incidents.update(
            dataclasses.replace(incident, status=Status.MITIGATED), expected_version=1
        )
    stored = await incidents.require(incident.id)
    assert stored.status is Status.INVESTIGATING
    assert stored.version == 2


async def test_updating_or_requiring_a_missing_incident_says_it_does_not_exist(
    incidents: IncidentRepository,
) -> None:
    ghost = new_incident().to_incident(999)
    with pytest.raises(IncidentNotFound, match="#999"):
        await incidents.update(ghost, expected_version=1)
    with pytest.raises(IncidentNotFound):
        await incidents.require(999)
    assert await incidents.get(999) is None


async def test_a_dedup_key_is_held_until_the_incident_moves_past_mitigated(
    incidents: IncidentRepository,
) -> None:
    first = await incidents.create(new_incident(dedup_key="pd:17"))
    with pytest.raises(DedupKeyInUse) as refused:
        await incidents.create(new_incident(dedup_key="pd:17"))
    assert refused.value.existing_incident_id == first.id
    assert await incidents.get_by_active_dedup_key("pd:17") == first

    mitigated = await incidents.update(
        dataclasses.replace(first, status=Status.MITIGATED), expected_version=1
    )
    with pytest.raises(DedupKeyInUse):
        await incidents.create(new_incident(dedup_key="pd:17"))

    await incidents.update(dataclasses.replace(mitigated, status=Status.CLOSED), expected_version=2)
    second = await incidents.create(new_incident(dedup_key="pd:17"))
    assert await incidents.get_by_active_dedup_key("pd:17") == second
    closed = await incidents.require(first.id)
    assert closed.dedup_key == "pd:17"

    with pytest.raises(DedupKeyInUse) as reopened:
        await incidents.update(
            dataclasses.replace(closed, status=Status.INVESTIGATING), expected_version=3
        )
    assert reopened.value.existing_incident_id == second.id


async def test_a_dedup_conflict_leaves_the_callers_transaction_usable(
    incidents: IncidentRepository,
) -> None:
    await incidents.create(new_incident(dedup_key="pd:18"))
    async with db.transaction():
        with pytest.raises(DedupKeyInUse):
            await incidents.create(new_incident(dedup_key="pd:18"))
        other = await incidents.create(new_incident(dedup_key="pd:19"))
    assert await incidents.get(other.id) == other


async def test_a_transaction_that_fails_writes_nothing(incidents: IncidentRepository) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await incidents.create(new_incident(title="never committed incident"))
            raise RuntimeError("boom")
    assert await incidents.list_open() == []


async def test_an_incident_is_found_by_its_channel(incidents: IncidentRepository) -> None:
    incident = await incidents.create(new_incident(channel_id="C42"))
    assert await incidents.get_by_channel("C42") == incident
    assert await incidents.get_by_channel("C43") is None


async def test_open_incidents_list_worst_priority_first_then_newest(
    incidents: IncidentRepository,
) -> None:
    p3_old = await incidents.create(new_incident(priority=Priority.P3))
    p1 = await incidents.create(new_incident(priority=Priority.P1))
    p3_new = await incidents.create(
        new_incident(priority=Priority.P3, created_at=T0 + timedelta(minutes=1))
    )
    closed = await incidents.create(new_incident(priority=Priority.P1))
    await incidents.update(dataclasses.replace(closed, status=Status.CLOSED), expected_version=1)

    assert [i.id for i in await incidents.list_open()] == [p1.id, p3_new.id, p3_old.id]
    assert [i.id for i in await incidents.list_open(limit=1, offset=1)] == [p3_new.id]
    assert [i.id for i in await incidents.list_recent_closed()] == [closed.id]
    assert await incidents.count_open_by_priority() == {
        Priority.P1: 1,
        Priority.P2: 0,
        Priority.P3: 2,
        Priority.P4: 0,
        Priority.P5: 0,
    }


async def test_recently_closed_incidents_list_the_last_closed_first(
    incidents: IncidentRepository,
) -> None:
    ids = []
    for minutes in (30, 10, 20):
        incident = await incidents.create(new_incident())
        closed_at = T0 + timedelta(minutes=minutes)
        await incidents.update(
            dataclasses.replace(
                incident,
                status=Status.CLOSED,
                milestones=incident.milestones.with_(Milestone.CLOSED, closed_at),
            ),
            expected_version=1,
        )
        ids.append(incident.id)
    assert [i.id for i in await incidents.list_recent_closed(limit=2)] == [ids[0], ids[2]]


async def test_a_users_incidents_are_those_they_declared_hold_a_role_in_or_take_part_in(
    incidents: IncidentRepository, roles: RoleRepository, participants: ParticipantRepository
) -> None:
    declared = await incidents.create(new_incident(created_by="U_ADA"))
    commanded = await incidents.create(new_incident(created_by="U_BOB"))
    member = await incidents.create(new_incident(created_by="U_BOB"))
    left = await incidents.create(new_incident(created_by="U_BOB"))
    await incidents.create(new_incident(created_by="U_BOB"))
    await roles.assign(commanded.id, "commander", "U_ADA", by=Actor.user("U_BOB"), at=T0)
    await participants.joined(member.id, "U_ADA", at=T0)
    await participants.joined(left.id, "U_ADA", at=T0)
    await participants.left(left.id, "U_ADA", at=T0 + timedelta(minutes=5))

    mine = await incidents.list_for_user("U_ADA")
    assert {i.id for i in mine} == {declared.id, commanded.id, member.id}

    await incidents.update(dataclasses.replace(commanded, status=Status.CLOSED), expected_version=1)
    assert {i.id for i in await incidents.list_for_user("U_ADA")} == {declared.id, member.id}
    assert commanded.id in {i.id for i in await incidents.list_for_user("U_ADA", open_only=False)}
