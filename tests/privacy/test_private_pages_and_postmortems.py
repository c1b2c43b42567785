"""A private incident in PagerDuty and Confluence, whose readers are not its members: the page says
only "Private incident #N" (the paged responders are invited to the private channel, where the
details are), and no post-mortem is ever written in the shared space, even on demand."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest

from bot import page
from bot.domain.errors import UserFacingError
from bot.domain.incident import Actor, Priority, Status
from sandbox.confluence import SandboxConfluence
from sandbox.pagerduty import SandboxPagerDuty
from tests.domain.factories import incident
from tests.workspace import Workspace, declare_and_wait, eventually, outage, outbox_idle

TITLE = "Payroll export leaked to a partner bucket"
SUMMARY = "Salaries of 40 employees readable by the logistics partner since Monday."


def _private_p1() -> Any:
    return outage(
        title=TITLE,
        summary=SUMMARY,
        private=True,
        priority_override=Priority.P1,
        override_reason="payroll data",
    )


def test_a_private_incident_s_page_names_neither_its_title_nor_its_summary() -> None:
    from bot.config import load_catalog

    catalog = load_catalog(None)
    secret = incident(title=TITLE, summary=SUMMARY, private=True, priority=Priority.P1)
    public = incident(title=TITLE, summary=SUMMARY, priority=Priority.P1)

    assert page.title(secret) == "[P1] #42 Private incident"
    assert SUMMARY not in page.details(catalog, secret) and "#42" in page.details(catalog, secret)
    assert TITLE in page.title(public) and SUMMARY in page.details(catalog, public)


async def test_a_private_p1_is_paged_without_its_title_summary_or_channel_name(
    pagerduty_bot: Any, pagerduty: SandboxPagerDuty, ws: Workspace
) -> None:
    secret = await declare_and_wait(pagerduty_bot, ws, _private_p1())
    assert secret.private and secret.priority is Priority.P1 and secret.channel_name

    async def opened() -> list[Any]:
        prefix = page.page_key(secret.id, "PPAY001")
        return [
            i for i in pagerduty.incidents.values() if (i.incident_key or "").startswith(prefix)
        ]

    [paged] = await eventually(opened, seconds=10)
    await outbox_idle()
    said = json.dumps(asdict(paged), default=str)
    said += json.dumps([r.body for r in pagerduty.requests], default=str)
    assert paged.title == f"[P1] {secret.reference} Private incident"
    for leak in (TITLE, SUMMARY, secret.channel_name, "Payroll", "payroll"):
        assert leak not in said, leak


async def test_a_private_incident_s_post_mortem_asked_for_by_hand_is_refused_in_words(
    confluence_bot: Any, confluence: SandboxConfluence, ws: Workspace
) -> None:
    secret = await declare_and_wait(confluence_bot, ws, _private_p1())
    await confluence_bot.service.change_status(secret.id, Status.MITIGATED, by=Actor.user(ws.alice))
    await outbox_idle()

    with pytest.raises(UserFacingError, match="private"):
        await confluence_bot.service.request_postmortem(
            secret.id, by=Actor.user(ws.alice), intent_key="pm-by-hand"
        )
    await outbox_idle()

    written = json.dumps([asdict(p) for p in confluence.pages.values()], default=str)
    assert TITLE not in written and SUMMARY not in written and secret.reference not in written
