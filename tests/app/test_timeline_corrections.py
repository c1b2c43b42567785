"""Correcting the timeline and the milestones from Slack: the menu of each entry in
`/incident timeline`, the edit and strike-out modals, `/incident milestones`, and every bad input —
through the real Bolt app over Socket Mode, the sandbox and the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.blocks.ids import ActionId, BlockId, CallbackId
from bot.blocks.timeline import milestone_block_id, timeline_edit_modal
from bot.domain.incident import Actor, Incident, Milestone, TimelineEntry, TimelineKind
from sandbox.slack import SlackSandbox
from sandbox.slack.state import Ephemeral, View
from storage.repository import IncidentRepository, TimelineRepository
from tests.workspace import Workspace, declare_and_wait, eventually, seed_workspace

REASON = "Wrong version number typed"


async def noted(
    bot: Any, ws: Workspace, text: str = "Rolled back the gateway to v14"
) -> tuple[Incident, TimelineEntry]:
    incident = await declare_and_wait(bot, ws)
    entry = await bot.service.add_note(
        incident.id, text, by=Actor.user(ws.alice), intent_key=f"note-{text}"
    )
    return await IncidentRepository().require(incident.id), entry


async def timeline_shown(slack: SlackSandbox, user: str, channel: str) -> Ephemeral:
    before = len(slack.ephemerals(user, channel))
    await slack.run_slash_command(user, "/incident", "timeline", channel)
    shown = await slack.wait_for(lambda: slack.ephemerals(user, channel)[before:])
    return shown[-1]


async def open_from_menu(
    slack: SlackSandbox, user: str, channel: str, entry: TimelineEntry, choice: str
) -> View:
    message = await timeline_shown(slack, user, channel)
    await slack.click_button(
        user,
        ActionId.TIMELINE_ENTRY,
        channel_id=channel,
        ts=message.ts,
        block_id=f"{BlockId.TIMELINE_ENTRY_PREFIX}{entry.id}",
        value=f"{choice}:{entry.id}",
    )
    callback = (
        CallbackId.TIMELINE_EDIT_MODAL if choice == "edit" else CallbackId.TIMELINE_STRIKE_MODAL
    )
    return await modal(slack, user, callback)


async def modal(slack: SlackSandbox, user: str, callback: str) -> View:
    def visible() -> View | None:
        views = slack.views(user)
        return views[-1] if views and views[-1].payload.get("callback_id") == callback else None

    return await slack.wait_for(visible)


def edit_values(
    text: str | None = None, at: datetime | None = None, reason: str = REASON
) -> dict[str, Any]:
    values: dict[str, Any] = {
        BlockId.TIMELINE_EDIT_REASON: {BlockId.TIMELINE_EDIT_REASON: reason},
    }
    if text is not None:
        values[BlockId.TIMELINE_EDIT_TEXT] = {BlockId.TIMELINE_EDIT_TEXT: text}
    if at is not None:
        values[BlockId.TIMELINE_EDIT_TIME] = {BlockId.TIMELINE_EDIT_TIME: int(at.timestamp())}
    return values


async def stored(entry_id: int) -> TimelineEntry:
    found = await TimelineRepository().get(entry_id)
    assert found is not None
    return found


async def test_an_entry_is_edited_from_its_menu_with_a_reason_kept_for_audit(bot, slack):
    ws = seed_workspace(slack)
    incident, entry = await noted(bot, ws)
    channel = incident.channel_id
    assert channel is not None

    view = await open_from_menu(slack, ws.alice, channel, entry, "edit")
    time_input = next(
        b for b in view.payload["blocks"] if b.get("block_id") == BlockId.TIMELINE_EDIT_TIME
    )
    assert "Europe/Paris" in time_input["hint"]["text"]
    # The impact started an hour before the declaration: the note can move back a little.
    assert incident.milestones.declared_at
    await bot.service.set_milestone(
        incident.id,
        Milestone.STARTED,
        incident.milestones.declared_at - timedelta(hours=1),
        by=Actor.user(ws.alice),
    )
    earlier = entry.happened_at.replace(microsecond=0) - timedelta(minutes=2)
    ack = await slack.submit_view(
        ws.alice, view.id, edit_values("Rolled back the gateway to v41", earlier)
    )

    assert ack.acked and not ack.errors
    edited = await eventually(
        lambda: _when(stored(entry.id), lambda e: e.edited and e.text.endswith("v41"))
    )
    assert edited.happened_at == earlier
    assert edited.data["edits"] == [
        {
            "previous_text": "Rolled back the gateway to v14",
            "previous_happened_at": entry.happened_at.isoformat(),
            "text_changed": True,
            "time_changed": True,
            "reason": REASON,
            "by": ws.alice,
            "at": edited.data["edits"][0]["at"],  # type: ignore[index]
        }
    ]
    shown = slack.render_message(await timeline_shown(slack, ws.alice, channel))
    assert "Rolled back the gateway to v41 (edited)" in shown


async def test_an_untouched_time_keeps_the_stored_time_exactly(bot, slack):
    ws = seed_workspace(slack)
    incident, entry = await noted(bot, ws)
    assert incident.channel_id
    view = await open_from_menu(slack, ws.alice, incident.channel_id, entry, "edit")

    ack = await slack.submit_view(ws.alice, view.id, edit_values("Only the text changes"))

    assert ack.acked and not ack.errors
    edited = await eventually(lambda: _when(stored(entry.id), lambda e: e.edited))
    assert edited.text == "Only the text changes"
    assert edited.happened_at == entry.happened_at


async def test_an_entry_is_struck_out_with_a_reason_and_stays_on_the_timeline(bot, slack):
    ws = seed_workspace(slack)
    incident, entry = await noted(bot, ws)
    channel = incident.channel_id
    assert channel is not None

    view = await open_from_menu(slack, ws.alice, channel, entry, "strike")
    ack = await slack.submit_view(
        ws.alice,
        view.id,
        {
            BlockId.TIMELINE_EDIT_REASON: {
                BlockId.TIMELINE_EDIT_REASON: "Belongs to another incident"
            }
        },
    )

    assert ack.acked and not ack.errors
    struck = await eventually(lambda: _when(stored(entry.id), lambda e: e.struck_out))
    assert struck.data["struck"] == {
        "reason": "Belongs to another incident",
        "by": ws.alice,
        "at": struck.data["struck"]["at"],  # type: ignore[index]
    }
    message = await timeline_shown(slack, ws.alice, channel)
    shown = slack.render_message(message)
    assert "(struck out: Belongs to another incident)" in shown
    section = next(
        b
        for b in message.blocks or []
        if b.get("block_id") == f"{BlockId.TIMELINE_ENTRY_PREFIX}{entry.id}"
    )
    assert "accessory" not in section


async def test_a_time_in_the_future_is_shown_on_the_time_input(bot, slack):
    ws = seed_workspace(slack)
    incident, entry = await noted(bot, ws)
    assert incident.channel_id
    view = await open_from_menu(slack, ws.alice, incident.channel_id, entry, "edit")

    future = bot.service.clock.now() + timedelta(hours=1)
    ack = await slack.submit_view(ws.alice, view.id, edit_values(at=future))

    assert set(ack.errors) == {BlockId.TIMELINE_EDIT_TIME}
    assert "in the future" in ack.errors[BlockId.TIMELINE_EDIT_TIME]
    assert not (await stored(entry.id)).edited


async def test_a_time_before_the_incident_started_is_shown_on_the_time_input(bot, slack):
    ws = seed_workspace(slack)
    incident, entry = await noted(bot, ws)
    assert incident.channel_id and incident.milestones.started_at
    view = await open_from_menu(slack, ws.alice, incident.channel_id, entry, "edit")

    before = incident.milestones.started_at - timedelta(hours=1)
    ack = await slack.submit_view(ws.alice, view.id, edit_values(at=before))

    assert set(ack.errors) == {BlockId.TIMELINE_EDIT_TIME}
    assert "before the incident started" in ack.errors[BlockId.TIMELINE_EDIT_TIME]
    assert not (await stored(entry.id)).edited


async def test_a_short_reason_and_an_empty_text_are_shown_on_their_inputs(bot, slack):
    ws = seed_workspace(slack)
    incident, entry = await noted(bot, ws)
    assert incident.channel_id
    view = await open_from_menu(slack, ws.alice, incident.channel_id, entry, "edit")

    ack = await slack.submit_view(ws.alice, view.id, edit_values("   ", reason="typo"))

    assert set(ack.errors) == {BlockId.TIMELINE_EDIT_TEXT, BlockId.TIMELINE_EDIT_REASON}
    assert "at least 10 characters" in ack.errors[BlockId.TIMELINE_EDIT_REASON]


async def test_someone_not_allowed_sees_no_menu_and_a_form_reaching_them_is_refused_clearly(
    bot, slack
):
    ws = seed_workspace(slack)
    incident, entry = await noted(bot, ws)
    channel = incident.channel_id
    assert channel is not None

    # Bob is no responder: the timeline he reads has no menus...
    message = await timeline_shown(slack, ws.bob, channel)
    assert "Rolled back the gateway to v14" in slack.render_message(message)
    assert not [b for b in message.blocks or [] if "accessory" in b]
    # ...and an edit form in his hands anyway (forwarded, or opened while he was allowed) is
    # refused when he submits it, saying what he may not do.
    form = timeline_edit_modal(incident, entry, bot.service.timezone)
    await bot.client.views_open(trigger_id=slack.ws.new_trigger(ws.bob), view=form)
    view = await modal(slack, ws.bob, CallbackId.TIMELINE_EDIT_MODAL)
    ack = await slack.submit_view(ws.bob, view.id, edit_values("Not what happened at all"))

    assert ack.payload["response_action"] == "update"
    shown = slack.views(ws.bob)[-1].payload
    assert shown["callback_id"] == CallbackId.TIMELINE_NOTICE
    assert "edit the timeline of" in str(shown["blocks"])
    assert (await stored(entry.id)).text == entry.text


async def test_an_entry_struck_out_while_its_edit_form_was_open_is_told_not_edited(bot, slack):
    ws = seed_workspace(slack)
    incident, entry = await noted(bot, ws)
    assert incident.channel_id
    view = await open_from_menu(slack, ws.alice, incident.channel_id, entry, "edit")
    await bot.service.strike_timeline_entry(
        entry.id, reason="Duplicate of the entry above", by=Actor.user(ws.alice), intent_key="s1"
    )

    ack = await slack.submit_view(ws.alice, view.id, edit_values("Too late for this edit"))

    assert ack.payload["response_action"] == "update"
    shown = slack.views(ws.alice)[-1].payload
    assert shown["callback_id"] == CallbackId.TIMELINE_NOTICE
    assert "struck out meanwhile (Duplicate of the entry above)" in str(shown["blocks"])
    after = await stored(entry.id)
    assert after.text == entry.text and not after.edited


async def test_the_milestones_modal_sets_several_at_once_and_refreshes_the_pinned_summary(
    bot, slack
):
    ws = seed_workspace(slack)
    incident = await declare_and_wait(bot, ws)
    channel = incident.channel_id
    assert channel is not None and incident.milestones.declared_at
    pinned = next(iter(slack.ws.channels[channel].pins))
    updates_before = len([c for c in slack.calls("chat.update") if c.args.get("ts") == pinned])

    await slack.run_slash_command(ws.alice, "/incident", "milestones", channel)
    view = await modal(slack, ws.alice, CallbackId.MILESTONES_MODAL)
    assert "Europe/Paris" in slack.render_blocks(view.payload["blocks"])
    declared = int(incident.milestones.declared_at.timestamp())
    started, detected = declared - 3600, declared - 1800
    ack = await slack.submit_view(
        ws.alice,
        view.id,
        {
            milestone_block_id(Milestone.DETECTED): {
                milestone_block_id(Milestone.DETECTED): detected
            },
            milestone_block_id(Milestone.STARTED): {milestone_block_id(Milestone.STARTED): started},
        },
    )

    assert ack.acked and not ack.errors
    changed = await eventually(
        lambda: _when(IncidentRepository().require(incident.id), lambda i: i.milestones.detected_at)
    )
    assert changed.milestones.started_at == datetime.fromtimestamp(started, UTC)
    assert changed.milestones.detected_at == datetime.fromtimestamp(detected, UTC)
    assert changed.milestones.declared_at == incident.milestones.declared_at
    entries = await TimelineRepository().list(incident.id)
    set_ = [e.data["milestone"] for e in entries if e.kind is TimelineKind.MILESTONE_SET]
    assert {"started_at", "detected_at"} <= set(set_)
    await slack.wait_for(
        lambda: (
            len([c for c in slack.calls("chat.update") if c.args.get("ts") == pinned])
            > updates_before
        )
    )


async def test_a_milestone_out_of_order_is_shown_on_its_picker_and_nothing_changes(bot, slack):
    ws = seed_workspace(slack)
    incident = await declare_and_wait(bot, ws)
    channel = incident.channel_id
    assert channel is not None and incident.milestones.started_at

    await slack.run_slash_command(ws.alice, "/incident", "milestones", channel)
    view = await modal(slack, ws.alice, CallbackId.MILESTONES_MODAL)
    too_early = int(incident.milestones.started_at.timestamp()) - 600
    block = milestone_block_id(Milestone.ACKNOWLEDGED)
    ack = await slack.submit_view(ws.alice, view.id, {block: {block: too_early}})

    assert set(ack.errors) == {block}
    assert "cannot be before" in ack.errors[block]
    assert (await IncidentRepository().require(incident.id)).version == incident.version


async def test_the_milestones_command_outside_a_channel_goes_through_the_picker(bot, slack):
    ws = seed_workspace(slack)
    incident = await declare_and_wait(bot, ws)
    general = slack.add_channel("general", members=[ws.alice])

    await slack.run_slash_command(ws.alice, "/incident", "milestones", general)
    picker = await modal(slack, ws.alice, CallbackId.PICK_INCIDENT_MODAL)
    ack = await slack.submit_view(
        ws.alice, picker.id, {BlockId.PICK_INCIDENT: {BlockId.PICK_INCIDENT: str(incident.id)}}
    )

    assert ack.payload["response_action"] == "update"
    shown = slack.views(ws.alice)[-1].payload
    assert shown["callback_id"] == CallbackId.MILESTONES_MODAL
    assert len([b for b in shown["blocks"] if b["type"] == "input"]) == len(Milestone)


async def _when(read: Any, check: Any) -> Any:
    found = await read
    return found if check(found) else None
