"""Follow-ups in the App Home, /incident stats and /incident export with Jira configured: the
overdue count is real. Follow-up rows are recorded through FollowUpRepository (due dates in the
past need no Jira round trip)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest

from bench.sql_count import counting_queries
from sandbox.slack import SlackSandbox
from storage.tickets import FollowUpRepository
from tests.app.test_followups import shown_to
from tests.workspace import Workspace, declare_and_wait

on_jira_cloud = pytest.mark.parametrize("jira", ["cloud"], indirect=True)


async def _followups(bot: Any, incident_id: int, *due_in_days: int, done: int = 0) -> None:
    now = bot.service.clock.now()
    repository = FollowUpRepository()
    for n, days in enumerate(due_in_days):
        followup, _ = await repository.create(
            incident_id,
            f"Follow-up {n}",
            intent_key=f"seeded-{incident_id}-{n}",
            created_by="U1",
            due_at=now + timedelta(days=days),
            at=now - timedelta(days=40),
        )
        key = f"SEED-{incident_id}{n}"
        await repository.record_issue(
            followup.id,
            key=key,
            issue_id=key,
            url=f"https://jira.example/{key}",
            status="To Do",
            at=now,
        )
        if n < done:
            await repository.record_status(key, status="Done", category="done", at=now)


@on_jira_cloud
async def test_the_home_counts_the_overdue_follow_ups_in_one_more_query(
    jira_bot: Any, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)
    await _followups(jira_bot, incident.id, -30, -2, -1, 5, done=1)

    await slack.open_app_home(ws.alice)

    def panel() -> str:
        view = slack.home_view(ws.alice)
        return slack.render_blocks(view.payload["blocks"]) if view else ""

    # The Home may already show the panel from before the follow-ups (published after the
    # declaration): wait for the figure itself.
    await slack.wait_for(lambda: "*Overdue follow-ups*\n2" in panel())
    assert "Jira is not configured" not in panel()
    with counting_queries() as sent:
        await jira_bot.service.home_page(ws.alice)
    assert len(sent) <= 6, sent


@on_jira_cloud
async def test_stats_and_the_export_count_the_follow_ups_of_the_period(
    jira_bot: Any, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)
    await _followups(jira_bot, incident.id, -3, 4, done=0)

    await slack.run_slash_command(ws.alice, "/incident", "stats 7d")
    stats = await shown_to(slack, ws.alice, "Incident stats: 7d")
    assert "*Follow-ups:* 2 for these incidents, *1 overdue*, 0 done." in stats

    await slack.run_slash_command(ws.alice, "/incident", "export 7d")
    await shown_to(slack, ws.alice, "CSV file")
    [file] = [f for f in slack.files.values() if f.name.endswith(".csv") and f.content]
    rows = list(csv.DictReader(io.StringIO(file.content.decode())))
    assert [(r["followups"], r["followups_overdue"]) for r in rows] == [("2", "1")]
