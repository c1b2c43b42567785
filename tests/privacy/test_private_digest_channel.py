"""The private digest channel (``slack.private_digest_channel``) is where private incidents are
announced, with their details: the configuration says it is private. The bot checks it with Slack
(``conversations.info``) before each post there; a channel that is not private gets the outsiders'
version only (reference, priority, status), no thread replies under it, and the operator a warning
naming the setting to fix."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bot.domain.declaration import IncidentChanges
from bot.domain.incident import Actor, Incident, Status
from sandbox.slack import SlackSandbox
from sandbox.slack.state import Message
from tests.workspace import Workspace, declare_and_wait, outage, outbox_idle

TITLE = "Payroll export leaked to a partner bucket"
SUMMARY = "Salaries of 40 employees readable by the logistics partner since Monday."
LATER = "Bucket policy reverted, access logs under review."
SETTING = "slack.private_digest_channel"


def _seen(slack: SlackSandbox, message: Message) -> str:
    return slack.render_message(message) + json.dumps(message.__dict__, default=str)


def _details(incident: Incident) -> tuple[str, ...]:
    assert incident.channel_name and incident.channel_id
    return (TITLE, SUMMARY, LATER, incident.channel_name, incident.channel_id)


async def _private_incident_lives(bot: Any, ws: Workspace) -> Incident:
    """Declared, its summary changed (a reply in the announcement's thread), mitigated."""
    alice = Actor.user(ws.alice)
    secret = await declare_and_wait(
        bot, ws, outage(title=TITLE, summary=SUMMARY, private=True), key="secret"
    )
    await bot.service.update(secret.id, IncidentChanges(summary=LATER), by=alice)
    await bot.service.change_status(secret.id, Status.MITIGATED, by=alice)
    await outbox_idle()
    return secret


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "setting", None) == SETTING]


async def test_a_private_digest_channel_that_is_not_private_gets_no_details(
    bot: Any, slack: SlackSandbox, ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    slack.channels[ws.private_digest].is_private = False  # misconfigured: a public channel

    with caplog.at_level(logging.WARNING, logger="firefighter.effects"):
        secret = await _private_incident_lives(bot, ws)

    posted = slack.messages(ws.private_digest, include_system=False, include_replies=True)
    assert len(posted) == 1  # the announcement only: nothing in its thread
    text = _seen(slack, posted[0])
    assert secret.reference in text and "private P2 incident is mitigated" in text
    leaks = [leak for leak in _details(secret) if leak in text]
    assert not leaks, leaks
    warnings = _warnings(caplog)
    assert warnings and SETTING in warnings[0].getMessage()
    assert {getattr(r, "channel_id", None) for r in warnings} == {ws.private_digest}


async def test_a_private_digest_channel_made_public_later_has_its_announcement_redacted(
    bot: Any, slack: SlackSandbox, ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    alice = Actor.user(ws.alice)
    secret = await declare_and_wait(
        bot, ws, outage(title=TITLE, summary=SUMMARY, private=True), key="secret"
    )
    [announcement] = slack.messages(ws.private_digest, include_system=False)
    assert TITLE in _seen(slack, announcement)  # a private channel: the details, as designed
    assert not _warnings(caplog)

    slack.channels[ws.private_digest].is_private = False  # an admin makes it public
    replies_before = len(slack.thread(ws.private_digest, announcement.ts))
    with caplog.at_level(logging.WARNING, logger="firefighter.effects"):
        await bot.service.update(secret.id, IncidentChanges(summary=LATER), by=alice)
        await outbox_idle()

    edited = slack.channels[ws.private_digest].messages[announcement.ts]
    text = _seen(slack, edited)
    assert secret.reference in text
    leaks = [leak for leak in _details(secret) if leak in text]
    assert not leaks, leaks
    assert len(slack.thread(ws.private_digest, announcement.ts)) == replies_before
    assert _warnings(caplog)


async def test_a_private_digest_channel_that_is_private_gets_every_detail(
    bot: Any, slack: SlackSandbox, ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="firefighter.effects"):
        secret = await _private_incident_lives(bot, ws)

    posted = slack.messages(ws.private_digest, include_system=False, include_replies=True)
    text = "\n".join(_seen(slack, m) for m in posted)
    assert TITLE in text and LATER in text  # the announcement and the change in its thread
    assert len(posted) >= 2
    assert secret.reference in text
    assert not _warnings(caplog)
