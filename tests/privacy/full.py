"""A wired bot with every integration on (Slack, Jira Cloud, PagerDuty, Confluence) against the
sandboxes, for the tests that must cross every surface at once."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from bot.main import start_bot
from sandbox.confluence import SandboxConfluence
from sandbox.jira import SandboxJira
from sandbox.jira.seed import seed_site
from sandbox.pagerduty import SandboxPagerDuty
from sandbox.slack import SlackSandbox
from tests.conftest import pagerduty_settings


def full_settings(
    slack: SlackSandbox,
    jira: SandboxJira,
    pagerduty: SandboxPagerDuty,
    confluence: SandboxConfluence,
    **extra: object,
) -> Any:
    return pagerduty_settings(
        slack,
        pagerduty,
        jira_url=jira.base_url,
        jira_user=jira.bot.email,
        jira_api_token=jira.bot.api_token,
        jira_cloud=True,
        jira_pull_seconds=3600,
        confluence_url=confluence.base_url,
        confluence_user=confluence.bot.email,
        confluence_api_token=confluence.bot.api_token,
        confluence_pull_seconds=3600,
        **extra,
    )


def full_catalog(jira: SandboxJira, confluence: SandboxConfluence, catalog: Any) -> Any:
    """The example catalog with the sandbox Jira shaped like it and a post-mortems parent page."""
    seeded = seed_site(jira, catalog, people=[("Alice Martin", "alice@example.com")])
    parent = confluence.create_page_as(confluence.bot, "PM", "Incident post-mortems")
    section = seeded.confluence.model_copy(update={"parent_page_id": parent.id})
    return seeded.model_copy(update={"confluence": section})


async def start_full_bot(
    stack: AsyncExitStack, slack: SlackSandbox, settings: Any, catalog: Any
) -> Any:
    bot = await start_bot(settings, catalog, stack)
    await slack.wait_for_connection()
    return bot
