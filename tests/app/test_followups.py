"""Follow-ups and attachments from Slack (PRODUCT.md §4 Jira): ``/incident followup``, a timeline
entry's "Make it a follow-up…", the 📎 reaction — through the real Bolt app over Socket Mode, the
Slack sandbox, PostgreSQL and, with Jira configured, the real Jira adapter against the sandbox
Jira. The Slack surfaces do not depend on the Jira flavour: the Jira tests run against Cloud only
(tests/app/test_jira.py covers both)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.blocks.ids import ActionId, BlockId, CallbackId
from bot.domain.incident import Actor, Incident, TimelineKind
from sandbox.jira import SandboxJira
from sandbox.slack import SlackSandbox
from storage.tickets import FollowUp, FollowUpRepository, TicketRepository
from tests.app.test_timeline_and_reactions import settled
from tests.app.test_timeline_corrections import modal
from tests.workspace import Workspace, declare_and_wait, eventually, outbox_idle

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 64
on_jira_cloud = pytest.mark.parametrize("jira", ["cloud"], indirect=True)


def told(slack: SlackSandbox, user: str, text: str) -> list[str]:
    """What the bot showed ``user`` (ephemerals and DMs) containing ``text``."""
    shown = [slack.render_message(e) for e in slack.ephemerals(user)]
    shown += [slack.render_message(m) for m in slack.dms(user) if m.user == slack.bot_user_id]
    return [t for t in shown if text in t]


async def shown_to(slack: SlackSandbox, user: str, text: str) -> str:
    return (await slack.wait_for(lambda: told(slack, user, text)))[-1]


async def followups(incident: Incident, count: int = 1) -> list[FollowUp]:
    """The incident's follow-ups once ``count`` of them have their Jira issue."""

    async def created() -> list[FollowUp] | None:
        found = await FollowUpRepository().list(incident.id)
        return found if len([f for f in found if f.key]) >= count else None

    return await eventually(created)


def channel_of(incident: Incident) -> str:
    assert incident.channel_id is not None
    return incident.channel_id


# --- without Jira ----------------------------------------------------------------------------------


