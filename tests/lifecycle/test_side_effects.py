"""The Slack side effects of the lifecycle, driven through the service and performed by the real
outbox worker against the sandbox: what Slack shows after each change, and what happens when
Slack says no."""

from __future__ import annotations

import dataclasses

from bot.domain.incident import (
    Actor,
    BuiltinRole,
    ClosureReason,
    Milestone,
    Priority,
    ResponseType,
    Status,
    TimelineKind,
)
from bot.domain.lifecycle import TransitionRefused
from bot.service import IncidentChanges
from storage import models
from storage.repository import IncidentRepository
from tests.workspace import Workspace, declare_and_wait, outage, outbox_idle


def metadata_kind(message: object) -> str | None:
    metadata = getattr(message, "metadata", None) or {}
    return metadata.get("event_type")


async def test_a_p2_gets_a_channel_with_responders_a_pinned_summary_and_one_announcement(
    bot, ws: Workspace
):
    incident = await declare_and_wait(bot, ws)

    channel = ws.slack.channels[incident.channel_id]
    assert channel.name.startswith("inc-") and channel.name.endswith(
        "-card-payments-failing-at-checkout"
    )
    assert not channel.is_private
    assert {ws.alice, ws.responder} <= set(channel.members)
    assert len(channel.pins) == 1
    assert "P2" in channel.topic["value"] and "Open" in channel.topic["value"]
    # The bot's own "set the channel topic" notice is deleted.
    assert not [m for m in channel.messages.values() if m.subtype == "channel_topic"]
    announced = ws.slack.messages(ws.incidents)
    assert len(announced) == 1
    assert incident.channel_id in str(announced[0].blocks)
    assert ws.slack.messages(ws.deployments) == []  # a P2: no deploy warning


async def test_the_same_intent_declares_once(bot, ws: Workspace):
    first = await declare_and_wait(bot, ws, key="view-42")
    again = await bot.service.declare(outage(), by=Actor.user(ws.alice), intent_key="view-42")
    await outbox_idle()

    assert again.created is False and again.incident.id == first.id
    assert await models.Incident.all().count() == 1
    assert len(ws.slack.calls("conversations.create")) == 1
    assert len(ws.slack.messages(ws.incidents)) == 1


async def test_a_status_change_edits_the_summary_in_place_and_replies_in_the_announcement_thread(
    bot, ws: Workspace
):
    incident = await declare_and_wait(bot, ws)
    pinned_ts = next(iter(ws.slack.channels[incident.channel_id].pins))

    await bot.service.change_status(incident.id, Status.INVESTIGATING, by=Actor.user(ws.alice))
    await outbox_idle()

    channel = ws.slack.channels[incident.channel_id]
    assert list(channel.pins) == [pinned_ts]
    assert "Investigating" in str(channel.messages[pinned_ts].blocks)
    assert len(ws.slack.messages(ws.incidents)) == 1
    announcement = ws.slack.messages(ws.incidents)[0]
    assert "Investigating" in str(announcement.blocks)
    replies = ws.slack.thread(ws.incidents, announcement.ts)
    assert any("Open → Investigating" in r.text for r in replies[1:])
    stored = await IncidentRepository().require(incident.id)
    assert stored.milestones.acknowledged_at is not None  # the first response


async def test_a_name_already_taken_gets_a_suffix_never_a_second_incident(bot, ws: Workspace):
    taken = "inc-{date}-1-card-payments-failing-at-checkout"
    from datetime import datetime

    date = datetime.now(bot.service.catalog.reminders.tz).strftime("%Y%m%d")
    ws.slack.add_channel(taken.format(date=date), members=[ws.bob])

    incident = await declare_and_wait(bot, ws)

    assert incident.channel_name == taken.format(date=date) + "-2"
    assert await models.Incident.all().count() == 1


async def test_a_private_incident_gets_a_private_channel_and_only_the_private_digest(
    bot, ws: Workspace
):
    incident = await declare_and_wait(bot, ws, outage(private=True))

    assert ws.slack.channels[incident.channel_id].is_private
    assert ws.slack.messages(ws.incidents) == []
    assert len(ws.slack.messages(ws.private_digest)) == 1


