"""The follow-up figures read from PostgreSQL: the App Home's overdue count (one query) and the
reports' counts per incident."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bench.sql_count import counting_queries
from bot.domain.stats import FollowUpCounts
from storage.home import HomeRepository
from storage.report import ReportRepository
from storage.repository import IncidentRepository
from storage.tickets import FollowUpRepository
from tests.domain.test_incident import new_incident
from tests.storage.conftest import T0

pytestmark = pytest.mark.usefixtures("db")

NOW = T0 + timedelta(days=60)


async def _followups(incident_id: int, *due_in_days: int | None, done: int = 0) -> None:
    """Follow-ups of the incident due ``NOW + due_in_days`` (negative: overdue); the first
    ``done`` of them done in Jira."""
    repository = FollowUpRepository()
    for n, days in enumerate(due_in_days):
        followup, _ = await repository.create(
            incident_id,
            f"Follow-up {n}",
            intent_key=f"{incident_id}-{n}",
            created_by="U1",
            due_at=None if days is None else NOW + timedelta(days=days),
            at=T0,
        )
        key = f"PAY-{incident_id}{n}"
        await repository.record_issue(
            followup.id, key=key, issue_id=key, url=f"https://j/{key}", status="To Do", at=T0
        )
        if n < done:
            await repository.record_status(key, status="Done", category="done", at=NOW)


async def test_the_home_counts_every_overdue_follow_up_not_done_in_one_query() -> None:
    incidents = IncidentRepository()
    old = await incidents.create(new_incident())
    recent = await incidents.create(new_incident())
    await _followups(old.id, -20, -1, -3, 5, done=1)  # one done, two overdue, one not yet due
    await _followups(recent.id, -1, None)  # overdue; no due date: never overdue

    with counting_queries() as queries:
        overdue = await HomeRepository().overdue_followups(now=NOW)

    assert overdue == 3
    assert len(queries) == 1


async def test_the_reports_count_total_overdue_and_done_per_incident() -> None:
    incidents = IncidentRepository()
    first = await incidents.create(new_incident())
    second = await incidents.create(new_incident())
    none = await incidents.create(new_incident())
    await _followups(first.id, -2, -1, 4, done=1)
    await _followups(second.id, 3)

    counts = await ReportRepository().followup_counts([first.id, second.id, none.id], now=NOW)

    assert counts == {
        first.id: FollowUpCounts(total=3, overdue=1, done=1),
        second.id: FollowUpCounts(total=1, overdue=0, done=0),
    }
    assert await ReportRepository().followup_counts([], now=NOW) == {}