async def test_without_jira_followups_and_attachments_say_jira_is_not_configured(
    bot: Any, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(bot, ws)
    channel = channel_of(incident)

    await slack.run_slash_command(ws.alice, "/incident", "help", channel)
    assert "/incident followup [<text>]" in await shown_to(slack, ws.alice, "followup")
    for text in ("followup Add an alert on refusals", "followup"):
        ack = await slack.run_slash_command(ws.alice, "/incident", text, channel)
        assert ack.payload is not None and "Jira is not configured" in ack.payload["text"]
    ts = await slack.share_file(ws.alice, channel, "grafana.png", PNG, text="p99 at 4 s")
    await slack.add_reaction(ws.alice, channel, ts, "paperclip")
    await shown_to(slack, ws.alice, "Attaching files needs Jira, which is not configured.")

    await slack.run_slash_command(ws.alice, "/incident", "timeline", channel)
    timeline = await shown_to(slack, ws.alice, "Timeline of")
    menus = [e for e in slack.ephemerals(ws.alice) if e.text.startswith("Timeline of")]
    assert "Make it a follow-up" not in str(menus[-1].blocks) and timeline
    assert await FollowUpRepository().list(incident.id) == []


# --- /incident followup ----------------------------------------------------------------------------


@on_jira_cloud
async def test_a_followup_typed_in_the_channel_is_confirmed_created_in_jira_and_listed(
    jira_bot: Any, jira: SandboxJira, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)
    channel = channel_of(incident)

    await slack.run_slash_command(
        ws.alice, "/incident", "followup  Alert on card\n refusal   rate", channel
    )

    confirmed = await shown_to(slack, ws.alice, "Follow-up added")
    assert f"added to #{incident.id}: Alert on card refusal rate — I'm creating it in Jira" in (
        confirmed
    )
    [followup] = await followups(incident)
    assert followup.key is not None and followup.url is not None
    assert jira.issue(followup.key).values["summary"] == "Alert on card refusal rate"
    await slack.wait_for(
        lambda: any(f"Follow-up {followup.key} created" in m.text for m in slack.messages(channel))
    )
    # One overdue follow-up, recorded a month ago, to see it marked.
    late, _ = await FollowUpRepository().create(
        incident.id,
        "Write the runbook",
        intent_key="late",
        created_by=ws.alice,
        due_at=jira_bot.service.clock.now() - timedelta(days=2),
        at=jira_bot.service.clock.now() - timedelta(days=32),
    )

    await slack.run_slash_command(ws.alice, "/incident", "followup", channel)

    listing = await shown_to(slack, ws.alice, "Follow-ups of")
    assert f"{followup.key} ({followup.url}) · Alert on card refusal rate · To Do · due " in listing
    assert "CET" in listing or "CEST" in listing  # the configured zone (Europe/Paris)
    assert f"_being created in Jira_ · {late.text} · :warning: *overdue*" in listing
    assert "2 follow-ups · 1 overdue · 0 done" in listing


@on_jira_cloud
async def test_a_followup_too_long_for_a_jira_summary_is_refused_with_the_limit_and_its_length(
    jira_bot: Any, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)

    ack = await slack.run_slash_command(
        ws.alice, "/incident", "followup " + "x" * 300, channel_of(incident)
    )

    assert ack.payload is not None
    assert "at most 255 characters (this one has 300)" in ack.payload["text"]
    assert await FollowUpRepository().list(incident.id) == []


@on_jira_cloud
async def test_outside_an_incident_channel_the_picker_asks_which_incident(
    jira_bot: Any, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)

    await slack.run_slash_command(ws.alice, "/incident", "followup Rotate the gateway keys")
    picker = await modal(slack, ws.alice, CallbackId.PICK_FOLLOWUP_INCIDENT_MODAL)
    ack = await slack.submit_view(
        ws.alice, picker.id, {BlockId.PICK_INCIDENT: {BlockId.PICK_INCIDENT: str(incident.id)}}
    )

    assert ack.acked and not ack.errors
    confirmed = await shown_to(slack, ws.alice, "Rotate the gateway keys")
    assert f"Follow-up added to #{incident.id}" in confirmed
    [followup] = await followups(incident)
    assert followup.text == "Rotate the gateway keys" and followup.created_by == ws.alice


# --- a timeline entry's "Make it a follow-up…" -----------------------------------------------------


@on_jira_cloud
async def test_a_timeline_entry_becomes_a_follow_up_from_its_menu(
    jira_bot: Any, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)
    channel = channel_of(incident)
    entry = await jira_bot.service.add_note(
        incident.id,
        "We need an alert on the card refusal rate",
        by=Actor.user(ws.alice),
        intent_key="note-1",
    )
    await slack.run_slash_command(ws.alice, "/incident", "timeline", channel)
    shown = await slack.wait_for(
        lambda: [e for e in slack.ephemerals(ws.alice, channel) if e.text.startswith("Timeline")]
    )
    await slack.click_button(
        ws.alice,
        ActionId.TIMELINE_ENTRY,
        channel_id=channel,
        ts=shown[-1].ts,
        block_id=f"{BlockId.TIMELINE_ENTRY_PREFIX}{entry.id}",
        value=f"followup:{entry.id}",
    )
    view = await modal(slack, ws.alice, CallbackId.FOLLOWUP_MODAL)
    field = view.payload["blocks"][1]
    assert field["element"]["initial_value"] == "We need an alert on the card refusal rate"

    refused = await slack.submit_view(
        ws.alice, view.id, {BlockId.FOLLOWUP_TEXT: {BlockId.FOLLOWUP_TEXT: "   "}}
    )
    assert set(refused.errors) == {BlockId.FOLLOWUP_TEXT}
    assert "Say what needs doing" in refused.errors[BlockId.FOLLOWUP_TEXT]
    text = {BlockId.FOLLOWUP_TEXT: {BlockId.FOLLOWUP_TEXT: "Alert on card refusal rate"}}
    done = await slack.submit_view(ws.alice, view.id, text)

    assert done.acked and not done.errors and not slack.views(ws.alice)
    assert await shown_to(slack, ws.alice, "Follow-up added to")
    [followup] = await followups(incident)
    assert followup.text == "Alert on card refusal rate"
    entries = await jira_bot.service.timeline_page(incident.id)
    assert [e.text for e in entries[0] if e.kind is TimelineKind.FOLLOWUP] == [followup.text]


# --- 📎 ---------------------------------------------------------------------------------------------


@on_jira_cloud
async def test_a_paperclip_attaches_the_messages_files_to_the_ticket_once(
    jira_bot: Any, jira: SandboxJira, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)
    channel = channel_of(incident)
    ticket = await eventually(lambda: TicketRepository().get(incident.id))
    ts = await slack.share_file(ws.alice, channel, "grafana.png", PNG, text="p99 at 4 s")

    await slack.add_reaction(ws.alice, channel, ts, "paperclip")

    async def attached() -> list[Any]:
        await outbox_idle()
        return jira.issue(ticket.key).attachments

    [attachment] = await eventually(attached)
    assert (attachment.filename, attachment.content) == ("grafana.png", PNG)
    # Someone else's 📎 on the same message: nothing more, and nothing said.
    await slack.add_reaction(ws.bob, channel, ts, "paperclip")
    await settled(jira_bot, slack)
    await outbox_idle()
    assert len(jira.issue(ticket.key).attachments) == 1
    assert told(slack, ws.bob, "") == [] and told(slack, ws.alice, "attach") == []


@on_jira_cloud
async def test_a_paperclip_without_a_file_or_outside_an_incident_channel_is_explained(
    jira_bot: Any, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(jira_bot, ws)
    channel = channel_of(incident)
    ts = await slack.post_message(ws.alice, channel, "Rolled back to v41")
    await slack.join_channel(ws.alice, ws.deployments)
    elsewhere = await slack.share_file(ws.alice, ws.deployments, "deploy.log", b"ok")

    await slack.add_reaction(ws.alice, channel, ts, "paperclip")
    await slack.add_reaction(ws.alice, ws.deployments, elsewhere, "paperclip")

    await shown_to(slack, ws.alice, "That message has no file to attach.")
    await shown_to(slack, ws.alice, "This is not an incident channel.")