async def test_a_p1_in_production_warns_the_deploy_channel_until_mitigated(bot, ws: Workspace):
    incident = await declare_and_wait(bot, ws, outage(impacts={"customers": "high"}))

    assert incident.priority is Priority.P1
    assert len(ws.slack.messages(ws.major)) == 1  # P1s are announced in their own channel
    warnings = ws.slack.messages(ws.deployments)
    assert len(warnings) == 1
    warning_ts, warning_text = warnings[0].ts, warnings[0].text
    assert "lifted" not in warning_text

    await bot.service.change_status(incident.id, Status.MITIGATED, by=Actor.user(ws.alice))
    await outbox_idle()

    lifted = ws.slack.messages(ws.deployments)
    assert len(lifted) == 1 and lifted[0].ts == warning_ts
    assert "lifted" in lifted[0].text


async def test_a_p4_has_no_channel_but_is_announced(bot, ws: Workspace):
    incident = await declare_and_wait(bot, ws, outage(impacts={"customers": "low"}))

    assert incident.priority is Priority.P4
    assert incident.response_type is ResponseType.NORMAL
    assert incident.channel_id is None
    assert ws.slack.calls("conversations.create") == []
    assert len(ws.slack.messages(ws.incidents)) == 1


async def test_raising_a_p4_to_p2_creates_its_channel(bot, ws: Workspace):
    incident = await declare_and_wait(bot, ws, outage(impacts={"customers": "low"}))

    updated = await bot.service.update(
        incident.id,
        IncidentChanges(priority=Priority.P2, priority_reason="many more customers now"),
        by=Actor.user(ws.alice),
    )
    await outbox_idle()

    stored = await IncidentRepository().require(updated.incident.id)
    assert stored.channel_id is not None
    assert len(ws.slack.channels[stored.channel_id].pins) == 1


async def test_converting_a_lowered_incident_archives_its_channel(bot, ws: Workspace):
    incident = await declare_and_wait(bot, ws)
    updated = await bot.service.update(
        incident.id,
        IncidentChanges(priority=Priority.P4, priority_reason="impact was much smaller"),
        by=Actor.user(ws.alice),
    )
    assert updated.response_change.value == "offer_conversion"

    await bot.service.convert(incident.id, by=Actor.user(ws.alice))
    await outbox_idle()

    assert ws.slack.channels[incident.channel_id].is_archived


async def test_closing_posts_the_summary_and_archives_after_the_configured_delay(
    bot, ws: Workspace
):
    bot.service.catalog = bot.service.catalog.model_copy(
        update={"slack": bot.service.catalog.slack.model_copy(update={"archive_delay_hours": 0})}
    )
    incident = await declare_and_wait(
        bot, ws, outage(impacts={"customers": "medium"}, environments=("STG",))
    )
    alice = Actor.user(ws.alice)
    await bot.service.set_milestone(incident.id, Milestone.DETECTED, incident.created_at, by=alice)
    await bot.service.change_status(incident.id, Status.MITIGATED, by=alice)

    closed = await bot.service.change_status(incident.id, Status.CLOSED, by=alice)
    await outbox_idle()

    assert closed.status is Status.CLOSED
    channel = ws.slack.channels[incident.channel_id]
    assert channel.is_archived
    assert any("closed" in m.text.lower() for m in channel.messages.values())


async def test_closing_too_early_lists_every_reason(bot, ws: Workspace):
    incident = await declare_and_wait(bot, ws)

    try:
        await bot.service.change_status(incident.id, Status.CLOSED, by=Actor.user(ws.alice))
    except TransitionRefused as refused:
        reasons = " ".join(r.text for r in refused.reasons)
    else:
        raise AssertionError("a P2 in production cannot close while Open")
    assert "mitigate it first" in reasons
    assert "post-mortem" in reasons.lower()


async def test_early_closure_as_a_duplicate_is_recorded(bot, ws: Workspace):
    incident = await declare_and_wait(bot, ws)

    closed = await bot.service.change_status(
        incident.id,
        Status.CLOSED,
        by=Actor.user(ws.alice),
        closure_reason=ClosureReason.DUPLICATE,
        closure_reference="#7",
    )

    assert closed.closure_reference == "#7"
    entries, _ = await bot.service.timeline_page(incident.id)
    assert any(e.kind is TimelineKind.CLOSED and "duplicate" in e.text for e in entries)


async def test_a_stranger_may_not_change_an_incident(bot, ws: Workspace):
    incident = await declare_and_wait(bot, ws)

    from bot.domain.errors import AccessDenied

    try:
        await bot.service.change_status(incident.id, Status.MITIGATED, by=Actor.user(ws.bob))
    except AccessDenied as denied:
        assert "may change the status of #" in denied.message
    else:
        raise AssertionError("bob is neither role holder, member nor incident manager")


