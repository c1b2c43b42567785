"""Tokens and secrets never appear in logs (PRODUCT.md §6): the wired bot with Jira, PagerDuty and
Confluence on, logging at DEBUG through the product's JSON logging (``bot.log``) exactly as
``python -m bot run`` sets it up, goes through a short incident with failures (a Slack error, a
Jira 401, a PagerDuty 429), and every captured line is scanned for Slack token prefixes and each
configured secret; so are the outbox's ``last_error`` column and the timeline's texts, which the
failures write into."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest

from bot.domain.declaration import IncidentChanges
from bot.domain.incident import Actor, Priority, Status
from bot.log import configure_logging
from sandbox.confluence import SandboxConfluence
from sandbox.jira import SandboxJira
from sandbox.pagerduty import SandboxPagerDuty
from sandbox.slack import SlackSandbox
from storage import models
from tests.logs import restored_logging
from tests.privacy.full import full_catalog, full_settings, start_full_bot
from tests.workspace import Workspace, declare_and_wait, eventually, outage, outbox_idle


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Logging configured as the bot's entry point does, into a buffer (restored afterwards)."""
    with restored_logging() as buffer:
        yield buffer


async def test_no_log_line_outbox_error_or_timeline_text_contains_a_token_or_secret(
    db: object,
    slack: SlackSandbox,
    ws: Workspace,
    jira_cloud: SandboxJira,
    pagerduty: SandboxPagerDuty,
    confluence: SandboxConfluence,
    catalog: Any,
    captured: io.StringIO,
) -> None:
    jira = jira_cloud
    settings = full_settings(slack, jira, pagerduty, confluence, log_level="DEBUG")
    secrets = {
        "Slack bot token": slack.bot_token,
        "Slack app token": slack.app_token,
        "Jira API token": jira.bot.api_token,
        "PagerDuty token": pagerduty.api_token,
        "Confluence token": confluence.bot.api_token,
    }
    assert set(secrets.values()) <= set(settings.secrets())
    configure_logging(settings.log_level, "json", settings.secrets(), stream=captured)

    # The failures: Jira refuses the bot's credentials once, PagerDuty rate-limits the first
    # page, Slack fails a bookmark for good.
    jira.inject_status(r"/issue$", 401, method="POST")
    pagerduty.inject_status(r"^/incidents$", 429, retry_after=0, method="POST")
    slack.inject_error("bookmarks.add", "channel_not_found")
    async with AsyncExitStack() as stack:
        bot = await start_full_bot(stack, slack, settings, full_catalog(jira, confluence, catalog))
        incident = await declare_and_wait(
            bot, ws, outage(priority_override=Priority.P1, override_reason="all card payments")
        )
        await bot.service.update(
            incident.id, IncidentChanges(summary="Wallets fail too."), by=Actor.user(ws.alice)
        )
        await bot.service.change_status(incident.id, Status.MITIGATED, by=Actor.user(ws.alice))
        await outbox_idle()
        await bot.ticket_pull.pull()
        await bot.page_pull.pull()
        await outbox_idle()
        # The failures happened (else the scan proves little).
        await eventually(lambda: models.OutboxItem.filter(last_error__not_isnull=True).exists())
        assert any(r.status == 401 for r in jira.requests)
        assert any(r.status == 429 for r in pagerduty.requests)
    logged = captured.getvalue().splitlines()
    assert len(logged) > 50 and any('"level": "debug"' in line for line in logged)

    errors = [
        str(e) for e in await models.OutboxItem.all().values_list("last_error", flat=True) if e
    ]
    timeline = [
        str(t) for t in await models.TimelineEntry.all().values_list("text", flat=True) if t
    ]
    for where, texts in (("log", logged), ("outbox last_error", errors), ("timeline", timeline)):
        for text in texts:
            assert "xox" not in text and "xapp" not in text, (where, text)
            for name, secret in secrets.items():
                assert secret not in text, (where, name, text)
