"""The incident's Jira ticket end to end: the wired bot, the real Jira adapter and the sandbox Jira
(Cloud and Data Center: every test runs against both), the Slack sandbox, PostgreSQL.

Incident → Jira happens in outbox jobs after each change; Jira → incident in the pull, which these
tests run by hand (``ticket_pull.pull()``) instead of waiting for its schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot import ticket
from bot.domain.incident import Actor, Priority, Status, TimelineKind
from bot.service import IncidentChanges
from bot.ticket_check import jira_problems
from sandbox.jira import SandboxJira
from sandbox.jira.state import Account
from sandbox.jira.state import Status as JiraStatus
from sandbox.slack import SlackSandbox
from storage import models
from storage.repository import IncidentRepository, RoleRepository, TimelineRepository
from storage.tickets import FollowUpRepository, TicketRepository
from tests.workspace import Workspace, declare_and_wait, eventually, outbox_idle, seed_workspace


@pytest.fixture
def ws(slack: SlackSandbox) -> Workspace:
    return seed_workspace(slack)


def _human(jira: SandboxJira, email: str = "alice@example.com") -> Account:
    return next(a for a in jira.accounts.values() if a.email == email)


def _priority(jira: SandboxJira, key: str) -> str:
    return jira.priorities[str(jira.issue(key).values["priority"])].name


async def _ticket(incident_id: int) -> Any:
    return await eventually(lambda: TicketRepository().get(incident_id), seconds=15)


async def _entries(incident_id: int, kind: TimelineKind) -> list[Any]:
    entries = await TimelineRepository().list(incident_id, limit=1000)
    return [e for e in entries if e.kind is kind]


async def _pull(bot: Any) -> Any:
    report = await bot.ticket_pull.pull()
    await outbox_idle()
    return report


def _edits_by_bot(jira: SandboxJira, key: str) -> int:
    issue = jira.issue(key)
    return sum(
        1
        for request in jira.requests
        if request.method == "PUT"
        and request.path.rstrip("/").split("/")[-1] in (issue.key, issue.id)
        and request.account_id == jira.bot.account_id
    )


async def test_a_declared_incident_gets_a_ticket_linked_from_its_channel(
    jira_bot: Any, jira: SandboxJira, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)
    current = await _ticket(incident.id)
    await outbox_idle()
    issue = jira.issue(current.key)
    assert current.key.startswith("PAY-")
    assert issue.values["summary"] == incident.title
    assert _priority(jira, current.key) == "High"
    labels = set(issue.values["labels"])
    assert {"incident", "firefighter", "payments", ticket.marker(incident.id)} <= labels
    assert jira.status_name(issue) == "To Do"
    assert issue.values.get("assignee") == _human(jira).account_id  # the commander, by e-mail
    channel = slack.ws.channels[incident.channel_id or ""]
    assert [b.link for b in channel.bookmarks.values()] == [current.url]
    summary = next(channel.messages[ts] for ts in channel.pins)
    assert current.key in str(summary.blocks)
    assert any(
        current.key in e.text for e in await _entries(incident.id, TimelineKind.EXTERNAL_EVENT)
    )
    links = [link.object.get("url") for link in issue.remote_links]
    assert any(str(url).endswith(incident.channel_id or "") for url in links)


async def test_the_ticket_walks_the_workflow_to_the_mapped_status(
    jira_bot: Any, jira: SandboxJira, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)
    current = await _ticket(incident.id)
    await jira_bot.service.change_status(incident.id, Status.MITIGATED, by=Actor.user(ws.alice))
    await outbox_idle()
    assert jira.status_name(jira.issue(current.key)) == "Mitigated"


async def test_a_priority_change_in_slack_reaches_jira_once_and_comes_back_as_nothing(
    jira_bot: Any, jira: SandboxJira, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)
    current = await _ticket(incident.id)
    await outbox_idle()
    before = _edits_by_bot(jira, current.key)
    await jira_bot.service.update(
        incident.id, IncidentChanges(priority=Priority.P1), by=Actor.user(ws.alice)
    )
    await outbox_idle()
    assert _priority(jira, current.key) == "Highest"
    assert _edits_by_bot(jira, current.key) == before + 1
    await _pull(jira_bot)
    await _pull(jira_bot)
    assert len(await _entries(incident.id, TimelineKind.PRIORITY_CHANGE)) == 1
    assert (await IncidentRepository().require(incident.id)).priority is Priority.P1


async def test_a_person_changing_the_priority_in_jira_changes_the_incident_once(
    jira_bot: Any, jira: SandboxJira, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)
    current = await _ticket(incident.id)
    await outbox_idle()
    jira.edit_as(_human(jira), current.key, {"priority": {"name": "Highest"}})
    edits = _edits_by_bot(jira, current.key)
    report = await _pull(jira_bot)
    assert report.applied == 1
    assert (await IncidentRepository().require(incident.id)).priority is Priority.P1
    changes = await _entries(incident.id, TimelineKind.PRIORITY_CHANGE)
    assert len(changes) == 1
    assert changes[0].actor.display_name == "Alice Martin in Jira"
    # The incident's own sync finds Jira already agrees: no write, so nothing to echo back.
    assert _edits_by_bot(jira, current.key) == edits
    await _pull(jira_bot)
    assert len(await _entries(incident.id, TimelineKind.PRIORITY_CHANGE)) == 1


async def test_closing_in_jira_without_a_postmortem_is_explained_in_the_channel_once(
    jira_bot: Any, jira: SandboxJira, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)
    current = await _ticket(incident.id)
    await jira_bot.service.change_status(incident.id, Status.MITIGATED, by=Actor.user(ws.alice))
    await outbox_idle()
    human = _human(jira, "bob@example.com")
    jira.transition_as(human, current.key, "Start post-mortem")
    jira.transition_as(human, current.key, "Close")
    await _pull(jira_bot)
    await _pull(jira_bot)
    after = await IncidentRepository().require(incident.id)
    assert after.status is not Status.CLOSED
    channel = slack.ws.channels[incident.channel_id or ""]
    told = [m for m in channel.messages.values() if "did not follow" in m.text]
    assert len(told) == 1
    assert "Bob Nguyen" in told[0].text


async def test_an_unrelated_field_changed_in_jira_never_touches_the_incident(
    jira_bot: Any, jira: SandboxJira, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)
    current = await _ticket(incident.id)
    await outbox_idle()
    entries = len(await TimelineRepository().list(incident.id, limit=1000))
    jira.comment_as(_human(jira), current.key, "Story points are 8")
    jira.edit_as(_human(jira), current.key, {"labels": ["incident", "firefighter", "extra"]})
    report = await _pull(jira_bot)
    assert report.applied == 0
    assert len(await TimelineRepository().list(incident.id, limit=1000)) == entries


async def test_a_person_assigning_the_ticket_in_jira_makes_them_commander(
    jira_bot: Any, jira: SandboxJira, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)
    current = await _ticket(incident.id)
    await outbox_idle()
    bob = _human(jira, "bob@example.com")
    assignee = {"accountId": bob.account_id} if jira.mode == "cloud" else {"name": bob.name}
    jira.edit_as(_human(jira), current.key, {"assignee": assignee})
    await _pull(jira_bot)
    holders = {a.role: a.user_id for a in await RoleRepository().list(incident.id)}
    assert holders["commander"] == ws.bob


async def test_a_ticket_deleted_in_jira_is_reported_once_and_the_incident_goes_on(
    jira_bot: Any, jira: SandboxJira, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)
    current = await _ticket(incident.id)
    await outbox_idle()
    jira.delete_as(_human(jira), current.key)
    await jira_bot.service.update(
        incident.id, IncidentChanges(title="Card payments refused"), by=Actor.user(ws.alice)
    )
    await outbox_idle()
    await jira_bot.service.update(
        incident.id, IncidentChanges(title="Card payments refused (EU)"), by=Actor.user(ws.alice)
    )
    await outbox_idle()
    assert (await TicketRepository().get(incident.id)).deleted_at is not None  # type: ignore[union-attr]
    channel = slack.ws.channels[incident.channel_id or ""]
    assert len([m for m in channel.messages.values() if "was deleted in Jira" in m.text]) == 1
    assert (await IncidentRepository().require(incident.id)).title == "Card payments refused (EU)"


async def test_while_jira_is_down_slack_goes_on_and_the_ticket_follows_after(
    jira_bot: Any, jira: SandboxJira, slack: SlackSandbox, ws: Workspace
) -> None:
    jira.start_outage()
    incident = await declare_and_wait(jira_bot, ws)
    assert incident.channel_id is not None  # Slack was not held up
    assert await TicketRepository().get(incident.id) is None
    jira.end_outage()
    # Skip the backoff's wait (minutes after a long outage) rather than sleep through it.
    await models.OutboxItem.filter(kind=ticket.SYNC, status="pending").update(
        next_attempt_at=datetime.now(UTC)
    )
    jira_bot.worker.wake()
    current = await _ticket(incident.id)
    assert jira.issue(current.key).values["summary"] == incident.title
    assert await models.OutboxItem.filter(status="failed").count() == 0


async def test_a_429_storm_is_ridden_out_by_the_outbox(
    jira_bot: Any, jira: SandboxJira, ws: Workspace
) -> None:
    jira.inject_rate_limit(times=3, retry_after=1)
    incident = await declare_and_wait(jira_bot, ws)
    current = await eventually(lambda: TicketRepository().get(incident.id), seconds=15)
    assert (
        len([i for i in jira.issues.values() if ticket.marker(incident.id) in i.values["labels"]])
        == 1
    )
    assert current.key


async def test_a_workflow_without_a_path_to_the_status_is_reported_on_the_timeline(
    jira_bot: Any, jira: SandboxJira, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)
    current = await _ticket(incident.id)
    await outbox_idle()
    # An administrator parked the issue in a status of another workflow: nothing leads out of it.
    blocked = JiraStatus("30000", "Blocked", 4, "indeterminate", "In Progress", "yellow")
    jira.statuses[blocked.id] = blocked
    jira.issue(current.key).values["status"] = blocked.id
    await jira_bot.service.change_status(incident.id, Status.MITIGATED, by=Actor.user(ws.alice))
    await outbox_idle(limit_seconds=20)
    failures = await _entries(incident.id, TimelineKind.SIDE_EFFECT_FAILED)
    assert failures and "Jira ticket" in failures[-1].text


async def test_a_followup_is_a_jira_issue_linked_to_the_ticket_and_its_completion_is_pulled(
    jira_bot: Any, jira: SandboxJira, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)
    parent = await _ticket(incident.id)
    followup = await jira_bot.service.add_followup(
        incident.id, "Alert on card refusal rate", by=Actor.user(ws.alice), intent_key="f1"
    )
    again = await jira_bot.service.add_followup(
        incident.id, "Alert on card refusal rate", by=Actor.user(ws.alice), intent_key="f1"
    )
    assert again.id == followup.id
    await outbox_idle()
    stored = (await FollowUpRepository().list(incident.id))[0]
    assert stored.key is not None
    assert any(
        parent.key in link and stored.key in link for link in map(str, jira.links_of(stored.key))
    )
    human = _human(jira)
    for step in ("Investigate", "Mitigate", "Start post-mortem", "Close"):
        jira.transition_as(human, stored.key, step)
    await _pull(jira_bot)
    done = (await FollowUpRepository().list(incident.id))[0]
    assert done.done_at is not None
    entries = await _entries(incident.id, TimelineKind.FOLLOWUP)
    assert any("done" in e.text for e in entries)


async def test_check_names_a_missing_project_and_an_unknown_status(
    jira_bot: Any, jira: SandboxJira, catalog: Any
) -> None:
    broken = catalog.model_copy(
        update={
            "jira": catalog.jira.model_copy(
                update={
                    "default_project": "NOPE",
                    "status_mapping": {**catalog.jira.status_mapping, "mitigated": "Contained"},
                }
            )
        }
    )
    problems = dict(await jira_problems(broken, jira_bot.tracker))
    assert "NOPE" in problems[("jira", "default_project")]
    assert "Contained" in problems[("jira", "status_mapping", "mitigated")]


async def test_a_mapped_field_jira_refuses_costs_the_field_not_the_ticket(
    db: object, slack: SlackSandbox, jira: SandboxJira, jira_catalog: Any, ws: Workspace
) -> None:
    from contextlib import AsyncExitStack

    from bot.config import Settings
    from bot.main import start_bot

    # The mapping names a field the site does not have (a typo, another site's id).
    broken = jira_catalog.model_copy(
        update={
            "jira": jira_catalog.jira.model_copy(
                update={"field_mapping": {"customfield_99999": "environment"}}
            )
        }
    )
    cloud = jira.mode == "cloud"
    settings = Settings(
        slack_bot_token=slack.bot_token,
        slack_app_token=slack.app_token,
        slack_api_url=slack.base_url,
        http_host="127.0.0.1",
        http_port=0,
        jira_url=jira.base_url,
        jira_user=jira.bot.email if cloud else None,
        jira_api_token=jira.bot.api_token,
        jira_cloud=cloud,
        jira_pull_seconds=3600,
    )
    async with AsyncExitStack() as stack:
        bot = await start_bot(settings, broken, stack)
        await slack.wait_for_connection()
        incident = await declare_and_wait(bot, ws)
        current = await _ticket(incident.id)
        await outbox_idle()
    assert jira.issue(current.key).values["summary"] == incident.title
    channel = slack.ws.channels[incident.channel_id or ""]
    told = [m.text for m in channel.messages.values() if "customfield_99999" in m.text]
    assert len(told) == 1 and "firefighter check" in told[0]
    failures = await _entries(incident.id, TimelineKind.SIDE_EFFECT_FAILED)
    assert len(failures) == 1


async def test_a_ticket_opened_before_the_channel_exists_links_to_it_once_it_does(
    jira_bot: Any, jira: SandboxJira, slack: SlackSandbox, ws: Workspace
) -> None:
    from sandbox.jira.values import adf_text

    # Slack is slow to create the channel: the ticket (its own lane) is opened first.
    slack.inject_latency(1.0, ["conversations.create"])
    incident = await declare_and_wait(jira_bot, ws)
    current = await _ticket(incident.id)
    await outbox_idle()
    assert incident.channel_id is not None
    issue = jira.issue(current.key)
    description = issue.values["description"]
    text = adf_text(description) if jira.mode == "cloud" else str(description)
    # ADF keeps the link's text (the channel's name); wiki markup escapes it, the URL has its id.
    wanted = incident.channel_name if jira.mode == "cloud" else incident.channel_id
    assert str(wanted) in text
    assert any(
        str(link.object.get("url")).endswith(incident.channel_id) for link in issue.remote_links
    )
