"""A change a person makes in Jira between two syncs of the incident's ticket is not undone by the
second (found by the replicas' scripted day: a status change synced before the next pull wrote the
incident's priority back over the one just chosen in Jira, and the pull then saw only the bot's)."""

from __future__ import annotations

from typing import Any

from bot.domain.incident import Actor, Priority, Status, TimelineKind
from sandbox.jira import SandboxJira
from storage.repository import IncidentRepository, TimelineRepository
from storage.tickets import TicketRepository
from tests.workspace import Workspace, declare_and_wait, eventually, outbox_idle, seed_workspace


async def test_a_priority_changed_in_jira_outlives_an_incident_sync_and_is_pulled_once(
    jira_bot: Any, jira: SandboxJira, slack: Any
) -> None:
    ws: Workspace = seed_workspace(slack)
    incident = await declare_and_wait(jira_bot, ws)
    ticket = await eventually(lambda: TicketRepository().get(incident.id), seconds=15)
    await outbox_idle()
    alice = next(a for a in jira.accounts.values() if a.email == "alice@example.com")

    jira.edit_as(alice, ticket.key, {"priority": {"name": "Highest"}})
    # Before the pull, the incident changes in Slack: its ticket is synced (status walked).
    await jira_bot.service.change_status(incident.id, Status.MITIGATING, by=Actor.user(ws.alice))
    await outbox_idle()

    issue = jira.issue(ticket.key)
    assert jira.priorities[str(issue.values["priority"])].name == "Highest"
    assert jira.status_name(issue) == "In Progress"  # the sync did run
    report = await jira_bot.ticket_pull.pull()
    await outbox_idle()
    assert report.applied == 1
    assert (await IncidentRepository().require(incident.id)).priority is Priority.P1
    entries = await TimelineRepository().list(incident.id, limit=100)
    assert len([e for e in entries if e.kind is TimelineKind.PRIORITY_CHANGE]) == 1
