"""Declaring from Slack: `/incident open`, the shortcuts, the live priority, the duplicate guard and
the submission, driven through Socket Mode against the sandbox; Slack and the database checked."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.blocks.ids import ActionId, BlockId, CallbackId
from bot.domain.declaration import Declaration
from bot.domain.incident import Actor, Incident, Priority, ResponseType, TimelineKind
from sandbox.slack import SlackSandbox
from sandbox.slack.state import View
from storage.repository import IncidentRepository

TITLE = "Card payments failing at checkout"
SUMMARY = "Most card payments are refused since 14:02, wallets still work."


def impact(type_key: str, level: str) -> dict[str, dict[str, Any]]:
    return {f"{BlockId.DECLARE_IMPACT_PREFIX}{type_key}": {ActionId.DECLARE_IMPACT.value: level}}


def details(
    *, title: str = TITLE, summary: str = SUMMARY, private: bool = False
) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {
        BlockId.DECLARE_TITLE.value: {BlockId.DECLARE_TITLE.value: title},
        BlockId.DECLARE_SUMMARY.value: {BlockId.DECLARE_SUMMARY.value: summary},
        BlockId.DECLARE_CATEGORY.value: {ActionId.DECLARE_CATEGORY.value: "payments"},
        BlockId.DECLARE_ENVIRONMENTS.value: {BlockId.DECLARE_ENVIRONMENTS.value: ["PRD"]},
    }
    if private:
        values[BlockId.DECLARE_PRIVATE.value] = {BlockId.DECLARE_PRIVATE.value: ["private"]}
    return values


async def open_modal(slack: SlackSandbox, user: str, channel: str, text: str = "open") -> View:
    ack = await slack.run_slash_command(user, "/incident", text, channel)
    assert ack.acked
    assert not ack.payload  # an empty ack: the modal is the answer
    views = await slack.wait_for(lambda: slack.views(user))
    view: View = views[-1]
    assert view.payload["callback_id"] == CallbackId.DECLARE_MODAL.value
    return view


def shown(slack: SlackSandbox, view: View) -> str:
    return slack.render_blocks(view.payload["blocks"])


async def stored(bot: Any) -> list[Incident]:
    return await IncidentRepository().list_open(limit=50)


async def told(slack: SlackSandbox, user: str, channel: str | None, needle: str) -> str:
    """What the bot told ``user`` (ephemerally in ``channel`` or by DM) containing ``needle``."""

    def find() -> str | None:
        texts = [slack.render_message(e) for e in slack.ephemerals(user, channel)]
        texts += [m.text for m in slack.dms(user)]
        return next((t for t in texts if needle in t), None)

    found: str = await slack.wait_for(find)
    return found


def seed(slack: SlackSandbox) -> tuple[str, str, str, str]:
    alice = slack.add_user("alice")
    lead = slack.add_user("paylead")
    slack.add_usergroup("payments-oncall", [lead])
    incidents = slack.add_channel("incidents", bot=True)
    general = slack.add_channel("general", members=[alice], bot=True)
    return alice, lead, incidents, general


async def test_a_p2_declared_from_the_command_gets_a_ready_channel(bot, slack: SlackSandbox):
    alice, lead, incidents, general = seed(slack)

    view = await open_modal(slack, alice, general, f"open {TITLE}")
    assert TITLE in str(view.payload)  # the title is prefilled from the command
    assert "P2" not in shown(slack, view)

    ack = await slack.click_button(
        alice,
        ActionId.DECLARE_IMPACT.value,
        view_id=view.id,
        block_id=f"{BlockId.DECLARE_IMPACT_PREFIX}business",
        value="medium",
    )
    assert ack.acked and not ack.payload
    await slack.wait_for(lambda: "P2" in shown(slack, view))  # live priority via views.update
    assert slack.calls("views.update")

    ack = await slack.submit_view(alice, view.id, {**impact("customers", "low"), **details()})

    assert ack.acked and ack.errors == {} and not ack.payload
    assert slack.views(alice) == []  # the empty ack closed the modal
    await slack.wait_for(lambda: slack.calls("pins.add") and slack.messages(incidents), timeout=5)
    [incident] = await stored(bot)
    assert incident.priority is Priority.P2
    assert incident.title == TITLE
    assert incident.created_by == alice
    assert incident.channel_id is not None
    channel = slack.channels[incident.channel_id]
    assert channel.name.startswith("inc-")
    assert not channel.is_private
    await slack.wait_for(lambda: {alice, lead} <= set(channel.members))
    assert channel.pins
    assert len(slack.messages(incidents)) == 1
    text = await told(slack, alice, general, "Declared")
    assert incident.reference in text
    assert f"<#{incident.channel_id}>" in text


async def test_a_title_too_short_is_refused_on_its_block_and_nothing_is_stored(
    bot, slack: SlackSandbox
):
    alice, _, _, general = seed(slack)
    view = await open_modal(slack, alice, general)

    ack = await slack.submit_view(
        alice, view.id, {**impact("business", "medium"), **details(title="Short")}
    )

    assert ack.acked
    assert set(ack.errors) == {BlockId.DECLARE_TITLE.value}
    assert slack.views(alice)[-1].id == view.id  # still open, for the user to fix
    assert await stored(bot) == []
    assert slack.calls("conversations.create") == []


async def test_all_impacts_at_none_is_refused_on_the_first_impact(bot, slack: SlackSandbox):
    alice, _, _, general = seed(slack)
    view = await open_modal(slack, alice, general)
    nothing = {
        **impact("business", "none"),
        **impact("customers", "none"),
        **impact("sellers", "none"),
        **impact("employees", "none"),
    }

    ack = await slack.submit_view(alice, view.id, {**nothing, **details()})

    assert list(ack.errors) == [f"{BlockId.DECLARE_IMPACT_PREFIX}business"]
    assert await stored(bot) == []


async def test_a_p4_is_tracked_without_a_channel_and_announced(bot, slack: SlackSandbox):
    alice, _, incidents, general = seed(slack)
    view = await open_modal(slack, alice, general)

    ack = await slack.submit_view(alice, view.id, {**impact("business", "low"), **details()})

    assert ack.acked and ack.errors == {}
    text = await told(slack, alice, general, "Declared")
    assert "without a channel" in text
    [incident] = await stored(bot)
    assert incident.priority is Priority.P4
    assert incident.response_type is ResponseType.NORMAL
    await slack.wait_for(lambda: slack.messages(incidents))
    assert incident.reference in slack.render_message(slack.messages(incidents)[0])
    assert slack.calls("conversations.create") == []
    assert (await IncidentRepository().require(incident.id)).channel_id is None


async def test_a_private_incident_gets_a_private_channel_and_no_public_announcement(
    bot, slack: SlackSandbox
):
    alice, _, incidents, general = seed(slack)
    view = await open_modal(slack, alice, general)

    await slack.submit_view(
        alice, view.id, {**impact("business", "medium"), **details(private=True)}
    )

    await told(slack, alice, general, "Declared")
    await slack.wait_for(lambda: slack.calls("pins.add"), timeout=5)
    [incident] = await stored(bot)
    assert incident.private
    assert incident.channel_id is not None
    assert slack.channels[incident.channel_id].is_private
    assert slack.messages(incidents) == []


async def test_declaring_from_a_message_prefills_links_back_and_starts_the_timeline(
    bot, slack: SlackSandbox
):
    alice, _, _, _ = seed(slack)
    bob = slack.add_user("bob")
    payments = slack.add_channel("payments", members=[alice, bob], bot=True)
    ts = await slack.post_message(bob, payments, f"{TITLE}\nSince 14:02, wallets are fine.")

    ack = await slack.run_message_shortcut(
        alice, CallbackId.DECLARE_FROM_MESSAGE.value, payments, ts
    )

    assert ack.acked
    [view] = await slack.wait_for(lambda: slack.views(alice))
    title_block = next(
        b for b in view.payload["blocks"] if b.get("block_id") == BlockId.DECLARE_TITLE.value
    )
    assert title_block["element"]["initial_value"] == TITLE
    await slack.wait_for(lambda: slack.calls("chat.getPermalink"))
    await slack.wait_for(lambda: slack.calls("views.update"))  # the link to the message

    values = {**impact("business", "medium"), **details()}
    del values[BlockId.DECLARE_TITLE.value], values[BlockId.DECLARE_SUMMARY.value]
    ack = await slack.submit_view(alice, view.id, values)

    assert ack.acked and ack.errors == {}
    await slack.wait_for(lambda: len(slack.thread(payments, ts)) == 2, timeout=5)
    [incident] = await stored(bot)
    incident = await IncidentRepository().require(incident.id)
    assert f"<#{incident.channel_id}>" in slack.thread(payments, ts)[1].text
    entries, _ = await bot.service.timeline_page(incident.id)
    pinned = [e for e in entries[:3] if e.kind is TimelineKind.PINNED_MESSAGE]
    assert pinned and pinned[0].source_ts == ts
    assert pinned[0].source_permalink
    assert TITLE in pinned[0].text
    assert incident.summary.startswith(TITLE)


async def test_the_duplicate_guard_lets_the_user_join_instead(bot, slack: SlackSandbox):
    alice, _, _, general = seed(slack)
    bob = slack.add_user("bob")
    first = await bot.service.declare(
        Declaration(
            title=TITLE,
            summary=SUMMARY,
            impacts={"business": "medium"},
            category="payments",
            environments=("PRD",),
        ),
        by=Actor.user(bob),
        intent_key="first",
    )
    await slack.wait_for(lambda: slack.calls("pins.add"), timeout=5)
    incident = await IncidentRepository().require(first.incident.id)
    assert incident.channel_id is not None
    assert alice not in slack.channels[incident.channel_id].members

    view = await open_modal(slack, alice, general)

    assert "in the last hour" in shown(slack, view)
    ack = await slack.click_button(alice, ActionId.DECLARE_JOIN_EXISTING.value, view_id=view.id)
    assert ack.acked
    await slack.wait_for(lambda: alice in slack.channels[incident.channel_id].members, timeout=5)
    await slack.wait_for(lambda: "You joined" in shown(slack, view))
    await told(slack, alice, None, "You joined")
    assert len(await stored(bot)) == 1


async def test_a_double_submit_declares_once(bot, slack: SlackSandbox):
    alice, _, incidents, general = seed(slack)
    view = await open_modal(slack, alice, general)
    values = {**impact("business", "medium"), **details()}

    acks = await asyncio.gather(
        slack.submit_view(alice, view.id, values), slack.submit_view(alice, view.id, values)
    )

    assert all(ack.acked and ack.errors == {} for ack in acks)
    await slack.wait_for(lambda: slack.calls("pins.add") and slack.messages(incidents), timeout=5)
    await told(slack, alice, general, "Declared")
    await bot.background.drain()
    assert len(await stored(bot)) == 1
    assert len(slack.calls("conversations.create")) == 1
    assert len(slack.messages(incidents)) == 1
    told_texts = [e for e in slack.ephemerals(alice) if "Declared" in e.text]
    assert len(told_texts) == 1


async def test_the_global_shortcut_opens_the_modal_and_the_result_comes_by_dm(
    bot, slack: SlackSandbox
):
    alice, _, incidents, _ = seed(slack)

    ack = await slack.run_global_shortcut(alice, CallbackId.DECLARE_SHORTCUT.value)

    assert ack.acked
    [view] = await slack.wait_for(lambda: slack.views(alice))
    assert view.payload["callback_id"] == CallbackId.DECLARE_MODAL.value
    await slack.submit_view(alice, view.id, {**impact("business", "medium"), **details()})
    await slack.wait_for(lambda: slack.messages(incidents), timeout=5)
    [incident] = await stored(bot)
    text = await told(slack, alice, None, "Declared")
    assert incident.reference in text
    assert any("Declared" in m.text for m in slack.dms(alice))
