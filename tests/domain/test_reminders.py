"""When reminders are due (pure rules): cadence per priority, office hours across a weekend and a
DST change, stale mitigated, post-mortem due in business days, role gap."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.incident import Milestones, Priority, Status
from bot.domain.reminders import (
    OfficeHours,
    ReminderKind,
    ReminderPolicy,
    due_times,
    next_update_due,
    postmortem_due,
    role_gap_due,
    stale_mitigated_due,
    update_due,
)
from tests.domain.factories import DECLARED, incident

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
HOURS = OfficeHours.of(time(9), time(18), WEEKDAYS, PARIS)


def policy(**changes: object) -> ReminderPolicy:
    values: dict[str, object] = {"office_hours": HOURS, "update_minutes": 60}
    values.update(changes)
    return ReminderPolicy(**values)  # type: ignore[arg-type]


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def test_a_p1_update_reminder_is_due_one_cadence_after_the_last_update():
    last = datetime(2025, 3, 8, 23, 0, tzinfo=UTC)  # a Saturday night: no office hours needed
    due = update_due(incident(priority=Priority.P1), policy(update_minutes=30), last)
    assert due == last + timedelta(minutes=30)
    assert due is not None and due.tzinfo is UTC


def test_an_office_hours_update_reminder_due_on_friday_evening_moves_to_monday_morning():
    friday_evening = paris(2025, 3, 7, 17, 30)
    due = update_due(
        incident(priority=Priority.P3),
        policy(update_minutes=240, office_hours_only=True),
        friday_evening,
    )
    assert due == paris(2025, 3, 10, 9, 0).astimezone(UTC)


def test_an_office_hours_update_reminder_due_within_office_hours_is_not_moved():
    due = update_due(
        incident(priority=Priority.P3), policy(office_hours_only=True), paris(2025, 3, 5, 10, 0)
    )
    assert due == paris(2025, 3, 5, 11, 0).astimezone(UTC)


def test_an_early_morning_due_time_moves_to_the_same_days_office_hours_start():
    due = update_due(
        incident(priority=Priority.P3), policy(office_hours_only=True), paris(2025, 3, 5, 6, 0)
    )
    assert due == paris(2025, 3, 5, 9, 0).astimezone(UTC)


def test_office_hours_start_follows_the_local_clock_across_the_spring_dst_change():
    # Europe/Paris moves to summer time on Sunday 30 March 2025: 09:00 on Monday is 07:00 UTC,
    # while 09:00 the Friday before was 08:00 UTC.
    due = update_due(
        incident(priority=Priority.P3), policy(office_hours_only=True), paris(2025, 3, 28, 17, 30)
    )
    assert due == datetime(2025, 3, 31, 7, 0, tzinfo=UTC)
    assert HOURS.next_open(paris(2025, 3, 27, 20, 0)) == datetime(2025, 3, 28, 8, 0, tzinfo=UTC)


def test_p4_and_p5_mitigated_incidents_and_a_null_cadence_get_no_update_reminder():
    last = DECLARED
    assert update_due(incident(priority=Priority.P4), policy(), last) is None
    assert update_due(incident(priority=Priority.P5), policy(), last) is None
    assert update_due(incident(Status.MITIGATED, Priority.P1), policy(), last) is None
    assert update_due(incident(priority=Priority.P2), policy(update_minutes=None), last) is None


def test_an_update_reminder_repeats_every_cadence_and_never_in_a_burst_after_downtime():
    sent = datetime(2025, 3, 5, 10, 0, tzinfo=UTC)
    assert next_update_due(sent, sent, policy()) == sent + timedelta(hours=1)
    much_later = sent + timedelta(hours=5)
    assert next_update_due(sent, much_later, policy()) == much_later + timedelta(hours=1)
    assert next_update_due(
        paris(2025, 3, 7, 17, 0), paris(2025, 3, 7, 17, 0), policy(office_hours_only=True)
    ) == paris(2025, 3, 10, 9, 0).astimezone(UTC)


def test_a_mitigated_incident_is_stale_after_n_days_and_no_more_once_past_mitigated():
    mitigated = incident(Status.MITIGATED)
    at = mitigated.milestones.mitigated_at
    assert at is not None
    assert stale_mitigated_due(mitigated, policy(stale_mitigated_days=3)) == at + timedelta(days=3)
    assert stale_mitigated_due(incident(Status.POSTMORTEM), policy()) is None
    assert stale_mitigated_due(incident(Status.MITIGATING), policy()) is None


def with_mitigated_at(status: Status, moment: datetime) -> object:
    base = incident(status)
    return dataclasses.replace(
        base, milestones=dataclasses.replace(base.milestones, mitigated_at=moment)
    )


def test_the_post_mortem_is_due_n_business_days_after_mitigation_skipping_the_weekend():
    thursday = paris(2025, 3, 6, 15, 0)
    inc = with_mitigated_at(Status.MITIGATED, thursday)
    due = postmortem_due(inc, policy(needs_postmortem=True, postmortem_due_business_days=2))  # type: ignore[arg-type]
    assert due == paris(2025, 3, 10, 15, 0).astimezone(UTC)


def test_the_post_mortem_due_date_keeps_its_local_time_across_a_dst_change():
    friday = paris(2025, 3, 28, 15, 0)  # 14:00 UTC; the Monday after, 15:00 is 13:00 UTC
    inc = with_mitigated_at(Status.POSTMORTEM, friday)
    due = postmortem_due(inc, policy(needs_postmortem=True, postmortem_due_business_days=1))  # type: ignore[arg-type]
    assert due == datetime(2025, 3, 31, 13, 0, tzinfo=UTC)


def test_no_post_mortem_reminder_when_none_is_required_ready_or_not_yet_mitigated():
    needed = policy(needs_postmortem=True)
    assert postmortem_due(incident(Status.MITIGATED), policy()) is None
    assert postmortem_due(incident(Status.MITIGATED), needed, postmortem_ready=True) is None
    assert postmortem_due(incident(Status.MITIGATING), needed) is None
    assert postmortem_due(incident(Status.CLOSED), needed) is None


def test_a_role_gap_is_due_after_m_minutes_while_a_suggested_role_is_unfilled():
    gap = policy(role_gap_minutes=15, suggested_roles=("communications_lead",))
    inc = incident(priority=Priority.P1)
    assert role_gap_due(inc, gap, {"commander"}) == DECLARED + timedelta(minutes=15)
    assert role_gap_due(inc, gap, {"commander", "communications_lead"}) is None
    assert role_gap_due(inc, policy(), set()) is None  # no role suggested for this priority
    assert role_gap_due(incident(Status.MITIGATED, Priority.P1), gap, set()) is None


def test_a_closed_incident_has_no_reminder_of_any_kind():
    closed = incident(Status.CLOSED, Priority.P1)
    due = due_times(
        closed,
        policy(needs_postmortem=True, suggested_roles=("communications_lead",)),
        last_update=DECLARED,
    )
    assert due == dict.fromkeys(ReminderKind)


def test_due_times_name_every_kind():
    inc = dataclasses.replace(incident(priority=Priority.P2), milestones=Milestones())
    due = due_times(inc, policy(), last_update=DECLARED)
    assert set(due) == set(ReminderKind)
    assert due[ReminderKind.UPDATE] == DECLARED + timedelta(hours=1)
    assert due[ReminderKind.ROLE_GAP] is None