async def test_an_incident_manager_may_change_any_incident(bot, ws: Workspace):
    incident = await declare_and_wait(bot, ws)

    changed = await bot.service.change_status(
        incident.id, Status.MITIGATED, by=Actor.user(ws.manager)
    )

    assert changed.status is Status.MITIGATED


async def test_a_role_assignment_dms_the_duties_and_invites(bot, ws: Workspace):
    incident = await declare_and_wait(bot, ws)

    await bot.service.assign_roles(
        incident.id, {BuiltinRole.COMMUNICATIONS_LEAD: ws.bob}, by=Actor.user(ws.alice)
    )
    await outbox_idle()

    assert ws.bob in ws.slack.channels[incident.channel_id].members
    dms = ws.slack.dms(ws.bob)
    assert dms and "Communications lead" in str(dms[-1].blocks or dms[-1].text)


async def test_a_refused_dm_falls_back_to_a_mention_in_the_incident_channel(bot, ws: Workspace):
    incident = await declare_and_wait(bot, ws)
    ws.slack.inject_error("chat.postMessage", "messages_tab_disabled")

    # The first postMessage after this is the DM (the summary update uses chat.update).
    await bot.service.assign_roles(
        incident.id, {BuiltinRole.COMMUNICATIONS_LEAD: ws.bob}, by=Actor.user(ws.alice)
    )
    await outbox_idle()

    channel = ws.slack.channels[incident.channel_id]
    assert any(f"<@{ws.bob}>" in m.text for m in channel.messages.values())


async def test_a_rate_limited_call_is_retried_after_retry_after(bot, ws: Workspace):
    ws.slack.inject_rate_limit("conversations.create", retry_after=1, times=2)

    declared = await declare_and_wait(bot, ws)

    await ws.slack.wait_for(lambda: ws.slack.calls("pins.add") and declared, timeout=10)
    created = ws.slack.calls("conversations.create")
    assert [c.status for c in created] == [429, 429, 200]


async def test_a_permanent_failure_is_on_the_timeline_in_the_channel_and_told_to_the_actor(
    bot, ws: Workspace
):
    ws.slack.inject_error("pins.add", "not_pinnable")

    incident = await declare_and_wait(bot, ws)
    await outbox_idle()

    entries, _ = await bot.service.timeline_page(incident.id)
    assert any(e.kind is TimelineKind.SIDE_EFFECT_FAILED for e in entries)
    channel = ws.slack.channels[incident.channel_id]
    assert any("could not" in m.text.lower() for m in channel.messages.values())
    assert ws.slack.dms(ws.alice)


async def test_someone_who_left_is_never_invited_again(bot, ws: Workspace):
    incident = await declare_and_wait(bot, ws)
    await bot.service.member_left(incident.channel_id, ws.responder)
    ws.slack.channels[incident.channel_id].members.remove(ws.responder)

    await bot.service.change_status(incident.id, Status.INVESTIGATING, by=Actor.user(ws.alice))
    await bot.service.assign_roles(
        incident.id, {BuiltinRole.COMMUNICATIONS_LEAD: ws.bob}, by=Actor.user(ws.alice)
    )
    await outbox_idle()

    assert ws.responder not in ws.slack.channels[incident.channel_id].members
    invited = [c.args.get("users", "") for c in ws.slack.calls("conversations.invite") if c.ok]
    assert sum(ws.responder in users.split(",") for users in invited) == 1


async def test_a_stale_version_is_refused_with_the_current_state(bot, ws: Workspace):
    incident = await declare_and_wait(bot, ws)
    await bot.service.change_status(incident.id, Status.INVESTIGATING, by=Actor.user(ws.alice))

    from bot.service import IncidentChanged

    try:
        await bot.service.update(
            incident.id,
            IncidentChanges(title="A completely different title"),
            by=Actor.user(ws.alice),
            expected_version=incident.version,
        )
    except IncidentChanged as changed:
        assert changed.current.status is Status.INVESTIGATING
    else:
        raise AssertionError("the form was opened on an older version")
    assert (
        dataclasses.asdict(await IncidentRepository().require(incident.id))["title"]
        == incident.title
    )


