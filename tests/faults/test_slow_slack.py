"""A slow Slack: every Web API call takes 2 s. Acks do not wait for Web API calls, so every
interaction (slash command, shortcut, block action, view submission) is acked within Slack's 3 s —
the sandbox records a late ack as a contract violation, which fails the test — the forms still open
on their trigger (valid for 3 s after the interaction was sent) and the declaration completes."""

from __future__ import annotations

from typing import Any

from bot.blocks.ids import ActionId, BlockId, CallbackId
from sandbox.slack import SlackSandbox
from sandbox.slack.state import View
from storage import models
from tests.workspace import Workspace, outbox_idle

SLACK_LATENCY = 2.0


async def modal(slack: SlackSandbox, user: str, callback: CallbackId) -> View:
    def shown() -> View | None:
        views = [v for v in slack.views(user) if v.payload.get("callback_id") == callback]
        return views[-1] if views else None

    found: View = await slack.wait_for(shown, timeout=15)
    return found


async def test_a_slow_slack_does_not_slow_the_acks(
    bot: Any, slack: SlackSandbox, ws: Workspace
) -> None:
    general = slack.add_channel("general", members=[ws.alice, ws.bob])
    slack.inject_latency(SLACK_LATENCY)  # every Web API method
    # The very first interaction after the start: nothing Bolt needs may be fetched before its ack.
    command = await slack.run_slash_command(ws.alice, "/incident", "open Checkout is down", general)
    assert command.acked
    view = await modal(slack, ws.alice, CallbackId.DECLARE_MODAL)

    picked = await slack.click_button(
        ws.alice,
        ActionId.DECLARE_IMPACT.value,
        view_id=view.id,
        block_id=f"{BlockId.DECLARE_IMPACT_PREFIX}business",
        value="high",
    )
    assert picked.acked
    await slack.wait_for(lambda: slack.calls("views.update"), timeout=15)

    submitted = await slack.submit_view(
        ws.alice,
        view.id,
        {
            f"{BlockId.DECLARE_IMPACT_PREFIX}business": {ActionId.DECLARE_IMPACT.value: "high"},
            BlockId.DECLARE_SUMMARY: {BlockId.DECLARE_SUMMARY: "Orders fail since 10:02."},
            BlockId.DECLARE_CATEGORY: {ActionId.DECLARE_CATEGORY.value: "payments"},
        },
    )
    assert submitted.acked and not submitted.errors, submitted.errors

    # Meanwhile Bob opens the declare form from the shortcut: it opens on its trigger in time.
    shortcut = await slack.run_global_shortcut(ws.bob, CallbackId.DECLARE_SHORTCUT)
    assert shortcut.acked
    await modal(slack, ws.bob, CallbackId.DECLARE_MODAL)

    # The declaration completes, however slow each call.
    incident = await _eventually_declared()
    channel = await slack.wait_for(
        lambda: slack.channels.get(incident.channel_id or ""), timeout=60
    )
    await slack.wait_for(lambda: slack.channels[channel.id].pins, timeout=60)
    await slack.wait_for(
        lambda: slack.messages(ws.major) or slack.messages(ws.incidents), timeout=60
    )

    # Nobody saw "the app did not respond" or "too little time to open the form".
    assert slack.user_errors == []
    told = [
        slack.render_message(m)
        for user in (ws.alice, ws.bob)
        for m in [*slack.ephemerals(user), *slack.dms(user)]
    ]
    assert not [text for text in told if "3 seconds" in text or "went wrong" in text], told
    assert not [c for c in slack.calls("views.open") if c.error], "a form failed to open"
    assert len(slack.calls("conversations.create")) == 1
    # The rest of the declaration's side effects need not take 2 s a call.
    slack.clear_faults()
    await bot.background.drain()
    await outbox_idle(30)


async def _eventually_declared() -> models.Incident:
    from tests.workspace import eventually

    found: models.Incident = await eventually(
        lambda: models.Incident.filter(channel_id__isnull=False).first(), seconds=60
    )
    return found
