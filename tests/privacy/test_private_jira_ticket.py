"""A private incident's Jira ticket (PRODUCT.md §5: "Jira summary when the project is not
restricted"): in a project others can read, it is neutral ("Private incident #N", no summary, no
channel name); only a project the catalog marks ``restricted`` carries the real title and summary.
Pure values first, then end to end against the sandbox Jira (Cloud and Data Center)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from bot import ticket
from bot.config import Catalog, load_catalog
from bot.domain.declaration import IncidentChanges
from bot.domain.incident import Actor, Priority, Status
from sandbox.jira import SandboxJira
from sandbox.slack import SlackSandbox
from storage.tickets import TicketRepository
from tests.domain.factories import incident
from tests.workspace import Workspace, declare_and_wait, eventually, outage, outbox_idle

TITLE = "Payroll export leaked to a partner bucket"
SUMMARY = "Salaries of 40 employees readable by the logistics partner since Monday."
CONTEXT = ticket.TicketContext(channel_url="https://slack.example/archives/C42")


def _catalog() -> Catalog:
    return load_catalog(None)


def _said(fields: dict[str, Any], catalog: Catalog, secret: Any) -> str:
    """Everything the ticket's fields say, as plain text."""
    return (
        json.dumps(
            {k: v.plain() if isinstance(v, ticket.Document) else v for k, v in fields.items()},
            default=str,
        )
        + ticket.description(catalog, secret, CONTEXT).plain()
    )


def test_a_private_incident_s_ticket_in_an_open_project_says_only_that_it_is_private() -> None:
    catalog = _catalog()
    secret = incident(
        title=TITLE, summary=SUMMARY, private=True, channel_name="inc-20261127-42-payroll-export"
    )
    assert not catalog.jira.projects.get("PAY")  # payments' project has no restriction

    fields = ticket.creation_fields(catalog, secret, CONTEXT)
    said = _said(fields, catalog, secret)

    assert fields["summary"] == "Private incident #42"
    assert TITLE not in said and SUMMARY not in said and "payroll" not in said
    assert ticket.channel_label(catalog, secret) == "Slack channel"
    assert "C42" in said  # members still reach the channel from the ticket
    follow = ticket.followup_description(catalog, secret, None, "Rotate the bucket keys").plain()
    assert TITLE not in follow and "Private incident #42" in follow


def test_a_private_incident_s_ticket_in_a_restricted_project_keeps_its_title_and_summary() -> None:
    catalog = _catalog()
    secret = incident(
        title=TITLE, summary=SUMMARY, private=True, category="security", channel_name="inc-42-x"
    )
    assert catalog.jira.projects["SEC"].restricted

    fields = ticket.creation_fields(catalog, secret, CONTEXT)

    assert ticket.route(catalog, secret) == ("SEC", "Security incident")
    assert fields["summary"] == TITLE
    assert SUMMARY in ticket.description(catalog, secret, CONTEXT).plain()
    assert ticket.channel_label(catalog, secret) == "Slack channel #inc-42-x"


def test_a_public_incident_s_ticket_is_unchanged_by_the_privacy_rule() -> None:
    catalog = _catalog()
    public = incident(title=TITLE, summary=SUMMARY, channel_name="inc-42-x")

    assert ticket.creation_fields(catalog, public, CONTEXT)["summary"] == TITLE
    assert SUMMARY in ticket.description(catalog, public, CONTEXT).plain()


def test_the_catalog_refuses_a_restricted_flag_that_is_not_a_boolean() -> None:
    import pytest
    from pydantic import ValidationError

    from bot.config import JiraProject

    assert JiraProject.model_validate({"restricted": True}).restricted
    with pytest.raises(ValidationError):
        JiraProject.model_validate({"restricted": "sometimes"})


async def test_a_private_p1_never_shows_its_title_summary_or_channel_name_in_an_open_project(
    jira_bot: Any, jira: SandboxJira, slack: SlackSandbox, ws: Workspace
) -> None:
    secret = await declare_and_wait(
        jira_bot,
        ws,
        outage(
            title=TITLE,
            summary=SUMMARY,
            private=True,
            priority_override=Priority.P1,
            override_reason="payroll data",
        ),
    )
    assert secret.private and secret.channel_name
    current = await eventually(lambda: TicketRepository().get(secret.id), seconds=15)
    # Later changes go through the same sync (title, status, priority): still neutral.
    await jira_bot.service.update(
        secret.id, IncidentChanges(title=TITLE + " (confirmed)"), by=Actor.user(ws.alice)
    )
    await jira_bot.service.change_status(secret.id, Status.MITIGATING, by=Actor.user(ws.alice))
    await outbox_idle()

    issue = jira.issue(current.key)
    said = json.dumps(asdict(issue), default=str)
    assert current.key.startswith("PAY-")
    assert issue.values["summary"] == f"Private incident {secret.reference}"
    assert jira.status_name(issue) == "In Progress"  # the sync itself still ran
    assert secret.priority is Priority.P1
    for leak in (TITLE, SUMMARY, secret.channel_name, "Payroll", "payroll"):
        assert leak not in said, leak