async def test_reopening_after_the_archive_brings_the_channel_back(bot, ws: Workspace):
    bot.service.catalog = bot.service.catalog.model_copy(
        update={"slack": bot.service.catalog.slack.model_copy(update={"archive_delay_hours": 0})}
    )
    incident = await declare_and_wait(bot, ws)
    alice = Actor.user(ws.alice)
    await bot.service.change_status(
        incident.id,
        Status.CLOSED,
        by=alice,
        closure_reason=ClosureReason.FALSE_ALARM,
    )
    await outbox_idle()
    assert ws.slack.channels[incident.channel_id].is_archived

    reopened = await bot.service.change_status(
        incident.id, Status.INVESTIGATING, by=alice, justification="the errors came back at 15:10"
    )
    await outbox_idle()

    channel = ws.slack.channels[incident.channel_id]
    assert reopened.status is Status.INVESTIGATING
    assert not channel.is_archived
    summary_ts = next(iter(channel.pins))
    assert "Investigating" in str(channel.messages[summary_ts].blocks)


async def test_a_channel_archived_by_someone_while_open_is_brought_back(bot, ws: Workspace):
    incident = await declare_and_wait(bot, ws)
    ws.slack.channels[incident.channel_id].is_archived = True  # a person archived it

    await bot.service.change_status(incident.id, Status.INVESTIGATING, by=Actor.user(ws.alice))
    await outbox_idle()

    channel = ws.slack.channels[incident.channel_id]
    assert not channel.is_archived
    assert "Investigating" in str(channel.messages[next(iter(channel.pins))].blocks)
    entries, _ = await bot.service.timeline_page(incident.id)
    assert not [e for e in entries if e.kind is TimelineKind.SIDE_EFFECT_FAILED]


async def test_the_bot_removed_from_a_public_incident_channel_joins_it_again(bot, ws: Workspace):
    incident = await declare_and_wait(bot, ws)
    channel = ws.slack.channels[incident.channel_id]
    channel.members.remove(bot.chat.bot_user_id)  # someone removed the bot

    await bot.service.change_status(incident.id, Status.INVESTIGATING, by=Actor.user(ws.alice))
    await outbox_idle()

    assert bot.chat.bot_user_id in channel.members
    assert "Investigating" in str(channel.messages[next(iter(channel.pins))].blocks)


async def test_an_incident_whose_category_and_environment_left_the_config_still_works(
    bot, ws: Workspace
):
    incident = await declare_and_wait(bot, ws)
    catalog = bot.service.catalog
    bot.service.catalog = catalog.model_copy(
        update={
            "categories": [c for c in catalog.categories if c.key != "payments"],
            "environments": [e for e in catalog.environments if e.key != "PRD"],
        }
    )

    changed = await bot.service.change_status(
        incident.id, Status.MITIGATED, by=Actor.user(ws.alice)
    )
    await outbox_idle()

    from bot.blocks.manage import update_modal

    assert changed.status is Status.MITIGATED
    channel = ws.slack.channels[incident.channel_id]
    assert "Mitigated" in str(channel.messages[next(iter(channel.pins))].blocks)
    entries, _ = await bot.service.timeline_page(incident.id)
    assert not [e for e in entries if e.kind is TimelineKind.SIDE_EFFECT_FAILED]
    view = update_modal(changed, bot.service.catalog, styles=bot.service.priority_styles)
    assert view["type"] == "modal"


async def test_a_role_given_to_a_deactivated_user_is_recorded_and_the_channel_told(
    bot, ws: Workspace
):
    incident = await declare_and_wait(bot, ws)
    ws.slack.ws.users[ws.bob].deleted = True

    await bot.service.assign_roles(
        incident.id, {BuiltinRole.COMMUNICATIONS_LEAD: ws.bob}, by=Actor.user(ws.alice)
    )
    await outbox_idle()

    assert (await bot.service.role_holders(incident.id))["communications_lead"] == ws.bob
    channel = ws.slack.channels[incident.channel_id]
    assert ws.bob not in channel.members
    told = [m.text for m in channel.messages.values() if f"<@{ws.bob}>" in m.text]
    assert any("could not invite" in text for text in told)


async def test_a_private_channel_slack_refuses_is_never_replaced_by_a_public_one(
    bot, ws: Workspace
):
    ws.slack.inject_error("conversations.create", "restricted_action", times=10)

    incident = await declare_and_wait(bot, ws, outage(private=True))

    assert incident.channel_id is None
    assert not [c for c in ws.slack.channels.values() if c.name.startswith("inc-")]
    assert ws.slack.messages(ws.incidents) == []
    told = " ".join(ws.slack.render_message(m) for m in ws.slack.dms(ws.alice))
    assert "private channel" in told and "restricted_action" in told
    entries, _ = await bot.service.timeline_page(incident.id)
    assert any(e.kind is TimelineKind.SIDE_EFFECT_FAILED for e in entries)
